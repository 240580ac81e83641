//! Search: the use case over [`crate::search`] and the backend's one-query primitive.

use super::Services;
use crate::model::{MailboxId, Timestamp, UserId};
use crate::search::{MAX_SEARCH_DEPTH, SearchKey, SearchResult};
use crate::{Error, Result};

impl Services {
    /// The UIDs of `user`'s messages in `mailbox` that match `key`, ascending, and — when the key
    /// uses `MODSEQ` and something matched — the highest MODSEQ among them (RFC 7162 §3.1.5).
    ///
    /// Sequence numbers and `*` must already be resolved to UIDs by the caller (its session view
    /// knows them). `OLDER`/`YOUNGER` are relative to now.
    ///
    /// Errors: `Invalid` for a tree nested deeper than [`MAX_SEARCH_DEPTH`]; `NotFound` for an
    /// unknown or another user's mailbox; `Backend` when the store fails.
    pub async fn search(
        &self,
        user: UserId,
        mailbox: MailboxId,
        key: &SearchKey,
    ) -> Result<SearchResult> {
        if key.depth() > MAX_SEARCH_DEPTH {
            return Err(Error::invalid("search criteria nested too deeply"));
        }
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
