//! Token readers over a [`Frame`](super::Frame)'s bytes (RFC 3501 §9 and RFC 6855 grammar).
//!
//! Every reader either consumes what it recognised and returns it, or returns an error message and
//! leaves the position unspecified (the command is refused as a whole). Nothing here can panic:
//! all indexing is checked.

use std::borrow::Cow;

use wildduck_core::model::{Flag, Timestamp};
use wildduck_core::search::SearchDate;

use super::command::{SeqNum, SequenceSet};

/// A token error: the text of the `BAD` answer.
pub(crate) type LexResult<T> = Result<T, String>;

/// A string argument: its bytes, or the streamed APPEND literal's size.
#[derive(Debug)]
pub(crate) enum Str<'a> {
    Bytes(Cow<'a, [u8]>),
    Streamed(u64),
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// Characters allowed in an atom (RFC 3501 `ATOM-CHAR`).
pub(crate) fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR`: atom chars plus `]`; 8-bit bytes are tolerated too (clients send raw UTF-8
/// atoms; the value is checked as UTF-8 where text is needed).
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']' || b >= 0x80
}

/// `list-char`: atom chars plus list wildcards and `]`.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    streamed: Option<(usize, u64)>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], streamed: Option<(usize, u64)>) -> Self {
        Self {
            bytes,
            pos: 0,
            streamed,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// Steps back `n` bytes (after a look-ahead).
    pub(crate) fn rewind(&mut self, n: usize) {
        self.pos = self.pos.saturating_sub(n);
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8) -> LexResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("Expected '{}'", char::from(b)))
        }
    }

    /// One space (more are tolerated, as WildDuck's parser does).
    pub(crate) fn sp(&mut self) -> LexResult<()> {
        if !self.eat(b' ') {
            return Err(if self.at_end() {
                "Unexpected end of input".into()
            } else {
                "Expected a space".into()
            });
        }
        while self.eat(b' ') {}
        Ok(())
    }

    /// A space followed by more input: `true`; end of input: `false`.
    pub(crate) fn more(&mut self) -> LexResult<bool> {
        if self.at_end() {
            return Ok(false);
        }
        self.sp()?;
        if self.at_end() {
            // Trailing spaces: tolerated.
            return Ok(false);
        }
        Ok(true)
    }

    pub(crate) fn end(&mut self) -> LexResult<()> {
        while self.eat(b' ') {}
        if self.at_end() {
            Ok(())
        } else {
            Err("Unexpected arguments".into())
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// An atom (`ATOM-CHAR+`).
    pub(crate) fn atom(&mut self) -> LexResult<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err("Expected an atom".into());
        }
        std::str::from_utf8(a).map_err(|_| "Invalid atom".into())
    }

    /// An atom upper-cased.
    pub(crate) fn atom_upper(&mut self) -> LexResult<String> {
        Ok(self.atom()?.to_ascii_uppercase())
    }

    /// A keyword-like token made of letters, digits, `.`, `-`, `=`, `+`: stops at `[`, `]`, `<`,
    /// `(` and space (for FETCH item names and STORE actions).
    pub(crate) fn word(&mut self) -> &'a [u8] {
        self.take_while(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b'-' | b'+' | b'=' | b'_' | b'$' | b'\\')
        })
    }

    /// `quoted` (escapes `\\` and `\"` only; no CR/LF; 8-bit allowed for UTF8=ACCEPT clients).
    fn quoted(&mut self) -> LexResult<Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err("Unterminated quoted string".into());
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e @ (b'"' | b'\\')) = self.peek() else {
                        return Err("Invalid escape in quoted string".into());
                    };
                    self.pos += 1;
                    let o = owned.get_or_insert_with(|| {
                        self.bytes
                            .get(start..self.pos - 2)
                            .unwrap_or_default()
                            .to_vec()
                    });
                    o.push(e);
                }
                b'\r' | b'\n' | 0 => return Err("Invalid character in quoted string".into()),
                other => {
                    if let Some(o) = owned.as_mut() {
                        o.push(other);
                    }
                }
            }
        }
        Ok(match owned {
            Some(o) => Cow::Owned(o),
            None => Cow::Borrowed(self.bytes.get(start..self.pos - 1).unwrap_or_default()),
        })
    }

    /// A literal: `{n}` or `{n+}`, `CRLF`, then n bytes (or the streamed APPEND literal).
    fn literal(&mut self) -> LexResult<Str<'a>> {
        self.expect(b'{')?;
        let digits = self.take_while(|b| b.is_ascii_digit());
        let size: u64 = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("Invalid literal size")?;
        self.eat(b'+');
        self.expect(b'}')?;
        if !(self.eat(b'\r') && self.eat(b'\n')) {
            return Err("Expected CRLF after literal header".into());
        }
        if let Some((at, streamed_size)) = self.streamed
            && at == self.pos
        {
            return if streamed_size == size {
                Ok(Str::Streamed(size))
            } else {
                Err("Literal size mismatch".into())
            };
        }
        let n = usize::try_from(size).map_err(|_| "Literal too large")?;
        let end = self.pos.checked_add(n).ok_or("Literal too large")?;
        let data = self.bytes.get(self.pos..end).ok_or("Truncated literal")?;
        self.pos = end;
        Ok(Str::Bytes(Cow::Borrowed(data)))
    }

    /// `string` = quoted / literal, possibly the streamed literal.
    pub(crate) fn string_or_streamed(&mut self) -> LexResult<Str<'a>> {
        match self.peek() {
            Some(b'"') => Ok(Str::Bytes(self.quoted()?)),
            Some(b'{') => self.literal(),
            _ => Err("Expected a string".into()),
        }
    }

    /// `string` = quoted / literal.
    pub(crate) fn string(&mut self) -> LexResult<Cow<'a, [u8]>> {
        match self.string_or_streamed()? {
            Str::Bytes(b) => Ok(b),
            Str::Streamed(_) => Err("Unexpected message literal".into()),
        }
    }

    /// `astring` = 1*ASTRING-CHAR / string.
    pub(crate) fn astring(&mut self) -> LexResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err("Expected a string".into())
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// An astring as UTF-8 text (invalid UTF-8 is refused).
    pub(crate) fn astring_utf8(&mut self) -> LexResult<String> {
        let b = self.astring()?;
        String::from_utf8(b.into_owned()).map_err(|_| "Invalid UTF-8 in argument".into())
    }

    /// An astring as text, invalid UTF-8 replaced (search strings in an unknown charset).
    pub(crate) fn astring_lossy(&mut self) -> LexResult<String> {
        let b = self.astring()?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// `nstring` = string / NIL; `None` for NIL.
    pub(crate) fn nstring(&mut self) -> LexResult<Option<Cow<'a, [u8]>>> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return self.string().map(Some);
        }
        let a = self.take_while(is_atom_char);
        if a.eq_ignore_ascii_case(b"NIL") {
            Ok(None)
        } else {
            Err("Expected a string or NIL".into())
        }
    }

    /// `list-mailbox` = 1*list-char / string.
    pub(crate) fn list_mailbox(&mut self) -> LexResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    Err("Expected a mailbox pattern".into())
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// A number (u32).
    pub(crate) fn number(&mut self) -> LexResult<u32> {
        let d = self.take_while(|b| b.is_ascii_digit());
        std::str::from_utf8(d)
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "Expected a number".into())
    }

    /// A 63-bit number (`mod-sequence-value`, sizes).
    pub(crate) fn number64(&mut self) -> LexResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        std::str::from_utf8(d)
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| "Expected a number".into())
    }

    fn seq_num(&mut self) -> LexResult<SeqNum> {
        if self.eat(b'*') {
            return Ok(SeqNum::Star);
        }
        match self.number() {
            Ok(0) | Err(_) => Err("Invalid sequence set".into()),
            Ok(n) => Ok(SeqNum::Value(n)),
        }
    }

    /// `sequence-set` (`$` of SEARCHRES is not supported, as in WildDuck).
    pub(crate) fn sequence_set(&mut self) -> LexResult<SequenceSet> {
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_num()?;
            let b = if self.eat(b':') { self.seq_num()? } else { a };
            ranges.push((a, b));
            if !self.eat(b',') {
                break;
            }
        }
        if self.peek().is_some_and(|b| b != b' ' && b != b')') {
            return Err("Invalid sequence set".into());
        }
        Ok(SequenceSet(ranges))
    }

    /// Whether the next token looks like a sequence set.
    pub(crate) fn at_sequence_set(&self) -> bool {
        self.peek().is_some_and(|b| b.is_ascii_digit() || b == b'*')
    }

    /// One flag (`\Seen`, keyword), parsed by the core (system flags normalised; `\Recent` and
    /// unknown system flags refused).
    pub(crate) fn flag(&mut self) -> LexResult<Flag> {
        let start = self.pos;
        self.eat(b'\\');
        let name = self.take_while(is_atom_char);
        let raw = self.bytes.get(start..self.pos).unwrap_or_default();
        if name.is_empty() {
            return Err("Invalid flag".into());
        }
        let s = std::str::from_utf8(raw).map_err(|_| "Invalid flag")?;
        Flag::parse(s).map_err(|_| format!("Invalid flag {s}"))
    }

    /// `flag-list` = "(" [flag *(SP flag)] ")"; duplicates removed.
    pub(crate) fn flag_list(&mut self) -> LexResult<Vec<Flag>> {
        self.expect(b'(')?;
        let mut flags: Vec<Flag> = Vec::new();
        while self.eat(b' ') {}
        while !self.eat(b')') {
            if self.at_end() {
                return Err("Unterminated flag list".into());
            }
            let f = self.flag()?;
            if !flags.iter().any(|g| g.same(&f)) {
                flags.push(f);
            }
            if self.peek() != Some(b')') {
                self.sp()?;
            }
        }
        Ok(flags)
    }

    /// `date` = date-text / DQUOTE date-text DQUOTE (`1-Feb-1994`).
    pub(crate) fn date(&mut self) -> LexResult<SearchDate> {
        let quoted = self.eat(b'"');
        let day = self.digits(1, 2)?;
        self.expect(b'-')?;
        let month = self.month()?;
        self.expect(b'-')?;
        let year = self.digits(4, 4)?;
        if quoted {
            self.expect(b'"')?;
        }
        let day = u8::try_from(day).map_err(|_| "Invalid date")?;
        SearchDate::new(i32::try_from(year).unwrap_or(0), month, day)
            .ok_or_else(|| "Invalid date".into())
    }

    /// `date-time` = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE.
    pub(crate) fn date_time(&mut self) -> LexResult<Timestamp> {
        self.expect(b'"')?;
        self.eat(b' ');
        let day = self.digits(1, 2)?;
        self.expect(b'-')?;
        let month = self.month()?;
        self.expect(b'-')?;
        let year = self.digits(4, 4)?;
        self.expect(b' ')?;
        let h = self.digits(2, 2)?;
        self.expect(b':')?;
        let m = self.digits(2, 2)?;
        self.expect(b':')?;
        let s = self.digits(2, 2)?;
        self.expect(b' ')?;
        let sign: i64 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err("Invalid date-time zone".into());
        };
        let zh = self.digits(2, 2)?;
        let zm = self.digits(2, 2)?;
        self.expect(b'"')?;
        if h > 23 || m > 59 || s > 60 || zm > 59 {
            return Err("Invalid date-time".into());
        }
        let date = SearchDate::new(
            i32::try_from(year).unwrap_or(0),
            month,
            u8::try_from(day).unwrap_or(0),
        )
        .ok_or("Invalid date-time")?;
        let secs = i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s);
        let zone = sign * (i64::from(zh) * 3600 + i64::from(zm) * 60);
        Ok(Timestamp(date.start_ms() + (secs - zone) * 1000))
    }

    fn digits(&mut self, min: usize, max: usize) -> LexResult<u32> {
        let start = self.pos;
        while self.pos - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let d = self.bytes.get(start..self.pos).unwrap_or_default();
        // A longer run of digits fails on the separator the caller expects next.
        if d.len() < min {
            self.pos = start;
            return Err("Invalid date".into());
        }
        Ok(d.iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')))
    }

    fn month(&mut self) -> LexResult<u8> {
        let m = self
            .bytes
            .get(self.pos..self.pos + 3)
            .ok_or("Invalid date")?;
        let lower = m.to_ascii_lowercase();
        let index = MONTHS
            .iter()
            .position(|&name| name == lower.as_slice())
            .ok_or("Invalid month")?;
        self.pos += 3;
        u8::try_from(index + 1).map_err(|_| "Invalid month".into())
    }
}
