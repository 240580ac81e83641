//! BODYSTRUCTURE (extended form), computed once at ingestion as a protocol-neutral value.
//!
//! Conventions, chosen to match what WildDuck reports where that is sane:
//!
//! - Media type, subtype, parameter names, transfer encoding and disposition type are upper-cased
//!   (`"TEXT" "PLAIN" ("CHARSET" "utf-8")`); parameter values keep their case and bytes.
//! - Parameters keep their order of appearance. RFC 2231 parameters are reassembled: continuations
//!   (`name*0`, `name*1*`, …) are joined, `charset'lang'` percent-encoded values are decoded and converted
//!   to UTF-8, and the result is reported once under the plain name (`FILENAME`, not `FILENAME*`), in the
//!   place where the parameter first appeared; it replaces a plain parameter of the same name (RFC 2231
//!   §4: the extended form wins). RFC 2047 encoded-words inside values are kept as written.
//! - A header that appears more than once counts once: the first occurrence.
//! - Sizes are octets of the still-encoded body; line counts are the number of CRLFs in it, so a part
//!   whose last line has no CRLF before the next boundary does not count that line.
//! - A `message/rfc822` part gets its nested ENVELOPE and structure only when it was parsed as a nested
//!   message (identity transfer encoding); otherwise it is reported as a basic part. `message/global` is
//!   reported as a basic part, because IMAP4rev1 clients only know the nested form for `RFC822`.
//! - A multipart without a usable boundary, or with no body part at all, is reported with one `TEXT/PLAIN`
//!   part, because IMAP requires at least one part and clients read the body as part 1.

use super::envelope::{Envelope, envelope};
use super::header;
use super::tree::{MimeNode, NodeBody};

/// Ordered `(NAME, value)` parameter pairs of a Content-Type or Content-Disposition header.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// The BODYSTRUCTURE of a MIME entity (RFC 3501 §7.4.2), with full extension data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStructure {
    /// A non-multipart entity.
    Single(SinglePart),
    /// A `multipart/*` entity.
    Multipart(MultipartPart),
}

/// A non-multipart entity: the basic fields, the type-specific fields and the extension data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinglePart {
    /// Media type, upper-cased (`TEXT`, `APPLICATION`, …).
    pub media_type: Vec<u8>,
    /// Media subtype, upper-cased (`PLAIN`, `OCTET-STREAM`, …).
    pub subtype: Vec<u8>,
    /// Content-Type parameters; empty means NIL.
    pub params: Params,
    /// Content-ID, as written.
    pub id: Option<Vec<u8>>,
    /// Content-Description, as written.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding, upper-cased; `7BIT` when absent.
    pub encoding: Vec<u8>,
    /// Size of the encoded body in octets.
    pub size: u64,
    /// Fields that only text and message/rfc822 parts have.
    pub specific: Specific,
    /// Content-MD5, as written.
    pub md5: Option<Vec<u8>>,
    /// Disposition, language and location.
    pub extension: Extension,
}

/// The type-specific fields of a [`SinglePart`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Specific {
    /// Any other type: no extra fields.
    Basic,
    /// `text/*`: the body's line count.
    Text {
        /// Lines of the encoded body.
        lines: u64,
    },
    /// `message/rfc822` parsed as a nested message.
    Message {
        /// ENVELOPE of the nested message.
        envelope: Box<Envelope>,
        /// BODYSTRUCTURE of the nested message.
        body: Box<BodyStructure>,
        /// Lines of the whole nested message.
        lines: u64,
    },
}

/// A `multipart/*` entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartPart {
    /// The body parts; never empty.
    pub parts: Vec<BodyStructure>,
    /// Multipart subtype, upper-cased (`MIXED`, `ALTERNATIVE`, …).
    pub subtype: Vec<u8>,
    /// Content-Type parameters (boundary included); empty means NIL.
    pub params: Params,
    /// Disposition, language and location.
    pub extension: Extension,
}

/// Extension data shared by single parts and multiparts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language tags, in order.
    pub language: Option<Vec<Vec<u8>>>,
    /// Content-Location, as written.
    pub location: Option<Vec<u8>>,
}

/// A parsed Content-Disposition header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// The disposition type, upper-cased (`ATTACHMENT`, `INLINE`, …).
    pub kind: Vec<u8>,
    /// Its parameters; empty means NIL.
    pub params: Params,
}

/// Computes the BODYSTRUCTURE of a MIME tree (a whole message or one of its parts).
pub fn body_structure(node: &MimeNode) -> BodyStructure {
    let (media_type, subtype) = split_type(&node.content_type);
    let content_type = header_value(&node.header, "content-type");
    let params = content_type
        .as_deref()
        .map(|v| parse_value_params(v).1)
        .unwrap_or_default();
    let extension = Extension {
        disposition: header_value(&node.header, "content-disposition").and_then(|v| {
            let (kind, params) = parse_value_params(&v);
            (!kind.is_empty()).then(|| Disposition {
                kind: kind.to_ascii_uppercase(),
                params,
            })
        }),
        language: header_value(&node.header, "content-language").and_then(|v| {
            let tags: Vec<Vec<u8>> = v
                .split(|&b| b == b',' || b.is_ascii_whitespace())
                .filter(|t| !t.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            (!tags.is_empty()).then_some(tags)
        }),
        location: header_value(&node.header, "content-location"),
    };

    let multipart = |parts: Vec<BodyStructure>| {
        BodyStructure::Multipart(MultipartPart {
            parts,
            subtype: if media_type == b"MULTIPART" {
                subtype.clone()
            } else {
                b"MIXED".to_vec()
            },
            params: params.clone(),
            extension: extension.clone(),
        })
    };
    let (size, specific) = match &node.body {
        NodeBody::Multipart(m) => {
            let mut parts: Vec<BodyStructure> =
                m.parts.iter().map(|p| body_structure(&p.node)).collect();
            if parts.is_empty() {
                parts.push(empty_text_part(0, 0));
            }
            return multipart(parts);
        }
        NodeBody::Leaf(leaf) if media_type == b"MULTIPART" => {
            return multipart(vec![empty_text_part(leaf.size, leaf.lines)]);
        }
        NodeBody::Leaf(leaf) if media_type == b"TEXT" => {
            (leaf.size, Specific::Text { lines: leaf.lines })
        }
        NodeBody::Leaf(leaf) => (leaf.size, Specific::Basic),
        NodeBody::Message(nested) => {
            let (size, lines) = node_size_lines(nested);
            if media_type == b"MESSAGE" && subtype == b"RFC822" {
                let specific = Specific::Message {
                    envelope: Box::new(envelope(&nested.header)),
                    body: Box::new(body_structure(nested)),
                    lines,
                };
                (size, specific)
            } else {
                (size, Specific::Basic)
            }
        }
    };
    BodyStructure::Single(SinglePart {
        media_type,
        subtype,
        params,
        id: header_value(&node.header, "content-id"),
        description: header_value(&node.header, "content-description"),
        encoding: node
            .transfer_encoding
            .as_deref()
            .map(|e| e.trim().to_ascii_uppercase().into_bytes())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| b"7BIT".to_vec()),
        size,
        specific,
        md5: header_value(&node.header, "content-md5"),
        extension,
    })
}

/// The stand-in part of a multipart that has none.
fn empty_text_part(size: u64, lines: u64) -> BodyStructure {
    BodyStructure::Single(SinglePart {
        media_type: b"TEXT".to_vec(),
        subtype: b"PLAIN".to_vec(),
        params: Vec::new(),
        id: None,
        description: None,
        encoding: b"7BIT".to_vec(),
        size,
        specific: Specific::Text { lines },
        md5: None,
        extension: Extension::default(),
    })
}

/// Upper-cased type and subtype; a half-missing type falls back as WildDuck does (text → text/plain,
/// anything else → application/octet-stream) so that no client sees an empty type.
fn split_type(content_type: &str) -> (Vec<u8>, Vec<u8>) {
    let (t, s) = content_type.split_once('/').unwrap_or((content_type, ""));
    let (t, s) = (t.trim(), s.trim());
    let (t, s) = if t.is_empty() || s.is_empty() {
        if t.eq_ignore_ascii_case("text") || s.eq_ignore_ascii_case("plain") {
            ("text", "plain")
        } else {
            ("application", "octet-stream")
        }
    } else {
        (t, s)
    };
    (
        t.to_ascii_uppercase().into_bytes(),
        s.to_ascii_uppercase().into_bytes(),
    )
}

/// The unfolded value of the first `name` header, `None` when missing or empty.
fn header_value(section: &[u8], name: &str) -> Option<Vec<u8>> {
    header::first(section, name)
        .map(|f| f.unfolded())
        .filter(|v| !v.is_empty())
}

/// Octets and lines (CRLF count) of a whole MIME entity.
fn node_size_lines(node: &MimeNode) -> (u64, u64) {
    fn bytes(b: &[u8]) -> (u64, u64) {
        (
            b.len() as u64,
            b.iter().filter(|&&c| c == b'\n').count() as u64,
        )
    }
    let mut total = bytes(&node.header);
    let mut add = |(s, l): (u64, u64)| {
        total.0 += s;
        total.1 += l;
    };
    if node.has_separator {
        add((2, 1));
    }
    match &node.body {
        NodeBody::Leaf(leaf) => add((leaf.size, leaf.lines)),
        NodeBody::Message(nested) => add(node_size_lines(nested)),
        NodeBody::Multipart(m) => {
            add(bytes(&m.preamble));
            for part in &m.parts {
                add(bytes(&part.delimiter));
                add(node_size_lines(&part.node));
            }
            if let Some(close) = &m.close {
                add(bytes(close));
            }
            add(bytes(&m.epilogue));
        }
    }
    total
}

/// Parses a structured header value of the form `value *(";" name "=" value)` (Content-Type,
/// Content-Disposition): returns the main value (comments and white space removed, case kept) and the
/// parameters with upper-cased names and RFC 2231 reassembly applied (see the module docs).
pub fn parse_value_params(value: &[u8]) -> (Vec<u8>, Params) {
    let mut i = 0;
    let main = read_until_semicolon(value, &mut i);
    // (lower-cased name as written, value, whether the value was quoted)
    let mut raw: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    while i < value.len() {
        // Here value[i] is ';' (or we are past the end).
        i += 1;
        skip_cfws(value, &mut i);
        let name_start = i;
        while let Some(&b) = value.get(i) {
            if b == b'=' || b == b';' {
                break;
            }
            i += 1;
        }
        let name = trim(value.get(name_start..i).unwrap_or_default()).to_ascii_lowercase();
        if value.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        skip_cfws(value, &mut i);
        let v = if value.get(i) == Some(&b'"') {
            let v = read_quoted(value, &mut i);
            // Anything between the closing quote and the next ';' is junk.
            read_until_semicolon(value, &mut i);
            v
        } else {
            read_until_semicolon(value, &mut i)
        };
        if !name.is_empty() {
            raw.push((name, v));
        }
    }
    (main, reassemble(raw))
}

/// Reads a token or unquoted value up to the next top-level `;`, dropping comments and outer white
/// space; quoted parts inside are kept with their quotes removed.
fn read_until_semicolon(value: &[u8], i: &mut usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(&b) = value.get(*i) {
        match b {
            b';' => break,
            b'(' => skip_comment(value, i),
            b'"' => out.extend(read_quoted(value, i)),
            _ => {
                out.push(b);
                *i += 1;
            }
        }
    }
    trim(&out).to_vec()
}

fn read_quoted(value: &[u8], i: &mut usize) -> Vec<u8> {
    let mut out = Vec::new();
    *i += 1;
    while let Some(&b) = value.get(*i) {
        *i += 1;
        match b {
            b'"' => break,
            b'\\' => {
                if let Some(&next) = value.get(*i) {
                    out.push(next);
                    *i += 1;
                }
            }
            _ => out.push(b),
        }
    }
    out
}

fn skip_comment(value: &[u8], i: &mut usize) {
    let mut depth = 0usize;
    while let Some(&b) = value.get(*i) {
        *i += 1;
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return;
                }
            }
            b'\\' => *i += 1,
            _ => {}
        }
    }
}

fn skip_cfws(value: &[u8], i: &mut usize) {
    while let Some(&b) = value.get(*i) {
        match b {
            b'(' => skip_comment(value, i),
            b if b.is_ascii_whitespace() => *i += 1,
            _ => return,
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// One RFC 2231 segment: section number, whether it is percent-encoded, raw value.
type Segment = (u32, bool, Vec<u8>);

/// A parameter name with its plain value (first one wins) and its RFC 2231 segments.
type ParamEntry = (Vec<u8>, Option<Vec<u8>>, Vec<Segment>);

/// Applies RFC 2231 (continuations and charset decoding) and upper-cases the names.
fn reassemble(raw: Vec<(Vec<u8>, Vec<u8>)>) -> Params {
    // Names in order of first appearance, each with its plain value and its extended segments.
    let mut entries: Vec<ParamEntry> = Vec::new();
    for (name, value) in raw {
        let (base, segment) = match split_extended(&name) {
            Some((base, section, encoded)) => (base, Some((section, encoded))),
            None => (name, None),
        };
        let idx = match entries.iter().position(|e| e.0 == base) {
            Some(idx) => idx,
            None => {
                entries.push((base, None, Vec::new()));
                entries.len() - 1
            }
        };
        let Some(entry) = entries.get_mut(idx) else {
            continue;
        };
        match segment {
            Some((section, encoded)) => {
                if !entry.2.iter().any(|s| s.0 == section) {
                    entry.2.push((section, encoded, value));
                }
            }
            None => {
                if entry.1.is_none() {
                    entry.1 = Some(value);
                }
            }
        }
    }
    entries
        .into_iter()
        .filter_map(|(name, plain, mut segments)| {
            let value = if segments.is_empty() {
                plain?
            } else {
                segments.sort_by_key(|s| s.0);
                decode_segments(&segments)
            };
            Some((name.to_ascii_uppercase(), value))
        })
        .collect()
}

/// `name*`, `name*N` or `name*N*` → (name, N, encoded).
fn split_extended(name: &[u8]) -> Option<(Vec<u8>, u32, bool)> {
    let (rest, encoded) = match name.strip_suffix(b"*") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    if let Some(star) = rest.iter().rposition(|&b| b == b'*') {
        let digits = rest.get(star + 1..)?;
        let section = std::str::from_utf8(digits).ok()?.parse::<u32>().ok()?;
        let base = rest.get(..star)?;
        (!base.is_empty()).then(|| (base.to_vec(), section, encoded))
    } else if encoded && !rest.is_empty() {
        Some((rest.to_vec(), 0, true))
    } else {
        None
    }
}

/// Joins sorted RFC 2231 segments and converts the result to UTF-8 when a charset is given.
fn decode_segments(segments: &[Segment]) -> Vec<u8> {
    let mut charset: &[u8] = b"";
    let mut out = Vec::new();
    for (idx, (_, encoded, value)) in segments.iter().enumerate() {
        let mut data: &[u8] = value;
        if idx == 0 && *encoded {
            // charset'language'data; a value without the two quotes is all data.
            let mut parts = value.splitn(3, |&b| b == b'\'');
            if let (Some(cs), Some(_lang), Some(rest)) = (parts.next(), parts.next(), parts.next())
            {
                charset = cs;
                data = rest;
            }
        }
        if *encoded {
            out.extend(percent_decode(data));
        } else {
            out.extend_from_slice(data);
        }
    }
    if charset.is_empty()
        || charset.eq_ignore_ascii_case(b"utf-8")
        || charset.eq_ignore_ascii_case(b"us-ascii")
    {
        return out;
    }
    match mail_parser::decoders::charsets::map::charset_decoder(charset) {
        Some(decode) => decode(&out).into_bytes(),
        // An unknown charset: keep the bytes; the writer sends them as they are.
        None => out,
    }
}

fn percent_decode(data: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                data.get(i + 1).and_then(|&c| hex(c)),
                data.get(i + 2).and_then(|&c| hex(c)),
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

#[cfg(test)]
mod tests {
    use super::super::tree::{BodyContent, LeafBody, Multipart, Part};
    use super::*;

    fn leaf(header: &str, content_type: &str, cte: Option<&str>, body: &str) -> MimeNode {
        MimeNode {
            header: header.as_bytes().to_vec(),
            has_separator: true,
            content_type: content_type.to_string(),
            transfer_encoding: cte.map(str::to_string),
            body: NodeBody::Leaf(LeafBody {
                content: BodyContent::Inline(body.as_bytes().to_vec()),
                size: body.len() as u64,
                lines: body.matches("\r\n").count() as u64,
            }),
        }
    }

    fn p(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
        (name.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    #[test]
    fn params_plain_quoted_and_comments() {
        let (main, params) = parse_value_params(
            b"text/plain (a comment); charset=\"utf-8\"; format=flowed ; NAME=\"a;b \\\"c\\\"\"; broken",
        );
        assert_eq!(main, b"text/plain");
        assert_eq!(
            params,
            vec![
                p("CHARSET", "utf-8"),
                p("FORMAT", "flowed"),
                p("NAME", "a;b \"c\"")
            ]
        );
    }

    #[test]
    fn rfc2231_continuations_and_charsets() {
        let (_, params) = parse_value_params(
            b"attachment; filename*0*=utf-8''%E2%82%AC%20rates; size=10; filename*1=\".txt\"",
        );
        assert_eq!(params, vec![p("FILENAME", "€ rates.txt"), p("SIZE", "10")]);
        let (_, params) =
            parse_value_params(b"application/x; name=\"fallback\"; name*=iso-8859-1'de'M%FCller");
        assert_eq!(params, vec![p("NAME", "Müller")]);
        let (_, params) = parse_value_params(b"x/y; title*1=\"b\"; title*0=\"a\"; t*x=1");
        assert_eq!(params, vec![p("TITLE", "ab"), p("T*X", "1")]);
        // Bytes that are not UTF-8 in a UTF-8 value are kept (the writer sends a literal).
        let (_, params) = parse_value_params(b"x/y; n*=utf-8''%FF%zz");
        assert_eq!(params, vec![(b"N".to_vec(), b"\xff%zz".to_vec())]);
    }

    #[test]
    fn single_text_part_matches_reference_shape() {
        let node = leaf(
            "Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
            "text/html",
            Some("quoted-printable"),
            "<p>Caf=E9</p>\r\n",
        );
        let BodyStructure::Single(s) = body_structure(&node) else {
            panic!("single expected");
        };
        assert_eq!(s.media_type, b"TEXT");
        assert_eq!(s.subtype, b"HTML");
        assert_eq!(s.params, vec![p("CHARSET", "iso-8859-1")]);
        assert_eq!(s.encoding, b"QUOTED-PRINTABLE");
        assert_eq!(s.size, 15);
        assert_eq!(s.specific, Specific::Text { lines: 1 });
        assert_eq!(s.extension, Extension::default());
    }

    #[test]
    fn extension_fields() {
        let node = leaf(
            "Content-Type: application/pdf; name=a.pdf\r\nContent-ID: <c1@x>\r\nContent-Description: The\r\n report\r\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Disposition: Attachment; filename=\"a.pdf\"\r\n\
Content-Language: en, de-CH\r\nContent-Location: http://x/a.pdf\r\n",
            "application/pdf",
            Some("base64"),
            "QUJD\r\n",
        );
        let BodyStructure::Single(s) = body_structure(&node) else {
            panic!("single expected");
        };
        assert_eq!(s.id.as_deref(), Some(&b"<c1@x>"[..]));
        assert_eq!(s.description.as_deref(), Some(&b"The report"[..]));
        assert_eq!(s.md5.as_deref(), Some(&b"Q2hlY2sgSW50ZWdyaXR5IQ=="[..]));
        assert_eq!(s.specific, Specific::Basic);
        assert_eq!(
            s.extension.disposition,
            Some(Disposition {
                kind: b"ATTACHMENT".to_vec(),
                params: vec![p("FILENAME", "a.pdf")]
            })
        );
        assert_eq!(
            s.extension.language,
            Some(vec![b"en".to_vec(), b"de-CH".to_vec()])
        );
        assert_eq!(
            s.extension.location.as_deref(),
            Some(&b"http://x/a.pdf"[..])
        );
    }

    #[test]
    fn multipart_and_nested_message() {
        let inner = leaf(
            "Subject: inner\r\nFrom: a@b\r\n",
            "text/plain",
            None,
            "hi\r\nthere",
        );
        let inner_len = inner.header.len() as u64 + 2 + 9;
        let message = MimeNode {
            header: b"Content-Type: message/rfc822\r\n".to_vec(),
            has_separator: true,
            content_type: "message/rfc822".into(),
            transfer_encoding: None,
            body: NodeBody::Message(Box::new(inner)),
        };
        let text = leaf("", "text/plain", None, "body");
        let root = MimeNode {
            header: b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n".to_vec(),
            has_separator: true,
            content_type: "multipart/mixed".into(),
            transfer_encoding: None,
            body: NodeBody::Multipart(Multipart {
                boundary: b"b1".to_vec(),
                preamble: Vec::new(),
                parts: vec![
                    Part {
                        delimiter: b"--b1\r\n".to_vec(),
                        node: text,
                    },
                    Part {
                        delimiter: b"\r\n--b1\r\n".to_vec(),
                        node: message,
                    },
                ],
                close: Some(b"\r\n--b1--\r\n".to_vec()),
                epilogue: Vec::new(),
            }),
        };
        let BodyStructure::Multipart(m) = body_structure(&root) else {
            panic!("multipart expected");
        };
        assert_eq!(m.subtype, b"MIXED");
        assert_eq!(m.params, vec![p("BOUNDARY", "b1")]);
        assert_eq!(m.parts.len(), 2);
        let Some(BodyStructure::Single(first)) = m.parts.first() else {
            panic!("single expected");
        };
        // No header, no CRLF before the boundary: 4 octets, 0 lines.
        assert_eq!(
            (first.size, &first.specific),
            (4, &Specific::Text { lines: 0 })
        );
        let Some(BodyStructure::Single(msg)) = m.parts.get(1) else {
            panic!("single expected");
        };
        assert_eq!(msg.size, inner_len);
        let Specific::Message {
            envelope,
            body,
            lines,
        } = &msg.specific
        else {
            panic!("message expected");
        };
        assert_eq!(*lines, 4);
        assert_eq!(envelope.subject.as_deref(), Some(&b"inner"[..]));
        assert!(matches!(**body, BodyStructure::Single(ref s) if s.size == 9));
    }

    #[test]
    fn odd_types_fall_back() {
        let rfc822_b64 = leaf("", "message/rfc822", Some("base64"), "QUJD");
        let BodyStructure::Single(s) = body_structure(&rfc822_b64) else {
            panic!("single expected");
        };
        assert_eq!(
            (s.media_type.as_slice(), &s.specific),
            (&b"MESSAGE"[..], &Specific::Basic)
        );
        assert_eq!(s.encoding, b"BASE64");

        let no_boundary = leaf(
            "Content-Type: multipart/mixed\r\n",
            "multipart/mixed",
            None,
            "x\r\n",
        );
        let BodyStructure::Multipart(m) = body_structure(&no_boundary) else {
            panic!("multipart expected");
        };
        assert!(
            matches!(m.parts.as_slice(), [BodyStructure::Single(s)] if s.size == 3 && s.specific == Specific::Text { lines: 1 })
        );

        for (ct, want) in [
            ("text", ("TEXT", "PLAIN")),
            ("/plain", ("TEXT", "PLAIN")),
            ("", ("APPLICATION", "OCTET-STREAM")),
            ("image/", ("APPLICATION", "OCTET-STREAM")),
        ] {
            let (t, s) = split_type(ct);
            assert_eq!(
                (t.as_slice(), s.as_slice()),
                (want.0.as_bytes(), want.1.as_bytes())
            );
        }
    }
}
