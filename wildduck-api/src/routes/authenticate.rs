//! `POST /authenticate`: password authentication with a scope, as WildDuck's webmail and
//! services use it; with `token: true` it also issues a user access token
//! ([`crate::auth::tokens`]), which `DELETE /authenticate` revokes.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use wildduck_core::ErrorKind;
use wildduck_core::service::login::{
    INVALID_SCOPE_MESSAGE, LoginRequest, SCOPE_DISABLED_MESSAGE, Scope,
    TEMP_PASSWORD_NOT_YET_VALID_MESSAGE,
};

use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};

/// `POST /authenticate` (`username`, `password`, `scope` master|imap|pop3|smtp, `protocol`,
/// `appId`, `sess`, `ip`) → `{"success": true, "id", "username", "address", "scope",
/// "require2fa": false, "requirePasswordChange": false}`.
pub async fn post(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let username = v.str("username", 1024);
    let password = v.str("password", 256);
    let scope_s = v.opt_str("scope", 16).unwrap_or_else(|| "master".into());
    let scope = match scope_s.as_str() {
        "master" => Some(Scope::Master),
        "imap" => Some(Scope::Imap),
        "pop3" => Some(Scope::Pop3),
        "smtp" => Some(Scope::Smtp),
        _ => {
            v.reject(
                "scope",
                "\"scope\" must be one of [master, imap, pop3, smtp]",
            );
            None
        }
    };
    let token = v.opt_bool("token").unwrap_or(false);
    if token && scope != Some(Scope::Master) {
        // WildDuck: a token can only be asked for with the master scope.
        v.reject("scope", "\"scope\" must be [master]");
    }
    let protocol = v.opt_str("protocol", 64).unwrap_or_else(|| "API".into());
    v.accept(&["appId"]);
    let ip = p
        .map
        .get("ip")
        .and_then(|x| x.as_str())
        .and_then(|x| x.parse::<std::net::IpAddr>().ok());
    let sess = p
        .map
        .get("sess")
        .and_then(|x| x.as_str())
        .map(str::to_string);
    v.finish(true)?;
    let (Some(username), Some(password), Some(scope)) = (username, password, scope) else {
        return Err(ApiError::invalid_field(
            "username",
            "\"username\" is required",
        ));
    };
    let login = state
        .services
        .login_detailed(LoginRequest {
            username: &username,
            password: &password,
            scope,
            ip,
            protocol: &protocol,
            session: sess.as_deref(),
        })
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::AuthFailed
                if e.message() == SCOPE_DISABLED_MESSAGE
                    || e.message() == INVALID_SCOPE_MESSAGE =>
            {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "InvalidAuthScope",
                    e.message().to_string(),
                )
            }
            ErrorKind::AuthFailed if e.message() == TEMP_PASSWORD_NOT_YET_VALID_MESSAGE => {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "TempPasswordNotYetValid",
                    TEMP_PASSWORD_NOT_YET_VALID_MESSAGE,
                )
            }
            ErrorKind::AuthFailed | ErrorKind::NotFound => {
                ApiError::new(StatusCode::FORBIDDEN, "AuthFailed", "Authentication failed")
            }
            ErrorKind::RateLimited => ApiError::new(
                StatusCode::FORBIDDEN,
                "RateLimitedError",
                e.message().to_string(),
            ),
            _ => ApiError::from_core(e, USER_NF),
        })?;
    let user = login.user;
    let mut body = json!({
        "success": true,
        "id": user.id.to_string(),
        "username": user.username,
        "address": user.address,
        "scope": scope_s,
        "require2fa": false,
        "requirePasswordChange": login.require_password_change,
    });
    if token {
        let t = crate::auth::tokens::issue_user_token(&state, user.id).await?;
        body["token"] = json!(t);
    }
    Ok(ok(body))
}

fn parse_scope(v: &mut Validator<'_>) -> Option<(Scope, String)> {
    let s = v.opt_str("scope", 16).unwrap_or_else(|| "master".into());
    let scope = match s.as_str() {
        "master" => Scope::Master,
        "imap" => Scope::Imap,
        "pop3" => Scope::Pop3,
        "smtp" => Scope::Smtp,
        _ => {
            v.reject(
                "scope",
                "\"scope\" must be one of [master, imap, pop3, smtp]",
            );
            return None;
        }
    };
    Some((scope, s))
}

/// `POST /preauth` (`username`, `scope`): whether the account exists and may log in for the
/// scope, without a password → `{"success": true, "id", "username", "address", "scope",
/// "require2fa": false, "requirePasswordChange": false}`; otherwise 403 `AuthFailed` (never
/// saying whether the user exists).
pub async fn preauth(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let username = v.str("username", 1024);
    let scope = parse_scope(&mut v);
    v.finish(true)?;
    let (Some(username), Some((scope, scope_s))) = (username, scope) else {
        return Err(ApiError::invalid_field(
            "username",
            "\"username\" is required",
        ));
    };
    let failed = || ApiError::new(StatusCode::FORBIDDEN, "AuthFailed", "Authentication failed");
    let user = match state.services.resolve_user(&username).await {
        Ok(u) => u,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(failed()),
        Err(e) => return Err(ApiError::from_core(e, USER_NF)),
    };
    if user.disabled || user.suspended {
        return Err(failed());
    }
    if user.disabled_scopes.iter().any(|s| s == scope.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidAuthScope",
            SCOPE_DISABLED_MESSAGE,
        ));
    }
    Ok(ok(json!({
        "success": true,
        "id": user.id.to_string(),
        "username": user.username,
        "address": user.address,
        "scope": scope_s,
        "require2fa": false,
        "requirePasswordChange": false,
    })))
}

/// `DELETE /authenticate`: invalidates the request's user or role token →
/// `{"success": true}` (also when the request carries none, as WildDuck answers).
pub async fn delete(
    State(state): State<ApiState>,
    identity: Option<axum::Extension<crate::auth::Identity>>,
    p: Params,
) -> ApiResult {
    let v = Validator::new(&p);
    v.finish(true)?;
    if let Some(hash) = identity.as_ref().and_then(|i| i.token_hash.as_deref()) {
        crate::auth::tokens::revoke(&state, hash).await;
    }
    Ok(ok(json!({ "success": true })))
}
