//! Message expiry and custom metadata: the API's `expires` and `metaData` of messages, and the
//! collector that deletes messages whose expiry has passed.
//!
//! A message expires at its `rdate` (WildDuck `exp: true, rdate`): set from the mailbox's
//! retention when it is added, copied or moved there, or by the API's message update. The
//! collector ([`Services::spawn_collector`]) does what WildDuck's GC in `tasks.js` does: expired
//! messages are deleted into the archive of deleted messages (as an EXPUNGE would), then expired
//! archive entries are purged. Every instance may run one: each message is removed under its
//! mailbox's write lock by the one pass that finds it still expired.

use std::collections::HashMap;
use std::time::Duration;

use super::Services;
use super::messages::EXPUNGE_LOCK_TTL;
use super::users::check_meta;
use crate::Result;
use crate::model::{Mailbox, MailboxId, MessageMeta, Timestamp, Uid, UidSet, UserId};
use crate::store::{FieldUpdate, MessageFilter};

/// Most expired messages one query of the collector reads.
pub const EXPIRE_BATCH: usize = 500;

/// What one pass of the collector did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Expired messages deleted (into the archive where it is kept).
    pub expired: u64,
    /// Expired archive entries purged.
    pub purged: u64,
}

impl Services {
    /// The API's message update of fields IMAP does not show: the expiry and the custom
    /// metadata of the messages at `uids` of `user`'s `mailbox`. Returns how many messages
    /// matched. `Invalid` for metadata that is not the JSON text of an object of at most
    /// [`super::messages::MAX_META_DATA`] bytes; `NotFound` when the mailbox is not `user`'s.
    pub async fn update_message_fields(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: &UidSet,
        update: &FieldUpdate,
    ) -> Result<u64> {
        Self::own(user, mailbox)?;
        if let Some(m) = &update.meta_data {
            check_meta("metaData", m)?;
        }
        self.backend
            .messages
            .update_fields(mailbox.id, uids, update)
            .await
    }

    /// The custom metadata (JSON text) of the messages at `uids` of `user`'s `mailbox` that
    /// have any, by UID. `NotFound` when the mailbox is not `user`'s.
    pub async fn message_meta_data(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        uids: &UidSet,
    ) -> Result<Vec<(Uid, String)>> {
        Self::own(user, mailbox)?;
        self.backend.messages.meta_data(mailbox.id, uids).await
    }

    /// Deletes every message whose expiry is at or before `now`, mailbox by mailbox under the
    /// mailbox's write lock, as EXPUNGE does: into the archive (when one is kept), releasing
    /// references and quota, with EXPUNGE journal entries and a notification, so open sessions
    /// see the messages go. A message whose expiry was moved later (or that was moved away)
    /// after the query is left alone. Returns how many were deleted; a mailbox that fails is
    /// logged and skipped.
    pub async fn delete_expired_messages(&self, now: Timestamp) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let batch = self
                .backend
                .messages
                .find_expired(now, EXPIRE_BATCH)
                .await?;
            let full = batch.len() == EXPIRE_BATCH;
            let mut groups: HashMap<MailboxId, (UserId, UidSet)> = HashMap::new();
            for m in &batch {
                groups
                    .entry(m.mailbox)
                    .or_insert_with(|| (m.user, UidSet::new()))
                    .1
                    .insert(m.uid.0);
            }
            let mut deleted = 0u64;
            for (mailbox, (user, uids)) in groups {
                match self.expire_in(user, mailbox, uids, now).await {
                    Ok(n) => deleted += n,
                    Err(e) => {
                        tracing::warn!(%mailbox, error = %e, "deleting expired messages failed")
                    }
                }
            }
            total += deleted;
            // A full batch of which nothing could be deleted would come back the same.
            if !full || deleted == 0 {
                return Ok(total);
            }
        }
    }

    async fn expire_in(
        &self,
        user: UserId,
        mailbox: MailboxId,
        uids: UidSet,
        now: Timestamp,
    ) -> Result<u64> {
        self.with_mailbox_lock(mailbox, EXPUNGE_LOCK_TTL, async {
            let filter = MessageFilter {
                uids: Some(uids),
                ..Default::default()
            };
            let still: Vec<MessageMeta> = self
                .backend
                .messages
                .find_meta(mailbox, &filter)
                .await?
                .into_iter()
                .filter(|m| m.user == user && m.rdate.is_some_and(|r| r <= now))
                .collect();
            let removed = self
                .remove_messages(user, mailbox, still, None, true)
                .await?;
            Ok(removed.uids.len() as u64)
        })
        .await
    }

    /// One pass of the collector: [`Services::delete_expired_messages`], then
    /// [`Services::purge_expired_archived`].
    pub async fn collect_expired(&self, now: Timestamp) -> Result<Collected> {
        let expired = self.delete_expired_messages(now).await?;
        let purged = self.purge_expired_archived(now).await?;
        Ok(Collected { expired, purged })
    }

    /// Starts a background loop on the current tokio runtime that runs
    /// [`Services::collect_expired`] every `interval` (the first pass at once), as WildDuck's GC
    /// does. Errors are logged and the loop goes on; abort the handle to stop it.
    pub fn spawn_collector(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match services.collect_expired(Timestamp::now()).await {
                    Ok(c) if c == Collected::default() => {}
                    Ok(c) => tracing::info!(
                        expired = c.expired,
                        purged = c.purged,
                        "expired messages collected"
                    ),
                    Err(e) => tracing::warn!(error = %e, "collecting expired messages failed"),
                }
            }
        })
    }
}
