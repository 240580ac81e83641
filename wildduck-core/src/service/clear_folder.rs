//! Emptying a mailbox (WildDuck's `DELETE /users/:user/mailboxes/:mailbox/messages`), at once or
//! as a `clear-folder` task on the queue (`async: true`).
//!
//! Both ways take the same step: the messages present when it starts are flagged `\Deleted` and
//! expunged under the mailbox lock, so IMAP sessions see EXPUNGE, the quota follows, and a message
//! appended meanwhile survives. Messages go to the archive unless they are `\Draft` or the caller
//! skips it.

use super::Services;
use super::tasks::CLEAR_FOLDER;
use crate::model::{Flag, FlagOp, Flags, Mailbox, MailboxId, ObjectId, UidSet, UserId};
use crate::store::MessageFilter;
use crate::store::tasks::Task;
use crate::{ErrorKind, Result};

/// What emptying a mailbox did (WildDuck's `deleted` and `errors`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Messages removed.
    pub deleted: usize,
    /// Messages present at the start that were not removed (e.g. expunged by someone else
    /// meanwhile).
    pub errors: usize,
}

/// A queued `clear-folder` task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearScheduled {
    /// The task id (WildDuck's `scheduled`).
    pub task: ObjectId,
    /// Whether a task for this mailbox was queued already and is reused (WildDuck's `existing`).
    pub existing: bool,
}

/// The `data` of a `clear-folder` task: `{mailbox, skipArchive}` (the mailbox as an ObjectId on
/// MongoDB, as WildDuck writes it; the user is the task's own).
fn task_data(mailbox: MailboxId, archive: bool) -> serde_json::Value {
    serde_json::json!({
        "mailbox": { "$oid": mailbox.to_string() },
        "skipArchive": !archive,
    })
}

/// The mailbox of a task's data: `{"$oid": hex}` or a plain hex string.
fn task_mailbox(task: &Task) -> Option<MailboxId> {
    let v = task.data.get("mailbox")?;
    let hex = v.get("$oid").unwrap_or(v).as_str()?;
    hex.parse::<ObjectId>().ok().map(MailboxId)
}

impl Services {
    /// Empties `mailbox` now: every message present is removed, into the archive when `archive`
    /// (drafts never are).
    pub async fn clear_mailbox(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        archive: bool,
    ) -> Result<Cleared> {
        let metas = self
            .fetch_meta(user, mailbox, &MessageFilter::default())
            .await?;
        if metas.is_empty() {
            return Ok(Cleared::default());
        }
        let mut set = UidSet::new();
        for m in &metas {
            set.insert(m.uid.0);
        }
        let deleted: Flags = [Flag::Deleted].into_iter().collect();
        self.store_flags(user, mailbox, &set, &FlagOp::Add(deleted), None, None)
            .await?;
        let gone = self
            .expunge_archiving(user, mailbox, Some(&set), None, archive)
            .await?;
        Ok(Cleared {
            deleted: gone.uids.len(),
            errors: metas.len().saturating_sub(gone.uids.len()),
        })
    }

    /// Queues a `clear-folder` task for `mailbox` (one per mailbox: a second request while one
    /// is queued gets the same task back, as WildDuck's `ensure`).
    pub async fn schedule_clear_mailbox(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        archive: bool,
    ) -> Result<ClearScheduled> {
        Self::own(user, mailbox)?;
        let task = Task::new(
            CLEAR_FOLDER,
            Some(user),
            task_data(mailbox.id, archive),
            None,
        );
        let (task, existing) = self.backend.tasks.ensure_task(&task, &["mailbox"]).await?;
        Ok(ClearScheduled { task, existing })
    }

    /// Runs a claimed `clear-folder` task. A mailbox or user gone meanwhile ends the task.
    pub(super) async fn run_clear_folder_task(&self, task: &Task) -> Result<()> {
        let (Some(user), Some(mailbox)) = (task.user, task_mailbox(task)) else {
            tracing::warn!(task = %task.id, "clear-folder task without a user and mailbox; dropped");
            return Ok(());
        };
        let archive = !task
            .data
            .get("skipArchive")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let mb = match self.get_mailbox(user, mailbox).await {
            Ok(mb) => mb,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::info!(task = %task.id, %user, %mailbox, "clear-folder: mailbox is gone");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let done = self.clear_mailbox(user, &mb, archive).await?;
        // Messages removed by someone else meanwhile count as errors; not worth a retry.
        tracing::info!(task = %task.id, %user, %mailbox, deleted = done.deleted,
            errors = done.errors, "clear-folder task done");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_data_round_trips_the_mailbox() {
        let mb = MailboxId(ObjectId::new());
        let task = Task::new(CLEAR_FOLDER, None, task_data(mb, false), None);
        assert_eq!(task_mailbox(&task), Some(mb));
        assert_eq!(task.data["skipArchive"], serde_json::json!(true));
        let plain = Task::new(
            CLEAR_FOLDER,
            None,
            serde_json::json!({ "mailbox": mb.to_string() }),
            None,
        );
        assert_eq!(task_mailbox(&plain), Some(mb));
        let bad = Task::new(
            CLEAR_FOLDER,
            None,
            serde_json::json!({ "mailbox": 5 }),
            None,
        );
        assert_eq!(task_mailbox(&bad), None);
    }
}
