//! The persisted task queue (WildDuck's `tasks` collection, `lib/task-handler.js`): background work
//! such as purging a deleted user, stored so that it survives restarts and is run by exactly one
//! instance at a time.
//!
//! A task is *due* when it is unlocked (`locked: false`, status `waiting`) or when its
//! `lockedUntil` has passed: that covers a delayed task reaching its time (`locked: true`, status
//! `delayed`) and a task whose runner died (its lease ran out). Claiming is one atomic step that
//! writes a fresh lock token, so two instances can never both hold one task; completing or
//! releasing a task only succeeds with the token of the claim.

use async_trait::async_trait;

use crate::Result;
use crate::model::{ObjectId, Timestamp, UserId};

/// Where a task is in its life (WildDuck's `status` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Due now, not claimed (`locked: false`).
    Waiting,
    /// Not before `locked_until` (`locked: true`).
    Delayed,
    /// Claimed by a runner.
    Active,
    /// Claimed, lease extended at least once.
    Processing,
}

impl TaskStatus {
    /// WildDuck's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Delayed => "delayed",
            Self::Active => "active",
            Self::Processing => "processing",
        }
    }

    /// The status named `s`; anything unknown reads as `Waiting`.
    pub fn parse(s: &str) -> Self {
        match s {
            "delayed" => Self::Delayed,
            "active" => Self::Active,
            "processing" => Self::Processing,
            _ => Self::Waiting,
        }
    }

    /// Whether a runner holds the task.
    pub fn is_claimed(self) -> bool {
        matches!(self, Self::Active | Self::Processing)
    }
}

/// One queued task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Id (`_id`).
    pub id: ObjectId,
    /// Kind (`task`), e.g. `"user-delete"`.
    pub kind: String,
    /// The user the task concerns (`data.user`), if any.
    pub user: Option<UserId>,
    /// The task's other parameters: a JSON object (MongoDB extended JSON for dates and ids, e.g.
    /// `{"$date": …}`, so they are stored as BSON dates and ids on MongoDB). `user` is not in it.
    pub data: serde_json::Value,
    /// Status.
    pub status: TaskStatus,
    /// Whether the task is locked (delayed, or claimed by a runner).
    pub locked: bool,
    /// When a delayed task becomes due, or when a runner's lease runs out.
    pub locked_until: Timestamp,
    /// Creation time.
    pub created: Timestamp,
    /// How many times a runner claimed it (`runCount`).
    pub run_count: u32,
}

impl Task {
    /// A new task of `kind` for `user`, due at `run_after` (`None` = now, status `waiting`; a
    /// time = status `delayed`, as WildDuck's `add(…, {wait})`).
    pub fn new(
        kind: impl Into<String>,
        user: Option<UserId>,
        data: serde_json::Value,
        run_after: Option<Timestamp>,
    ) -> Self {
        let now = Timestamp::now();
        Self {
            id: ObjectId::new(),
            kind: kind.into(),
            user,
            data,
            status: if run_after.is_some() {
                TaskStatus::Delayed
            } else {
                TaskStatus::Waiting
            },
            locked: run_after.is_some(),
            locked_until: run_after.unwrap_or(now),
            created: now,
            run_count: 0,
        }
    }
}

/// A random token naming one claim of a task (WildDuck: 12 random bytes in `locked`).
pub type LockToken = [u8; 12];

/// The task queue.
#[async_trait]
pub trait TaskStore: Send + Sync + std::fmt::Debug {
    /// Inserts a task.
    async fn insert_task(&self, task: &Task) -> Result<()>;
    /// Queues `task` unless a task of the same kind for the same user, whose `data` holds equal
    /// values at every key of `same`, is queued already (WildDuck's `taskHandler.ensure`), in one
    /// atomic step, so two requests at once still leave one task. Returns the id of the queued
    /// task and whether it existed before.
    async fn ensure_task(&self, task: &Task, same: &[&str]) -> Result<(ObjectId, bool)>;
    /// A task by id.
    async fn get_task(&self, id: ObjectId) -> Result<Option<Task>>;
    /// The tasks of `kind` for `user`, oldest first.
    async fn find_tasks(&self, kind: &str, user: UserId) -> Result<Vec<Task>>;
    /// Claims the due task of one of `kinds` that has waited longest, in one atomic step: its
    /// lock becomes `token`, `locked_until` becomes `lease_until`, status `active`, `run_count`
    /// one more. Due = unlocked, or `locked_until` before `now`. `None` when nothing is due.
    async fn claim_task(
        &self,
        kinds: &[&str],
        now: Timestamp,
        lease_until: Timestamp,
        token: LockToken,
    ) -> Result<Option<Task>>;
    /// Extends the lease of a task still held with `token` (status `processing`). `false` when
    /// the claim was lost.
    async fn extend_task(&self, id: ObjectId, token: LockToken, until: Timestamp) -> Result<bool>;
    /// Removes a finished task still held with `token`. `false` when the claim was lost.
    async fn complete_task(&self, id: ObjectId, token: LockToken) -> Result<bool>;
    /// Gives back a task held with `token` after a failure: it becomes `delayed` until
    /// `retry_at`. `false` when the claim was lost.
    async fn release_task(
        &self,
        id: ObjectId,
        token: LockToken,
        retry_at: Timestamp,
    ) -> Result<bool>;
    /// Moves a task that no runner holds to `run_after` (status `delayed`). `false` when
    /// absent or claimed.
    async fn reschedule_task(&self, id: ObjectId, run_after: Timestamp) -> Result<bool>;
    /// Removes a task that no runner holds. `false` when absent or claimed.
    async fn cancel_task(&self, id: ObjectId) -> Result<bool>;
}
