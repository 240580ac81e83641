//! Test harness: real servers for the storage tests, started by the tests themselves.
//!
//! - [`redis_url`] starts one `redis-server` per test binary on a free loopback port.
//! - [`mongodb_url`] starts one MongoDB-wire test server (`secantusd-py`, SecantusDB from PyPI) per test
//!   binary on a free loopback port with a fresh storage directory. It answers `ping` about 1.1–1.6 s
//!   after spawning on the 2-core dev machine (Redis: ~20 ms), so start-up is paid once per binary.
//!
//! Each server runs under a small `sh` watchdog that stops it (SIGTERM, then SIGKILL after 5 s) and removes
//! its directory as soon as the test process is gone — statics are never dropped, so the test process
//! cannot do that itself.
//!
//! `WILDDUCK_TEST_REDIS_URL` / `WILDDUCK_TEST_MONGODB_URL` point the tests at existing servers instead.
//! A missing binary is a panic with the install hint, never a silent skip.
//!
//! Isolation between tests sharing a server: [`unique_db_name`] for MongoDB, [`unique_key_prefix`] for
//! Redis keys (pub/sub channels are global in Redis, so notifier tests use unique user ids).

pub mod clients;
#[cfg(feature = "services")]
pub mod services;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng;

/// How the tests find the servers' binaries and what to tell a developer who lacks them.
const REDIS_HINT: &str = "redis-server not found: run scripts/setup-test-deps (or `apt-get install redis-server`), \
     or set WILDDUCK_TEST_REDIS_URL to an existing server";
const SECANTUS_HINT: &str = "secantusd-py not found: run scripts/setup-test-deps (it creates .venv with \
     `pip install --pre 'secantusdb==0.7.0b3'`), or set WILDDUCK_TEST_SECANTUSD to the binary, \
     or WILDDUCK_TEST_MONGODB_URL to an existing server";

/// The watchdog: starts the server (`$3…`) with its output in `$2/server.log`, then polls the test
/// process (`$1`); when that is gone (or the server died), stops the server and removes `$2`.
/// Ctrl-C on the test run must not kill the watchdog before it has cleaned up (the server itself, started
/// in the background of a non-interactive shell, already ignores SIGINT).
const WATCHDOG: &str = r#"
trap '' INT HUP
parent=$1; dir=$2; shift 2
"$@" >"$dir/server.log" 2>&1 &
srv=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$srv" 2>/dev/null; do sleep 0.3; done
kill -TERM "$srv" 2>/dev/null
n=0
while kill -0 "$srv" 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n+1)); done
kill -KILL "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
rm -rf "$dir"
"#;

/// The URL of a Redis server for this test binary (started on first use).
pub async fn redis_url() -> String {
    redis_url_blocking()
}

/// [`redis_url`] for synchronous callers.
pub fn redis_url_blocking() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    if let Some(url) = env_url("WILDDUCK_TEST_REDIS_URL") {
        return url;
    }
    // A panic during start leaves the cell empty, so each test reports the failure itself.
    URL.get_or_init(start_redis).clone()
}

/// The URL of a MongoDB-wire server for this test binary (started on first use), with
/// `directConnection=true&retryWrites=false`.
pub async fn mongodb_url() -> String {
    mongodb_url_blocking()
}

/// [`mongodb_url`] for synchronous callers.
pub fn mongodb_url_blocking() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    if let Some(url) = env_url("WILDDUCK_TEST_MONGODB_URL") {
        return url;
    }
    URL.get_or_init(start_mongodb).clone()
}

/// A database name no other test uses: `wildduck_test_<random>`.
pub fn unique_db_name() -> String {
    format!("wildduck_test_{}", random_hex())
}

/// A Redis key prefix no other test uses: `t<random>:`.
pub fn unique_key_prefix() -> String {
    format!("t{}:", random_hex())
}

/// A 24-hex-digit id no other test uses (the shape of a MongoDB ObjectId, as WildDuck's user ids).
pub fn unique_object_id() -> String {
    let mut rng = rand::rng();
    (0..12)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn random_hex() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A loopback port that was free a moment ago (the server binds it next; a lost race is retried).
fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("cannot bind a loopback port for a test server: {e}"),
    }
}

/// `name` in PATH, if there.
fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The workspace root, from this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn secantusd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WILDDUCK_TEST_SECANTUSD").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
        panic!(
            "WILDDUCK_TEST_SECANTUSD={} does not exist. {SECANTUS_HINT}",
            p.display()
        );
    }
    let venv = workspace_root().join(".venv/bin/secantusd-py");
    if venv.is_file() {
        return venv;
    }
    in_path("secantusd-py").unwrap_or_else(|| panic!("{SECANTUS_HINT}"))
}

/// A server process under the watchdog, in its own fresh directory.
struct Started {
    dir: PathBuf,
    port: u16,
}

/// Starts `program args…` under the watchdog in a fresh temporary directory. `args` may use `{port}` and
/// `{dir}`, replaced with the chosen port and the directory.
fn spawn_watched(what: &str, program: &Path, args: &[&str]) -> Started {
    let dir = match tempfile::Builder::new()
        .prefix(&format!("wildduck-test-{what}-"))
        .tempdir()
    {
        Ok(d) => d.keep(),
        Err(e) => panic!("cannot create a temporary directory for {what}: {e}"),
    };
    let port = free_port();
    let port_s = port.to_string();
    let dir_s = dir.to_string_lossy().into_owned();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("wildduck-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(&dir)
        .arg(program);
    for a in args {
        cmd.arg(a.replace("{port}", &port_s).replace("{dir}", &dir_s));
    }
    // The watchdog outlives this process briefly; it must not hold the caller's stdout/stderr pipes open.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Err(e) = cmd.spawn() {
        panic!("cannot start sh for the {what} watchdog: {e}");
    }
    Started { dir, port }
}

fn server_log(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let start = text.len().saturating_sub(2000);
    text.get(start..).unwrap_or(&text).to_owned()
}

/// Polls `probe` until it answers or `timeout` passes.
fn wait_until(timeout: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn connect(port: u16) -> Option<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(s)
}

/// Redis answers `PING` with `+PONG`.
fn redis_ping(port: u16) -> bool {
    let Some(mut s) = connect(port) else {
        return false;
    };
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Whether the Redis on `port` is the one we started in `dir` (`CONFIG GET dir`), not another test run's
/// server that grabbed the port between our choosing it and redis-server binding it.
fn redis_is_ours(port: u16, dir: &Path) -> bool {
    let Some(mut s) = connect(port) else {
        return false;
    };
    if s.write_all(b"CONFIG GET dir\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    // The reply is small: read until it holds the value or the server stops sending.
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(buf.get(..n).unwrap_or_default());
        if reply.ends_with(b"\r\n") && reply.iter().filter(|&&b| b == b'\n').count() >= 5 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&reply);
    // Redis reports the canonical path; the temp dir may sit behind a symlink.
    let ours = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    text.lines()
        .any(|l| Path::new(l.trim()) == ours || Path::new(l.trim()) == dir)
}

/// Sends `{ping: 1, $db: "admin"}` as an OP_MSG and checks for `ok: 1.0` in the reply.
fn mongo_ping(port: u16) -> bool {
    let Some(mut s) = connect(port) else {
        return false;
    };
    let mut doc = Vec::new();
    doc.extend_from_slice(&[0x10]); // int32 element
    doc.extend_from_slice(b"ping\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.extend_from_slice(&[0x02]); // string element
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = (doc.len() + 4) as i32;
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    body.push(0); // section kind 0: the command document
    body.extend_from_slice(&doc_len.to_le_bytes());
    body.extend_from_slice(&doc);
    let total = (16 + body.len()) as i32;
    let mut msg = Vec::new();
    msg.extend_from_slice(&total.to_le_bytes());
    msg.extend_from_slice(&1i32.to_le_bytes()); // requestID
    msg.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    msg.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    msg.extend_from_slice(&body);
    if s.write_all(&msg).is_err() {
        return false;
    }
    let mut header = [0u8; 16];
    if s.read_exact(&mut header).is_err() {
        return false;
    }
    let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let Ok(len) = usize::try_from(len) else {
        return false;
    };
    if !(16..=1 << 20).contains(&len) {
        return false;
    }
    let mut rest = vec![0u8; len - 16];
    if s.read_exact(&mut rest).is_err() {
        return false;
    }
    // `ok` as a double 1.0: type 0x01, name "ok\0", little-endian 1.0.
    let needle: [u8; 12] = [0x01, b'o', b'k', 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    rest.windows(needle.len()).any(|w| w == needle)
}

fn start_redis() -> String {
    let bin = in_path("redis-server").unwrap_or_else(|| panic!("{REDIS_HINT}"));
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let started = spawn_watched(
            "redis",
            &bin,
            &[
                "--port",
                "{port}",
                "--bind",
                "127.0.0.1",
                "--dir",
                "{dir}",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--loglevel",
                "warning",
            ],
        );
        if wait_until(Duration::from_secs(15), || redis_ping(started.port))
            && redis_is_ours(started.port, &started.dir)
        {
            return format!("redis://127.0.0.1:{}/", started.port);
        }
        // Most likely the port was taken between choosing and binding it: try another.
        last_log = server_log(&started.dir);
    }
    panic!("redis-server did not start; its log:\n{last_log}");
}

fn start_mongodb() -> String {
    let bin = secantusd_binary();
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let t0 = Instant::now();
        let started = spawn_watched(
            "mongodb",
            &bin,
            &[
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--storage-path",
                "{dir}/data",
                "--log-level",
                "WARNING",
            ],
        );
        if wait_until(Duration::from_secs(90), || mongo_ping(started.port)) {
            eprintln!(
                "wildduck-test-support: secantusd-py answered ping after {:?} (port {})",
                t0.elapsed(),
                started.port
            );
            return format!(
                "mongodb://127.0.0.1:{}/?directConnection=true&retryWrites=false",
                started.port
            );
        }
        last_log = server_log(&started.dir);
    }
    panic!("secantusd-py did not start; its log:\n{last_log}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let a = unique_db_name();
        let b = unique_db_name();
        assert_ne!(a, b);
        assert!(a.starts_with("wildduck_test_") && a.len() < 64);
        let p = unique_key_prefix();
        assert!(p.starts_with('t') && p.ends_with(':'));
        let id = unique_object_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn redis_starts_and_answers() {
        let url = redis_url_blocking();
        // Second call reuses the same server.
        assert_eq!(redis_url_blocking(), url);
        if let Some(external) = env_url("WILDDUCK_TEST_REDIS_URL") {
            assert_eq!(url, external);
            return;
        }
        assert!(url.starts_with("redis://127.0.0.1:"), "{url}");
        let port: u16 = url
            .trim_start_matches("redis://127.0.0.1:")
            .trim_end_matches('/')
            .parse()
            .unwrap_or(0);
        assert!(redis_ping(port));
    }

    #[test]
    fn mongodb_starts_and_answers_ping() {
        let url = mongodb_url_blocking();
        if let Some(external) = env_url("WILDDUCK_TEST_MONGODB_URL") {
            assert_eq!(url, external);
            return;
        }
        assert!(url.starts_with("mongodb://127.0.0.1:"), "{url}");
        assert!(url.ends_with("/?directConnection=true&retryWrites=false"));
        let port: u16 = url
            .trim_start_matches("mongodb://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(mongo_ping(port));
    }
}
