//! The `attachments` GridFS bucket with WildDuck's layout: file `_id` is the SHA-256 of the encoded
//! body as binary (our `StoredRef.hash` is its lower-case hex), `metadata {c, m, cu, esize,
//! transferEncoding, decoded, lineLen, fileContentHash}`, chunks of 255 KiB.
//!
//! A base64 body is kept decoded only when WildDuck's reader gives the original back: WildDuck
//! re-encodes in lines of `lineLen` joined by CRLF with no CRLF after the last line. A body whose
//! last line ends with CRLF is therefore stored raw (re-encoded here, `decoded` absent); the loader
//! takes each blob's form from this metadata ([`MongoAttachments::encodings`]).

use std::collections::HashMap;

use async_trait::async_trait;
use bson::{Binary, Bson, Document, doc, spec::BinarySubtype};
use futures::TryStreamExt as _;
use mongodb::{Collection, Database};

use super::{backend, date, get_bool, get_i64, get_u64, num};
use crate::Result;
use crate::message::tree::{StoredEncoding, encode_base64_lines};
use crate::model::Timestamp;
use crate::store::{AttachmentStore, BlobRef, NewBlob};
use crate::{Error, ErrorKind};

/// GridFS chunk size WildDuck uses.
pub const CHUNK_SIZE: usize = 255 * 1024;

/// `attachments.files` / `attachments.chunks`.
#[derive(Debug, Clone)]
pub struct MongoAttachments {
    files: Collection<Document>,
    chunks: Collection<Document>,
}

impl MongoAttachments {
    /// Over the `attachments` bucket of `db`.
    pub fn new(db: Database) -> Self {
        Self {
            files: db.collection("attachments.files"),
            chunks: db.collection("attachments.chunks"),
        }
    }

    /// How each of `hashes` is held, from the files' metadata in one query: `decoded` with `lineLen`
    /// is base64 re-encoded without a CRLF after the last line (WildDuck's encoder), else raw.
    /// Blobs that do not exist are absent.
    pub async fn encodings(&self, hashes: &[String]) -> Result<HashMap<String, StoredEncoding>> {
        let ids: Vec<Bson> = hashes.iter().map(|h| file_id(h)).collect::<Result<_>>()?;
        let docs: Vec<Document> = self
            .files
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "_id": 1, "metadata.decoded": 1, "metadata.lineLen": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut out = HashMap::new();
        for d in docs {
            let Ok(id) = d.get_binary_generic("_id") else {
                continue;
            };
            let meta = d.get_document("metadata").ok();
            let line_len = meta.map_or(0, |m| get_u64(m, "lineLen"));
            let encoding = match meta {
                Some(m) if get_bool(m, "decoded") && line_len > 0 => {
                    StoredEncoding::Base64Decoded {
                        line_len: usize::try_from(line_len).unwrap_or(76),
                        trailing_crlf: false,
                    }
                }
                _ => StoredEncoding::Raw,
            };
            out.insert(hex_encode(id), encoding);
        }
        Ok(out)
    }
}

/// What goes into GridFS for `b`: `(bytes, lineLen when kept decoded)`. A decoded body that
/// WildDuck's encoder would give back without its final CRLF is re-encoded and kept raw.
fn stored_form(b: &NewBlob) -> (std::borrow::Cow<'_, [u8]>, Option<usize>) {
    match b.decoded_line_len {
        Some(line_len) if line_len > 0 => {
            let plain = encode_base64_lines(&b.data, line_len, false);
            if plain.len() as u64 == b.encoded_size {
                (
                    std::borrow::Cow::Borrowed(b.data.as_slice()),
                    Some(line_len),
                )
            } else {
                let mut raw = plain;
                raw.extend_from_slice(b"\r\n");
                (std::borrow::Cow::Owned(raw), None)
            }
        }
        _ => (std::borrow::Cow::Borrowed(b.data.as_slice()), None),
    }
}

/// WildDuck's `fileContentHash`: base64 SHA-256 of the bytes as stored.
fn content_hash(data: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

/// The file id for a hex hash: the raw digest bytes as BSON binary (WildDuck: `Buffer.from(hash,'hex')`).
pub(crate) fn file_id(hash: &str) -> Result<Bson> {
    let bytes = hex_decode(hash).ok_or_else(|| Error::invalid("blob key is not hex"))?;
    Ok(Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

pub(crate) fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[async_trait]
impl AttachmentStore for MongoAttachments {
    async fn put_blobs(&self, blobs: &[NewBlob]) -> Result<()> {
        for b in blobs {
            let id = file_id(&b.hash)?;
            let now = date(Timestamp::now());
            let hit = self
                .files
                .find_one_and_update(
                    doc! { "_id": id.clone() },
                    doc! { "$inc": { "metadata.c": 1, "metadata.m": num(i64::from(b.magic)) }, "$set": { "metadata.cu": now.clone() } },
                )
                .await
                .map_err(backend)?;
            if hit.is_some() {
                continue;
            }
            let (data, line_len) = stored_form(b);
            // Chunks first, then the files document: a reader never sees a file without its chunks.
            let chunks: Vec<Document> = data
                .chunks(CHUNK_SIZE)
                .enumerate()
                .map(|(n, c)| {
                    doc! {
                        "files_id": id.clone(),
                        "n": num(i64::try_from(n).unwrap_or(i64::MAX)),
                        "data": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: c.to_vec() }),
                    }
                })
                .collect();
            if !chunks.is_empty()
                && let Err(e) = self.chunks.insert_many(chunks).await
                && !super::is_duplicate(&e)
            {
                return Err(backend(e));
            }
            let mut meta = doc! {
                "m": num(i64::from(b.magic)),
                "c": 1,
                "cu": now,
                "esize": num(i64::try_from(b.encoded_size).unwrap_or(i64::MAX)),
                "transferEncoding": b.transfer_encoding.clone().map(Bson::String).unwrap_or(Bson::Null),
            };
            if let Some(l) = line_len {
                meta.insert("decoded", true);
                meta.insert("lineLen", num(i64::try_from(l).unwrap_or(0)));
            }
            meta.insert("fileContentHash", content_hash(&data));
            let file = doc! {
                "_id": id.clone(),
                "length": num(i64::try_from(data.len()).unwrap_or(i64::MAX)),
                "chunkSize": num(CHUNK_SIZE as i64),
                "uploadDate": date(Timestamp::now()),
                "filename": Bson::Null,
                "contentType": &b.content_type,
                "metadata": meta,
            };
            if let Err(e) = self.files.insert_one(file).await {
                if super::is_duplicate(&e) {
                    // Someone stored it concurrently: take a reference on theirs.
                    self.update_refs(&[BlobRef {
                        hash: b.hash.clone(),
                        count: 1,
                        magic: i64::from(b.magic),
                    }])
                    .await?;
                } else {
                    return Err(backend(e));
                }
            }
        }
        Ok(())
    }

    async fn update_refs(&self, refs: &[BlobRef]) -> Result<()> {
        if refs.is_empty() {
            return Ok(());
        }
        let now = date(Timestamp::now());
        let mut updates = Vec::with_capacity(refs.len());
        for r in refs {
            updates.push(doc! {
                "q": { "_id": file_id(&r.hash)? },
                "u": { "$inc": { "metadata.c": num(r.count), "metadata.m": num(r.magic) }, "$set": { "metadata.cu": now.clone() } },
            });
        }
        // One `update` command for the whole batch.
        let db = self
            .files
            .client()
            .database(self.files.namespace().db.as_str());
        db.run_command(doc! { "update": self.files.name(), "updates": updates, "ordered": false })
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_blobs(&self, hashes: &[String]) -> Result<HashMap<String, Vec<u8>>> {
        let mut out = HashMap::new();
        if hashes.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Bson> = hashes.iter().map(|h| file_id(h)).collect::<Result<_>>()?;
        let chunks: Vec<Document> = self
            .chunks
            .find(doc! { "files_id": { "$in": ids } })
            .sort(doc! { "files_id": 1, "n": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        for c in chunks {
            let Ok(id) = c.get_binary_generic("files_id") else {
                continue;
            };
            let Ok(data) = c.get_binary_generic("data") else {
                return Err(Error::new(ErrorKind::Backend, "chunk without data"));
            };
            out.entry(hex_encode(id))
                .or_insert_with(Vec::new)
                .extend_from_slice(data);
        }
        Ok(out)
    }

    async fn blob_refs(&self, hash: &str) -> Result<Option<(i64, i64)>> {
        let d = self
            .files
            .find_one(doc! { "_id": file_id(hash)? })
            .projection(doc! { "metadata": 1 })
            .await
            .map_err(backend)?;
        Ok(d.and_then(|d| {
            d.get_document("metadata")
                .ok()
                .map(|m| (get_i64(m, "c"), get_i64(m, "m")))
        }))
    }
}
