//! FETCH over real sockets: every item and macro, partials, implicit \Seen, CHANGEDSINCE, bad
//! input, and BODY[] byte-exact for the whole corpus.

mod selected_support;

use selected_support::*;
use wildduck_core::message::parse::normalize_line_endings;

async fn setup(kind: Kind, name: &str) -> (Env, Server, Client) {
    let env = env(kind).await;
    let u = user(&env.services, name).await;
    for (i, raw) in fixtures().iter().enumerate() {
        let flags: &[&str] = if i == 0 { &["\\Seen"] } else { &[] };
        append(&env.services, &u, "INBOX", raw, flags).await;
    }
    let server = start(&env.services, config()).await;
    let c = session(server.addr, name, "INBOX").await;
    (env, server, c)
}

#[tokio::test]
async fn fetch_items_sqlite() {
    fetch_items(Kind::Sqlite).await;
}

#[tokio::test]
async fn fetch_items_mongo() {
    fetch_items(Kind::Mongo).await;
}

async fn fetch_items(kind: Kind) {
    let (_env, _server, mut c) = setup(kind, "fetchuser").await;
    let fx = fixtures();

    let r = c.run("FETCH 1:* (FLAGS UID)").await;
    assert_eq!(
        r.text(),
        format!(
            "* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n* 2 FETCH (FLAGS () UID 2)\r\n* 3 FETCH (FLAGS () UID 3)\r\n{}",
            r.tagged
        )
    );
    assert!(
        r.tagged.ends_with(" OK FETCH completed\r\n"),
        "{}",
        r.tagged
    );

    // FAST / ALL / FULL macros.
    let r = c.run("FETCH 1 FAST").await;
    let t = r.text();
    assert!(
        t.starts_with("* 1 FETCH (FLAGS (\\Seen) INTERNALDATE \""),
        "{t}"
    );
    assert!(t.contains(&format!(" RFC822.SIZE {})", fx[0].len())), "{t}");
    let r = c.run("FETCH 1 ALL").await;
    assert!(
        r.text().contains("ENVELOPE (\"Wed, 04 Jun 2025 08:00:00 +0000\" \"IMAP append one\" ((\"Carol\" NIL \"carol\" \"example.com\"))"),
        "{}",
        r.text()
    );
    let r = c.run("FETCH 1 FULL").await;
    assert!(
        r.text().contains(" BODY (\"TEXT\" \"PLAIN\" "),
        "{}",
        r.text()
    );
    let r = c.run("FETCH 2 BODYSTRUCTURE").await;
    assert!(
        r.text()
            .contains("\"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)"),
        "{}",
        r.text()
    );

    // INTERNALDATE format.
    let r = c.run("FETCH 1 INTERNALDATE").await;
    let t = r.text();
    let date = t.split('"').nth(1).unwrap_or_default().to_string();
    assert_eq!(date.len(), 26, "{date}");
    assert!(date.ends_with(" +0000"), "{date}");

    // BODY.PEEK leaves \Seen alone; partial echoed as <o>.
    let r = c.run("FETCH 2 (BODY.PEEK[]<0.10>)").await;
    assert_eq!(
        r.text(),
        format!(
            "* 2 FETCH (BODY[]<0> {{10}}\r\n{})\r\n{}",
            String::from_utf8_lossy(&fx[1][..10]),
            r.tagged
        )
    );
    let r = c.run("FETCH 2 FLAGS").await;
    assert!(r.text().starts_with("* 2 FETCH (FLAGS ())"), "{}", r.text());

    // Header fields in message order, blank line kept.
    let r = c
        .run("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
        .await;
    assert_eq!(
        literals(&r.raw),
        vec![b"From: Carol <carol@example.com>\r\nSubject: IMAP append one\r\n\r\n".to_vec()]
    );
    assert!(
        r.text()
            .starts_with("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {"),
        "{}",
        r.text()
    );
    let r = c
        .run("FETCH 2 (BODY.PEEK[2.MIME] BODY.PEEK[1] RFC822.HEADER)")
        .await;
    let lits = literals(&r.raw);
    assert_eq!(lits.len(), 3, "{}", r.text());
    assert!(
        lits[0].starts_with(b"Content-Type: application/octet-stream"),
        "{:?}",
        lits[0]
    );
    assert_eq!(lits[1], b"See attached.");
    assert!(lits[2].ends_with(b"\r\n\r\n"));

    // Implicit \Seen on BODY[] with FLAGS in the same answer; UID added for UID FETCH.
    let r = c.run("UID FETCH 3 BODY[TEXT]").await;
    assert_eq!(
        r.text(),
        format!(
            "* 3 FETCH (BODY[TEXT] {{22}}\r\nthird body\r\nline two\r\n FLAGS (\\Seen) UID 3)\r\n{}",
            r.tagged
        )
    );
    let r = c.run("FETCH 3 FLAGS").await;
    assert!(
        r.text().starts_with("* 3 FETCH (FLAGS (\\Seen))"),
        "{}",
        r.text()
    );
    // RFC822 sets \Seen too; RFC822.SIZE matches.
    let r = c.run("FETCH 2 (RFC822 RFC822.SIZE)").await;
    assert_eq!(literals(&r.raw), vec![fx[1].clone()]);
    assert!(
        r.text()
            .contains(&format!("RFC822.SIZE {} FLAGS (\\Seen))", fx[1].len())),
        "{}",
        r.text()
    );

    // MODSEQ and CHANGEDSINCE.
    let r = c.run("FETCH 1:* (UID) (CHANGEDSINCE 1)").await;
    assert_eq!(r.untagged().len(), 3, "{}", r.text());
    assert!(r.text().contains("MODSEQ ("), "{}", r.text());
    let highest: u64 = r
        .untagged()
        .iter()
        .filter_map(|l| l.split("MODSEQ (").nth(1)?.split(')').next()?.parse().ok())
        .max()
        .unwrap_or(0);
    let r = c
        .run(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})"))
        .await;
    assert_eq!(
        r.text(),
        r.tagged,
        "nothing changed since the highest MODSEQ"
    );

    // Out-of-range numbers: nothing, OK; `*` is the last message.
    let r = c.run("FETCH 9 FLAGS").await;
    assert_eq!(r.text(), r.tagged);
    assert!(r.ends_with_ok());
    let r = c.run("UID FETCH 100:200 FLAGS").await;
    assert_eq!(r.text(), r.tagged);
    let r = c.run("UID FETCH * UID").await;
    assert_eq!(r.text(), format!("* 3 FETCH (UID 3)\r\n{}", r.tagged));
    let r = c.run("FETCH 2:* UID").await;
    assert_eq!(r.untagged(), vec!["2 FETCH (UID 2)", "3 FETCH (UID 3)"]);
    // A part that does not exist is empty.
    let r = c.run("FETCH 1 BODY.PEEK[5]").await;
    assert_eq!(
        r.text(),
        format!("* 1 FETCH (BODY[5] {{0}}\r\n)\r\n{}", r.tagged)
    );

    // Bad input.
    for bad in [
        "FETCH 0 FLAGS",
        "FETCH a:b FLAGS",
        "FETCH 1 (FLAGS",
        "FETCH 1 BODY[HEADER.FIELDS ()]",
        "FETCH 1 BODY[1.X]",
        "FETCH 1 BINARY.PEEK[1]",
        "FETCH 1 NOTANITEM",
        "FETCH 1 (FLAGS) (CHANGEDSINCE x)",
    ] {
        let r = c.run(bad).await;
        assert!(r.tagged.contains(" BAD "), "{bad}: {}", r.text());
    }
}

#[tokio::test]
async fn examine_does_not_set_seen_and_empty_mailbox() {
    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "examiner").await;
    append(&env.services, &u, "INBOX", &fixtures()[2], &[]).await;
    let server = start(&env.services, config()).await;
    let mut c = connect(server.addr).await;
    assert!(
        c.run(&format!("LOGIN examiner {PASS}"))
            .await
            .ends_with_ok()
    );
    assert!(c.run("EXAMINE INBOX").await.ends_with_ok());
    let r = c.run("FETCH 1 BODY[]").await;
    assert_eq!(
        r.text(),
        format!(
            "* 1 FETCH (BODY[] {{{}}}\r\n{})\r\n{}",
            fixtures()[2].len(),
            String::from_utf8_lossy(&fixtures()[2]),
            r.tagged
        )
    );
    let r = c.run("FETCH 1 FLAGS").await;
    assert!(r.text().starts_with("* 1 FETCH (FLAGS ())"), "{}", r.text());
    // `*` on an empty mailbox matches nothing.
    assert!(c.run("SELECT Trash").await.ends_with_ok());
    for cmd in [
        "FETCH 1:* FLAGS",
        "FETCH * FLAGS",
        "UID FETCH * FLAGS",
        "UID FETCH 1:* FLAGS",
    ] {
        let r = c.run(cmd).await;
        assert_eq!(r.text(), r.tagged, "{cmd}");
        assert!(r.ends_with_ok(), "{cmd}: {}", r.tagged);
    }
    // FETCH before SELECT.
    assert!(c.run("UNSELECT").await.ends_with_ok());
    let r = c.run("FETCH 1 FLAGS").await;
    assert!(r.tagged.contains(" BAD "), "{}", r.tagged);
}

#[tokio::test]
async fn corpus_body_is_byte_exact() {
    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "corpususer").await;
    let corpus = corpus();
    assert!(corpus.len() >= 40, "corpus has {} messages", corpus.len());
    for (_, raw) in &corpus {
        append(&env.services, &u, "INBOX", raw, &[]).await;
    }
    let server = start(&env.services, config()).await;
    let mut c = session(server.addr, "corpususer", "INBOX").await;
    let r = c.run("UID FETCH 1:* (BODY.PEEK[] RFC822.SIZE)").await;
    assert!(r.ends_with_ok(), "{}", r.tagged);
    let lits = literals(&r.raw);
    assert_eq!(lits.len(), corpus.len());
    // Ingestion normalises bare LF line ends to CRLF; everything else comes back as appended.
    let stored = |raw: &[u8]| normalize_line_endings(raw).into_owned();
    for ((name, raw), got) in corpus.iter().zip(&lits) {
        assert!(
            *got == stored(raw),
            "{name}: BODY[] differs from the appended bytes"
        );
    }
    assert!(r.text().contains("RFC822.SIZE"));
    // One at a time too (the single-message path loads without a metadata query).
    for (i, (name, raw)) in corpus.iter().enumerate().take(10) {
        let r = c.run(&format!("UID FETCH {} BODY.PEEK[]", i + 1)).await;
        assert_eq!(literals(&r.raw), vec![stored(raw)], "{name}");
    }
}
