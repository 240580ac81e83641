//! Messages: append, copy, move, expunge, flag changes and fetch, with WildDuck's invariants
//! (inventory §1.7, §1.8, §4.5–§4.8, §5.3) kept once, over the store primitives.
//!
//! Every use case writes in the same order whatever the backend: allocate UIDs and MODSEQ in one
//! atomic step → attachment references → message documents → `storageUsed` → journal → notify.
//! When a step fails, the steps before it are undone (references released, inserted documents
//! removed), so no half-stored message is visible and the quota does not drift. A journal or
//! notification failure after the data is stored is logged, not returned: the change is complete
//! and sessions pick it up on their next full read.
//!
//! Mailbox-scoped use cases that a session runs on its selected mailbox (flags, expunge, fetch,
//! the source of copy and move) take the [`Mailbox`] the session got from
//! [`Services::get_mailbox`] / [`Services::find_mailbox`], and check that it is the caller's
//! without another round trip.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::Services;
use super::mailboxes::BlobRefSum;
// The same 24-hour window as POP3's `pdw:` counter (WildDuck's ttlcounter default).
use super::pop3::DOWNLOAD_WINDOW;
use crate::message::section::SectionSpec;
use crate::message::tree::StoredEncoding;
use crate::message::{BodySource, Ingested, StoredMessage, ingest};
use crate::model::{
    Flag, FlagOp, Flags, JournalCommand, JournalEntry, Mailbox, MailboxId, MessageId, MessageMeta,
    ModSeq, SpecialUse, ThreadId, Timestamp, Uid, UidSet, User, UserId,
};
use crate::store::{
    AppendMessage, BlobRef, CopiedUid, ExpungeRequest, FlagChange, FlagResult, FlagUpdate,
    MessageFilter, NewBlob, ThreadLookup, flags_entry, message_entry,
};
use crate::{Error, ErrorKind, Result};

/// How long WildDuck's EXPUNGE holds `mbwr:<mailbox>` before it expires (2 minutes).
pub const EXPUNGE_LOCK_TTL: Duration = Duration::from_secs(120);
/// How long MOVE holds `mbwr:<mailbox>` before it expires (5 minutes).
pub const MOVE_LOCK_TTL: Duration = Duration::from_secs(300);
/// How long a writer waits for `mbwr:<mailbox>` (WildDuck: 1 minute).
pub const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Most keywords a mailbox remembers for FLAGS/PERMANENTFLAGS (WildDuck: 100).
pub const MAX_MAILBOX_KEYWORDS: usize = 100;
/// Bytes a user may download over IMAP a day unless the user has `imapMaxDownload`
/// (WildDuck `const:max:imap:download`: 10 GiB).
pub const IMAP_MAX_DOWNLOAD: u64 = 10 * 1024 * 1024 * 1024;
/// Messages larger than this are ingested on the blocking pool, off the reactor threads.
const BLOCKING_INGEST_SIZE: usize = 256 * 1024;

/// Largest custom metadata of a message in bytes of JSON text (WildDuck: 1 MiB).
pub const MAX_META_DATA: usize = 1024 * 1024;

/// What APPEND (or an API upload) stores.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest<'a> {
    /// The raw RFC 5322 message.
    pub raw: &'a [u8],
    /// Initial flags.
    pub flags: Flags,
    /// INTERNALDATE; now when `None`.
    pub idate: Option<Timestamp>,
    /// The issuing session: its journal entries carry it as `ignore`, since it tells its client
    /// itself.
    pub session: Option<&'a str>,
}

/// The outcome of an append (APPENDUID data and more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The new message's id.
    pub id: MessageId,
    /// Its UID.
    pub uid: Uid,
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: u32,
    /// Its MODSEQ.
    pub modseq: ModSeq,
    /// RFC822.SIZE (the quota unit).
    pub size: u64,
    /// Its thread.
    pub thread: ThreadId,
}

/// The outcome of a copy (COPYUID data).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copied {
    /// The target's UIDVALIDITY.
    pub uid_validity: u32,
    /// Source → target UID pairs, sorted by source UID; empty when no message matched.
    pub uids: Vec<CopiedUid>,
    /// The MODSEQ the copies got in the target.
    pub modseq: Option<ModSeq>,
}

/// The outcome of a move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Moved {
    /// The target's UIDVALIDITY.
    pub uid_validity: u32,
    /// Source → target UID pairs (COPYUID data), sorted by source UID.
    pub uids: Vec<CopiedUid>,
    /// The MODSEQ the moved messages got in the target.
    pub target_modseq: Option<ModSeq>,
    /// The MODSEQ of the EXPUNGE entries in the source.
    pub source_modseq: Option<ModSeq>,
}

/// The outcome of an expunge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expunged {
    /// UIDs removed, ascending.
    pub uids: Vec<Uid>,
    /// The MODSEQ of the EXPUNGE entries; `None` when nothing was removed.
    pub modseq: Option<ModSeq>,
}

/// A message with its content and the blobs it needs, ready for rebuild and FETCH sections.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    /// Metadata.
    pub meta: MessageMeta,
    /// The stored form.
    pub message: StoredMessage,
    /// Blobs of every message of the same fetch (shared: one load for the batch).
    blobs: Arc<HashMap<String, Vec<u8>>>,
}

impl FetchedMessage {
    /// Metadata and content without attachment bytes (listings read none).
    pub(crate) fn without_blobs(meta: MessageMeta, message: StoredMessage) -> Self {
        Self {
            meta,
            message,
            blobs: Arc::new(HashMap::new()),
        }
    }

    /// The blobs, as the message model reads them.
    pub fn blobs(&self) -> &dyn BodySource {
        self.blobs.as_ref()
    }

    /// The message bytes exactly as stored (`BODY[]`).
    pub fn raw(&self) -> Result<Vec<u8>> {
        self.message.rebuild(self.blobs.as_ref())
    }

    /// A FETCH section, optionally cut to `partial = (offset, length)`.
    pub fn section(&self, spec: &SectionSpec, partial: Option<(u64, u64)>) -> Result<Vec<u8>> {
        self.message.section(spec, self.blobs.as_ref(), partial)
    }
}

fn not_found() -> Error {
    Error::not_found("no such mailbox")
}

fn over_quota() -> Error {
    Error::new(ErrorKind::OverQuota, "storage quota exceeded")
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The Redis key of a user's daily IMAP download counter (WildDuck's `idw:<user>`).
fn download_key(user: UserId) -> String {
    format!("idw:{user}")
}

/// "Try again in …" as WildDuck's `tools.roundTime` words it: whole days, else whole hours,
/// else seconds (its minutes branch divides by 3600 too, so it never applies).
fn wildduck_round_time(ttl_secs: i64) -> String {
    let s = ttl_secs.max(0);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if s / 86_400 > 0 {
        plural(s / 86_400, "day")
    } else if s / 3600 > 0 {
        plural(s / 3600, "hour")
    } else {
        plural(s, "second")
    }
}

fn exists_entry(meta: &MessageMeta, session: Option<&str>) -> JournalEntry {
    JournalEntry {
        flags: Some(meta.flags.to_strings()),
        idate: Some(meta.idate),
        thread: meta.thread,
        ..message_entry(JournalCommand::Exists, meta, meta.modseq, session)
    }
}

/// The store form of an ingested blob, referenced once by a message with `magic`.
fn new_blob(b: crate::message::split::Blob, magic: u32) -> NewBlob {
    NewBlob {
        decoded_line_len: match b.encoding {
            StoredEncoding::Base64Decoded { line_len, .. } => Some(line_len),
            StoredEncoding::Raw => None,
        },
        hash: b.hash,
        data: b.data,
        content_type: b.content_type,
        transfer_encoding: b.transfer_encoding,
        encoded_size: b.encoded_size,
        magic,
    }
}

/// The keywords of `flags` that `mailbox` does not list yet (for FLAGS), none once it lists
/// [`MAX_MAILBOX_KEYWORDS`].
fn new_keywords(mailbox: &Mailbox, flags: &Flags) -> Vec<String> {
    if mailbox.flags.len() >= MAX_MAILBOX_KEYWORDS {
        return Vec::new();
    }
    flags
        .keywords()
        .filter(|k| !mailbox.flags.iter().any(|f| f.eq_ignore_ascii_case(k)))
        .map(str::to_string)
        .collect()
}

/// Runs [`ingest`], on the blocking pool for large messages (parsing 64 MiB takes a while).
async fn ingest_message(raw: &[u8]) -> Result<Ingested> {
    if raw.len() <= BLOCKING_INGEST_SIZE {
        return ingest(raw);
    }
    if raw.len() > crate::message::MAX_MESSAGE_SIZE {
        // Refuse before copying the bytes.
        return ingest(raw);
    }
    let owned = raw.to_vec();
    tokio::task::spawn_blocking(move || ingest(&owned))
        .await
        .map_err(|e| Error::new(ErrorKind::Backend, format!("ingest task failed: {e}")))?
}

impl Services {
    /// Refuses when the user is already over quota (WildDuck checks `storageUsed > quota` before
    /// the add, so one message may overshoot the limit).
    async fn check_quota(&self, user: UserId) -> Result<()> {
        let u = self.get_user(user).await?;
        if u.storage_used > to_i64(self.quota_limit(&u)) {
            return Err(over_quota());
        }
        Ok(())
    }

    /// Remembers new keywords on the mailbox (for FLAGS); a failure only costs the listing.
    async fn remember_keywords(&self, mailbox: &Mailbox, flags: &Flags) {
        let new = new_keywords(mailbox, flags);
        if new.is_empty() {
            return;
        }
        if let Err(e) = self.backend.mailboxes.add_keywords(mailbox.id, &new).await {
            tracing::warn!(mailbox = %mailbox.id, error = %e, "keyword list update failed");
        }
    }

    /// Writes journal entries; a failure is logged (the data change is already complete).
    async fn journal(&self, entries: &[JournalEntry]) {
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.backend.journal.append(entries).await {
            tracing::warn!(error = %e, entries = entries.len(), "journal write failed");
        }
    }

    /// Undo helper: releases references; a failure is logged (a leak, which the garbage
    /// collector tolerates, never a loss).
    async fn release_refs(&self, refs: &[BlobRef]) {
        if refs.is_empty() {
            return;
        }
        let neg: Vec<BlobRef> = refs
            .iter()
            .map(|r| BlobRef {
                hash: r.hash.clone(),
                count: -r.count,
                magic: -r.magic,
            })
            .collect();
        if let Err(e) = self.backend.attachments.update_refs(&neg).await {
            tracing::error!(error = %e, "rollback of attachment references failed");
        }
    }

    /// Undo helper: removes documents inserted by a failed use case.
    async fn remove_inserted(&self, mailbox: MailboxId, ids: &[MessageId]) {
        if let Err(e) = self.backend.messages.delete_messages(mailbox, ids).await {
            tracing::error!(%mailbox, error = %e, "rollback of inserted messages failed");
        }
    }

    /// Runs `work` holding WildDuck's mailbox write lock `mbwr:<mailbox>` (when locks are
    /// configured), waiting up to [`LOCK_WAIT`] for it.
    pub(super) async fn with_mailbox_lock<T>(
        &self,
        mailbox: MailboxId,
        ttl: Duration,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(locks) = &self.locks else {
            return work.await;
        };
        let name = format!("mail:mbwr:{mailbox}");
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(10);
        let guard = loop {
            if let Some(g) = locks.acquire(&name, ttl).await? {
                break g;
            }
            if started.elapsed() >= LOCK_WAIT {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "mailbox is locked by another writer",
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        };
        let result = work.await;
        if let Err(e) = locks.release(guard).await {
            tracing::warn!(%mailbox, error = %e, "mailbox lock release failed");
        }
        result
    }

    /// Tells every session of `user` that something changed, naming `session` (the one that made
    /// the change and journaled it with `ignore`) so that session does not read its own entries
    /// back: it told its client already.
    async fn notify_from(&self, user: UserId, session: Option<&str>) {
        if let Some(n) = &self.notifier
            && let Err(e) = n.publish_change(&user.to_string(), session).await
        {
            tracing::warn!(%user, error = %e, "change notification failed");
        }
    }

    /// `(archived, expires)` for messages archived now, `None` when no archive is kept.
    fn archive_window(&self) -> Option<(Timestamp, Timestamp)> {
        if self.config.archive_time.is_zero() {
            return None;
        }
        let now = Timestamp::now();
        let keep = i64::try_from(self.config.archive_time.as_millis()).unwrap_or(i64::MAX);
        Some((now, Timestamp(now.0.saturating_add(keep))))
    }

    /// APPEND: ingests `req.raw` and stores it in one of `user`'s mailboxes.
    ///
    /// Errors: `TooBig` over 64 MiB; `NotFound` for an unknown or another user's mailbox;
    /// `OverQuota` when the user is over quota — in every error case nothing is stored and
    /// `storageUsed` is unchanged.
    pub async fn append(
        &self,
        user: UserId,
        mailbox: MailboxId,
        req: AppendRequest<'_>,
    ) -> Result<Appended> {
        self.append_with_meta_data(user, mailbox, req, None).await
    }

    /// [`Services::append`] storing custom metadata with the message (the API upload's
    /// `metaData`: JSON text of an object, at most [`MAX_META_DATA`] bytes, else `Invalid`),
    /// in the same write as the message.
    pub async fn append_with_meta_data(
        &self,
        user: UserId,
        mailbox: MailboxId,
        req: AppendRequest<'_>,
        meta_data: Option<String>,
    ) -> Result<Appended> {
        if let Some(m) = &meta_data {
            super::users::check_meta("metaData", m)?;
        }
        let ingested = ingest_message(req.raw).await?;
        // Both reads at once (they are independent); over quota is reported first, as before.
        let (quota, mb) = tokio::join!(self.check_quota(user), self.get_mailbox(user, mailbox));
        quota?;
        let mb = mb?;
        self.append_ingested(user, &mb, ingested, req, meta_data)
            .await
    }

    /// [`Services::append`] for a caller that has just read the user and the mailbox (IMAP
    /// APPEND reads both for its own checks): the quota is checked against `user` as read and
    /// the mailbox is not read again, two reads fewer. `NotFound` when `mailbox` is not
    /// `user`'s.
    pub async fn append_to(
        &self,
        user: &User,
        mailbox: &Mailbox,
        req: AppendRequest<'_>,
    ) -> Result<Appended> {
        let ingested = ingest_message(req.raw).await?;
        if user.storage_used > to_i64(self.quota_limit(user)) {
            return Err(over_quota());
        }
        Self::own(user.id, mailbox)?;
        self.append_ingested(user.id, mailbox, ingested, req, None)
            .await
    }

    /// The rest of an APPEND once the message is ingested, the quota checked and the mailbox
    /// read.
    async fn append_ingested(
        &self,
        user: UserId,
        mb: &Mailbox,
        ingested: Ingested,
        req: AppendRequest<'_>,
        meta_data: Option<String>,
    ) -> Result<Appended> {
        let Ingested { message, blobs } = ingested;
        let correspondents =
            super::address_register::correspondents(mb.special_use, &req.flags, &message);
        let thread = ThreadLookup {
            subject: message.data.thread.subject.clone(),
            references: message
                .data
                .thread
                .references
                .iter()
                .take(super::threads::MAX_THREAD_REFERENCES)
                .cloned()
                .collect(),
        };

        let id = MessageId::new();
        let magic = u32::from(rand::random::<u16>()).max(1);
        let now = Timestamp::now();
        let idate = req.idate.unwrap_or(now);
        // UID, MODSEQ and thread are assigned by the store's append.
        let meta = MessageMeta {
            id,
            root: id,
            user,
            mailbox: mb.id,
            uid: Uid(0),
            modseq: ModSeq(0),
            thread: None,
            idate,
            hdate: message.data.hdate.map(Timestamp).unwrap_or(idate),
            flags: req.flags,
            size: message.size,
            msgid: Some(message.data.msgid.clone()).filter(|m| !m.is_empty()),
            subject: message.data.subject.clone(),
            has_attachments: message.data.has_attachments,
            junk: mb.special_use == Some(SpecialUse::Junk),
            magic,
            rdate: mb.expiry_from(now),
            blobs: message.blob_hashes(),
        };
        let keywords = new_keywords(mb, &meta.flags);
        let journal = exists_entry(&meta, req.session);
        // Allocation → thread → blobs → insert → `storageUsed` → keywords → journal as one store
        // primitive: one transaction on SQLite, the undoing step-by-step sequence elsewhere
        // (`store::append_in_steps`). Either way no partial message survives an error.
        let stored = self
            .backend
            .messages
            .append_message(
                &self.backend,
                AppendMessage {
                    meta,
                    content: Arc::new(message),
                    blobs: blobs.into_iter().map(|b| new_blob(b, magic)).collect(),
                    thread: Some(thread),
                    keywords,
                    journal: Some(journal),
                    meta_data,
                },
            )
            .await?;
        // Only after the commit: sessions woken now find the message and its journal entry.
        self.notify_from(user, req.session).await;
        self.record_correspondents(user, correspondents);
        Ok(Appended {
            id,
            uid: stored.uid,
            uid_validity: mb.uid_validity,
            modseq: stored.modseq,
            size: stored.size,
            thread: stored.thread.unwrap_or_default(),
        })
    }

    /// COPY: copies the messages at `uids` of `source` into `user`'s mailbox `target` in bulk
    /// (one UID range and one MODSEQ allocated in the target, one batch of attachment references,
    /// one `storageUsed` increment, one journal batch).
    ///
    /// Errors: `NotFound` for a mailbox that is not the user's; `OverQuota` when the user is over
    /// quota (nothing copied).
    pub async fn copy_messages(
        &self,
        user: UserId,
        source: &Mailbox,
        uids: &UidSet,
        target: MailboxId,
        session: Option<&str>,
    ) -> Result<Copied> {
        Self::own(user, source)?;
        self.check_quota(user).await?;
        let target = self.get_mailbox(user, target).await?;
        self.copy_checked(user, source, uids, &target, session)
            .await
    }

    /// COPY into a target the caller already loaded ([`Services::find_mailbox`], as IMAP does
    /// for TRYCREATE): as [`Services::copy_messages`] without reading the target again.
    pub async fn copy_messages_to(
        &self,
        user: UserId,
        source: &Mailbox,
        uids: &UidSet,
        target: &Mailbox,
        session: Option<&str>,
    ) -> Result<Copied> {
        Self::own(user, source)?;
        Self::own(user, target)?;
        self.check_quota(user).await?;
        self.copy_checked(user, source, uids, target, session).await
    }

    /// The copy once ownership and quota are checked.
    async fn copy_checked(
        &self,
        user: UserId,
        source: &Mailbox,
        uids: &UidSet,
        target: &Mailbox,
        session: Option<&str>,
    ) -> Result<Copied> {
        let (pairs, copies) = self
            .backend
            .messages
            .copy_messages(source.id, uids, target)
            .await?;
        if pairs.is_empty() {
            return Ok(Copied {
                uid_validity: target.uid_validity,
                ..Default::default()
            });
        }
        let new_ids: Vec<MessageId> = pairs.iter().map(|p| p.id).collect();
        let refs = BlobRefSum::from_metas(&copies, 1);
        if !refs.is_empty()
            && let Err(e) = self.backend.attachments.update_refs(&refs).await
        {
            self.remove_inserted(target.id, &new_ids).await;
            return Err(e);
        }
        let total: u64 = pairs.iter().map(|p| p.size).sum();
        if let Err(e) = self.backend.users.inc_storage(user, to_i64(total)).await {
            self.remove_inserted(target.id, &new_ids).await;
            self.release_refs(&refs).await;
            return Err(e);
        }
        let mut keywords = Flags::new();
        for c in &copies {
            for k in c.flags.keywords() {
                keywords.insert(Flag::Keyword(k.to_string()));
            }
        }
        self.remember_keywords(target, &keywords).await;
        let entries: Vec<JournalEntry> = copies.iter().map(|m| exists_entry(m, session)).collect();
        self.journal(&entries).await;
        self.notify_from(user, session).await;
        Ok(Copied {
            uid_validity: target.uid_validity,
            modseq: copies.first().map(|m| m.modseq),
            uids: pairs,
        })
    }

    /// MOVE: copies the messages at `uids` of `source` into `target` and removes them from the
    /// source, under the source's write lock. The source gets one new MODSEQ for all its EXPUNGE
    /// entries; attachment references and `storageUsed` do not change (each message still exists
    /// once).
    pub async fn move_messages(
        &self,
        user: UserId,
        source: &Mailbox,
        uids: &UidSet,
        target: MailboxId,
        session: Option<&str>,
    ) -> Result<Moved> {
        Self::own(user, source)?;
        let target = self.get_mailbox(user, target).await?;
        self.with_mailbox_lock(
            source.id,
            MOVE_LOCK_TTL,
            self.move_locked(user, source, uids, &target, session),
        )
        .await
    }

    async fn move_locked(
        &self,
        user: UserId,
        source: &Mailbox,
        uids: &UidSet,
        target: &Mailbox,
        session: Option<&str>,
    ) -> Result<Moved> {
        let b = &self.backend;
        let originals = b
            .messages
            .find_meta(
                source.id,
                &MessageFilter {
                    uids: Some(uids.clone()),
                    ..Default::default()
                },
            )
            .await?;
        if originals.is_empty() {
            return Ok(Moved {
                uid_validity: target.uid_validity,
                ..Default::default()
            });
        }
        // Copy exactly what was found, so the pairs and the deletions agree.
        let found: UidSet = originals.iter().map(|m| m.uid).collect();
        let (pairs, copies) = b.messages.copy_messages(source.id, &found, target).await?;
        let new_ids: Vec<MessageId> = pairs.iter().map(|p| p.id).collect();
        let copied: std::collections::HashSet<Uid> = pairs.iter().map(|p| p.source).collect();
        let moved: Vec<&MessageMeta> = originals
            .iter()
            .filter(|m| copied.contains(&m.uid))
            .collect();
        let old_ids: Vec<MessageId> = moved.iter().map(|m| m.id).collect();
        let deleted = match b.messages.delete_messages(source.id, &old_ids).await {
            Ok(n) => n,
            Err(e) => {
                self.remove_inserted(target.id, &new_ids).await;
                return Err(e);
            }
        };
        if deleted != old_ids.len() as u64 {
            // Someone removed originals meanwhile (and released their references and quota):
            // the surviving copies need theirs again. Taking references for every copy may leak
            // a few (the collector tolerates that); quota is recomputed exactly.
            tracing::warn!(mailbox = %source.id, expected = old_ids.len(), deleted,
                "move raced with another delete");
            let refs = BlobRefSum::from_metas(&copies, 1);
            if let Err(e) = b.attachments.update_refs(&refs).await {
                tracing::error!(error = %e, "reference repair after move failed");
            }
            if let Err(e) = self.recalculate_quota(user).await {
                tracing::error!(%user, error = %e, "quota repair after move failed");
            }
        }
        let (_, source_modseq) = b
            .mailboxes
            .allocate(source.id, 0)
            .await?
            .ok_or_else(not_found)?;
        let mut keywords = Flags::new();
        for c in &copies {
            for k in c.flags.keywords() {
                keywords.insert(Flag::Keyword(k.to_string()));
            }
        }
        self.remember_keywords(target, &keywords).await;
        let mut entries: Vec<JournalEntry> = moved
            .iter()
            .map(|m| message_entry(JournalCommand::Expunge, m, source_modseq, session))
            .collect();
        entries.extend(copies.iter().map(|m| exists_entry(m, session)));
        self.journal(&entries).await;
        self.notify_from(user, session).await;
        Ok(Moved {
            uid_validity: target.uid_validity,
            target_modseq: copies.first().map(|m| m.modseq),
            source_modseq: Some(source_modseq),
            uids: pairs,
        })
    }

    /// EXPUNGE / UID EXPUNGE: removes the messages flagged `\Deleted` (only those at `uids` when
    /// given) under the mailbox write lock; releases their attachment references and quota.
    pub async fn expunge(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: Option<&UidSet>,
        session: Option<&str>,
    ) -> Result<Expunged> {
        self.expunge_archiving(user, mailbox, uids, session, true)
            .await
    }

    /// [`Services::expunge`] with the archive chosen: `archive` false removes the messages
    /// without keeping them in the archive of deleted messages (the API's `skipArchive`).
    pub async fn expunge_archiving(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: Option<&UidSet>,
        session: Option<&str>,
        archive: bool,
    ) -> Result<Expunged> {
        Self::own(user, mailbox)?;
        let filter = MessageFilter {
            uids: uids.cloned(),
            deleted_only: true,
            ..Default::default()
        };
        self.with_mailbox_lock(mailbox.id, EXPUNGE_LOCK_TTL, async {
            // One transaction where the backend has it (SQLite); else the primitives below.
            let request = ExpungeRequest {
                user,
                mailbox: mailbox.id,
                uids,
                archive: archive.then(|| self.archive_window()).flatten(),
                session,
            };
            if let Some(out) = self.backend.messages.expunge_journaled(request).await? {
                if !out.removed.is_empty() {
                    self.notify_from(user, session).await;
                }
                return Ok(Expunged {
                    uids: out.removed.iter().map(|m| m.uid).collect(),
                    modseq: out.modseq,
                });
            }
            let found = self.backend.messages.find_meta(mailbox.id, &filter).await?;
            self.remove_messages(user, mailbox.id, found, session, archive)
                .await
        })
        .await
    }

    /// Deletes one message by UID regardless of its flags (the API's message delete).
    /// `NotFound` when the mailbox is not the user's or has no such message.
    pub async fn delete_message(
        &self,
        user: UserId,
        mailbox: MailboxId,
        uid: Uid,
        session: Option<&str>,
    ) -> Result<()> {
        let mb = self.get_mailbox(user, mailbox).await?;
        let filter = MessageFilter {
            uids: Some(UidSet::range(uid.0, uid.0)),
            ..Default::default()
        };
        let removed = self
            .with_mailbox_lock(mb.id, EXPUNGE_LOCK_TTL, async {
                let found = self.backend.messages.find_meta(mb.id, &filter).await?;
                self.remove_messages(user, mb.id, found, session, true)
                    .await
            })
            .await?;
        if removed.uids.is_empty() {
            return Err(Error::not_found("no such message"));
        }
        Ok(())
    }

    /// Deletes `found` (archiving them first when `archive` and the configuration keep an
    /// archive, see [`super::archive`]) and settles references, quota, journal and notification.
    pub(super) async fn remove_messages(
        &self,
        user: UserId,
        mailbox: MailboxId,
        found: Vec<MessageMeta>,
        session: Option<&str>,
        archive: bool,
    ) -> Result<Expunged> {
        if found.is_empty() {
            return Ok(Expunged::default());
        }
        let b = &self.backend;
        let ids: Vec<MessageId> = found.iter().map(|m| m.id).collect();
        let (deleted, archived) = if archive {
            self.archive_and_delete(mailbox, &found).await?
        } else {
            (b.messages.delete_messages(mailbox, &ids).await?, Vec::new())
        };
        let (_, modseq) = b
            .mailboxes
            .allocate(mailbox, 0)
            .await?
            .ok_or_else(not_found)?;
        if deleted == ids.len() as u64 {
            // Archived messages keep their references until the archive entry is purged.
            let released: Vec<MessageMeta> = found
                .iter()
                .filter(|m| !archived.contains(&m.id))
                .cloned()
                .collect();
            let refs = BlobRefSum::from_metas(&released, -1);
            if !refs.is_empty() {
                b.attachments.update_refs(&refs).await?;
            }
            let size: u64 = found.iter().map(|m| m.size).sum();
            b.users.inc_storage(user, -to_i64(size)).await?;
        } else {
            // Another writer removed some of them and settled those itself; which ones is
            // unknown, so references are left as they are (a leak, never a loss) and the quota
            // is recomputed.
            tracing::warn!(%mailbox, expected = ids.len(), deleted, "expunge raced with another delete");
            self.recalculate_quota(user).await?;
        }
        let entries: Vec<JournalEntry> = found
            .iter()
            .map(|m| message_entry(JournalCommand::Expunge, m, modseq, session))
            .collect();
        self.journal(&entries).await;
        self.notify_from(user, session).await;
        Ok(Expunged {
            uids: found.iter().map(|m| m.uid).collect(),
            modseq: Some(modseq),
        })
    }

    /// STORE: sets, adds or removes flags on the messages at `uids`. One MODSEQ for the whole
    /// change (only when something changes); with `unchanged_since`, messages changed after it
    /// are refused. Returns the changed messages with their new MODSEQ and the refused UIDs.
    pub async fn store_flags(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: &UidSet,
        op: &FlagOp,
        unchanged_since: Option<ModSeq>,
        session: Option<&str>,
    ) -> Result<FlagResult> {
        Self::own(user, mailbox)?;
        let keywords = match op {
            FlagOp::Add(f) | FlagOp::Replace(f) => new_keywords(mailbox, f),
            FlagOp::Remove(_) => Vec::new(),
        };
        // Flags, keywords and journal in one step (one transaction on SQLite).
        let result = self
            .backend
            .messages
            .set_flags_journaled(
                &self.backend,
                FlagUpdate {
                    user,
                    mailbox: mailbox.id,
                    uids,
                    op,
                    unchanged_since,
                    keywords: &keywords,
                    session,
                },
            )
            .await?;
        if !result.changed.is_empty() {
            self.notify_from(user, session).await;
        }
        Ok(result)
    }

    /// Metadata of the messages matching `filter` (flags, sizes, dates, MODSEQ) in one query.
    pub async fn fetch_meta(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        filter: &MessageFilter,
    ) -> Result<Vec<MessageMeta>> {
        Self::own(user, mailbox)?;
        self.backend.messages.find_meta(mailbox.id, filter).await
    }

    /// Content of the messages at `uids` (one query) with their blobs (one load for the batch),
    /// for `BODY[]`, sections and anything else that needs the bytes. Callers bound `uids` to
    /// what they can hold in memory.
    pub async fn fetch_messages(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: &UidSet,
    ) -> Result<Vec<FetchedMessage>> {
        Self::own(user, mailbox)?;
        let loaded = self
            .backend
            .messages
            .load_messages(mailbox.id, uids)
            .await?;
        self.with_blobs(loaded).await
    }

    /// Loads the blobs `loaded` needs (one load for the batch, none without attachments).
    async fn with_blobs(
        &self,
        loaded: Vec<(MessageMeta, StoredMessage)>,
    ) -> Result<Vec<FetchedMessage>> {
        let mut hashes: Vec<String> = Vec::new();
        for (_, m) in &loaded {
            for h in m.blob_hashes() {
                if !hashes.contains(&h) {
                    hashes.push(h);
                }
            }
        }
        let blobs = if hashes.is_empty() {
            HashMap::new()
        } else {
            self.backend.attachments.get_blobs(&hashes).await?
        };
        let blobs = Arc::new(blobs);
        Ok(loaded
            .into_iter()
            .map(|(meta, message)| FetchedMessage {
                meta,
                message,
                blobs: blobs.clone(),
            })
            .collect())
    }

    /// FETCH of one message's content with the implicit `\Seen` (`BODY[…]` without `.PEEK`):
    /// the flag change and the read in as few round trips as the backend allows
    /// ([`crate::store::MessageStore::load_marking_seen`]), then the journal entry and the
    /// notification when `\Seen` was added. The message's flags and MODSEQ are those after the
    /// change. With `with_blobs` false the attachment blobs are not loaded (header sections,
    /// ENVELOPE, BODYSTRUCTURE). `None` when the UID does not exist.
    pub async fn fetch_marking_seen(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uid: Uid,
        with_blobs: bool,
        session: Option<&str>,
    ) -> Result<Option<(FetchedMessage, Option<FlagChange>)>> {
        Self::own(user, mailbox)?;
        let Some((meta, message, change)) = self
            .backend
            .messages
            .load_marking_seen(mailbox.id, uid)
            .await?
        else {
            return Ok(None);
        };
        if let Some(c) = &change {
            self.journal(&[flags_entry(user, mailbox.id, c, session)])
                .await;
            self.notify_from(user, session).await;
        }
        let fetched = if with_blobs {
            self.with_blobs(vec![(meta, message)]).await?.pop()
        } else {
            Some(FetchedMessage {
                meta,
                message,
                blobs: Arc::new(HashMap::new()),
            })
        };
        Ok(fetched.map(|f| (f, change)))
    }

    /// Refuses a FETCH with `RateLimited` when `user`'s daily IMAP download (`idw:<user>`,
    /// WildDuck's ttlcounter over 24 hours) has reached `limit` bytes, with WildDuck's text
    /// (`Download was rate limited. Try again in …`). Reads the counter without adding to it; a
    /// counter failure is logged and allows the download.
    pub async fn imap_check_download(&self, user: UserId, limit: u64) -> Result<()> {
        match self
            .counters
            .ttl_counter_check(&download_key(user), to_i64(limit), DOWNLOAD_WINDOW)
            .await
        {
            Ok(c) if !c.success => Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "Download was rate limited. Try again in {}.",
                    wildduck_round_time(c.ttl)
                ),
            )),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(%user, error = %e, "IMAP download limit check failed");
                Ok(())
            }
        }
    }

    /// Adds `bytes` (what a FETCH sent) to `user`'s daily IMAP download counter `idw:<user>`; a
    /// failure is logged.
    pub async fn imap_count_download(&self, user: UserId, bytes: u64, limit: u64) {
        if bytes == 0 {
            return;
        }
        if let Err(e) = self
            .counters
            .ttl_counter(
                &download_key(user),
                to_i64(bytes),
                to_i64(limit),
                DOWNLOAD_WINDOW,
            )
            .await
        {
            tracing::warn!(%user, error = %e, "IMAP download counter update failed");
        }
    }

    /// One message by mailbox and UID (the API's message id); `NotFound` when the mailbox is not
    /// the user's or the UID does not exist.
    pub async fn get_message(
        &self,
        user: UserId,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<FetchedMessage> {
        let mb = self.get_mailbox(user, mailbox).await?;
        self.fetch_messages(user, &mb, &UidSet::range(uid.0, uid.0))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("no such message"))
    }
}
