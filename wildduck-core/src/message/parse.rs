//! Parsing raw bytes into the exact-partition MIME tree.
//!
//! The parser never drops or invents a byte: every byte of its input ends up in exactly one field of one
//! [`MimeNode`], so [`crate::message::rebuild`] can give the input back by concatenation. It works on
//! CRLF-normalised input ([`normalize_line_endings`]); fed anything else it still partitions the bytes
//! exactly, it only finds fewer line ends.
//!
//! Structure rules (RFC 2045/2046, tolerant where real mail is broken):
//! - the header section ends at the first empty line; without one the entity is header-only;
//! - a `multipart/*` entity with a non-empty `boundary` parameter and at least one delimiter line is a
//!   [`NodeBody::Multipart`] (which therefore always has at least one part); otherwise it is a leaf;
//! - a delimiter line is `--boundary`, optional transport padding (spaces, tabs), then CRLF or the end of
//!   the input; the CRLF before it belongs to the delimiter. `--boundary--` likewise closes. Because a
//!   part's bytes are cut where its parent's delimiter starts, a nested multipart that is never closed
//!   ends at the next delimiter of any enclosing multipart, as MUAs do;
//! - `message/rfc822` and `message/global` with an identity transfer encoding are parsed as nested
//!   messages;
//! - nesting deeper than [`MAX_DEPTH`] is not parsed further (the deeper entity becomes a leaf), so
//!   hostile input cannot exhaust the stack.

use std::borrow::Cow;

use memchr::memmem;

use super::header;
use super::tree::{BodyContent, LeafBody, MimeNode, Multipart, NodeBody, Part};

/// Deepest nesting of multiparts and embedded messages that is parsed; entities below it are leaves.
pub const MAX_DEPTH: usize = 64;

/// Turns every bare LF into CRLF. CRLF pairs and lone CRs are left as they are. Borrows when there is
/// nothing to change.
pub fn normalize_line_endings(raw: &[u8]) -> Cow<'_, [u8]> {
    let first_bare = memchr::memchr_iter(b'\n', raw).find(|&i| i == 0 || raw[i - 1] != b'\r');
    let Some(first_bare) = first_bare else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    out.extend_from_slice(&raw[..first_bare]);
    let mut copied = first_bare;
    for i in memchr::memchr_iter(b'\n', &raw[first_bare..]).map(|i| i + first_bare) {
        if i == 0 || raw[i - 1] != b'\r' {
            out.extend_from_slice(&raw[copied..i]);
            out.extend_from_slice(b"\r\n");
            copied = i + 1;
        }
    }
    out.extend_from_slice(&raw[copied..]);
    Cow::Owned(out)
}

/// Normalises line endings, then parses: the usual entry point for a message as received.
pub fn normalize_and_parse(raw: &[u8]) -> MimeNode {
    parse(&normalize_line_endings(raw))
}

/// Parses CRLF-normalised message bytes into the MIME tree. Never fails: broken structure becomes
/// preamble, epilogue or leaf bytes.
pub fn parse(raw: &[u8]) -> MimeNode {
    parse_entity(raw, false, 0)
}

/// Parses one entity (a message or a body part). `in_digest` selects the `multipart/digest` default
/// content type; `depth` counts the multiparts and embedded messages above this entity.
fn parse_entity(bytes: &[u8], in_digest: bool, depth: usize) -> MimeNode {
    let (header_end, has_separator) = split_header(bytes);
    let header_bytes = bytes.get(..header_end).unwrap_or(bytes);
    let body_start = if has_separator {
        header_end + 2
    } else {
        bytes.len()
    };
    let body = bytes.get(body_start..).unwrap_or(&[]);

    let ct = header::first(header_bytes, "content-type").and_then(|f| parse_content_type(f.value));
    let content_type = match &ct {
        Some(ct) => ct.mime_type(),
        None if in_digest => "message/rfc822".to_owned(),
        None => "text/plain".to_owned(),
    };
    let transfer_encoding = header::first(header_bytes, "content-transfer-encoding").map(|f| {
        String::from_utf8_lossy(&f.unfolded())
            .trim()
            .to_ascii_lowercase()
    });

    let node_body = if depth >= MAX_DEPTH {
        leaf(body)
    } else if content_type.starts_with("multipart/") {
        let boundary = ct
            .as_ref()
            .and_then(|ct| ct.param("boundary"))
            .filter(|b| !b.is_empty());
        match boundary {
            Some(boundary) => {
                let digest = content_type == "multipart/digest";
                parse_multipart(body, boundary, digest, depth + 1).unwrap_or_else(|| leaf(body))
            }
            None => leaf(body),
        }
    } else if (content_type == "message/rfc822" || content_type == "message/global")
        && is_identity_encoding(transfer_encoding.as_deref())
    {
        NodeBody::Message(Box::new(parse_entity(body, false, depth + 1)))
    } else {
        leaf(body)
    };

    MimeNode {
        header: header_bytes.to_vec(),
        has_separator,
        content_type,
        transfer_encoding,
        body: node_body,
    }
}

/// Whether a Content-Transfer-Encoding leaves the bytes as they are (so an embedded message can be
/// parsed in place).
pub fn is_identity_encoding(cte: Option<&str>) -> bool {
    matches!(cte, None | Some("" | "7bit" | "8bit" | "binary"))
}

/// Where the header section ends: `(end of header bytes, whether an empty line follows)`. The empty
/// line itself (`\r\n`) is at `end..end + 2` when present.
fn split_header(bytes: &[u8]) -> (usize, bool) {
    if bytes.starts_with(b"\r\n") {
        return (0, true);
    }
    match memmem::find(bytes, b"\r\n\r\n") {
        Some(i) => (i + 2, true),
        None => (bytes.len(), false),
    }
}

fn leaf(body: &[u8]) -> NodeBody {
    NodeBody::Leaf(LeafBody {
        content: BodyContent::Inline(body.to_vec()),
        size: body.len() as u64,
        lines: count_lines(body),
    })
}

/// Number of CRLF-terminated lines.
pub fn count_lines(body: &[u8]) -> u64 {
    memmem::find_iter(body, b"\r\n").count() as u64
}

/// What kind of boundary line starts at a line start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Delimiter,
    Close,
}

/// A boundary line found in a multipart body.
#[derive(Debug, Clone, Copy)]
struct BoundaryLine {
    /// Start of the delimiter bytes (the preceding CRLF when there is one).
    start: usize,
    /// Just past the line's CRLF (or the end of input).
    end: usize,
    kind: LineKind,
}

/// Finds boundary lines of one boundary, left to right, in linear time.
struct BoundaryScanner<'a> {
    body: &'a [u8],
    dashes: Vec<u8>,
    finder: memmem::Finder<'a>,
}

impl<'a> BoundaryScanner<'a> {
    fn new(body: &'a [u8], boundary: &[u8]) -> Self {
        let mut needle = Vec::with_capacity(boundary.len() + 4);
        needle.extend_from_slice(b"\r\n--");
        needle.extend_from_slice(boundary);
        let finder = memmem::Finder::new(&needle).into_owned();
        BoundaryScanner {
            body,
            dashes: needle[2..].to_vec(),
            finder,
        }
    }

    /// The next boundary line whose first byte is at or after `from`, where `from` is a line start
    /// (the start of the body or just past a delimiter line).
    fn next(&self, from: usize) -> Option<BoundaryLine> {
        let body = self.body;
        // A delimiter can start right at `from` with no CRLF before it (the CRLF, if any, was taken by
        // the previous delimiter line, or this is the start of the body).
        if body
            .get(from..)
            .is_some_and(|rest| rest.starts_with(&self.dashes))
            && let Some((end, kind)) = self.classify(from + self.dashes.len())
        {
            return Some(BoundaryLine {
                start: from,
                end,
                kind,
            });
        }
        let mut pos = from;
        while let Some(hit) = body.get(pos..).and_then(|rest| self.finder.find(rest)) {
            let start = pos + hit;
            if let Some((end, kind)) = self.classify(start + 2 + self.dashes.len()) {
                return Some(BoundaryLine { start, end, kind });
            }
            pos = start + 1;
        }
        None
    }

    /// Checks what follows `--boundary` at `after`: optional `--`, transport padding, CRLF or the end.
    fn classify(&self, after: usize) -> Option<(usize, LineKind)> {
        let rest = self.body.get(after..)?;
        let (kind, mut i) = if rest.starts_with(b"--") {
            (LineKind::Close, 2)
        } else {
            (LineKind::Delimiter, 0)
        };
        while rest.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        if i == rest.len() {
            Some((after + i, kind))
        } else if rest.get(i..i + 2) == Some(b"\r\n") {
            Some((after + i + 2, kind))
        } else {
            None
        }
    }
}

/// Splits a multipart body on `boundary`. `None` when no delimiter line opens a part (the caller keeps
/// the body as a leaf).
fn parse_multipart(body: &[u8], boundary: &[u8], digest: bool, depth: usize) -> Option<NodeBody> {
    let scanner = BoundaryScanner::new(body, boundary);
    let first = scanner.next(0)?;
    if first.kind != LineKind::Delimiter {
        return None;
    }
    let preamble = body.get(..first.start)?.to_vec();
    let mut parts = Vec::new();
    let mut delimiter = body.get(first.start..first.end)?;
    let mut part_start = first.end;
    let mut close = None;
    let mut epilogue_start = body.len();
    loop {
        match scanner.next(part_start) {
            Some(line) => {
                let part_bytes = body.get(part_start..line.start).unwrap_or(&[]);
                parts.push(Part {
                    delimiter: delimiter.to_vec(),
                    node: parse_entity(part_bytes, digest, depth),
                });
                let line_bytes = body.get(line.start..line.end).unwrap_or(&[]);
                match line.kind {
                    LineKind::Delimiter => {
                        delimiter = line_bytes;
                        part_start = line.end;
                    }
                    LineKind::Close => {
                        close = Some(line_bytes.to_vec());
                        epilogue_start = line.end;
                        break;
                    }
                }
            }
            None => {
                // Never closed: the last part runs to the end.
                let part_bytes = body.get(part_start..).unwrap_or(&[]);
                parts.push(Part {
                    delimiter: delimiter.to_vec(),
                    node: parse_entity(part_bytes, digest, depth),
                });
                break;
            }
        }
    }
    Some(NodeBody::Multipart(Multipart {
        boundary: boundary.to_vec(),
        preamble,
        parts,
        close,
        epilogue: body.get(epilogue_start..).unwrap_or(&[]).to_vec(),
    }))
}

/// A parsed Content-Type value: lower-cased type and subtype plus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Lower-cased media type (`text`).
    pub main: String,
    /// Lower-cased subtype (`plain`).
    pub sub: String,
    /// Parameters in order: lower-cased name, value with quotes and escapes removed. RFC 2231 continuations
    /// and charset prefixes are resolved for names ending in `*`, stored under the bare name.
    pub params: Vec<(String, Vec<u8>)>,
}

impl ContentType {
    /// `type/subtype`.
    pub fn mime_type(&self) -> String {
        format!("{}/{}", self.main, self.sub)
    }

    /// The first parameter named `name` (lower-case).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Parses a raw (possibly folded) Content-Type value. `None` when it has no valid `type/subtype`, in
/// which case RFC 2045 says to use the default.
pub fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let value = header::unfold(value);
    let mut p = ParamParser { s: &value, i: 0 };
    p.skip_cfws();
    let main = p.token();
    p.skip_cfws();
    if !p.eat(b'/') {
        return None;
    }
    p.skip_cfws();
    let sub = p.token();
    if main.is_empty() || sub.is_empty() {
        return None;
    }
    let mut raw_params: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        // Skip to the next ';' (tolerates junk after a value).
        while p.i < p.s.len() && p.s[p.i] != b';' {
            if p.s[p.i] == b'"' {
                p.quoted();
            } else {
                p.i += 1;
            }
        }
        if !p.eat(b';') {
            break;
        }
        p.skip_cfws();
        let name = p.token();
        p.skip_cfws();
        if name.is_empty() || !p.eat(b'=') {
            continue;
        }
        p.skip_cfws();
        let val = if p.s.get(p.i) == Some(&b'"') {
            p.quoted()
        } else {
            p.value_token().to_vec()
        };
        raw_params.push((String::from_utf8_lossy(name).to_ascii_lowercase(), val));
    }
    Some(ContentType {
        main: String::from_utf8_lossy(main).to_ascii_lowercase(),
        sub: String::from_utf8_lossy(sub).to_ascii_lowercase(),
        params: resolve_rfc2231(raw_params),
    })
}

/// One `name*n[*]=value` piece: index, whether it is extended (percent-encoded), value.
type Rfc2231Piece = (u32, bool, Vec<u8>);

/// Joins RFC 2231 continuations (`name*0`, `name*1*`, …) and strips `charset'lang'` from extended
/// values (percent-decoded), keeping plain parameters first when both forms exist.
fn resolve_rfc2231(raw: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut plain: Vec<(String, Vec<u8>)> = Vec::new();
    // name -> pieces (index, extended, value)
    let mut ext: Vec<(String, Vec<Rfc2231Piece>)> = Vec::new();
    for (name, value) in raw {
        let Some(star) = name.find('*') else {
            plain.push((name, value));
            continue;
        };
        let base = name[..star].to_owned();
        let rest = &name[star + 1..];
        let (index, extended) = if rest.is_empty() {
            (0, true)
        } else {
            let (num, extended) = match rest.strip_suffix('*') {
                Some(n) => (n, true),
                None => (rest, false),
            };
            match num.parse::<u32>() {
                Ok(n) => (n, extended),
                Err(_) => continue,
            }
        };
        match ext.iter_mut().find(|(n, _)| *n == base) {
            Some((_, pieces)) => pieces.push((index, extended, value)),
            None => ext.push((base, vec![(index, extended, value)])),
        }
    }
    for (name, mut pieces) in ext {
        if plain.iter().any(|(n, _)| *n == name) {
            continue;
        }
        pieces.sort_by_key(|(i, _, _)| *i);
        let mut joined = Vec::new();
        for (pos, (_, extended, value)) in pieces.iter().enumerate() {
            let mut v: &[u8] = value;
            if pos == 0 && *extended {
                // Drop `charset'language'`.
                let quotes: Vec<usize> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\'')
                    .map(|(i, _)| i)
                    .take(2)
                    .collect();
                if let [_, second] = quotes[..] {
                    v = v.get(second + 1..).unwrap_or(&[]);
                }
            }
            if *extended {
                joined.extend(percent_decode(v));
            } else {
                joined.extend_from_slice(v);
            }
        }
        plain.push((name, joined));
    }
    plain
}

fn percent_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && let (Some(h), Some(l)) = (
                v.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                v.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

/// A tiny cursor over an unfolded header value (RFC 2045 tokens, quoted strings, comments).
struct ParamParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> ParamParser<'a> {
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skips white space and (nested) comments.
    fn skip_cfws(&mut self) {
        loop {
            while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
                self.i += 1;
            }
            if self.s.get(self.i) != Some(&b'(') {
                return;
            }
            let mut level = 0usize;
            while let Some(&b) = self.s.get(self.i) {
                self.i += 1;
                match b {
                    b'\\' => self.i += 1,
                    b'(' => level += 1,
                    b')' => {
                        level = level.saturating_sub(1);
                        if level == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// A run of token characters (stops at white space, controls and the tspecials that structure a
    /// Content-Type value).
    fn token(&mut self) -> &'a [u8] {
        self.run(|b| !matches!(b, b';' | b'=' | b'"' | b'(' | b')' | b'/' | b','))
    }

    /// An unquoted parameter value. Tolerant: real mail has unquoted `=`, `/` and other tspecials in
    /// boundaries (`----=_Part_1`), so only `;`, `"`, white space and controls end it.
    fn value_token(&mut self) -> &'a [u8] {
        self.run(|b| !matches!(b, b';' | b'"'))
    }

    fn run(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|&b| b > b' ' && b != 0x7f && ok(b))
        {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or(&[])
    }

    /// A quoted string starting at the current `"`; returns its content with escapes removed. An
    /// unterminated string runs to the end.
    fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.i += 1;
        while let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(&n) = self.s.get(self.i) {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_only_touches_bare_lf() {
        assert_eq!(&*normalize_line_endings(b"a\r\nb"), b"a\r\nb");
        assert!(matches!(
            normalize_line_endings(b"a\r\nb"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            &*normalize_line_endings(b"a\nb\r\nc\rd\n"),
            b"a\r\nb\r\nc\rd\r\n"
        );
        assert_eq!(&*normalize_line_endings(b"\n\n"), b"\r\n\r\n");
        assert_eq!(&*normalize_line_endings(b"\r\r\n\r"), b"\r\r\n\r");
    }

    #[test]
    fn content_type_params() {
        let ct = parse_content_type(b" Multipart/Mixed; boundary=\"a b\\\"c\"; charset=utf-8 (x)")
            .unwrap();
        assert_eq!(ct.mime_type(), "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some(&b"a b\"c"[..]));
        assert_eq!(ct.param("charset"), Some(&b"utf-8"[..]));
        let ct = parse_content_type(b"multipart/mixed;\r\n\tboundary=----=_Part_1/2.3").unwrap();
        assert_eq!(ct.param("boundary"), Some(&b"----=_Part_1/2.3"[..]));
        let ct = parse_content_type(b"multipart/mixed; boundary*0=ab; boundary*1*=%41c").unwrap();
        assert_eq!(ct.param("boundary"), Some(&b"abAc"[..]));
        let ct = parse_content_type(b"text/plain; name*=utf-8''%C3%A4.txt").unwrap();
        assert_eq!(ct.param("name"), Some("ä.txt".as_bytes()));
        assert!(parse_content_type(b"garbage").is_none());
        assert!(parse_content_type(b"text/").is_none());
    }

    #[test]
    fn multipart_structure() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b \r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepi";
        let node = parse(msg);
        let NodeBody::Multipart(mp) = &node.body else {
            panic!("not multipart: {node:?}");
        };
        assert_eq!(mp.preamble, b"pre");
        assert_eq!(mp.parts.len(), 2);
        assert_eq!(mp.parts[0].delimiter, b"\r\n--b \r\n");
        assert_eq!(mp.parts[0].node.header, b"A: 1\r\n");
        assert_eq!(mp.parts[1].delimiter, b"\r\n--b\r\n");
        assert_eq!(mp.close.as_deref(), Some(&b"\r\n--b--\r\n"[..]));
        assert_eq!(mp.epilogue, b"epi");
        let NodeBody::Leaf(l) = &mp.parts[1].node.body else {
            panic!()
        };
        assert_eq!(l.content, BodyContent::Inline(b"two".to_vec()));
        assert_eq!(l.lines, 0);
    }

    #[test]
    fn unclosed_inner_multipart_ends_at_outer_delimiter() {
        let msg = b"Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\n\r\nx\r\n--out\r\n\r\ny\r\n--out--\r\n";
        let node = parse(msg);
        let NodeBody::Multipart(mp) = &node.body else {
            panic!()
        };
        assert_eq!(mp.parts.len(), 2);
        let NodeBody::Multipart(inner) = &mp.parts[0].node.body else {
            panic!()
        };
        assert_eq!(inner.parts.len(), 1);
        assert!(inner.close.is_none());
        assert_eq!(mp.parts[1].delimiter, b"\r\n--out\r\n");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut msg = Vec::new();
        for i in 0..200 {
            msg.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        msg.extend_from_slice(b"\r\nend");
        let node = parse(&msg);
        let mut depth = 0;
        let mut cur = &node;
        while let NodeBody::Multipart(mp) = &cur.body {
            cur = &mp.parts[0].node;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }
}
