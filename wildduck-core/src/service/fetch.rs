//! The reads behind IMAP `SELECT` and `FETCH` that the other services do not already offer: the
//! mailbox, its UID list and journal position in one read, the narrow flags-only read and
//! message structure without blobs. Adapters go through these, never to the store.

use super::Services;
use super::mailboxes::normalize_path;
use super::view::{MailboxView, ViewStart};
use crate::message::StoredMessage;
use crate::model::{Mailbox, MessageMeta, Timestamp, UidSet, UserId};
use crate::store::{FlagsRow, MessageFilter};
use crate::{Error, Result};

impl Services {
    /// SELECT / EXAMINE: `user`'s mailbox at `path` and a view of it (its UIDs, journal reads
    /// starting from before the state was read), in one read where the backend allows.
    /// `Invalid` for a bad path, `NotFound` when there is no such mailbox.
    pub async fn select_mailbox(&self, user: UserId, path: &str) -> Result<(Mailbox, MailboxView)> {
        let path = normalize_path(path)?;
        // Before the state is read: entries journaled late for changes already in it are then
        // still within the view's re-read window.
        let at = Timestamp::now();
        let state = self
            .backend
            .messages
            .select_state(&self.backend, user, &path)
            .await?
            .ok_or_else(|| Error::not_found("no such mailbox"))?;
        let start = ViewStart {
            at,
            position: state.position,
        };
        let view = MailboxView::opened(
            state.mailbox.id,
            state.uids,
            state.mailbox.modify_index,
            start,
        );
        Ok((state.mailbox, view))
    }

    /// UID, MODSEQ and flags of `user`'s messages in `mailbox` matching `filter`, sorted by UID,
    /// in one query that reads nothing else: `FETCH 1:* (FLAGS)`, the most frequent read of
    /// a synchronising client. `NotFound` when the mailbox is not the user's.
    pub async fn fetch_flags(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        filter: &MessageFilter,
    ) -> Result<Vec<FlagsRow>> {
        Self::own(user, mailbox)?;
        self.backend.messages.find_flags(mailbox.id, filter).await
    }

    /// Metadata and stored form (MIME tree, headers; no attachment blobs) of the messages at
    /// `uids`, in one query: ENVELOPE, BODYSTRUCTURE and header sections. Callers bound `uids`
    /// to what they can hold in memory. `NotFound` when the mailbox is not the user's.
    pub async fn fetch_structure(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>> {
        Self::own(user, mailbox)?;
        self.backend.messages.load_messages(mailbox.id, uids).await
    }
}
