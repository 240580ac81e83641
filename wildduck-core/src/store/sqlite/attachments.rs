//! `blobs` (reference counts and metadata) and `blob_data` (the bytes): the de-duplicated
//! attachment store. Counts and bytes live in separate tables so a reference change rewrites a
//! small row, never the blob.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, i, sql};
use crate::Result;
use crate::model::Timestamp;
use crate::store::{AttachmentStore, BlobRef, NewBlob};

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn put_blobs(&self, blobs: &[NewBlob]) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        let blobs = blobs.to_vec();
        self.write(move |tx| put_blobs_in(tx, &blobs)).await
    }

    async fn update_refs(&self, refs: &[BlobRef]) -> Result<()> {
        if refs.is_empty() {
            return Ok(());
        }
        let refs = refs.to_vec();
        self.write(move |tx| {
            let now = Timestamp::now().0;
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE blobs SET refs = refs + ?1, magic = magic + ?2, updated = ?3 WHERE hash = ?4",
                )
                .map_err(sql)?;
            for r in &refs {
                stmt.execute(params![r.count, r.magic, now, r.hash])
                    .map_err(sql)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_blobs(&self, hashes: &[String]) -> Result<HashMap<String, Vec<u8>>> {
        if hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let hashes = hashes.to_vec();
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached("SELECT data FROM blob_data WHERE hash = ?1")
                .map_err(sql)?;
            let mut out = HashMap::new();
            for h in hashes {
                if out.contains_key(&h) {
                    continue;
                }
                if let Some(data) = stmt
                    .query_row([&h], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
                    .map_err(sql)?
                {
                    out.insert(h, data);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn blob_refs(&self, hash: &str) -> Result<Option<(i64, i64)>> {
        let hash = hash.to_string();
        self.read(move |tx| {
            tx.query_row(
                "SELECT refs, magic FROM blobs WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)
        })
        .await
    }
}

/// Stores each blob inside `tx`, or adds a reference `(+1, +magic)` when it exists.
pub(super) fn put_blobs_in(tx: &Connection, blobs: &[NewBlob]) -> Result<()> {
    let now = Timestamp::now().0;
    let mut bump = tx
        .prepare_cached(
            "UPDATE blobs SET refs = refs + 1, magic = magic + ?1, updated = ?2 WHERE hash = ?3",
        )
        .map_err(sql)?;
    for b in blobs {
        if bump
            .execute(params![i64::from(b.magic), now, b.hash])
            .map_err(sql)?
            > 0
        {
            continue;
        }
        tx.execute(
            "INSERT INTO blobs (hash, refs, magic, content_type, transfer_encoding, \
             encoded_size, decoded_line_len, length, created, updated) \
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                b.hash,
                i64::from(b.magic),
                b.content_type,
                b.transfer_encoding,
                i(b.encoded_size),
                b.decoded_line_len.map(|l| i(l as u64)),
                i(b.data.len() as u64),
                now,
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO blob_data (hash, data) VALUES (?1, ?2)",
            params![b.hash, b.data],
        )
        .map_err(sql)?;
    }
    Ok(())
}
