//! The resumable command framer: bytes from the socket in, complete command frames out.
//!
//! The session [`feed`](Framer::feed)s whatever it read and then calls [`next_event`](Framer::next_event) until it
//! answers [`FramerEvent::NeedMore`]. The framer knows the IMAP lexical rules that decide where a
//! command ends (lines, `{n}` and `{n+}` literals) and enforces the limits, so that a hostile client
//! can make it hold at most about one line, one small literal and one socket read:
//!
//! - a line (outside literals) longer than [`FramerConfig::max_line_length`] is an error, reported
//!   as soon as it is known, and the rest of the command is discarded as it arrives;
//! - a literal above [`FramerConfig::max_literal`] is allowed only in `APPEND` (WildDuck's rule);
//!   in `APPEND` it is not kept in the frame but handed out in chunks
//!   ([`FramerEvent::LiteralStart`], [`FramerEvent::LiteralData`]) so the session stores it once;
//! - an `APPEND` literal above [`FramerConfig::max_append_literal`] gives [`FrameErrorKind::TooBig`]
//!   at once: for a synchronising literal the session answers `NO [TOOBIG]` instead of `+`, so the
//!   client never sends it; a `LITERAL+` literal arrives anyway and is discarded as it streams in;
//! - the frame as a whole (lines plus small literals) is capped by
//!   [`FramerConfig::max_command_size`].
//!
//! A synchronising literal that is accepted gives [`FramerEvent::Continue`]: the session sends
//! `+ Go ahead` and the client sends the data. Lines end with CRLF; a bare LF is tolerated.
//!
//! The frame keeps the command text with each literal header followed by exactly `CRLF` and the
//! literal's bytes (none for a streamed literal); [`crate::proto::parse_command`] reads that form.

use std::fmt;

/// Limits of the framer. The defaults are WildDuck's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Longest line outside literals, without the line ending (WildDuck `maxLineLength`: 16,384).
    pub max_line_length: usize,
    /// Largest literal outside `APPEND`, and the largest `APPEND` literal kept inline (1 KiB).
    pub max_literal: u64,
    /// Largest `APPEND` literal (the message size limit; 64 MiB by default).
    pub max_append_literal: u64,
    /// Largest frame (lines plus inline literals) before the command is refused.
    pub max_command_size: usize,
    /// Largest chunk handed out by [`FramerEvent::LiteralData`].
    pub chunk_size: usize,
}

impl Default for FramerConfig {
    fn default() -> Self {
        Self {
            max_line_length: 16 * 1024,
            max_literal: 1024,
            max_append_literal: 64 * 1024 * 1024,
            max_command_size: 64 * 1024,
            chunk_size: 64 * 1024,
        }
    }
}

/// A complete command (or continuation line) as the client sent it, literals resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Vec<u8>,
    streamed: Option<(usize, u64)>,
}

impl Frame {
    /// A frame from raw normalised bytes (tests and continuation handling): literal headers must be
    /// followed by `CRLF` and their data.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            streamed: None,
        }
    }

    /// The frame's bytes: the command without its final line ending; every literal header is
    /// followed by `CRLF` and the literal data (nothing for the streamed `APPEND` literal).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The streamed literal, if any: the offset in [`bytes`](Self::bytes) right after its header's
    /// `CRLF`, and its size.
    pub fn streamed_literal(&self) -> Option<(usize, u64)> {
        self.streamed
    }

    /// The tag at the start of the frame, when it is a valid tag.
    pub fn tag(&self) -> Option<&str> {
        leading_tag(&self.bytes)
    }

    /// The frame as one line of text (for continuation responses such as SASL data or `DONE`);
    /// `None` when it holds literals or is not UTF-8.
    pub fn as_line(&self) -> Option<&str> {
        if self.streamed.is_some() || self.bytes.contains(&b'\n') {
            return None;
        }
        std::str::from_utf8(&self.bytes).ok()
    }

    /// Consumes the frame, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("bytes", &String::from_utf8_lossy(&self.bytes))
            .field("streamed", &self.streamed)
            .finish()
    }
}

/// What went wrong with a command at the framing level. The command is discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// A line longer than the limit (`BAD Command line too long`).
    LineTooLong,
    /// The command as a whole is too large.
    CommandTooLarge,
    /// A literal above the small-literal limit outside `APPEND` (`NO Literal too large`).
    LiteralTooLarge {
        /// The declared size.
        size: u64,
    },
    /// An `APPEND` literal above the message limit (`NO [TOOBIG]`).
    TooBig {
        /// The declared size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A literal header whose size is not a number we can hold (`BAD Invalid literal size`).
    InvalidLiteralSize,
}

/// A framing error with the tag of the command when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The command's tag (`None`: answer with `* BAD`).
    pub tag: Option<String>,
    /// What went wrong.
    pub kind: FrameErrorKind,
    /// Whether a refused literal was synchronising: the client is waiting for the answer instead
    /// of `+`. (For `LITERAL+` the framer discards the data that follows.) Always `false` for line
    /// and command size errors.
    pub synchronizing: bool,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FrameErrorKind::LineTooLong => f.write_str("Command line too long"),
            FrameErrorKind::CommandTooLarge => f.write_str("Command too large"),
            FrameErrorKind::LiteralTooLarge { .. } => f.write_str("Literal too large"),
            FrameErrorKind::TooBig { size, limit } => write!(
                f,
                "Message size exceeds allowed limit: attempted {size} bytes, but maximum allowed is {limit} bytes."
            ),
            FrameErrorKind::InvalidLiteralSize => f.write_str("Invalid literal size"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One step of framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerEvent {
    /// Nothing more can be done until more bytes are fed.
    NeedMore,
    /// A synchronising literal was accepted: send `+ Go ahead`.
    Continue,
    /// A large `APPEND` literal starts: `size` bytes follow as [`FramerEvent::LiteralData`]. When
    /// `continuation` is set the literal was synchronising: send `+ Go ahead` first.
    LiteralStart {
        /// The declared size.
        size: u64,
        /// Send `+ Go ahead` now.
        continuation: bool,
    },
    /// A chunk of the streamed literal (never empty).
    LiteralData(Vec<u8>),
    /// A complete command.
    Frame(Frame),
    /// A refused command (already discarded); answer it.
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line; the frame holds what came before.
    Line,
    /// Copying an inline literal into the frame.
    Literal(u64),
    /// Handing out a streamed literal.
    Stream(u64),
    /// Dropping a refused `LITERAL+` literal, then the rest of its command.
    Skip(u64),
    /// Dropping the rest of a refused command up to its final line ending.
    Discard,
}

/// Buffers larger than this are released when they become empty, so an idle connection holds no
/// memory from its last big command.
const KEEP_CAPACITY: usize = 2048;

/// The longest literal header tail we look for while discarding: `{` + 20 digits + `+}` + CR.
const TAIL_LEN: usize = 32;

/// The resumable framer; see the module documentation.
#[derive(Debug)]
pub struct Framer {
    config: FramerConfig,
    buf: Vec<u8>,
    /// Consumed prefix of `buf`.
    pos: usize,
    /// Where the line scan for LF resumes (absolute index into `buf`).
    scan: usize,
    state: State,
    frame: Vec<u8>,
    streamed: Option<(usize, u64)>,
    /// The last bytes of the line being discarded (to spot a `LITERAL+` header at its end).
    discard_tail: Vec<u8>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new(FramerConfig::default())
    }
}

impl Framer {
    /// A framer with the given limits.
    pub fn new(config: FramerConfig) -> Self {
        Self {
            config,
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            state: State::Line,
            frame: Vec::new(),
            streamed: None,
            discard_tail: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// Changes the limits (e.g. the message limit after login); applies to literals not yet seen.
    pub fn set_config(&mut self, config: FramerConfig) {
        self.config = config;
    }

    /// Adds bytes read from the client. Bytes of a literal being discarded are dropped here
    /// without being buffered.
    pub fn feed(&mut self, mut data: &[u8]) {
        if let State::Skip(remaining) = self.state
            && self.pos == self.buf.len()
        {
            let n = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            data = data.get(n..).unwrap_or_default();
            self.state = match remaining - n as u64 {
                0 => State::Discard,
                r => State::Skip(r),
            };
        }
        if data.is_empty() {
            return;
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scan = self.scan.saturating_sub(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes fed but not consumed yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Memory held by the framer's buffers (capacity), for tests and accounting.
    pub fn capacity(&self) -> usize {
        self.buf.capacity() + self.frame.capacity() + self.discard_tail.capacity()
    }

    /// Whether the framer is between commands (no partial command held).
    pub fn is_idle(&self) -> bool {
        self.state == State::Line && self.frame.is_empty() && self.buffered() == 0
    }

    /// Releases all buffer memory not holding data (call before a long wait such as IDLE).
    pub fn shrink(&mut self) {
        if self.buffered() == 0 {
            self.buf = Vec::new();
            self.pos = 0;
            self.scan = 0;
        }
        if self.frame.is_empty() {
            self.frame = Vec::new();
        }
        if self.discard_tail.is_empty() {
            self.discard_tail = Vec::new();
        }
    }

    /// The next event; call until [`FramerEvent::NeedMore`].
    pub fn next_event(&mut self) -> FramerEvent {
        loop {
            let step = match self.state {
                State::Line => self.step_line(),
                State::Literal(remaining) => self.step_literal(remaining),
                State::Stream(remaining) => self.step_stream(remaining),
                State::Skip(remaining) => self.step_skip(remaining),
                State::Discard => self.step_discard(),
            };
            match step {
                Some(FramerEvent::NeedMore) => {
                    self.release_if_empty();
                    return FramerEvent::NeedMore;
                }
                Some(event) => {
                    if matches!(event, FramerEvent::Frame(_)) {
                        self.release_if_empty();
                    }
                    return event;
                }
                None => {}
            }
        }
    }

    fn release_if_empty(&mut self) {
        if self.pos == self.buf.len() {
            self.pos = 0;
            self.scan = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
        if self.frame.is_empty() && self.frame.capacity() > KEEP_CAPACITY {
            self.frame = Vec::new();
        }
    }

    fn avail(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn tag(&self) -> Option<String> {
        leading_tag(&self.frame).map(str::to_string)
    }

    fn step_line(&mut self) -> Option<FramerEvent> {
        let from = self.scan.max(self.pos);
        let rest = self.buf.get(from..).unwrap_or_default();
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            self.scan = self.buf.len();
            let pending = self.buf.len() - self.pos;
            if pending > self.config.max_line_length.saturating_add(1) {
                // Too long already: refuse now and drop the rest as it arrives.
                let tag = if self.frame.is_empty() {
                    long_line_tag(self.avail(), self.config.max_line_length).map(str::to_string)
                } else {
                    self.tag()
                };
                let tail_from = self.buf.len().saturating_sub(TAIL_LEN);
                let tail = self.buf.get(tail_from..).unwrap_or_default().to_vec();
                self.discard_tail.clear();
                self.push_tail(&tail);
                self.pos = self.buf.len();
                self.scan = self.pos;
                self.frame.clear();
                self.streamed = None;
                self.state = State::Discard;
                return Some(FramerEvent::Error(FrameError {
                    tag,
                    kind: FrameErrorKind::LineTooLong,
                    synchronizing: false,
                }));
            }
            return Some(FramerEvent::NeedMore);
        };
        let end = from + lf;
        let mut line_end = end;
        if end > self.pos && self.buf.get(end - 1) == Some(&b'\r') {
            line_end -= 1;
        }
        let line_len = line_end - self.pos;
        let start = self.pos;
        self.pos = end + 1;
        self.scan = self.pos;
        if line_len > self.config.max_line_length {
            return Some(self.refuse_line(start, line_end, FrameErrorKind::LineTooLong));
        }
        if self.frame.len() + line_len > self.config.max_command_size {
            return Some(self.refuse_line(start, line_end, FrameErrorKind::CommandTooLarge));
        }
        let line = self.buf.get(start..line_end).unwrap_or_default();
        let literal = literal_header(line);
        self.frame.extend_from_slice(line);
        let Some(header) = literal else {
            let frame = Frame {
                bytes: std::mem::take(&mut self.frame),
                streamed: self.streamed.take(),
            };
            return Some(FramerEvent::Frame(frame));
        };
        let Some(size) = header.size else {
            return Some(self.refuse_literal(FrameErrorKind::InvalidLiteralSize, header));
        };
        let is_append =
            command_name(&self.frame).is_some_and(|c| c.eq_ignore_ascii_case(b"APPEND"));
        if size > self.config.max_literal {
            if !is_append || self.streamed.is_some() {
                return Some(self.refuse_literal(FrameErrorKind::LiteralTooLarge { size }, header));
            }
            if size > self.config.max_append_literal {
                let limit = self.config.max_append_literal;
                return Some(self.refuse_literal(FrameErrorKind::TooBig { size, limit }, header));
            }
            self.frame.extend_from_slice(b"\r\n");
            self.streamed = Some((self.frame.len(), size));
            self.state = State::Stream(size);
            return Some(FramerEvent::LiteralStart {
                size,
                continuation: !header.non_sync,
            });
        }
        let size_usize = usize::try_from(size).unwrap_or(usize::MAX);
        if self
            .frame
            .len()
            .saturating_add(size_usize)
            .saturating_add(2)
            > self.config.max_command_size
        {
            return Some(self.refuse_literal(FrameErrorKind::CommandTooLarge, header));
        }
        self.frame.extend_from_slice(b"\r\n");
        self.state = if size == 0 {
            State::Line
        } else {
            State::Literal(size)
        };
        if header.non_sync {
            None
        } else {
            Some(FramerEvent::Continue)
        }
    }

    fn step_literal(&mut self, remaining: u64) -> Option<FramerEvent> {
        let avail = self.buf.len() - self.pos;
        if avail == 0 {
            return Some(FramerEvent::NeedMore);
        }
        let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(avail);
        let chunk = self.buf.get(self.pos..self.pos + n).unwrap_or_default();
        self.frame.extend_from_slice(chunk);
        self.pos += n;
        self.scan = self.pos;
        let left = remaining - n as u64;
        self.state = if left == 0 {
            State::Line
        } else {
            State::Literal(left)
        };
        None
    }

    fn step_stream(&mut self, remaining: u64) -> Option<FramerEvent> {
        let avail = self.avail();
        if avail.is_empty() {
            return Some(FramerEvent::NeedMore);
        }
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(avail.len())
            .min(self.config.chunk_size.max(1));
        let chunk = avail.get(..n).unwrap_or_default().to_vec();
        self.pos += n;
        self.scan = self.pos;
        let left = remaining - n as u64;
        self.state = if left == 0 {
            State::Line
        } else {
            State::Stream(left)
        };
        Some(FramerEvent::LiteralData(chunk))
    }

    fn step_skip(&mut self, remaining: u64) -> Option<FramerEvent> {
        let avail = self.buf.len() - self.pos;
        if avail == 0 {
            return Some(FramerEvent::NeedMore);
        }
        let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(avail);
        self.pos += n;
        self.scan = self.pos;
        let left = remaining - n as u64;
        self.state = if left == 0 {
            State::Discard
        } else {
            State::Skip(left)
        };
        None
    }

    fn step_discard(&mut self) -> Option<FramerEvent> {
        let avail = self.avail();
        let Some(lf) = avail.iter().position(|&b| b == b'\n') else {
            let tail_from = avail.len().saturating_sub(TAIL_LEN);
            let tail = avail.get(tail_from..).unwrap_or_default().to_vec();
            self.push_tail(&tail);
            self.pos = self.buf.len();
            self.scan = self.pos;
            return Some(FramerEvent::NeedMore);
        };
        let line = avail.get(..lf).unwrap_or_default();
        let tail_from = line.len().saturating_sub(TAIL_LEN);
        let tail = line.get(tail_from..).unwrap_or_default().to_vec();
        self.push_tail(&tail);
        self.pos += lf + 1;
        self.scan = self.pos;
        let mut tail = std::mem::take(&mut self.discard_tail);
        if tail.last() == Some(&b'\r') {
            tail.pop();
        }
        let header = literal_header(&tail);
        tail.clear();
        self.discard_tail = tail;
        // The discarded command goes on after a LITERAL+ literal: drop that too. At the end of the
        // command, or at a synchronising literal the client waits on (it gets our error instead of
        // `+`), framing starts afresh.
        self.apply_refusal(header);
        None
    }

    fn push_tail(&mut self, bytes: &[u8]) {
        self.discard_tail.extend_from_slice(bytes);
        let excess = self.discard_tail.len().saturating_sub(TAIL_LEN);
        if excess > 0 {
            self.discard_tail.drain(..excess);
        }
    }

    fn reset(&mut self) {
        self.state = State::Line;
        self.frame.clear();
        if self.frame.capacity() > KEEP_CAPACITY {
            self.frame = Vec::new();
        }
        self.streamed = None;
    }

    /// A complete line broke a limit: refuse the command; a literal at its end is handled as for a
    /// refused literal.
    fn refuse_line(&mut self, start: usize, line_end: usize, kind: FrameErrorKind) -> FramerEvent {
        let line = self.buf.get(start..line_end).unwrap_or_default();
        let tag = if !self.frame.is_empty() {
            self.tag()
        } else if kind == FrameErrorKind::LineTooLong {
            long_line_tag(line, self.config.max_line_length).map(str::to_string)
        } else {
            leading_tag(line).map(str::to_string)
        };
        // Only the last TAIL_LEN bytes, as when the line is discarded while it streams in.
        let header = literal_header(
            line.get(line.len().saturating_sub(TAIL_LEN)..)
                .unwrap_or_default(),
        );
        self.apply_refusal(header);
        // Not "synchronizing" even when the line ended in `{n}`: the same line arriving in pieces
        // is refused before its end is seen, and the answer must not depend on how bytes arrived.
        FramerEvent::Error(FrameError {
            tag,
            kind,
            synchronizing: false,
        })
    }

    /// The literal announced at the end of the current frame is refused.
    fn refuse_literal(&mut self, kind: FrameErrorKind, header: LiteralHeader) -> FramerEvent {
        let tag = self.tag();
        self.apply_refusal(Some(header));
        FramerEvent::Error(FrameError {
            tag,
            kind,
            synchronizing: !header.non_sync,
        })
    }

    fn apply_refusal(&mut self, header: Option<LiteralHeader>) {
        self.reset();
        match header {
            Some(LiteralHeader {
                non_sync: true,
                size: Some(size),
            }) => {
                self.state = if size == 0 {
                    State::Discard
                } else {
                    State::Skip(size)
                };
            }
            Some(LiteralHeader {
                non_sync: true,
                size: None,
            }) => {
                // A LITERAL+ size we cannot count: nothing sane follows; drop up to the next line.
                self.state = State::Discard;
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiteralHeader {
    /// `None` when the digits do not fit a u64.
    size: Option<u64>,
    non_sync: bool,
}

/// A literal header `{digits}` or `{digits+}` ending the line.
fn literal_header(line: &[u8]) -> Option<LiteralHeader> {
    let body = line.strip_suffix(b"}")?;
    let (body, non_sync) = match body.strip_suffix(b"+") {
        Some(b) => (b, true),
        None => (body, false),
    };
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = body.get(open + 1..)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    Some(LiteralHeader { size, non_sync })
}

/// Whether `b` may appear in a tag (RFC 3501: ASTRING-CHAR except `+`).
pub(crate) fn is_tag_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
        && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

/// The tag at the start of `bytes`, when it is a valid tag followed by a space or the end.
pub(crate) fn leading_tag(bytes: &[u8]) -> Option<&str> {
    let end = bytes
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len());
    let tag = bytes.get(..end)?;
    if tag.is_empty() || !tag.iter().all(|&b| is_tag_char(b)) {
        return None;
    }
    std::str::from_utf8(tag).ok()
}

/// The tag of a line that broke the length limit, looking only at its first `limit` bytes, so the
/// answer is the same whether the line was refused before or after its end arrived.
fn long_line_tag(line: &[u8], limit: usize) -> Option<&str> {
    let view = line.get(..limit.min(line.len()))?;
    let sp = view.iter().position(|&b| b == b' ')?;
    leading_tag(view.get(..sp)?)
}

/// The command name (second word) of a frame.
fn command_name(bytes: &[u8]) -> Option<&[u8]> {
    let sp = bytes.iter().position(|&b| b == b' ')?;
    let rest = bytes.get(sp + 1..)?;
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_headers() {
        assert_eq!(
            literal_header(b"A LOGIN {5}"),
            Some(LiteralHeader {
                size: Some(5),
                non_sync: false
            })
        );
        assert_eq!(
            literal_header(b"{12+}"),
            Some(LiteralHeader {
                size: Some(12),
                non_sync: true
            })
        );
        assert_eq!(literal_header(b"A {}"), None);
        assert_eq!(literal_header(b"A {1a}"), None);
        assert_eq!(
            literal_header(b"{99999999999999999999999}"),
            Some(LiteralHeader {
                size: None,
                non_sync: false
            })
        );
    }

    #[test]
    fn tags() {
        assert_eq!(leading_tag(b"a1 NOOP"), Some("a1"));
        assert_eq!(leading_tag(b"a+1 NOOP"), None);
        assert_eq!(leading_tag(b" NOOP"), None);
        assert_eq!(command_name(b"a1 append x"), Some(&b"append"[..]));
    }
}
