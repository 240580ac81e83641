//! Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3).
//!
//! Our own implementation because the published crates panic on malformed input, and a mailbox name
//! comes straight from a client. [`decode`] never panics: every malformed shift sequence is an
//! [`Utf7Error`] that the session answers with `BAD`.
//!
//! Rules applied:
//! - printable US-ASCII (0x20–0x7E) other than `&` stands for itself; `&` is written `&-`;
//! - everything else is UTF-16 (big endian) in modified BASE64 (`,` instead of `/`, no `=` padding)
//!   between `&` and `-`;
//! - a shift sequence must not encode printable ASCII, must end with `-`, must hold whole UTF-16
//!   units with zero padding bits and properly paired surrogates;
//! - non-ASCII characters sent raw (valid UTF-8, as some clients do) are kept as they are, as
//!   WildDuck does; control characters are refused.

use std::fmt;

/// Why a modified UTF-7 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf7Error {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid modified UTF-7 at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for Utf7Error {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

fn is_direct(c: char) -> bool {
    matches!(c, ' '..='~') && c != '&'
}

/// Encodes a mailbox name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut out, &mut pending);
            out.push(c);
        } else if c == '&' {
            flush(&mut out, &mut pending);
            out.push_str("&-");
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Writes the pending UTF-16 units as one `&…-` shift sequence.
fn flush(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for unit in pending.drain(..) {
        acc = (acc << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            push_b64(out, (acc >> bits) & 0x3f);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        push_b64(out, (acc << (6 - bits)) & 0x3f);
    }
    out.push('-');
}

fn push_b64(out: &mut String, v: u32) {
    let c = usize::try_from(v)
        .ok()
        .and_then(|i| ALPHABET.get(i))
        .copied()
        .unwrap_or(b'A');
    out.push(char::from(c));
}

/// Decodes a modified UTF-7 mailbox name; see the module documentation for what is refused.
pub fn decode(input: &str) -> Result<String, Utf7Error> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'&' {
            i = decode_shift(bytes, i, &mut out)?;
            continue;
        }
        if b < 0x20 || b == 0x7f {
            return Err(err(i, "control character"));
        }
        // A whole UTF-8 character (the input is a str, so boundaries are valid).
        let ch = input
            .get(i..)
            .and_then(|s| s.chars().next())
            .ok_or_else(|| err(i, "bad character boundary"))?;
        if (ch as u32) >= 0x80 && (ch as u32) < 0xa0 {
            return Err(err(i, "control character"));
        }
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok(out)
}

/// Decodes the shift sequence starting at `start` (the `&`) and returns the index after its `-`.
fn decode_shift(bytes: &[u8], start: usize, out: &mut String) -> Result<usize, Utf7Error> {
    let mut i = start + 1;
    if bytes.get(i) == Some(&b'-') {
        out.push('&');
        return Ok(i + 1);
    }
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut high: Option<u16> = None;
    let mut produced = false;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(err(i, "unterminated shift sequence"));
        };
        if b == b'-' {
            break;
        }
        let v = b64_value(b).ok_or_else(|| err(i, "invalid BASE64 character"))?;
        acc = ((acc << 6) | v) & 0x3f_ffff;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            let unit = u16::try_from((acc >> bits) & 0xffff).unwrap_or(0);
            acc &= (1 << bits) - 1;
            match (high.take(), unit) {
                (None, 0xd800..=0xdbff) => high = Some(unit),
                (None, 0xdc00..=0xdfff) => return Err(err(i, "unpaired low surrogate")),
                (None, u) => {
                    let c = char::from_u32(u32::from(u)).ok_or_else(|| err(i, "bad code unit"))?;
                    if is_direct(c) || c == '&' {
                        return Err(err(i, "printable ASCII inside a shift sequence"));
                    }
                    out.push(c);
                    produced = true;
                }
                (Some(h), 0xdc00..=0xdfff) => {
                    let cp = 0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                    let c = char::from_u32(cp).ok_or_else(|| err(i, "bad surrogate pair"))?;
                    out.push(c);
                    produced = true;
                }
                (Some(_), _) => return Err(err(i, "unpaired high surrogate")),
            }
        }
        i += 1;
    }
    if high.is_some() {
        return Err(err(i, "unpaired high surrogate"));
    }
    if bits >= 6 || acc != 0 {
        return Err(err(i, "incomplete UTF-16 unit or non-zero padding"));
    }
    if !produced {
        return Err(err(i, "empty shift sequence"));
    }
    Ok(i + 1)
}

fn err(offset: usize, reason: &'static str) -> Utf7Error {
    Utf7Error { offset, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // RFC 3501 §5.1.3 example.
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok(name)
        );
    }

    #[test]
    fn ampersand_and_astral() {
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(decode("a&-b").as_deref(), Ok("a&b"));
        let s = "x\u{1F600}y";
        assert_eq!(decode(&encode(s)).as_deref(), Ok(s));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "&", "&AGE", "&AGE-", "&Jjo!-", "&2D3-", "&3gA-", "&2D3YAA-", "&AOkA-", "a\u{1}b",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
