//! Protocol logins (IMAP, POP3, SMTP submission, the API's master scope): the password check of
//! [`Services::authenticate`] (its password half, on the user resolved once here) plus WildDuck's scope rules and per-user failure rate limit
//! (inventory §6: 12 failures in a 120 s window on the TTL counter `auth_user:<id>`, reset by a
//! successful login; failures against unknown names are counted under the name, so probing
//! accounts is limited too).

use std::net::IpAddr;
use std::time::Duration;

use super::Services;
use super::users::unameview;
use crate::model::User;
use crate::{Error, ErrorKind, Result};

/// Failed logins allowed per user within [`USER_AUTH_WINDOW`] (WildDuck `USER_AUTH_FAILURES`).
pub const USER_AUTH_FAILURES: i64 = 12;
/// The failure window, counted from the first failure (WildDuck `USER_AUTH_WINDOW`).
pub const USER_AUTH_WINDOW: Duration = Duration::from_secs(120);

/// The message of a failed login, safe to show to clients (it never says which part was wrong).
pub const AUTH_FAILED_MESSAGE: &str = "Username and password not accepted";
/// The message of a login into a scope the account has disabled.
pub const SCOPE_DISABLED_MESSAGE: &str = "Access to requested service disabled";

/// What a login is for (WildDuck's scopes; an account's `disabledScopes` lists refused ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// API and webmail with the account password.
    Master,
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
    /// SMTP submission.
    Smtp,
}

impl Scope {
    /// The stored form (`master`, `imap`, `pop3`, `smtp`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::Smtp => "smtp",
        }
    }
}

/// One login attempt.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// Username or address as the client typed it.
    pub username: &'a str,
    /// Password as the client sent it.
    pub password: &'a str,
    /// The scope asked for.
    pub scope: Scope,
    /// The client's address (for the log).
    pub ip: Option<IpAddr>,
    /// The protocol name for the log (`POP3`, `IMAP`, …).
    pub protocol: &'a str,
    /// The session id for the log.
    pub session: Option<&'a str>,
}

/// "Try again in …" as WildDuck rounds it.
fn round_time(ttl_secs: i64) -> String {
    let s = ttl_secs.max(1);
    if s < 60 {
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        let m = (s + 59) / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

fn rate_limited(ttl: i64) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!(
            "Authentication was rate limited. Try again in {}.",
            round_time(ttl)
        ),
    )
}

fn auth_failed() -> Error {
    Error::new(ErrorKind::AuthFailed, AUTH_FAILED_MESSAGE)
}

impl Services {
    /// Logs a user in for `req.scope`.
    ///
    /// Errors (their messages are written for clients and safe to show):
    /// - `AuthFailed` with [`AUTH_FAILED_MESSAGE`]: unknown user, wrong or empty password, disabled
    ///   or suspended account, account without password;
    /// - `AuthFailed` with [`SCOPE_DISABLED_MESSAGE`]: the password is right but the account has
    ///   `req.scope` disabled (checked after the password so it reveals nothing to a guesser);
    /// - `RateLimited`: too many failures for this user (or name) in the window;
    /// - `Backend`: the store failed.
    ///
    /// A counter failure (e.g. Redis down) is logged and does not block logins.
    pub async fn login(&self, req: LoginRequest<'_>) -> Result<User> {
        let log_fail = |reason: &str| {
            tracing::info!(
                username = req.username, protocol = req.protocol, scope = req.scope.as_str(),
                ip = ?req.ip, session = req.session, reason, "authentication failed"
            );
        };
        if req.password.is_empty() || req.username.trim().is_empty() {
            log_fail("empty credentials");
            return Err(auth_failed());
        }
        let user = match self.resolve_user(req.username).await {
            Ok(u) => u,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                log_fail("unknown user");
                let key = format!("auth_user:{}", unameview(req.username.trim()));
                if let Some(ttl) = self.count_auth_failure(&key).await {
                    return Err(rate_limited(ttl));
                }
                return Err(auth_failed());
            }
            Err(e) => return Err(e),
        };
        let key = format!("auth_user:{}", user.id);
        match self
            .counters
            .ttl_counter_check(&key, USER_AUTH_FAILURES, USER_AUTH_WINDOW)
            .await
        {
            Ok(c) if !c.success => {
                log_fail("rate limited");
                return Err(rate_limited(c.ttl));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "auth rate-limit check failed"),
        }
        let authed = match self.check_password(user, req.password).await {
            Ok(u) => u,
            Err(e) if e.kind() == ErrorKind::AuthFailed => {
                log_fail("bad password or account disabled");
                if let Some(ttl) = self.count_auth_failure(&key).await {
                    return Err(rate_limited(ttl));
                }
                return Err(auth_failed());
            }
            Err(e) => return Err(e),
        };
        if authed
            .disabled_scopes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(req.scope.as_str()))
        {
            log_fail("scope disabled");
            return Err(Error::new(ErrorKind::AuthFailed, SCOPE_DISABLED_MESSAGE));
        }
        if let Err(e) = self.counters.clear(&key).await {
            tracing::warn!(error = %e, "auth rate-limit reset failed");
        }
        tracing::info!(
            user = %authed.id, username = req.username, protocol = req.protocol,
            scope = req.scope.as_str(), ip = ?req.ip, session = req.session, "authenticated"
        );
        Ok(authed)
    }

    /// Adds one failure to `key`; `Some(ttl)` when the key was already at the limit.
    async fn count_auth_failure(&self, key: &str) -> Option<i64> {
        match self
            .counters
            .ttl_counter(key, 1, USER_AUTH_FAILURES, USER_AUTH_WINDOW)
            .await
        {
            Ok(c) if !c.success => Some(c.ttl),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "auth rate-limit count failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_rounded_for_people() {
        assert_eq!(round_time(0), "1 second");
        assert_eq!(round_time(45), "45 seconds");
        assert_eq!(round_time(61), "2 minutes");
        assert_eq!(round_time(120), "2 minutes");
        assert_eq!(Scope::Pop3.as_str(), "pop3");
    }
}
