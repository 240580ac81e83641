//! Application-specific passwords (WildDuck `generateASP`, `deleteASP`): generated 16-letter
//! passwords limited to scopes, so a mail client never holds the account password.

use sha1::{Digest as _, Sha1};

use super::Services;
use super::authlog::AuthLogEntry;
use crate::auth::password;
use crate::model::{Asp, ObjectId, Timestamp, UserId};
use crate::{Error, ErrorKind, Result};

/// Most passwords per user (WildDuck `const:asp:limit`).
pub const MAX_ASPS: usize = 50;

/// The message of a create refused by [`MAX_ASPS`].
pub const ASP_LIMIT_MESSAGE: &str = "Maximum application password limit reached";

/// Scopes an application-specific password can have (`*` = all of them).
pub const ASP_SCOPES: [&str; 3] = ["imap", "pop3", "smtp"];

/// What a new password needs.
#[derive(Debug, Clone, Default)]
pub struct NewAsp {
    /// What the user calls it.
    pub description: String,
    /// Scopes (`imap`, `pop3`, `smtp`, `*`); unknown ones are dropped as WildDuck does.
    pub scopes: Vec<String>,
    /// A fixed password (16 lowercase letters) instead of a generated one.
    pub password: Option<String>,
    /// Lifetime in seconds, extended on every use (a temporary password).
    pub ttl: Option<u64>,
    /// Client session id (for the log).
    pub sess: Option<String>,
    /// Client address (for the log).
    pub ip: Option<String>,
}

/// WildDuck's selector: the sum of the SHA-1 bytes of the password modulo 32, in hex. Many
/// passwords share one; it only narrows which hashes a login checks.
pub fn selector(password: &str) -> String {
    let sum: u32 = Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| u32::from(*b))
        .sum();
    format!("{:x}", sum % 32)
}

/// A password as a login compares it: spaces removed, lower-cased; `None` when it cannot be an
/// application-specific password (not 16 letters).
pub fn normalize(password: &str) -> Option<String> {
    let p: String = password
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    (p.len() == 16 && p.bytes().all(|b| b.is_ascii_lowercase())).then_some(p)
}

/// 16 random lowercase letters.
fn generate() -> String {
    (0..16)
        .map(|_| char::from(b'a' + (rand::random::<u32>() % 26) as u8))
        .collect()
}

/// `ttl` seconds after `now`, saturating.
pub(crate) fn expiry(now: Timestamp, ttl: u64) -> Timestamp {
    let ms = i64::try_from(ttl).unwrap_or(i64::MAX).saturating_mul(1000);
    Timestamp(now.0.saturating_add(ms))
}

/// The stored scope list: `["*"]` when every scope is given, else the known ones sorted.
fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        let s = s.trim().to_lowercase();
        if s == "*" {
            return vec!["*".into()];
        }
        if ASP_SCOPES.contains(&s.as_str()) && !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() == ASP_SCOPES.len() {
        return vec!["*".into()];
    }
    out.sort();
    out
}

impl Services {
    /// Creates a password for `user`; returns it with the plain password (shown once, only
    /// the hash is stored). `NotFound` for an unknown user, `Invalid` for a fixed password
    /// that is not 16 letters, `OverQuota` with [`ASP_LIMIT_MESSAGE`] when the user already
    /// has [`MAX_ASPS`].
    pub async fn create_asp(&self, user: UserId, new: NewAsp) -> Result<(Asp, String)> {
        self.get_user(user).await?;
        let plain = match &new.password {
            Some(p) => normalize(p)
                .ok_or_else(|| Error::invalid("an application password is 16 lowercase letters"))?,
            None => generate(),
        };
        if self.backend.asps.list_asps(user).await?.len() >= MAX_ASPS {
            return Err(Error::new(ErrorKind::OverQuota, ASP_LIMIT_MESSAGE));
        }
        let cost = self.config.bcrypt_cost;
        let p = plain.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&p, cost))
            .await
            .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))??;
        let now = Timestamp::now();
        let ttl = new.ttl.filter(|t| *t > 0);
        let asp = Asp {
            id: ObjectId::new(),
            user,
            description: new.description,
            scopes: normalize_scopes(&new.scopes),
            selector: selector(&plain),
            password: hash,
            used: None,
            auth_event: None,
            auth_ip: None,
            created: now,
            ttl,
            expires: ttl.map(|t| expiry(now, t)),
        };
        self.backend.asps.insert_asp(&asp).await?;
        self.log_auth_event(
            user,
            AuthLogEntry {
                action: "create asp".into(),
                result: Some("success".into()),
                asp: Some(asp.id),
                aname: Some(asp.description.clone()),
                temporary: Some(asp.ttl.is_some()),
                sess: new.sess,
                ip: new.ip,
                ..Default::default()
            },
        )
        .await;
        Ok((asp, plain))
    }

    /// `user`'s passwords by id; temporary ones only with `show_all` (as WildDuck's listing),
    /// expired ones never. `NotFound` for an unknown user.
    pub async fn list_asps(&self, user: UserId, show_all: bool) -> Result<Vec<Asp>> {
        self.get_user(user).await?;
        let now = Timestamp::now();
        let mut all = self.backend.asps.list_asps(user).await?;
        all.retain(|a| !a.expired(now) && (show_all || a.ttl.is_none()));
        Ok(all)
    }

    /// One of `user`'s passwords; `NotFound` when absent, expired or another user's.
    pub async fn get_asp(&self, user: UserId, id: ObjectId) -> Result<Asp> {
        self.get_user(user).await?;
        self.backend
            .asps
            .get_asp(user, id)
            .await?
            .filter(|a| !a.expired(Timestamp::now()))
            .ok_or_else(|| Error::not_found("Application Specific Password was not found"))
    }

    /// Deletes one of `user`'s passwords (logged as `delete asp`); `NotFound` when absent.
    pub async fn delete_asp(
        &self,
        user: UserId,
        id: ObjectId,
        sess: Option<String>,
        ip: Option<String>,
    ) -> Result<()> {
        let asp = self.get_asp(user, id).await?;
        if !self.backend.asps.delete_asp(user, id).await? {
            return Err(Error::not_found(
                "Application Specific Password was not found",
            ));
        }
        self.log_auth_event(
            user,
            AuthLogEntry {
                action: "delete asp".into(),
                result: Some("success".into()),
                asp: Some(asp.id),
                aname: Some(asp.description),
                sess,
                ip,
                ..Default::default()
            },
        )
        .await;
        Ok(())
    }

    /// The password of `user` that `plain` matches, if any (expired ones never match). Only
    /// hashes with the password's selector are checked.
    pub(crate) async fn match_asp(&self, user: UserId, plain: &str) -> Result<Option<Asp>> {
        let Some(p) = normalize(plain) else {
            return Ok(None);
        };
        let sel = selector(&p);
        let now = Timestamp::now();
        for asp in self.backend.asps.list_asps(user).await? {
            if asp.expired(now) || (!asp.selector.is_empty() && asp.selector != sel) {
                continue;
            }
            let hash = asp.password.clone();
            let pw = p.clone();
            let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
                .await
                .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
            if ok {
                return Ok(Some(asp));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_scopes_follow_wildduck() {
        let p = generate();
        assert_eq!(normalize(&p).as_deref(), Some(p.as_str()));
        assert_eq!(
            normalize("ABCD efgh ijkl mnop").as_deref(),
            Some("abcdefghijklmnop")
        );
        assert!(normalize("abc").is_none());
        assert!(normalize("abcdefghijklmno1").is_none());
        let s = |v: &[&str]| normalize_scopes(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["pop3", "IMAP", "bogus"]), ["imap", "pop3"]);
        assert_eq!(s(&["imap", "pop3", "smtp"]), ["*"]);
        assert_eq!(s(&["*"]), ["*"]);
        let sel = selector("abcdefghijklmnop");
        assert!(u32::from_str_radix(&sel, 16).is_ok_and(|v| v < 32));
    }
}
