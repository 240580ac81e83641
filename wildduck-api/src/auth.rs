//! Access control. This base supports WildDuck's two simplest modes: no access control (every
//! request runs as `root`, WildDuck's default) and a static master token (`api.accessToken`) that
//! grants `root`. The token comes from `?accessToken=`, `X-Access-Token` or
//! `Authorization: Bearer`. User and role tokens (Redis `tn:token:*`) are not implemented yet, so
//! any other token is refused, as WildDuck refuses a token it cannot find.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::ApiState;
use crate::error::ApiError;

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

/// Compares through SHA-256 digests so the time taken does not reveal a common prefix.
fn same_token(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// Middleware: lets a request through as `root` or answers 403 `InvalidToken`.
pub async fn check(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let token = request_token(req.headers(), req.uri().query());
    let allowed = match (&state.config.access_token, &token) {
        (Some(master), Some(t)) => same_token(master, t),
        (Some(_), None) => false,
        // Access control off: no token runs as root; a token that names nobody is refused.
        (None, Some(_)) => false,
        (None, None) => true,
    };
    if allowed {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "Invalid accessToken value",
        )
        .into_response()
    }
}
