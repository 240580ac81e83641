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
    /// user's addresses. A new password or a suspension increments `auth_version`, which
    /// invalidates the user's API tokens (as WildDuck).
    pub async fn update_user(
        &self,
        id: UserId,
        mut update: UserUpdate,
        plain_password: Option<String>,
    ) -> Result<User> {
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

    /// Deletes a user with its mailboxes, messages (attachment references released) and addresses.
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        self.get_user(id).await?;
        let b = &self.backend;
        for mb in b.mailboxes.list_mailboxes(id).await? {
            self.purge_mailbox_messages(&mb).await?;
        }
        b.mailboxes.delete_user_mailboxes(id).await?;
        b.addresses.delete_user_addresses(id).await?;
        b.asps.delete_user_asps(id).await?;
        b.users.delete_user(id).await?;
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
