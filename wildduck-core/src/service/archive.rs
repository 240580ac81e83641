//! The archive of deleted messages (WildDuck's `archived`, inventory §1.3 EXPUNGE row, §4.5):
//! every message removed by EXPUNGE, POP3 or the API's deletes is kept, with its attachment
//! references, for [`ServiceConfig::archive_time`](super::ServiceConfig::archive_time) (25
//! days), unless it is flagged `\Draft` or the caller skips the archive. Archived messages do not
//! count towards the quota. They can be listed, restored one by one or by a range of deletion
//! times, and are purged once expired.

use std::time::Duration;

use super::Services;
use super::messages::{FetchedMessage, MAX_MAILBOX_KEYWORDS};
use crate::model::{
    Flag, JournalCommand, JournalEntry, Mailbox, MailboxId, MessageId, MessageMeta, ModSeq,
    SpecialUse, Timestamp, Uid, UserId,
};
use crate::store::{AppendMessage, ArchivedMessage};
use crate::{Error, ErrorKind, Result};

/// How long deleted messages stay archived by default (WildDuck `const:archive:time`: 25 days).
pub const ARCHIVE_TIME: Duration = Duration::from_secs(25 * 24 * 3600);

/// How many expired entries one purge step handles.
pub const PURGE_BATCH: usize = 500;

/// How often a daemon purges expired archive entries (WildDuck's GC runs every 15 minutes).
pub const PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// The English name of the range restore's folder (WildDuck's `Restored` translation); the
/// folder is `Restored (YYYY-MM-DD)` with today's UTC date.
pub const RESTORED_FOLDER: &str = "Restored";

/// One restored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The message id (the archive entry's, kept as WildDuck keeps it).
    pub id: MessageId,
    /// The mailbox it was restored into.
    pub mailbox: MailboxId,
    /// Its new UID there.
    pub uid: Uid,
    /// Its new MODSEQ.
    pub modseq: ModSeq,
}

/// The outcome of a range restore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeRestored {
    /// Messages restored.
    pub restored: u64,
    /// Messages that could not be restored (they stay archived; the errors are logged).
    pub failed: u64,
    /// The mailbox they went into, `None` when nothing was in range.
    pub mailbox: Option<MailboxId>,
}

/// `YYYY-MM-DD` (UTC) of `t`.
fn utc_date(t: Timestamp) -> String {
    let days = t.0.div_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds of a civil UTC date-time (days-from-civil, Howard Hinnant's algorithm).
fn civil_ms(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64, millis: i64) -> i64 {
    let (yy, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + millis
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (the relaxed extended JSON form of a BSON date).
fn parse_iso_utc(s: &str) -> Option<Timestamp> {
    let s = s.trim().strip_suffix('Z').unwrap_or(s.trim());
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00"));
    let mut dp = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, d) = (dp.next()??, dp.next()??, dp.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut tp = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm) = (tp.next()??, tp.next().unwrap_or(Some(0))?);
    let ss = tp.next().unwrap_or(Some(0))?;
    let millis: i64 = frac.get(..frac.len().min(3))?.parse().ok()?;
    let ok = (0..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
        && (0..24).contains(&hh)
        && (0..60).contains(&mm)
        && (0..=60).contains(&ss)
        && millis >= 0;
    ok.then(|| Timestamp(civil_ms(y, m, d, hh, mm, ss, millis)))
}

/// A task date: extended JSON `{"$date": …}` (ISO string, number, or `{"$numberLong": …}`),
/// or a plain number of milliseconds.
fn task_date(v: &serde_json::Value) -> Option<Timestamp> {
    use serde_json::Value;
    match v {
        Value::Number(n) => n.as_i64().map(Timestamp),
        Value::String(s) => parse_iso_utc(s),
        Value::Object(o) => match o.get("$date").or_else(|| o.get("$numberLong"))? {
            Value::String(s) => s
                .parse::<i64>()
                .ok()
                .map(Timestamp)
                .or_else(|| parse_iso_utc(s)),
            inner => task_date(inner),
        },
        _ => None,
    }
}

/// The `data` of a `restore` task for `start..=end` (dates as extended JSON, stored as BSON
/// dates on MongoDB, as WildDuck's `taskHandler.add('restore', {user, start, end})`).
pub fn restore_task_data(start: Timestamp, end: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "start": { "$date": { "$numberLong": start.0.to_string() } },
        "end": { "$date": { "$numberLong": end.0.to_string() } },
    })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Services {
    /// Deletes `found` from `mailbox`, archiving those that are not `\Draft` (when the archive
    /// is on). Returns how many were deleted and which are archived (their references stay).
    pub(super) async fn archive_and_delete(
        &self,
        mailbox: MailboxId,
        found: &[MessageMeta],
    ) -> Result<(u64, Vec<MessageId>)> {
        let ids: Vec<MessageId> = found.iter().map(|m| m.id).collect();
        if self.config.archive_time.is_zero() {
            let n = self.backend.messages.delete_messages(mailbox, &ids).await?;
            return Ok((n, Vec::new()));
        }
        let keep: Vec<MessageId> = found
            .iter()
            .filter(|m| !m.flags.contains(&Flag::Draft))
            .map(|m| m.id)
            .collect();
        let now = Timestamp::now();
        let expires = Timestamp(now.0.saturating_add(ms(self.config.archive_time)));
        let out = self
            .backend
            .archive
            .archive_and_delete(mailbox, &ids, &keep, now, expires)
            .await?;
        Ok((out.deleted, out.archived))
    }

    /// `user`'s archived messages, newest first (by id, as WildDuck's listing sorts).
    pub async fn list_archived(&self, user: UserId) -> Result<Vec<ArchivedMessage>> {
        let mut all = self.backend.archive.list_archived(user).await?;
        all.reverse();
        Ok(all)
    }

    /// Metadata and content of `user`'s archived messages `ids` (missing ones left out), for
    /// listings: the content carries no attachment bytes.
    pub async fn fetch_archived(
        &self,
        user: UserId,
        ids: &[MessageId],
    ) -> Result<Vec<(ArchivedMessage, FetchedMessage)>> {
        let loaded = self.backend.archive.load_archived(user, ids).await?;
        Ok(loaded
            .into_iter()
            .map(|(a, content)| {
                let f = FetchedMessage::without_blobs(a.meta.clone(), content);
                (a, f)
            })
            .collect())
    }

    /// Restores one archived message of `user` (WildDuck's `POST
    /// /users/:user/archived/messages/:message/restore`): into `target` when given, else the
    /// mailbox it was deleted from; when that mailbox does not exist (any more), into INBOX. It
    /// gets a new UID and MODSEQ there, an EXISTS journal entry (so sessions see it), and its
    /// size counts towards the quota again; the archive entry is removed.
    ///
    /// Errors: `NotFound` for an unknown or another user's entry, or when neither the mailbox
    /// nor INBOX exists; `OverQuota` when the user is over quota (nothing changes).
    pub async fn restore_archived(
        &self,
        user: UserId,
        id: MessageId,
        target: Option<MailboxId>,
    ) -> Result<Restored> {
        let (entry, content) = self
            .backend
            .archive
            .load_archived(user, &[id])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("no such archived message"))?;
        self.archive_quota_check(user).await?;
        let wanted = target.unwrap_or(entry.meta.mailbox);
        let mailbox = match self.backend.mailboxes.get_mailbox(user, wanted).await? {
            Some(m) => m,
            None => self.inbox(user).await?,
        };
        self.restore_entry(entry, content, &mailbox, false).await
    }

    /// Restores every archived message of `user` whose archive time is in `start..=end`, as
    /// WildDuck's `restore` task does: into the folder `Restored (YYYY-MM-DD)` (created,
    /// subscribed, when missing), else INBOX, with `\Deleted` cleared. A message that fails
    /// stays archived and is counted in `failed`. `NotFound` when the user does not exist.
    pub async fn restore_archived_range(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<RangeRestored> {
        self.get_user(user).await?;
        let entries = self
            .backend
            .archive
            .archived_between(user, start, end)
            .await?;
        let mut out = RangeRestored::default();
        if entries.is_empty() {
            return Ok(out);
        }
        let mailbox = self.restored_folder(user).await?;
        out.mailbox = Some(mailbox.id);
        // One at a time, so memory stays bounded by one message's content.
        for e in entries {
            let id = e.meta.id;
            let result = async {
                let (entry, content) = self
                    .backend
                    .archive
                    .load_archived(user, &[id])
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::not_found("no such archived message"))?;
                self.restore_entry(entry, content, &mailbox, true).await
            }
            .await;
            match result {
                Ok(_) => out.restored += 1,
                Err(err) => {
                    tracing::warn!(%user, message = %id, error = %err, "restoring an archived message failed");
                    out.failed += 1;
                }
            }
        }
        Ok(out)
    }

    /// Queues WildDuck's `restore` task for [`Services::restore_archived_range`] (what `POST
    /// /users/:user/archived/restore` does); a task runner
    /// ([`Services::run_due_tasks`]) carries it out. Returns the task id; `NotFound` when the
    /// user does not exist.
    pub async fn schedule_archive_restore(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<crate::model::ObjectId> {
        self.get_user(user).await?;
        self.schedule_task(
            super::tasks::RESTORE,
            Some(user),
            restore_task_data(start, end),
            None,
        )
        .await
    }

    /// Runs a `restore` task: `data.start`/`data.end` as WildDuck writes them (BSON dates).
    /// A user that no longer exists ends the task (as WildDuck's); messages that fail stay
    /// archived and are logged, and a run again after a crash restores what is left.
    pub(super) async fn run_restore_task(&self, task: &crate::store::tasks::Task) -> Result<()> {
        let user = task
            .user
            .ok_or_else(|| Error::invalid("restore task without a user"))?;
        let (Some(start), Some(end)) = (
            task.data.get("start").and_then(task_date),
            task.data.get("end").and_then(task_date),
        ) else {
            tracing::warn!(task = %task.id, "restore task without a valid start and end; dropped");
            return Ok(());
        };
        match self.restore_archived_range(user, start, end).await {
            Ok(done) => {
                tracing::info!(task = %task.id, %user, restored = done.restored,
                    failed = done.failed, "restore task done");
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::warn!(task = %task.id, %user, "restore task for a user that does not exist");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Purges every archived message whose expiry is at or before `now`, releasing its
    /// attachment references, in batches of [`PURGE_BATCH`]. For a periodic job (the daemon or
    /// the task runner). Returns how many were purged.
    pub async fn purge_expired_archived(&self, now: Timestamp) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let n = self
                .backend
                .archive
                .purge_expired(&self.backend, now, PURGE_BATCH)
                .await?;
            total += n;
            if n < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// WildDuck refuses new content once `storageUsed` is above the quota; a restore adds the
    /// message's size again, so it is refused the same way.
    async fn archive_quota_check(&self, user: UserId) -> Result<()> {
        let u = self.get_user(user).await?;
        let limit = i64::try_from(self.quota_limit(&u)).unwrap_or(i64::MAX);
        if u.storage_used > limit {
            return Err(Error::new(ErrorKind::OverQuota, "storage quota exceeded"));
        }
        Ok(())
    }

    async fn inbox(&self, user: UserId) -> Result<Mailbox> {
        self.backend
            .mailboxes
            .find_mailbox_by_path(user, "INBOX")
            .await?
            .ok_or_else(|| Error::not_found("no such mailbox"))
    }

    /// `Restored (YYYY-MM-DD)`, created when missing; INBOX when it cannot be created.
    async fn restored_folder(&self, user: UserId) -> Result<Mailbox> {
        let path = format!("{RESTORED_FOLDER} ({})", utc_date(Timestamp::now()));
        if let Some(m) = self
            .backend
            .mailboxes
            .find_mailbox_by_path(user, &path)
            .await?
        {
            return Ok(m);
        }
        match self.create_mailbox(user, &path).await {
            Ok(m) => Ok(m),
            // Created concurrently by another restore.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => self
                .backend
                .mailboxes
                .find_mailbox_by_path(user, &path)
                .await?
                .ok_or(e),
            Err(e) => {
                tracing::warn!(%user, error = %e, "creating the restore folder failed; restoring into INBOX");
                self.inbox(user).await
            }
        }
    }

    /// Puts one archive entry back into `mailbox`.
    async fn restore_entry(
        &self,
        entry: ArchivedMessage,
        content: crate::message::StoredMessage,
        mailbox: &Mailbox,
        clear_deleted: bool,
    ) -> Result<Restored> {
        let user = entry.meta.user;
        let meta_data = entry.meta_data;
        let mut meta = entry.meta;
        meta.mailbox = mailbox.id;
        meta.junk = mailbox.special_use == Some(SpecialUse::Junk);
        meta.rdate = mailbox.expiry_from(Timestamp::now());
        if clear_deleted {
            meta.flags.remove(&Flag::Deleted);
        }
        let keywords: Vec<String> = if mailbox.flags.len() >= MAX_MAILBOX_KEYWORDS {
            Vec::new()
        } else {
            meta.flags
                .keywords()
                .filter(|k| !mailbox.flags.iter().any(|f| f.eq_ignore_ascii_case(k)))
                .map(str::to_string)
                .collect()
        };
        let journal = JournalEntry {
            user,
            mailbox: mailbox.id,
            command: Some(JournalCommand::Exists),
            unseen: Some(!meta.flags.contains(&Flag::Seen)),
            flags: Some(meta.flags.to_strings()),
            idate: Some(meta.idate),
            created: Timestamp::now(),
            ..Default::default()
        };
        let restored = self
            .backend
            .archive
            .restore_archived(
                &self.backend,
                AppendMessage {
                    meta,
                    content: std::sync::Arc::new(content),
                    blobs: Vec::new(),
                    thread: None,
                    keywords,
                    journal: Some(journal),
                    meta_data,
                },
            )
            .await?;
        self.notify(user).await;
        Ok(Restored {
            id: restored.id,
            mailbox: restored.mailbox,
            uid: restored.uid,
            modseq: restored.modseq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_dates() {
        let t = Timestamp(1_795_910_399_999);
        let data = restore_task_data(t, t);
        assert_eq!(data.get("start").and_then(task_date), Some(t));
        for v in [
            serde_json::json!({"$date": "2026-11-28T23:59:59.999Z"}),
            serde_json::json!({"$date": 1_795_910_399_999_i64}),
            serde_json::json!(1_795_910_399_999_i64),
        ] {
            assert_eq!(task_date(&v), Some(t), "{v}");
        }
        assert_eq!(
            task_date(&serde_json::json!({"$date": "2024-02-29T12:00:00Z"})),
            Some(Timestamp(1_709_208_000_000))
        );
        for bad in [
            serde_json::json!({"$date": "nonsense"}),
            serde_json::json!({"$date": "2024-13-01T00:00:00Z"}),
            serde_json::json!(true),
            serde_json::json!({}),
        ] {
            assert_eq!(task_date(&bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(Timestamp(0)), "1970-01-01");
        // 2024-02-29T12:00:00Z
        assert_eq!(utc_date(Timestamp(1_709_208_000_000)), "2024-02-29");
        // 2026-11-28T23:59:59.999Z
        assert_eq!(utc_date(Timestamp(1_795_910_399_999)), "2026-11-28");
    }
}
