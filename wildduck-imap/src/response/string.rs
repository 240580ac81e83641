//! Strings and numbers (RFC 3501 §4).

/// Writes `value` as an IMAP string: a quoted string when every byte may appear in one (7-bit, no CR,
/// LF or NUL; `"` and `\` escaped), otherwise a literal `{n}\r\n…`. With `utf8` (RFC 6855 `UTF8=ACCEPT`)
/// valid UTF-8 without CR/LF is quoted too.
///
/// NUL bytes cannot be sent in any IMAP4rev1 string, not even a literal, so they are dropped.
pub fn write_string(out: &mut Vec<u8>, value: &[u8], utf8: bool) {
    if value.contains(&0) {
        let cleaned: Vec<u8> = value.iter().copied().filter(|&b| b != 0).collect();
        return write_string(out, &cleaned, utf8);
    }
    let has_line_break = value.iter().any(|&b| b == b'\r' || b == b'\n');
    let eight_bit = !value.is_ascii();
    let quotable = !has_line_break && (!eight_bit || (utf8 && std::str::from_utf8(value).is_ok()));
    if quotable {
        out.reserve(value.len() + 2);
        out.push(b'"');
        for &b in value {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.push(b'{');
        out.extend_from_slice(value.len().to_string().as_bytes());
        out.extend_from_slice(b"}\r\n");
        out.extend_from_slice(value);
    }
}

/// Writes `NIL` for `None`, otherwise the string as [`write_string`] does.
pub fn write_nstring(out: &mut Vec<u8>, value: Option<&[u8]>, utf8: bool) {
    match value {
        Some(value) => write_string(out, value, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Writes an IMAP number.
pub fn write_number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(value.to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: &[u8], utf8: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, value, utf8);
        out
    }

    #[test]
    fn quoted_literal_and_nil() {
        assert_eq!(s(b"plain", false), b"\"plain\"");
        assert_eq!(s(b"", false), b"\"\"");
        assert_eq!(s(b"a\"b\\c", false), b"\"a\\\"b\\\\c\"");
        assert_eq!(s(b"a\r\nb", true), b"{4}\r\na\r\nb");
        assert_eq!(s("ü".as_bytes(), false), b"{2}\r\n\xc3\xbc");
        assert_eq!(s("ü".as_bytes(), true), "\"ü\"".as_bytes());
        assert_eq!(s(b"\x93\xfa", true), b"{2}\r\n\x93\xfa");
        assert_eq!(s(b"a\0b", false), b"\"ab\"");
        let mut out = Vec::new();
        write_nstring(&mut out, None, false);
        write_number(&mut out, 42);
        assert_eq!(out, b"NIL42");
    }
}
