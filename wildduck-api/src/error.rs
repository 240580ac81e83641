//! The one place where errors become HTTP answers: WildDuck's `{"error", "code", "details"}` body
//! with WildDuck's status codes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use wildduck_core::{Error, ErrorKind};

/// An error answer: status, message, WildDuck error code and optional per-field details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message (`error`).
    pub error: String,
    /// WildDuck's machine-readable code (`code`).
    pub code: &'static str,
    /// Per-field messages for `InputValidationError`.
    pub details: Option<Map<String, Value>>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            code,
            details: None,
        }
    }

    /// 400 `InputValidationError` for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut details = Map::new();
        details.insert(field.to_string(), Value::String(message.clone()));
        Self {
            status: StatusCode::BAD_REQUEST,
            error: message,
            code: "InputValidationError",
            details: Some(details),
        }
    }

    /// 404 with the resource's code (`UserNotFound`, `NoSuchMailbox`, `MessageNotFound`, …).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// Maps a core error. `not_found` names the resource the route is about, so `NotFound` gets
    /// that resource's code and message. Backend errors are logged and never shown verbatim.
    pub fn from_core(e: Error, not_found: (&'static str, &'static str)) -> Self {
        let msg = e.message().to_string();
        match e.kind() {
            ErrorKind::NotFound => Self::not_found(not_found.0, not_found.1),
            ErrorKind::AlreadyExists => Self::new(StatusCode::BAD_REQUEST, "AlreadyExists", msg),
            ErrorKind::OverQuota => Self::new(StatusCode::FORBIDDEN, "OverQuotaError", msg),
            ErrorKind::AuthFailed => {
                Self::new(StatusCode::FORBIDDEN, "AuthFailed", "Authentication failed")
            }
            ErrorKind::RateLimited => Self::new(
                StatusCode::FORBIDDEN,
                "RateLimitedError",
                "Authentication was rate limited",
            ),
            ErrorKind::TooBig => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "TooBig", msg),
            ErrorKind::Invalid => Self::new(StatusCode::BAD_REQUEST, "InputValidationError", msg),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "Conflict", msg),
            _ => {
                tracing::error!(error = %e, "API request failed in the backend");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalDatabaseError",
                    "Database error",
                )
            }
        }
    }

    /// Replaces the code of an `AlreadyExists` error (`UserExistsError`, `AddressExistsError`,
    /// `MailboxExistsError`), keeping any other error.
    pub fn exists_as(mut self, code: &'static str, message: &str) -> Self {
        if self.code == "AlreadyExists" {
            self.code = code;
            self.error = message.to_string();
        }
        self
    }
}

/// The user a route is about does not exist.
pub const USER_NF: (&str, &str) = ("UserNotFound", "This user does not exist");
/// The mailbox does not exist (or is someone else's).
pub const MAILBOX_NF: (&str, &str) = ("NoSuchMailbox", "This mailbox does not exist");
/// The message does not exist.
pub const MESSAGE_NF: (&str, &str) = ("MessageNotFound", "This message does not exist");
/// The address does not exist.
pub const ADDRESS_NF: (&str, &str) = ("AddressNotFound", "Requested address was not found");

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error, "code": self.code });
        if let (Some(details), Some(obj)) = (self.details, body.as_object_mut()) {
            obj.insert("details".into(), Value::Object(details));
        }
        (self.status, Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T = Response> = Result<T, ApiError>;
