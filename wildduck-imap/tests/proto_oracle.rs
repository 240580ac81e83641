//! imap-codec (test oracle only) and our parser must agree on which RFC 3501 commands are valid:
//! every command here is first checked to be accepted by imap-codec, then by us, with the same tag
//! and command name, and the same item/flag counts where both expose them.

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody as OracleBody;
use imap_codec::imap_types::fetch::MacroOrMessageDataItemNames;
use proptest::prelude::*;
use wildduck_imap::proto::{
    CommandBody, Framer, FramerEvent, ParseOptions, SearchQuery, parse_command,
};

const VALID: &[&str] = &[
    "a1 CAPABILITY",
    "a2 NOOP",
    "a3 LOGOUT",
    "a4 LOGIN alice \"s3cr et\"",
    "a5 LOGIN {5}\r\nalice {3}\r\npw!",
    "a6 AUTHENTICATE PLAIN",
    "a7 SELECT INBOX",
    "a8 EXAMINE \"Sent Items\"",
    "a9 CREATE Archive/2024",
    "b1 DELETE Archive",
    "b2 RENAME Old New",
    "b3 SUBSCRIBE News",
    "b4 UNSUBSCRIBE News",
    "b5 LIST \"\" *",
    "b6 LIST ~/Mail %",
    "b7 LSUB \"\" \"*\"",
    "b8 STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)",
    "b9 APPEND INBOX {3}\r\nabc",
    "c1 APPEND Drafts (\\Draft \\Seen) \"05-Jun-2025 09:15:00 -0700\" {3}\r\nabc",
    "c2 CHECK",
    "c3 CLOSE",
    "c4 EXPUNGE",
    "c5 SEARCH ALL",
    "c6 SEARCH UNSEEN FROM \"alice\" SINCE 1-Feb-1994 NOT (DELETED OR SEEN FLAGGED)",
    "c7 UID SEARCH UID 1:* LARGER 1000 SMALLER 99999 HEADER X-Mailer foo",
    "c8 SEARCH CHARSET UTF-8 SUBJECT {4}\r\ntest",
    "c9 SEARCH 1:5,7 KEYWORD $Label1 UNKEYWORD Junk SENTON 5-Jun-2025",
    "d1 FETCH 1:* ALL",
    "d2 FETCH 1 FAST",
    "d3 FETCH 2:4 FULL",
    "d4 UID FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)",
    "d5 FETCH 1 (BODY[] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY[TEXT]<0.64> BODY[2.MIME])",
    "d6 FETCH * (RFC822 RFC822.HEADER RFC822.TEXT BODY)",
    "d7 FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A X-B)]",
    "d8 STORE 1:3 +FLAGS (\\Seen \\Flagged)",
    "d9 STORE 1 -FLAGS.SILENT (\\Deleted)",
    "e1 UID STORE 4:* FLAGS ()",
    "e2 COPY 1:2 Trash",
    "e3 UID COPY 5 \"Junk\"",
    "e4 MOVE 3 Junk",
    "e5 UID MOVE 1:* Archive",
    "e6 IDLE",
    "e7 ENABLE CONDSTORE",
    "e8 GETQUOTAROOT INBOX",
    "e9 GETQUOTA \"\"",
    "f1 SETQUOTA \"\" (STORAGE 512)",
    "f2 UNSELECT",
    "f3 UID EXPUNGE 1:3",
    "f4 SEARCH OR OR SEEN FLAGGED NOT ANSWERED",
    "f5 LIST \"\" \"&ZeVnLIqe-\"",
];

fn ours(input: &[u8]) -> wildduck_imap::proto::Command {
    let mut framer = Framer::default();
    framer.feed(input);
    let mut frames = Vec::new();
    loop {
        match framer.next_event() {
            FramerEvent::NeedMore => break,
            FramerEvent::Frame(f) => frames.push(f),
            FramerEvent::Continue => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(frames.len(), 1);
    match parse_command(&frames[0], &ParseOptions::default()) {
        Ok(c) => c,
        Err(e) => panic!("we refused {:?}: {e:?}", String::from_utf8_lossy(input)),
    }
}

fn check(text: &str) {
    let input = format!("{text}\r\n");
    let (rest, oracle) = CommandCodec::default()
        .decode(input.as_bytes())
        .unwrap_or_else(|e| panic!("oracle refused {text:?}: {e:?}"));
    assert!(rest.is_empty(), "{text:?}");
    let cmd = ours(input.as_bytes());
    assert_eq!(cmd.tag, oracle.tag.inner(), "{text}");
    let our_name = cmd.name().trim_start_matches("UID ");
    assert_eq!(our_name, oracle.body.name(), "{text}");
    match (&cmd.body, &oracle.body) {
        (
            CommandBody::Fetch(f),
            OracleBody::Fetch {
                macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(items),
                uid,
                ..
            },
        ) => {
            assert_eq!(f.items.len(), items.len(), "{text}");
            assert_eq!(f.uid, *uid, "{text}");
        }
        (CommandBody::Store(s), OracleBody::Store { flags, uid, .. }) => {
            assert_eq!(s.flags.len(), flags.len(), "{text}");
            assert_eq!(s.uid, *uid, "{text}");
        }
        (
            CommandBody::Search { uid, query, .. },
            OracleBody::Search {
                uid: ouid,
                criteria,
                ..
            },
        ) => {
            assert_eq!(uid, ouid, "{text}");
            let top = match query {
                SearchQuery::And(v) if criteria.as_ref().len() > 1 => v.len(),
                _ => 1,
            };
            assert_eq!(top, criteria.as_ref().len(), "{text}");
        }
        _ => {}
    }
}

#[test]
fn oracle_and_we_accept_the_same_commands() {
    for text in VALID {
        check(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random FETCH item lists built from valid items.
    #[test]
    fn fetch_item_lists_agree(items in proptest::collection::vec(prop_oneof![
        Just("FLAGS"), Just("UID"), Just("INTERNALDATE"), Just("RFC822.SIZE"), Just("ENVELOPE"),
        Just("BODYSTRUCTURE"), Just("BODY"), Just("RFC822"), Just("RFC822.HEADER"), Just("RFC822.TEXT"),
        Just("BODY[]"), Just("BODY.PEEK[TEXT]"), Just("BODY[1.2]<10.20>"), Just("BODY[3.MIME]"),
        Just("BODY.PEEK[HEADER.FIELDS (DATE \"X-Y\")]"), Just("BODY[1.HEADER]"),
    ], 1..8), set in prop_oneof![Just("1"), Just("1:*"), Just("2,4:7,9"), Just("*:3")]) {
        check(&format!("t FETCH {set} ({})", items.join(" ")));
    }

    /// Random flag lists.
    #[test]
    fn store_flag_lists_agree(flags in proptest::collection::vec(prop_oneof![
        Just("\\Seen"), Just("\\Answered"), Just("\\Flagged"), Just("\\Deleted"), Just("\\Draft"),
        Just("$Forwarded"), Just("Junk"), Just("NonJunk"),
    ], 0..6)) {
        // Both sides drop duplicates? imap-codec keeps them, we do not: only distinct lists here.
        let mut distinct: Vec<&str> = Vec::new();
        for f in flags {
            if !distinct.contains(&f) {
                distinct.push(f);
            }
        }
        check(&format!("t STORE 1 FLAGS ({})", distinct.join(" ")));
    }
}
