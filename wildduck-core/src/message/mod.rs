//! The message model: a raw RFC 5322 message is ingested into a [`StoredMessage`] (the form kept in the
//! database, close to WildDuck's `messages` document) and rebuilt from it byte for byte.
//!
//! Layout of the stored form (see `docs/data-model.md`):
//!
//! - [`MimeNode`] partitions the message bytes exactly: `header` + optional blank line + body, where a
//!   body is a leaf (still transfer-encoded bytes, inline or split out to the attachment store), a
//!   multipart (preamble, delimiter lines, parts, close delimiter, epilogue) or an embedded
//!   `message/rfc822` (a nested [`MimeNode`]). Concatenating the pieces gives the ingested bytes again.
//! - Everything an IMAP or API answer needs without the bytes (ENVELOPE, BODYSTRUCTURE, indexed headers,
//!   text previews, attachment list, thread keys) is computed once at ingestion.

pub mod bodystructure;
pub mod envelope;
pub mod header;
pub mod ingest;
pub mod maildata;
pub mod parse;
pub mod parsed_header;
pub mod rebuild;
pub mod section;
pub mod split;
pub mod tree;

pub use ingest::{BlobList, Ingested, StoredMessage, ingest};
pub use tree::{
    BodyContent, BodySource, LeafBody, MimeNode, Multipart, NoBlobs, NodeBody, Part,
    StoredEncoding, StoredRef,
};

/// The largest message accepted (WildDuck's `MAX_ALLOWED_MESSAGE_SIZE`): 64 MiB.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
