#!/usr/bin/env bash
# Runs examples/imap_bench's client against a throwaway Dovecot IMAP server (Debian's dovecot-imapd)
# configured in a temp dir on 127.0.0.1: high-performance process model (service_count = 0 for
# imap-login and imap), the same seeded messages in a Maildir, and the password as bcrypt cost 4
# ({BLF-CRYPT}$2y$04$) as on our side. Nothing outside the temp dir is touched; Dovecot is stopped at
# exit.
# Usage: scripts/imap-bench-dovecot.sh [bench args, e.g. --clients 16 --secs 10]
#        DOVECOT_SERVE=SECS scripts/imap-bench-dovecot.sh   only runs Dovecot (for profiling)
set -euo pipefail
[ -x /usr/lib/dovecot/imap ] || {
  echo "installing dovecot-imapd (apt)"; apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
}
BENCH=target/release/examples/imap_bench
# The client is built when missing (or with IMAP_BENCH_BUILD=1); its code does not depend on the
# server's, and waiting for other builds would only delay the run.
if [ ! -x "$BENCH" ] || [ -n "${IMAP_BENCH_BUILD:-}" ]; then
  cargo build --release --example imap_bench -q || [ -x "$BENCH" ]
fi
# The seeded message count must match on both sides (the bench's --messages, default 1000).
MESSAGES=1000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--messages" ] && MESSAGES=${args[$((i + 1))]}
done
DIR=$(mktemp -d /tmp/dovecot-imap-bench.XXXXXX)
chmod 755 "$DIR"
PORT=${DOVECOT_PORT:-31143}
cleanup() {
  if [ -f "$DIR/run/master.pid" ]; then
    pid=$(cat "$DIR/run/master.pid")
    kill "$pid" 2>/dev/null || true
    # Wait for the master (and so the listener) to go, so a next run can bind the port.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/run" "$DIR/mail/bench"
"$BENCH" --write-maildir "$DIR/mail/bench/Maildir" --messages "$MESSAGES"
chown -R dovenull:dovenull "$DIR/mail"
HASH=$(doveadm pw -s BLF-CRYPT -r 4 -p benchpass)
echo "bench:$HASH" > "$DIR/passwd"
cat > "$DIR/dovecot.conf" <<CONF
base_dir = $DIR/run
state_dir = $DIR/run
log_path = $DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=BLF-CRYPT $DIR/passwd
}
userdb {
  driver = static
  args = uid=dovenull gid=dovenull home=$DIR/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
  # High-performance mode: long-lived login processes, one per core.
  service_count = 0
  process_min_avail = 2
}
service imap {
  # Reuse imap processes for many sessions (one session at a time per process, as Dovecot wants).
  service_count = 0
  process_min_avail = 4
  process_limit = 1024
}
service auth {
  client_limit = 2000
}
service anvil {
  client_limit = 2000
}
default_client_limit = 2000
# All clients are one user from one address; the default of 10 would refuse the rest.
mail_max_userip_connections = 1000
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
CONF
ulimit -n 65536 2>/dev/null || true
dovecot -c "$DIR/dovecot.conf"
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
if [ -n "${DOVECOT_SERVE:-}" ]; then
  echo "Dovecot serving on 127.0.0.1:$PORT for $DOVECOT_SERVE s (user bench, password benchpass)"
  sleep "$DOVECOT_SERVE"
  exit 0
fi
"$BENCH" --connect "127.0.0.1:$PORT" --user bench --pass benchpass "$@"
