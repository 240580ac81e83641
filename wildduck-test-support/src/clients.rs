//! Small helpers for the tests that drive real mail clients (curl, mbsync, offlineimap, fetchmail,
//! mpop, getmail6) as separate processes.

use std::path::Path;

/// Fails the test, with the way to install it, when `tool` is not on the PATH: a missing client is
/// a failure, never a skip.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/setup-test-deps (apt-get install {package})"
    );
}

/// `b` with every CRLF turned into LF (lone CRs stay), as Maildir-writing clients store messages.
pub fn crlf_to_lf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !(c == b'\r' && b.get(i + 1) == Some(&b'\n')) {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// `b` with every LF preceded by CR, as a client uploads a Maildir file.
pub fn lf_to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 16);
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// Every file under a Maildir's `cur/` and `new/` as (`cur/<name>`, bytes), sorted by name.
pub fn maildir_files(maildir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = format!("{sub}/{}", e.file_name().to_string_lossy());
            out.push((name, std::fs::read(e.path()).expect("read maildir file")));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_end_conversions_round_trip_and_keep_lone_cr() {
        let crlf = b"a\r\nb\rc\r\n\r\n";
        assert_eq!(crlf_to_lf(crlf), b"a\nb\rc\n\n");
        assert_eq!(lf_to_crlf(&crlf_to_lf(crlf)), crlf.to_vec());
    }
}
