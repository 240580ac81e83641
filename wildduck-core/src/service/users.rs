//! Users: create (with the default mailboxes), get, resolve, authenticate, update, delete.

use super::{Services, already_exists};
use crate::auth::password;
use crate::model::{
    Address, AddressId, Mailbox, MailboxId, ModSeq, SpecialUse, Timestamp, Uid, User, UserId,
    UserUpdate,
};
use crate::{Error, ErrorKind, Result};

/// WildDuck's retention cap for Trash and Junk of new users: 30 days in ms.
pub const JUNK_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

/// The longest username.
pub const MAX_USERNAME_LEN: usize = 128;

/// What a new user needs.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Username (lower-cased by the service; `[a-z0-9-]` words joined by `.`, `_`, `=`, `:`,
    /// optionally `@domain`).
    pub username: String,
    /// Plain password (hashed with bcrypt), or a hash when `hashed_password`; `None` = no login.
    pub password: Option<String>,
    /// `password` is already a hash of a supported scheme.
    pub hashed_password: bool,
    /// Main address, if any.
    pub address: Option<String>,
    /// Display name.
    pub name: String,
    /// Language code.
    pub language: Option<String>,
    /// Quota in bytes (0 = default).
    pub quota: u64,
    /// Retention for new mailboxes in ms (0 = keep).
    pub retention: u64,
    /// Tags.
    pub tags: Vec<String>,
    /// `metaData`: the JSON text of an object (see [`check_meta`]).
    pub meta_data: Option<String>,
    /// `internalData`: the JSON text of an object (see [`check_meta`]).
    pub internal_data: Option<String>,
}

/// Checks an API `metaData` / `internalData` value of a user or an address: the JSON text of
/// an object of at most [`super::messages::MAX_META_DATA`] bytes (WildDuck's 1 MiB), else
/// `Invalid` naming `field`.
pub fn check_meta(field: &str, text: &str) -> Result<()> {
    if text.len() > super::messages::MAX_META_DATA {
        return Err(Error::invalid(format!("{field} is larger than 1 MiB")));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(Error::invalid(format!(
            "{field} must be the JSON text of an object"
        ))),
    }
}

/// [`check_meta`] of both optional values.
pub(super) fn check_metas(meta: Option<&str>, internal: Option<&str>) -> Result<()> {
    if let Some(m) = meta {
        check_meta("metaData", m)?;
    }
    if let Some(m) = internal {
        check_meta("internalData", m)?;
    }
    Ok(())
}

/// Options of [`Services::delete_user`].
#[derive(Debug, Clone, Default)]
pub struct UserDeleteOptions {
    /// When the purge runs (WildDuck's `deleteAfter`); `None` = now.
    pub delete_after: Option<Timestamp>,
    /// Client session id for the authentication log.
    pub sess: Option<String>,
    /// Client address for the authentication log.
    pub ip: Option<String>,
}

/// What [`Services::delete_user`] did (WildDuck's `DELETE /users/:user` response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDeletion {
    /// The user.
    pub user: UserId,
    /// How many addresses were removed.
    pub addresses_deleted: u64,
    /// When the purge is due.
    pub delete_after: Timestamp,
    /// The `user-delete` task.
    pub task: crate::model::ObjectId,
}

/// A deleted user awaiting its purge (WildDuck's `GET /users/:user/restore`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedUserInfo {
    /// The snapshot (user as it was, deletion time, addresses).
    pub snapshot: crate::store::DeletedUser,
    /// The addresses a restore would bring back (not taken by anyone else since).
    pub recoverable_addresses: Vec<String>,
    /// When the purge is due (now when it is running), `None` without a pending task.
    pub delete_after: Option<Timestamp>,
    /// The pending `user-delete` task.
    pub task: Option<crate::model::ObjectId>,
}

/// What [`Services::restore_user`] did (WildDuck's `POST /users/:user/restore` response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRestore {
    /// The user.
    pub user: UserId,
    /// The cancelled `user-delete` task, if there was one.
    pub task: Option<crate::model::ObjectId>,
    /// The addresses inserted again.
    pub recovered: Vec<String>,
    /// The main address now.
    pub main: Option<String>,
}

/// The username view: lower-cased with dots removed from the part before `@` (WildDuck's `uview`).
pub fn unameview(name: &str) -> String {
    match name.find('@') {
        Some(at) => {
            let (local, domain) = name.split_at(at);
            format!("{}{}", local.replace('.', ""), domain).to_lowercase()
        }
        None => name.replace('.', "").to_lowercase(),
    }
}

/// Checks a username against WildDuck's rules and returns it lower-cased.
pub fn validate_username(name: &str) -> Result<String> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > MAX_USERNAME_LEN {
        return Err(Error::invalid("username must be 1 to 128 characters"));
    }
    let (local, domain) = match name.split_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (name.as_str(), None),
    };
    if !words_ok(local) || domain.is_some_and(|d| !words_ok(d)) {
        return Err(Error::invalid("invalid username"));
    }
    Ok(name)
}

/// `[a-z0-9-]+` words separated by single `.`, `_`, `=` or `:`.
fn words_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split(['.', '_', '=', ':']).all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The default mailboxes of a new user (inventory §1.11, English names).
pub fn default_mailboxes(user: UserId, retention: u64, now: Timestamp) -> Vec<Mailbox> {
    let junk_retention = if retention == 0 {
        JUNK_RETENTION_MS
    } else {
        retention.min(JUNK_RETENTION_MS)
    };
    let uid_validity = u32::try_from(now.secs()).unwrap_or(u32::MAX);
    [
        ("INBOX", None, retention),
        ("Sent Mail", Some(SpecialUse::Sent), retention),
        ("Trash", Some(SpecialUse::Trash), junk_retention),
        ("Junk", Some(SpecialUse::Junk), junk_retention),
        ("Drafts", Some(SpecialUse::Drafts), retention),
    ]
    .into_iter()
    .map(|(path, special_use, retention)| Mailbox {
        id: MailboxId::new(),
        user,
        path: path.to_string(),
        special_use,
        uid_validity,
        uid_next: Uid(1),
        modify_index: ModSeq(1),
        subscribed: true,
        flags: Vec::new(),
        retention,
        hidden: false,
        encrypt_messages: false,
    })
    .collect()
}

impl Services {
    /// Creates a user with the default mailboxes and, when given, its main address. Duplicate
    /// username or address → `AlreadyExists`; nothing is left behind on failure.
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let username = validate_username(&new.username)?;
        check_metas(new.meta_data.as_deref(), new.internal_data.as_deref())?;
        let view = unameview(&username);
        let address = match &new.address {
            Some(a) => Some(super::addresses::normalize_address(a)?),
            None => None,
        };
        let password = match (&new.password, new.hashed_password) {
            (None, _) => String::new(),
            (Some(h), true) => {
                if password::scheme(h).is_none() {
                    return Err(Error::invalid("unsupported password hash"));
                }
                h.clone()
            }
            (Some(p), false) => {
                let cost = self.config.bcrypt_cost;
                let p = p.clone();
                // bcrypt is deliberately slow: keep it off the reactor threads.
                tokio::task::spawn_blocking(move || password::hash(&p, cost))
                    .await
                    .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))??
            }
        };
        if self
            .backend
            .users
            .find_user_by_unameview(&view)
            .await?
            .is_some()
        {
            return Err(already_exists("username is taken"));
        }
        if let Some(a) = &address {
            let addrview = super::addresses::addrview(a);
            if !self
                .backend
                .addresses
                .find_addresses(std::slice::from_ref(&addrview))
                .await?
                .is_empty()
            {
                return Err(already_exists("address is taken"));
            }
        }
        let now = Timestamp::now();
        let user = User {
            id: UserId::new(),
            username,
            name: new.name,
            address: address.clone(),
            language: new.language,
            password,
            auth_version: 1,
            quota: new.quota,
            storage_used: 0,
            retention: new.retention,
            tags: new.tags,
            disabled_scopes: Vec::new(),
            disabled: false,
            suspended: false,
            activated: true,
            limits: Default::default(),
            created: now,
            temp_password: None,
            meta_data: new.meta_data,
            internal_data: new.internal_data,
        };
        self.backend.users.insert_user(&user).await?;
        let boxes = default_mailboxes(user.id, user.retention, now);
        if let Err(e) = self.backend.mailboxes.insert_mailboxes(&boxes).await {
            self.undo_user(user.id).await;
            return Err(e);
        }
        if let Some(a) = address {
            let addr = Address {
                id: AddressId::new(),
                user: Some(user.id),
                addrview: super::addresses::addrview(&a),
                address: a,
                name: None,
                tags: Vec::new(),
                created: now,
                forwarding: None,
                meta_data: None,
                internal_data: None,
            };
            if let Err(e) = self.backend.addresses.insert_address(&addr).await {
                self.undo_user(user.id).await;
                return Err(e);
            }
        }
        Ok(user)
    }

    async fn undo_user(&self, id: UserId) {
        let b = &self.backend;
        if let Err(e) = b.mailboxes.delete_user_mailboxes(id).await {
            tracing::warn!(user = %id, error = %e, "rollback of mailboxes failed");
        }
        if let Err(e) = b.users.delete_user(id).await {
            tracing::warn!(user = %id, error = %e, "rollback of user failed");
        }
    }

    /// A user by id; `NotFound` when absent.
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        self.backend
            .users
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("no such user"))
    }

    /// Resolves a login name: an address (anything with `@` that resolves as one) or a username.
    pub async fn resolve_user(&self, name: &str) -> Result<User> {
        let name = name.trim();
        if name.contains('@')
            && let Ok(addr) = self.resolve_address(name, false).await
            && let Some(uid) = addr.user
        {
            return self.get_user(uid).await;
        }
        self.backend
            .users
            .find_user_by_unameview(&unameview(name))
            .await?
            .ok_or_else(|| Error::not_found("no such user"))
    }

    /// Checks a password. Unknown user, wrong password, disabled or suspended account and an
    /// account without password all give `AuthFailed` (never saying which). A correct password
    /// stored with a legacy scheme is re-hashed with bcrypt.
    pub async fn authenticate(&self, name: &str, password: &str) -> Result<User> {
        let user = match self.resolve_user(name).await {
            Ok(u) => u,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::new(ErrorKind::AuthFailed, "authentication failed"));
            }
            Err(e) => return Err(e),
        };
        self.check_password(user, password).await
    }

    /// The password half of [`Services::authenticate`] for a user the caller already resolved
    /// (the login use case resolves first for its rate limit): same rules, same errors.
    pub(crate) async fn check_password(&self, user: User, password: &str) -> Result<User> {
        let fail = || Error::new(ErrorKind::AuthFailed, "authentication failed");
        if user.disabled || user.suspended || user.password.is_empty() {
            return Err(fail());
        }
        let hash = user.password.clone();
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
            .await
            .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        if !ok {
            return Err(fail());
        }
        if password::needs_rehash(&user.password) {
            let cost = self.config.bcrypt_cost;
            let pw = password.to_string();
            if let Ok(Ok(new_hash)) =
                tokio::task::spawn_blocking(move || password::hash(&pw, cost)).await
            {
                // Keep the auth version: a re-hash is not a password change.
                if let Err(e) = self.backend.users.rehash_password(user.id, &new_hash).await {
                    tracing::warn!(user = %user.id, error = %e, "password re-hash failed");
                }
            }
        }
        Ok(user)
    }

    /// Updates a user. A new plain password is hashed; a new main address must be one of the
    /// user's addresses; `metaData` / `internalData` must pass [`check_meta`] (`Invalid`, with
    /// nothing changed, otherwise). A new password or a suspension increments `auth_version`, which
    /// invalidates the user's API tokens (as WildDuck).
    pub async fn update_user(
        &self,
        id: UserId,
        mut update: UserUpdate,
        plain_password: Option<String>,
    ) -> Result<User> {
        check_metas(update.meta_data.as_deref(), update.internal_data.as_deref())?;
        if let Some(p) = plain_password {
            let cost = self.config.bcrypt_cost;
            update.password = Some(
                tokio::task::spawn_blocking(move || password::hash(&p, cost))
                    .await
                    .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))??,
            );
        }
        if let Some(a) = &update.address {
            let norm = super::addresses::normalize_address(a)?;
            let view = super::addresses::addrview(&norm);
            let found = self.backend.addresses.find_addresses(&[view]).await?;
            if !found.iter().any(|x| x.user == Some(id)) {
                return Err(Error::not_found("address is not one of the user's"));
            }
            update.address = Some(norm);
        }
        // WildDuck also invalidates API tokens when an account gets suspended.
        let suspending = update.suspended == Some(true)
            && update.password.is_none()
            && !self.get_user(id).await?.suspended;
        if !self.backend.users.update_user(id, &update).await? {
            return Err(Error::not_found("no such user"));
        }
        if suspending {
            self.backend.users.bump_auth_version(id).await?;
        }
        let user = self.get_user(id).await?;
        if update.password.is_some() && user.temp_password.is_some() {
            // A new password ends a password reset (WildDuck sets `tempPassword: false`).
            self.backend.users.set_temp_password(id, None).await?;
            return self.get_user(id).await;
        }
        Ok(user)
    }

    /// Deletes a user the way WildDuck does: the account disappears at once (moved into the
    /// deleted state: a snapshot of the user and its addresses is kept, the user and its
    /// addresses are removed, so logins fail and the addresses are free), and a `user-delete`
    /// task purges its data when `options.delete_after` passes (now without it). Until then
    /// [`Services::restore_user`] brings it back.
    ///
    /// Deleting an already deleted user again is allowed (as in WildDuck): the pending task is
    /// moved to the new time. `NotFound` when there is neither a user nor a deleted one. Open
    /// IMAP sessions of the account get WildDuck's `LOGOUT` notification.
    pub async fn delete_user(
        &self,
        id: UserId,
        options: UserDeleteOptions,
    ) -> Result<UserDeletion> {
        let b = &self.backend;
        let now = Timestamp::now();
        let addresses = match b.users.move_user_to_deleted(id, now).await? {
            Some(snapshot) => snapshot.addresses.len() as u64,
            None if b.users.get_deleted_user(id).await?.is_some() => 0,
            None => return Err(Error::not_found("no such user")),
        };
        // Live IMAP sessions of the account (on every instance) are told to close, as the API's
        // logout does; a notifier failure leaves them to fail on their next store access.
        if let Some(n) = &self.notifier
            && let Err(e) = n
                .publish(
                    &id.to_string(),
                    Some(serde_json::json!({"command": "LOGOUT", "reason": "Account deleted"})),
                )
                .await
        {
            tracing::warn!(user = %id, error = %e, "logout notification failed");
        }
        let delete_after = options.delete_after.unwrap_or(now);
        let existing = b
            .tasks
            .find_tasks(super::tasks::USER_DELETE, id)
            .await?
            .into_iter()
            .next();
        let (task, delete_after) = match existing {
            Some(t) => {
                let mut when = t.locked_until;
                if !t.status.is_claimed() && b.tasks.reschedule_task(t.id, delete_after).await? {
                    when = delete_after;
                }
                (t.id, when)
            }
            None => {
                let task = self
                    .schedule_task(
                        super::tasks::USER_DELETE,
                        Some(id),
                        serde_json::Value::Null,
                        options.delete_after,
                    )
                    .await?;
                (task, delete_after)
            }
        };
        self.log_auth_event(
            id,
            super::authlog::AuthLogEntry {
                action: "delete user".into(),
                result: Some("success".into()),
                sess: options.sess,
                ip: options.ip,
                ..Default::default()
            },
        )
        .await;
        Ok(UserDeletion {
            user: id,
            addresses_deleted: addresses,
            delete_after,
            task,
        })
    }

    /// What a deleted user's restore would bring back (WildDuck's `restoreInfo`): its snapshot,
    /// the addresses still free (or its own again), and when its purge is due. `NotFound`
    /// when there is no deleted user with this id.
    pub async fn deleted_user_info(&self, id: UserId) -> Result<DeletedUserInfo> {
        let b = &self.backend;
        let snapshot = b
            .users
            .get_deleted_user(id)
            .await?
            .ok_or_else(|| Error::not_found("deleted account was not found"))?;
        let mut recoverable = Vec::new();
        for a in &snapshot.addresses {
            let taken = b
                .addresses
                .find_addresses(std::slice::from_ref(&a.addrview))
                .await?
                .into_iter()
                .any(|x| x.addrview == a.addrview && x.user != Some(id));
            if !taken {
                recoverable.push(a.address.clone());
            }
        }
        let task = b
            .tasks
            .find_tasks(super::tasks::USER_DELETE, id)
            .await?
            .into_iter()
            .next();
        Ok(DeletedUserInfo {
            delete_after: task.as_ref().map(|t| {
                if t.status.is_claimed() {
                    Timestamp::now()
                } else {
                    t.locked_until
                }
            }),
            task: task.map(|t| t.id),
            recoverable_addresses: recoverable,
            snapshot,
        })
    }

    /// Cancels a pending deletion (WildDuck's restore): the purge task is removed, the user
    /// comes back with every address nobody took meanwhile, its main address the old one when
    /// that came back. `NotFound` without a deleted user, `AlreadyExists` when the account (or
    /// its username) exists again, `Conflict` when the purge is already running.
    pub async fn restore_user(
        &self,
        id: UserId,
        sess: Option<String>,
        ip: Option<String>,
    ) -> Result<UserRestore> {
        let b = &self.backend;
        let snapshot = b
            .users
            .get_deleted_user(id)
            .await?
            .ok_or_else(|| Error::not_found("deleted account was not found"))?;
        if b.users.get_user(id).await?.is_some()
            || b.users
                .find_user_by_unameview(&unameview(&snapshot.user.username))
                .await?
                .is_some()
        {
            return Err(already_exists("account was already restored"));
        }
        let mut task = None;
        for t in b.tasks.find_tasks(super::tasks::USER_DELETE, id).await? {
            // A claim between the read and the cancel also lands here.
            if t.status.is_claimed() || !b.tasks.cancel_task(t.id).await? {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "deletion already in progress",
                ));
            }
            task = Some(t.id);
        }
        let restored = b.users.restore_deleted_user(id).await?;
        self.log_auth_event(
            id,
            super::authlog::AuthLogEntry {
                action: "restore user".into(),
                result: Some("success".into()),
                sess,
                ip,
                ..Default::default()
            },
        )
        .await;
        Ok(UserRestore {
            user: id,
            task,
            recovered: restored.recovered,
            main: restored.main,
        })
    }

    /// The `user-delete` task: purges a deleted user's messages (attachment references
    /// released), mailboxes, application passwords, authentication log, threads, journal and
    /// finally its snapshot. Safe to run again after a partial run. A user that is live again
    /// (restored by another instance) is left alone.
    pub(crate) async fn purge_deleted_user(&self, id: UserId) -> Result<()> {
        let b = &self.backend;
        if b.users.get_user(id).await?.is_some() {
            tracing::warn!(user = %id, "user-delete task for a live user: nothing purged");
            return Ok(());
        }
        for mb in b.mailboxes.list_mailboxes(id).await? {
            self.purge_mailbox_messages(&mb).await?;
        }
        b.mailboxes.delete_user_mailboxes(id).await?;
        b.asps.delete_user_asps(id).await?;
        b.authlog.delete_user_events(id).await?;
        b.users.purge_deleted_user(id).await?;
        Ok(())
    }

    /// WildDuck's password reset: a new random 12-character temporary password (letters and
    /// digits) that works for the master scope from `valid_after` (default now) for 24 hours,
    /// next to the account password; logged as `reset`. Returns the plain password and
    /// `valid_after`. `NotFound` for an unknown user.
    pub async fn reset_password(
        &self,
        id: UserId,
        valid_after: Option<Timestamp>,
        sess: Option<String>,
        ip: Option<String>,
    ) -> Result<(String, Timestamp)> {
        self.get_user(id).await?;
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let plain: String = (0..12)
            .map(|_| {
                let i = rand::random::<u32>() as usize % CHARS.len();
                char::from(CHARS.get(i).copied().unwrap_or(b'x'))
            })
            .collect();
        let cost = self.config.bcrypt_cost;
        let p = plain.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&p, cost))
            .await
            .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))??;
        let now = Timestamp::now();
        let valid_after = valid_after.unwrap_or(now);
        let temp = crate::model::TempPassword {
            password: hash,
            created: now,
            valid_after,
        };
        if !self
            .backend
            .users
            .set_temp_password(id, Some(&temp))
            .await?
        {
            return Err(Error::not_found("no such user"));
        }
        self.log_auth_event(
            id,
            super::authlog::AuthLogEntry {
                action: "reset".into(),
                sess,
                ip,
                ..Default::default()
            },
        )
        .await;
        Ok((plain, valid_after))
    }

    /// Quota limit of a user in bytes.
    pub fn quota_limit(&self, user: &User) -> u64 {
        if user.quota > 0 {
            user.quota
        } else {
            self.config.default_quota
        }
    }

    /// Recomputes `storage_used` from the stored messages; returns the new value.
    pub async fn recalculate_quota(&self, id: UserId) -> Result<i64> {
        self.get_user(id).await?;
        let sum = self.backend.messages.sum_sizes(id).await?;
        self.backend.users.set_storage(id, sum).await?;
        Ok(sum)
    }

    /// [`Services::recalculate_quota`] for every user (the `quota` task): writes only where the
    /// stored figure is off, and returns how many users were corrected. Not transactional, as
    /// WildDuck's: a message arriving meanwhile can leave one user's figure off by its size until
    /// the next append or reset. Safe to run again from the start.
    pub async fn recalculate_all_quotas(&self) -> Result<u64> {
        let mut corrected = 0;
        for user in self.backend.users.list_users().await? {
            let sum = self.backend.messages.sum_sizes(user.id).await?;
            if sum != user.storage_used {
                self.backend.users.set_storage(user.id, sum).await?;
                tracing::info!(user = %user.id, stored = user.storage_used, calculated = sum, "quota corrected");
                corrected += 1;
            }
        }
        Ok(corrected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert_eq!(
            validate_username("John.Doe").ok().as_deref(),
            Some("john.doe")
        );
        assert!(validate_username("a@b.c").is_ok());
        assert!(validate_username("a..b").is_err());
        assert!(validate_username(".ab").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_username(&"a".repeat(129)).is_err());
        assert_eq!(unameview("John.Doe"), "johndoe");
        assert_eq!(unameview("j.d@Ex.Com"), "jd@ex.com");
    }

    #[test]
    fn default_mailboxes_follow_wildduck() {
        let boxes = default_mailboxes(UserId::new(), 0, Timestamp(1_700_000_000_123));
        let paths: Vec<_> = boxes.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["INBOX", "Sent Mail", "Trash", "Junk", "Drafts"]);
        assert_eq!(boxes[2].retention, JUNK_RETENTION_MS);
        assert_eq!(boxes[0].retention, 0);
        assert!(boxes.iter().all(|m| m.uid_validity == 1_700_000_000));
        assert_eq!(boxes[3].special_use, Some(SpecialUse::Junk));
    }
}
