//! FETCH sections on hand-written messages: exact bytes for every section kind, nested message/rfc822
//! two levels deep, partials, and BINARY-style decoding.

use std::collections::HashMap;

use wildduck_core::message::parse::parse;
use wildduck_core::message::rebuild::rebuild;
use wildduck_core::message::section::{
    SectionKind, SectionSpec, decoded_part, fetch_section, find_part,
};
use wildduck_core::message::split::split;
use wildduck_core::message::tree::{BodySource, NoBlobs};
use wildduck_core::message::{BodyContent, MimeNode, NodeBody};

const NESTED: &[u8] = b"From: a@example.com\r\n\
Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner1\r\n\
Content-Type: multipart/alternative; boundary=in1\r\n\
\r\n\
--in1\r\n\
\r\n\
plain1\r\n\
--in1\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner2\r\n\
X-A: 1\r\n\
\r\n\
deep body\r\n\
--in1--\r\n\
--outer\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQ=\r\n\
--outer\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9 =\r\n\
ok\r\n\
--outer--\r\n\
epilogue\r\n";

fn section(root: &MimeNode, src: &dyn BodySource, part: &[u32], kind: SectionKind) -> Vec<u8> {
    let spec = SectionSpec {
        part: part.to_vec(),
        kind,
    };
    fetch_section(root, &spec, src, None).unwrap()
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Runs the checks on the plain tree and on the tree with attachments split out.
fn with_both_forms(raw: &[u8], check: impl Fn(&MimeNode, &dyn BodySource)) {
    let plain = parse(raw);
    check(&plain, &NoBlobs);
    let mut stored = plain.clone();
    let blobs: HashMap<String, Vec<u8>> = split(&mut stored)
        .into_iter()
        .map(|b| (b.hash, b.data))
        .collect();
    assert_ne!(stored, plain, "something was split out");
    assert_eq!(rebuild(&stored, &blobs).unwrap(), raw);
    check(&stored, &blobs);
}

#[test]
fn top_level_sections() {
    with_both_forms(NESTED, |root, src| {
        assert_eq!(section(root, src, &[], SectionKind::Full), NESTED);
        assert_eq!(
            section(root, src, &[], SectionKind::Header),
            b"From: a@example.com\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        );
        assert_eq!(
            section(
                root,
                src,
                &[],
                SectionKind::HeaderFields(fields(&["SUBJECT", "from"]))
            ),
            b"From: a@example.com\r\nSubject: outer\r\n\r\n"
        );
        assert_eq!(
            section(
                root,
                src,
                &[],
                SectionKind::HeaderFieldsNot(fields(&["Subject"]))
            ),
            b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        );
        assert_eq!(
            section(
                root,
                src,
                &[],
                SectionKind::HeaderFields(fields(&["X-None"]))
            ),
            b"\r\n"
        );
        let text = section(root, src, &[], SectionKind::Text);
        assert!(text.starts_with(b"preamble\r\n--outer\r\n"));
        assert!(text.ends_with(b"--outer--\r\nepilogue\r\n"));
        let header = section(root, src, &[], SectionKind::Header);
        assert_eq!([header, text].concat(), NESTED);
        // MIME of the message itself does not exist.
        assert_eq!(section(root, src, &[], SectionKind::Mime), b"");
    });
}

#[test]
fn part_sections() {
    with_both_forms(NESTED, |root, src| {
        assert_eq!(section(root, src, &[1], SectionKind::Full), b"Hello");
        assert_eq!(
            section(root, src, &[1], SectionKind::Mime),
            b"Content-Type: text/plain\r\n\r\n"
        );
        // HEADER/TEXT of a part that is not message/rfc822: empty.
        assert_eq!(section(root, src, &[1], SectionKind::Header), b"");
        assert_eq!(section(root, src, &[1], SectionKind::Text), b"");
        assert_eq!(section(root, src, &[3], SectionKind::Full), b"AAECAwQ=");
        assert_eq!(
            section(root, src, &[3], SectionKind::Mime),
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        );
        assert_eq!(
            section(root, src, &[4], SectionKind::Full),
            b"caf=C3=A9 =\r\nok"
        );
        // Nonexistent parts: empty, not an error.
        for part in [
            &[5][..],
            &[0],
            &[1, 1],
            &[3, 1],
            &[2, 3],
            &[2, 2, 2],
            &[2, 1, 1],
        ] {
            for kind in [SectionKind::Full, SectionKind::Mime, SectionKind::Text] {
                assert_eq!(section(root, src, part, kind), b"", "{part:?}");
            }
        }
    });
}

#[test]
fn nested_rfc822_two_levels_deep() {
    with_both_forms(NESTED, |root, src| {
        let inner1 = b"Subject: inner1\r\nContent-Type: multipart/alternative; boundary=in1\r\n\r\n--in1\r\n\r\nplain1\r\n--in1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner2\r\nX-A: 1\r\n\r\ndeep body\r\n--in1--";
        assert_eq!(section(root, src, &[2], SectionKind::Full), inner1);
        assert_eq!(
            section(root, src, &[2], SectionKind::Mime),
            b"Content-Type: message/rfc822\r\n\r\n"
        );
        assert_eq!(
            section(root, src, &[2], SectionKind::Header),
            b"Subject: inner1\r\nContent-Type: multipart/alternative; boundary=in1\r\n\r\n"
        );
        assert_eq!(
            section(
                root,
                src,
                &[2],
                SectionKind::HeaderFields(fields(&["subject"]))
            ),
            b"Subject: inner1\r\n\r\n"
        );
        assert_eq!(
            section(root, src, &[2], SectionKind::Text),
            b"--in1\r\n\r\nplain1\r\n--in1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner2\r\nX-A: 1\r\n\r\ndeep body\r\n--in1--"
        );
        assert_eq!(section(root, src, &[2, 1], SectionKind::Full), b"plain1");
        assert_eq!(section(root, src, &[2, 1], SectionKind::Mime), b"\r\n");
        assert_eq!(
            section(root, src, &[2, 2], SectionKind::Full),
            b"Subject: inner2\r\nX-A: 1\r\n\r\ndeep body"
        );
        assert_eq!(
            section(root, src, &[2, 2], SectionKind::Header),
            b"Subject: inner2\r\nX-A: 1\r\n\r\n"
        );
        assert_eq!(
            section(
                root,
                src,
                &[2, 2],
                SectionKind::HeaderFieldsNot(fields(&["subject"]))
            ),
            b"X-A: 1\r\n\r\n"
        );
        assert_eq!(section(root, src, &[2, 2], SectionKind::Text), b"deep body");
        let inner2 = find_part(root, &[2, 2]).unwrap();
        assert_eq!(inner2.header, b"Content-Type: message/rfc822\r\n");
        assert!(
            matches!(&inner2.body, NodeBody::Message(m) if m.header.starts_with(b"Subject: inner2"))
        );
        assert!(find_part(root, &[2, 3]).is_none());
        // The embedded message is not multipart: its part 1 is its body.
        assert_eq!(
            section(root, src, &[2, 2, 1], SectionKind::Full),
            b"deep body"
        );
        assert_eq!(
            section(root, src, &[2, 2, 1], SectionKind::Mime),
            b"Subject: inner2\r\nX-A: 1\r\n\r\n"
        );
    });
}

#[test]
fn partials_slice_the_section() {
    with_both_forms(NESTED, |root, src| {
        let get = |part: &[u32], kind: SectionKind, partial| {
            let spec = SectionSpec {
                part: part.to_vec(),
                kind,
            };
            fetch_section(root, &spec, src, Some(partial)).unwrap()
        };
        assert_eq!(get(&[], SectionKind::Full, (0, 4)), b"From");
        assert_eq!(get(&[], SectionKind::Full, (6, 1000)), &NESTED[6..]);
        assert_eq!(get(&[1], SectionKind::Full, (2, 100)), b"llo");
        assert_eq!(get(&[1], SectionKind::Full, (5, 1)), b"");
        assert_eq!(get(&[1], SectionKind::Full, (50, 1)), b"");
        assert_eq!(get(&[3], SectionKind::Full, (3, 3)), b"CAw");
        assert_eq!(
            get(
                &[],
                SectionKind::HeaderFields(fields(&["subject"])),
                (9, 100)
            ),
            b"outer\r\n\r\n"
        );
        assert_eq!(get(&[2, 2], SectionKind::Text, (5, 0)), b"");
    });
}

#[test]
fn decoded_parts() {
    with_both_forms(NESTED, |root, src| {
        assert_eq!(
            decoded_part(root, &[1], src).unwrap(),
            Some(b"Hello".to_vec())
        );
        assert_eq!(
            decoded_part(root, &[3], src).unwrap(),
            Some(vec![0, 1, 2, 3, 4])
        );
        assert_eq!(
            decoded_part(root, &[4], src).unwrap(),
            Some("café ok".as_bytes().to_vec())
        );
        assert_eq!(decoded_part(root, &[9], src).unwrap(), None);
        assert_eq!(decoded_part(root, &[], src).unwrap(), Some(NESTED.to_vec()));
    });
    let odd =
        b"Content-Type: application/x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n";
    assert_eq!(decoded_part(&parse(odd), &[1], &NoBlobs).unwrap(), None);
}

#[test]
fn single_part_message_has_part_one() {
    let raw = b"Subject: s\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n";
    let root = parse(raw);
    assert_eq!(
        section(&root, &NoBlobs, &[1], SectionKind::Full),
        b"line 1\r\nline 2\r\n"
    );
    assert_eq!(
        section(&root, &NoBlobs, &[], SectionKind::Text),
        b"line 1\r\nline 2\r\n"
    );
    assert_eq!(
        section(&root, &NoBlobs, &[1], SectionKind::Mime),
        b"Subject: s\r\nContent-Type: text/plain\r\n\r\n"
    );
    assert_eq!(section(&root, &NoBlobs, &[2], SectionKind::Full), b"");
    let NodeBody::Leaf(leaf) = &root.body else {
        panic!()
    };
    assert_eq!((leaf.size, leaf.lines), (16, 2));
    assert!(matches!(leaf.content, BodyContent::Inline(_)));
}

#[test]
fn digest_parts_default_to_rfc822() {
    let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n";
    let root = parse(raw);
    let NodeBody::Multipart(mp) = &root.body else {
        panic!()
    };
    assert_eq!(mp.parts[0].node.content_type, "message/rfc822");
    assert!(matches!(mp.parts[0].node.body, NodeBody::Message(_)));
    assert_eq!(mp.parts[1].node.content_type, "text/plain");
    assert_eq!(
        section(&root, &NoBlobs, &[1], SectionKind::Header),
        b"Subject: one\r\n\r\n"
    );
    assert_eq!(
        section(&root, &NoBlobs, &[1, 1], SectionKind::Full),
        b"body one"
    );
}

#[test]
fn encoded_rfc822_is_a_leaf() {
    let raw = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQpi\r\n";
    let root = parse(raw);
    assert!(matches!(root.body, NodeBody::Leaf(_)));
    assert_eq!(section(&root, &NoBlobs, &[1], SectionKind::Header), b"");
    assert_eq!(
        decoded_part(&root, &[1], &NoBlobs).unwrap(),
        Some(b"Subject: x\r\n\r\nb".to_vec())
    );
}
