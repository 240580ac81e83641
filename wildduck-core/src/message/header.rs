//! Raw header sections: split into fields without losing a byte, and unfold values.
//!
//! Structured values (addresses, Content-Type parameters, dates, encoded-words) are decoded with
//! mail-parser by the callers; this module only finds the fields.

/// One header field inside a raw header section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name as written (before the colon, trailing white space removed). Empty for a
    /// malformed line that has no colon; such lines are still yielded so filters can keep or drop them.
    pub name: &'a [u8],
    /// The whole field as it appears in the section: name, colon, value, continuation lines, and the
    /// final CRLF when present.
    pub raw: &'a [u8],
    /// The raw value after the colon, folding kept, without the final CRLF.
    pub value: &'a [u8],
}

impl HeaderField<'_> {
    /// Whether the field's name equals `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The lower-cased name as a string (lossy for non-UTF-8 names).
    pub fn lower_name(&self) -> String {
        String::from_utf8_lossy(self.name).to_ascii_lowercase()
    }

    /// The value with folding removed (CRLF before white space dropped) and outer white space trimmed.
    pub fn unfolded(&self) -> Vec<u8> {
        unfold(self.value)
    }
}

/// Iterates the fields of a raw header section in order. Every byte of `section` is in exactly one
/// field's `raw`.
pub fn fields(section: &[u8]) -> Fields<'_> {
    Fields { rest: section }
}

/// Iterator returned by [`fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = HeaderField<'a>;

    fn next(&mut self) -> Option<HeaderField<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let all = self.rest;
        // The field runs to the end of the first line and over every continuation line (one that starts
        // with a space or tab).
        let mut end = line_end(all, 0);
        while end < all.len() && matches!(all[end], b' ' | b'\t') {
            end = line_end(all, end);
        }
        let raw = &all[..end];
        self.rest = &all[end..];
        let body = raw
            .strip_suffix(b"\r\n")
            .or_else(|| raw.strip_suffix(b"\n"))
            .unwrap_or(raw);
        let (name, value) = match body.iter().position(|&b| b == b':') {
            // A colon after a line break is not a name separator: the first line has no colon.
            Some(colon) if !body[..colon].contains(&b'\n') => {
                (trim_end(&body[..colon]), &body[colon + 1..])
            }
            _ => (&body[..0], body),
        };
        Some(HeaderField { name, raw, value })
    }
}

/// Index just past the end of the line starting at `from` (past its LF, or the end of input).
fn line_end(bytes: &[u8], from: usize) -> usize {
    match bytes[from..].iter().position(|&b| b == b'\n') {
        Some(i) => from + i + 1,
        None => bytes.len(),
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..n]
}

/// Removes folding (CR/LF that precede white space) and trims outer white space.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let start = out
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(out.len());
    out.drain(..start);
    let end = trim_end(&out).len();
    out.truncate(end);
    out
}

/// The first field named `name` (ASCII case-insensitive).
pub fn first<'a>(section: &'a [u8], name: &str) -> Option<HeaderField<'a>> {
    fields(section).find(|f| f.is(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cover_every_byte_and_keep_folding() {
        let section = b"Subject: a\r\n b\r\nbroken line\r\nTo : x@y\r\nX:\r\n";
        let all: Vec<_> = fields(section).collect();
        assert_eq!(all.len(), 4);
        let joined: Vec<u8> = all.iter().flat_map(|f| f.raw.iter().copied()).collect();
        assert_eq!(joined, section);
        assert!(all[0].is("subject"));
        assert_eq!(all[0].value, b" a\r\n b");
        assert_eq!(all[0].unfolded(), b"a b");
        assert_eq!(all[1].name, b"");
        assert_eq!(all[2].name, b"To");
        assert_eq!(all[3].unfolded(), b"");
    }

    #[test]
    fn last_line_without_crlf() {
        let all: Vec<_> = fields(b"A: 1\r\nB: 2").collect();
        assert_eq!(all[1].raw, b"B: 2");
        assert_eq!(
            first(b"A: 1\r\nB: 2", "b").map(|f| f.unfolded()),
            Some(b"2".to_vec())
        );
    }
}
