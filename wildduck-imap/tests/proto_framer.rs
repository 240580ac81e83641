//! Framer: lines, literals, limits, streaming APPEND and the TOOBIG paths.

use wildduck_imap::proto::{Frame, FrameError, FrameErrorKind, Framer, FramerConfig, FramerEvent};

/// Feeds `input` at once and collects events up to the first NeedMore.
fn run(framer: &mut Framer, input: &[u8]) -> Vec<FramerEvent> {
    framer.feed(input);
    drain(framer)
}

fn drain(framer: &mut Framer) -> Vec<FramerEvent> {
    let mut out = Vec::new();
    loop {
        match framer.next_event() {
            FramerEvent::NeedMore => return out,
            e => out.push(e),
        }
    }
}

fn frame(bytes: &[u8]) -> FramerEvent {
    FramerEvent::Frame(Frame::from_bytes(bytes))
}

fn err(tag: Option<&str>, kind: FrameErrorKind, synchronizing: bool) -> FramerEvent {
    FramerEvent::Error(FrameError {
        tag: tag.map(str::to_string),
        kind,
        synchronizing,
    })
}

#[test]
fn simple_lines_crlf_and_bare_lf() {
    let mut f = Framer::default();
    let ev = run(&mut f, b"a1 NOOP\r\na2 CAPABILITY\na3 LOG");
    assert_eq!(ev, vec![frame(b"a1 NOOP"), frame(b"a2 CAPABILITY")]);
    assert_eq!(f.buffered(), 6);
    assert_eq!(run(&mut f, b"OUT\r\n"), vec![frame(b"a3 LOGOUT")]);
    assert!(f.is_idle());
}

#[test]
fn empty_line_is_an_empty_frame() {
    let mut f = Framer::default();
    assert_eq!(run(&mut f, b"\r\n"), vec![frame(b"")]);
}

#[test]
fn synchronising_literal_asks_for_continuation() {
    let mut f = Framer::default();
    assert_eq!(run(&mut f, b"a LOGIN {4}\r\n"), vec![FramerEvent::Continue]);
    assert_eq!(run(&mut f, b"us"), vec![]);
    assert_eq!(run(&mut f, b"er {3}\r\n"), vec![FramerEvent::Continue]);
    assert_eq!(
        run(&mut f, b"pw\n\r\n"),
        vec![frame(b"a LOGIN {4}\r\nuser {3}\r\npw\n")]
    );
}

#[test]
fn non_synchronising_literal_needs_no_continuation() {
    let mut f = Framer::default();
    assert_eq!(
        run(&mut f, b"a LOGIN {4+}\r\nuser {0+}\r\n\r\n"),
        vec![frame(b"a LOGIN {4+}\r\nuser {0+}\r\n")]
    );
}

#[test]
fn literal_with_bare_lf_header() {
    let mut f = Framer::default();
    assert_eq!(
        run(&mut f, b"a SELECT {5+}\nINBOX\n"),
        vec![frame(b"a SELECT {5+}\r\nINBOX")]
    );
}

#[test]
fn large_literal_outside_append_is_refused() {
    let mut f = Framer::default();
    assert_eq!(
        run(&mut f, b"a LOGIN {1025}\r\n"),
        vec![err(
            Some("a"),
            FrameErrorKind::LiteralTooLarge { size: 1025 },
            true
        )]
    );
    // The client was refused `+`, so the next line is a new command.
    assert_eq!(run(&mut f, b"b NOOP\r\n"), vec![frame(b"b NOOP")]);
}

#[test]
fn large_literal_plus_outside_append_is_skipped() {
    let mut f = Framer::default();
    let mut input = b"a LOGIN {2000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 2000));
    input.extend_from_slice(b" {3+}\r\nabc\r\nb NOOP\r\n");
    assert_eq!(
        run(&mut f, &input),
        vec![
            err(
                Some("a"),
                FrameErrorKind::LiteralTooLarge { size: 2000 },
                false
            ),
            frame(b"b NOOP")
        ]
    );
}

#[test]
fn line_too_long_is_reported_early_and_discarded() {
    let mut f = Framer::new(FramerConfig {
        max_line_length: 100,
        ..FramerConfig::default()
    });
    let mut ev = run(&mut f, b"t1 SEARCH ");
    assert!(ev.is_empty());
    ev = run(&mut f, &[b'x'; 200]);
    assert_eq!(
        ev,
        vec![err(Some("t1"), FrameErrorKind::LineTooLong, false)]
    );
    assert!(run(&mut f, &[b'y'; 5000]).is_empty());
    assert!(f.capacity() < 4096, "capacity {}", f.capacity());
    assert_eq!(run(&mut f, b"zz\r\nt2 NOOP\r\n"), vec![frame(b"t2 NOOP")]);
}

#[test]
fn complete_long_line_is_refused_with_its_tag() {
    let mut f = Framer::new(FramerConfig {
        max_line_length: 20,
        ..FramerConfig::default()
    });
    let ev = run(&mut f, b"t1 FETCH 1:2,4,5,6,7,8,9 FLAGS\r\nt2 NOOP\r\n");
    assert_eq!(
        ev,
        vec![
            err(Some("t1"), FrameErrorKind::LineTooLong, false),
            frame(b"t2 NOOP")
        ]
    );
}

#[test]
fn line_exactly_at_the_limit_passes() {
    let mut f = Framer::new(FramerConfig {
        max_line_length: 10,
        ..FramerConfig::default()
    });
    assert_eq!(run(&mut f, b"a1 NOOP123\r\n"), vec![frame(b"a1 NOOP123")]);
    assert_eq!(
        run(&mut f, b"a1 NOOP1234\r\n"),
        vec![err(Some("a1"), FrameErrorKind::LineTooLong, false)]
    );
}

#[test]
fn invalid_literal_size() {
    let mut f = Framer::default();
    assert_eq!(
        run(&mut f, b"a LOGIN {99999999999999999999999}\r\nb NOOP\r\n"),
        vec![
            err(Some("a"), FrameErrorKind::InvalidLiteralSize, true),
            frame(b"b NOOP")
        ]
    );
}

#[test]
fn append_streams_large_literal_in_chunks() {
    let mut f = Framer::new(FramerConfig {
        chunk_size: 1000,
        ..FramerConfig::default()
    });
    let ev = run(&mut f, b"a APPEND INBOX (\\Seen) {2500}\r\n");
    assert_eq!(
        ev,
        vec![FramerEvent::LiteralStart {
            size: 2500,
            continuation: true
        }]
    );
    let body: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let mut input = body.clone();
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run(&mut f, &input);
    let mut got = Vec::new();
    let mut frames = Vec::new();
    for e in ev {
        match e {
            FramerEvent::LiteralData(d) => {
                assert!(!d.is_empty() && d.len() <= 1000);
                got.extend(d);
            }
            FramerEvent::Frame(fr) => frames.push(fr),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, body);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].bytes(), b"a APPEND INBOX (\\Seen) {2500}\r\n");
    assert_eq!(
        frames[0].streamed_literal(),
        Some((frames[0].bytes().len(), 2500))
    );
    assert_eq!(frames[1].bytes(), b"b NOOP");
}

#[test]
fn append_small_literal_stays_inline() {
    let mut f = Framer::default();
    let ev = run(&mut f, b"a APPEND INBOX {5+}\r\nhello\r\n");
    assert_eq!(ev, vec![frame(b"a APPEND INBOX {5+}\r\nhello")]);
}

#[test]
fn append_too_big_synchronising_is_refused_before_data() {
    let mut f = Framer::default();
    let ev = run(&mut f, b"a APPEND INBOX {104857600}\r\n");
    assert_eq!(
        ev,
        vec![err(
            Some("a"),
            FrameErrorKind::TooBig {
                size: 104_857_600,
                limit: 64 * 1024 * 1024
            },
            true
        )]
    );
    assert_eq!(run(&mut f, b"b NOOP\r\n"), vec![frame(b"b NOOP")]);
}

#[test]
fn append_too_big_literal_plus_is_discarded_with_bounded_memory() {
    let mut f = Framer::default();
    let size: u64 = 100 * 1024 * 1024;
    let ev = run(&mut f, format!("a APPEND INBOX {{{size}+}}\r\n").as_bytes());
    assert_eq!(
        ev,
        vec![err(
            Some("a"),
            FrameErrorKind::TooBig {
                size,
                limit: 64 * 1024 * 1024
            },
            false
        )]
    );
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0u64;
    let mut max_cap = 0;
    while sent < size {
        let n = (size - sent).min(chunk.len() as u64) as usize;
        f.feed(&chunk[..n]);
        assert_eq!(drain(&mut f), vec![]);
        max_cap = max_cap.max(f.capacity());
        sent += n as u64;
    }
    assert!(max_cap < 4096, "framer held {max_cap} bytes");
    assert_eq!(run(&mut f, b"\r\nb NOOP\r\n"), vec![frame(b"b NOOP")]);
}

#[test]
fn buffer_is_released_after_a_big_command() {
    let mut f = Framer::default();
    let mut input = b"a APPEND INBOX {100000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'm', 100_000));
    input.extend_from_slice(b"\r\n");
    let ev = run(&mut f, &input);
    assert!(matches!(ev.last(), Some(FramerEvent::Frame(_))));
    assert!(f.capacity() <= 2048, "capacity {}", f.capacity());
    assert!(f.is_idle());
}

#[test]
fn only_one_streamed_literal_per_append() {
    let mut f = Framer::default();
    let mut input = b"a APPEND INBOX {2000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'm', 2000));
    input.extend_from_slice(b" {2000}\r\n");
    let ev = run(&mut f, &input);
    assert!(matches!(ev.first(), Some(FramerEvent::LiteralStart { .. })));
    assert_eq!(
        ev.last(),
        Some(&err(
            Some("a"),
            FrameErrorKind::LiteralTooLarge { size: 2000 },
            true
        ))
    );
}

#[test]
fn command_size_cap() {
    let mut f = Framer::new(FramerConfig {
        max_command_size: 2000,
        ..FramerConfig::default()
    });
    let mut input = Vec::new();
    input.extend_from_slice(b"a SEARCH");
    for _ in 0..3 {
        input.extend_from_slice(b" TEXT {1000+}\r\n");
        input.extend(std::iter::repeat_n(b'q', 1000));
    }
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run(&mut f, &input);
    assert_eq!(
        ev,
        vec![
            err(Some("a"), FrameErrorKind::CommandTooLarge, false),
            frame(b"b NOOP")
        ]
    );
}

/// A client that ignores the refusal of a synchronising 100 MiB literal and sends it anyway: the
/// bytes are taken as (overlong) command lines and dropped, with bounded memory.
#[test]
fn append_too_big_synchronising_sent_anyway_stays_bounded() {
    let mut f = Framer::default();
    let size: u64 = 100 * 1024 * 1024;
    let ev = run(&mut f, format!("a APPEND INBOX {{{size}}}\r\n").as_bytes());
    assert!(matches!(
        ev.as_slice(),
        [FramerEvent::Error(FrameError {
            kind: FrameErrorKind::TooBig { .. },
            synchronizing: true,
            ..
        })]
    ));
    let chunk = vec![b'x'; 4096];
    let mut errors = 0;
    let mut max_cap = 0;
    let mut sent = 0u64;
    while sent < size {
        f.feed(&chunk);
        sent += chunk.len() as u64;
        for e in drain(&mut f) {
            match e {
                FramerEvent::Error(FrameError {
                    kind: FrameErrorKind::LineTooLong,
                    tag: None,
                    ..
                }) => errors += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        max_cap = max_cap.max(f.capacity());
    }
    // One line without an end: refused once, then dropped as it streams.
    assert_eq!(errors, 1);
    assert!(max_cap <= 40 * 1024, "framer held {max_cap} bytes");
    assert_eq!(run(&mut f, b"\r\nb NOOP\r\n"), vec![frame(b"b NOOP")]);
    assert!(f.capacity() <= 2048);
}

/// An accepted 60 MiB APPEND streams through: the framer never holds more than one read.
#[test]
fn accepted_large_append_streams_with_bounded_memory() {
    let mut f = Framer::default();
    let size: u64 = 60 * 1024 * 1024;
    let ev = run(&mut f, format!("a APPEND INBOX {{{size}}}\r\n").as_bytes());
    assert_eq!(
        ev,
        vec![FramerEvent::LiteralStart {
            size,
            continuation: true
        }]
    );
    let chunk = vec![b'm'; 16 * 1024];
    let mut received = 0u64;
    let mut max_cap = 0;
    let mut sent = 0u64;
    while sent < size {
        f.feed(&chunk);
        sent += chunk.len() as u64;
        for e in drain(&mut f) {
            match e {
                FramerEvent::LiteralData(d) => received += d.len() as u64,
                other => panic!("unexpected {other:?}"),
            }
        }
        max_cap = max_cap.max(f.capacity());
    }
    assert_eq!(received, size);
    assert!(max_cap <= 40 * 1024, "framer held {max_cap} bytes");
    let ev = run(&mut f, b"\r\n");
    let [FramerEvent::Frame(fr)] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert_eq!(fr.streamed_literal().map(|s| s.1), Some(size));
    f.shrink();
    assert_eq!(f.capacity(), 0);
}

#[test]
fn idle_framer_holds_no_memory_after_commands() {
    let mut f = Framer::default();
    for i in 0..100 {
        let ev = run(&mut f, format!("a{i} FETCH 1:* (FLAGS)\r\n").as_bytes());
        assert_eq!(ev.len(), 1);
    }
    assert!(f.is_idle());
    assert!(f.capacity() <= 2048);
    f.shrink();
    assert_eq!(f.capacity(), 0);
}

#[test]
fn long_line_tag_does_not_depend_on_reads() {
    let config = FramerConfig {
        max_line_length: 32,
        ..FramerConfig::default()
    };
    let line = format!("tag7 SEARCH {}\r\n", "x".repeat(100));
    let mut whole = Framer::new(config);
    let a = run(&mut whole, line.as_bytes());
    let mut pieces = Framer::new(config);
    let mut b = Vec::new();
    for byte in line.as_bytes() {
        b.extend(run(&mut pieces, std::slice::from_ref(byte)));
    }
    assert_eq!(
        a,
        vec![err(Some("tag7"), FrameErrorKind::LineTooLong, false)]
    );
    assert_eq!(a, b);
}

/// A refused long line ending in an absurd LITERAL+ header is handled the same whether the line
/// arrives whole or byte by byte.
#[test]
fn absurd_literal_header_on_long_line_is_consistent() {
    let config = FramerConfig {
        max_line_length: 40,
        ..FramerConfig::default()
    };
    let line = format!(
        "t SEARCH {} {{{}+}}\r\nt2 NOOP\r\n",
        "x".repeat(40),
        "9".repeat(60)
    );
    let mut whole = Framer::new(config);
    let a = run(&mut whole, line.as_bytes());
    let mut pieces = Framer::new(config);
    let mut b = Vec::new();
    for byte in line.as_bytes() {
        b.extend(run(&mut pieces, std::slice::from_ref(byte)));
    }
    assert_eq!(a, b);
    assert_eq!(
        a.first(),
        Some(&err(Some("t"), FrameErrorKind::LineTooLong, false))
    );
}
