//! A session's view of a selected mailbox, shared by IMAP and POP3: the sorted UID list the client
//! knows, sequence numbers, and the changes to announce after journal entries arrive.

use super::Services;
use crate::Result;
use crate::model::{JournalCommand, JournalEntry, MailboxId, ModSeq, Uid, UserId};

/// One change a session should tell its client about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewChange {
    /// A message was added; the new count of messages.
    Exists(u32),
    /// The message at this sequence number (before removal) was removed.
    Expunge(u32),
    /// Flags of the message at this sequence number changed.
    Fetch {
        /// Sequence number.
        seq: u32,
        /// UID.
        uid: Uid,
        /// New flags.
        flags: Vec<String>,
        /// New MODSEQ.
        modseq: ModSeq,
    },
}

/// The UIDs a session knows, in order, and the MODSEQ up to which it has seen changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxView {
    /// The mailbox.
    pub mailbox: MailboxId,
    /// Sorted UIDs; the index + 1 is the sequence number.
    uids: Vec<Uid>,
    /// Highest MODSEQ applied.
    pub modseq: ModSeq,
}

impl MailboxView {
    /// A view over `uids` (sorted and de-duplicated here) as of `modseq`.
    pub fn new(mailbox: MailboxId, mut uids: Vec<Uid>, modseq: ModSeq) -> Self {
        uids.sort_unstable();
        uids.dedup();
        Self {
            mailbox,
            uids,
            modseq,
        }
    }

    /// The UIDs in sequence order.
    pub fn uids(&self) -> &[Uid] {
        &self.uids
    }

    /// Number of messages.
    pub fn len(&self) -> u32 {
        u32::try_from(self.uids.len()).unwrap_or(u32::MAX)
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// UID at sequence number `seq` (1-based).
    pub fn uid(&self, seq: u32) -> Option<Uid> {
        let i = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.uids.get(i).copied()
    }

    /// Sequence number of `uid`.
    pub fn seq(&self, uid: Uid) -> Option<u32> {
        self.uids
            .binary_search(&uid)
            .ok()
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// Adds a UID the session itself created (e.g. its own APPEND); returns the new count.
    pub fn add(&mut self, uid: Uid) -> u32 {
        if let Err(i) = self.uids.binary_search(&uid) {
            self.uids.insert(i, uid);
        }
        self.len()
    }

    /// Removes a UID; returns its sequence number before removal.
    pub fn remove(&mut self, uid: Uid) -> Option<u32> {
        let i = self.uids.binary_search(&uid).ok()?;
        self.uids.remove(i);
        u32::try_from(i + 1).ok()
    }

    /// Applies journal entries (any order; those at or below the view's MODSEQ, for other
    /// mailboxes, or caused by `session` are skipped) and returns the changes to announce, in
    /// order: expunges with the sequence number at the time, one EXISTS with the final count when
    /// messages were added, then flag updates of messages still present (last one per UID wins).
    pub fn apply(&mut self, entries: &[JournalEntry], session: Option<&str>) -> Vec<ViewChange> {
        let mut sorted: Vec<&JournalEntry> = entries
            .iter()
            .filter(|e| e.mailbox == self.mailbox && e.modseq > self.modseq)
            .collect();
        sorted.sort_by_key(|e| e.modseq);
        let mut out = Vec::new();
        let mut added = false;
        let mut fetches: Vec<(Uid, Vec<String>, ModSeq)> = Vec::new();
        for e in sorted {
            self.modseq = self.modseq.max(e.modseq);
            if session.is_some() && e.ignore.as_deref() == session {
                continue;
            }
            let Some(uid) = e.uid else { continue };
            match e.command {
                Some(JournalCommand::Exists) if self.seq(uid).is_none() => {
                    self.add(uid);
                    added = true;
                }
                Some(JournalCommand::Expunge) => {
                    if let Some(seq) = self.remove(uid) {
                        out.push(ViewChange::Expunge(seq));
                        fetches.retain(|f| f.0 != uid);
                    }
                }
                Some(JournalCommand::Fetch) => {
                    let flags = e.flags.clone().unwrap_or_default();
                    fetches.retain(|f| f.0 != uid);
                    fetches.push((uid, flags, e.modseq));
                }
                _ => {}
            }
        }
        if added || out.iter().any(|c| matches!(c, ViewChange::Expunge(_))) {
            out.push(ViewChange::Exists(self.len()));
        }
        fetches.sort_by_key(|f| f.0);
        for (uid, flags, modseq) in fetches {
            if let Some(seq) = self.seq(uid) {
                out.push(ViewChange::Fetch {
                    seq,
                    uid,
                    flags,
                    modseq,
                });
            }
        }
        out
    }
}

impl Services {
    /// Opens a view of one of `user`'s mailboxes (SELECT / POP3 login).
    pub async fn open_view(&self, user: UserId, mailbox: MailboxId) -> Result<MailboxView> {
        let mb = self.get_mailbox(user, mailbox).await?;
        let uids = self.backend.messages.list_uids(mailbox).await?;
        Ok(MailboxView::new(mailbox, uids, mb.modify_index))
    }

    /// Reads the journal after the view's MODSEQ and applies it.
    pub async fn refresh_view(
        &self,
        view: &mut MailboxView,
        session: Option<&str>,
    ) -> Result<Vec<ViewChange>> {
        let entries = self
            .backend
            .journal
            .since(view.mailbox, view.modseq)
            .await?;
        Ok(view.apply(&entries, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mb: MailboxId, cmd: JournalCommand, uid: u32, modseq: u64) -> JournalEntry {
        JournalEntry {
            mailbox: mb,
            command: Some(cmd),
            uid: Some(Uid(uid)),
            modseq: ModSeq(modseq),
            flags: Some(vec!["\\Seen".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn seq_and_journal() {
        let mb = MailboxId::new();
        let mut v = MailboxView::new(mb, vec![Uid(5), Uid(2), Uid(9)], ModSeq(10));
        assert_eq!(v.uid(1), Some(Uid(2)));
        assert_eq!(v.seq(Uid(9)), Some(3));
        assert_eq!(v.uid(0), None);
        let changes = v.apply(
            &[
                entry(mb, JournalCommand::Exists, 12, 12),
                entry(mb, JournalCommand::Expunge, 5, 11),
                entry(mb, JournalCommand::Fetch, 9, 13),
                entry(mb, JournalCommand::Fetch, 2, 9),
                entry(MailboxId::new(), JournalCommand::Exists, 1, 20),
            ],
            None,
        );
        assert_eq!(
            changes,
            vec![
                ViewChange::Expunge(2),
                ViewChange::Exists(3),
                ViewChange::Fetch {
                    seq: 2,
                    uid: Uid(9),
                    flags: vec!["\\Seen".into()],
                    modseq: ModSeq(13)
                }
            ]
        );
        assert_eq!(v.uids(), &[Uid(2), Uid(9), Uid(12)]);
        assert_eq!(v.modseq, ModSeq(13));
    }
}
