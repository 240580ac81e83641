//! The corpus and its support module, and (below) derived message data over every corpus message.

mod support;

use support::corpus::{corpus, large_attachment_message};

#[test]
fn corpus_has_all_messages_sorted() {
    let files = corpus();
    assert!(files.len() >= 44, "only {} corpus files", files.len());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    for (name, bytes) in &files {
        assert!(!bytes.is_empty(), "{name} is empty");
    }
}

#[test]
fn bare_lf_files_kept_bare_lf() {
    for (name, bytes) in corpus() {
        if name.contains("bare-lf") {
            assert!(!bytes.contains(&b'\r'), "{name} gained a CR");
            assert!(bytes.contains(&b'\n'), "{name} has no line breaks");
        }
    }
}

#[test]
fn large_attachment_is_deterministic_and_exact() {
    use base64::Engine as _;
    let size = 100_003;
    let a = large_attachment_message(size);
    assert_eq!(a, large_attachment_message(size));
    let text = String::from_utf8(a).expect("ascii message");
    let start = text
        .find("Content-Transfer-Encoding: base64\r\n\r\n")
        .expect("attachment header")
        + "Content-Transfer-Encoding: base64\r\n\r\n".len();
    let end = text
        .rfind("------=_Large_Attachment_0001--")
        .expect("close delimiter");
    let body = &text[start..end];
    assert!(body.lines().all(|l| l.len() <= 76));
    let joined: String = body.split("\r\n").collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(joined)
        .expect("valid base64");
    assert_eq!(decoded.len(), size);
}
