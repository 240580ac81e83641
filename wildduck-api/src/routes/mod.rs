//! One module per resource. Handlers: read [`crate::params::Params`], validate, call a service,
//! answer with WildDuck's field names.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

pub mod address_register;
pub mod addresses;
pub mod archived;
pub mod asps;
pub mod authenticate;
pub mod authlog;
pub mod compose;
pub mod forwarded;
pub mod health;
pub mod mailboxes;
pub mod messages;
pub mod search;
pub mod search_query;
pub mod updates;
pub mod users;

/// A 200 JSON answer.
pub(crate) fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// Unknown paths: WildDuck (restify) answers 404 `ResourceNotFound`.
pub async fn not_found() -> ApiError {
    ApiError::not_found("ResourceNotFound", "Requested resource was not found")
}

/// A known path with a method it does not take: 405 `MethodNotAllowed` (restify's code), with
/// the `Allow` header HTTP asks for (the methods the route table documents for the path).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let segs: Vec<&str> = uri.path().split('/').collect();
    let mut allow: Vec<String> = crate::openapi::ROUTES
        .iter()
        .filter(|(_, pattern, ..)| {
            let pat: Vec<&str> = pattern.split('/').collect();
            pat.len() == segs.len()
                && pat
                    .iter()
                    .zip(&segs)
                    .all(|(p, s)| p.starts_with('{') || p == s)
        })
        .map(|(m, ..)| {
            // Serialised lower-case by serde ("get"); HTTP wants upper case.
            serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_ascii_uppercase))
                .unwrap_or_default()
        })
        .filter(|m| !m.is_empty())
        .collect();
    allow.sort();
    allow.dedup();
    let mut resp = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed"),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&allow.join(", ")) {
        resp.headers_mut().insert(axum::http::header::ALLOW, v);
    }
    resp
}

/// A timestamp as JavaScript's `Date.toJSON()` writes it (`2026-11-28T09:47:08.973Z`), as
/// WildDuck's JSON dates look.
pub(crate) fn iso_date(ts: wildduck_core::model::Timestamp) -> String {
    let ms = ts.0;
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since the epoch (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use wildduck_core::model::Timestamp;

    #[test]
    fn iso_dates_match_javascript() {
        assert_eq!(super::iso_date(Timestamp(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso_date(Timestamp(1_795_859_228_973)),
            "2026-11-28T09:47:08.973Z"
        );
        assert_eq!(
            super::iso_date(Timestamp(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
