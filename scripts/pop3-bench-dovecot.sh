#!/usr/bin/env bash
# Runs examples/pop3_bench's client against a throwaway Dovecot POP3 server (Debian's dovecot-pop3d)
# configured in a temp dir on 127.0.0.1: high-performance login process model (service_count = 0),
# the same 20 messages in a Maildir, and the password as bcrypt cost 4 ({BLF-CRYPT}$2y$04$) as on our
# side. Nothing outside the temp dir is touched; Dovecot is stopped at exit.
# Usage: [POP3_BENCH=path/to/pop3_bench] scripts/pop3-bench-dovecot.sh [bench args, e.g. --concurrency 4]
set -euo pipefail
command -v dovecot >/dev/null 2>&1 || {
  echo "installing dovecot-pop3d (apt)"; apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-pop3d >/dev/null
}
# POP3_BENCH=<binary> uses an already built client as it is (no build).
if [ -n "${POP3_BENCH:-}" ]; then
  BENCH=$POP3_BENCH
else
  BENCH=target/release/examples/pop3_bench
  # Build the client; an existing binary is used when the workspace does not build right now.
  cargo build --release --example pop3_bench -q || [ -x "$BENCH" ]
fi
DIR=$(mktemp -d /tmp/dovecot-bench.XXXXXX)
chmod 755 "$DIR"
PORT=${DOVECOT_PORT:-31110}
cleanup() {
  [ -f "$DIR/run/master.pid" ] && kill "$(cat "$DIR/run/master.pid")" 2>/dev/null || true
  sleep 0.5; rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/run" "$DIR/mail/bench"
"$BENCH" --write-maildir "$DIR/mail/bench/Maildir"
chown -R dovenull:dovenull "$DIR/mail"
HASH=$(doveadm pw -s BLF-CRYPT -r 4 -p benchpass)
echo "bench:$HASH" > "$DIR/passwd"
cat > "$DIR/dovecot.conf" <<CONF
base_dir = $DIR/run
state_dir = $DIR/run
log_path = $DIR/dovecot.log
protocols = pop3
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
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener pop3s {
    port = 0
  }
  # High-performance mode: long-lived login processes, one per core.
  service_count = 0
  process_min_avail = 2
}
service pop3 {
  # Reuse pop3 processes for many sessions.
  service_count = 0
  process_min_avail = 2
}
service auth {
  client_limit = 2000
}
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
CONF
dovecot -c "$DIR/dovecot.conf"
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
# CPU (user + system, USER_HZ ticks) of Dovecot's master and its children (login, auth, pop3).
dovecot_ticks() {
  local t=0 p master
  master=$(cat "$DIR/run/master.pid")
  for p in $master $(pgrep -P "$master"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
SESSIONS=200
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
  [ "${ARGS[$i]}" = "--sessions" ] && SESSIONS=${ARGS[$((i + 1))]:-200}
done
sleep 0.5
T0=$(dovecot_ticks)
"$BENCH" --addr "127.0.0.1:$PORT" --user bench --pass benchpass "$@"
T1=$(dovecot_ticks)
awk -v t=$((T1 - T0)) -v n="$SESSIONS" 'BEGIN { printf "dovecot server: %.2f ms CPU per session\n", t * 10 / n }'
