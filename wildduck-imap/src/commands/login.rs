//! `LOGIN user password` (Not Authenticated). The login itself ([`complete_login`]) is shared
//! with AUTHENTICATE: `Services::login` with scope `imap` (password, disabled scopes, the
//! per-user failure rate limit), then the per-user connection limit, then the untagged
//! CAPABILITY WildDuck pushes before the tagged OK.

use wildduck_core::ErrorKind;
use wildduck_core::service::login::{LoginRequest, Scope};

use crate::session::{CONNECTION_COUNTER, ConnSlot, Context, LoggedIn, Reply};

/// Whether plaintext logins are refused (`BAD Run STARTTLS first`): the stream is plaintext,
/// STARTTLS is offered, and the operator did not choose `ignore_starttls`.
pub fn login_disabled(ctx: &Context<'_>) -> bool {
    !ctx.io.is_tls() && ctx.session.starttls.is_some() && !ctx.config().ignore_starttls
}

/// Handles LOGIN.
pub async fn handle(ctx: &mut Context<'_>, username: &str, password: &str) -> Reply {
    if login_disabled(ctx) {
        return Reply::bad("Run STARTTLS first");
    }
    complete_login(ctx, username.trim(), password.trim(), "LOGIN").await
}

/// Logs `username` in and moves the session to Authenticated; `command` names the command in
/// answers (`LOGIN`, `AUTHENTICATE`).
pub async fn complete_login(
    ctx: &mut Context<'_>,
    username: &str,
    password: &str,
    command: &str,
) -> Reply {
    let services = ctx.services().clone();
    let session_id = ctx.session.id.clone();
    let user = match services
        .login(LoginRequest {
            username,
            password,
            scope: Scope::Imap,
            ip: Some(ctx.session.peer.ip()),
            protocol: "IMAP",
            session: Some(&session_id),
        })
        .await
    {
        Ok(u) => u,
        Err(e) => {
            return match e.kind() {
                ErrorKind::AuthFailed => {
                    Reply::no_code("AUTHENTICATIONFAILED", "Invalid credentials")
                }
                // WildDuck answers the rate-limit error with its own text, no code.
                ErrorKind::RateLimited => Reply::no("Authentication was rate limited"),
                _ => crate::error::reply(&e, command),
            };
        }
    };
    let uid = user.id.to_string();
    let limit = user
        .limits
        .imap_max_connections
        .unwrap_or(ctx.config().max_connections);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let counters = services.counters().clone();
    let slot = match counters
        .limited_acquire(CONNECTION_COUNTER, &uid, limit)
        .await
    {
        Ok(c) if !c.success => {
            tracing::info!(session = %session_id, user = %uid, "too many IMAP connections");
            return Reply::no_code("ALERT", "Too many simultaneous connections.");
        }
        Ok(_) => Some(ConnSlot::new(counters, uid.clone())),
        Err(e) => {
            // A counter outage must not lock everyone out: log and go on without a slot.
            tracing::warn!(error = %e, "IMAP connection counter unavailable");
            None
        }
    };
    let handle = ctx.shared.registry.register(&uid, &session_id);
    ctx.session.user = Some(Box::new(LoggedIn {
        id: user.id,
        username: username.to_string(),
        handle,
        download_limit: user.limits.imap_max_download,
        slot,
    }));
    let caps = ctx.capabilities();
    ctx.untagged(&format!("CAPABILITY {caps}"));
    Reply::ok(format!("{username} authenticated"))
}
