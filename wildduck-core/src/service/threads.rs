//! Threads: which conversation a new message belongs to (WildDuck's `getThreadId`, inventory §5.4).

use super::Services;
use crate::Result;
use crate::message::maildata::ThreadKeys;
use crate::model::{ThreadId, UserId};

/// WildDuck keeps at most this many reference hashes from one message.
pub const MAX_THREAD_REFERENCES: usize = 10;

impl Services {
    /// The thread of a new message of `user` with these keys: an existing thread with the same
    /// normalised subject that shares at least one reference, else a new one. Both conditions are
    /// needed, as in WildDuck, so unrelated mails that reuse a subject stay apart and a reply whose
    /// subject changed starts a new thread.
    pub async fn resolve_thread(&self, user: UserId, keys: &ThreadKeys) -> Result<ThreadId> {
        let refs: Vec<String> = keys
            .references
            .iter()
            .take(MAX_THREAD_REFERENCES)
            .cloned()
            .collect();
        self.backend
            .threads
            .resolve_thread(user, &keys.subject, &refs)
            .await
    }

    /// How many of `user`'s messages each of `threads` has across all mailboxes (the API
    /// listing's `threadMessageCount`), in one query; duplicates in `threads` are read once.
    pub async fn thread_counts(
        &self,
        user: UserId,
        threads: &[ThreadId],
    ) -> Result<Vec<(ThreadId, u64)>> {
        let mut unique = threads.to_vec();
        unique.sort_unstable();
        unique.dedup();
        self.backend.messages.thread_counts(user, &unique).await
    }
}
