//! FETCH section extraction (BODY[...]) from the stored tree without re-parsing the message.
//!
//! Protocol-neutral: the IMAP adapter parses `BODY[1.2.HEADER.FIELDS (From)]<0.100>` into a
//! [`SectionSpec`] plus a partial range and gets the bytes here. Semantics follow RFC 3501 §6.4.5:
//!
//! - part numbers: the children of a multipart are `1..n`; a message that is not multipart has part 1,
//!   its body; the parts of a `message/rfc822` part are the parts of the embedded message;
//! - `BODY[n]` is the part's body (for a `message/rfc822` part, the whole embedded message);
//! - `n.HEADER`, `n.TEXT`, `n.HEADER.FIELDS…` apply to the embedded message of a `message/rfc822` part
//!   and are empty for other parts; `n.MIME` is the part's own header section and blank line;
//! - a part that does not exist gives an empty result, not an error.
//!
//! Every section except `HEADER.FIELDS(.NOT)` is one contiguous byte range of the message, so it is
//! produced with [`rebuild::rebuild_range`]: a partial fetch of a 30 MiB message reads only what it
//! returns.

use super::header;
use super::rebuild;
use super::tree::{BodyContent, BodySource, MimeNode, NodeBody, StoredEncoding};
use crate::Result;

/// Which section of a message to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    /// Part path (`[1, 2]` for `1.2`); empty for the message itself.
    pub part: Vec<u32>,
    /// What to take from that part.
    pub kind: SectionKind,
}

/// The section text after the part number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    /// No section text: the whole message (`BODY[]`) or the part's body (`BODY[1.2]`).
    Full,
    /// `HEADER`: the header section including the blank line that ends it.
    Header,
    /// `HEADER.FIELDS (…)`: only the named fields, then a blank line.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (…)`: every field except the named ones, then a blank line.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`: the body of the message.
    Text,
    /// `MIME`: the part's own header section (only with a part number).
    Mime,
}

/// A node located by a part path, with the offset of its first byte in the rebuilt root.
#[derive(Debug, Clone, Copy)]
struct Located<'a> {
    node: &'a MimeNode,
    offset: u64,
}

impl<'a> Located<'a> {
    fn body_offset(&self) -> u64 {
        self.offset + self.node.header.len() as u64 + rebuild::separator_len(self.node)
    }

    /// The embedded message of a `message/rfc822` node, located.
    fn embedded(&self) -> Option<Located<'a>> {
        match &self.node.body {
            NodeBody::Message(inner) => Some(Located {
                node: inner,
                offset: self.body_offset(),
            }),
            _ => None,
        }
    }
}

/// Finds the entity a part path names. `None` when the path leads nowhere.
fn locate<'a>(root: &'a MimeNode, part: &[u32]) -> Option<Located<'a>> {
    let mut cur = Located {
        node: root,
        offset: 0,
    };
    // Whether `cur` is a message (the root or an embedded one) rather than a body part: a message that is
    // not multipart has a part 1 that is itself.
    let mut is_message = true;
    for &n in part {
        if !is_message && let Some(inner) = cur.embedded() {
            // The parts of a message/rfc822 part are the parts of the embedded message.
            cur = inner;
            is_message = true;
        }
        match &cur.node.body {
            NodeBody::Multipart(mp) => {
                let index = usize::try_from(n).ok()?.checked_sub(1)?;
                let mut offset = cur.body_offset() + mp.preamble.len() as u64;
                for p in mp.parts.iter().take(index) {
                    offset += p.delimiter.len() as u64 + rebuild::size(&p.node);
                }
                let p = mp.parts.get(index)?;
                cur = Located {
                    node: &p.node,
                    offset: offset + p.delimiter.len() as u64,
                };
            }
            _ if is_message && n == 1 => {}
            _ => return None,
        }
        is_message = false;
    }
    Some(cur)
}

/// The entity a FETCH part path names (`[]` is the message itself), with the same numbering as
/// [`fetch_section`]; `None` when the part does not exist. For a non-multipart message, part 1 is the
/// message node itself (its body is the part's content).
pub fn find_part<'a>(root: &'a MimeNode, part: &[u32]) -> Option<&'a MimeNode> {
    locate(root, part).map(|l| l.node)
}

/// A contiguous range of the rebuilt message, or bytes computed from the tree.
enum Extract {
    Range(u64, u64),
    Bytes(Vec<u8>),
}

/// The bytes of a FETCH section, optionally cut to `partial = (offset, length)`. Unknown parts and
/// sections that do not apply to a part give an empty result.
pub fn fetch_section(
    root: &MimeNode,
    spec: &SectionSpec,
    src: &dyn BodySource,
    partial: Option<(u64, u64)>,
) -> Result<Vec<u8>> {
    let Some(extract) = extract(root, spec) else {
        return Ok(Vec::new());
    };
    match extract {
        Extract::Range(start, len) => {
            let (start, len) = match partial {
                Some((o, _)) if o >= len => return Ok(Vec::new()),
                Some((o, l)) => (start + o, l.min(len - o)),
                None => (start, len),
            };
            rebuild::rebuild_range(root, src, start, len)
        }
        Extract::Bytes(bytes) => Ok(match partial {
            Some((o, l)) => {
                let from = usize::try_from(o).unwrap_or(usize::MAX).min(bytes.len());
                let to = usize::try_from(o.saturating_add(l))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                bytes.get(from..to).unwrap_or(&[]).to_vec()
            }
            None => bytes,
        }),
    }
}

/// The length of a section without producing it (for sizes in FETCH answers and BINARY.SIZE-like uses).
pub fn section_size(root: &MimeNode, spec: &SectionSpec) -> u64 {
    match extract(root, spec) {
        Some(Extract::Range(_, len)) => len,
        Some(Extract::Bytes(b)) => b.len() as u64,
        None => 0,
    }
}

fn extract(root: &MimeNode, spec: &SectionSpec) -> Option<Extract> {
    let target = locate(root, &spec.part)?;
    // The message whose HEADER/TEXT/fields are meant: the root for an empty path, else the embedded
    // message of a message/rfc822 part.
    let message = || {
        if spec.part.is_empty() {
            Some(target)
        } else {
            target.embedded()
        }
    };
    let header_range = |m: Located<'_>| {
        Extract::Range(
            m.offset,
            m.node.header.len() as u64 + rebuild::separator_len(m.node),
        )
    };
    let body_range =
        |m: Located<'_>| Extract::Range(m.body_offset(), rebuild::body_size(&m.node.body));
    Some(match &spec.kind {
        SectionKind::Full if spec.part.is_empty() => Extract::Range(0, rebuild::size(root)),
        SectionKind::Full => body_range(target),
        SectionKind::Mime if spec.part.is_empty() => return None,
        SectionKind::Mime => header_range(target),
        SectionKind::Header => header_range(message()?),
        SectionKind::Text => body_range(message()?),
        SectionKind::HeaderFields(names) => {
            Extract::Bytes(filter_fields(&message()?.node.header, names, true))
        }
        SectionKind::HeaderFieldsNot(names) => {
            Extract::Bytes(filter_fields(&message()?.node.header, names, false))
        }
    })
}

/// The fields of `section` whose names are (`keep`) or are not (`!keep`) in `names`, in message order,
/// then a blank line. Lines that are not fields (no name) are left out either way.
pub fn filter_fields(section: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for field in header::fields(section) {
        if field.name.is_empty() {
            continue;
        }
        let listed = names.iter().any(|n| field.is(n.trim()));
        if listed == keep {
            out.extend_from_slice(field.raw);
            if !field.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The transfer-decoded content of a part, for BINARY (RFC 3516). `Some` with the decoded bytes for
/// base64, quoted-printable and identity encodings; `None` for a part that does not exist or an encoding
/// that is not known. An empty path gives the whole message unchanged.
pub fn decoded_part(
    root: &MimeNode,
    part: &[u32],
    src: &dyn BodySource,
) -> Result<Option<Vec<u8>>> {
    if part.is_empty() {
        return rebuild::rebuild(root, src).map(Some);
    }
    let Some(target) = locate(root, part) else {
        return Ok(None);
    };
    let node = target.node;
    let cte = node.transfer_encoding.as_deref().map(str::trim);
    match cte {
        None | Some("" | "7bit" | "8bit" | "binary") => {
            let mut out = Vec::new();
            rebuild::write_body(&node.body, src, &mut out)?;
            Ok(Some(out))
        }
        Some("base64") => {
            if let NodeBody::Leaf(leaf) = &node.body
                && let BodyContent::Stored(r) = &leaf.content
                && let StoredEncoding::Base64Decoded { .. } = r.encoding
                && let Some(blob) = src.stored(&r.hash)
            {
                // The store already keeps it decoded.
                return Ok(Some(blob.into_owned()));
            }
            let mut raw = Vec::new();
            rebuild::write_body(&node.body, src, &mut raw)?;
            Ok(Some(
                super::split::decode_base64_lenient(&raw).unwrap_or_default(),
            ))
        }
        Some("quoted-printable") => {
            let mut raw = Vec::new();
            rebuild::write_body(&node.body, src, &mut raw)?;
            Ok(Some(decode_quoted_printable(&raw)))
        }
        Some(_) => Ok(None),
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7), leniently: a malformed `=` sequence is kept as it is, soft
/// line breaks (`=` at a line end, trailing white space allowed) are removed.
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
        if let (Some(h), Some(l)) = (hex(input.get(i + 1)), hex(input.get(i + 2))) {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        // Soft line break: `=`, optional white space, then CRLF, LF or the end of input.
        let mut j = i + 1;
        while input.get(j).is_some_and(|&c| c == b' ' || c == b'\t') {
            j += 1;
        }
        match input.get(j..) {
            Some(rest) if rest.starts_with(b"\r\n") => i = j + 2,
            Some(rest) if rest.starts_with(b"\n") => i = j + 1,
            Some([]) | None => i = j,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_decoding() {
        assert_eq!(
            decode_quoted_printable(b"a=3Db=\r\nc= \r\nd=zz=4"),
            b"a=bcd=zz=4"
        );
        assert_eq!(decode_quoted_printable(b"x=\n"), b"x");
        assert_eq!(decode_quoted_printable(b"end="), b"end");
    }
}
