//! Splitting leaf bodies out to the de-duplicated attachment store (SHA-256 keys, decoded base64).
//!
//! WildDuck's rule (`getMaildata` in its indexer): every body that is not a multipart and not inline
//! text leaves the message document, and so does inline text larger than 300 KiB. Inline text is
//! `text/plain`, `text/html`, `text/rfc822-headers` or `message/delivery-status` without a
//! Content-Disposition other than `inline`. Empty bodies stay. Unlike WildDuck, an embedded
//! `message/rfc822` that the tree parsed as a nested message is not stored as one blob: its own
//! leaves are split by the same rule, so the nested structure stays in the document.

use std::collections::HashMap;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::header;
use super::tree::{
    BodyContent, LeafBody, MimeNode, NodeBody, StoredEncoding, StoredRef, encode_base64_lines,
};

/// Inline text bodies larger than this are split out too (WildDuck: 300 KiB).
pub const MAX_INLINE_TEXT: u64 = 300 * 1024;

/// One blob for the attachment store, produced by [`split`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Lower-case hex SHA-256 of the encoded body: the store key.
    pub hash: String,
    /// The bytes as the store keeps them (decoded for [`StoredEncoding::Base64Decoded`]).
    pub data: Vec<u8>,
    /// How `data` relates to the encoded body.
    pub encoding: StoredEncoding,
    /// Length of the encoded body in the message (WildDuck's `metadata.esize`).
    pub encoded_size: u64,
    /// The part's Content-Transfer-Encoding, lower-cased (`None` when absent).
    pub transfer_encoding: Option<String>,
    /// The part's `type/subtype`.
    pub content_type: String,
    /// WildDuck's `fileContentHash`: SHA-256 of the file content, encoded as WildDuck encodes it
    /// (standard base64 of the digest). For base64 bodies the content is the decoded bytes; for every
    /// other transfer encoding it is the body as stored, as WildDuck does. `None` when a base64 body
    /// cannot be decoded at all.
    pub content_hash: Option<String>,
}

/// Whether a node's body stays inline as text (WildDuck's `isInlineText`).
pub fn is_inline_text(node: &MimeNode) -> bool {
    let text_type = matches!(
        node.content_type.as_str(),
        "text/plain" | "text/html" | "text/rfc822-headers" | "message/delivery-status"
    );
    if !text_type {
        return false;
    }
    match header::first(&node.header, "content-disposition") {
        None => true,
        Some(field) => {
            let value = field.unfolded();
            let disposition = value
                .split(|&b| b == b';')
                .next()
                .unwrap_or(&[])
                .trim_ascii()
                .to_ascii_lowercase();
            disposition.is_empty() || disposition == b"inline"
        }
    }
}

/// Whether [`split`] moves this leaf out of the document.
pub fn should_split(node: &MimeNode, leaf: &LeafBody) -> bool {
    let size = match &leaf.content {
        BodyContent::Inline(bytes) => bytes.len() as u64,
        BodyContent::Stored(_) => return false,
    };
    size > 0 && (!is_inline_text(node) || size > MAX_INLINE_TEXT)
}

/// Moves the bodies that leave the document into blobs: each such leaf becomes
/// [`BodyContent::Stored`] with attachment ids `ATT00001`, `ATT00002`, … in document order. Returns one
/// blob per distinct encoded body (identical bodies share a blob, each node keeps its own id).
pub fn split(root: &mut MimeNode) -> Vec<Blob> {
    let mut state = SplitState::default();
    walk(root, &mut state);
    state.blobs
}

#[derive(Default)]
struct SplitState {
    next_id: u32,
    blobs: Vec<Blob>,
    /// hash -> index in `blobs`.
    seen: HashMap<String, usize>,
}

fn walk(node: &mut MimeNode, state: &mut SplitState) {
    let split_it = match &node.body {
        NodeBody::Leaf(leaf) => should_split(node, leaf),
        _ => false,
    };
    if split_it {
        let content_type = node.content_type.clone();
        let transfer_encoding = node.transfer_encoding.clone();
        if let NodeBody::Leaf(leaf) = &mut node.body {
            let body = match std::mem::replace(&mut leaf.content, BodyContent::Inline(Vec::new())) {
                BodyContent::Inline(body) => body,
                stored @ BodyContent::Stored(_) => {
                    leaf.content = stored;
                    return;
                }
            };
            state.next_id += 1;
            let attachment_id = format!("ATT{:05}", state.next_id);
            let hash = hex(&Sha256::digest(&body));
            let encoding = match state.seen.get(&hash).and_then(|&i| state.blobs.get(i)) {
                Some(blob) => blob.encoding,
                None => {
                    let blob = make_blob(hash.clone(), body, content_type, transfer_encoding);
                    let encoding = blob.encoding;
                    state.seen.insert(hash.clone(), state.blobs.len());
                    state.blobs.push(blob);
                    encoding
                }
            };
            leaf.content = BodyContent::Stored(StoredRef {
                attachment_id,
                hash,
                encoding,
            });
        }
        return;
    }
    match &mut node.body {
        NodeBody::Leaf(_) => {}
        NodeBody::Message(inner) => walk(inner, state),
        NodeBody::Multipart(mp) => {
            for part in &mut mp.parts {
                walk(&mut part.node, state);
            }
        }
    }
}

fn make_blob(
    hash: String,
    body: Vec<u8>,
    content_type: String,
    transfer_encoding: Option<String>,
) -> Blob {
    let encoded_size = body.len() as u64;
    let is_base64 = transfer_encoding.as_deref() == Some("base64");
    let decoded = if is_base64 {
        decode_base64_exact(&body)
    } else {
        None
    };
    let (data, encoding, content_hash) = match decoded {
        Some((data, encoding)) => {
            let content_hash = Some(content_digest(&data));
            (data, encoding, content_hash)
        }
        None => {
            let content_hash = if is_base64 {
                decode_base64_lenient(&body).map(|d| content_digest(&d))
            } else {
                Some(content_digest(&body))
            };
            (body, StoredEncoding::Raw, content_hash)
        }
    };
    Blob {
        hash,
        data,
        encoding,
        encoded_size,
        transfer_encoding,
        content_type,
        content_hash,
    }
}

fn content_digest(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decodes a base64 body when its line layout is regular enough that
/// [`encode_base64_lines`] gives back exactly `body`; returns the decoded bytes and the layout.
pub fn decode_base64_exact(body: &[u8]) -> Option<(Vec<u8>, StoredEncoding)> {
    let first_line_end = memchr::memmem::find(body, b"\r\n");
    let (line_len, trailing_crlf) = match first_line_end {
        Some(n) => (n, body.ends_with(b"\r\n")),
        None => (body.len(), false),
    };
    if line_len == 0 {
        return None;
    }
    // Strip the line breaks; a canonical encoding has them exactly every `line_len` characters, which
    // the final comparison checks.
    let mut text = Vec::with_capacity(body.len());
    for line in body.split(|&b| b == b'\n') {
        text.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .ok()?;
    let encoding = StoredEncoding::Base64Decoded {
        line_len,
        trailing_crlf,
    };
    if encode_base64_lines(&data, line_len, trailing_crlf) == body {
        Some((data, encoding))
    } else {
        None
    }
}

/// Decodes base64 the way mail clients do: characters outside the alphabet are skipped, decoding stops
/// at padding, and a dangling last character is dropped. `None` only when nothing sensible remains.
pub fn decode_base64_lenient(body: &[u8]) -> Option<Vec<u8>> {
    let mut text: Vec<u8> = Vec::with_capacity(body.len());
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => text.push(b),
            b'=' => break,
            _ => {}
        }
    }
    if text.len() % 4 == 1 {
        text.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    engine.decode(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse::parse;

    #[test]
    fn exact_base64_detection() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31) as u8).collect();
        let enc = encode_base64_lines(&data, 76, true);
        assert_eq!(
            decode_base64_exact(&enc),
            Some((
                data.clone(),
                StoredEncoding::Base64Decoded {
                    line_len: 76,
                    trailing_crlf: true
                }
            ))
        );
        let mut odd = enc.clone();
        odd.insert(10, b' ');
        assert_eq!(decode_base64_exact(&odd), None);
        let irregular = [&enc[..76], b"\r\n", &enc[78..100], b"\r\n", &enc[100..]].concat();
        assert_eq!(decode_base64_exact(&irregular), None);
        assert_eq!(decode_base64_lenient(&odd), Some(data));
    }

    #[test]
    fn split_follows_wildduck_rule() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhello\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b\r\nContent-Type: image/gif\r\n\r\n\r\n--b--\r\n";
        let mut root = parse(msg);
        let blobs = split(&mut root);
        assert_eq!(blobs.len(), 2);
        assert_eq!(blobs[0].data, b"file");
        assert_eq!(blobs[1].data, [0u8, 1, 2]);
        assert_eq!(blobs[1].encoded_size, 4);
        let NodeBody::Multipart(mp) = &root.body else {
            panic!()
        };
        let ids: Vec<Option<String>> = mp
            .parts
            .iter()
            .map(|p| match &p.node.body {
                NodeBody::Leaf(LeafBody {
                    content: BodyContent::Stored(r),
                    ..
                }) => Some(r.attachment_id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            ids,
            [
                None,
                Some("ATT00001".into()),
                Some("ATT00002".into()),
                Some("ATT00003".into()),
                None
            ]
        );
        let store: HashMap<String, Vec<u8>> = blobs.into_iter().map(|b| (b.hash, b.data)).collect();
        assert_eq!(
            crate::message::rebuild::rebuild(&root, &store).unwrap(),
            msg
        );
    }
    #[test]
    fn large_inline_text_and_attached_text_are_split() {
        let big = "x".repeat(300 * 1024 + 1);
        let msg = format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n{big}\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=a.txt\r\n\r\nsmall\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n--b--\r\n"
        );
        let mut root = parse(msg.as_bytes());
        let blobs = split(&mut root);
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs[0].data.len(), big.len());
        assert_eq!(blobs[0].content_type, "text/html");
        assert_eq!(blobs[0].transfer_encoding, None);
        assert_eq!(blobs[0].encoding, StoredEncoding::Raw);
        assert_eq!(blobs[0].hash, hex(&Sha256::digest(big.as_bytes())));
        assert_eq!(
            blobs[0].content_hash.as_deref(),
            Some(content_digest(big.as_bytes()).as_str())
        );
        // Splitting twice changes nothing.
        let again = root.clone();
        assert!(split(&mut root).is_empty());
        assert_eq!(root, again);
    }
}
