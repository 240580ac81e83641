//! Modified UTF-7 (RFC 3501 §5.1.3): round trips, known encodings, refusals, no panics.

use proptest::prelude::*;
use wildduck_imap::utf7::{decode, encode};

#[test]
fn known_encodings() {
    for (plain, encoded) in [
        ("INBOX", "INBOX"),
        ("", ""),
        ("&", "&-"),
        ("&&", "&-&-"),
        ("Entw\u{fc}rfe", "Entw&APw-rfe"),
        ("Gel\u{f6}schte Elemente", "Gel&APY-schte Elemente"),
        ("\u{41f}\u{43e}\u{447}\u{442}\u{430}", "&BB8EPgRHBEIEMA-"),
        ("\u{1F4E7} mail", "&2D3c5w- mail"),
        ("a~b", "a~b"),
        ("tab\there", "tab&AAk-here"),
    ] {
        assert_eq!(encode(plain), encoded, "encode {plain:?}");
        assert_eq!(decode(encoded).as_deref(), Ok(plain), "decode {encoded:?}");
    }
}

#[test]
fn refusals_with_offsets() {
    let cases: &[(&str, usize)] = &[
        ("abc&", 4),     // unterminated
        ("&Jjo", 4),     // unterminated
        ("x&Jj!-", 4),   // invalid BASE64 character
        ("&AGE-", 3),    // encodes printable ASCII 'a'
        ("&ACY-", 3),    // encodes '&' (must be "&-")
        ("&2D0-", 4),    // lone high surrogate (padding bits set too)
        ("&2D3YPQ-", 6), // high surrogate followed by a high surrogate
        ("&3gA-", 3),    // lone low surrogate
        ("&AOkA-", 5),   // an incomplete UTF-16 unit
        ("&AOl-", 4),    // non-zero padding bits
        ("&Jjo=-", 4),   // '=' padding is not modified BASE64
        ("&Jjo/-", 4),   // '/' is ',' in modified BASE64
        ("a\u{7f}b", 1), // DEL
        ("a\rb", 1),     // control
    ];
    for &(input, offset) in cases {
        let err = decode(input).expect_err(input);
        assert_eq!(err.offset, offset, "{input:?}: {err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn raw_utf8_is_tolerated() {
    // Some clients send UTF-8 without enabling UTF8=ACCEPT; WildDuck keeps it as is.
    assert_eq!(decode("Caf\u{e9}").as_deref(), Ok("Caf\u{e9}"));
    assert!(decode("a\u{85}b").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip(s in any::<String>()) {
        let e = encode(&s);
        prop_assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)), "not 7-bit printable: {e:?}");
        prop_assert_eq!(decode(&e), Ok(s));
    }

    #[test]
    fn round_trip_mostly_ascii(s in "[ -~\u{e0}-\u{ff}\u{4e00}-\u{4e10}\u{1F600}-\u{1F605}&]{0,40}") {
        prop_assert_eq!(decode(&encode(&s)), Ok(s));
    }

    #[test]
    fn decode_never_panics(s in any::<String>()) {
        if let Ok(t) = decode(&s) {
            prop_assert_eq!(decode(&encode(&t)), Ok(t));
        }
    }

    #[test]
    fn decode_never_panics_on_shift_soup(s in "[&A-Za-z0-9+,/=\\-]{0,40}") {
        if let Ok(t) = decode(&s) {
            // Canonical input re-encodes to itself when it was pure ASCII.
            prop_assert_eq!(decode(&encode(&t)), Ok(t));
        }
    }
}
