//! Storage traits: one per aggregate, each a set of atomic, batch-oriented primitives. The use cases
//! (and every invariant) live in [`crate::service`]; a backend only has to make each primitive atomic
//! and cheap in round trips.
//!
//! Conventions every backend follows (the conformance suite checks them):
//! - Every lookup of a mailbox or message is scoped by its owner, so another user's id reads as
//!   absent (`Ok(None)` / `NotFound`), never as someone else's data.
//! - A unique-key clash (username view, address view, mailbox path) is [`ErrorKind::AlreadyExists`].
//! - Results over UID sets come back sorted by UID.
//!
//! [`ErrorKind::AlreadyExists`]: crate::ErrorKind::AlreadyExists

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::message::StoredMessage;

pub mod archive;
#[cfg(feature = "scale-out")]
pub mod mongo;
pub mod pop3;
#[cfg(feature = "embedded")]
pub mod sqlite;
pub use archive::{ArchiveOutcome, ArchiveStore, ArchivedMessage};
pub mod tasks;
use crate::model::{
    Address, AddressId, Flag, FlagOp, Flags, JournalCommand, JournalEntry, Mailbox, MailboxId,
    MessageId, MessageMeta, ModSeq, SpecialUse, ThreadId, Timestamp, Uid, UidSet, User, UserId,
    UserUpdate,
};
use crate::model::{ObjectId, RegisterEntry};
pub use tasks::{LockToken, Task, TaskStatus, TaskStore};

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync + std::fmt::Debug {
    /// Inserts a new user; `AlreadyExists` when the username view is taken.
    async fn insert_user(&self, user: &User) -> Result<()>;
    /// A user by id.
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// A user by the username view (lower-cased, dotless: see [`crate::service::users::unameview`]).
    async fn find_user_by_unameview(&self, unameview: &str) -> Result<Option<User>>;
    /// What a POP3 login needs, in as few round trips as the backend can: the user with this
    /// username view (`None` when absent) and, where the backend reads them in the same step,
    /// INBOX and its newest [`pop3::pop3_window`]`(user, default_max)` messages. The default
    /// reads only the user (`inbox: None`: the caller reads INBOX itself).
    async fn pop3_login_snapshot(
        &self,
        unameview: &str,
        default_max: u64,
    ) -> Result<Option<pop3::Pop3Snapshot>> {
        let _ = default_max;
        Ok(self
            .find_user_by_unameview(unameview)
            .await?
            .map(|user| pop3::Pop3Snapshot { user, inbox: None }))
    }
    /// The content of the messages `uids` of `mailbox` (whose owner the caller checked) for
    /// POP3's RETR and TOP, by UID, in UID order; messages no longer there are left out. Each
    /// may stay encoded until it is sent ([`pop3::Pop3Content`]), so a read-ahead costs little
    /// for messages the client never retrieves. `None`, the default, when the backend has no
    /// such read: the caller loads them with [`MessageStore::load_messages`].
    async fn pop3_contents(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
    ) -> Result<Option<Vec<(Uid, pop3::Pop3Content)>>> {
        let _ = (mailbox, uids);
        Ok(None)
    }
    /// Every user, sorted by id (the API's user listing filters and pages in the caller). A
    /// backend that cannot list answers with a `Backend` error (the default).
    async fn list_users(&self) -> Result<Vec<User>> {
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "listing users is not supported by this backend",
        ))
    }
    /// Applies `update`; a new password also increments `auth_version`. `false` when absent.
    async fn update_user(&self, id: UserId, update: &UserUpdate) -> Result<bool>;
    /// Sets (or with `None` clears) the temporary password of a password reset. `false` when the
    /// user is absent. A backend without it answers with a `Backend` error (the default).
    async fn set_temp_password(
        &self,
        id: UserId,
        temp: Option<&crate::model::TempPassword>,
    ) -> Result<bool> {
        let _ = (id, temp);
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "temporary passwords are not supported by this backend",
        ))
    }
    /// Adds one to `auth_version` (invalidates the user's API tokens). `false` when absent. A
    /// backend without it answers with a `Backend` error (the default).
    async fn bump_auth_version(&self, id: UserId) -> Result<bool> {
        let _ = id;
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "auth version changes are not supported by this backend",
        ))
    }
    /// Replaces the password hash without a new `auth_version` (re-hash of a legacy scheme).
    async fn rehash_password(&self, id: UserId, hash: &str) -> Result<()>;
    /// Deletes the user document only. `false` when absent.
    async fn delete_user(&self, id: UserId) -> Result<bool>;
    /// Adds `delta` (may be negative) to `storage_used`, atomically.
    async fn inc_storage(&self, id: UserId, delta: i64) -> Result<()>;
    /// Sets `storage_used` (quota recalculation).
    async fn set_storage(&self, id: UserId, value: i64) -> Result<()>;
    /// Moves a user into the deleted state: a snapshot of the user and of its addresses
    /// (WildDuck's `deletedusers` document with `deleteInfo`) replaces any older snapshot, then
    /// the user and its addresses are removed, so logins fail and the addresses are free.
    /// Returns the snapshot, `None` when the user is absent. A backend without it answers with
    /// a `Backend` error (the default).
    async fn move_user_to_deleted(
        &self,
        id: UserId,
        deleted_at: Timestamp,
    ) -> Result<Option<DeletedUser>> {
        let _ = (id, deleted_at);
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "user deletion is not supported by this backend",
        ))
    }
    /// The snapshot of a deleted user, `None` when there is none.
    async fn get_deleted_user(&self, id: UserId) -> Result<Option<DeletedUser>> {
        let _ = id;
        Ok(None)
    }
    /// Brings a deleted user back from its snapshot (WildDuck's restore): the user is inserted
    /// again (`AlreadyExists` when a user with its id or username exists; `NotFound` without a
    /// snapshot), the snapshot removed, each address inserted again unless its `addrview` has
    /// been taken meanwhile, and the main address set to the old one when it came back, else to
    /// the first one that did.
    async fn restore_deleted_user(&self, id: UserId) -> Result<RestoredUser> {
        let _ = id;
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "user restore is not supported by this backend",
        ))
    }
    /// The end of a deleted user's purge: removes its snapshot and the rows only it refers to
    /// that no other trait removes (threads, journal entries, correspondents register). `false` when there was no
    /// snapshot.
    async fn purge_deleted_user(&self, id: UserId) -> Result<bool> {
        let _ = id;
        Err(crate::Error::new(
            crate::ErrorKind::Backend,
            "user purge is not supported by this backend",
        ))
    }
}

/// The snapshot of a deleted user kept until its purge (WildDuck's `deletedusers`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedUser {
    /// The user as it was.
    pub user: User,
    /// When it was deleted (`deleteInfo.deletedAt`).
    pub deleted: Timestamp,
    /// Its main address then (`deleteInfo.mainAddress`).
    pub main_address: Option<String>,
    /// Its addresses then (`deleteInfo.addresses`).
    pub addresses: Vec<Address>,
}

/// What [`UserStore::restore_deleted_user`] brought back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoredUser {
    /// The addresses inserted again.
    pub recovered: Vec<String>,
    /// The main address set, if any address came back.
    pub main: Option<String>,
}

/// Addresses.
#[async_trait]
pub trait AddressStore: Send + Sync + std::fmt::Debug {
    /// Inserts an address; `AlreadyExists` when its `addrview` is taken.
    async fn insert_address(&self, address: &Address) -> Result<()>;
    /// An address by id.
    async fn get_address(&self, id: AddressId) -> Result<Option<Address>>;
    /// The addresses whose `addrview` is one of `views`, in one query (exact + wildcard candidates).
    async fn find_addresses(&self, views: &[String]) -> Result<Vec<Address>>;
    /// A user's addresses, sorted by `addrview`.
    async fn list_addresses(&self, user: UserId) -> Result<Vec<Address>>;
    /// Deletes one of `user`'s addresses. `false` when absent or not the user's.
    async fn delete_address(&self, user: UserId, id: AddressId) -> Result<bool>;
    /// Deletes all of a user's addresses; returns how many.
    async fn delete_user_addresses(&self, user: UserId) -> Result<u64>;
    /// Replaces the `address`, `addrview`, `name` and `tags` of the address with `address.id`.
    /// `false` when absent; `AlreadyExists` when the new `addrview` is taken.
    async fn update_address(&self, address: &Address) -> Result<bool>;
    /// Every address (of users and forwarded), sorted by `addrview`.
    async fn list_all_addresses(&self) -> Result<Vec<Address>>;
    /// Deletes a forwarded address (one without a user). `false` when absent or a user's. A
    /// backend without forwarded addresses answers with a `Backend` error (the default).
    async fn delete_forwarded(&self, id: AddressId) -> Result<bool> {
        let _ = id;
        Err(unsupported("forwarded addresses"))
    }
    /// Records correspondents in `user`'s register (`addressregister`), one entry per
    /// `addrview`: an existing entry gets the new `updated` time and, when given, the new name;
    /// a disabled entry is left alone; a missing one is inserted as given. The default answers
    /// with a `Backend` error.
    async fn register_correspondents(&self, user: UserId, entries: &[RegisterEntry]) -> Result<()> {
        let _ = (user, entries);
        Err(unsupported("the address register"))
    }
    /// `user`'s enabled register entries whose address contains `query` (case-sensitive) or
    /// whose name starts with it (case-insensitive), most recently updated first, at most
    /// `limit`. The default answers with a `Backend` error.
    async fn search_register(
        &self,
        user: UserId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<RegisterEntry>> {
        let _ = (user, query, limit);
        Err(unsupported("the address register"))
    }
    /// Sets `disabled` (and, when given, the name) of one of `user`'s register entries and
    /// stamps `updated` with `now`. `false` when absent or not the user's. The default answers
    /// with a `Backend` error.
    async fn update_register_entry(
        &self,
        user: UserId,
        id: ObjectId,
        disabled: bool,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let _ = (user, id, disabled, name, now);
        Err(unsupported("the address register"))
    }
    /// Deletes all of `user`'s register entries; returns how many. The default answers with a
    /// `Backend` error.
    async fn delete_user_register(&self, user: UserId) -> Result<u64> {
        let _ = user;
        Err(unsupported("the address register"))
    }
}

/// The error of a default trait method a backend does not implement.
fn unsupported(what: &str) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Backend,
        format!("{what}: not supported by this backend"),
    )
}

/// Mailboxes, including the counters UIDs and MODSEQs are allocated from.
#[async_trait]
pub trait MailboxStore: Send + Sync + std::fmt::Debug {
    /// Inserts mailboxes (one batch); `AlreadyExists` when a path is taken (then none is inserted,
    /// or the ones inserted are removed again).
    async fn insert_mailboxes(&self, mailboxes: &[Mailbox]) -> Result<()>;
    /// One of `user`'s mailboxes by id.
    async fn get_mailbox(&self, user: UserId, id: MailboxId) -> Result<Option<Mailbox>>;
    /// One of `user`'s mailboxes by exact path.
    async fn find_mailbox_by_path(&self, user: UserId, path: &str) -> Result<Option<Mailbox>>;
    /// One of `user`'s mailboxes by special use.
    async fn find_mailbox_by_special_use(
        &self,
        user: UserId,
        special_use: SpecialUse,
    ) -> Result<Option<Mailbox>>;
    /// All of `user`'s mailboxes, sorted by path.
    async fn list_mailboxes(&self, user: UserId) -> Result<Vec<Mailbox>>;
    /// How many mailboxes `user` has.
    async fn count_mailboxes(&self, user: UserId) -> Result<u64>;
    /// Renames a mailbox (children are not moved, as in WildDuck); `AlreadyExists` when the target
    /// path is taken. Returns the updated mailbox, `None` when absent.
    async fn rename_mailbox(
        &self,
        user: UserId,
        id: MailboxId,
        path: &str,
    ) -> Result<Option<Mailbox>>;
    /// Sets the subscription flag. `false` when absent.
    async fn set_subscribed(&self, user: UserId, id: MailboxId, subscribed: bool) -> Result<bool>;
    /// Changes the settings given in `settings` (one write). `false` when absent.
    async fn update_settings(
        &self,
        user: UserId,
        id: MailboxId,
        settings: &MailboxSettings,
    ) -> Result<bool>;
    /// Deletes a mailbox document. `false` when absent.
    async fn delete_mailbox(&self, user: UserId, id: MailboxId) -> Result<bool>;
    /// Deletes all of a user's mailboxes; returns how many.
    async fn delete_user_mailboxes(&self, user: UserId) -> Result<u64>;
    /// Atomically reserves `count` UIDs and one new MODSEQ: `uid_next += count`,
    /// `modify_index += 1`. Returns the first reserved UID and the new MODSEQ, `None` when the
    /// mailbox is absent. With `count == 0` it only bumps the MODSEQ.
    async fn allocate(&self, mailbox: MailboxId, count: u32) -> Result<Option<(Uid, ModSeq)>>;
    /// Adds keywords to the mailbox's known-keyword list (no duplicates).
    async fn add_keywords(&self, mailbox: MailboxId, keywords: &[String]) -> Result<()>;
}

/// A mailbox's settings as the API changes them (WildDuck's mailbox `update` of fields other than
/// `path`). `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxSettings {
    /// Subscribed (LSUB).
    pub subscribed: Option<bool>,
    /// Retention in ms for messages added from now on (0 = never expire); messages already
    /// there keep their expiry, as in WildDuck.
    pub retention: Option<u64>,
    /// Hidden from IMAP LIST/LSUB and from the API's listing without `showHidden`.
    pub hidden: Option<bool>,
    /// WildDuck's `encryptMessages` flag (stored and shown; this port does not encrypt).
    pub encrypt_messages: Option<bool>,
}

/// Which messages of one mailbox a query concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only these UIDs (`None` = all).
    pub uids: Option<UidSet>,
    /// Only messages with MODSEQ above this (CONDSTORE `CHANGEDSINCE`).
    pub changed_since: Option<ModSeq>,
    /// Only messages flagged `\Deleted` (EXPUNGE).
    pub deleted_only: bool,
}

/// A window of a mailbox's UIDs in listing order, for paged listings (the API's message list):
/// what [`MessageStore::uid_window`] answers with one indexed read instead of the whole mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidWindow {
    /// Start strictly after this UID in listing order (`None`: from the first).
    pub after: Option<Uid>,
    /// Listing order: newest (highest UID) first.
    pub descending: bool,
    /// At most this many UIDs.
    pub limit: usize,
    /// Only messages without `\Seen`.
    pub unseen_only: bool,
}

impl UidWindow {
    /// Applies the window to a sorted UID list (ascending) — the reference semantics a backend's
    /// indexed query must match.
    pub fn select(&self, sorted: &[Uid]) -> Vec<Uid> {
        let take = |it: &mut dyn Iterator<Item = &Uid>| it.copied().take(self.limit).collect();
        match (self.descending, self.after) {
            (false, None) => take(&mut sorted.iter()),
            (false, Some(a)) => take(&mut sorted.iter().filter(|u| **u > a)),
            (true, None) => take(&mut sorted.iter().rev()),
            (true, Some(a)) => take(&mut sorted.iter().rev().filter(|u| **u < a)),
        }
    }
}

/// UID, MODSEQ and flags of one message: all that `FETCH (FLAGS)` (with `UID`, `MODSEQ`)
/// needs, read without the rest of the metadata ([`MessageStore::find_flags`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagsRow {
    /// UID.
    pub uid: Uid,
    /// MODSEQ.
    pub modseq: ModSeq,
    /// Flags.
    pub flags: Flags,
}

/// What SELECT reads ([`MessageStore::select_state`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectState {
    /// The journal position taken before (or in the same snapshot as) the rest.
    pub position: Option<u64>,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// Its UIDs, sorted.
    pub uids: Vec<Uid>,
}

/// One message whose flags changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagChange {
    /// Message id.
    pub id: MessageId,
    /// UID.
    pub uid: Uid,
    /// Flags after the change.
    pub flags: Flags,
    /// MODSEQ after the change.
    pub modseq: ModSeq,
    /// Whether `\Seen` changed.
    pub seen_changed: bool,
}

/// The outcome of [`MessageStore::set_flags`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagResult {
    /// Messages that changed, sorted by UID, each with its new MODSEQ.
    pub changed: Vec<FlagChange>,
    /// UIDs skipped because their MODSEQ was above `UNCHANGEDSINCE`.
    pub refused: Vec<Uid>,
    /// The MODSEQ allocated for the change, `None` when nothing changed.
    pub modseq: Option<ModSeq>,
}

/// A STORE with what it records, for [`MessageStore::set_flags_journaled`].
#[derive(Debug, Clone, Copy)]
pub struct FlagUpdate<'a> {
    /// The mailbox's owner (the journal entries' user).
    pub user: UserId,
    /// The mailbox.
    pub mailbox: MailboxId,
    /// The messages to change.
    pub uids: &'a UidSet,
    /// The change.
    pub op: &'a FlagOp,
    /// CONDSTORE `UNCHANGEDSINCE`.
    pub unchanged_since: Option<ModSeq>,
    /// Keywords to add to the mailbox's keyword list when something changed (the caller left
    /// out known ones).
    pub keywords: &'a [String],
    /// The session that made the change (the entries' `ignore`).
    pub session: Option<&'a str>,
}

/// An EXPUNGE, for [`MessageStore::expunge_journaled`].
#[derive(Debug, Clone, Copy)]
pub struct ExpungeRequest<'a> {
    /// The mailbox's owner (whose `storageUsed` shrinks).
    pub user: UserId,
    /// The mailbox.
    pub mailbox: MailboxId,
    /// Only these UIDs (`None`: every `\Deleted` message).
    pub uids: Option<&'a UidSet>,
    /// Keep the messages that are not drafts in the archive of deleted messages, stamped
    /// `(archived, expires)`; `None` removes them for good.
    pub archive: Option<(Timestamp, Timestamp)>,
    /// The session that made the change (the entries' `ignore`).
    pub session: Option<&'a str>,
}

/// What [`MessageStore::expunge_journaled`] removed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpungeOutcome {
    /// The removed messages as they were, sorted by UID.
    pub removed: Vec<MessageMeta>,
    /// The MODSEQ of the expunge; `None` when nothing was removed.
    pub modseq: Option<ModSeq>,
}

/// Source of a UID → new UID copy, as COPYUID reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopiedUid {
    /// UID in the source mailbox.
    pub source: Uid,
    /// UID in the target mailbox.
    pub target: Uid,
    /// The new message id.
    pub id: MessageId,
    /// Size in bytes (quota unit).
    pub size: u64,
}

/// A message to insert: its metadata and its stored content (shared, since a copy to several
/// mailboxes or a retry reuses it).
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Metadata (ids, UID, flags, dates…).
    pub meta: MessageMeta,
    /// The stored form from [`crate::message::ingest`].
    pub content: Arc<StoredMessage>,
    /// The API's custom metadata (`metaData`; WildDuck's `meta.custom`): JSON text of an object.
    pub meta_data: Option<String>,
}

/// How a new message finds its thread (see [`ThreadStore::resolve_thread`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadLookup {
    /// The normalised subject.
    pub subject: String,
    /// Hashed reference ids (already cut to the number a thread keeps).
    pub references: Vec<String>,
}

/// Everything one append writes, for [`MessageStore::append_message`]. The UID and MODSEQ are
/// allocated by the append itself (and the thread resolved), so they are not known yet.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    /// Metadata. `uid` and `modseq` are ignored and set from the allocation; `thread` is set
    /// from [`AppendMessage::thread`] when that is given.
    pub meta: MessageMeta,
    /// The stored form from [`crate::message::ingest`].
    pub content: Arc<StoredMessage>,
    /// The content's attachment blobs: each is stored, or referenced once more with
    /// `(+1, +meta.magic)` when it exists.
    pub blobs: Vec<NewBlob>,
    /// Resolve the thread with this lookup; `None` keeps `meta.thread`.
    pub thread: Option<ThreadLookup>,
    /// Keywords to add to the mailbox's keyword list (the caller left out known ones).
    pub keywords: Vec<String>,
    /// The journal entry announcing the message; its `uid`, `modseq`, `message` and `thread`
    /// are set to the stored message's. `None` writes no entry.
    pub journal: Option<JournalEntry>,
    /// The API's custom metadata (`metaData`; WildDuck's `meta.custom`): JSON text of an object.
    pub meta_data: Option<String>,
}

/// The fields of [`MessageStore::update_fields`]: what the API's message update changes besides
/// flags and mailbox. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldUpdate {
    /// The expiry: `Some(Some(t))` deletes the message at `t` (WildDuck `exp: true, rdate`),
    /// `Some(None)` turns expiry off (`exp: false`).
    pub expires: Option<Option<Timestamp>>,
    /// The custom metadata (`metaData`; WildDuck's `meta.custom`): JSON text of an object.
    pub meta_data: Option<String>,
}

/// Messages. The message body (MIME tree and derived fields) is handled by the backend as an opaque
/// document next to [`MessageMeta`]; metadata-only reads never load it.
#[async_trait]
pub trait MessageStore: Send + Sync + std::fmt::Debug {
    /// Appends one message as a whole: allocates its UID and a MODSEQ in `meta.mailbox` (the
    /// mailbox must be `meta.user`'s), resolves its thread, stores or references its blobs,
    /// inserts it, adds its size to the user's `storageUsed`, adds the keywords to the mailbox and
    /// writes the journal entry. Returns the stored metadata (with UID, MODSEQ and thread);
    /// `NotFound` when the mailbox is absent. On an error no message is visible and
    /// `storageUsed` is unchanged (a UID may be used up).
    ///
    /// The default ([`append_in_steps`]) runs the steps as separate primitives of `backend`
    /// (the insert through `self`), undoing earlier steps when a later one fails; keywords and
    /// journal are best effort there (logged), as the data is complete by then. A backend with
    /// transactions overrides it to write everything in one transaction and one commit.
    async fn append_message(
        &self,
        backend: &Backend,
        message: AppendMessage,
    ) -> Result<MessageMeta> {
        append_in_steps(self, backend, message).await
    }

    /// Metadata of the messages matching `filter` in one query, sorted by UID.
    async fn find_meta(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<MessageMeta>>;
    /// UID, MODSEQ and flags of the messages matching `filter`, sorted by UID: the narrow read
    /// behind `FETCH 1:* (FLAGS)`. This default reads whole metadata; a backend should read
    /// only those fields (a column list, a projection).
    async fn find_flags(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<FlagsRow>> {
        Ok(self
            .find_meta(mailbox, filter)
            .await?
            .into_iter()
            .map(|m| FlagsRow {
                uid: m.uid,
                modseq: m.modseq,
                flags: m.flags,
            })
            .collect())
    }
    /// SELECT's reads: the journal position ([`JournalStore::position`]), then `user`'s
    /// mailbox at `path` (normalised), then its UIDs; `None` when there is no such mailbox.
    /// This default takes the three reads in that order through `backend`; a backend with
    /// snapshots answers with one read in which all three are consistent.
    async fn select_state(
        &self,
        backend: &Backend,
        user: UserId,
        path: &str,
    ) -> Result<Option<SelectState>> {
        let position = backend.journal.position().await?;
        let Some(mailbox) = backend.mailboxes.find_mailbox_by_path(user, path).await? else {
            return Ok(None);
        };
        let uids = self.list_uids(mailbox.id).await?;
        Ok(Some(SelectState {
            position,
            mailbox,
            uids,
        }))
    }
    /// All UIDs of a mailbox, sorted (for a session's view).
    async fn list_uids(&self, mailbox: MailboxId) -> Result<Vec<Uid>>;
    /// Metadata of the newest `limit` messages whose UID is at least `min_uid`, sorted by UID
    /// (POP3's listing window). This default takes two reads (the UID list, then the window's
    /// metadata); a backend should answer it with one query, newest first with a limit.
    async fn newest_meta(
        &self,
        mailbox: MailboxId,
        min_uid: Uid,
        limit: usize,
    ) -> Result<Vec<MessageMeta>> {
        let uids = self.list_uids(mailbox).await?;
        let from = uids.partition_point(|u| *u < min_uid);
        let eligible = uids.get(from..).unwrap_or(&[]);
        let window = eligible
            .get(eligible.len().saturating_sub(limit)..)
            .unwrap_or(&[]);
        let (Some(first), Some(last)) = (window.first(), window.last()) else {
            return Ok(Vec::new());
        };
        let filter = MessageFilter {
            uids: Some(UidSet::range(first.0, last.0)),
            ..Default::default()
        };
        let mut metas = self.find_meta(mailbox, &filter).await?;
        // Messages may have arrived between the two reads; the window stays at `limit`.
        if metas.len() > limit {
            metas.drain(..metas.len() - limit);
        }
        Ok(metas)
    }
    /// Number of messages and of unseen messages.
    async fn counts(&self, mailbox: MailboxId) -> Result<(u64, u64)>;
    /// The UIDs of one [`UidWindow`], in listing order. This default reads every UID (and, for
    /// `unseen_only`, every message's metadata); a backend should answer it with one query
    /// through its (mailbox, uid) index with a limit.
    async fn uid_window(&self, mailbox: MailboxId, window: UidWindow) -> Result<Vec<Uid>> {
        let uids = if window.unseen_only {
            self.find_meta(mailbox, &MessageFilter::default())
                .await?
                .into_iter()
                .filter(|m| !m.flags.contains(&crate::model::Flag::Seen))
                .map(|m| m.uid)
                .collect()
        } else {
            self.list_uids(mailbox).await?
        };
        Ok(window.select(&uids))
    }
    /// Changes flags of the messages at `uids` as `op` says, atomically per message, with one MODSEQ
    /// allocated from the mailbox for the whole batch (only when something changes). Messages whose
    /// MODSEQ is above `unchanged_since` are refused, not changed. Unchanged messages keep their
    /// MODSEQ.
    async fn set_flags(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        op: &FlagOp,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagResult>;
    /// STORE with its records: [`MessageStore::set_flags`], then, when something changed, the
    /// keywords added to the mailbox and one `FETCH` journal entry per changed message
    /// ([`flags_entry`]). A backend with transactions overrides it to do all of it in one
    /// transaction; this default runs the three primitives, the last two best effort (logged:
    /// the change is complete by then).
    async fn set_flags_journaled(
        &self,
        backend: &Backend,
        update: FlagUpdate<'_>,
    ) -> Result<FlagResult> {
        let result = self
            .set_flags(
                update.mailbox,
                update.uids,
                update.op,
                update.unchanged_since,
            )
            .await?;
        if result.changed.is_empty() {
            return Ok(result);
        }
        if !update.keywords.is_empty()
            && let Err(e) = backend
                .mailboxes
                .add_keywords(update.mailbox, update.keywords)
                .await
        {
            tracing::warn!(mailbox = %update.mailbox, error = %e, "keyword list update failed");
        }
        let entries: Vec<JournalEntry> = result
            .changed
            .iter()
            .map(|c| flags_entry(update.user, update.mailbox, c, update.session))
            .collect();
        if let Err(e) = backend.journal.append(&entries).await {
            tracing::warn!(error = %e, entries = entries.len(), "journal write failed");
        }
        Ok(result)
    }
    /// EXPUNGE in one step: removes the `\Deleted` messages the request names (archiving
    /// those that are not drafts when it says so), releases the attachment references of those
    /// not archived, takes their sizes off the user's `storageUsed`, allocates one MODSEQ and
    /// journals one `EXPUNGE` entry per message ([`message_entry`]), all in one transaction.
    /// `Ok(None)` (this default) means the backend has no such step and the caller runs the
    /// primitives one by one.
    async fn expunge_journaled(
        &self,
        request: ExpungeRequest<'_>,
    ) -> Result<Option<ExpungeOutcome>> {
        let _ = request;
        Ok(None)
    }
    /// Copies the messages at `uids` into `target` (same user) with fresh ids and consecutive new
    /// UIDs allocated in one step, keeping `root`, flags, dates and custom metadata; the target's
    /// MODSEQ is bumped once and given to every copy. The expiry comes from the target's
    /// retention, as in WildDuck (`rdate = now + retention`, none without retention), so a
    /// message moved out of Trash does not keep Trash's expiry. Attachment references are the caller's business.
    /// Returns the pairs sorted by source UID and the copies' metadata.
    async fn copy_messages(
        &self,
        source: MailboxId,
        uids: &UidSet,
        target: &Mailbox,
    ) -> Result<(Vec<CopiedUid>, Vec<MessageMeta>)>;
    /// Inserts messages (metadata and stored content) in one batch. The content's blobs must
    /// already be in the [`AttachmentStore`].
    async fn insert_messages(&self, messages: &[NewMessage]) -> Result<()>;
    /// Metadata and stored content of the messages at `uids` in one query, sorted by UID. The only
    /// read that loads content; absent UIDs are skipped.
    async fn load_messages(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>>;
    /// The implicit `\Seen` of a FETCH of one message: loads the message at `uid` with its
    /// content (as [`MessageStore::load_messages`]) and, when it lacks `\Seen`, adds it with a
    /// new MODSEQ allocated from the mailbox (as [`MessageStore::set_flags`] would). Returns the
    /// message as it is afterwards and the change, `None` when the UID is absent.
    ///
    /// The default is those two primitives; a backend may do the change and the read in one
    /// step (MongoDB: the MODSEQ, then one `findAndModify` returning the document).
    async fn load_marking_seen(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Option<(MessageMeta, StoredMessage, Option<FlagChange>)>> {
        let set = UidSet::range(uid.0, uid.0);
        let Some((mut meta, content)) = self.load_messages(mailbox, &set).await?.into_iter().next()
        else {
            return Ok(None);
        };
        if meta.flags.contains(&crate::model::Flag::Seen) {
            return Ok(Some((meta, content, None)));
        }
        let seen: Flags = std::iter::once(crate::model::Flag::Seen).collect();
        let change = self
            .set_flags(mailbox, &set, &FlagOp::Add(seen), None)
            .await?
            .changed
            .into_iter()
            .next();
        match &change {
            Some(c) => {
                meta.flags = c.flags.clone();
                meta.modseq = c.modseq;
            }
            // Someone else set it meanwhile.
            None => {
                meta.flags.insert(crate::model::Flag::Seen);
            }
        }
        Ok(Some((meta, content, change)))
    }
    /// Sets the expiry and/or the custom metadata of the messages at `uids`, leaving flags,
    /// MODSEQ and journal alone (IMAP shows neither field). Returns how many messages matched.
    async fn update_fields(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        update: &FieldUpdate,
    ) -> Result<u64>;
    /// The custom metadata (JSON text) of the messages at `uids` that have any, by UID.
    async fn meta_data(&self, mailbox: MailboxId, uids: &UidSet) -> Result<Vec<(Uid, String)>>;
    /// How many of `user`'s messages (in any mailbox) each of `threads` has; threads without
    /// messages are left out (the API listing's `threadCounters`).
    async fn thread_counts(
        &self,
        user: UserId,
        threads: &[ThreadId],
    ) -> Result<Vec<(ThreadId, u64)>>;
    /// Up to `limit` messages of any user whose expiry (`rdate`) is at or before `now`, earliest
    /// expiry first (the collector's query, WildDuck's `{exp: true, rdate: {$lte: now}}`).
    async fn find_expired(&self, now: Timestamp, limit: usize) -> Result<Vec<MessageMeta>>;
    /// Deletes messages by id (within `mailbox`); returns how many were deleted.
    async fn delete_messages(&self, mailbox: MailboxId, ids: &[MessageId]) -> Result<u64>;
    /// Deletes all messages of a mailbox; returns the metadata of what was deleted.
    async fn delete_mailbox_messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>>;
    /// Sum of sizes of all of `user`'s messages (quota recalculation).
    async fn sum_sizes(&self, user: UserId) -> Result<i64>;
    /// The messages of `mailbox` that match `plan` (see [`crate::search`] for the semantics every
    /// backend keeps) as `(UID, MODSEQ)` sorted by UID.
    ///
    /// A backend should translate the plan into one query (MongoDB does). This default is the
    /// reference evaluation in memory: metadata only when the plan needs no content, else every
    /// message's content is loaded — correct, but costly on large mailboxes.
    async fn search(
        &self,
        mailbox: MailboxId,
        plan: &crate::search::SearchPlan,
    ) -> Result<Vec<(Uid, ModSeq)>> {
        use crate::search::{SearchFields, SearchPlan};
        if *plan == SearchPlan::Nothing {
            return Ok(Vec::new());
        }
        let mut out: Vec<(Uid, ModSeq)> = if plan.needs_content() {
            self.load_messages(mailbox, &UidSet::all())
                .await?
                .iter()
                .filter(|(m, c)| plan.matches(m, &SearchFields::from_stored(c)))
                .map(|(m, _)| (m.uid, m.modseq))
                .collect()
        } else {
            let empty = SearchFields::default();
            self.find_meta(mailbox, &MessageFilter::default())
                .await?
                .iter()
                .filter(|m| plan.matches(m, &empty))
                .map(|m| (m.uid, m.modseq))
                .collect()
        };
        out.sort_unstable_by_key(|(u, _)| *u);
        Ok(out)
    }
}

/// One reference change to a de-duplicated blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// The blob key (SHA-256 hex of the encoded body).
    pub hash: String,
    /// Reference count change.
    pub count: i64,
    /// Magic sum change (sum of the referencing messages' magic numbers).
    pub magic: i64,
}

/// A blob to store (or, when it exists, to reference once more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob {
    /// Key: SHA-256 hex of the still-encoded body.
    pub hash: String,
    /// The bytes as the store keeps them (decoded for base64 stored decoded).
    pub data: Vec<u8>,
    /// Content type of the part.
    pub content_type: String,
    /// Transfer encoding of the part.
    pub transfer_encoding: Option<String>,
    /// Size of the encoded body in the message.
    pub encoded_size: u64,
    /// Stored decoded (base64) with this line length.
    pub decoded_line_len: Option<usize>,
    /// The referencing message's magic.
    pub magic: u32,
}

/// The de-duplicated attachment store (`attachments` GridFS bucket on MongoDB).
#[async_trait]
pub trait AttachmentStore: Send + Sync + std::fmt::Debug {
    /// Stores each blob or, when one with the same hash exists, adds a reference `(+1, +magic)`.
    async fn put_blobs(&self, blobs: &[NewBlob]) -> Result<()>;
    /// Applies reference changes in one batch (copies add, deletes subtract).
    async fn update_refs(&self, refs: &[BlobRef]) -> Result<()>;
    /// Loads blobs by hash; missing ones are absent from the map.
    async fn get_blobs(&self, hashes: &[String]) -> Result<HashMap<String, Vec<u8>>>;
    /// Reference count and magic sum of a blob, `None` when absent.
    async fn blob_refs(&self, hash: &str) -> Result<Option<(i64, i64)>>;
}

/// The change journal other sessions replay.
#[async_trait]
pub trait JournalStore: Send + Sync + std::fmt::Debug {
    /// Appends entries (one batch; ids assigned when default, `created` set when zero).
    async fn append(&self, entries: &[JournalEntry]) -> Result<()>;
    /// Entries of `mailbox` with MODSEQ above `since`, sorted by MODSEQ then insertion.
    async fn since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Vec<JournalEntry>>;
    /// Entries of `mailbox` with MODSEQ above `since` OR `created` at or after `created_from`,
    /// in one query, sorted by MODSEQ then insertion. Session views read through this: a MODSEQ
    /// is allocated before its entry is written, so an entry can land after a higher one was
    /// already read, and only its recent `created` finds it again.
    ///
    /// The default is correct for any backend but reads the mailbox's whole journal; the
    /// bundled backends override it with an indexed query.
    async fn since_or_created(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        created_from: Timestamp,
    ) -> Result<Vec<JournalEntry>> {
        let all = self.since(mailbox, ModSeq(0)).await?;
        Ok(all
            .into_iter()
            .filter(|e| e.modseq > since || e.created >= created_from)
            .collect())
    }
    /// What a session view reads: the entries of `mailbox` it may not have applied, and the
    /// position to pass as `after` next time.
    ///
    /// A backend whose journal has a commit-ordered position (SQLite's single writer numbers
    /// rows in commit order) returns it; a read with a position then returns exactly the entries
    /// committed since, so a view no longer re-reads its [`crate::service::view::JOURNAL_GRACE_MS`]
    /// window on every command. Without a position (the default, and the first read of a view)
    /// this is [`JournalStore::since_or_created`].
    async fn for_view(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        created_from: Timestamp,
        after: Option<u64>,
    ) -> Result<(Vec<JournalEntry>, Option<u64>)> {
        let _ = after;
        let entries = self.since_or_created(mailbox, since, created_from).await?;
        Ok((entries, None))
    }
    /// The current commit-ordered position of the journal, for a view about to read its
    /// mailbox's state: [`JournalStore::for_view`] from it returns every entry committed after
    /// this call (some may already be reflected in that state; applying them again is harmless).
    /// `None` (the default) when the backend has no such position.
    async fn position(&self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// Removes entries older than `before` (backends with TTL indexes may do nothing).
    async fn prune(&self, before: Timestamp) -> Result<u64>;
}

/// Threads (`threads` collection): groups of messages sharing a reference and a normalised
/// subject (inventory §5.4).
#[async_trait]
pub trait ThreadStore: Send + Sync + std::fmt::Debug {
    /// The id of `user`'s thread with exactly this normalised `subject` that shares at least one of
    /// `references` (hashed reference ids); the thread's references are extended with the new ones
    /// and its `updated` time refreshed. A new thread is created when none matches (always when
    /// `references` is empty).
    async fn resolve_thread(
        &self,
        user: UserId,
        subject: &str,
        references: &[String],
    ) -> Result<ThreadId>;
    /// The normalised subject and references of one of `user`'s threads, `None` when absent.
    async fn get_thread(&self, user: UserId, id: ThreadId)
    -> Result<Option<(String, Vec<String>)>>;
}

/// Application-specific passwords (`asps` collection).
#[async_trait]
pub trait AspStore: Send + Sync + std::fmt::Debug {
    /// Inserts a password.
    async fn insert_asp(&self, asp: &crate::model::Asp) -> Result<()>;
    /// All of `user`'s passwords (expired temporary ones included: the caller filters), by id.
    async fn list_asps(&self, user: UserId) -> Result<Vec<crate::model::Asp>>;
    /// One of `user`'s passwords.
    async fn get_asp(
        &self,
        user: UserId,
        id: crate::model::ObjectId,
    ) -> Result<Option<crate::model::Asp>>;
    /// Deletes one of `user`'s passwords. `false` when absent.
    async fn delete_asp(&self, user: UserId, id: crate::model::ObjectId) -> Result<bool>;
    /// Records a successful use: `used`, `authEvent`, `authIp`, and a new `expires` for a
    /// temporary password.
    async fn mark_asp_used(
        &self,
        id: crate::model::ObjectId,
        used: Timestamp,
        auth_event: Option<crate::model::ObjectId>,
        ip: Option<String>,
        expires: Option<Timestamp>,
    ) -> Result<()>;
    /// Deletes all of a user's passwords; returns how many.
    async fn delete_user_asps(&self, user: UserId) -> Result<u64>;
}

/// The authentication log (`authlog` collection).
#[async_trait]
pub trait AuthLogStore: Send + Sync + std::fmt::Debug {
    /// Merges `event` into `event.user`'s entry with the same `key` created after
    /// `bucket_start` (adds one to `events`, sets `last`), or inserts it with `events: 1`, in one
    /// step. Returns the id of the entry written.
    async fn log_event(
        &self,
        event: &crate::model::AuthEvent,
        bucket_start: Timestamp,
    ) -> Result<crate::model::ObjectId>;
    /// Writes events a caller merged before writing (same user and key): each `(event,
    /// bucket_start)` as [`AuthLogStore::log_event`] does, but adding `event.events` to the
    /// entry it merges into, or inserting it with that count. The default calls `log_event`
    /// once per event counted; a backend overrides it to write the batch in one step.
    async fn log_merged_events(
        &self,
        events: &[(crate::model::AuthEvent, Timestamp)],
    ) -> Result<()> {
        for (event, bucket_start) in events {
            for _ in 0..event.events.max(1) {
                self.log_event(event, *bucket_start).await?;
            }
        }
        Ok(())
    }
    /// `user`'s unexpired entries that pass `filter`, newest first.
    async fn list_events(
        &self,
        user: UserId,
        filter: &crate::model::AuthLogFilter,
    ) -> Result<Vec<crate::model::AuthEvent>>;
    /// One of `user`'s entries.
    async fn get_event(
        &self,
        user: UserId,
        id: crate::model::ObjectId,
    ) -> Result<Option<crate::model::AuthEvent>>;
    /// Deletes all of a user's entries; returns how many.
    async fn delete_user_events(&self, user: UserId) -> Result<u64>;
}

/// A backend: one handle per aggregate. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Addresses.
    pub addresses: Arc<dyn AddressStore>,
    /// Mailboxes.
    pub mailboxes: Arc<dyn MailboxStore>,
    /// Messages.
    pub messages: Arc<dyn MessageStore>,
    /// Attachments.
    pub attachments: Arc<dyn AttachmentStore>,
    /// Journal.
    pub journal: Arc<dyn JournalStore>,
    /// Threads.
    pub threads: Arc<dyn ThreadStore>,
    /// Application-specific passwords.
    pub asps: Arc<dyn AspStore>,
    /// Authentication log.
    pub authlog: Arc<dyn AuthLogStore>,
    /// The archive of deleted messages.
    pub archive: Arc<dyn ArchiveStore>,
    /// The persisted task queue.
    pub tasks: Arc<dyn TaskStore>,
}

/// The step-by-step append behind [`MessageStore::append_message`]'s default, for backends
/// without multi-document transactions: allocate → thread → blobs → insert (through `messages`)
/// → `storageUsed` → keywords → journal. A failing blob, insert or quota step gives back the
/// references taken and removes the inserted document before the error is returned.
pub async fn append_in_steps<M: MessageStore + ?Sized>(
    messages: &M,
    backend: &Backend,
    message: AppendMessage,
) -> Result<MessageMeta> {
    let AppendMessage {
        mut meta,
        content,
        blobs,
        thread,
        keywords,
        journal,
        meta_data,
    } = message;
    // UID and MODSEQ in one atomic step, so journal order by MODSEQ is UID order.
    let (uid, modseq) = backend
        .mailboxes
        .allocate(meta.mailbox, 1)
        .await?
        .ok_or_else(|| crate::Error::not_found("no such mailbox"))?;
    meta.uid = uid;
    meta.modseq = modseq;
    if let Some(t) = thread {
        meta.thread = Some(
            backend
                .threads
                .resolve_thread(meta.user, &t.subject, &t.references)
                .await?,
        );
    }

    // Blobs one by one, so a failure knows exactly which references to give back.
    let mut taken: Vec<BlobRef> = Vec::with_capacity(blobs.len());
    for b in blobs {
        let r = BlobRef {
            hash: b.hash.clone(),
            count: -1,
            magic: -i64::from(b.magic),
        };
        if let Err(e) = backend
            .attachments
            .put_blobs(std::slice::from_ref(&b))
            .await
        {
            undo_refs(backend, &taken).await;
            return Err(e);
        }
        taken.push(r);
    }

    let new = NewMessage {
        meta: meta.clone(),
        content,
        meta_data,
    };
    if let Err(e) = messages.insert_messages(std::slice::from_ref(&new)).await {
        undo_refs(backend, &taken).await;
        return Err(e);
    }
    let size = i64::try_from(meta.size).unwrap_or(i64::MAX);
    if let Err(e) = backend.users.inc_storage(meta.user, size).await {
        if let Err(e) = messages.delete_messages(meta.mailbox, &[meta.id]).await {
            tracing::error!(mailbox = %meta.mailbox, error = %e, "rollback of an inserted message failed");
        }
        undo_refs(backend, &taken).await;
        return Err(e);
    }
    if !keywords.is_empty()
        && let Err(e) = backend
            .mailboxes
            .add_keywords(meta.mailbox, &keywords)
            .await
    {
        tracing::warn!(mailbox = %meta.mailbox, error = %e, "keyword list update failed");
    }
    if let Some(mut entry) = journal {
        stamp_entry(&mut entry, &meta);
        if let Err(e) = backend.journal.append(std::slice::from_ref(&entry)).await {
            tracing::warn!(mailbox = %meta.mailbox, error = %e, "journal write failed");
        }
    }
    Ok(meta)
}

/// The journal entry of a message event (`EXISTS`, `EXPUNGE`) at `modseq`, caused by `session`.
pub(crate) fn message_entry(
    command: JournalCommand,
    meta: &MessageMeta,
    modseq: ModSeq,
    session: Option<&str>,
) -> JournalEntry {
    JournalEntry {
        user: meta.user,
        mailbox: meta.mailbox,
        command: Some(command),
        uid: Some(meta.uid),
        message: Some(meta.id),
        modseq,
        unseen: Some(!meta.flags.contains(&Flag::Seen)),
        ignore: session.map(str::to_string),
        created: Timestamp::now(),
        ..Default::default()
    }
}

/// The journal entry of a flag change (`FETCH`, with the new flags).
pub(crate) fn flags_entry(
    user: UserId,
    mailbox: MailboxId,
    c: &FlagChange,
    session: Option<&str>,
) -> JournalEntry {
    JournalEntry {
        user,
        mailbox,
        command: Some(JournalCommand::Fetch),
        uid: Some(c.uid),
        message: Some(c.id),
        modseq: c.modseq,
        flags: Some(c.flags.to_strings()),
        unseen: Some(!c.flags.contains(&Flag::Seen)),
        unseen_change: Some(c.seen_changed),
        ignore: session.map(str::to_string),
        created: Timestamp::now(),
        ..Default::default()
    }
}

/// Gives the journal entry of an append the stored message's UID, MODSEQ, id and thread.
pub(crate) fn stamp_entry(entry: &mut JournalEntry, meta: &MessageMeta) {
    entry.uid = Some(meta.uid);
    entry.modseq = meta.modseq;
    entry.message = Some(meta.id);
    entry.thread = meta.thread;
}

/// Applies already negated references (undo of a failed append); a failure is logged: a leak
/// the garbage collector tolerates, never a loss.
async fn undo_refs(backend: &Backend, negated: &[BlobRef]) {
    if negated.is_empty() {
        return;
    }
    if let Err(e) = backend.attachments.update_refs(negated).await {
        tracing::error!(error = %e, "rollback of attachment references failed");
    }
}
