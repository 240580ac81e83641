//! Access control as WildDuck does it (inventory §3.1):
//!
//! 1. **Who** ([`check`]): the static master token (`api.accessToken`) is
//!    `root`; otherwise, when access control is on or any token is given, the token must be a
//!    valid user or role token ([`tokens`]); with no token and access control off, every request
//!    runs as `root` (WildDuck's default). A user token may write `me` for its own `:user`
//!    ([`crate::params::Params`] puts the user id in its place).
//! 2. **May they** ([`authorize`], after routing): each route's permission comes from one table
//!    ([`rules`]) and is checked against the role's grants ([`roles`]) — own objects when the
//!    path's `:user` is the caller's, anyone's otherwise. Refusals are 403 `MissingPrivileges`;
//!    attributes the grant hides (a user token never sees `internalData`, `tags`,
//!    `disabledScopes` of its user record) are dropped from the input and from the answer.
//!
//! The token comes from `?accessToken=`, `X-Access-Token` or `Authorization: Bearer`.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use wildduck_core::model::UserId;

use crate::ApiState;
use crate::error::ApiError;

pub mod roles;
pub mod rules;
pub mod tokens;

/// The token a request carries, from the query, `X-Access-Token` or `Authorization: Bearer`.
pub fn request_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("accessToken=")
                && !v.is_empty()
            {
                return Some(v.to_string());
            }
        }
    }
    if let Some(v) = headers.get("x-access-token").and_then(|v| v.to_str().ok())
        && !v.trim().is_empty()
    {
        return Some(v.trim().to_string());
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let t = auth.trim();
    let t = if t.len() >= 7
        && t.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
    {
        t.get(7..).unwrap_or("").trim()
    } else {
        t
    };
    (!t.is_empty()).then(|| t.to_string())
}

/// Who a request runs as (a request extension set by [`check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// One of [`roles::ROLES`].
    pub role: String,
    /// `root`, a user id (user tokens) or a provisioned token's name.
    pub user: String,
    /// SHA-256 of the user or role token used, if any (to revoke it).
    pub token_hash: Option<String>,
}

impl Identity {
    /// `root` without a token.
    pub fn root() -> Self {
        Self {
            role: "root".into(),
            user: "root".into(),
            token_hash: None,
        }
    }

    /// The caller's user id, for user tokens.
    pub fn user_id(&self) -> Option<UserId> {
        (self.user.len() == 24)
            .then(|| self.user.parse().ok())
            .flatten()
    }
}

/// Attributes the caller's grant hides; [`crate::params::Params`] drops them from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedFields(pub Vec<&'static str>);

/// Set on listings the caller may read only for its own user (`readOwn` of the listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOnly(pub UserId);

fn invalid_token() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "InvalidToken",
        "Invalid accessToken value",
    )
    .into_response()
}

/// Middleware (on every request, the fallback included): establishes the [`Identity`] or answers 403 `InvalidToken`.
pub async fn check(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let token = request_token(req.headers(), req.uri().query());
    let mut required = false;
    let mut identity = None;
    if let Some(master) = &state.config.access_token {
        required = true;
        if token.as_deref().is_some_and(|t| tokens::same(master, t)) {
            identity = Some(Identity::root());
        }
    }
    if identity.is_none() && (state.config.access_control.enabled || token.is_some()) {
        required = true;
        if let Some(t) = &token {
            match tokens::verify(&state, t).await {
                Ok(Some(data)) => {
                    identity = Some(Identity {
                        role: data.role,
                        user: data.user,
                        token_hash: Some(data.hash),
                    })
                }
                Ok(None) => {}
                Err(e) => return e.into_response(),
            }
        }
    }
    let identity = match identity {
        Some(i) => i,
        None if required => return invalid_token(),
        None => Identity::root(),
    };
    req.extensions_mut().insert(identity);
    next.run(req).await
}

fn missing_privileges() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "MissingPrivileges",
        "Not enough privileges",
    )
    .into_response()
}

/// Middleware (after routing): checks the route's permission ([`rules::rule`]) for the
/// request's [`Identity`], and hides the attributes the grant denies.
pub async fn authorize(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    use roles::{Action, Possession, can};
    let identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::root);
    let (mut parts, body) = req.into_parts();
    let matched = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let path_user = axum::extract::RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "user")
                .map(|(_, v)| v.to_string())
        });
    // A user token may write `me` for its own user (Params resolves it for the handler).
    let own = match path_user.as_deref() {
        Some("me") => identity.user_id().is_some(),
        Some(u) => u == identity.user,
        None => false,
    };
    let permission = match rules::rule(&parts.method, &matched) {
        // A route without a rule fails closed: only root may use it.
        None => roles::Permission {
            granted: identity.role == "root",
            denied: Vec::new(),
        },
        Some(rules::Rule::Open) => roles::Permission {
            granted: true,
            denied: Vec::new(),
        },
        Some(rules::Rule::User(resource, action)) => {
            let possession = if own {
                Possession::Own
            } else {
                Possession::Any
            };
            can(&identity.role, action, possession, resource)
        }
        Some(rules::Rule::Any(resource, action)) => {
            can(&identity.role, action, Possession::Any, resource)
        }
        Some(rules::Rule::Listing(resource)) => {
            let any = can(&identity.role, Action::Read, Possession::Any, resource);
            match identity.user_id() {
                Some(uid) if !any.granted => {
                    let own = can(&identity.role, Action::Read, Possession::Own, resource);
                    if own.granted {
                        parts.extensions.insert(OwnOnly(uid));
                    }
                    own
                }
                _ => any,
            }
        }
    };
    if !permission.granted {
        return missing_privileges();
    }
    let denied = permission.denied;
    if !denied.is_empty() {
        parts.extensions.insert(DeniedFields(denied.clone()));
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if denied.is_empty() {
        return response;
    }
    strip_fields(response, &denied).await
}

/// Removes `denied` keys from a JSON answer (top level and each of `results`).
async fn strip_fields(response: Response, denied: &[&str]) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Response failed",
        )
        .into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let strip = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            for d in denied {
                o.remove(*d);
            }
        }
    };
    strip(&mut value);
    if let Some(results) = value.get_mut("results").and_then(Value::as_array_mut) {
        results.iter_mut().for_each(strip);
    }
    let out = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}
