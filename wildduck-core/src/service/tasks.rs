//! The background task queue: scheduling, and the runner that claims due tasks and runs them
//! (WildDuck's `tasks.js` loop over `lib/task-handler.js`).
//!
//! Every instance may run [`Services::run_due_tasks`] (or the loop of
//! [`Services::spawn_task_runner`]): a task is claimed in one atomic store step with a fresh lock
//! token and a lease, so no two instances run it at once; the lease is extended while the task
//! runs, and when an instance dies its lease runs out and another instance takes the task over.
//! A finished task is removed; a failed one is retried later with a growing delay.
//!
//! Adding a kind: give it a constant here, list it in [`TASK_KINDS`] and dispatch it in
//! [`Services::run_task`]. A handler must be safe to run again from the start (a retry, or a
//! takeover after a crash, repeats it).

use std::sync::Arc;
use std::time::Duration;

use super::Services;
use crate::model::{ObjectId, Timestamp, UserId};
use crate::store::tasks::{LockToken, Task};
use crate::{Error, ErrorKind, Result};

/// Purges a deleted user's data (WildDuck's `user-delete`).
pub const USER_DELETE: &str = "user-delete";

/// Restores the archived messages of a deletion time range (WildDuck's `restore`:
/// `data: {user, start, end}`).
pub const RESTORE: &str = "restore";

/// Recomputes every user's `storageUsed` from its messages (WildDuck's `quota`, scheduled by
/// `POST /quota/reset`; `data: {}`).
pub const QUOTA: &str = "quota";

/// Empties one mailbox (WildDuck's `clear-folder`, queued by `DELETE …/messages` with `async`:
/// `data: {user, mailbox, skipArchive}`).
pub const CLEAR_FOLDER: &str = "clear-folder";

/// The kinds this build runs. Tasks of other kinds (written by a WildDuck instance on the same
/// database, e.g. `acme`) are left for the instances that know them.
pub const TASK_KINDS: &[&str] = &[USER_DELETE, RESTORE, QUOTA, CLEAR_FOLDER];

/// How long a claim holds a task before another instance may take it over (WildDuck's
/// `TASK_LOCK_INTERVAL`: one hour).
pub const TASK_LEASE: Duration = Duration::from_secs(3600);

/// How often a running task's lease is extended (WildDuck's `TASK_UPDATE_INTERVAL`: 10 minutes).
pub const TASK_EXTEND_EVERY: Duration = Duration::from_secs(600);

/// How long the loop sleeps when no task is due (WildDuck's `TASK_IDLE_INTERVAL`: 2 s).
pub const TASK_IDLE: Duration = Duration::from_secs(2);

/// First retry delay after a failure; doubles with every run, at most [`TASK_LEASE`].
pub const TASK_RETRY_BASE: Duration = Duration::from_secs(30);

/// Most tasks one pass of [`Services::run_due_tasks`] runs, so a pass always ends.
const MAX_PER_PASS: usize = 1000;

/// What one pass of the runner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskPass {
    /// Tasks that ran to completion and were removed.
    pub completed: usize,
    /// Tasks that failed and were put back for a retry.
    pub failed: usize,
    /// Tasks whose claim another runner took over while they ran (their lease ran out).
    pub lost: usize,
}

/// Options of the background loop started by [`Services::spawn_task_runner`].
#[derive(Debug, Clone)]
pub struct TaskRunnerOptions {
    /// Sleep between passes when nothing was due.
    pub idle: Duration,
    /// Wait before the first pass (WildDuck starts one minute after boot; 0 here by default).
    pub startup_delay: Duration,
}

impl Default for TaskRunnerOptions {
    fn default() -> Self {
        Self {
            idle: TASK_IDLE,
            startup_delay: Duration::ZERO,
        }
    }
}

/// The handle of a running background loop: [`TaskRunner::stop`] ends it after the task in
/// progress; dropping the handle leaves it running.
#[derive(Debug)]
pub struct TaskRunner {
    stop: Arc<tokio::sync::Notify>,
    handle: tokio::task::JoinHandle<()>,
}

impl TaskRunner {
    /// Stops the loop and waits for it (a task in progress finishes first).
    pub async fn stop(self) {
        self.stop.notify_one();
        if let Err(e) = self.handle.await {
            tracing::warn!(error = %e, "task runner ended abnormally");
        }
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp(t.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

/// The delay before retry number `run_count` (1 = after the first failure).
fn retry_delay(run_count: u32) -> Duration {
    let factor = 1u32 << run_count.saturating_sub(1).min(16);
    TASK_RETRY_BASE.saturating_mul(factor).min(TASK_LEASE)
}

impl Services {
    /// Queues a task of `kind` for `user` with the parameters `data` (a JSON object; MongoDB
    /// extended JSON such as `{"$date": …}` for dates), due at `run_after` (`None` = now).
    /// Returns the task id. `Invalid` for a kind this build does not run.
    pub async fn schedule_task(
        &self,
        kind: &str,
        user: Option<UserId>,
        data: serde_json::Value,
        run_after: Option<Timestamp>,
    ) -> Result<ObjectId> {
        if !TASK_KINDS.contains(&kind) {
            return Err(Error::invalid(format!("unknown task kind {kind:?}")));
        }
        let data = match data {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            v @ serde_json::Value::Object(_) => v,
            _ => return Err(Error::invalid("task data must be an object")),
        };
        let task = Task::new(kind, user, data, run_after);
        self.backend.tasks.insert_task(&task).await?;
        Ok(task.id)
    }

    /// One pass of the runner: claims and runs due tasks (due at `now`) one after another until
    /// none is left. A failed task is put back with a growing delay; its error is logged.
    pub async fn run_due_tasks(&self, now: Timestamp) -> Result<TaskPass> {
        let mut pass = TaskPass::default();
        for _ in 0..MAX_PER_PASS {
            let token: LockToken = rand::random();
            let Some(task) = self
                .backend
                .tasks
                .claim_task(TASK_KINDS, now, add(now, TASK_LEASE), token)
                .await?
            else {
                break;
            };
            match self.run_claimed(&task, token).await {
                Ok(()) => {
                    if self.backend.tasks.complete_task(task.id, token).await? {
                        pass.completed += 1;
                    } else {
                        tracing::warn!(task = %task.id, kind = %task.kind,
                            "finished task was taken over by another runner before it was removed");
                        pass.lost += 1;
                    }
                }
                Err(e) => {
                    let retry_at = add(Timestamp::now().max(now), retry_delay(task.run_count));
                    tracing::warn!(task = %task.id, kind = %task.kind, runs = task.run_count,
                        error = %e, "task failed; retrying later");
                    if !self
                        .backend
                        .tasks
                        .release_task(task.id, token, retry_at)
                        .await?
                    {
                        tracing::warn!(task = %task.id, "failed task was taken over by another runner");
                        pass.lost += 1;
                    }
                    pass.failed += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Runs a claimed task while extending its lease every [`TASK_EXTEND_EVERY`].
    async fn run_claimed(&self, task: &Task, token: LockToken) -> Result<()> {
        let work = self.run_task(task);
        tokio::pin!(work);
        let mut tick = tokio::time::interval(TASK_EXTEND_EVERY);
        tick.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => {
                    let until = add(Timestamp::now(), TASK_LEASE);
                    match self.backend.tasks.extend_task(task.id, token, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(task = %task.id, "task lease lost while running"),
                        Err(e) => tracing::warn!(task = %task.id, error = %e, "task lease extension failed"),
                    }
                }
            }
        }
    }

    /// Runs one task's handler by kind.
    async fn run_task(&self, task: &Task) -> Result<()> {
        match task.kind.as_str() {
            USER_DELETE => {
                let user = task
                    .user
                    .ok_or_else(|| Error::invalid("user-delete task without a user"))?;
                self.purge_deleted_user(user).await
            }
            RESTORE => self.run_restore_task(task).await,
            QUOTA => self.recalculate_all_quotas().await.map(|_| ()),
            CLEAR_FOLDER => self.run_clear_folder_task(task).await,
            other => Err(Error::new(
                ErrorKind::Invalid,
                format!("no handler for task kind {other:?}"),
            )),
        }
    }

    /// Starts the background loop on the current tokio runtime: a pass of
    /// [`Services::run_due_tasks`], then a pause of `options.idle` when nothing ran (at once
    /// again when something did), until [`TaskRunner::stop`]. Store errors are logged and the
    /// loop goes on.
    pub fn spawn_task_runner(&self, options: TaskRunnerOptions) -> TaskRunner {
        let stop = Arc::new(tokio::sync::Notify::new());
        let services = self.clone();
        let stopped = stop.clone();
        let handle = tokio::spawn(async move {
            tokio::select! {
                _ = stopped.notified() => return,
                _ = tokio::time::sleep(options.startup_delay) => {}
            }
            loop {
                let busy = match services.run_due_tasks(Timestamp::now()).await {
                    Ok(p) => p.completed + p.failed + p.lost > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "task queue pass failed");
                        false
                    }
                };
                let pause = if busy { Duration::ZERO } else { options.idle };
                tokio::select! {
                    _ = stopped.notified() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        });
        TaskRunner { stop, handle }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_is_capped() {
        assert_eq!(retry_delay(1), TASK_RETRY_BASE);
        assert_eq!(retry_delay(2), TASK_RETRY_BASE * 2);
        assert_eq!(retry_delay(0), TASK_RETRY_BASE);
        assert_eq!(retry_delay(u32::MAX), TASK_LEASE);
    }
}
