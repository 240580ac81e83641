//! POP3 syntax: framing client lines (with a length limit), parsing commands, and the byte work of
//! multi-line answers (dot-stuffing, TOP's cut).

/// The longest command line accepted, CRLF included. RFC 2449 allows 255 octets; an `AUTH PLAIN`
/// initial response with long credentials needs more, so the default is generous.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// A client line that is too long; the session answers `-ERR` and closes (it cannot resynchronise
/// safely inside an unknown command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// Bytes read from the client, split into lines on LF (a CR before it is dropped).
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
}

impl LineBuffer {
    /// An empty buffer refusing lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::with_capacity(1024),
            max,
        }
    }

    /// Appends bytes read from the socket.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete line without its line ending; `Ok(None)` when more input is needed.
    pub fn next_line(&mut self) -> Result<Option<String>, LineTooLong> {
        match memchr::memchr(b'\n', &self.buf) {
            Some(i) => {
                if i + 1 > self.max {
                    return Err(LineTooLong);
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(String::from_utf8_lossy(&line).into_owned()))
            }
            None if self.buf.len() >= self.max => Err(LineTooLong),
            None => Ok(None),
        }
    }

    /// Whether a complete line is waiting (more pipelined commands).
    pub fn has_line(&self) -> bool {
        memchr::memchr(b'\n', &self.buf).is_some()
    }

    /// Drops everything buffered (after STLS: bytes sent in plaintext before the handshake must
    /// not be executed as if they were protected).
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// A parsed command line: the upper-cased keyword and its argument text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The keyword, upper case (`RETR`).
    pub name: String,
    /// Everything after the first space, trimmed (`"1"`); empty when none.
    pub args: String,
}

/// Splits a line into keyword and arguments (WildDuck: `line.trim().split(' ')`).
pub fn parse_command(line: &str) -> CommandLine {
    let line = line.trim();
    let (name, args) = line.split_once(' ').unwrap_or((line, ""));
    CommandLine {
        name: name.to_ascii_uppercase(),
        args: args.trim().to_string(),
    }
}

/// A message number argument: 1-based decimal without sign, at most 10 digits; `None` when
/// malformed or zero.
pub fn parse_number(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<usize>().ok().filter(|n| *n > 0)
}

/// A line count for TOP: decimal, zero allowed.
pub fn parse_count(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<usize>().ok()
}

/// Appends `data` to `out` as the body of a multi-line answer: a `.` at the start of a line is
/// doubled, a CRLF is added when `data` does not end a line, then the terminating `.` line.
pub fn dot_stuff_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 64 + 5);
    let mut at_line_start = true;
    let mut rest = data;
    while !rest.is_empty() {
        if at_line_start && rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let (line, tail) = rest.split_at(i + 1);
                out.extend_from_slice(line);
                rest = tail;
                at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
                at_line_start = false;
            }
        }
    }
    if !data.is_empty() && !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// TOP's part of a message: the header block with the blank line after it, then the first `lines`
/// lines of the body. A message without a blank line is all header.
pub fn top_part(raw: &[u8], lines: usize) -> &[u8] {
    let header_end = header_end(raw);
    let mut end = header_end;
    let mut left = lines;
    while left > 0 && end < raw.len() {
        match raw.get(end..).and_then(|r| memchr::memchr(b'\n', r)) {
            Some(i) => end += i + 1,
            None => end = raw.len(),
        }
        left -= 1;
    }
    raw.get(..end).unwrap_or(raw)
}

/// Offset just after the blank line that ends the header (CRLF CRLF or LF LF), or the length.
fn header_end(raw: &[u8]) -> usize {
    let mut pos = 0;
    while pos < raw.len() {
        let Some(i) = raw.get(pos..).and_then(|r| memchr::memchr(b'\n', r)) else {
            return raw.len();
        };
        let next = pos + i + 1;
        match raw.get(next..) {
            Some([b'\r', b'\n', ..]) => return next + 2,
            Some([b'\n', ..]) => return next + 1,
            _ => pos = next,
        }
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_lf_and_refuse_long_input() {
        let mut b = LineBuffer::new(16);
        b.extend(b"USER a\r\nPASS b\nST");
        assert_eq!(b.next_line(), Ok(Some("USER a".into())));
        assert!(b.has_line());
        assert_eq!(b.next_line(), Ok(Some("PASS b".into())));
        assert_eq!(b.next_line(), Ok(None));
        b.extend(b"AT\r\n");
        assert_eq!(b.next_line(), Ok(Some("STAT".into())));
        b.extend(&[b'x'; 16]);
        assert_eq!(b.next_line(), Err(LineTooLong));
        let mut c = LineBuffer::new(8);
        c.extend(b"123456789\r\n");
        assert_eq!(c.next_line(), Err(LineTooLong));
        let mut d = LineBuffer::new(8);
        d.extend(b"\xff\xfe\r\n");
        assert_eq!(d.next_line(), Ok(Some("\u{fffd}\u{fffd}".into())));
    }

    #[test]
    fn commands_and_numbers() {
        assert_eq!(
            parse_command("  retr  12 "),
            CommandLine {
                name: "RETR".into(),
                args: "12".into()
            }
        );
        assert_eq!(parse_command("").name, "");
        assert_eq!(parse_number("1"), Some(1));
        for bad in ["0", "-1", "+1", "1.0", "", "x", "12345678901", " 1"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
        assert_eq!(parse_count("0"), Some(0));
    }

    #[test]
    fn dot_stuffing() {
        let mut out = Vec::new();
        dot_stuff_into(b".a\r\nb\r\n..c\r\n.\r\n", &mut out);
        assert_eq!(out, b"..a\r\nb\r\n...c\r\n..\r\n.\r\n");
        let mut out = Vec::new();
        dot_stuff_into(b"no final newline", &mut out);
        assert_eq!(out, b"no final newline\r\n.\r\n");
        let mut out = Vec::new();
        dot_stuff_into(b"", &mut out);
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn top_cuts_after_the_header() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top_part(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top_part(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top_part(m, 99), m);
        assert_eq!(top_part(b"A: 1\nB: 2\n\nx\n", 0), b"A: 1\nB: 2\n\n");
        assert_eq!(top_part(b"A: 1\r\nB", 5), b"A: 1\r\nB");
        assert_eq!(top_part(b"", 5), b"");
        assert_eq!(
            top_part(b"A: 1\r\n\r\nbody no newline", 1),
            b"A: 1\r\n\r\nbody no newline"
        );
    }
}
