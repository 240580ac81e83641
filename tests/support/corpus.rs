//! The MIME test corpus (`tests/corpus/*.eml`) and generated messages too large to commit.

use std::path::PathBuf;

/// Directory of the corpus files.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// Every `tests/corpus/*.eml` as `(file name, bytes)`, sorted by name.
///
/// Panics (failing the test) when the directory cannot be read: a missing corpus must not pass silently.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus dir {}: {e}", dir.display()));
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            if !name.ends_with(".eml") {
                return None;
            }
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            Some((name, bytes))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        !out.is_empty(),
        "corpus dir {} has no .eml files",
        dir.display()
    );
    out
}

/// One corpus message by file name.
pub fn corpus_file(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A deterministic message carrying a base64 attachment of exactly `size` decoded bytes
/// (76-character lines, CRLF), for the 30 MiB case that is too large to commit.
///
/// The attachment bytes come from a fixed xorshift sequence, so equal sizes give equal messages and
/// the content does not compress or de-duplicate trivially.
pub fn large_attachment_message(size: usize) -> Vec<u8> {
    use base64::Engine as _;

    let mut data = Vec::with_capacity(size);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let take = (size - data.len()).min(8);
        data.extend_from_slice(&state.to_le_bytes()[..take]);
    }

    let boundary = "----=_Large_Attachment_0001";
    let mut msg = Vec::with_capacity(size / 3 * 4 + size / 57 * 2 + 2048);
    let head = format!(
        "Received: from mail-out.example.net (mail-out.example.net [192.0.2.99])\r\n\
         \tby mx.example.org (Postfix) with ESMTPS id 4ZLARGE01;\r\n\
         \tMon, 22 Apr 2024 10:00:00 +0000\r\n\
         From: \"Archive Service\" <archive@example.net>\r\n\
         To: \"Storage Test\" <storage@example.org>\r\n\
         Subject: Large attachment ({size} bytes)\r\n\
         Date: Mon, 22 Apr 2024 10:00:00 +0000\r\n\
         Message-ID: <large-{size}@example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         The archive is attached.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: application/octet-stream; name=\"archive.bin\"\r\n\
         Content-Disposition: attachment; filename=\"archive.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n"
    );
    msg.extend_from_slice(head.as_bytes());
    // 57 input bytes encode to exactly one 76-character line.
    let engine = base64::engine::general_purpose::STANDARD;
    for chunk in data.chunks(57) {
        msg.extend_from_slice(engine.encode(chunk).as_bytes());
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    msg
}
