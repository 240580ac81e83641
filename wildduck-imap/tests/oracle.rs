//! Our ENVELOPE / BODYSTRUCTURE / BODY output, decoded by imap-codec (a test oracle only), must give
//! back the model we serialised: tricky headers built by hand.

mod common;

use wildduck_core::message::bodystructure::body_structure;
use wildduck_core::message::envelope::envelope;
use wildduck_core::message::parse::normalize_and_parse;

fn roundtrip(raw: &[u8]) -> Vec<u8> {
    let root = normalize_and_parse(raw);
    let env = envelope(&root.header);
    let bs = body_structure(&root);
    let mut all = Vec::new();
    for (seq, utf8) in [(1, false), (2, true)] {
        let line = common::fetch_line(seq, &common::fetch_items(&env, &bs, utf8));
        let rest = common::check_fetch(&line, &env, &bs, utf8, &format!("utf8={utf8}"));
        assert!(rest.is_empty(), "trailing bytes after FETCH");
        all.extend(line);
    }
    all
}

#[test]
fn tricky_headers_survive_the_oracle() {
    let sjis_subject: &[u8] = b"Subject: \x93\xfa\x96\x7b\x8c\xea\r\n";
    let mut raw = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n".to_vec();
    raw.extend_from_slice(sjis_subject);
    raw.extend_from_slice(
        "From: \"Müller, Jürgen\" <j@example.org>, =?UTF-8?B?w7w=?= <u@x.org>\r\n\
To: Friends: a@x.org, \"quote\\\"d\" <b@y.org>;, nodomain\r\n\
Cc: \"back\\\\slash\" <c@z>\r\n\
Bcc: undisclosed-recipients:;\r\n\
Message-ID: <id@x>\r\n\
Content-Type: text/plain; charset=\"utf-8\"; name*=utf-8''%E2%82%AC.txt\r\n\
Content-Language: en\r\n\
\r\n\
body\r\n"
            .as_bytes(),
    );
    let out = roundtrip(&raw);
    let text = String::from_utf8_lossy(&out);
    // The Shift_JIS subject goes as a literal in both modes (it is not UTF-8).
    assert!(text.contains("{6}\r\n"), "{text}");
    // The UTF-8 display name is a literal without UTF8=ACCEPT and quoted with it.
    assert!(text.contains("{16}\r\nMüller, Jürgen"), "{text}");
    assert!(text.contains("\"Müller, Jürgen\""), "{text}");
    assert!(
        text.contains("(\"CHARSET\" \"utf-8\" \"NAME\" \"=?UTF-8?Q?=E2=82=AC.txt?=\")"),
        "{text}"
    );
    // Group markers, then an address without a domain: empty host, never NIL (that would be a group).
    assert!(
        text.contains("((NIL NIL \"Friends\" NIL)(NIL NIL \"a\" \"x.org\")"),
        "{text}"
    );
    assert!(
        text.contains("(NIL NIL NIL NIL)(NIL NIL \"nodomain\" \"\"))"),
        "{text}"
    );
    assert!(text.contains("\"quote\\\"d\""), "{text}");
    assert!(text.contains("\"back\\\\slash\""), "{text}");
}

#[test]
fn nested_message_and_multipart_extension_data() {
    let raw = b"From: a@b\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=XX\r\n\
Content-Disposition: inline\r\nContent-Language: en, fr\r\nContent-Location: http://x/\r\n\r\n\
preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\nContent-Type: message/rfc822\r\n\
Content-Description: forwarded\r\n\r\nSubject: inner\r\nFrom: \"In, Ner\" <i@n>\r\n\
Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n\r\nplain\r\n--YY\r\n\
Content-Type: text/html\r\nContent-MD5: abc=\r\n\r\n<p>x</p>\r\n--YY--\r\n\r\n--XX--\r\nepilogue\r\n";
    let out = roundtrip(raw);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\""),
        "{text}"
    );
    assert!(
        text.contains(
            " \"MIXED\" (\"BOUNDARY\" \"XX\") (\"INLINE\" NIL) (\"en\" \"fr\") \"http://x/\")"
        ),
        "{text}"
    );
}

#[test]
fn header_only_and_empty_messages() {
    for raw in [&b""[..], b"Subject: x", b"\r\n", b"X: y\r\n\r\n"] {
        let out = roundtrip(raw);
        assert!(
            out.starts_with(b"* 1 FETCH (ENVELOPE (NIL "),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
}

mod property {
    use proptest::prelude::*;

    /// Header-ish bytes: mostly printable with the characters that matter to the address and
    /// parameter parsers, plus any byte at all now and then.
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        let interesting = prop::sample::select(
            b"<>@,:;\"\\()[] =*'%\t\r\nabcXYZ09.\x00\x7f\xc3\xbc\x93\xfa".to_vec(),
        );
        prop::collection::vec(prop_oneof![4 => interesting, 1 => any::<u8>()], 0..80)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Whatever the headers hold, imap-codec decodes our responses into the model we wrote.
        #[test]
        fn any_header_values_roundtrip(
            subject in header_bytes(),
            from in header_bytes(),
            to in header_bytes(),
            params in header_bytes(),
            disposition in header_bytes(),
        ) {
            let mut raw = b"Subject: ".to_vec();
            raw.extend_from_slice(&subject);
            raw.extend_from_slice(b"\r\nFrom: ");
            raw.extend_from_slice(&from);
            raw.extend_from_slice(b"\r\nTo: ");
            raw.extend_from_slice(&to);
            raw.extend_from_slice(b"\r\nContent-Type: application/x; ");
            raw.extend_from_slice(&params);
            raw.extend_from_slice(b"\r\nContent-Disposition: attachment; ");
            raw.extend_from_slice(&disposition);
            raw.extend_from_slice(b"\r\n\r\nbody\r\n");
            let out = super::roundtrip(&raw);
            prop_assert!(out.starts_with(b"* 1 FETCH (ENVELOPE ("));
        }
    }
}

/// The oracle comparison is not vacuous: a model that differs from what was written is caught.
#[test]
fn oracle_detects_a_mismatch() {
    use wildduck_core::message::bodystructure::BodyStructure;
    let root = normalize_and_parse(b"Subject: s\r\nFrom: a@b\r\n\r\nbody\r\n");
    let env = envelope(&root.header);
    let bs = body_structure(&root);
    let line = common::fetch_line(1, &common::fetch_items(&env, &bs, false));
    let mut wrong_size = bs.clone();
    if let BodyStructure::Single(s) = &mut wrong_size {
        s.size += 1;
    }
    let mut wrong_subject = env.clone();
    wrong_subject.subject = Some(b"t".to_vec());
    for (e, b) in [(&env, &wrong_size), (&wrong_subject, &bs)] {
        let caught = std::panic::catch_unwind(|| {
            common::check_fetch(&line, e, b, false, "mutated");
        });
        assert!(caught.is_err(), "a wrong model passed the oracle");
    }
    assert!(common::check_fetch(&line, &env, &bs, false, "original").is_empty());
}
