//! A user's change feed across all mailboxes (the API's `/updates` stream): the journal entries
//! past what a reader has seen, and a replay from a journal id.

use std::collections::HashMap;

use super::Services;
use crate::Result;
use crate::model::{JournalEntry, MailboxId, ModSeq, ObjectId, UserId};

impl Services {
    /// New journal entries of every mailbox of `user` past the MODSEQ in `seen` (0 for a mailbox
    /// not in it), advancing `seen` to what was read. Mailboxes whose `modify_index` has not moved
    /// are skipped without a journal query.
    pub async fn user_updates(
        &self,
        user: UserId,
        seen: &mut HashMap<MailboxId, ModSeq>,
    ) -> Result<Vec<JournalEntry>> {
        let mut out = Vec::new();
        for mb in self.list_mailboxes(user, false).await? {
            let since = seen.get(&mb.id).copied().unwrap_or(ModSeq(0));
            if mb.modify_index <= since {
                continue;
            }
            let entries = self.backend.journal.since(mb.id, since).await?;
            // Advance only to what was read: a MODSEQ is allocated before its journal entry is
            // written, so a mailbox's `modify_index` can be ahead of its journal for a moment.
            if let Some(max) = entries.iter().map(|e| e.modseq).max() {
                seen.insert(mb.id, max.max(since));
            }
            out.extend(entries);
        }
        Ok(out)
    }

    /// The journal entries of `user` created after the entry `last` (journal ids order by
    /// creation), in id order, up to the MODSEQ in `upto` per mailbox (later ones belong to a
    /// [`Services::user_updates`] reader that starts at `upto`).
    pub async fn user_updates_after(
        &self,
        user: UserId,
        last: ObjectId,
        upto: &HashMap<MailboxId, ModSeq>,
    ) -> Result<Vec<JournalEntry>> {
        let mut out = Vec::new();
        for mb in self.list_mailboxes(user, false).await? {
            let limit = upto.get(&mb.id).copied().unwrap_or(ModSeq(0));
            let entries = self.backend.journal.since(mb.id, ModSeq(0)).await?;
            out.extend(
                entries
                    .into_iter()
                    .filter(|e| e.id.0 > last && e.modseq <= limit),
            );
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }
}
