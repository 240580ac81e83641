//! User and role access tokens as WildDuck keeps them: a random 40-hex token, stored in the
//! shared key-value store (Redis) as the hash `tn:token:<sha256 hex of the token>` with `user`,
//! `role`, `created` (ms), `ttl` (s), `authVersion` and `s`, an HMAC-SHA256 (hex, keyed with
//! `api.accessControl.secret`) over `{"token","user","authVersion","role"}` as JSON. Each use
//! pushes the expiry `ttl` further, up to the token's maximum lifetime; a password change
//! (a new `authVersion`) invalidates every older token of the user.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wildduck_core::model::{Timestamp, UserId};

use super::roles;
use crate::ApiState;
use crate::error::ApiError;

/// The Redis key of a token.
pub fn token_key(hash: &str) -> String {
    format!("tn:token:{hash}")
}

/// SHA-256 of the token in hex (the key part; the token itself is never stored).
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON string literal as JavaScript's `JSON.stringify` writes it for the values used here.
fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// WildDuck's signature of a token record. `auth_version` is `None` for records written before
/// WildDuck had it (then it is not part of the signed JSON).
pub fn signature(
    secret: &str,
    token: &str,
    user: &str,
    auth_version: Option<i64>,
    role: &str,
) -> String {
    let json = match auth_version {
        Some(v) => format!(
            "{{\"token\":{},\"user\":{},\"authVersion\":{v},\"role\":{}}}",
            js_string(token),
            js_string(user),
            js_string(role)
        ),
        None => format!(
            "{{\"token\":{},\"user\":{},\"role\":{}}}",
            js_string(token),
            js_string(user),
            js_string(role)
        ),
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this branch is unreachable in practice.
        return String::new();
    };
    mac.update(json.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `token` has WildDuck's token form (40 hex digits).
pub fn is_token_form(token: &str) -> bool {
    token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Who a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenData {
    /// A user id (24 hex) for user tokens, or any name for provisioned role tokens.
    pub user: String,
    /// One of [`roles::ROLES`].
    pub role: String,
    /// SHA-256 of the token (to revoke it).
    pub hash: String,
}

fn backend_error(e: wildduck_core::Error) -> ApiError {
    tracing::warn!(error = %e, "token store failed");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "InternalDatabaseError",
        "Database error",
    )
}

/// Stores `token` for `user` with role `user` and the user's current `authVersion`
/// (WildDuck `setAuthToken`).
pub async fn store_user_token(state: &ApiState, user: UserId, token: &str) -> Result<(), ApiError> {
    let auth_version = state
        .services
        .get_user(user)
        .await
        .map(|u| u.auth_version)
        .unwrap_or(0);
    let ac = &state.config.access_control;
    let user_s = user.to_string();
    let fields = [
        ("user", user_s.clone()),
        ("role", "user".to_string()),
        ("created", Timestamp::now().0.to_string()),
        ("ttl", ac.token_ttl.as_secs().to_string()),
        ("authVersion", auth_version.to_string()),
        (
            "s",
            signature(&ac.secret, token, &user_s, Some(auth_version), "user"),
        ),
    ];
    state
        .services
        .kv()
        .hash_set(&token_key(&token_hash(token)), &fields, ac.token_ttl)
        .await
        .map_err(backend_error)
}

/// Issues a new user token (WildDuck `generateAuthToken`: 20 random bytes in hex).
pub async fn issue_user_token(state: &ApiState, user: UserId) -> Result<String, ApiError> {
    let bytes: [u8; 20] = rand::random();
    let token = hex(&bytes);
    store_user_token(state, user, &token).await?;
    Ok(token)
}

fn field_i64(data: &HashMap<String, String>, key: &str) -> Option<i64> {
    data.get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|f| {
            // Stored by Node as a decimal string; anything else counts as absent.
            (f.is_finite() && f.fract() == 0.0).then_some(f as i64)
        })
}

/// Looks `token` up and checks it as WildDuck does: known record with a known role, valid
/// signature, not past its maximum lifetime (its expiry is pushed `ttl` further), and for a
/// user token an `authVersion` not older than the user's. `Ok(None)` for a token that does not
/// pass; `Err` when the store fails.
pub async fn verify(state: &ApiState, token: &str) -> Result<Option<TokenData>, ApiError> {
    if !is_token_form(token) {
        return Ok(None);
    }
    let hash = token_hash(token);
    let key = token_key(&hash);
    let kv = state.services.kv();
    let data = kv.hash_get_all(&key).await.map_err(backend_error)?;
    let (Some(user), Some(role)) = (data.get("user"), data.get("role")) else {
        return Ok(None);
    };
    if user.is_empty() || !roles::is_role(role) {
        return Ok(None);
    }
    let ac = &state.config.access_control;
    let auth_version = data
        .contains_key("authVersion")
        .then(|| field_i64(&data, "authVersion").unwrap_or(0));
    let expected = signature(&ac.secret, token, user, auth_version, role);
    let given = data.get("s").map(String::as_str).unwrap_or("");
    if !same(&expected, given) {
        return Ok(None);
    }
    if let Some(ttl) = field_i64(&data, "ttl").filter(|t| *t > 0) {
        let created = field_i64(&data, "created").unwrap_or(0);
        let age_s = (Timestamp::now().0 - created) / 1000;
        if age_s >= i64::try_from(ac.token_lifetime.as_secs()).unwrap_or(i64::MAX) {
            let _ = kv.delete(&key).await;
            return Ok(None);
        }
        let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
        if let Err(e) = kv.expire(&key, ttl).await {
            tracing::warn!(error = %e, "token expiry not extended");
        }
    }
    if let Ok(uid) = user.parse::<UserId>()
        && user.len() == 24
    {
        let current = match state.services.get_user(uid).await {
            Ok(u) => u.auth_version,
            Err(e) if e.kind() == wildduck_core::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(backend_error(e)),
        };
        if auth_version.unwrap_or(0) < current {
            return Ok(None);
        }
    }
    Ok(Some(TokenData {
        user: user.clone(),
        role: role.clone(),
        hash,
    }))
}

/// Deletes a token record by its hash.
pub async fn revoke(state: &ApiState, hash: &str) {
    if let Err(e) = state.services.kv().delete(&token_key(hash)).await {
        tracing::warn!(error = %e, "token revocation failed");
    }
}

/// Compares through SHA-256 digests so the time taken does not reveal a common prefix.
pub(crate) fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_over_wildduck_json() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"a secret cat").expect("key");
        mac.update(
            br#"{"token":"0123456789abcdef0123456789abcdef01234567","user":"5f0c0e2c9b1e8a0001a1b2c3","authVersion":1,"role":"user"}"#,
        );
        let want = hex(&mac.finalize().into_bytes());
        assert_eq!(
            signature(
                "a secret cat",
                "0123456789abcdef0123456789abcdef01234567",
                "5f0c0e2c9b1e8a0001a1b2c3",
                Some(1),
                "user"
            ),
            want
        );
        assert_ne!(
            signature("a secret cat", "x", "u", None, "user"),
            signature("a secret cat", "x", "u", Some(0), "user")
        );
        assert!(is_token_form("0123456789abcdef0123456789ABCDEF01234567"));
        assert!(!is_token_form("0123456789abcdef"));
        assert_eq!(token_hash("abc").len(), 64);
    }
}
