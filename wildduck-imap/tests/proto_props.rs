//! Property tests: the framer and the parser never panic on any bytes, and the framer's output does
//! not depend on how the input is split into reads.

use proptest::prelude::*;
use wildduck_imap::proto::{Frame, Framer, FramerConfig, FramerEvent, ParseOptions, parse_command};

/// Small limits so that random input reaches every limit path.
fn small_config() -> FramerConfig {
    FramerConfig {
        max_line_length: 64,
        max_literal: 16,
        max_append_literal: 200,
        max_command_size: 256,
        chunk_size: 7,
    }
}

/// Feeds `input` split at `cuts` and returns the events, with adjacent literal chunks merged
/// (their sizes legitimately depend on the reads).
fn frame_all(config: FramerConfig, input: &[u8], cuts: &[usize]) -> Vec<FramerEvent> {
    let mut framer = Framer::new(config);
    let mut events: Vec<FramerEvent> = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    for w in points.windows(2) {
        framer.feed(&input[w[0]..w[1]]);
        loop {
            match framer.next_event() {
                FramerEvent::NeedMore => break,
                FramerEvent::LiteralData(d) => {
                    assert!(!d.is_empty());
                    if let Some(FramerEvent::LiteralData(prev)) = events.last_mut() {
                        prev.extend(d);
                    } else {
                        events.push(FramerEvent::LiteralData(d));
                    }
                }
                e => events.push(e),
            }
        }
        // Memory stays bounded by the limits plus one read, whatever the input.
        assert!(
            framer.buffered() <= input.len(),
            "buffered more than was fed"
        );
    }
    events
}

/// Byte strings built from IMAP-shaped fragments and random bytes.
fn imapish() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"a1 ".to_vec()),
        Just(b"APPEND INBOX ".to_vec()),
        Just(b"LOGIN ".to_vec()),
        Just(b"UID FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.5> FLAGS) ".to_vec()),
        Just(b"SEARCH OR NOT (SEEN UID 1:*) FROM \"x\" ".to_vec()),
        Just(b"STORE 1 +FLAGS.SILENT (\\Seen) ".to_vec()),
        Just(b"LIST (SPECIAL-USE) \"\" * RETURN (CHILDREN)".to_vec()),
        Just(b"SELECT &Jjo- ".to_vec()),
        Just(b"{5}\r\n".to_vec()),
        Just(b"{3+}\r\n".to_vec()),
        Just(b"{0}\r\n".to_vec()),
        Just(b"{40}\r\n".to_vec()),
        Just(b"{40+}\r\n".to_vec()),
        Just(b"{300+}\r\n".to_vec()),
        Just(b"{300}\r\n".to_vec()),
        Just(b"{99999999999999999999999+}\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"(".to_vec()),
        Just(b")".to_vec()),
        Just(vec![b'x'; 70]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(fragment, 0..24).prop_map(|v| v.concat())
}

fn parse_every_frame(events: &[FramerEvent]) {
    for e in events {
        if let FramerEvent::Frame(f) = e {
            for utf8_accept in [false, true] {
                let _ = parse_command(f, &ParseOptions { utf8_accept });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn chunking_does_not_change_the_frames(
        input in imapish(),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = frame_all(small_config(), &input, &[]);
        let split = frame_all(small_config(), &input, &cuts);
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<usize> = (0..input.len()).collect();
        let single = frame_all(small_config(), &input, &bytewise);
        prop_assert_eq!(&whole, &single);
        parse_every_frame(&whole);
    }

    #[test]
    fn default_limits_never_panic(
        input in imapish(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let events = frame_all(FramerConfig::default(), &input, &cuts);
        parse_every_frame(&events);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let events = frame_all(small_config(), &input, &cuts);
        parse_every_frame(&events);
    }

    /// The parser alone, on frames the framer would never produce (broken literal headers,
    /// truncated literals, NULs): errors, never panics.
    #[test]
    fn parser_never_panics_on_raw_frames(bytes in imapish()) {
        let frame = Frame::from_bytes(bytes);
        for utf8_accept in [false, true] {
            let _ = parse_command(&frame, &ParseOptions { utf8_accept });
        }
    }

    /// Valid commands keep their tag through the framer and the parser; a refused one reports it.
    #[test]
    fn tag_survives(tag in "[A-Za-z0-9.]{1,12}", cmd in prop_oneof![
        Just("NOOP"), Just("FETCH 1:* (FLAGS)"), Just("SEARCH NOT SEEN"), Just("BOGUS"),
        Just("FETCH x"), Just("LIST \"\" *"),
    ]) {
        let input = format!("{tag} {cmd}\r\n");
        let events = frame_all(FramerConfig::default(), input.as_bytes(), &[]);
        prop_assert_eq!(events.len(), 1);
        let FramerEvent::Frame(f) = &events[0] else {
            return Err(TestCaseError::fail("no frame"));
        };
        match parse_command(f, &ParseOptions::default()) {
            Ok(c) => prop_assert_eq!(c.tag, tag),
            Err(e) => prop_assert_eq!(e.tag, Some(tag)),
        }
    }
}
