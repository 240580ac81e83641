//! Protocol logins (IMAP, POP3, SMTP submission, the API's master scope): the password check of
//! [`Services::authenticate`] (its password half, on the user resolved once here) plus WildDuck's scope rules and per-user failure rate limit
//! (inventory §6: 12 failures in a 120 s window on the TTL counter `auth_user:<id>`, reset by a
//! successful login; failures against unknown names are counted under the name, so probing
//! accounts is limited too).

use std::net::IpAddr;
use std::time::Duration;

use super::Services;
use super::authlog::AuthLogEntry;
use super::users::unameview;
use crate::model::{ObjectId, TEMP_PASSWORD_WINDOW_MS, Timestamp, User};
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

/// How a login ended, as [`LoginObserver`]s are told (the error returned says the same to the
/// client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginOutcome {
    /// Logged in.
    Success,
    /// Unknown user, wrong or empty password, disabled or suspended account.
    Failure,
    /// The password was right but the account has the scope disabled.
    ScopeDisabled,
    /// Refused without checking: too many recent failures.
    RateLimited,
}

impl LoginOutcome {
    /// Lower-case label (`success`, `failure`, `scope_disabled`, `rate_limited`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::ScopeDisabled => "scope_disabled",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Receives the outcome of every [`Services::login`] (set with
/// [`Services::with_login_observer`]). Called on the login's task: count, do not block.
pub trait LoginObserver: Send + Sync + std::fmt::Debug {
    /// `protocol` is the request's protocol name as given (`IMAP`, `POP3`, …).
    fn login(&self, protocol: &str, scope: Scope, outcome: LoginOutcome);
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

/// The message of a login with a password that is not valid for the scope asked for (an
/// application-specific password without that scope).
pub const INVALID_SCOPE_MESSAGE: &str = "Authentication failed. Invalid scope";

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The user.
    pub user: User,
    /// The application-specific password used, `None` for the account password.
    pub asp: Option<ObjectId>,
    /// The authlog entry of this login: set for an ASP login (written before answering); `None`
    /// for the account password, whose entry is written after the login answers.
    pub auth_event: Option<ObjectId>,
    /// Logged in with the temporary password of a reset: the client should set a new one.
    pub require_password_change: bool,
}

/// The message of a login with a temporary password before its `validAfter`.
pub const TEMP_PASSWORD_NOT_YET_VALID_MESSAGE: &str = "Temporary password is not yet activated";

/// What [`Services::check_temp_password`] found.
enum TempCheck {
    /// No temporary password, an expired one, or another password.
    NoMatch,
    /// The temporary password, before its `validAfter`.
    NotYetValid,
    /// The temporary password, usable.
    Valid,
}

impl Services {
    /// Logs a user in for `req.scope`.
    ///
    /// Errors (their messages are written for clients and safe to show):
    /// - `AuthFailed` with [`AUTH_FAILED_MESSAGE`]: unknown user, wrong or empty password, disabled
    ///   or suspended account, account without password;
    /// - `AuthFailed` with [`SCOPE_DISABLED_MESSAGE`]: the password is right but the account has
    ///   `req.scope` disabled (checked after the password so it reveals nothing to a guesser);
    /// - `AuthFailed` with [`INVALID_SCOPE_MESSAGE`]: an application-specific password without
    ///   `req.scope`;
    /// - `RateLimited`: too many failures for this user (or name) in the window;
    /// - `Backend`: the store failed.
    ///
    /// A counter failure (e.g. Redis down) is logged and does not block logins.
    pub async fn login(&self, req: LoginRequest<'_>) -> Result<User> {
        self.login_detailed(req).await.map(|s| s.user)
    }

    /// [`Services::login`] with what was used: the account password (scope `master`, or any
    /// scope when the account has no second factor: this port has no 2FA model yet) or, for
    /// `imap`/`pop3`/`smtp`, an application-specific password that has the scope. Every
    /// attempt on a known account is written to the authentication log as WildDuck does.
    /// The outcome is told to the [`LoginObserver`] set with [`Services::with_login_observer`].
    pub async fn login_detailed(&self, req: LoginRequest<'_>) -> Result<LoginSuccess> {
        let result = self.login_unobserved(req, None).await;
        self.observe_login(&req, &result);
        result
    }

    /// [`Services::login_detailed`] for a caller that already looked the account up by the
    /// username view of `req.username` (`found`: `None` when there is no such account), so the
    /// login does not read it again. Only for names without `@` (those may be addresses, which
    /// [`Services::resolve_user`] resolves first).
    pub(crate) async fn login_prefetched(
        &self,
        req: LoginRequest<'_>,
        found: Option<User>,
    ) -> Result<LoginSuccess> {
        let result = self.login_unobserved(req, Some(found)).await;
        self.observe_login(&req, &result);
        result
    }

    fn observe_login(&self, req: &LoginRequest<'_>, result: &Result<LoginSuccess>) {
        if let Some(o) = &self.login_observer {
            let outcome = match &result {
                Ok(_) => Some(LoginOutcome::Success),
                Err(e) if e.kind() == ErrorKind::RateLimited => Some(LoginOutcome::RateLimited),
                Err(e) if e.message() == SCOPE_DISABLED_MESSAGE => {
                    Some(LoginOutcome::ScopeDisabled)
                }
                Err(e) if e.kind() == ErrorKind::AuthFailed => Some(LoginOutcome::Failure),
                // A store failure is not a login outcome.
                Err(_) => None,
            };
            if let Some(outcome) = outcome {
                o.login(req.protocol, req.scope, outcome);
            }
        }
    }

    /// `prefetched`: the account as the caller already read it (see
    /// [`Services::login_prefetched`]); `None` resolves `req.username` here.
    async fn login_unobserved(
        &self,
        req: LoginRequest<'_>,
        prefetched: Option<Option<User>>,
    ) -> Result<LoginSuccess> {
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
        let resolved = match prefetched {
            Some(Some(user)) => Ok(user),
            Some(None) => Err(Error::not_found("no such user")),
            None => self.resolve_user(req.username).await,
        };
        let user = match resolved {
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
        // Whether failures are on record: only then does a success have a counter to reset (one
        // round trip less per login on Redis).
        let mut failures_counted = true;
        match self
            .counters
            .ttl_counter_check(&key, USER_AUTH_FAILURES, USER_AUTH_WINDOW)
            .await
        {
            Ok(c) if !c.success => {
                log_fail("rate limited");
                return Err(rate_limited(c.ttl));
            }
            Ok(c) => failures_counted = c.value > 0,
            Err(e) => tracing::warn!(error = %e, "auth rate-limit check failed"),
        }
        let entry = |result: &str, source: Option<&str>| AuthLogEntry {
            result: Some(result.to_string()),
            protocol: Some(req.protocol.to_string()),
            source: source.map(str::to_string),
            sess: req.session.map(str::to_string),
            ip: req.ip.map(|ip| ip.to_string()),
            required_scope: Some(req.scope.as_str().to_string()),
            ..Default::default()
        };
        let uid = user.id;
        if user.disabled || user.suspended {
            let result = if user.disabled {
                "disabled"
            } else {
                "suspended"
            };
            log_fail(result);
            self.log_auth_event(uid, entry(result, None)).await;
            if let Some(ttl) = self.count_auth_failure(&key).await {
                return Err(rate_limited(ttl));
            }
            return Err(auth_failed());
        }
        // A temporary password from a reset is tried first (WildDuck's order).
        let temporary = match self.check_temp_password(&user, req.password).await? {
            TempCheck::NoMatch => false,
            TempCheck::NotYetValid => {
                log_fail("temporary password not yet valid");
                return Err(Error::new(
                    ErrorKind::AuthFailed,
                    TEMP_PASSWORD_NOT_YET_VALID_MESSAGE,
                ));
            }
            TempCheck::Valid if req.scope != Scope::Master => {
                log_fail("temporary password outside the master scope");
                self.log_auth_event(uid, entry("fail", Some("temporary")))
                    .await;
                if let Some(ttl) = self.count_auth_failure(&key).await {
                    return Err(rate_limited(ttl));
                }
                return Err(Error::new(ErrorKind::AuthFailed, INVALID_SCOPE_MESSAGE));
            }
            TempCheck::Valid => true,
        };
        let checked = if temporary {
            Ok(user.clone())
        } else {
            self.check_password(user.clone(), req.password).await
        };
        let (authed, asp) = match checked {
            Ok(u) => (u, None),
            Err(e) if e.kind() == ErrorKind::AuthFailed => {
                let found = if req.scope == Scope::Master {
                    None
                } else {
                    self.match_asp(uid, req.password).await?
                };
                match found {
                    Some(asp) if asp.allows(req.scope.as_str()) => (user, Some(asp)),
                    Some(asp) => {
                        log_fail("application password without the scope");
                        let mut e = entry("fail", Some("asp"));
                        e.asp = Some(asp.id);
                        e.aname = Some(asp.description.clone());
                        self.log_auth_event(uid, e).await;
                        if let Some(ttl) = self.count_auth_failure(&key).await {
                            return Err(rate_limited(ttl));
                        }
                        return Err(Error::new(ErrorKind::AuthFailed, INVALID_SCOPE_MESSAGE));
                    }
                    None => {
                        log_fail("bad password");
                        self.log_auth_event(uid, entry("fail", Some("master")))
                            .await;
                        if let Some(ttl) = self.count_auth_failure(&key).await {
                            return Err(rate_limited(ttl));
                        }
                        return Err(auth_failed());
                    }
                }
            }
            Err(e) => return Err(e),
        };
        if authed
            .disabled_scopes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(req.scope.as_str()))
        {
            log_fail("scope disabled");
            self.log_auth_event(uid, entry("fail", None)).await;
            return Err(Error::new(ErrorKind::AuthFailed, SCOPE_DISABLED_MESSAGE));
        }
        if failures_counted && let Err(e) = self.counters.clear(&key).await {
            tracing::warn!(error = %e, "auth rate-limit reset failed");
        }
        let auth_event = match &asp {
            None => {
                // Nothing waits for this entry's id (an ASP login records it on the ASP), so the
                // login answers before the log write commits.
                let source = if temporary { "temporary" } else { "master" };
                self.log_auth_event_in_background(uid, entry("success", Some(source)))
                    .await;
                None
            }
            Some(a) => {
                let mut e = entry("success", Some("asp"));
                e.asp = Some(a.id);
                e.aname = Some(a.description.clone());
                let ev = self.log_auth_event(uid, e).await;
                let now = Timestamp::now();
                // A temporary password lives `ttl` longer after each use.
                let expires = a.ttl.map(|t| super::asps::expiry(now, t));
                if let Err(err) = self
                    .backend
                    .asps
                    .mark_asp_used(a.id, now, ev, req.ip.map(|ip| ip.to_string()), expires)
                    .await
                {
                    tracing::warn!(error = %err, "application password use not recorded");
                }
                ev
            }
        };
        tracing::info!(
            user = %authed.id, username = req.username, protocol = req.protocol,
            scope = req.scope.as_str(), ip = ?req.ip, session = req.session,
            asp = ?asp.as_ref().map(|a| a.id), "authenticated"
        );
        Ok(LoginSuccess {
            user: authed,
            asp: asp.map(|a| a.id),
            auth_event,
            require_password_change: temporary,
        })
    }

    /// Compares `password` with `user`'s temporary password, if one was set in the last
    /// [`TEMP_PASSWORD_WINDOW_MS`].
    async fn check_temp_password(&self, user: &User, password: &str) -> Result<TempCheck> {
        let now = Timestamp::now();
        let Some(t) = user
            .temp_password
            .clone()
            .filter(|t| t.created.0 > now.0.saturating_sub(TEMP_PASSWORD_WINDOW_MS))
        else {
            return Ok(TempCheck::NoMatch);
        };
        let pw = password.to_string();
        let hash = t.password.clone();
        let ok = tokio::task::spawn_blocking(move || crate::auth::password::verify(&pw, &hash))
            .await
            .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
        Ok(match ok {
            false => TempCheck::NoMatch,
            true if t.valid_after > now => TempCheck::NotYetValid,
            true => TempCheck::Valid,
        })
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
