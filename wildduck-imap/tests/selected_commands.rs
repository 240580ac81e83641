//! STORE, SEARCH, COPY, MOVE, EXPUNGE, CLOSE, UNSELECT and CHECK over real sockets: scripted
//! transcripts with every response code and the bad inputs.

mod selected_support;

use selected_support::*;

async fn setup(kind: Kind, name: &str) -> (Env, Server, Client) {
    let env = env(kind).await;
    let u = user(&env.services, name).await;
    for raw in fixtures() {
        append(&env.services, &u, "INBOX", &raw, &[]).await;
    }
    let server = start(&env.services, config()).await;
    let c = session(server.addr, name, "INBOX").await;
    (env, server, c)
}

fn modseq_of(line: &str) -> u64 {
    line.split("MODSEQ (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn store_sqlite() {
    store(Kind::Sqlite).await;
}

#[tokio::test]
async fn store_mongo() {
    store(Kind::Mongo).await;
}

async fn store(kind: Kind) {
    let (_env, _server, mut c) = setup(kind, "storeuser").await;
    let r = c.run("STORE 1 +FLAGS (\\Flagged \\Answered)").await;
    assert_eq!(
        r.text(),
        format!("* 1 FETCH (FLAGS (\\Flagged \\Answered))\r\n{}", r.tagged)
    );
    assert!(r.tagged.ends_with(" OK STORE completed\r\n"));
    // Silent without CONDSTORE: nothing untagged.
    let r = c.run("STORE 1 -FLAGS.SILENT (\\Answered)").await;
    assert_eq!(r.text(), r.tagged);
    let r = c.run("UID STORE 2:3 FLAGS ($Label1 \\Seen)").await;
    assert_eq!(
        r.untagged(),
        vec![
            "2 FETCH (FLAGS ($Label1 \\Seen) UID 2)",
            "3 FETCH (FLAGS ($Label1 \\Seen) UID 3)"
        ]
    );
    // Nothing changes: no FETCH.
    let r = c.run("STORE 2 +FLAGS (\\Seen)").await;
    assert_eq!(r.text(), r.tagged);
    let r = c.run("FETCH 1:* FLAGS").await;
    assert_eq!(
        r.untagged(),
        vec![
            "1 FETCH (FLAGS (\\Flagged))",
            "2 FETCH (FLAGS ($Label1 \\Seen))",
            "3 FETCH (FLAGS ($Label1 \\Seen))"
        ]
    );

    // CONDSTORE: MODSEQ in the answers, .SILENT still answered, UNCHANGEDSINCE → MODIFIED.
    let r = c.run("FETCH 1:* (MODSEQ)").await;
    let modseqs: Vec<u64> = r.untagged().iter().map(|l| modseq_of(l)).collect();
    assert!(modseqs.iter().all(|m| *m > 0), "{}", r.text());
    let r = c.run("STORE 1 +FLAGS.SILENT (\\Draft)").await;
    let lines = r.untagged();
    assert_eq!(lines.len(), 1, "{}", r.text());
    assert!(
        lines[0].starts_with("1 FETCH (FLAGS (\\Flagged \\Draft) MODSEQ ("),
        "{}",
        lines[0]
    );
    let m1 = modseq_of(&lines[0]);
    assert!(m1 > modseqs[0]);
    // Message 1 changed after modseqs[1]-ish values; 2 and 3 did not change since theirs.
    let since = modseqs[1].max(modseqs[2]);
    let r = c
        .run(&format!(
            "STORE 1:3 (UNCHANGEDSINCE {since}) +FLAGS (\\Deleted)"
        ))
        .await;
    assert!(
        r.tagged
            .ends_with(" OK [MODIFIED 1] Conditional STORE failed\r\n"),
        "{}",
        r.text()
    );
    assert_eq!(r.untagged().len(), 2, "{}", r.text());
    let r = c
        .run(&format!(
            "UID STORE 1 (UNCHANGEDSINCE {m1}) -FLAGS (\\Draft)"
        ))
        .await;
    assert!(
        r.tagged
            .ends_with(" OK Conditional UID STORE completed\r\n"),
        "{}",
        r.text()
    );
    assert!(r.untagged()[0].contains("UID 1 MODSEQ ("), "{}", r.text());
    let r = c
        .run("UID STORE 3 (UNCHANGEDSINCE 1) -FLAGS (\\Deleted)")
        .await;
    assert!(
        r.tagged
            .ends_with(" OK [MODIFIED 3] Conditional UID STORE failed\r\n"),
        "{}",
        r.text()
    );

    // Bad input.
    for bad in [
        "STORE 1 +FLAGS (\\Recent)",
        "STORE 1 +FLAGS (\\Unknown)",
        "STORE 1 XFLAGS (\\Seen)",
        "STORE 0 FLAGS (\\Seen)",
        "STORE 1:x FLAGS (\\Seen)",
        "STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)",
        "STORE 1 +FLAGS (\\Seen",
    ] {
        let r = c.run(bad).await;
        assert!(r.tagged.contains(" BAD "), "{bad}: {}", r.text());
    }
    // Out of range: nothing to do.
    let r = c.run("STORE 10 +FLAGS (\\Seen)").await;
    assert_eq!(r.text(), r.tagged);
    assert!(r.ends_with_ok());

    // EXAMINE: STORE is ignored.
    assert!(c.run("EXAMINE INBOX").await.ends_with_ok());
    let r = c.run("STORE 1 +FLAGS (\\Seen)").await;
    assert!(
        r.tagged
            .ends_with(" OK STORE ignored with read-only mailbox\r\n"),
        "{}",
        r.tagged
    );
}

#[tokio::test]
async fn search_sqlite() {
    search(Kind::Sqlite).await;
}

#[tokio::test]
async fn search_mongo() {
    search(Kind::Mongo).await;
}

async fn search(kind: Kind) {
    let (_env, _server, mut c) = setup(kind, "searchuser").await;
    assert!(c.run("STORE 1 +FLAGS (\\Seen)").await.ends_with_ok());
    assert!(
        c.run("STORE 3 +FLAGS (\\Flagged $Label1)")
            .await
            .ends_with_ok()
    );
    let cases: &[(&str, &str)] = &[
        ("SEARCH ALL", "* SEARCH 1 2 3"),
        ("SEARCH UNSEEN", "* SEARCH 2 3"),
        ("SEARCH SEEN", "* SEARCH 1"),
        ("SEARCH FLAGGED", "* SEARCH 3"),
        ("SEARCH FROM \"nobody\"", "* SEARCH"),
        ("SEARCH SUBJECT \"attachment\"", "* SEARCH 2"),
        ("SEARCH LARGER 400", "* SEARCH 2"),
        ("SEARCH SINCE 1-Jan-2020", "* SEARCH 1 2 3"),
        ("SEARCH KEYWORD $Label1", "* SEARCH 3"),
        ("SEARCH OR FLAGGED SEEN", "* SEARCH 1 3"),
        ("SEARCH NOT DELETED", "* SEARCH 1 2 3"),
        ("SEARCH 2:*", "* SEARCH 2 3"),
        ("SEARCH *", "* SEARCH 3"),
        ("SEARCH UID 2", "* SEARCH 2"),
        ("SEARCH NOT 1", "* SEARCH 2 3"),
        ("SEARCH 5:9", "* SEARCH"),
        ("UID SEARCH ALL", "* SEARCH 1 2 3"),
        ("UID SEARCH 2:3 UNSEEN", "* SEARCH 2 3"),
        ("SEARCH CHARSET UTF-8 SUBJECT \"Third\"", "* SEARCH 3"),
        ("SEARCH YOUNGER 3600", "* SEARCH 1 2 3"),
        ("SEARCH OLDER 3600", "* SEARCH"),
    ];
    for (cmd, want) in cases {
        let r = c.run(cmd).await;
        assert_eq!(r.text(), format!("{want}\r\n{}", r.tagged), "{cmd}");
        assert!(r.ends_with_ok(), "{cmd}");
    }
    // MODSEQ criterion: highest MODSEQ of the matches appended.
    let r = c.run("SEARCH MODSEQ 1").await;
    let t = r.text();
    assert!(t.starts_with("* SEARCH 1 2 3 (MODSEQ "), "{t}");
    let r = c.run("SEARCH MODSEQ 999999").await;
    assert_eq!(r.text(), format!("* SEARCH\r\n{}", r.tagged));
    // Unknown charset.
    let r = c.run("SEARCH CHARSET KOI8-R ALL").await;
    assert!(
        r.tagged.contains(" NO [BADCHARSET (UTF-8)]"),
        "{}",
        r.text()
    );
    for bad in [
        "SEARCH",
        "SEARCH FOO",
        "SEARCH SINCE notadate",
        "SEARCH LARGER x",
        "SEARCH 0",
        "SEARCH OR SEEN",
        "SEARCH (SEEN",
    ] {
        let r = c.run(bad).await;
        assert!(r.tagged.contains(" BAD "), "{bad}: {}", r.text());
    }
    // On an empty mailbox `*` matches nothing.
    assert!(c.run("SELECT Trash").await.ends_with_ok());
    let r = c.run("SEARCH *").await;
    assert_eq!(r.text(), format!("* SEARCH\r\n{}", r.tagged));
    let r = c.run("UID SEARCH 1:*").await;
    assert_eq!(r.text(), format!("* SEARCH\r\n{}", r.tagged));
}

#[tokio::test]
async fn copy_move_expunge_sqlite() {
    copy_move_expunge(Kind::Sqlite).await;
}

#[tokio::test]
async fn copy_move_expunge_mongo() {
    copy_move_expunge(Kind::Mongo).await;
}

async fn copy_move_expunge(kind: Kind) {
    let (_env, _server, mut c) = setup(kind, "copyuser").await;
    let r = c.run("STATUS Trash (UIDVALIDITY)").await;
    let trash_v: String = r
        .text()
        .split("UIDVALIDITY ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_default()
        .to_string();
    let r = c.run("COPY 1:2 Trash").await;
    assert_eq!(
        r.text(),
        format!("t{} OK [COPYUID {trash_v} 1:2 1:2] COPY completed\r\n", 2)
            .replace("t2", r.tagged.split(' ').next().unwrap_or(""))
    );
    let r = c.run("UID COPY 3 Trash").await;
    assert!(
        r.tagged.ends_with(&format!(
            " OK [COPYUID {trash_v} 3 3] UID COPY completed\r\n"
        )),
        "{}",
        r.tagged
    );
    let r = c.run("COPY 1 Nowhere").await;
    assert!(r.tagged.contains(" NO [TRYCREATE] "), "{}", r.tagged);
    let r = c.run("MOVE 1 Nowhere").await;
    assert!(r.tagged.contains(" NO [TRYCREATE] "), "{}", r.tagged);
    let r = c.run("COPY 9 Trash").await;
    assert!(
        r.ends_with_ok() && !r.tagged.contains("COPYUID"),
        "{}",
        r.tagged
    );
    for bad in ["COPY 0 Trash", "COPY 1", "MOVE x Trash", "COPY 1 \"Trash"] {
        let r = c.run(bad).await;
        assert!(r.tagged.contains(" BAD "), "{bad}: {}", r.text());
    }

    // Copy into the selected mailbox itself: the new message is announced.
    let r = c.run("COPY 3 INBOX").await;
    assert_eq!(r.untagged(), vec!["4 EXISTS"], "{}", r.text());
    assert!(r.tagged.contains(" OK [COPYUID "), "{}", r.tagged);

    // MOVE: untagged COPYUID first, then EXPUNGE and EXISTS.
    let r = c.run("STATUS Junk (UIDVALIDITY)").await;
    let junk_v: String = r
        .text()
        .split("UIDVALIDITY ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_default()
        .to_string();
    let r = c.run("MOVE 3 Junk").await;
    assert_eq!(
        r.untagged(),
        vec![
            format!("OK [COPYUID {junk_v} 3 1] Moved"),
            "3 EXPUNGE".to_string(),
            "3 EXISTS".to_string()
        ],
        "{}",
        r.text()
    );
    assert!(
        r.tagged
            .ends_with(&format!(" OK [COPYUID {junk_v} 3 1] MOVE completed\r\n")),
        "{}",
        r.tagged
    );
    // UID MOVE of UID 4 (now message 3).
    let r = c.run("UID MOVE 4 Junk").await;
    assert_eq!(
        r.untagged(),
        vec![
            format!("OK [COPYUID {junk_v} 4 2] Moved"),
            "3 EXPUNGE".to_string(),
            "2 EXISTS".to_string()
        ]
    );
    let r = c.run("UID SEARCH ALL").await;
    assert_eq!(r.text(), format!("* SEARCH 1 2\r\n{}", r.tagged));

    // EXPUNGE: nothing flagged → nothing said.
    let r = c.run("EXPUNGE").await;
    assert_eq!(r.text(), r.tagged);
    assert!(r.tagged.ends_with(" OK EXPUNGE completed\r\n"));
    assert!(
        c.run("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
            .await
            .ends_with_ok()
    );
    // UID EXPUNGE only touches the given UIDs.
    let r = c.run("UID EXPUNGE 2").await;
    assert_eq!(r.untagged(), vec!["2 EXPUNGE", "1 EXISTS"]);
    assert!(r.tagged.ends_with(" OK UID EXPUNGE completed\r\n"));
    let r = c.run("EXPUNGE").await;
    assert_eq!(r.untagged(), vec!["1 EXPUNGE", "0 EXISTS"]);
    let r = c.run("FETCH 1:* FLAGS").await;
    assert_eq!(r.text(), r.tagged);

    // Junk holds the moved messages, byte-exact.
    assert!(c.run("SELECT Junk").await.ends_with_ok());
    let r = c.run("FETCH 1 BODY.PEEK[]").await;
    assert_eq!(literals(&r.raw), vec![fixtures()[2].clone()]);
    // CHECK; UNSELECT keeps \Deleted messages; CLOSE expunges silently.
    let r = c.run("CHECK").await;
    assert!(
        r.tagged.ends_with(" OK CHECK completed\r\n"),
        "{}",
        r.tagged
    );
    assert!(
        c.run("STORE 1 +FLAGS.SILENT (\\Deleted)")
            .await
            .ends_with_ok()
    );
    let r = c.run("UNSELECT").await;
    assert_eq!(r.text(), r.tagged);
    assert!(r.ends_with_ok());
    let r = c.run("FETCH 1 FLAGS").await;
    assert!(r.tagged.contains(" BAD "), "{}", r.tagged);
    let r = c.run("STATUS Junk (MESSAGES)").await;
    assert!(r.text().contains("(MESSAGES 2)"), "{}", r.text());
    // EXAMINE + CLOSE: nothing removed.
    assert!(c.run("EXAMINE Junk").await.ends_with_ok());
    let r = c.run("EXPUNGE").await;
    assert_eq!(r.text(), r.tagged);
    let r = c.run("CLOSE").await;
    assert_eq!(r.text(), r.tagged);
    let r = c.run("STATUS Junk (MESSAGES)").await;
    assert!(r.text().contains("(MESSAGES 2)"), "{}", r.text());
    assert!(c.run("SELECT Junk").await.ends_with_ok());
    let r = c.run("CLOSE").await;
    assert_eq!(r.text(), r.tagged);
    assert!(r.tagged.ends_with(" OK CLOSE completed\r\n"));
    let r = c.run("STATUS Junk (MESSAGES)").await;
    assert!(r.text().contains("(MESSAGES 1)"), "{}", r.text());
    for cmd in [
        "CHECK",
        "CLOSE",
        "UNSELECT",
        "EXPUNGE",
        "SEARCH ALL",
        "COPY 1 INBOX",
    ] {
        let r = c.run(cmd).await;
        assert!(r.tagged.contains(" BAD "), "{cmd}: {}", r.tagged);
    }
}
