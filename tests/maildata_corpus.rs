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

/// What one corpus message must yield.
struct Expect {
    file: &'static str,
    subject: &'static str,
    /// `None`: generated `<uuid@wildduck.email>`.
    msgid: Option<&'static str>,
    hdate: Option<i64>,
    attachments: &'static [&'static str],
    has_attachments: bool,
    text_contains: &'static str,
    thread_subject: &'static str,
}

const EXPECT: &[Expect] = &[
    Expect {
        file: "01-plain.eml",
        subject: "Lunch on Thursday?",
        msgid: Some("<20240304101532.1234@example.net>"),
        hdate: Some(1_709_543_732_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Are you free for lunch on Thursday?",
        thread_subject: "Lunch on Thursday?",
    },
    Expect {
        file: "02-multipart-mixed.eml",
        subject: "Your invoice 2024-0042",
        msgid: Some("<inv-2024-0042@shop.example.com>"),
        hdate: Some(1_709_625_601_000),
        attachments: &["invoice-2024-0042.pdf"],
        has_attachments: true,
        text_contains: "please find your invoice attached.",
        thread_subject: "Your invoice 2024-0042",
    },
    Expect {
        file: "04-related-cid.eml",
        subject: "Chart for the board meeting",
        msgid: Some("<CAF3xk9@mail.example.com>"),
        hdate: Some(1_709_794_904_000),
        attachments: &["logo.png", "chart.png"],
        has_attachments: false,
        text_contains: "Frank, the chart is below.",
        thread_subject: "Chart for the board meeting",
    },
    Expect {
        file: "05-nested-rfc822.eml",
        subject: "Fwd: Fwd: Original question",
        msgid: Some("<fwd-2@example.org>"),
        hdate: Some(1_709_574_300_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Forwarding the whole thread.\nSee the question below.\nDoes anyone know when the server migration happens?",
        thread_subject: "Original question",
    },
    Expect {
        file: "07-base64-ragged.eml",
        subject: "Scan from the office copier",
        msgid: Some("<scan-7781@copier.example.net>"),
        hdate: Some(1_710_238_271_000),
        attachments: &["scan0001.dat"],
        has_attachments: true,
        text_contains: "Scanned document attached.",
        thread_subject: "Scan from the office copier",
    },
    Expect {
        file: "09-8bit-body.eml",
        subject: "Meeting notes",
        msgid: Some("<notes-9@example.ru>"),
        hdate: Some(1_710_410_400_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Заметки со встречи: всё согласовано",
        thread_subject: "Meeting notes",
    },
    Expect {
        file: "11-utf8-b-encoded.eml",
        subject: "Čtvrtletní zpráva – výsledky 📊",
        msgid: Some("<utf8b-11@example.com>"),
        hdate: Some(1_710_579_600_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "výsledky jsou v příloze",
        thread_subject: "Čtvrtletní zpráva – výsledky 📊",
    },
    Expect {
        file: "13-iso-8859-1.eml",
        subject: "Réunion à Genève",
        msgid: Some("<latin1-13@example.fr>"),
        hdate: Some(1_710_749_349_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "le café est prêt. À bientôt",
        thread_subject: "Réunion à Genève",
    },
    Expect {
        file: "14-iso-8859-2.eml",
        subject: "Zażółć gęślą jaźń",
        msgid: Some("<latin2-14@example.pl>"),
        hdate: Some(1_710_848_096_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "przesyłam zażółć gęślą jaźń",
        thread_subject: "Zażółć gęślą jaźń",
    },
    Expect {
        file: "15-iso-8859-15.eml",
        subject: "Lasku 49 € - eräpäivä",
        msgid: Some("<latin9-15@example.fi>"),
        hdate: Some(1_710_939_600_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "lasku on 49 € ja se erääntyy",
        thread_subject: "Lasku 49 € - eräpäivä",
    },
    Expect {
        file: "16-shift-jis.eml",
        subject: "会議資料の送付",
        msgid: Some("<sjis-16@example.jp>"),
        hdate: Some(1_710_982_800_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "来週の会議の資料を送ります。",
        thread_subject: "会議資料の送付",
    },
    Expect {
        file: "17-gb2312.eml",
        subject: "本季度销售报告",
        msgid: Some("<gb-17@example.cn>"),
        hdate: Some(1_711_097_100_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "附件是本季度的销售报告",
        thread_subject: "本季度销售报告",
    },
    Expect {
        file: "19-raw-latin1-header.eml",
        subject: "Übergabe der Schlüssel",
        msgid: Some("<raw-latin1-19@example.de>"),
        hdate: Some(1_711_267_200_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "die Schlüssel liegen beim Pförtner.",
        thread_subject: "Übergabe der Schlüssel",
    },
    Expect {
        file: "20-rfc2231-continuation.eml",
        subject: "Long file name",
        msgid: Some("<r2231-20@example.com>"),
        hdate: Some(1_711_364_400_000),
        attachments: &["Quarterly_Report_for_the_Board_of_Directors_and_Shareholders_2024.pdf"],
        has_attachments: true,
        text_contains: "The file has a very long name.",
        thread_subject: "Long file name",
    },
    Expect {
        file: "21-rfc2231-charset-lang.eml",
        subject: "Dokumente",
        msgid: Some("<r2231-21@example.com>"),
        hdate: Some(1_711_449_000_000),
        attachments: &["Übersicht März.pdf", "Größe und Maße.txt"],
        has_attachments: true,
        text_contains: "Zwei Dokumente anbei.",
        thread_subject: "Dokumente",
    },
    Expect {
        file: "22-missing-boundary.eml",
        subject: "Broken multipart",
        msgid: Some("<nobound-22@example.net>"),
        hdate: Some(1_711_526_400_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "",
        thread_subject: "Broken multipart",
    },
    Expect {
        file: "23-unclosed-boundary.eml",
        subject: "Truncated upload",
        msgid: Some("<unclosed-23@example.net>"),
        hdate: Some(1_711_612_800_000),
        attachments: &["partial.bin"],
        has_attachments: true,
        text_contains: "First part is complete.",
        thread_subject: "Truncated upload",
    },
    Expect {
        file: "29-bare-lf.eml",
        subject: "Cron <root@host> /usr/local/bin/backup.sh",
        msgid: Some("<20240403020001.ABC@host.example.com>"),
        hdate: Some(1_712_109_601_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "backup: 1432 files, 2.1 GiB\nbackup: done in 00:03:12",
        thread_subject: "Cron <root@host> /usr/local/bin/backup.sh",
    },
    Expect {
        file: "31-duplicate-headers.eml",
        subject: "Second subject",
        msgid: Some("<dup-31@example.com>"),
        hdate: Some(1_712_311_200_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Two Subjects and two Froms.",
        thread_subject: "Second subject",
    },
    Expect {
        file: "32-no-date.eml",
        subject: "No date header",
        msgid: Some("<nodate-32@example.com>"),
        hdate: None,
        attachments: &[],
        has_attachments: false,
        text_contains: "no Date header",
        thread_subject: "No date header",
    },
    Expect {
        file: "33-no-message-id.eml",
        subject: "No message id",
        msgid: None,
        hdate: Some(1_712_397_600_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "no Message-ID header",
        thread_subject: "No message id",
    },
    Expect {
        file: "36-calendar-invite.eml",
        subject: "Invitation: Sprint planning @ Mon Apr 15, 2024 9am - 10am (UTC)",
        msgid: Some("<invite-36@example.com>"),
        hdate: Some(1_712_649_600_000),
        // The text/calendar alternative has no name: a random `xxxxxxxx.ics` (checked below).
        attachments: &["*.ics", "invite.ics"],
        has_attachments: true,
        text_contains: "You have been invited to Sprint planning.",
        thread_subject: "Invitation: Sprint planning @ Mon Apr 15, 2024 9am - 10am (UTC)",
    },
    Expect {
        file: "37-delivery-status.eml",
        subject: "Undelivered Mail Returned to Sender",
        msgid: Some("<20240410080005.DSN1@mx.example.org>"),
        hdate: Some(1_712_736_005_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Final-Recipient: rfc822; nobody@example.org",
        thread_subject: "Undelivered Mail Returned to Sender",
    },
    Expect {
        file: "38-html-only.eml",
        subject: "50% off this weekend only",
        msgid: Some("<promo-38@shop.example.com>"),
        hdate: Some(1_712_815_200_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Everything is 50 % off & shipping is free.\n\n* Shoes\n* Jackets\n\nCafé €5 vouchers <today>.",
        thread_subject: "50% off this weekend only",
    },
    Expect {
        file: "42-garbage.eml",
        subject: "",
        msgid: None,
        hdate: None,
        attachments: &[],
        has_attachments: false,
        text_contains: "",
        thread_subject: "",
    },
    Expect {
        file: "43-reply-thread.eml",
        subject: "Re: [team] Fwd: RE: [team] Fw: Offsite planning (fwd)",
        msgid: Some("<reply-43@example.com>"),
        hdate: Some(1_713_173_400_000),
        attachments: &[],
        has_attachments: false,
        text_contains: "Count me in.",
        thread_subject: "Offsite planning",
    },
    Expect {
        file: "44-inline-image-mixed.eml",
        subject: "Photo from the trip",
        msgid: Some("<photo-44@example.com>"),
        hdate: Some(1_713_286_800_000),
        attachments: &["IMG_0044.png"],
        has_attachments: true,
        text_contains: "Here is the photo.",
        thread_subject: "Photo from the trip",
    },
    Expect {
        file: "45-name-param-only.eml",
        subject: "Spreadsheet",
        msgid: Some("<sheet-45@example.fr>"),
        hdate: Some(1_713_340_800_000),
        attachments: &["budget.xls"],
        has_attachments: true,
        text_contains: "Sheet attached.",
        thread_subject: "Spreadsheet",
    },
    Expect {
        file: "47-deep-nesting.eml",
        subject: "Re: Website redesign",
        msgid: Some("<deep-47@example.com>"),
        hdate: Some(1_713_524_400_000),
        attachments: &["*.png", "mockups-v3.zip"],
        has_attachments: true,
        text_contains: "the mockups are ready",
        thread_subject: "Website redesign",
    },
    Expect {
        file: "48-mixed-encoded-words.eml",
        subject: "Hello wörld plain tail",
        msgid: Some("<mixed-48@example.com>"),
        hdate: None,
        attachments: &[],
        has_attachments: false,
        text_contains: "invalid Date header",
        thread_subject: "Hello wörld plain tail",
    },
];

/// Ingests one corpus message the way the service will: normalise, parse, split, extract.
fn maildata_of(raw: &[u8]) -> wildduck::core::message::maildata::MailData {
    use std::collections::HashMap;
    use wildduck::core::message::{maildata, parse, split};
    let mut tree = parse::normalize_and_parse(raw);
    let blobs = split::split(&mut tree);
    let src: HashMap<String, Vec<u8>> = blobs.into_iter().map(|b| (b.hash, b.data)).collect();
    maildata::extract(&tree, &src).expect("extract with every blob present")
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix('*') {
        // Generated names: eight hex digits and the extension.
        Some(ext) => {
            name.len() == 8 + ext.len()
                && name.ends_with(ext)
                && name.bytes().take(8).all(|b| b.is_ascii_hexdigit())
        }
        None => pattern == name,
    }
}

#[test]
fn maildata_matches_expectations() {
    let files: std::collections::HashMap<String, Vec<u8>> = corpus().into_iter().collect();
    assert!(EXPECT.len() >= 15);
    for e in EXPECT {
        let raw = files
            .get(e.file)
            .unwrap_or_else(|| panic!("{} missing from the corpus", e.file));
        let md = maildata_of(raw);
        assert_eq!(md.subject, e.subject, "{}: subject", e.file);
        match e.msgid {
            Some(id) => assert_eq!(md.msgid, id, "{}: msgid", e.file),
            None => assert!(
                md.msgid.starts_with('<') && md.msgid.ends_with("@wildduck.email>"),
                "{}: generated msgid {}",
                e.file,
                md.msgid
            ),
        }
        assert_eq!(md.hdate, e.hdate, "{}: hdate", e.file);
        let names: Vec<&str> = md.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names.len(),
            e.attachments.len(),
            "{}: attachments {names:?}",
            e.file
        );
        for (want, got) in e.attachments.iter().zip(&names) {
            assert!(
                name_matches(want, got),
                "{}: attachment {got} != {want}",
                e.file
            );
        }
        for (i, a) in md.attachments.iter().enumerate() {
            assert_eq!(
                a.id,
                format!("ATT{:05}", i + 1),
                "{}: attachment ids",
                e.file
            );
            assert!(a.file_content_hash.is_some(), "{}: content hash", e.file);
        }
        assert_eq!(md.has_attachments, e.has_attachments, "{}: ha", e.file);
        let full = format!("{}{}", md.text, md.text_footer);
        assert!(
            full.contains(e.text_contains),
            "{}: text {:?} lacks {:?}",
            e.file,
            full,
            e.text_contains
        );
        if e.text_contains.is_empty() {
            assert!(
                full.is_empty(),
                "{}: expected no text, got {full:?}",
                e.file
            );
        }
        assert_eq!(
            md.thread.subject, e.thread_subject,
            "{}: thread subject",
            e.file
        );
    }
}

#[test]
fn cid_links_point_at_attachments() {
    let md = maildata_of(&support::corpus::corpus_file("04-related-cid.eml"));
    let html = md.html.concat();
    assert!(html.contains("src=\"attachment:ATT00001\""), "{html}");
    assert!(html.contains("src=\"attachment:ATT00002\""), "{html}");
    assert!(!html.contains("cid:"), "{html}");
    assert!(md.attachments.iter().all(|a| a.related));
    assert_eq!(
        md.attachments[1].cid.as_deref(),
        Some("<chart.part1@example.com>")
    );
}

#[test]
fn previews_and_truncation_over_the_corpus() {
    let md = maildata_of(&support::corpus::corpus_file("50-large-text.eml"));
    assert_eq!(md.text.chars().count(), 1024);
    assert!(!md.text_footer.is_empty());
    assert!(md.text_footer.chars().count() <= 100 * 1024 - 1024);
    assert!(md.intro.ends_with('…'));
    assert!(md.intro.chars().count() <= 129);

    // Quoted lines do not reach the preview.
    let md = maildata_of(&support::corpus::corpus_file("27-long-references.eml"));
    assert_eq!(
        md.intro,
        "I agree with the proposal. On Sun, Mar 31, someone wrote: Yusuf"
    );
    assert_eq!(md.thread.references.len(), 10);
    assert!(
        md.headers
            .iter()
            .any(|h| h.key == "list-id" && h.value == "devel.lists.example.org")
    );

    // The 2 KB subject is kept whole; its indexed header value is cut below 880 bytes.
    let md = maildata_of(&support::corpus::corpus_file("28-long-subject.eml"));
    assert!(md.subject.len() >= 2048);
    let indexed = md
        .headers
        .iter()
        .find(|h| h.key == "subject")
        .expect("subject indexed");
    assert!(indexed.value.len() < 880);
}

#[test]
fn every_corpus_message_extracts_without_panic() {
    for (name, raw) in corpus() {
        let md = maildata_of(&raw);
        assert!(!md.msgid.is_empty(), "{name}");
        assert!(md.intro.chars().count() <= 129, "{name}");
        assert!(md.text.chars().count() <= 1024, "{name}");
        let html_bytes: usize = md.html.iter().map(String::len).sum();
        assert!(html_bytes <= 640 * 1024, "{name}");
        for h in &md.headers {
            assert_eq!(h.key, h.key.to_lowercase(), "{name}");
            assert_eq!(h.value, h.value.to_lowercase(), "{name}");
        }
    }
}

#[test]
fn large_attachment_is_listed_not_read_as_text() {
    let raw = large_attachment_message(3 * 1024 * 1024);
    let md = maildata_of(&raw);
    assert_eq!(md.attachments.len(), 1);
    let a = &md.attachments[0];
    assert_eq!(a.filename, "archive.bin");
    // 76-character lines: WildDuck's estimate is exact up to rounding.
    assert!((3071..=3073).contains(&a.size_kb), "{}", a.size_kb);
    assert_eq!(md.text, "The archive is attached.");
}
