//! `GET /health`: the storage answers a read.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ApiState;

/// `GET /health` → `{"success": true}`, or 500 `{"success": false, ...}` when the storage fails.
pub async fn get(State(state): State<ApiState>) -> Response {
    match state.services.check_storage().await {
        Ok(_) => super::ok(json!({ "success": true })),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({
                    "success": false,
                    "message": "Database is not available",
                    "code": "InternalDatabaseError"
                })),
            )
                .into_response()
        }
    }
}
