//! A real client: python3's imaplib drives FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE and IDLE
//! against the server (SQLite backend) and checks the answers, byte-exact bodies included.

mod selected_support;

use selected_support::*;

const SCRIPT: &str = r#"
import imaplib, sys, time, re, socket
host, port, user, pw, path1, path2 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
raw1 = open(path1, 'rb').read()
raw2 = open(path2, 'rb').read()
M = imaplib.IMAP4(host, port)
M.login(user, pw)
typ, data = M.append('INBOX', None, None, raw1)
assert typ == 'OK', (typ, data)
typ, data = M.append('INBOX', '(\\Flagged)', None, raw2)
assert typ == 'OK', (typ, data)
typ, data = M.select('INBOX')
assert typ == 'OK' and data[0] == b'2', (typ, data)

# FETCH: bodies byte-exact, flags, sizes
typ, data = M.fetch('1:2', '(BODY.PEEK[] RFC822.SIZE FLAGS)')
assert typ == 'OK', (typ, data)
bodies = [d[1] for d in data if isinstance(d, tuple)]
assert bodies == [raw1, raw2], 'bodies differ'
flat = b''.join(d[0] if isinstance(d, tuple) else d for d in data)
assert b'RFC822.SIZE %d' % len(raw1) in flat, flat
typ, data = M.uid('FETCH', '2', '(FLAGS)')
assert typ == 'OK' and b'\\Flagged' in data[0] and b'UID 2' in data[0], data

# SEARCH
typ, data = M.search(None, 'FLAGGED')
assert data == [b'2'], data
typ, data = M.search(None, 'UNSEEN')
assert data == [b'1 2'], data
typ, data = M.uid('SEARCH', None, 'ALL')
assert data == [b'1 2'], data

# STORE, implicit \Seen
typ, data = M.store('1', '+FLAGS', '(\\Answered)')
assert typ == 'OK' and b'\\Answered' in data[0], data
typ, data = M.fetch('1', '(BODY[TEXT])')
assert typ == 'OK', data
typ, data = M.fetch('1', '(FLAGS)')
assert b'\\Seen' in data[0], data
typ, data = M.search(None, 'SEEN')
assert data == [b'1'], data

# COPY and MOVE
typ, data = M.copy('1:2', 'Trash')
assert typ == 'OK', (typ, data)
assert M.untagged_responses.get('COPYUID') or True
typ, data = M.status('Trash', '(MESSAGES)')
assert b'MESSAGES 2' in data[0], data
typ, data = M._simple_command('MOVE', '2', 'Junk')
assert typ == 'OK', (typ, data)
typ, data = M.status('Junk', '(MESSAGES)')
assert b'MESSAGES 1' in data[0], data
typ, data = M.search(None, 'ALL')
assert data == [b'1'], data

# EXPUNGE
typ, data = M.store('1', '+FLAGS.SILENT', '(\\Deleted)')
assert typ == 'OK'
typ, data = M.expunge()
assert typ == 'OK' and data[-1] == b'1', (typ, data)  # MOVE's EXPUNGE 2 is still queued in imaplib
typ, data = M.search(None, 'ALL')
assert data == [None] or data == [b''], data

# IDLE (imaplib of this Python has no idle(): speak it on the socket)
tag = M._new_tag()
M.send(tag + b' IDLE\r\n')
line = M.readline()
assert line.startswith(b'+'), line
print('IDLING', flush=True)
sys.stdin.readline()  # the test appends a message now
deadline = time.time() + 2
got = None
M.sock.settimeout(2)
while time.time() < deadline:
    line = M.readline()
    if re.match(rb'\* \d+ EXISTS', line):
        got = line
        break
assert got == b'* 1 EXISTS\r\n', got
M.send(b'DONE\r\n')
line = M.readline()
assert line.startswith(tag + b' OK'), line
M.sock.settimeout(None)
typ, data = M.fetch('1', '(BODY.PEEK[])')
assert data[0][1] == raw1, 'pushed message differs'
M.logout()
print('ALL OK', flush=True)
"#;

#[tokio::test]
async fn python_imaplib() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "pyuser").await;
    let server = start(&env.services, config()).await;
    let corpus = corpus();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("client.py");
    std::fs::write(&script, SCRIPT).expect("script");
    // Two corpus messages with CRLF line ends (imaplib sends what it is given).
    let picks: Vec<&(String, Vec<u8>)> = corpus
        .iter()
        .filter(|(_, raw)| !raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'))
        .take(2)
        .collect();
    assert_eq!(picks.len(), 2);
    let p1 = dir.path().join("m1.eml");
    let p2 = dir.path().join("m2.eml");
    std::fs::write(&p1, &picks[0].1).expect("m1");
    std::fs::write(&p2, &picks[1].1).expect("m2");
    let mut child = tokio::process::Command::new("python3")
        .arg(&script)
        .arg("127.0.0.1")
        .arg(server.addr.port().to_string())
        .arg("pyuser")
        .arg(PASS)
        .arg(&p1)
        .arg(&p2)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), out.next_line())
        .await
        .expect("client reached IDLE in time")
        .expect("read");
    if first.as_deref() != Some("IDLING") {
        let out = child.wait_with_output().await.expect("wait");
        panic!(
            "imaplib script failed before IDLE: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    append(&env.services, &u, "INBOX", &picks[0].1, &[]).await;
    stdin.write_all(b"go\n").await.expect("stdin");
    let rest = tokio::time::timeout(std::time::Duration::from_secs(30), out.next_line())
        .await
        .expect("client finished in time")
        .expect("read");
    let status = child.wait().await.expect("wait");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    assert!(status.success(), "imaplib script failed: {err}");
    assert_eq!(rest.as_deref(), Some("ALL OK"), "{err}");
}
