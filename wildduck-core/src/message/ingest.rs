//! Ingestion: raw bytes → [`StoredMessage`] plus the blobs for the attachment store, in one pass of
//! each stage (parse, split, ENVELOPE, BODYSTRUCTURE, derived data).

use std::borrow::Cow;

use super::MAX_MESSAGE_SIZE;
use super::bodystructure::{BodyStructure, body_structure};
use super::envelope::{Envelope, envelope};
use super::maildata::{self, MailData};
use super::parse;
use super::rebuild;
use super::section::{self, SectionSpec};
use super::split::{self, Blob};
use super::tree::{BodySource, MimeNode};
use crate::{Error, Result};

/// A message in the form the stores keep: the MIME tree (bodies inline or split out) and everything
/// precomputed from it. Maps onto WildDuck's `messages` document (see `docs/data-model.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The MIME tree; leaves that were split out reference blobs by hash.
    pub tree: MimeNode,
    /// Length in bytes of the rebuilt message (`RFC822.SIZE`, the quota unit).
    pub size: u64,
    /// ENVELOPE of the top-level message.
    pub envelope: Envelope,
    /// BODYSTRUCTURE (extended form) of the top-level message.
    pub body_structure: BodyStructure,
    /// Indexed headers, Message-ID, subject, date, text, HTML, intro, attachments, thread keys.
    pub data: MailData,
}

/// The result of [`ingest`]: the message and the blobs its split-out bodies live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored form.
    pub message: StoredMessage,
    /// Blobs to put in the de-duplicated attachment store, one per distinct hash, in document order.
    pub blobs: Vec<Blob>,
}

/// Ingests a raw RFC 5322 message. Bare LF line endings are normalised to CRLF; nothing else about the
/// bytes changes, so [`StoredMessage::rebuild`] returns the normalised input exactly.
///
/// Fails with [`crate::ErrorKind::TooBig`] before any work when `raw` is over [`MAX_MESSAGE_SIZE`].
/// Malformed MIME is never an error: it is stored as it came.
pub fn ingest(raw: &[u8]) -> Result<Ingested> {
    if raw.len() > MAX_MESSAGE_SIZE {
        return Err(Error::too_big(format!(
            "message of {} bytes is over the {MAX_MESSAGE_SIZE}-byte limit",
            raw.len()
        )));
    }
    let normalized = parse::normalize_line_endings(raw);
    let mut tree = parse::parse(&normalized);
    let size = rebuild::size(&tree);
    let envelope = envelope(&tree.header);
    let body_structure = body_structure(&tree);
    let mut blobs = split::split(&mut tree);
    // One blob per hash: identical bodies in one message share a blob.
    let mut seen = std::collections::HashSet::new();
    blobs.retain(|b| seen.insert(b.hash.clone()));
    let data = maildata::extract(&tree, &BlobList(&blobs))?;
    Ok(Ingested {
        message: StoredMessage {
            tree,
            size,
            envelope,
            body_structure,
            data,
        },
        blobs,
    })
}

/// The blobs of one ingestion, readable as a [`BodySource`].
#[derive(Debug, Clone, Copy)]
pub struct BlobList<'a>(pub &'a [Blob]);

impl BodySource for BlobList<'_> {
    fn stored(&self, hash: &str) -> Option<Cow<'_, [u8]>> {
        self.0
            .iter()
            .find(|b| b.hash == hash)
            .map(|b| Cow::Borrowed(b.data.as_slice()))
    }
}

impl StoredMessage {
    /// The message bytes exactly as ingested (after line-ending normalisation).
    pub fn rebuild(&self, src: &dyn BodySource) -> Result<Vec<u8>> {
        rebuild::rebuild(&self.tree, src)
    }

    /// A FETCH section, optionally cut to `partial = (offset, length)`; empty for sections that do not
    /// exist, as RFC 3501 says.
    pub fn section(
        &self,
        spec: &SectionSpec,
        src: &dyn BodySource,
        partial: Option<(u64, u64)>,
    ) -> Result<Vec<u8>> {
        section::fetch_section(&self.tree, spec, src, partial)
    }

    /// Hashes of the blobs this message references, in document order, without duplicates.
    pub fn blob_hashes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        collect_hashes(&self.tree, &mut out);
        out
    }
}

fn collect_hashes(node: &MimeNode, out: &mut Vec<String>) {
    use super::tree::{BodyContent, NodeBody};
    match &node.body {
        NodeBody::Leaf(leaf) => {
            if let BodyContent::Stored(r) = &leaf.content
                && !out.contains(&r.hash)
            {
                out.push(r.hash.clone());
            }
        }
        NodeBody::Multipart(m) => m.parts.iter().for_each(|p| collect_hashes(&p.node, out)),
        NodeBody::Message(inner) => collect_hashes(inner, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_big_is_refused_before_parsing() {
        let raw = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        let err = ingest(&raw).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::TooBig);
    }

    #[test]
    fn ingest_rebuilds_exactly_and_sizes_match() {
        let raw = b"From: a@b.c\nSubject: hi\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQF\n--x--\n";
        let ingested = ingest(raw).unwrap();
        let expected = parse::normalize_line_endings(raw);
        let rebuilt = ingested
            .message
            .rebuild(&BlobList(&ingested.blobs))
            .unwrap();
        assert_eq!(rebuilt, expected.as_ref());
        assert_eq!(ingested.message.size, rebuilt.len() as u64);
        assert_eq!(ingested.blobs.len(), 1);
        assert_eq!(
            ingested.message.blob_hashes(),
            vec![ingested.blobs[0].hash.clone()]
        );
        assert_eq!(ingested.message.data.subject, "hi");
    }
}
