//! The archive of deleted messages (WildDuck's `archived` collection): a message removed by
//! EXPUNGE, POP3 or the API is kept here, with its attachment references, until its `rdate`
//! passes, so it can be restored.

use async_trait::async_trait;

use super::{AppendMessage, Backend};
use crate::Result;
use crate::message::StoredMessage;
use crate::model::{MailboxId, MessageId, MessageMeta, Timestamp, UserId};

/// One archived message: the deleted message's metadata (its id, mailbox and UID as they were)
/// and the archive's own times.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedMessage {
    /// The message as it was deleted. `meta.id` is the archive entry's id (WildDuck keeps the
    /// message's `_id`); `meta.rdate` is not the archive's expiry (see `expires`).
    pub meta: MessageMeta,
    /// When it was archived (WildDuck `archived`).
    pub archived: Timestamp,
    /// When it may be purged (WildDuck `rdate`, with `exp: true`).
    pub expires: Timestamp,
    /// The message's custom metadata (`meta.custom`), read by [`ArchiveStore::load_archived`]
    /// only (listings leave it `None`).
    pub meta_data: Option<String>,
}

/// What [`ArchiveStore::archive_and_delete`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchiveOutcome {
    /// Messages deleted from the mailbox.
    pub deleted: u64,
    /// The deleted messages that are in the archive now (inserted now, or already there from an
    /// earlier attempt). Their attachment references stay taken; the caller releases those of
    /// the other deleted messages.
    pub archived: Vec<MessageId>,
}

/// The archive. Entries are keyed by the deleted message's id and scoped by their owner.
#[async_trait]
pub trait ArchiveStore: Send + Sync + std::fmt::Debug {
    /// Deletes the messages `ids` of `mailbox`; those also in `archive` are first copied into the
    /// archive with `archived = at` and `expires` (metadata, content and attachment references
    /// as they are). A backend with transactions does both in one; otherwise the copy comes
    /// first (WildDuck's order), so a crash leaves a message at worst in both places, never in
    /// neither. A message already archived under its id counts as archived. A message a
    /// backend knows was copied elsewhere (WildDuck's `copied: true`) is not archived.
    async fn archive_and_delete(
        &self,
        mailbox: MailboxId,
        ids: &[MessageId],
        archive: &[MessageId],
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<ArchiveOutcome>;

    /// Every archived message of `user`, sorted by id ascending (ids grow with time).
    async fn list_archived(&self, user: UserId) -> Result<Vec<ArchivedMessage>>;

    /// `user`'s archived messages whose `archived` time is in `start..=end`, sorted by id.
    async fn archived_between(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<ArchivedMessage>>;

    /// Metadata and content of `user`'s archived messages `ids` (missing ones are left out),
    /// sorted by id.
    async fn load_archived(
        &self,
        user: UserId,
        ids: &[MessageId],
    ) -> Result<Vec<(ArchivedMessage, StoredMessage)>>;

    /// Removes archived entries without touching attachment references (they passed to a
    /// restored message). Returns how many were removed.
    async fn remove_archived(&self, user: UserId, ids: &[MessageId]) -> Result<u64>;

    /// Restores one archived message: appends `message` (its `meta.id` is the archive entry's
    /// id and is kept, as WildDuck does) through [`super::MessageStore::append_message`] with no
    /// blobs — the archive's references pass to the restored message — and removes the entry.
    /// `NotFound` when the target mailbox is absent; `AlreadyExists` when a message with that id
    /// exists already (an earlier restore that was cut short: the entry is removed then).
    ///
    /// The default appends, then removes the entry; a backend with transactions does both in
    /// one.
    async fn restore_archived(
        &self,
        backend: &Backend,
        message: AppendMessage,
    ) -> Result<MessageMeta> {
        let user = message.meta.user;
        let id = message.meta.id;
        match backend.messages.append_message(backend, message).await {
            Ok(meta) => {
                self.remove_archived(user, &[id]).await?;
                Ok(meta)
            }
            Err(e) if e.kind() == crate::ErrorKind::AlreadyExists => {
                self.remove_archived(user, &[id]).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Purges up to `limit` archived messages (of any user) whose `expires` is at or before
    /// `now`, releasing their attachment references (through `backend.attachments` unless the
    /// backend does it in the same transaction). An entry whose id is also a live message (a
    /// restore cut short) is removed without releasing them. Returns how many were purged.
    async fn purge_expired(&self, backend: &Backend, now: Timestamp, limit: usize) -> Result<u64>;
}
