//! Mailboxes: create, rename, delete, subscribe, list, status; path rules.

use super::{Services, already_exists};
use crate::model::{
    JournalCommand, JournalEntry, Mailbox, MailboxId, MailboxStatus, ModSeq, Timestamp, Uid, UserId,
};
use crate::store::{BlobRef, MailboxSettings, MessageFilter};
use crate::{Error, Result};

/// Hierarchy delimiter.
pub const DELIMITER: char = '/';
/// Most levels in a path.
pub const MAX_LEVELS: usize = 128;
/// Most characters in one level.
pub const MAX_LEVEL_LEN: usize = 512;

/// Checks and normalises a mailbox path: levels separated by `/`, none empty, at most 128 levels of
/// at most 512 characters, no control characters; `INBOX` in any case becomes `INBOX`.
pub fn normalize_path(path: &str) -> Result<String> {
    if path.is_empty() {
        return Err(Error::invalid("empty mailbox name"));
    }
    let levels: Vec<&str> = path.split(DELIMITER).collect();
    if levels.len() > MAX_LEVELS {
        return Err(Error::invalid("too many mailbox levels"));
    }
    for l in &levels {
        if l.is_empty() {
            return Err(Error::invalid("empty mailbox level"));
        }
        if l.chars().count() > MAX_LEVEL_LEN {
            return Err(Error::invalid("mailbox level too long"));
        }
        if l.chars().any(char::is_control) {
            return Err(Error::invalid("control character in mailbox name"));
        }
    }
    let mut out = String::with_capacity(path.len());
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(DELIMITER);
        }
        if i == 0 && l.eq_ignore_ascii_case("INBOX") {
            out.push_str("INBOX");
        } else {
            out.push_str(l);
        }
    }
    Ok(out)
}

impl Services {
    /// One of `user`'s mailboxes; `NotFound` for an unknown or another user's id.
    pub async fn get_mailbox(&self, user: UserId, id: MailboxId) -> Result<Mailbox> {
        self.backend
            .mailboxes
            .get_mailbox(user, id)
            .await?
            .ok_or_else(|| Error::not_found("no such mailbox"))
    }

    /// One of `user`'s mailboxes by path (`INBOX` case-insensitive).
    pub async fn find_mailbox(&self, user: UserId, path: &str) -> Result<Mailbox> {
        let path = normalize_path(path)?;
        self.backend
            .mailboxes
            .find_mailbox_by_path(user, &path)
            .await?
            .ok_or_else(|| Error::not_found("no such mailbox"))
    }

    /// `user`'s mailboxes sorted by path; only subscribed ones with `subscribed_only`.
    pub async fn list_mailboxes(
        &self,
        user: UserId,
        subscribed_only: bool,
    ) -> Result<Vec<Mailbox>> {
        let mut all = self.backend.mailboxes.list_mailboxes(user).await?;
        if subscribed_only {
            all.retain(|m| m.subscribed);
        }
        Ok(all)
    }

    /// Creates a mailbox (subscribed, `uidValidity` = now in seconds). Existing path →
    /// `AlreadyExists`; bad path → `Invalid`; the 1500-mailbox limit → `Invalid`.
    pub async fn create_mailbox(&self, user: UserId, path: &str) -> Result<Mailbox> {
        self.create_mailbox_with(user, path, MailboxSettings::default())
            .await
    }

    /// [`Services::create_mailbox`] with the API's settings: `retention` (default: the user's),
    /// `hidden`, `encrypt_messages`; `subscribed` defaults to true.
    pub async fn create_mailbox_with(
        &self,
        user: UserId,
        path: &str,
        settings: MailboxSettings,
    ) -> Result<Mailbox> {
        let path = normalize_path(path)?;
        let u = self.get_user(user).await?;
        let count = self.backend.mailboxes.count_mailboxes(user).await?;
        if count >= self.config.max_mailboxes {
            return Err(Error::invalid("mailbox limit reached"));
        }
        let now = Timestamp::now();
        let mb = Mailbox {
            id: MailboxId::new(),
            user,
            path,
            special_use: None,
            uid_validity: u32::try_from(now.secs()).unwrap_or(u32::MAX),
            uid_next: Uid(1),
            modify_index: ModSeq(1),
            subscribed: settings.subscribed.unwrap_or(true),
            flags: Vec::new(),
            retention: settings.retention.unwrap_or(u.retention),
            hidden: settings.hidden.unwrap_or(false),
            encrypt_messages: settings.encrypt_messages.unwrap_or(false),
        };
        self.backend
            .mailboxes
            .insert_mailboxes(std::slice::from_ref(&mb))
            .await?;
        self.journal_mailbox(&mb, JournalCommand::Create).await;
        Ok(mb)
    }

    /// Renames a mailbox, keeping its id and `uidValidity` (children are not moved, as in
    /// WildDuck). INBOX cannot be renamed; an existing target → `AlreadyExists`.
    pub async fn rename_mailbox(
        &self,
        user: UserId,
        id: MailboxId,
        new_path: &str,
    ) -> Result<Mailbox> {
        let new_path = normalize_path(new_path)?;
        let mb = self.get_mailbox(user, id).await?;
        if mb.path == "INBOX" || mb.hidden {
            return Err(Error::invalid(
                "INBOX and hidden mailboxes cannot be renamed",
            ));
        }
        if new_path == "INBOX" {
            return Err(already_exists("INBOX exists"));
        }
        let renamed = self
            .backend
            .mailboxes
            .rename_mailbox(user, id, &new_path)
            .await?
            .ok_or_else(|| Error::not_found("no such mailbox"))?;
        self.journal_mailbox(&renamed, JournalCommand::Rename).await;
        Ok(renamed)
    }

    /// Deletes a mailbox with its messages, which go into the archive of deleted messages (see
    /// [`super::archive`]). INBOX, special-use and hidden mailboxes cannot be deleted.
    pub async fn delete_mailbox(&self, user: UserId, id: MailboxId) -> Result<()> {
        let mb = self.get_mailbox(user, id).await?;
        if mb.path == "INBOX" || mb.special_use.is_some() || mb.hidden {
            return Err(Error::invalid(
                "INBOX, special-use and hidden mailboxes cannot be deleted",
            ));
        }
        // WildDuck expires the messages of a deleted mailbox, and its GC moves them into the
        // archive; here they go there at once, as an EXPUNGE of everything would (drafts not
        // archived), so a deleted folder's mail stays restorable for the archive time.
        self.with_mailbox_lock(mb.id, super::messages::EXPUNGE_LOCK_TTL, async {
            let all = self
                .backend
                .messages
                .find_meta(mb.id, &MessageFilter::default())
                .await?;
            self.remove_messages(user, mb.id, all, None, true).await
        })
        .await?;
        if !self.backend.mailboxes.delete_mailbox(user, id).await? {
            return Err(Error::not_found("no such mailbox"));
        }
        // Whatever was appended meanwhile goes without an archive entry.
        self.purge_mailbox_messages(&mb).await?;
        self.journal_mailbox(&mb, JournalCommand::Delete).await;
        Ok(())
    }

    /// Changes a mailbox's settings (the API's mailbox update of fields other than `path`).
    /// A new retention applies to messages added from now on, as in WildDuck. `NotFound` when
    /// the mailbox is not `user`'s.
    pub async fn update_mailbox_settings(
        &self,
        user: UserId,
        id: MailboxId,
        settings: &MailboxSettings,
    ) -> Result<()> {
        if !self
            .backend
            .mailboxes
            .update_settings(user, id, settings)
            .await?
        {
            return Err(Error::not_found("no such mailbox"));
        }
        Ok(())
    }

    /// Subscribes or unsubscribes.
    pub async fn subscribe_mailbox(
        &self,
        user: UserId,
        id: MailboxId,
        subscribed: bool,
    ) -> Result<()> {
        if !self
            .backend
            .mailboxes
            .set_subscribed(user, id, subscribed)
            .await?
        {
            return Err(Error::not_found("no such mailbox"));
        }
        Ok(())
    }

    /// Total and unseen messages of a mailbox the caller has already loaded through
    /// [`Services::get_mailbox`] or [`Services::list_mailboxes`] (so ownership is checked).
    pub async fn message_counts(&self, mb: &Mailbox) -> Result<(u64, u64)> {
        self.backend.messages.counts(mb.id).await
    }

    /// STATUS: messages, unseen, UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ.
    pub async fn mailbox_status(&self, user: UserId, id: MailboxId) -> Result<MailboxStatus> {
        let mb = self.get_mailbox(user, id).await?;
        let (messages, unseen) = self.backend.messages.counts(id).await?;
        Ok(MailboxStatus {
            messages,
            unseen,
            uid_next: mb.uid_next,
            uid_validity: mb.uid_validity,
            highest_modseq: mb.modify_index,
        })
    }

    /// Removes every message of a mailbox, releasing attachment references and quota.
    pub(crate) async fn purge_mailbox_messages(&self, mb: &Mailbox) -> Result<()> {
        let gone = self.backend.messages.delete_mailbox_messages(mb.id).await?;
        if gone.is_empty() {
            return Ok(());
        }
        let size: u64 = gone.iter().map(|m| m.size).sum();
        let refs = BlobRefSum::from_metas(&gone, -1);
        if !refs.is_empty() {
            self.backend.attachments.update_refs(&refs).await?;
        }
        self.backend
            .users
            .inc_storage(mb.user, -i64::try_from(size).unwrap_or(i64::MAX))
            .await
    }

    async fn journal_mailbox(&self, mb: &Mailbox, command: JournalCommand) {
        let entry = JournalEntry {
            user: mb.user,
            mailbox: mb.id,
            command: Some(command),
            path: Some(mb.path.clone()),
            modseq: mb.modify_index,
            created: Timestamp::now(),
            ..Default::default()
        };
        if let Err(e) = self
            .backend
            .journal
            .append(std::slice::from_ref(&entry))
            .await
        {
            tracing::warn!(mailbox = %mb.id, error = %e, "journal write failed");
        }
        self.notify(mb.user).await;
    }
}

/// Sums reference changes per blob over a set of messages.
#[derive(Debug)]
pub(crate) struct BlobRefSum;

impl BlobRefSum {
    /// `sign` is +1 for new references (copies), -1 for released ones (deletes).
    pub(crate) fn from_metas(metas: &[crate::model::MessageMeta], sign: i64) -> Vec<BlobRef> {
        let mut map: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
        for m in metas {
            for h in &m.blobs {
                let e = map.entry(h.as_str()).or_default();
                e.0 += sign;
                e.1 += sign * i64::from(m.magic);
            }
        }
        map.into_iter()
            .map(|(h, (count, magic))| BlobRef {
                hash: h.to_string(),
                count,
                magic,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert_eq!(normalize_path("inbox").ok().as_deref(), Some("INBOX"));
        assert_eq!(
            normalize_path("Inbox/Sub").ok().as_deref(),
            Some("INBOX/Sub")
        );
        assert_eq!(
            normalize_path("Work/Inbox").ok().as_deref(),
            Some("Work/Inbox")
        );
        for bad in ["", "/a", "a/", "a//b", "a\u{0}b"] {
            assert!(normalize_path(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_path(&"x".repeat(512)).is_ok());
        assert!(normalize_path(&"x".repeat(513)).is_err());
        assert!(normalize_path(&vec!["a"; 128].join("/")).is_ok());
        assert!(normalize_path(&vec!["a"; 129].join("/")).is_err());
    }
}
