//! A session's view of a selected mailbox, shared by IMAP and POP3: the sorted UID list the client
//! knows, sequence numbers, and the changes to announce after journal entries arrive.

use std::collections::{HashMap, HashSet};

use super::Services;
use crate::Result;
use crate::model::{
    JournalCommand, JournalEntry, JournalId, Mailbox, MailboxId, ModSeq, Timestamp, Uid, UserId,
};

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

/// How long after a journal read an entry may still turn up below the MODSEQ already applied.
///
/// MODSEQs are allocated before the entry is written (append: allocate, store, insert, then
/// journal), so two writers holding 5 and 6 may journal 6 first; a view that read 6 must still
/// find 5. Each read therefore also returns entries created since the previous read minus this
/// margin. It only has to cover the time from stamping `created` to the write being visible plus
/// clock skew between instances (milliseconds); seconds leave ample room while keeping the
/// re-read (already applied entries, skipped by id) small.
pub const JOURNAL_GRACE_MS: i64 = 5_000;

/// An applied journal entry remembered for [`JOURNAL_GRACE_MS`]-bounded re-reads: to skip it
/// when read again and to refuse an older, late entry for the same UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    id: JournalId,
    uid: Uid,
    modseq: ModSeq,
    created: Timestamp,
    expunge: bool,
}

/// Taken before a view's mailbox state is read ([`Services::view_start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewStart {
    /// When the state read began.
    pub at: Timestamp,
    /// The journal position at that moment, where the backend has one.
    pub position: Option<u64>,
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
    /// Start of the last journal read whose entries were applied (or of the view's opening):
    /// entries created from `anchor - JOURNAL_GRACE_MS` on are read again.
    anchor: Timestamp,
    /// Start of the read in progress; [`MailboxView::apply`] makes it the anchor.
    reading: Option<Timestamp>,
    /// Entries with a UID applied within the re-read window (bounded by age, not count).
    recent: Vec<Applied>,
    /// Ids of `recent`, so skipping a re-read entry costs a lookup, not a scan.
    recent_ids: HashSet<JournalId>,
    /// Where the next journal read continues, on backends whose journal has a commit-ordered
    /// position ([`crate::store::JournalStore::for_view`]); such reads return only new entries.
    position: Option<u64>,
}

impl MailboxView {
    /// A view over `uids` (sorted and de-duplicated here) as of `modseq`, read just now.
    pub fn new(mailbox: MailboxId, mut uids: Vec<Uid>, modseq: ModSeq) -> Self {
        uids.sort_unstable();
        uids.dedup();
        Self {
            mailbox,
            uids,
            modseq,
            anchor: Timestamp::now(),
            reading: None,
            recent: Vec::new(),
            recent_ids: HashSet::new(),
            position: None,
        }
    }

    /// A view over `uids` as of `modseq` whose state was read after `start` (its journal
    /// reads begin there).
    pub fn opened(mailbox: MailboxId, uids: Vec<Uid>, modseq: ModSeq, start: ViewStart) -> Self {
        let mut view = Self::new(mailbox, uids, modseq);
        view.anchor = start.at;
        view.position = start.position;
        view
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

    /// The earliest `created` a journal read for this view must include (late entries).
    pub fn created_from(&self) -> Timestamp {
        Timestamp(self.anchor.0.saturating_sub(JOURNAL_GRACE_MS))
    }

    /// Records that a journal read starts now; the next [`MailboxView::apply`] moves the re-read
    /// window to it. A read whose entries are never applied leaves the window where it was.
    pub fn begin_read(&mut self) -> Timestamp {
        let now = Timestamp::now();
        self.reading = Some(now);
        now
    }

    /// Whether `entry` is one `apply` would still act on: this mailbox, and above the view's
    /// MODSEQ or (a late entry) created within the re-read window and not applied yet.
    pub fn is_pending(&self, entry: &JournalEntry) -> bool {
        entry.mailbox == self.mailbox
            && (entry.modseq > self.modseq
                || (entry.created >= self.created_from() && !self.recent_ids.contains(&entry.id)))
    }

    /// Applies journal entries (any order; for other mailboxes, already applied, or at or below
    /// the view's MODSEQ and older than the re-read window are skipped; those caused by `session`
    /// only advance the MODSEQ) and returns the changes to announce, in order: expunges with the
    /// sequence number at the time, one EXISTS with the final count when messages were added,
    /// then flag updates of messages still present (last one per UID wins).
    ///
    /// A late entry (below a MODSEQ already applied) is applied once; one older than a change
    /// already applied to the same UID is not (its flags would be stale, an EXISTS would revive
    /// an expunged message), except an expunge, which is final.
    pub fn apply(&mut self, entries: &[JournalEntry], session: Option<&str>) -> Vec<ViewChange> {
        let mut sorted: Vec<&JournalEntry> =
            entries.iter().filter(|e| self.is_pending(e)).collect();
        sorted.sort_by_key(|e| e.modseq);
        // Per UID, the highest MODSEQ applied before this batch and whether it was expunged;
        // only late entries need it.
        let mut newest: HashMap<Uid, (ModSeq, bool)> = HashMap::new();
        if sorted.iter().any(|e| e.modseq <= self.modseq) {
            for r in &self.recent {
                let v = newest.entry(r.uid).or_insert((r.modseq, false));
                v.0 = v.0.max(r.modseq);
                v.1 |= r.expunge;
            }
        }
        // A message expunged later in this batch is not announced at all (its EXISTS may be a
        // late re-read of one this session already removed itself).
        let gone: HashSet<Uid> = sorted
            .iter()
            .filter(|e| e.command == Some(JournalCommand::Expunge))
            .filter_map(|e| e.uid)
            .collect();
        let mut out = Vec::new();
        let mut added = false;
        let mut fetches: Vec<(Uid, Vec<String>, ModSeq)> = Vec::new();
        for e in sorted {
            self.modseq = self.modseq.max(e.modseq);
            let Some(uid) = e.uid else { continue };
            self.recent_ids.insert(e.id);
            self.recent.push(Applied {
                id: e.id,
                uid,
                modseq: e.modseq,
                created: e.created,
                expunge: e.command == Some(JournalCommand::Expunge),
            });
            if session.is_some() && e.ignore.as_deref() == session {
                // The session already told its client; an older change from elsewhere in this
                // batch would only repeat stale flags.
                if e.command == Some(JournalCommand::Fetch) {
                    fetches.retain(|f| f.0 != uid);
                }
                continue;
            }
            let (newer, expunged) = newest
                .get(&uid)
                .map_or((false, false), |(m, x)| (*m > e.modseq, *x));
            match e.command {
                Some(JournalCommand::Exists)
                    if !expunged && !gone.contains(&uid) && self.seq(uid).is_none() =>
                {
                    self.add(uid);
                    added = true;
                }
                Some(JournalCommand::Expunge) => {
                    if let Some(seq) = self.remove(uid) {
                        out.push(ViewChange::Expunge(seq));
                        fetches.retain(|f| f.0 != uid);
                    }
                }
                Some(JournalCommand::Fetch) if !newer => {
                    let flags = e.flags.clone().unwrap_or_default();
                    fetches.retain(|f| f.0 != uid);
                    fetches.push((uid, flags, e.modseq));
                }
                _ => {}
            }
        }
        if let Some(read) = self.reading.take() {
            self.anchor = self.anchor.max(read);
        }
        self.prune_recent();
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

    /// Forgets applied entries no read can return again (kept one extra window so a late entry
    /// still finds the newer change to its UID), so an idle view stays small.
    fn prune_recent(&mut self) {
        let keep_from = Timestamp(self.created_from().0.saturating_sub(JOURNAL_GRACE_MS));
        let ids = &mut self.recent_ids;
        self.recent.retain(|r| {
            let keep = r.created >= keep_from;
            if !keep {
                ids.remove(&r.id);
            }
            keep
        });
        if self.recent.capacity() > 2 * self.recent.len() + 16 {
            self.recent.shrink_to_fit();
            self.recent_ids.shrink_to_fit();
        }
    }

    /// Number of applied entries remembered for the re-read window (for memory checks).
    pub fn remembered(&self) -> usize {
        self.recent.len()
    }
}

impl Services {
    /// Opens a view of one of `user`'s mailboxes (SELECT / POP3 login).
    pub async fn open_view(&self, user: UserId, mailbox: MailboxId) -> Result<MailboxView> {
        // Before reading the state: entries journaled late for changes already counted in it are
        // then still within the re-read window.
        let started = Timestamp::now();
        let position = self.backend.journal.position().await?;
        let mb = self.get_mailbox(user, mailbox).await?;
        let uids = self.backend.messages.list_uids(mailbox).await?;
        let mut view = MailboxView::new(mailbox, uids, mb.modify_index);
        view.anchor = started;
        view.position = position;
        Ok(view)
    }

    /// Marks the start of opening a view: take it before reading the mailbox, then pass it to
    /// [`Services::open_view_of`]. Journal entries from then on are read again by the view (the
    /// grace window, or the journal position where the backend has one).
    pub async fn view_start(&self) -> Result<ViewStart> {
        let at = Timestamp::now();
        let position = self.backend.journal.position().await?;
        Ok(ViewStart { at, position })
    }

    /// Opens a view of `mailbox`, a document of `user`'s that the caller read after `start`
    /// (SELECT looks the mailbox up by path first): one query for the UID list, no second read
    /// of the mailbox. `NotFound` when the mailbox is not the user's.
    pub async fn open_view_of(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        start: ViewStart,
    ) -> Result<MailboxView> {
        if mailbox.user != user {
            return Err(crate::Error::not_found("no such mailbox"));
        }
        let uids = self.backend.messages.list_uids(mailbox.id).await?;
        let mut view = MailboxView::new(mailbox.id, uids, mailbox.modify_index);
        view.anchor = start.at;
        view.position = start.position;
        Ok(view)
    }

    /// Reads, in one query, the journal entries `view` may not have applied: MODSEQ above its
    /// own, or created within [`JOURNAL_GRACE_MS`] before its last read (entries journaled after
    /// a higher MODSEQ) — or, where the backend keeps a commit-ordered position, just the
    /// entries committed since the previous read. Pass them to [`MailboxView::apply`].
    pub async fn view_entries(&self, view: &mut MailboxView) -> Result<Vec<JournalEntry>> {
        let created_from = view.created_from();
        view.begin_read();
        let (entries, position) = self
            .backend
            .journal
            .for_view(view.mailbox, view.modseq, created_from, view.position)
            .await?;
        view.position = position;
        Ok(entries)
    }

    /// Reads the journal entries the view has not applied and applies them.
    pub async fn refresh_view(
        &self,
        view: &mut MailboxView,
        session: Option<&str>,
    ) -> Result<Vec<ViewChange>> {
        let entries = self.view_entries(view).await?;
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

    fn stamped(mb: MailboxId, cmd: JournalCommand, uid: u32, modseq: u64) -> JournalEntry {
        JournalEntry {
            id: JournalId::new(),
            created: Timestamp::now(),
            ..entry(mb, cmd, uid, modseq)
        }
    }

    #[test]
    fn late_entries_once_and_old_ones_never() {
        let mb = MailboxId::new();
        let mut v = MailboxView::new(mb, vec![Uid(1)], ModSeq(4));
        let six = stamped(mb, JournalCommand::Exists, 3, 6);
        let five = stamped(mb, JournalCommand::Exists, 2, 5);
        assert_eq!(
            v.apply(std::slice::from_ref(&six), None),
            vec![ViewChange::Exists(2)]
        );
        assert!(v.is_pending(&five) && !v.is_pending(&six));
        // The late one, read again together with the applied one.
        let both = [six.clone(), five.clone()];
        assert_eq!(v.apply(&both, None), vec![ViewChange::Exists(3)]);
        assert!(v.apply(&both, None).is_empty());
        assert_eq!(v.uids(), &[Uid(1), Uid(2), Uid(3)]);
        assert_eq!(v.modseq, ModSeq(6));
        // Below the MODSEQ and created before the re-read window: known when the view was made.
        let mut old = stamped(mb, JournalCommand::Exists, 9, 3);
        old.created = Timestamp(v.created_from().0 - 1);
        assert!(!v.is_pending(&old));
        assert!(v.apply(&[old], None).is_empty());
        // Memory is bounded by age: entries older than two windows are forgotten.
        let mut aged = stamped(mb, JournalCommand::Fetch, 1, 7);
        aged.created = Timestamp(v.created_from().0 - 2 * JOURNAL_GRACE_MS);
        v.apply(&[aged], None);
        assert_eq!(v.remembered(), 2);
        // A read moves the window; a read that is never applied does not.
        let before = v.created_from();
        v.begin_read();
        assert_eq!(v.created_from(), before);
        v.apply(&[], None);
        assert!(v.created_from() >= before);
    }
}
