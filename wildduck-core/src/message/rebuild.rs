//! Rebuilding the exact message bytes (whole or in byte ranges) from the stored tree.
//!
//! A [`MimeNode`] partitions the message, so the whole message is the concatenation of its pieces in
//! document order. Sizes are known without the blobs (leaves record their encoded size), which lets
//! [`rebuild_range`] skip every node outside the requested range and, for a blob kept decoded, re-encode
//! only the base64 lines the range touches.

use super::tree::{BodyContent, BodySource, LeafBody, MimeNode, NodeBody, StoredEncoding};
use crate::{Error, ErrorKind, Result};

/// Length in bytes of the rebuilt node, computed from the tree alone.
pub fn size(node: &MimeNode) -> u64 {
    node.header.len() as u64 + separator_len(node) + body_size(&node.body)
}

/// Length in bytes of a node's body (everything after the header section and its empty line).
pub fn body_size(body: &NodeBody) -> u64 {
    match body {
        NodeBody::Leaf(leaf) => leaf_size(leaf),
        NodeBody::Message(inner) => size(inner),
        NodeBody::Multipart(mp) => {
            let mut total = mp.preamble.len() as u64;
            for part in &mp.parts {
                total += part.delimiter.len() as u64 + size(&part.node);
            }
            total + mp.close.as_ref().map_or(0, |c| c.len() as u64) + mp.epilogue.len() as u64
        }
    }
}

/// Length of the empty line after the header section (0 or 2).
pub fn separator_len(node: &MimeNode) -> u64 {
    if node.has_separator { 2 } else { 0 }
}

/// Encoded length of a leaf: the inline bytes, or the recorded size of a stored blob.
pub fn leaf_size(leaf: &LeafBody) -> u64 {
    match &leaf.content {
        BodyContent::Inline(bytes) => bytes.len() as u64,
        BodyContent::Stored(_) => leaf.size,
    }
}

/// Appends the node's exact bytes to `out`.
pub fn write_to(node: &MimeNode, src: &dyn BodySource, out: &mut Vec<u8>) -> Result<()> {
    out.extend_from_slice(&node.header);
    if node.has_separator {
        out.extend_from_slice(b"\r\n");
    }
    write_body(&node.body, src, out)
}

/// Appends a node body's exact bytes to `out`.
pub fn write_body(body: &NodeBody, src: &dyn BodySource, out: &mut Vec<u8>) -> Result<()> {
    match body {
        NodeBody::Leaf(leaf) => {
            let bytes = leaf.encoded(src)?;
            if bytes.len() as u64 != leaf_size(leaf) {
                return Err(size_mismatch(leaf, bytes.len() as u64));
            }
            out.extend_from_slice(&bytes);
        }
        NodeBody::Message(inner) => write_to(inner, src, out)?,
        NodeBody::Multipart(mp) => {
            out.extend_from_slice(&mp.preamble);
            for part in &mp.parts {
                out.extend_from_slice(&part.delimiter);
                write_to(&part.node, src, out)?;
            }
            if let Some(close) = &mp.close {
                out.extend_from_slice(close);
            }
            out.extend_from_slice(&mp.epilogue);
        }
    }
    Ok(())
}

/// The node's exact bytes.
pub fn rebuild(node: &MimeNode, src: &dyn BodySource) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity(size(node)));
    write_to(node, src, &mut out)?;
    Ok(out)
}

/// The bytes `start..start + len` of the rebuilt node (clamped to its size; empty when `start` is past
/// the end). Nodes outside the range are skipped without reading their blobs.
pub fn rebuild_range(
    node: &MimeNode,
    src: &dyn BodySource,
    start: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let total = size(node);
    let end = start.saturating_add(len).min(total);
    if start >= end {
        return Ok(Vec::new());
    }
    let mut w = RangeWriter {
        start,
        end,
        pos: 0,
        out: Vec::with_capacity(capacity(end - start)),
    };
    w.node(node, src)?;
    Ok(w.out)
}

/// The bytes `start..start + len` of a node body, like [`rebuild_range`].
pub fn body_range(body: &NodeBody, src: &dyn BodySource, start: u64, len: u64) -> Result<Vec<u8>> {
    let total = body_size(body);
    let end = start.saturating_add(len).min(total);
    if start >= end {
        return Ok(Vec::new());
    }
    let mut w = RangeWriter {
        start,
        end,
        pos: 0,
        out: Vec::with_capacity(capacity(end - start)),
    };
    w.body(body, src)?;
    Ok(w.out)
}

/// Copies the parts of a walk in document order that fall inside `start..end`.
struct RangeWriter {
    start: u64,
    end: u64,
    /// Offset of the next piece in the walk.
    pos: u64,
    out: Vec<u8>,
}

impl RangeWriter {
    fn done(&self) -> bool {
        self.pos >= self.end
    }

    /// The overlap of the range with a piece of `len` bytes at the current position, relative to the
    /// piece: `Some((from, to))` when they overlap.
    fn overlap(&self, len: u64) -> Option<(usize, usize)> {
        let piece_end = self.pos + len;
        let from = self.start.max(self.pos);
        let to = self.end.min(piece_end);
        if from >= to {
            return None;
        }
        Some((
            usize::try_from(from - self.pos).ok()?,
            usize::try_from(to - self.pos).ok()?,
        ))
    }

    fn bytes(&mut self, piece: &[u8]) {
        if let Some((from, to)) = self.overlap(piece.len() as u64)
            && let Some(slice) = piece.get(from..to)
        {
            self.out.extend_from_slice(slice);
        }
        self.pos += piece.len() as u64;
    }

    fn node(&mut self, node: &MimeNode, src: &dyn BodySource) -> Result<()> {
        let len = size(node);
        if self.overlap(len).is_none() {
            self.pos += len;
            return Ok(());
        }
        self.bytes(&node.header);
        if node.has_separator {
            self.bytes(b"\r\n");
        }
        self.body(&node.body, src)
    }

    fn body(&mut self, body: &NodeBody, src: &dyn BodySource) -> Result<()> {
        match body {
            NodeBody::Leaf(leaf) => self.leaf(leaf, src),
            NodeBody::Message(inner) => self.node(inner, src),
            NodeBody::Multipart(mp) => {
                self.bytes(&mp.preamble);
                for part in &mp.parts {
                    if self.done() {
                        return Ok(());
                    }
                    self.bytes(&part.delimiter);
                    self.node(&part.node, src)?;
                }
                if let Some(close) = &mp.close {
                    self.bytes(close);
                }
                self.bytes(&mp.epilogue);
                Ok(())
            }
        }
    }

    fn leaf(&mut self, leaf: &LeafBody, src: &dyn BodySource) -> Result<()> {
        let len = leaf_size(leaf);
        let Some((from, to)) = self.overlap(len) else {
            self.pos += len;
            return Ok(());
        };
        match &leaf.content {
            BodyContent::Inline(bytes) => self
                .out
                .extend_from_slice(bytes.get(from..to).unwrap_or(&[])),
            BodyContent::Stored(r) => {
                let blob = src.stored(&r.hash).ok_or_else(|| missing(&r.hash))?;
                match r.encoding {
                    StoredEncoding::Raw => {
                        if blob.len() as u64 != len {
                            return Err(size_mismatch(leaf, blob.len() as u64));
                        }
                        self.out
                            .extend_from_slice(blob.get(from..to).unwrap_or(&[]));
                    }
                    StoredEncoding::Base64Decoded {
                        line_len,
                        trailing_crlf,
                    } => {
                        let lines = Base64Lines::new(&blob, line_len, trailing_crlf);
                        if lines.encoded_len() != len {
                            return Err(size_mismatch(leaf, lines.encoded_len()));
                        }
                        lines.write_range(from as u64, to as u64, &mut self.out);
                    }
                }
            }
        }
        self.pos += len;
        Ok(())
    }
}

/// Pre-allocation for an output of `len` bytes. Sizes come from stored trees, so a corrupt record must
/// not make us reserve absurd amounts up front; the vector still grows as needed.
fn capacity(len: u64) -> usize {
    usize::try_from(len.min(2 * crate::message::MAX_MESSAGE_SIZE as u64)).unwrap_or(0)
}

fn missing(hash: &str) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("attachment blob {hash} is missing"),
    )
}

fn size_mismatch(leaf: &LeafBody, got: u64) -> Error {
    let hash = match &leaf.content {
        BodyContent::Stored(r) => r.hash.as_str(),
        BodyContent::Inline(_) => "(inline)",
    };
    Error::new(
        ErrorKind::Backend,
        format!(
            "attachment blob {hash} does not match its recorded size {} (got {got})",
            leaf.size
        ),
    )
}

/// The line layout of `encode_base64_lines(data, line_len, trailing_crlf)`, computed arithmetically so
/// a byte range can be produced without encoding the whole blob.
#[derive(Debug, Clone, Copy)]
pub struct Base64Lines<'a> {
    data: &'a [u8],
    line_len: u64,
    trailing_crlf: bool,
}

impl<'a> Base64Lines<'a> {
    /// Layout for `data` encoded in lines of `line_len` characters (at least 1).
    pub fn new(data: &'a [u8], line_len: usize, trailing_crlf: bool) -> Self {
        Base64Lines {
            data,
            line_len: line_len.max(1) as u64,
            trailing_crlf,
        }
    }

    /// Number of base64 characters (padding included).
    fn chars(&self) -> u64 {
        (self.data.len() as u64).div_ceil(3) * 4
    }

    fn line_count(&self) -> u64 {
        self.chars().div_ceil(self.line_len)
    }

    /// Length of the encoded text with its line breaks.
    pub fn encoded_len(&self) -> u64 {
        let lines = self.line_count();
        if lines == 0 {
            return 0;
        }
        let breaks = if self.trailing_crlf { lines } else { lines - 1 };
        self.chars() + 2 * breaks
    }

    /// Appends encoded bytes `from..to` (clamped to the encoded length) to `out`.
    pub fn write_range(&self, from: u64, to: u64, out: &mut Vec<u8>) {
        use base64::Engine as _;
        let to = to.min(self.encoded_len());
        if from >= to {
            return;
        }
        let stride = self.line_len + 2;
        let first_line = from / stride;
        let last_line = (to - 1) / stride;
        // Base64 characters the touched lines hold, widened to whole 4-character groups.
        let char_from = first_line * self.line_len;
        let char_to = ((last_line + 1) * self.line_len).min(self.chars());
        let group_from = char_from / 4;
        let group_to = char_to.div_ceil(4);
        let data_from = usize::try_from(group_from * 3).unwrap_or(usize::MAX);
        let data_to = usize::try_from(group_to * 3)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let slice = self.data.get(data_from..data_to).unwrap_or(&[]);
        let text = base64::engine::general_purpose::STANDARD.encode(slice);
        let text = text.as_bytes();
        // `text[0]` is character `group_from * 4`; rebuild the touched lines, then cut the range.
        let offset_chars = usize::try_from(char_from - group_from * 4).unwrap_or(0);
        let total_lines = self.line_count();
        let mut lines_text =
            Vec::with_capacity(usize::try_from((last_line - first_line + 1) * stride).unwrap_or(0));
        let mut line = first_line;
        let mut rest = text.get(offset_chars..).unwrap_or(&[]);
        while line <= last_line {
            let take = usize::try_from(self.line_len)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            lines_text.extend_from_slice(rest.get(..take).unwrap_or(&[]));
            rest = rest.get(take..).unwrap_or(&[]);
            if line + 1 < total_lines || self.trailing_crlf {
                lines_text.extend_from_slice(b"\r\n");
            }
            line += 1;
        }
        let base = first_line * stride;
        let cut_from = usize::try_from(from - base).unwrap_or(0);
        let cut_to = usize::try_from(to - base).unwrap_or(0);
        out.extend_from_slice(lines_text.get(cut_from..cut_to).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tree::encode_base64_lines;

    #[test]
    fn base64_ranges_match_full_encoding() {
        for n in [0usize, 1, 2, 3, 4, 5, 56, 57, 58, 100, 301] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
            for line_len in [1usize, 3, 4, 5, 76, 78] {
                for trailing in [false, true] {
                    let full = encode_base64_lines(&data, line_len, trailing);
                    let lines = Base64Lines::new(&data, line_len, trailing);
                    assert_eq!(lines.encoded_len(), full.len() as u64, "n={n} l={line_len}");
                    let len = full.len() as u64;
                    for from in (0..=len).step_by(7) {
                        for to in [from, from + 1, from + 5, from + 80, len] {
                            let mut out = Vec::new();
                            lines.write_range(from, to, &mut out);
                            let to = to.min(len);
                            let expect = if from < to {
                                &full[from as usize..to as usize]
                            } else {
                                &[][..]
                            };
                            assert_eq!(out, expect, "n={n} l={line_len} t={trailing} {from}..{to}");
                        }
                    }
                }
            }
        }
    }
}
