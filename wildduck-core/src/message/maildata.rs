//! Derived data kept beside the tree: indexed headers, Message-ID, subject, dates, text/html/intro,
//! attachments, thread keys.
//!
//! This is what WildDuck's `prepareMessage`, `getMaildata` and the truncation steps of `add` compute
//! (inventory §4.2 `messages`, §5.2). Differences from WildDuck, all deliberate:
//!
//! - Header bytes that are not valid UTF-8 are read as Windows-1252 (WildDuck replaces them with U+FFFD),
//!   so raw Latin-1 headers stay searchable.
//! - A text part without a `charset` parameter is read as UTF-8 when it is valid UTF-8, else as
//!   Windows-1257 (WildDuck always uses Windows-1257).
//! - Lengths (`text` 1 KiB, `textFooter`, intro 128) count Unicode scalar values where WildDuck counts
//!   UTF-16 units; the HTML budget is enforced exactly in bytes (WildDuck can overshoot it).
//! - Text converted to HTML keeps non-ASCII characters as they are instead of as named entities.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{HeaderValue, MessageParser};
use sha1::Digest as _;

use super::header;
use super::tree::{BodyContent, BodySource, MimeNode, NodeBody, StoredEncoding, StoredRef};

/// Headers WildDuck indexes for IMAP `SEARCH HEADER` (`lib/message-handler.js` `INDEXED_HEADERS`).
pub const INDEXED_HEADERS: [&str; 10] = [
    "to",
    "cc",
    "subject",
    "from",
    "sender",
    "reply-to",
    "message-id",
    "thread-index",
    "list-id",
    "delivered-to",
];

/// Characters of plain text kept in the full-text indexed `text` field (`MAX_PLAINTEXT_INDEXED`).
pub const MAX_PLAINTEXT_INDEXED: usize = 1024;
/// Characters of plain text kept in `text` + `textFooter` together (`MAX_PLAINTEXT_CONTENT`).
pub const MAX_PLAINTEXT_CONTENT: usize = 100 * 1024;
/// Bytes of HTML kept over all `html` entries (`MAX_HTML_CONTENT`).
pub const MAX_HTML_CONTENT: usize = 640 * 1024;
/// HTML parts at least this long are not converted to text (`MAX_HTML_PARSE_LENGTH`).
pub const MAX_HTML_PARSE_LENGTH: usize = 2 * 1024 * 1024;
/// Longest indexed header value in bytes before truncation (a MongoDB index key limit).
pub const MAX_INDEXED_HEADER_VALUE: usize = 880;
/// Longest intro in characters (before the ellipsis).
pub const MAX_INTRO: usize = 128;
/// Number of reference ids kept for threading.
pub const MAX_THREAD_REFERENCES: usize = 10;

/// One indexed header: lower-cased key, decoded lower-cased value (WildDuck's `headers[]` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedHeader {
    /// Lower-cased header name.
    pub key: String,
    /// Decoded (RFC 2047), unfolded, lower-cased, truncated value.
    pub value: String,
}

/// One entry of WildDuck's `attachments[]`: a leaf split out to the attachment store that is not an
/// inline text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Message-local id, `ATT00001`… (from the split).
    pub id: String,
    /// File name from Content-Disposition `filename` or Content-Type `name` (RFC 2231 and RFC 2047
    /// decoded), or a random `xxxxxxxx.ext` when the part has none.
    pub filename: String,
    /// Lower-cased `type/subtype`.
    pub content_type: String,
    /// Lower-cased Content-Disposition value (`attachment`, `inline`), `None` when absent.
    pub disposition: Option<String>,
    /// Lower-cased Content-Transfer-Encoding, `7bit` when absent.
    pub transfer_encoding: String,
    /// Content-ID with angle brackets (`<id>`), `None` when absent.
    pub cid: Option<String>,
    /// Whether the part is inside a `multipart/related` (an embedded image rather than a file).
    pub related: bool,
    /// Approximate decoded size in KiB, rounded up (WildDuck's `sizeKb`).
    pub size_kb: u64,
    /// Size of the encoded body in bytes.
    pub size: u64,
    /// Base64 SHA-256 of the blob as the store holds it (WildDuck's `fileContentHash`), when the blob
    /// was available.
    pub file_content_hash: Option<String>,
}

/// Inputs of thread resolution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadKeys {
    /// The subject with reply/forward prefixes and list tags removed ([`normalize_subject`]).
    pub subject: String,
    /// Base64 SHA-1 (no padding) of the referenced ids — Message-ID, In-Reply-To, Thread-Index (first
    /// 22 characters), References — de-duplicated in that order, at most [`MAX_THREAD_REFERENCES`].
    pub references: Vec<String>,
}

/// Everything derived from a message besides its tree, ENVELOPE and BODYSTRUCTURE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailData {
    /// Indexed headers in document order ([`INDEXED_HEADERS`]).
    pub headers: Vec<IndexedHeader>,
    /// The last Message-ID header as written, or a generated `<uuid@wildduck.email>`.
    pub msgid: String,
    /// The last Subject header, decoded and white-space normalised.
    pub subject: String,
    /// The last Date header in milliseconds since the epoch; `None` when absent or invalid (the caller
    /// falls back to the internal date).
    pub hdate: Option<i64>,
    /// The first [`MAX_PLAINTEXT_INDEXED`] characters of the plain text.
    pub text: String,
    /// The rest of the plain text, up to [`MAX_PLAINTEXT_CONTENT`] in total.
    pub text_footer: String,
    /// HTML bodies (text bodies converted when they have no HTML alternative), `cid:` links rewritten
    /// to `attachment:ATTxxxxx`, at most [`MAX_HTML_CONTENT`] bytes in total.
    pub html: Vec<String>,
    /// A short preview (≤ 128 characters plus `…`).
    pub intro: String,
    /// Attachments in document order.
    pub attachments: Vec<AttachmentInfo>,
    /// WildDuck's `ha`: at least one attachment outside `multipart/related`.
    pub has_attachments: bool,
    /// Thread keys.
    pub thread: ThreadKeys,
}

/// Computes the derived data of a message from its tree. `src` supplies split-out bodies: large text
/// bodies are read to extract their text, attachment blobs only to hash them.
///
/// Fails only when a text body that was split out is missing from `src`.
pub fn extract(root: &MimeNode, src: &dyn BodySource) -> crate::Result<MailData> {
    let head = &root.header;

    let subject = last_value(head, "subject")
        .map(|v| collapse_ws(&decode_words(&v)))
        .unwrap_or_default();
    let msgid = match last_value(head, "message-id") {
        Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => format!("<{}@wildduck.email>", uuid::Uuid::new_v4()),
    };
    let hdate = last_value(head, "date").and_then(|v| parse_date(&v));

    let mut walker = Walker {
        src,
        html: Vec::new(),
        text: Vec::new(),
        cids: HashMap::new(),
        attachments: Vec::new(),
    };
    walker.walk(root, false, false, 0)?;

    let cids = &walker.cids;
    let html: Vec<String> = walker
        .html
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| rewrite_cid_links(s, cids))
        .collect();
    let full_text = walker
        .text
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| rewrite_cid_links(s, cids))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\r\n", "\n");
    let full_text = full_text.trim();

    let (text, text_footer) = split_text(full_text);
    let mut intro = if text.is_empty() {
        String::new()
    } else {
        create_intro(&text)
    };

    let html = limit_html(html);
    if !html.is_empty() {
        // WildDuck prefers the HTML for the preview when there is any.
        intro = create_intro(&html_to_text(&html.concat()));
    }

    let has_attachments = walker.attachments.iter().any(|a| !a.related);
    let thread = ThreadKeys {
        subject: normalize_subject(&subject),
        references: thread_references(head),
    };

    Ok(MailData {
        headers: indexed_headers(head),
        msgid,
        subject,
        hdate,
        text,
        text_footer,
        html,
        intro,
        attachments: walker.attachments,
        has_attachments,
        thread,
    })
}

/// Thread subject: white space collapsed, then `Re:`, `Fw:`, `Fwd:`, a leading `[tag]` (when text
/// follows it) and a trailing `(fwd)` removed repeatedly, case-insensitively, as WildDuck does.
pub fn normalize_subject(s: &str) -> String {
    let mut subject = collapse_ws(s);
    loop {
        let mut changed = false;
        // One pass of WildDuck's global regex: at most one prefix at the start, and the suffix.
        if let Some(rest) = strip_reply_prefix(&subject).or_else(|| strip_tag_prefix(&subject)) {
            subject = rest.to_owned();
            changed = true;
        }
        if let Some(rest) = strip_fwd_suffix(&subject) {
            subject = rest.to_owned();
            changed = true;
        }
        let trimmed = subject.trim();
        if trimmed.len() != subject.len() {
            subject = trimmed.to_owned();
        }
        if !changed {
            return subject;
        }
    }
}

/// `^(re|fwd?)\s*:` — returns what follows the colon.
fn strip_reply_prefix(s: &str) -> Option<&str> {
    let lower = s.get(..3).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower == "fwd" {
        s.get(3..)?
    } else if lower.starts_with("re") || lower.starts_with("fw") {
        s.get(2..)?
    } else {
        return None;
    };
    rest.trim_start().strip_prefix(':')
}

/// `^\[.+?\](?=\s.+)` — the shortest `[…]` at the start that is followed by white space and more text.
fn strip_tag_prefix(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let mut chars = inner.char_indices();
    // `.+?` needs at least one character before the closing bracket.
    chars.next()?;
    for (i, c) in chars {
        if c != ']' {
            continue;
        }
        let after = inner.get(i + 1..)?;
        let mut it = after.chars();
        if it.next().is_some_and(char::is_whitespace) && it.next().is_some() {
            return Some(after);
        }
    }
    None
}

/// `\s*\(fwd\)\s*$` — returns the text before the suffix.
fn strip_fwd_suffix(s: &str) -> Option<&str> {
    let t = s.trim_end();
    let n = t.len().checked_sub(5)?;
    let tail = t.get(n..)?;
    tail.eq_ignore_ascii_case("(fwd)")
        .then(|| t.get(..n).map(str::trim_end))
        .flatten()
}

/// WildDuck's `createIntro`: from the first 2 KiB of text, drop `[…]` link markup, quoted lines and
/// separator lines, join lines, and cut to 128 characters at a word boundary with `…`.
pub fn create_intro(text: &str) -> String {
    let head: String = text.chars().take(2 * 1024).collect();
    let no_links = replace_brackets(&head);
    let kept: Vec<&str> = no_links
        .split('\n')
        .map(|line| {
            if line.starts_with('>') || is_separator_line(line) {
                ""
            } else {
                line
            }
        })
        .collect();
    let intro = collapse_ws(&kept.join("\n"));
    if intro.chars().count() <= MAX_INTRO {
        return intro;
    }
    let mut cut: String = intro.chars().take(MAX_INTRO).collect();
    if let Some(sp) = cut.rfind(' ')
        && sp > 0
    {
        cut.truncate(sp);
    }
    cut.push('…');
    cut
}

/// `\[[^\]]*\]` → a space.
fn replace_brackets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let (before, from) = rest.split_at(open);
        match from.find(']') {
            Some(close) => {
                out.push_str(before);
                out.push(' ');
                rest = from.get(close + 1..).unwrap_or("");
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// A line made of one character repeated (at least twice), e.g. `-----`.
fn is_separator_line(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars();
    match chars.next() {
        Some(first) => {
            let mut n = 1;
            for c in chars {
                if c != first {
                    return false;
                }
                n += 1;
            }
            n >= 2
        }
        None => false,
    }
}

/// Collapses every run of white space to one space and trims.
fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits the plain text into the indexed head and the footer, as WildDuck's `add` does.
fn split_text(full: &str) -> (String, String) {
    match full.char_indices().nth(MAX_PLAINTEXT_INDEXED) {
        None => (full.to_owned(), String::new()),
        Some((cut, _)) => {
            let (head, rest) = full.split_at(cut);
            let footer: String = rest
                .chars()
                .take(MAX_PLAINTEXT_CONTENT - MAX_PLAINTEXT_INDEXED)
                .collect();
            (head.to_owned(), footer)
        }
    }
}

/// Keeps HTML entries while they fit in [`MAX_HTML_CONTENT`] bytes; the entry that overflows is cut on
/// a character boundary, later ones are dropped.
fn limit_html(html: Vec<String>) -> Vec<String> {
    let mut used = 0usize;
    let mut out = Vec::with_capacity(html.len());
    for mut part in html {
        if used >= MAX_HTML_CONTENT || part.is_empty() {
            continue;
        }
        let room = MAX_HTML_CONTENT - used;
        if part.len() > room {
            let mut cut = room;
            while !part.is_char_boundary(cut) {
                cut -= 1;
            }
            part.truncate(cut);
        }
        used += part.len();
        if !part.is_empty() {
            out.push(part);
        }
    }
    out
}

/// The unfolded value of the last field named `name`, decoded to a string (UTF-8, else Windows-1252).
fn last_value(section: &[u8], name: &str) -> Option<String> {
    header::fields(section)
        .filter(|f| f.is(name))
        .last()
        .map(|f| bytes_to_string(&unfold_collapse(f.value)))
}

/// Unfolds a raw value the way WildDuck does: trim, then every line break with the white space around it
/// becomes one space.
fn unfold_collapse(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        if b == b'\r' || b == b'\n' {
            while out.last().is_some_and(|c: &u8| c.is_ascii_whitespace()) {
                out.pop();
            }
            while value.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            out.push(b' ');
            continue;
        }
        out.push(b);
        i += 1;
    }
    let start = out
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    out.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Header bytes to text: UTF-8 when valid, else Windows-1252 (the usual meaning of raw 8-bit headers).
fn bytes_to_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => match charset_decoder(b"windows-1252") {
            Some(decode) => decode(bytes),
            None => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

/// Decodes RFC 2047 encoded-words in an unstructured value (any charset mail-parser knows). Text
/// without encoded-words is returned as is.
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_owned();
    }
    // mail-parser decodes encoded-words in unstructured fields; give it one synthetic Subject field.
    let one_line: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let raw = format!("Subject: {one_line}\r\n\r\n");
    MessageParser::new()
        .parse_headers(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_else(|| value.to_owned())
}

/// Parses an RFC 5322 date to milliseconds since the epoch; `None` when invalid.
fn parse_date(value: &str) -> Option<i64> {
    let dt = mail_parser::DateTime::parse_rfc822(value.trim())?;
    if !dt.is_valid() || dt.year < 1900 || dt.year > 9999 {
        return None;
    }
    dt.to_timestamp().checked_mul(1000)
}

/// WildDuck's `generateIndexedHeaders` over the top-level header section.
fn indexed_headers(section: &[u8]) -> Vec<IndexedHeader> {
    header::fields(section)
        .filter_map(|f| {
            let key = f.lower_name();
            let key = key.trim();
            if !INDEXED_HEADERS.contains(&key) {
                return None;
            }
            let value = bytes_to_string(&unfold_collapse(f.value));
            let mut value = decode_words(&value).to_lowercase();
            if key == "list-id"
                && let Some(open) = value.find('<')
            {
                // Only the list's id between angle brackets is indexed.
                let inner = value.get(open + 1..).unwrap_or("");
                let inner = inner.split('>').next().unwrap_or("").trim();
                if !inner.is_empty() {
                    value = inner.to_owned();
                }
            }
            Some(IndexedHeader {
                key: key.to_owned(),
                value: truncate_indexed(value),
            })
        })
        .collect()
}

/// Values of [`MAX_INDEXED_HEADER_VALUE`] bytes or more are cut to that many bytes and then lose four
/// more characters, as WildDuck does (it cannot tell whether its byte cut split a character).
fn truncate_indexed(mut value: String) -> String {
    if value.len() < MAX_INDEXED_HEADER_VALUE {
        return value;
    }
    let mut cut = MAX_INDEXED_HEADER_VALUE;
    let mut drop = 4;
    if !value.is_char_boundary(cut) {
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        // WildDuck's cut leaves a replacement character here, which counts as one of the four.
        drop -= 1;
    }
    value.truncate(cut);
    for _ in 0..drop {
        value.pop();
    }
    value
}

/// Thread reference keys from the top-level header section.
fn thread_references(section: &[u8]) -> Vec<String> {
    let message_id = last_value(section, "message-id").unwrap_or_default();
    let in_reply_to = last_value(section, "in-reply-to").unwrap_or_default();
    let thread_index: String = last_value(section, "thread-index")
        .unwrap_or_default()
        .chars()
        .take(22)
        .collect();
    let references = last_value(section, "references").unwrap_or_default();
    let joined = [message_id, in_reply_to, thread_index, references].join(" ");

    let mut out: Vec<String> = Vec::new();
    for id in joined.split_whitespace() {
        let id: String = id.chars().filter(|&c| c != '<' && c != '>').collect();
        let id = id.trim();
        if id.is_empty() {
            continue;
        }
        let digest = sha1::Sha1::digest(id.as_bytes());
        let key = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out.truncate(MAX_THREAD_REFERENCES);
    out
}

/// Replaces `cid:<id>` (at a word start, up to white space or a quote) with `attachment:ATTxxxxx` when
/// the id names a split-out part.
fn rewrite_cid_links(s: &str, cids: &HashMap<String, String>) -> String {
    if cids.is_empty() || !s.contains("cid:") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut prev_word = false;
    while let Some(pos) = rest.find("cid:") {
        let (before, from) = rest.split_at(pos);
        out.push_str(before);
        let at_word_start = match before.chars().next_back() {
            Some(c) => !(c.is_ascii_alphanumeric() || c == '_'),
            None => !prev_word,
        };
        let after = from.get(4..).unwrap_or("");
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        let id = after.get(..end).unwrap_or("");
        match cids.get(id) {
            Some(att) if at_word_start && !id.is_empty() => {
                out.push_str("attachment:");
                out.push_str(att);
                rest = after.get(end..).unwrap_or("");
                prev_word = true;
            }
            _ => {
                out.push_str("cid:");
                rest = after;
                prev_word = true;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The parsed MIME headers of one node.
#[derive(Debug, Default)]
struct NodeHeaders {
    charset: Option<String>,
    flowed: bool,
    delsp: bool,
    disposition: Option<String>,
    filename: Option<String>,
    content_id: Option<String>,
}

impl NodeHeaders {
    fn parse(section: &[u8]) -> Self {
        let mut out = NodeHeaders::default();
        // Only the MIME fields matter; parsing a copy keeps mail-parser away from the body.
        let mut raw = Vec::new();
        let mut ct_value = String::new();
        let mut cd_value = String::new();
        for f in header::fields(section) {
            if f.is("content-type") {
                ct_value = bytes_to_string(&unfold_collapse(f.value));
            } else if f.is("content-disposition") {
                cd_value = bytes_to_string(&unfold_collapse(f.value));
            }
            if f.is("content-type") || f.is("content-disposition") || f.is("content-id") {
                raw.extend_from_slice(f.name);
                raw.extend_from_slice(b": ");
                raw.extend_from_slice(bytes_to_string(&unfold_collapse(f.value)).as_bytes());
                raw.extend_from_slice(b"\r\n");
            }
        }
        if raw.is_empty() {
            return out;
        }
        raw.extend_from_slice(b"\r\n");
        let Some(msg) = MessageParser::new().parse_headers(&raw) else {
            return out;
        };
        for h in msg.headers() {
            match (h.name().to_ascii_lowercase().as_str(), h.value()) {
                ("content-type", HeaderValue::ContentType(ct)) => {
                    out.charset = ct.attribute("charset").map(str::to_owned);
                    out.flowed = ct
                        .attribute("format")
                        .is_some_and(|f| f.trim().eq_ignore_ascii_case("flowed"));
                    out.delsp = ct
                        .attribute("delsp")
                        .is_some_and(|f| f.trim().eq_ignore_ascii_case("yes"));
                }
                ("content-disposition", HeaderValue::ContentType(cd)) => {
                    let v = cd.ctype().trim().to_ascii_lowercase();
                    out.disposition = (!v.is_empty()).then_some(v);
                }
                ("content-id", HeaderValue::Text(id)) => {
                    let id: String = id.chars().filter(|&c| c != '<' && c != '>').collect();
                    let id = id.trim();
                    out.content_id = (!id.is_empty()).then(|| id.to_owned());
                }
                _ => {}
            }
        }
        // mail-parser reads RFC 2231 charsets only from the first segment of a continued value's
        // bytes, so file names are resolved here.
        out.filename = [(&cd_value, "filename"), (&ct_value, "name")]
            .into_iter()
            .filter_map(|(value, name)| header_param(value, name))
            .map(|f| decode_words(&f).trim().to_owned())
            .find(|f| !f.is_empty());
        out
    }
}

/// Splits `value; a=b; c="d;e"` into lower-cased parameter names and unquoted values.
fn split_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            ';' if !in_quote => pieces.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    pieces.push(cur);
    // The first piece is the value itself (`attachment`, `text/plain`).
    for piece in pieces.into_iter().skip(1) {
        let Some((name, v)) = piece.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .map(|inner| inner.strip_suffix('"').unwrap_or(inner))
            .unwrap_or(v);
        params.push((name.trim().to_ascii_lowercase(), v.to_owned()));
    }
    params
}

/// Parameter `name` of a structured header value, with RFC 2231 continuations joined and
/// `charset'lang'` percent-encoded values decoded to UTF-8.
fn header_param(value: &str, name: &str) -> Option<String> {
    let params = split_params(value);
    if let Some((_, v)) = params.iter().find(|(n, _)| n == name) {
        return Some(v.clone());
    }
    // (index, extended, value)
    let mut pieces: Vec<(u32, bool, &str)> = Vec::new();
    for (n, v) in &params {
        let Some(rest) = n.strip_prefix(name).and_then(|r| r.strip_prefix('*')) else {
            continue;
        };
        let (index, extended) = if rest.is_empty() {
            (0, true)
        } else {
            let (num, ext) = match rest.strip_suffix('*') {
                Some(num) => (num, true),
                None => (rest, false),
            };
            match num.parse::<u32>() {
                Ok(i) => (i, ext),
                Err(_) => continue,
            }
        };
        pieces.push((index, extended, v.as_str()));
    }
    if pieces.is_empty() {
        return None;
    }
    pieces.sort_by_key(|p| p.0);
    let mut charset = String::new();
    let mut bytes = Vec::new();
    for (pos, (_, extended, v)) in pieces.iter().enumerate() {
        let mut v: &str = v;
        if pos == 0 && *extended {
            let mut parts = v.splitn(3, '\'');
            if let (Some(cs), Some(_lang), Some(rest)) = (parts.next(), parts.next(), parts.next())
            {
                charset = cs.to_owned();
                v = rest;
            }
        }
        if *extended {
            bytes.extend(percent_decode(v.as_bytes()));
        } else {
            bytes.extend_from_slice(v.as_bytes());
        }
    }
    Some(decode_charset(
        &bytes,
        (!charset.is_empty()).then_some(charset.as_str()),
    ))
}

/// `%XX` to bytes; malformed escapes stay as written.
fn percent_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                v.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                v.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Walks the tree in document order, collecting text, HTML and attachments like WildDuck's
/// `getMaildata`.
struct Walker<'a> {
    src: &'a dyn BodySource,
    html: Vec<String>,
    text: Vec<String>,
    cids: HashMap<String, String>,
    attachments: Vec<AttachmentInfo>,
}

impl Walker<'_> {
    fn walk(
        &mut self,
        node: &MimeNode,
        alternative: bool,
        related: bool,
        depth: usize,
    ) -> crate::Result<()> {
        // The tree bounds nesting already; this guards the recursion against hand-built trees.
        if depth > 256 {
            return Ok(());
        }
        let content_type = node.content_type.as_str();
        let alternative = alternative || content_type == "multipart/alternative";
        let related = related || content_type == "multipart/related";
        let cte = node
            .transfer_encoding
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "7bit".to_owned());

        match &node.body {
            NodeBody::Multipart(mp) => {
                for part in &mp.parts {
                    self.walk(&part.node, alternative, related, depth + 1)?;
                }
                Ok(())
            }
            NodeBody::Message(inner) => self.walk(inner, alternative, related, depth + 1),
            NodeBody::Leaf(leaf) => {
                let hdrs = NodeHeaders::parse(&node.header);
                let is_inline_text = matches!(
                    content_type,
                    "text/plain" | "text/html" | "text/rfc822-headers" | "message/delivery-status"
                ) && hdrs.disposition.as_deref().is_none_or(|d| d == "inline");

                if is_inline_text && leaf.size > 0 {
                    let encoded = leaf.encoded(self.src)?;
                    let content = decode_text(
                        &encoded,
                        &cte,
                        hdrs.charset.as_deref(),
                        hdrs.flowed,
                        hdrs.delsp,
                    );
                    if content_type == "text/html" {
                        if !alternative && content.len() < MAX_HTML_PARSE_LENGTH {
                            self.text.push(html_to_text(&content).trim().to_owned());
                        }
                        self.html.push(content.trim().to_owned());
                    } else {
                        if !alternative {
                            self.html.push(text_to_html(&content));
                        }
                        self.text.push(content.trim().to_owned());
                    }
                }

                if let BodyContent::Stored(stored) = &leaf.content {
                    if let Some(cid) = &hdrs.content_id {
                        self.cids.insert(cid.clone(), stored.attachment_id.clone());
                    }
                    if !is_inline_text && !content_type.starts_with("multipart/") {
                        let file_content_hash = self.file_content_hash(stored, &cte);
                        let approx = if cte == "base64" {
                            expected_b64_size(leaf.size)
                        } else {
                            leaf.size
                        };
                        self.attachments.push(AttachmentInfo {
                            id: stored.attachment_id.clone(),
                            filename: hdrs
                                .filename
                                .clone()
                                .unwrap_or_else(|| random_filename(content_type)),
                            content_type: content_type.to_owned(),
                            disposition: hdrs.disposition.clone(),
                            transfer_encoding: cte,
                            cid: hdrs.content_id.as_ref().map(|c| format!("<{c}>")),
                            related,
                            size_kb: approx.div_ceil(1024),
                            size: leaf.size,
                            file_content_hash,
                        });
                    }
                }
                Ok(())
            }
        }
    }
}

impl Walker<'_> {
    /// WildDuck's `fileContentHash`, computed as [`super::split::Blob::content_hash`] is: base64 SHA-256
    /// of the decoded bytes for base64 bodies, of the stored bytes otherwise. `None` when the blob is
    /// not in the source or a base64 body does not decode.
    fn file_content_hash(&self, stored: &StoredRef, cte: &str) -> Option<String> {
        let blob = self.src.stored(&stored.hash)?;
        let content: Cow<'_, [u8]> = match stored.encoding {
            StoredEncoding::Base64Decoded { .. } => blob,
            StoredEncoding::Raw if cte == "base64" => {
                Cow::Owned(super::split::decode_base64_lenient(&blob)?)
            }
            StoredEncoding::Raw => blob,
        };
        Some(base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&content)))
    }
}

/// Decoded size of a base64 body of `b64size` bytes, assuming 76-character lines (WildDuck's
/// `expectedB64Size`).
fn expected_b64_size(b64size: u64) -> u64 {
    let newlines = b64size / 78;
    let chars = b64size.saturating_sub(newlines * 2);
    (chars * 3).div_ceil(4)
}

/// `xxxxxxxx.ext` for an attachment without a name.
fn random_filename(content_type: &str) -> String {
    let ext = match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" | "application/ics" => "ics",
        "text/csv" => "csv",
        "text/rfc822-headers" => "txt",
        "message/rfc822" | "message/global" => "eml",
        "message/delivery-status" => "txt",
        "application/zip" => "zip",
        "application/json" => "json",
        "application/pgp-signature" => "asc",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        _ => "bin",
    };
    format!("{:08x}.{ext}", rand::random::<u32>())
}

/// Transfer-decodes and charset-decodes a text body to UTF-8, undoing `format=flowed`.
fn decode_text(
    encoded: &[u8],
    cte: &str,
    charset: Option<&str>,
    flowed: bool,
    delsp: bool,
) -> String {
    let bytes: Cow<'_, [u8]> = match cte {
        "base64" => Cow::Owned(decode_base64_lenient(encoded)),
        "quoted-printable" => Cow::Owned(decode_qp_lenient(encoded)),
        _ => Cow::Borrowed(encoded),
    };
    let text = decode_charset(&bytes, charset);
    if flowed {
        decode_flowed(&text, delsp)
    } else {
        text
    }
}

/// Bytes in `charset` to UTF-8. Unknown charsets are read as UTF-8 (lossy).
fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    let label = charset.map(str::trim).unwrap_or("");
    let squashed: String = label
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if label.is_empty() {
        return match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => charset_decoder(b"windows-1257")
                .map(|d| d(bytes))
                .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
        };
    }
    if matches!(squashed.as_str(), "ascii" | "usascii" | "utf8") {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match charset_decoder(label.as_bytes()) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Base64 that tolerates line breaks, stray characters and missing padding.
fn decode_base64_lenient(encoded: &[u8]) -> Vec<u8> {
    let mut clean: Vec<u8> = encoded
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(&clean).unwrap_or_default()
}

/// Quoted-printable that keeps malformed `=` sequences literally instead of failing.
fn decode_qp_lenient(encoded: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(encoded.len());
    let mut soft_before = true; // no line break before the first line
    for line in encoded.split(|&b| b == b'\n') {
        if !soft_before {
            out.push(b'\n');
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Trailing white space on a line is transport padding (RFC 2045 §6.7 rule 3).
        let end = line
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\t')
            .map_or(0, |i| i + 1);
        let line = line.get(..end).unwrap_or(&[]);
        let mut i = 0;
        soft_before = false;
        while let Some(&b) = line.get(i) {
            if b == b'=' {
                if i + 1 == line.len() {
                    soft_before = true;
                    break;
                }
                if let (Some(h), Some(l)) = (
                    line.get(i + 1).copied().and_then(hex),
                    line.get(i + 2).copied().and_then(hex),
                ) {
                    out.push((h << 4) | l);
                    i += 3;
                    continue;
                }
            }
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Undoes `format=flowed` (RFC 3676): space-stuffing is removed and soft line breaks (a line ending in
/// a space, except the signature separator) are joined; with `delsp=yes` the space goes too.
fn decode_flowed(text: &str, delsp: bool) -> String {
    let normalised = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalised.len());
    for line in normalised.split('\n') {
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.ends_with(' ') && line != "-- " {
            let body = if delsp {
                line.strip_suffix(' ').unwrap_or(line)
            } else {
                line
            };
            out.push_str(body);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !normalised.ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Plain text as simple HTML, as WildDuck's `textToHtml`: special characters escaped, paragraphs at
/// blank lines, `<br/>` at single line breaks.
pub fn text_to_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            '`' => escaped.push_str("&#x60;"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    let lines: Vec<&str> = escaped
        .trim()
        .split('\n')
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect();
    let joined = lines.join("\n");
    let joined = joined.trim();
    let mut out = String::with_capacity(joined.len() + 16);
    out.push_str("<p>");
    let mut newlines = 0usize;
    for c in joined.chars() {
        if c == '\n' {
            newlines += 1;
            continue;
        }
        flush_newlines(&mut out, newlines);
        newlines = 0;
        out.push(c);
    }
    flush_newlines(&mut out, newlines);
    out.push_str("</p>");
    out
}

fn flush_newlines(out: &mut String, n: usize) {
    match n {
        0 => {}
        1 => out.push_str("<br/>"),
        _ => out.push_str("</p><p>"),
    }
}

/// Elements whose content is not text.
const SKIP_ELEMENTS: [&str; 6] = ["script", "style", "head", "title", "template", "noscript"];
/// Elements that start and end a paragraph.
const PARAGRAPH_ELEMENTS: [&str; 12] = [
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "hr",
];
/// Elements that start and end a line.
const LINE_ELEMENTS: [&str; 16] = [
    "div", "tr", "li", "dt", "dd", "dl", "section", "article", "header", "footer", "nav", "aside",
    "address", "form", "main", "figure",
];

/// HTML to plain text for indexing and previews: tags removed, `script`/`style`/`head` content
/// dropped, entities decoded, white space collapsed, line breaks kept for `br` and block elements,
/// links written as `text [url]`.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut links: Vec<Option<(String, usize)>> = Vec::new();
    let mut pre_depth = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after
                .find("-->")
                .map_or("", |i| after.get(i + 3..).unwrap_or(""));
            continue;
        }
        if rest.starts_with('<') {
            let (tag_end, tag) = read_tag(rest);
            rest = rest.get(tag_end..).unwrap_or("");
            let Some(tag) = tag else {
                continue;
            };
            let name = tag.name.as_str();
            if SKIP_ELEMENTS.contains(&name) && !tag.closing && !tag.self_closing {
                rest = skip_element(rest, name);
                continue;
            }
            match name {
                "br" => out.push('\n'),
                "li" if !tag.closing => {
                    ensure_breaks(&mut out, 1);
                    out.push_str("* ");
                }
                "td" | "th" if !tag.closing => push_space(&mut out),
                "a" if !tag.closing => {
                    links.push(tag.href.map(|h| (h, out.len())));
                }
                "a" => {
                    if let Some(Some((href, start))) = links.pop() {
                        let label = out.get(start..).unwrap_or("").trim();
                        let plain = href.strip_prefix("mailto:").unwrap_or(&href);
                        if !href.is_empty()
                            && !href.starts_with('#')
                            && !href.to_ascii_lowercase().starts_with("javascript:")
                            && label != plain
                        {
                            push_space(&mut out);
                            out.push('[');
                            out.push_str(&href);
                            out.push(']');
                        }
                    }
                }
                "blockquote" => {
                    ensure_breaks(&mut out, 2);
                    out.push(if tag.closing { QUOTE_CLOSE } else { QUOTE_OPEN });
                }
                "pre" => {
                    pre_depth = if tag.closing {
                        pre_depth.saturating_sub(1)
                    } else {
                        pre_depth + 1
                    };
                    ensure_breaks(&mut out, 2);
                }
                _ if PARAGRAPH_ELEMENTS.contains(&name) => ensure_breaks(&mut out, 2),
                _ if LINE_ELEMENTS.contains(&name) => ensure_breaks(&mut out, 1),
                _ => {}
            }
            continue;
        }
        // Text up to the next tag.
        let end = rest.find('<').unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        // The quote markers must only come from tags.
        let decoded = decode_entities(chunk).replace([QUOTE_OPEN, QUOTE_CLOSE], "");
        if pre_depth > 0 {
            out.push_str(&decoded.replace('\u{a0}', " "));
        } else {
            for c in decoded.chars() {
                if c.is_whitespace() {
                    push_space(&mut out);
                } else {
                    out.push(c);
                }
            }
        }
    }
    tidy_lines(&out)
}

/// Pushes one space unless the output already ends with white space.
fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
}

/// Makes the output end with at least `n` line breaks (none at the very start).
fn ensure_breaks(out: &mut String, n: usize) {
    while out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() {
        return;
    }
    let have = out.chars().rev().take_while(|&c| c == '\n').count();
    for _ in have..n {
        out.push('\n');
    }
}

/// Trims every line, allows at most one empty line in a row, trims the whole text.
fn tidy_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut empty = 0usize;
    let mut depth = 0usize;
    for line in s.split('\n') {
        // Quote markers set the depth; a line is quoted at the depth where its text starts.
        let mut text = String::with_capacity(line.len());
        let mut line_depth = None;
        for c in line.chars() {
            match c {
                QUOTE_OPEN => depth += 1,
                QUOTE_CLOSE => depth = depth.saturating_sub(1),
                c => {
                    if line_depth.is_none() && !c.is_whitespace() {
                        line_depth = Some(depth);
                    }
                    text.push(c);
                }
            }
        }
        let text = text.trim_matches(|c: char| c == ' ' || c == '\t');
        if text.is_empty() {
            empty += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if empty > 0 { "\n\n" } else { "\n" });
        }
        empty = 0;
        for _ in 0..line_depth.unwrap_or(depth) {
            out.push_str("> ");
        }
        out.push_str(text);
    }
    out
}

/// Private-use characters that mark where a `blockquote` opens and closes while converting.
const QUOTE_OPEN: char = '\u{E000}';
/// See [`QUOTE_OPEN`].
const QUOTE_CLOSE: char = '\u{E001}';

/// A parsed start or end tag.
#[derive(Debug)]
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    href: Option<String>,
}

/// Reads the tag at the start of `s` (which starts with `<`). Returns the length consumed and the tag,
/// or `None` when `<` does not start a tag (it is then consumed as nothing, like a browser would drop
/// a stray `<!` or `<?` construct).
fn read_tag(s: &str) -> (usize, Option<Tag>) {
    let bytes = s.as_bytes();
    // Find the closing '>' outside quotes.
    let mut quote: Option<u8> = None;
    let mut end = None;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => {
                end = Some(i);
                break;
            }
            None => {}
        }
    }
    let Some(end) = end else {
        return (s.len(), None);
    };
    let inner = s.get(1..end).unwrap_or("");
    let consumed = end + 1;
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, inner),
    };
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(inner.len());
    let name = inner.get(..name_len).unwrap_or("").to_ascii_lowercase();
    if name.is_empty() {
        return (consumed, None);
    }
    let attrs = inner.get(name_len..).unwrap_or("");
    let href = (name == "a").then(|| attribute(attrs, "href")).flatten();
    (
        consumed,
        Some(Tag {
            name,
            closing,
            self_closing: attrs.trim_end().ends_with('/'),
            href,
        }),
    )
}

/// The value of attribute `name` in a tag's attribute text, entities decoded.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower.get(from..).and_then(|s| s.find(name)) {
        let start = from + pos;
        from = start + name.len();
        let before_ok = start == 0
            || lower
                .as_bytes()
                .get(start - 1)
                .is_some_and(|b| b.is_ascii_whitespace());
        let rest = attrs.get(from..)?.trim_start();
        if !before_ok {
            continue;
        }
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = rest.get(1..)?;
                body.get(..body.find(q).unwrap_or(body.len()))?
            }
            _ => rest
                .get(..rest.find(char::is_whitespace).unwrap_or(rest.len()))?
                .trim_end_matches('/'),
        };
        return Some(decode_entities(value.trim()));
    }
    None
}

/// Skips past the end tag of `name` (case-insensitive); the rest of the input when there is none.
fn skip_element<'a>(s: &'a str, name: &str) -> &'a str {
    let needle = format!("</{name}");
    let lower = s.to_ascii_lowercase();
    match lower.find(&needle) {
        Some(pos) => {
            let after = s.get(pos..).unwrap_or("");
            match after.find('>') {
                Some(gt) => after.get(gt + 1..).unwrap_or(""),
                None => "",
            }
        }
        None => "",
    }
}

/// Decodes `&name;`, `&#nn;` and `&#xhh;` references (names from mail-parser's HTML5 table); anything
/// else stays as written. Non-breaking spaces become spaces.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        let (before, from) = rest.split_at(amp);
        out.push_str(before);
        let candidate = from.get(1..).unwrap_or("");
        let semi = candidate
            .char_indices()
            .take(33)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .filter(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        match semi {
            Some(i) if i > 0 => {
                let token = from.get(..i + 2).unwrap_or(from);
                let mut decoded = String::new();
                mail_parser::decoders::html::add_html_token(&mut decoded, token.as_bytes(), false);
                out.push_str(&decoded.replace('\u{a0}', " "));
                rest = from.get(i + 2..).unwrap_or("");
            }
            _ => {
                out.push('&');
                rest = candidate;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tree::{LeafBody, Multipart, Part};

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn leaf(header: &str, content_type: &str, cte: Option<&str>, body: &[u8]) -> MimeNode {
        MimeNode {
            header: crlf(header),
            has_separator: true,
            content_type: content_type.to_owned(),
            transfer_encoding: cte.map(str::to_owned),
            body: NodeBody::Leaf(LeafBody {
                content: BodyContent::Inline(body.to_vec()),
                size: body.len() as u64,
                lines: 0,
            }),
        }
    }

    fn stored(
        header: &str,
        content_type: &str,
        cte: Option<&str>,
        id: &str,
        size: u64,
    ) -> MimeNode {
        MimeNode {
            header: crlf(header),
            has_separator: true,
            content_type: content_type.to_owned(),
            transfer_encoding: cte.map(str::to_owned),
            body: NodeBody::Leaf(LeafBody {
                content: BodyContent::Stored(StoredRef {
                    attachment_id: id.to_owned(),
                    hash: format!("hash-{id}"),
                    encoding: StoredEncoding::Raw,
                }),
                size,
                lines: 0,
            }),
        }
    }

    fn multi(header: &str, content_type: &str, parts: Vec<MimeNode>) -> MimeNode {
        MimeNode {
            header: crlf(header),
            has_separator: true,
            content_type: content_type.to_owned(),
            transfer_encoding: None,
            body: NodeBody::Multipart(Multipart {
                boundary: b"b".to_vec(),
                preamble: Vec::new(),
                parts: parts
                    .into_iter()
                    .map(|node| Part {
                        delimiter: b"--b\r\n".to_vec(),
                        node,
                    })
                    .collect(),
                close: Some(b"\r\n--b--".to_vec()),
                epilogue: Vec::new(),
            }),
        }
    }

    fn plain(header: &str, body: &str) -> MimeNode {
        leaf(header, "text/plain", None, body.as_bytes())
    }

    fn run(root: &MimeNode) -> MailData {
        extract(root, &crate::message::tree::NoBlobs).expect("extract")
    }

    #[test]
    fn normalize_subject_strips_prefixes_tags_and_fwd_suffix() {
        assert_eq!(
            normalize_subject("Re: [EXTERNAL] Re: Fwd: Example subject (fwd)"),
            "Example subject"
        );
        assert_eq!(
            normalize_subject("RE : FW: fwd:  hello\t world "),
            "hello world"
        );
        assert_eq!(
            normalize_subject("Re: [team] Fwd: RE: [team] Fw: Offsite planning (fwd)"),
            "Offsite planning"
        );
        // A tag with nothing after it is the subject itself.
        assert_eq!(normalize_subject("[tag]"), "[tag]");
        assert_eq!(normalize_subject("[a] b"), "b");
        assert_eq!(normalize_subject("Re:"), "");
        assert_eq!(normalize_subject("Reply needed"), "Reply needed");
        assert_eq!(normalize_subject("Régime: x"), "Régime: x");
        assert_eq!(normalize_subject("(FWD)"), "");
        assert_eq!(normalize_subject("Ré"), "Ré");
    }

    #[test]
    fn intro_drops_quotes_links_and_separators() {
        let text = "Hello [https://x.example] there\n> quoted line\n-----\n====\nBye";
        assert_eq!(create_intro(text), "Hello there Bye");
    }

    #[test]
    fn intro_is_cut_at_a_word_with_ellipsis_and_multibyte_safe() {
        let text = "ünïcödé ".repeat(40);
        let intro = create_intro(&text);
        assert!(intro.ends_with('…'));
        assert!(intro.chars().count() <= MAX_INTRO + 1);
        assert!(!intro.contains("  "));
        let no_space = "€a".repeat(150);
        let intro = create_intro(&no_space);
        assert_eq!(intro.chars().count(), MAX_INTRO + 1);
    }

    #[test]
    fn subject_is_decoded_normalised_and_last_wins() {
        let root = plain(
            "Subject: first\nSubject: =?UTF-8?B?xIx0dnJ0bGV0bsOt?=\n  =?UTF-8?Q?_zpr=C3=A1va?=   now\n",
            "x",
        );
        let md = run(&root);
        assert_eq!(md.subject, "Čtvrtletní zpráva now");
        let root = plain("Subject: =?ISO-8859-1?Q?R=E9union_=E0_Gen=E8ve?=\n", "x");
        assert_eq!(run(&root).subject, "Réunion à Genève");
        // Raw Latin-1 bytes are read as Windows-1252.
        let mut root = plain("", "x");
        root.header = b"Subject: \xdcbergabe der Schl\xfcssel\r\n".to_vec();
        assert_eq!(run(&root).subject, "Übergabe der Schlüssel");
        let root = plain("From: a@b\n", "x");
        assert_eq!(run(&root).subject, "");
    }

    #[test]
    fn msgid_kept_or_generated() {
        let md = run(&plain("Message-ID: <abc@example.com>\n", "x"));
        assert_eq!(md.msgid, "<abc@example.com>");
        let md = run(&plain("Subject: x\n", "x"));
        assert!(md.msgid.starts_with('<') && md.msgid.ends_with("@wildduck.email>"));
        assert_eq!(md.msgid.len(), "<@wildduck.email>".len() + 36);
        assert_ne!(md.msgid, run(&plain("Subject: x\n", "x")).msgid);
    }

    #[test]
    fn hdate_from_date_header() {
        let md = run(&plain("Date: Mon, 4 Mar 2024 10:15:32 +0100\n", "x"));
        assert_eq!(md.hdate, Some(1_709_543_732_000));
        assert_eq!(run(&plain("Subject: x\n", "x")).hdate, None);
        assert_eq!(
            run(&plain("Date: Someday, 32 Foo 2024 25:61:00 +9999\n", "x")).hdate,
            None
        );
        assert_eq!(run(&plain("Date: garbage\n", "x")).hdate, None);
    }

    #[test]
    fn indexed_headers_lowercased_decoded_and_filtered() {
        let root = plain(
            "Received: from x\nFrom: =?UTF-8?Q?Uwe_M=C3=BCller?= <UWE@Example.DE>\nTo: Bob\n <bob@example.org>\nList-Id: Team list <Team.Lists.Example.org>\nX-Other: nope\nSUBJECT: Hello\n",
            "x",
        );
        let md = run(&root);
        let pairs: Vec<(&str, &str)> = md
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("from", "uwe müller <uwe@example.de>"),
                ("to", "bob <bob@example.org>"),
                ("list-id", "team.lists.example.org"),
                ("subject", "hello"),
            ]
        );
    }

    #[test]
    fn indexed_header_values_truncated_like_wildduck() {
        let ascii = "a".repeat(2000);
        assert_eq!(truncate_indexed(ascii).len(), MAX_INDEXED_HEADER_VALUE - 4);
        assert_eq!(truncate_indexed("b".repeat(879)).len(), 879);
        // 'é' is two bytes: byte 880 falls on a boundary, four characters go.
        let two = "é".repeat(600);
        let t = truncate_indexed(two);
        assert_eq!(t.chars().count(), 440 - 4);
        // '€' is three bytes: 880 is inside a character; it and three more go.
        let three = "€".repeat(400);
        let t = truncate_indexed(three);
        assert_eq!(t.chars().count(), 293 - 3);
    }

    #[test]
    fn plain_text_gets_html_and_intro() {
        let md = run(&plain(
            "Subject: x\n",
            "Hi Bob,\r\n\r\nAre you <free> & ready?\r\nline two  \r\n",
        ));
        assert_eq!(md.text, "Hi Bob,\n\nAre you <free> & ready?\nline two");
        assert_eq!(
            md.html,
            vec!["<p>Hi Bob,</p><p>Are you &lt;free&gt; &amp; ready?<br/>line two</p>".to_owned()]
        );
        assert_eq!(md.intro, "Hi Bob, Are you <free> & ready? line two");
        assert!(md.text_footer.is_empty());
        assert!(md.attachments.is_empty());
        assert!(!md.has_attachments);
    }

    #[test]
    fn html_only_gets_text() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body><script>var x=1;</script><h1>Sale</h1><p>50&nbsp;% off &amp; free</p><ul><li>Shoes</li><li>Hats</li></ul><a href=\"https://s.example/x\">Shop</a></body></html>";
        let md = run(&leaf(
            "Content-Type: text/html; charset=utf-8\n",
            "text/html",
            None,
            html.as_bytes(),
        ));
        assert_eq!(
            md.text,
            "Sale\n\n50 % off & free\n\n* Shoes\n* Hats\n\nShop [https://s.example/x]"
        );
        assert_eq!(md.html, vec![html.to_owned()]);
        assert_eq!(md.intro, "Sale 50 % off & free * Shoes * Hats Shop");
    }

    #[test]
    fn alternative_parts_are_not_converted() {
        let root = multi(
            "Content-Type: multipart/alternative; boundary=b\n",
            "multipart/alternative",
            vec![
                plain("Content-Type: text/plain\n", "plain version"),
                leaf(
                    "Content-Type: text/html\n",
                    "text/html",
                    None,
                    b"<p>html version</p>",
                ),
            ],
        );
        let md = run(&root);
        assert_eq!(md.text, "plain version");
        assert_eq!(md.html, vec!["<p>html version</p>".to_owned()]);
        assert_eq!(md.intro, "html version");
    }

    #[test]
    fn text_split_into_indexed_part_and_footer() {
        let body = "ä".repeat(MAX_PLAINTEXT_CONTENT + 500);
        let md = run(&plain("Content-Type: text/plain; charset=utf-8\n", &body));
        assert_eq!(md.text.chars().count(), MAX_PLAINTEXT_INDEXED);
        assert_eq!(
            md.text_footer.chars().count(),
            MAX_PLAINTEXT_CONTENT - MAX_PLAINTEXT_INDEXED
        );
        let short = run(&plain("", &"x".repeat(MAX_PLAINTEXT_INDEXED)));
        assert_eq!(short.text.len(), MAX_PLAINTEXT_INDEXED);
        assert!(short.text_footer.is_empty());
    }

    #[test]
    fn html_total_is_limited() {
        let big = "€".repeat(MAX_HTML_CONTENT / 3 + 10);
        let out = limit_html(vec![big.clone(), big.clone(), "tail".to_owned()]);
        let total: usize = out.iter().map(String::len).sum();
        assert!(total <= MAX_HTML_CONTENT);
        assert!(total > MAX_HTML_CONTENT - 3);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn attachments_listed_with_cid_rewrite_and_related_flag() {
        let html = leaf(
            "Content-Type: text/html\n",
            "text/html",
            None,
            b"<img src=\"cid:logo@example.com\"><img src=\"cid:unknown@x\">xcid:logo@example.com",
        );
        let img = stored(
            "Content-Type: image/png\nContent-ID: <logo@example.com>\nContent-Transfer-Encoding: base64\n",
            "image/png",
            Some("base64"),
            "ATT00001",
            780,
        );
        let related = multi(
            "Content-Type: multipart/related; boundary=b\n",
            "multipart/related",
            vec![html, img],
        );
        let pdf = stored(
            "Content-Type: application/pdf; name=\"ignored.pdf\"\nContent-Disposition: attachment;\n filename*=utf-8''%C3%9Cbersicht%20M%C3%A4rz.pdf\n",
            "application/pdf",
            None,
            "ATT00002",
            3000,
        );
        let root = multi(
            "Content-Type: multipart/mixed; boundary=b\n",
            "multipart/mixed",
            vec![related, pdf],
        );
        let mut blobs = HashMap::new();
        blobs.insert("hash-ATT00002".to_owned(), b"%PDF".to_vec());
        let md = extract(&root, &blobs).expect("extract");

        assert_eq!(
            md.html,
            vec![
                "<img src=\"attachment:ATT00001\"><img src=\"cid:unknown@x\">xcid:logo@example.com"
                    .to_owned()
            ]
        );
        assert_eq!(md.attachments.len(), 2);
        let a = &md.attachments[0];
        assert_eq!(a.id, "ATT00001");
        assert!(a.related);
        assert_eq!(a.cid.as_deref(), Some("<logo@example.com>"));
        assert_eq!(a.transfer_encoding, "base64");
        assert_eq!(a.size, 780);
        assert_eq!(a.size_kb, 1);
        assert!(a.filename.ends_with(".png") && a.filename.len() == 12);
        assert_eq!(a.file_content_hash, None);
        let b = &md.attachments[1];
        assert_eq!(b.filename, "Übersicht März.pdf");
        assert_eq!(b.disposition.as_deref(), Some("attachment"));
        assert!(!b.related);
        assert_eq!(b.transfer_encoding, "7bit");
        assert_eq!(b.size_kb, 3);
        assert_eq!(
            b.file_content_hash.as_deref(),
            Some(
                base64::engine::general_purpose::STANDARD
                    .encode(sha2::Sha256::digest(b"%PDF"))
                    .as_str()
            )
        );
        assert!(md.has_attachments);
    }

    #[test]
    fn only_related_attachments_do_not_count_as_ha() {
        let root = multi(
            "Content-Type: multipart/related; boundary=b\n",
            "multipart/related",
            vec![
                leaf("Content-Type: text/html\n", "text/html", None, b"<p>x</p>"),
                stored(
                    "Content-Type: image/gif\n",
                    "image/gif",
                    None,
                    "ATT00001",
                    10,
                ),
            ],
        );
        let md = run(&root);
        assert_eq!(md.attachments.len(), 1);
        assert!(!md.has_attachments);
    }

    #[test]
    fn stored_text_body_is_read_from_the_source_and_missing_blob_fails() {
        let root = stored(
            "Content-Type: text/plain\n",
            "text/plain",
            None,
            "ATT00001",
            5,
        );
        let mut blobs = HashMap::new();
        blobs.insert("hash-ATT00001".to_owned(), b"hello".to_vec());
        let md = extract(&root, &blobs).expect("extract");
        assert_eq!(md.text, "hello");
        // A large text body is split out but is not an attachment.
        assert!(md.attachments.is_empty());
        let err = extract(&root, &crate::message::tree::NoBlobs).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Backend);
    }

    #[test]
    fn transfer_and_charset_decoding() {
        let qp = leaf(
            "Content-Type: text/plain; charset=ISO-8859-1\n",
            "text/plain",
            Some("quoted-printable"),
            b"caf=E9 soft=\r\nbreak =ZZ bad   \r\nend=",
        );
        assert_eq!(run(&qp).text, "café softbreak =ZZ bad\nend");
        let sjis = leaf(
            "Content-Type: text/plain; charset=Shift_JIS\n",
            "text/plain",
            Some("base64"),
            b"k2OShpds\r\n",
        );
        assert_eq!(run(&sjis).text, "田中様");
        let ragged = leaf("", "text/plain", Some("base64"), b"aGVsbG8g\r\nd29y\r\nbGQ");
        assert_eq!(run(&ragged).text, "hello world");
        let nocharset = leaf("", "text/plain", Some("8bit"), "grüß".as_bytes());
        assert_eq!(run(&nocharset).text, "grüß");
    }

    #[test]
    fn flowed_text_is_joined() {
        let body = "The part about the ";
        let root = leaf(
            "Content-Type: text/plain; format=flowed; delsp=yes\n",
            "text/plain",
            None,
            format!("{body}\r\nhut was best.\r\n-- \r\n Olivia\r\n").as_bytes(),
        );
        assert_eq!(
            run(&root).text,
            "The part about thehut was best.\n-- \nOlivia"
        );
        let root = leaf(
            "Content-Type: text/plain; format=flowed\n",
            "text/plain",
            None,
            b"one \r\ntwo\r\n",
        );
        assert_eq!(run(&root).text, "one two");
    }

    #[test]
    fn thread_references_hashed_in_wildduck_order() {
        let root = plain(
            "Message-ID: <m@x>\nIn-Reply-To: <r@x>\nThread-Index: AdqP1a2b3c4d5e6f7g8h9i0jKw==\nReferences: <a@x>\n <r@x> <b@x>\nSubject: Re: [list] Topic\n",
            "x",
        );
        let md = run(&root);
        let h = |s: &str| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(sha1::Sha1::digest(s.as_bytes()))
        };
        assert_eq!(
            md.thread.references,
            vec![
                h("m@x"),
                h("r@x"),
                h("AdqP1a2b3c4d5e6f7g8h9i"),
                h("a@x"),
                h("b@x")
            ]
        );
        assert_eq!(md.thread.subject, "Topic");
        assert_eq!(md.subject, "Re: [list] Topic");
        assert!(md.thread.references.iter().all(|r| r.len() == 27));

        let refs: String = (0..40).map(|i| format!(" <id{i}@x>")).collect();
        let md = run(&plain(&format!("References:{refs}\n"), "x"));
        assert_eq!(md.thread.references.len(), MAX_THREAD_REFERENCES);
        assert_eq!(md.thread.references[0], h("id0@x"));
    }

    #[test]
    fn html_to_text_handles_comments_pre_entities_and_broken_markup() {
        assert_eq!(
            html_to_text("a<!-- hidden -->b<br>c&#8364;&#x41;&unknown;&amp"),
            "ab\nc€A&unknown;&amp"
        );
        assert_eq!(html_to_text("<pre>x  y\n z</pre>after"), "x  y\nz\n\nafter");
        assert_eq!(html_to_text("<div>one</div><div>two</div>"), "one\ntwo");
        assert_eq!(html_to_text("<p>unterminated <b"), "unterminated");
        assert_eq!(html_to_text("<SCRIPT>alert(1)</script>ok"), "ok");
        assert_eq!(html_to_text("<style>never closed"), "");
        assert_eq!(
            html_to_text("<a href='https://e.example'>https://e.example</a>"),
            "https://e.example"
        );
        assert_eq!(html_to_text("ünï<b>cö</b>dé"), "ünïcödé");
    }

    #[test]
    fn text_to_html_paragraphs() {
        assert_eq!(
            text_to_html("a\r\nb\r\n\r\n\r\nc\"'"),
            "<p>a<br/>b</p><p>c&quot;&#x27;</p>"
        );
        assert_eq!(text_to_html(""), "<p></p>");
    }

    #[test]
    fn nested_message_text_is_included() {
        let inner = plain("Subject: inner\n", "inner text");
        let rfc = MimeNode {
            header: crlf("Content-Type: message/rfc822\n"),
            has_separator: true,
            content_type: "message/rfc822".to_owned(),
            transfer_encoding: None,
            body: NodeBody::Message(Box::new(inner)),
        };
        let root = multi(
            "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n",
            "multipart/mixed",
            vec![plain("", "outer text"), rfc],
        );
        let md = run(&root);
        assert_eq!(md.subject, "outer");
        assert_eq!(md.text, "outer text\ninner text");
        assert_eq!(md.html.len(), 2);
    }

    #[test]
    fn blockquotes_become_quoted_lines_and_leave_the_intro() {
        let html = "<p>Sure.</p><blockquote><p>Can you</p><blockquote>nested</blockquote>send it?</blockquote><p>Bye</p>";
        assert_eq!(
            html_to_text(html),
            "Sure.\n\n> Can you\n\n> > nested\n\n> send it?\n\nBye"
        );
        let md = run(&leaf("", "text/html", None, html.as_bytes()));
        assert_eq!(md.intro, "Sure. Bye");
        // Marker characters in the input cannot fake a quote.
        assert_eq!(html_to_text("a\u{E000}b"), "ab");
    }

    #[test]
    fn rfc2231_filenames_use_the_declared_charset_for_every_segment() {
        let v = "attachment; filename*0*=iso-8859-1'de'Gr%F6%DFe%20und%20; filename*1*=Ma%DFe; filename*2=\".txt\"";
        assert_eq!(
            header_param(v, "filename").as_deref(),
            Some("Größe und Maße.txt")
        );
        let v = "application/pdf; name*0=\"a;b_\"; name*1=\"c.pdf\"";
        assert_eq!(header_param(v, "name").as_deref(), Some("a;b_c.pdf"));
        assert_eq!(
            header_param("inline; filename=\"x\\\"y\"", "filename").as_deref(),
            Some("x\"y")
        );
        assert_eq!(
            header_param("inline; filename*=bad%zz", "filename").as_deref(),
            Some("bad%zz")
        );
        assert_eq!(header_param("inline", "filename"), None);
        let v = "attachment; filename=\"=?UTF-8?B?w6TDtsO8LnR4dA==?=\"";
        let node = stored(
            &format!("Content-Disposition: {v}\n"),
            "text/plain",
            None,
            "ATT00001",
            3,
        );
        let mut blobs = HashMap::new();
        blobs.insert("hash-ATT00001".to_owned(), b"abc".to_vec());
        let md = extract(&node, &blobs).expect("extract");
        assert_eq!(md.attachments[0].filename, "äöü.txt");
    }

    #[test]
    fn a_multipart_without_boundary_is_not_an_attachment() {
        let node = stored(
            "Content-Type: multipart/mixed\n",
            "multipart/mixed",
            None,
            "ATT00001",
            40,
        );
        let md = run(&node);
        assert!(md.attachments.is_empty());
        assert!(!md.has_attachments);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn text_helpers_never_panic(s in "\\PC{0,400}") {
            let intro = create_intro(&s);
            proptest::prop_assert!(intro.chars().count() <= MAX_INTRO + 1);
            let _ = normalize_subject(&s);
            let _ = html_to_text(&s);
            let _ = text_to_html(&s);
            let _ = decode_words(&s);
            let _ = header_param(&s, "filename");
            let _ = truncate_indexed(s.repeat(4));
            let _ = decode_flowed(&s, true);
        }

        #[test]
        fn extract_never_panics_on_mime_like_bytes(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
                    proptest::strategy::Just(b"Content-Type: text/html; charset=shift_jis\r\n".to_vec()),
                    proptest::strategy::Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
                    proptest::strategy::Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
                    proptest::strategy::Just(b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC\r\n".to_vec()),
                    proptest::strategy::Just(b"Subject: =?utf-8?q?=E2=82?= Re: [x]\r\n".to_vec()),
                    proptest::strategy::Just(b"\r\n--x\r\n".to_vec()),
                    proptest::strategy::Just(b"\r\n".to_vec()),
                    proptest::strategy::Just(b"<p>a &amp; <img src=cid:y></p>".to_vec()),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                ],
                0..24,
            )
        ) {
            let raw: Vec<u8> = parts.concat();
            let mut tree = crate::message::parse::normalize_and_parse(&raw);
            let blobs = crate::message::split::split(&mut tree);
            let src: HashMap<String, Vec<u8>> = blobs.into_iter().map(|b| (b.hash, b.data)).collect();
            let md = extract(&tree, &src);
            proptest::prop_assert!(md.is_ok());
        }
    }
}
