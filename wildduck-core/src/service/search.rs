//! Search: the use case over [`crate::search`] and the backend's one-query primitive.

use super::Services;
use crate::Result;
use crate::model::{MailboxId, Timestamp, UserId};
use crate::search::{SearchKey, SearchResult};

impl Services {
    /// The UIDs of `user`'s messages in `mailbox` that match `key`, ascending, and — when the key
    /// uses `MODSEQ` and something matched — the highest MODSEQ among them (RFC 7162 §3.1.5).
    ///
    /// Sequence numbers and `*` must already be resolved to UIDs by the caller (its session view
    /// knows them). `OLDER`/`YOUNGER` are relative to now.
    ///
    /// Errors: `NotFound` for an unknown or another user's mailbox; `Backend` when the store fails.
    pub async fn search(
        &self,
        user: UserId,
        mailbox: MailboxId,
        key: &SearchKey,
    ) -> Result<SearchResult> {
        let mb = self.get_mailbox(user, mailbox).await?;
        let plan = key.plan(Timestamp::now());
        let found = self.backend.messages.search(mb.id, &plan).await?;
        let highest_modseq = if key.uses_modseq() {
            found.iter().map(|(_, m)| *m).max()
        } else {
            None
        };
        Ok(SearchResult {
            uids: found.into_iter().map(|(u, _)| u).collect(),
            highest_modseq,
        })
    }
}
