//! Parser: every command's valid forms and the refusals (no transcripts, no sockets).

use wildduck_core::message::section::{SectionKind, SectionSpec};
use wildduck_core::model::{Flag, ModSeq, Timestamp, Uid, UidSet};
use wildduck_core::search::{EntryType, ModSeqEntry, SearchDate, SearchKey};
use wildduck_imap::proto::*;

fn parse_opts(input: &[u8], utf8: bool) -> Result<Command, ParseError> {
    // Go through the framer so literals are in their normalised form.
    let mut framer = Framer::default();
    framer.feed(input);
    framer.feed(b"\r\n");
    let mut frames = Vec::new();
    loop {
        match framer.next_event() {
            FramerEvent::NeedMore => break,
            FramerEvent::Frame(f) => frames.push(f),
            FramerEvent::Continue => {}
            other => panic!("unexpected framer event {other:?}"),
        }
    }
    assert_eq!(frames.len(), 1, "{frames:?}");
    parse_command(&frames[0], &ParseOptions { utf8_accept: utf8 })
}

fn parse(input: &str) -> Command {
    match parse_opts(input.as_bytes(), false) {
        Ok(c) => c,
        Err(e) => panic!("{input:?} refused: {e:?}"),
    }
}

fn body(input: &str) -> CommandBody {
    let c = parse(input);
    assert_eq!(c.tag, "t");
    c.body
}

fn bad(input: &str) -> ParseError {
    match parse_opts(input.as_bytes(), false) {
        Ok(c) => panic!("{input:?} accepted as {c:?}"),
        Err(e) => e,
    }
}

fn seq(ranges: &[(SeqNum, SeqNum)]) -> SequenceSet {
    SequenceSet(ranges.to_vec())
}

use SeqNum::{Star, Value as V};

#[test]
fn simple_commands() {
    for (text, want) in [
        ("t CAPABILITY", CommandBody::Capability),
        ("t noop", CommandBody::Noop),
        ("t LOGOUT", CommandBody::Logout),
        ("t STARTTLS", CommandBody::StartTls),
        ("t NAMESPACE", CommandBody::Namespace),
        ("t CHECK", CommandBody::Check),
        ("t CLOSE", CommandBody::Close),
        ("t UNSELECT", CommandBody::Unselect),
        ("t EXPUNGE", CommandBody::Expunge { uids: None }),
        ("t IDLE", CommandBody::Idle),
        ("t NOOP ", CommandBody::Noop),
    ] {
        assert_eq!(body(text), want, "{text}");
    }
    assert_eq!(bad("t NOOP extra").kind, ParseErrorKind::Syntax);
    assert_eq!(bad("t NOOP extra").tag.as_deref(), Some("t"));
}

#[test]
fn tags_and_unknown_commands() {
    let e = bad("t FROBNICATE x");
    assert_eq!(e.kind, ParseErrorKind::UnknownCommand);
    assert_eq!(e.message, "Unknown command: FROBNICATE");
    assert_eq!(e.tag.as_deref(), Some("t"));
    let e = bad("t UID FROB 1");
    assert_eq!(e.kind, ParseErrorKind::UnknownCommand);
    let e = bad("");
    assert_eq!((e.kind, e.tag), (ParseErrorKind::InvalidTag, None));
    let e = bad("a+b NOOP");
    assert_eq!((e.kind, e.tag), (ParseErrorKind::InvalidTag, None));
    let e = bad("tagonly");
    assert_eq!(e.kind, ParseErrorKind::InvalidTag);
    assert_eq!(e.tag.as_deref(), Some("tagonly"));
    assert_eq!(parse("A001.x NOOP").tag, "A001.x");
    assert_eq!(parse("t uid fetch 1 UID").name(), "UID FETCH");
}

#[test]
fn login_forms() {
    let want = CommandBody::Login {
        username: "user".into(),
        password: "p a\"ss".into(),
    };
    assert_eq!(body(r#"t LOGIN user "p a\"ss""#), want);
    assert_eq!(
        parse_opts(b"t LOGIN {4}\r\nuser {6}\r\np a\"ss", false)
            .unwrap()
            .body,
        want
    );
    assert_eq!(
        body("t LOGIN \"j\u{fc}rgen\" pw"),
        CommandBody::Login {
            username: "j\u{fc}rgen".into(),
            password: "pw".into()
        }
    );
    bad("t LOGIN user");
    bad("t LOGIN user pass extra");
    bad("t LOGIN \"unterminated pass");
    bad("t LOGIN (user) pass");
    assert!(parse_opts(b"t LOGIN \"\xff\" pw", false).is_err());
}

#[test]
fn authenticate_with_and_without_initial_response() {
    assert_eq!(
        body("t AUTHENTICATE plain"),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: None
        }
    );
    assert_eq!(
        body("t AUTHENTICATE PLAIN AHVzZXIAcGFzcw=="),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: Some(b"\0user\0pass".to_vec())
        }
    );
    assert_eq!(
        body("t AUTHENTICATE PLAIN ="),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: Some(Vec::new())
        }
    );
    bad("t AUTHENTICATE PLAIN !!!");
    bad("t AUTHENTICATE");
    bad("t AUTHENTICATE PLAIN abc def");

    let p = decode_sasl_plain(b"AHVzZXIAcGFzcw==", true, false).unwrap();
    assert_eq!((p.username.as_str(), p.password.as_str()), ("user", "pass"));
    assert_eq!(p.authzid, "");
    let p = decode_sasl_plain(b"admin\0user\0pass\0tok", false, true).unwrap();
    assert_eq!(p.client_token.as_deref(), Some("tok"));
    assert!(decode_sasl_plain(b"user\0pass", false, false).is_err());
    assert!(decode_sasl_plain(b"a\0u\0p\0t", false, false).is_err());
    assert!(decode_sasl_plain(b"\0\0pass", false, false).is_err());
    assert!(decode_sasl_plain(b"%%%", true, false).is_err());
}

#[test]
fn id_enable_compress() {
    assert_eq!(body("t ID NIL"), CommandBody::Id(None));
    assert_eq!(
        body(r#"t ID ("name" "Thunderbird" "version" NIL)"#),
        CommandBody::Id(Some(vec![
            ("name".into(), Some("Thunderbird".into())),
            ("version".into(), None)
        ]))
    );
    assert_eq!(body("t ID ()"), CommandBody::Id(Some(vec![])));
    bad("t ID");
    bad("t ID (\"name\")");
    bad("t ID foo");
    assert_eq!(
        body("t ENABLE condstore UTF8=ACCEPT X-UNKNOWN"),
        CommandBody::Enable(vec![
            "CONDSTORE".into(),
            "UTF8=ACCEPT".into(),
            "X-UNKNOWN".into()
        ])
    );
    bad("t ENABLE");
    assert_eq!(
        body("t COMPRESS deflate"),
        CommandBody::Compress {
            mechanism: "DEFLATE".into()
        }
    );
    bad("t COMPRESS");
}

#[test]
fn select_examine() {
    assert_eq!(
        body("t SELECT inbox"),
        CommandBody::Select {
            mailbox: "INBOX".into(),
            read_only: false,
            condstore: false
        }
    );
    assert_eq!(
        body("t EXAMINE \"Inbox/Sub\" (CONDSTORE)"),
        CommandBody::Select {
            mailbox: "INBOX/Sub".into(),
            read_only: true,
            condstore: true
        }
    );
    assert_eq!(parse("t EXAMINE x").name(), "EXAMINE");
    bad("t SELECT");
    bad("t SELECT INBOX (QRESYNC (1 2))");
    bad("t SELECT INBOX CONDSTORE");
}

#[test]
fn mailbox_names_utf7_and_utf8() {
    assert_eq!(
        body("t CREATE &ZeVnLIqe-/&AOk-t&AOk-"),
        CommandBody::Create {
            mailbox: "\u{65e5}\u{672c}\u{8a9e}/\u{e9}t\u{e9}".into()
        }
    );
    assert_eq!(
        body("t CREATE Parent/"),
        CommandBody::Create {
            mailbox: "Parent/".into()
        }
    );
    assert_eq!(
        body("t DELETE \"/Trash/\""),
        CommandBody::Delete {
            mailbox: "Trash".into()
        }
    );
    let e = bad("t SELECT &Jjo!");
    assert_eq!(e.kind, ParseErrorKind::InvalidMailboxName);
    assert_eq!(e.tag.as_deref(), Some("t"));
    assert_eq!(
        bad("t SELECT &AGE-").kind,
        ParseErrorKind::InvalidMailboxName
    );
    // With UTF8=ACCEPT the name is taken as UTF-8: `&` is just a character.
    let c = parse_opts("t SELECT \"Caf\u{e9} &Jjo!\"".as_bytes(), true).unwrap();
    assert_eq!(
        c.body,
        CommandBody::Select {
            mailbox: "Caf\u{e9} &Jjo!".into(),
            read_only: false,
            condstore: false
        }
    );
    assert!(parse_opts(b"t SELECT \"\xc3\"", true).is_err());
    bad("t CREATE x USE (\\Drafts)");
}

#[test]
fn rename_subscribe_quota() {
    assert_eq!(
        body("t RENAME a \"b c\""),
        CommandBody::Rename {
            from: "a".into(),
            to: "b c".into()
        }
    );
    bad("t RENAME a");
    assert_eq!(
        body("t SUBSCRIBE Sent"),
        CommandBody::Subscribe {
            mailbox: "Sent".into()
        }
    );
    assert_eq!(
        body("t UNSUBSCRIBE Sent"),
        CommandBody::Unsubscribe {
            mailbox: "Sent".into()
        }
    );
    assert_eq!(
        body("t GETQUOTA \"\""),
        CommandBody::GetQuota { root: "".into() }
    );
    assert_eq!(
        body("t GETQUOTAROOT INBOX"),
        CommandBody::GetQuotaRoot {
            mailbox: "INBOX".into()
        }
    );
    assert_eq!(
        body("t SETQUOTA \"\" (storage 512)"),
        CommandBody::SetQuota {
            root: "".into(),
            limits: vec![("STORAGE".into(), 512)]
        }
    );
    bad("t SETQUOTA \"\" (STORAGE)");
    bad("t GETQUOTA");
}

#[test]
fn list_forms() {
    let list = |c: CommandBody| match c {
        CommandBody::List(l) => l,
        other => panic!("{other:?}"),
    };
    let l = list(body("t LIST \"\" *"));
    assert_eq!(l.kind, ListKind::List);
    assert_eq!(
        (l.reference.as_str(), l.patterns.clone()),
        ("", vec!["*".to_string()])
    );
    assert!(l.selection.is_empty() && l.returns.is_empty());

    let l = list(body("t LIST (SPECIAL-USE) \"\" \"%\" RETURN (SPECIAL-USE)"));
    assert_eq!(l.selection, vec![ListSelect::SpecialUse]);
    assert_eq!(l.returns, vec![ListReturn::SpecialUse]);

    let l = list(body(
        "t LIST (subscribed recursivematch) \"\" (INBOX \"Sent*\") RETURN (CHILDREN SUBSCRIBED)",
    ));
    assert_eq!(
        l.selection,
        vec![ListSelect::Subscribed, ListSelect::RecursiveMatch]
    );
    assert_eq!(l.patterns, vec!["INBOX".to_string(), "Sent*".to_string()]);
    assert_eq!(
        l.returns,
        vec![ListReturn::Children, ListReturn::Subscribed]
    );

    let l = list(body("t LIST \"\" \"\""));
    assert_eq!(l.patterns, vec![String::new()]);

    let l = list(body("t XLIST \"\" %/&AOk-*"));
    assert_eq!(l.kind, ListKind::Xlist);
    assert_eq!(l.patterns, vec!["%/\u{e9}*".to_string()]);

    let l = list(body("t LSUB \"\" *"));
    assert_eq!(l.kind, ListKind::Lsub);

    bad("t LIST");
    bad("t LIST \"\"");
    bad("t LIST (FOO) \"\" *");
    bad("t LIST \"\" * RETURN (STATUS (MESSAGES))");
    bad("t LIST \"\" * EXTRA (SPECIAL-USE)");
    bad("t LSUB (SPECIAL-USE) \"\" *");
    bad("t LIST \"\" &Jjo!");
}

#[test]
fn status_items() {
    assert_eq!(
        body("t STATUS INBOX (MESSAGES recent UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"),
        CommandBody::Status {
            mailbox: "INBOX".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::HighestModSeq
            ]
        }
    );
    bad("t STATUS INBOX (SIZE)");
    bad("t STATUS INBOX ()");
    bad("t STATUS INBOX MESSAGES");
    bad("t STATUS INBOX");
}

#[test]
fn append_forms() {
    let append = |c: Result<Command, ParseError>| match c.unwrap().body {
        CommandBody::Append(a) => a,
        other => panic!("{other:?}"),
    };
    let a = append(parse_opts(b"t APPEND INBOX {5}\r\nhello", false));
    assert_eq!(a.mailbox, "INBOX");
    assert_eq!(a.message, AppendData::Inline(b"hello".to_vec()));
    assert!(a.flags.is_empty() && a.date.is_none() && !a.utf8);

    let a = append(parse_opts(
        b"t APPEND Sent (\\seen $Label1 \\SEEN) \" 4-Jul-2025 10:11:12 +0200\" {3+}\r\nabc",
        false,
    ));
    assert_eq!(a.flags, vec![Flag::Seen, Flag::Keyword("$Label1".into())]);
    // 2025-07-04 08:11:12 UTC
    assert_eq!(a.date, Some(Timestamp(1_751_616_672_000)));

    let a = append(parse_opts(
        b"t APPEND Sent \"04-Jul-2025 10:11:12 -0000\" UTF8 ({2}\r\nhi)",
        false,
    ));
    assert!(a.utf8);
    assert_eq!(a.message, AppendData::Inline(b"hi".to_vec()));
    assert_eq!(a.date, Some(Timestamp(1_751_623_872_000)));

    let a = append(parse_opts(b"t APPEND INBOX () {0}\r\n", false));
    assert!(a.message.is_empty());

    for bad_input in [
        &b"t APPEND INBOX"[..],
        b"t APPEND INBOX hello",
        b"t APPEND INBOX \"hello\"",
        b"t APPEND INBOX (\\Recent) {1}\r\nx",
        b"t APPEND INBOX (\\Foo) {1}\r\nx",
        b"t APPEND INBOX \"31-Feb-2025 10:11:12 +0000\" {1}\r\nx",
        b"t APPEND INBOX \"01-Feb-2025 25:11:12 +0000\" {1}\r\nx",
        b"t APPEND INBOX \"01-Foo-2025 10:11:12 +0000\" {1}\r\nx",
        b"t APPEND INBOX \"01-Feb-2025 10:11:12\" {1}\r\nx",
        b"t APPEND INBOX {1}\r\nx {1}\r\ny",
        b"t APPEND INBOX UTF8 {1}\r\nx",
        b"t APPEND INBOX UTF8 ({1}\r\nx",
    ] {
        assert!(
            parse_opts(bad_input, false).is_err(),
            "{}",
            String::from_utf8_lossy(bad_input)
        );
    }
}

#[test]
fn append_streamed_literal() {
    let mut framer = Framer::default();
    framer.feed(b"t APPEND INBOX (\\Draft) {4000}\r\n");
    assert_eq!(
        framer.next_event(),
        FramerEvent::LiteralStart {
            size: 4000,
            continuation: true
        }
    );
    framer.feed(&[b'x'; 4000]);
    framer.feed(b"\r\n");
    let mut data = 0;
    let frame = loop {
        match framer.next_event() {
            FramerEvent::LiteralData(d) => data += d.len(),
            FramerEvent::Frame(f) => break f,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(data, 4000);
    let c = parse_command(&frame, &ParseOptions::default()).unwrap();
    match c.body {
        CommandBody::Append(a) => {
            assert_eq!(a.message, AppendData::Streamed { size: 4000 });
            assert_eq!(a.flags, vec![Flag::Draft]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn store_forms() {
    let store = |s: &str| match body(s) {
        CommandBody::Store(st) => st,
        other => panic!("{other:?}"),
    };
    let s = store("t STORE 1:3,5 +FLAGS (\\Flagged \\Answered)");
    assert_eq!(s.set, seq(&[(V(1), V(3)), (V(5), V(5))]));
    assert_eq!(
        (s.action, s.silent, s.uid),
        (StoreAction::Add, false, false)
    );
    assert_eq!(s.flags, vec![Flag::Flagged, Flag::Answered]);
    assert_eq!(s.unchanged_since, None);

    let s = store("t STORE 1 -flags.silent \\Deleted Junk");
    assert_eq!((s.action, s.silent), (StoreAction::Remove, true));
    assert_eq!(s.flags, vec![Flag::Deleted, Flag::Keyword("Junk".into())]);

    let s = store("t STORE * (UNCHANGEDSINCE 12345) FLAGS ()");
    assert_eq!(s.set, seq(&[(Star, Star)]));
    assert_eq!(
        (s.action, s.unchanged_since),
        (StoreAction::Replace, Some(12345))
    );
    assert!(s.flags.is_empty());

    match body("t UID STORE 4:* FLAGS.SILENT (\\Seen)") {
        CommandBody::Store(s) => {
            assert!(s.uid && s.silent);
            assert_eq!(s.set, seq(&[(V(4), Star)]));
        }
        other => panic!("{other:?}"),
    }
    bad("t STORE 1 +FLAGS");
    bad("t STORE 1 FLAGS (\\Recent)");
    bad("t STORE 1 X-GM-LABELS (a)");
    bad("t STORE 0 FLAGS (\\Seen)");
    bad("t STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)");
    bad("t STORE 1 (FOO 1) FLAGS (\\Seen)");
    bad("t STORE 1 FLAGS (\\Seen");
    bad("t STORE a FLAGS (\\Seen)");
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        body("t COPY 1:2 Trash"),
        CommandBody::Copy {
            uid: false,
            set: seq(&[(V(1), V(2))]),
            mailbox: "Trash".into()
        }
    );
    assert_eq!(
        body("t UID MOVE 7,9:* \"Junk\""),
        CommandBody::Move {
            uid: true,
            set: seq(&[(V(7), V(7)), (V(9), Star)]),
            mailbox: "Junk".into()
        }
    );
    assert_eq!(parse("t UID COPY 1 x").name(), "UID COPY");
    assert_eq!(
        body("t UID EXPUNGE 3:5"),
        CommandBody::Expunge {
            uids: Some(seq(&[(V(3), V(5))]))
        }
    );
    bad("t COPY 1:2");
    bad("t MOVE Trash");
    bad("t UID EXPUNGE");
    bad("t COPY 1: Trash");
    bad("t COPY 1,,2 Trash");
    bad("t COPY $ Trash");
}

fn fetch(s: &str) -> FetchCommand {
    match body(s) {
        CommandBody::Fetch(f) => f,
        other => panic!("{other:?}"),
    }
}

fn section(part: &[u32], kind: SectionKind) -> SectionSpec {
    SectionSpec {
        part: part.to_vec(),
        kind,
    }
}

#[test]
fn fetch_macros_and_simple_items() {
    use FetchItem as F;
    assert_eq!(
        fetch("t FETCH 1:* ALL").items,
        vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
    );
    assert_eq!(
        fetch("t FETCH 1 fast").items,
        vec![F::Flags, F::InternalDate, F::Rfc822Size]
    );
    assert_eq!(
        fetch("t FETCH 1 FULL").items,
        vec![
            F::Flags,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::Body
        ]
    );
    assert_eq!(fetch("t FETCH 1 flags").items, vec![F::Flags]);
    assert_eq!(fetch("t FETCH 1 BODY").items, vec![F::Body]);
    let f = fetch(
        "t UID FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)",
    );
    assert!(f.uid);
    assert_eq!(
        f.items,
        vec![
            F::Flags,
            F::Uid,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::BodyStructure,
            F::Body,
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Text,
            F::ModSeq
        ]
    );
    assert!(F::Rfc822.sets_seen() && F::Rfc822Text.sets_seen() && !F::Rfc822Header.sets_seen());
    assert!(!F::Flags.needs_content() && F::Rfc822Header.needs_content());
}

#[test]
fn fetch_sections() {
    use FetchItem as F;
    let f = fetch(
        "t FETCH 1 (BODY[] BODY.PEEK[HEADER.FIELDS (SUBJECT from)] BODY[TEXT]<0.64> BODY[2.MIME] BODY.PEEK[1.2.HEADER] BODY[1.2] BODY[3.HEADER.FIELDS.NOT (X-A \"X-B\")] BODY[]<5> BODY[4.TEXT])",
    );
    assert_eq!(
        f.items,
        vec![
            F::BodySection {
                section: section(&[], SectionKind::Full),
                partial: None,
                peek: false
            },
            F::BodySection {
                section: section(
                    &[],
                    SectionKind::HeaderFields(vec!["SUBJECT".into(), "from".into()])
                ),
                partial: None,
                peek: true
            },
            F::BodySection {
                section: section(&[], SectionKind::Text),
                partial: Some(Partial {
                    offset: 0,
                    length: Some(64)
                }),
                peek: false
            },
            F::BodySection {
                section: section(&[2], SectionKind::Mime),
                partial: None,
                peek: false
            },
            F::BodySection {
                section: section(&[1, 2], SectionKind::Header),
                partial: None,
                peek: true
            },
            F::BodySection {
                section: section(&[1, 2], SectionKind::Full),
                partial: None,
                peek: false
            },
            F::BodySection {
                section: section(
                    &[3],
                    SectionKind::HeaderFieldsNot(vec!["X-A".into(), "X-B".into()])
                ),
                partial: None,
                peek: false
            },
            F::BodySection {
                section: section(&[], SectionKind::Full),
                partial: Some(Partial {
                    offset: 5,
                    length: None
                }),
                peek: false
            },
            F::BodySection {
                section: section(&[4], SectionKind::Text),
                partial: None,
                peek: false
            },
        ]
    );
    assert!(f.items[0].sets_seen() && !f.items[1].sets_seen());
    // A single non-macro item without parentheses.
    assert_eq!(
        fetch("t FETCH 2 BODY.PEEK[1]").items,
        vec![F::BodySection {
            section: section(&[1], SectionKind::Full),
            partial: None,
            peek: true
        }]
    );
}

#[test]
fn fetch_changedsince_and_refusals() {
    let f = fetch("t FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)");
    assert_eq!(f.changed_since, Some(12345));
    let f = fetch("t UID FETCH 1:* FLAGS (changedsince 1)");
    assert_eq!(f.changed_since, Some(1));
    for input in [
        "t FETCH 1:* (FLAGS) (VANISHED)",
        "t FETCH 1:* (FLAGS) (CHANGEDSINCE)",
        "t FETCH 1:* (FLAGS) (CHANGEDSINCE x)",
        "t FETCH 1 BINARY.PEEK[1.1]",
        "t FETCH 1 (BINARY[1])",
        "t FETCH 1 (BODY[MIME])",
        "t FETCH 1 (BODY[0])",
        "t FETCH 1 (BODY[1.])",
        "t FETCH 1 (BODY[HEADER.FIELDS ()])",
        "t FETCH 1 (BODY[HEADER.FIELDS])",
        "t FETCH 1 (BODY[TEXT]<0.0>)",
        "t FETCH 1 (BODY[TEXT]<a>)",
        "t FETCH 1 (BODY[TEXT]",
        "t FETCH 1 (BODY[TEXT)",
        "t FETCH 1 (FLAGS",
        "t FETCH 1 ()",
        "t FETCH 1 FOO",
        "t FETCH 1 (FLAGS[1])",
        "t FETCH 1",
        "t FETCH FLAGS",
        "t FETCH 1 ALL FAST",
    ] {
        let e = bad(input);
        assert_eq!(e.tag.as_deref(), Some("t"), "{input}");
        assert_eq!(e.kind, ParseErrorKind::Syntax, "{input}");
    }
    assert_eq!(
        bad("t FETCH 1 BINARY.PEEK[1.1]").message,
        "Invalid message data item BINARY.PEEK for FETCH"
    );
}

fn search(s: &str) -> (bool, Option<String>, SearchQuery) {
    match body(s) {
        CommandBody::Search {
            uid,
            charset,
            query,
        } => (uid, charset, query),
        other => panic!("{other:?}"),
    }
}

fn key(k: SearchKey) -> SearchQuery {
    SearchQuery::Key(k)
}

#[test]
fn search_every_key() {
    let d = |y, m, day| SearchDate::new(y, m, day).unwrap();
    let cases: Vec<(&str, SearchQuery)> = vec![
        ("ALL", key(SearchKey::All)),
        ("answered", key(SearchKey::Answered)),
        ("UNANSWERED", key(SearchKey::Unanswered)),
        ("DELETED", key(SearchKey::Deleted)),
        ("UNDELETED", key(SearchKey::Undeleted)),
        ("DRAFT", key(SearchKey::Draft)),
        ("UNDRAFT", key(SearchKey::Undraft)),
        ("FLAGGED", key(SearchKey::Flagged)),
        ("UNFLAGGED", key(SearchKey::Unflagged)),
        ("SEEN", key(SearchKey::Seen)),
        ("UNSEEN", key(SearchKey::Unseen)),
        ("RECENT", key(SearchKey::Recent)),
        ("NEW", key(SearchKey::New)),
        ("OLD", key(SearchKey::Old)),
        ("KEYWORD $Label1", key(SearchKey::Keyword("$Label1".into()))),
        ("UNKEYWORD Junk", key(SearchKey::Unkeyword("Junk".into()))),
        ("FROM alice", key(SearchKey::From("alice".into()))),
        ("TO \"bob smith\"", key(SearchKey::To("bob smith".into()))),
        ("CC c", key(SearchKey::Cc("c".into()))),
        ("BCC b", key(SearchKey::Bcc("b".into()))),
        ("SUBJECT \"\"", key(SearchKey::Subject(String::new()))),
        ("BODY {4}\r\nbody", key(SearchKey::Body("body".into()))),
        ("TEXT t\u{e9}xt", key(SearchKey::Text("t\u{e9}xt".into()))),
        (
            "HEADER X-Mailer \"\"",
            key(SearchKey::Header("X-Mailer".into(), String::new())),
        ),
        ("BEFORE 1-Feb-1994", key(SearchKey::Before(d(1994, 2, 1)))),
        ("ON \"01-feb-1994\"", key(SearchKey::On(d(1994, 2, 1)))),
        ("SINCE 29-Feb-2024", key(SearchKey::Since(d(2024, 2, 29)))),
        (
            "SENTBEFORE 1-Jan-2020",
            key(SearchKey::SentBefore(d(2020, 1, 1))),
        ),
        ("SENTON 1-Jan-2020", key(SearchKey::SentOn(d(2020, 1, 1)))),
        (
            "SENTSINCE 1-Jan-2020",
            key(SearchKey::SentSince(d(2020, 1, 1))),
        ),
        ("LARGER 1000", key(SearchKey::Larger(1000))),
        ("SMALLER 5000000000", key(SearchKey::Smaller(5_000_000_000))),
        ("OLDER 3600", key(SearchKey::Older(3600))),
        ("YOUNGER 60", key(SearchKey::Younger(60))),
        ("MODSEQ 620162338", key(SearchKey::modseq(620_162_338))),
        (
            "MODSEQ \"/flags/\\\\draft\" all 620162338",
            key(SearchKey::ModSeq {
                entry: Some(ModSeqEntry {
                    name: "/flags/\\draft".into(),
                    kind: EntryType::All,
                }),
                modseq: ModSeq(620_162_338),
            }),
        ),
        ("UID 1:*", SearchQuery::Uid(seq(&[(V(1), Star)]))),
        (
            "2,4:6",
            SearchQuery::Seq(seq(&[(V(2), V(2)), (V(4), V(6))])),
        ),
        ("NOT SEEN", SearchQuery::Not(Box::new(key(SearchKey::Seen)))),
        (
            "OR FLAGGED SEEN",
            SearchQuery::Or(
                Box::new(key(SearchKey::Flagged)),
                Box::new(key(SearchKey::Seen)),
            ),
        ),
        (
            "(SEEN FLAGGED)",
            SearchQuery::And(vec![key(SearchKey::Seen), key(SearchKey::Flagged)]),
        ),
    ];
    for (text, want) in cases {
        let (_, _, q) = search(&format!("t SEARCH {text}"));
        assert_eq!(q, want, "{text}");
    }
}

#[test]
fn search_structure_charset_and_resolution() {
    let (uid, charset, q) =
        search("t UID SEARCH CHARSET utf-8 OR (FROM a NOT TO b) (UID 3:* 1:2) NOT (SEEN) MODSEQ 5");
    assert!(uid);
    assert_eq!(charset.as_deref(), Some("UTF-8"));
    assert!(q.uses_modseq());
    let uids = [Uid(10), Uid(20), Uid(30)];
    let resolved = q.resolve(&uids);
    assert_eq!(
        resolved,
        SearchKey::And(vec![
            SearchKey::Or(
                Box::new(SearchKey::And(vec![
                    SearchKey::From("a".into()),
                    SearchKey::To("b".into()).negate(),
                ])),
                Box::new(SearchKey::And(vec![
                    // UID 3:* with largest UID 30.
                    SearchKey::Uids(UidSet::range(3, 30)),
                    // Sequence numbers 1:2 → UIDs 10 and 20.
                    SearchKey::Uids(UidSet::from_ranges([(10, 10), (20, 20)])),
                ])),
            ),
            SearchKey::And(vec![SearchKey::Seen]).negate(),
            SearchKey::modseq(5),
        ])
    );
    let (_, _, q) = search("t SEARCH ALL");
    assert!(!q.uses_modseq());
}

#[test]
fn search_refusals() {
    for input in [
        "t SEARCH",
        "t SEARCH FOO",
        "t SEARCH FROM",
        "t SEARCH BEFORE 32-Jan-2020",
        "t SEARCH BEFORE 1-Jan-20",
        "t SEARCH ON 2020-01-01",
        "t SEARCH LARGER x",
        "t SEARCH OLDER 0",
        "t SEARCH OR SEEN",
        "t SEARCH NOT",
        "t SEARCH (SEEN",
        "t SEARCH ()",
        "t SEARCH UID",
        "t SEARCH 0:4",
        "t SEARCH ALL CHARSET UTF-8",
        "t SEARCH CHARSET",
        "t SEARCH CHARSET UTF-8",
        "t SEARCH MODSEQ \"/flags/x\" bogus 5",
        "t SEARCH HEADER \"\" x",
        "t SEARCH $",
    ] {
        let e = bad(input);
        assert_eq!(e.kind, ParseErrorKind::Syntax, "{input}");
        assert_eq!(e.tag.as_deref(), Some("t"), "{input}");
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("t SEARCH {}SEEN", "NOT ".repeat(2000));
    assert!(parse_opts(deep.as_bytes(), false).is_err());
    let deep = format!("t SEARCH {}SEEN{}", "(".repeat(2000), ")".repeat(2000));
    assert!(parse_opts(deep.as_bytes(), false).is_err());
    let ok = format!("t SEARCH {}SEEN", "NOT ".repeat(20));
    assert!(parse_opts(ok.as_bytes(), false).is_ok());
}

#[test]
fn sequence_set_resolution() {
    let uids = [Uid(3), Uid(5), Uid(9), Uid(12)];
    let s = seq(&[(V(2), V(3)), (Star, Star)]);
    assert_eq!(
        s.resolve_seq(&uids),
        UidSet::from_ranges([(5, 5), (9, 9), (12, 12)])
    );
    // Sequence numbers beyond the mailbox are dropped; reversed ranges work.
    assert_eq!(
        seq(&[(V(9), V(3))]).resolve_seq(&uids),
        UidSet::from_ranges([(9, 9), (12, 12)])
    );
    assert_eq!(seq(&[(V(7), V(9))]).resolve_seq(&uids), UidSet::new());
    assert_eq!(seq(&[(V(1), Star)]).resolve_seq(&[]), UidSet::new());
    // UID `*` is the largest UID; `100:*` includes the last message.
    assert_eq!(
        seq(&[(V(100), Star)]).resolve_uid(&uids),
        UidSet::range(12, 100)
    );
    assert_eq!(
        seq(&[(V(4), V(6))]).resolve(true, &uids),
        UidSet::range(4, 6)
    );
    assert_eq!(seq(&[(V(1), Star)]).resolve_uid(&[]), UidSet::new());
    assert_eq!(seq(&[(V(2), V(2))]).resolve_uid(&[]), UidSet::range(2, 2));
}

#[test]
fn xapplepushservice() {
    assert_eq!(
        body(
            "t XAPPLEPUSHSERVICE aps-version 2 aps-account-id 0715A26B aps-device-token 2918390218931890821908309283098109381029309829018310983092892829 aps-subtopic com.apple.mobilemail mailboxes (INBOX \"Notes\")"
        ),
        CommandBody::XApplePushService(ApplePush {
            version: Some("2".into()),
            account_id: Some("0715A26B".into()),
            device_token: Some(
                "2918390218931890821908309283098109381029309829018310983092892829".into()
            ),
            subtopic: Some("com.apple.mobilemail".into()),
            mailboxes: vec!["INBOX".into(), "Notes".into()],
        })
    );
    bad("t XAPPLEPUSHSERVICE aps-foo 1");
}

#[test]
fn idle_done_detection() {
    assert!(is_idle_done(&Frame::from_bytes("done")));
    assert!(is_idle_done(&Frame::from_bytes("DONE ")));
    assert!(!is_idle_done(&Frame::from_bytes("t NOOP")));
    assert_eq!(Frame::from_bytes("abc").as_line(), Some("abc"));
    assert_eq!(Frame::from_bytes("a {1}\r\nb").as_line(), None);
}

#[test]
fn quoted_string_rules() {
    assert_eq!(
        body(r#"t LOGIN "a\\b" "\"""#),
        CommandBody::Login {
            username: "a\\b".into(),
            password: "\"".into()
        }
    );
    bad(r#"t LOGIN "a\nb" x"#);
    bad("t LOGIN \"a\0b\" x");
}

#[test]
fn overlong_date_fields_are_refused() {
    bad("t SEARCH SINCE 1-Jan-20201");
    bad("t SEARCH SINCE 123-Jan-2020");
    assert!(
        parse_opts(
            b"t APPEND INBOX \"01-Feb-2025 10:11:12 +02000\" {1}\r\nx",
            false
        )
        .is_err()
    );
    assert!(
        parse_opts(
            b"t APPEND INBOX \"01-Feb-2025 10:111:12 +0200\" {1}\r\nx",
            false
        )
        .is_err()
    );
}
