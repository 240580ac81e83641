//! WildDuck in Rust: the HTTP API front end over `wildduck-core`.
//!
//! [`router`] returns an [`axum::Router`] with WildDuck's routes, JSON shapes and error codes
//! that an embedder mounts in its own app (or serves as it is). Every handler reads its parameters
//! through [`params::Params`] (path, query and body merged as WildDuck does), validates them with
//! [`params::Validator`], calls a `wildduck-core` service and maps errors in one place
//! ([`error::ApiError`]).

use axum::Router;
use axum::routing::{get, post};
use wildduck_core::service::Services;

pub mod auth;
pub mod error;
pub mod openapi;
pub mod pagination;
pub mod params;
pub mod routes;

/// Settings of the API front end.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// WildDuck's `api.accessToken`: a static master token granting `root`. `None` = access
    /// control off, every request runs as `root` (WildDuck's default; say so loudly in a daemon).
    pub access_token: Option<String>,
    /// Largest request body in bytes; larger ones get 413 `PayloadTooLarge`.
    pub body_limit: usize,
    /// WildDuck's `api.accessControl`: user and role tokens.
    pub access_control: AccessControl,
}

/// WildDuck's `[api.accessControl]` settings.
#[derive(Debug, Clone)]
pub struct AccessControl {
    /// Require a valid token on every request (a token given is checked even when off).
    pub enabled: bool,
    /// HMAC key of the token signatures; changing it invalidates every token.
    pub secret: String,
    /// A token's idle lifetime, extended on each use (`tokenTTL`, default 14 days).
    pub token_ttl: std::time::Duration,
    /// A token's maximum age (`tokenLifetime`, default 180 days).
    pub token_lifetime: std::time::Duration,
}

impl Default for AccessControl {
    fn default() -> Self {
        Self {
            enabled: false,
            // WildDuck's shipped default; a deployment sets its own.
            secret: "a secret cat".into(),
            token_ttl: std::time::Duration::from_secs(14 * 24 * 3600),
            token_lifetime: std::time::Duration::from_secs(180 * 24 * 3600),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            access_token: None,
            // A message upload may be as large as a stored message (64 MiB) plus JSON overhead.
            body_limit: wildduck_core::message::MAX_MESSAGE_SIZE + 1024 * 1024,
            access_control: AccessControl::default(),
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The use cases.
    pub services: Services,
    /// Settings.
    pub config: std::sync::Arc<ApiConfig>,
}

impl ApiState {
    /// State over `services` with `config`.
    pub fn new(services: Services, config: ApiConfig) -> Self {
        Self {
            services,
            config: std::sync::Arc::new(config),
        }
    }
}

/// The API's routes, ready to be served or nested in an embedder's router.
pub fn router(state: ApiState) -> Router {
    use routes::{addresses, authenticate, health, mailboxes, messages, users};
    let api = Router::new()
        .route("/health", get(health::get))
        .route(
            "/authenticate",
            post(authenticate::post).delete(authenticate::delete),
        )
        .route("/preauth", post(authenticate::preauth))
        .route("/users", get(users::list).post(users::create))
        .route("/users/resolve/{username}", get(users::resolve))
        .route(
            "/users/{user}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/users/{user}/quota/reset", post(users::quota_reset))
        .route("/quota/reset", post(users::quota_reset_all))
        .route(
            "/users/{user}/restore",
            get(users::restore_info).post(users::restore),
        )
        .route("/users/{user}/logout", axum::routing::put(users::logout))
        .route("/users/{user}/updates", get(routes::updates::get))
        .route(
            "/users/{user}/search",
            get(routes::search::get).post(routes::search::apply),
        )
        .route(
            "/users/{user}/addresses",
            get(addresses::list).post(addresses::create),
        )
        .route(
            "/users/{user}/addresses/{address}",
            get(addresses::get)
                .put(addresses::update)
                .delete(addresses::delete),
        )
        .route("/addresses", get(addresses::list_all))
        .route("/addresses/resolve/{address}", get(addresses::resolve))
        .route("/addresses/forwarded", post(routes::forwarded::create))
        .route(
            "/addresses/forwarded/{address}",
            get(routes::forwarded::get)
                .put(routes::forwarded::update)
                .delete(routes::forwarded::delete),
        )
        .route(
            "/addresses/renameDomain",
            axum::routing::put(routes::forwarded::rename_domain),
        )
        .route(
            "/users/{user}/addressregister",
            get(routes::address_register::list),
        )
        .route(
            "/users/{user}/addressregister/{id}",
            axum::routing::put(routes::address_register::update),
        )
        .route(
            "/users/{user}/mailboxes",
            get(mailboxes::list).post(mailboxes::create),
        )
        .route(
            "/users/{user}/mailboxes/{mailbox}",
            get(mailboxes::get)
                .put(mailboxes::update)
                .delete(mailboxes::delete),
        )
        .route(
            "/users/{user}/mailboxes/{mailbox}/messages",
            get(messages::list)
                .post(messages::upload)
                .put(messages::update)
                .delete(messages::clear),
        )
        .route(
            "/users/{user}/mailboxes/{mailbox}/messages/{message}",
            get(messages::get)
                .put(messages::update)
                .delete(messages::delete),
        )
        .route(
            "/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml",
            get(messages::raw),
        )
        .route(
            "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}",
            get(messages::attachment),
        )
        .route(
            "/users/{user}/asps",
            get(routes::asps::list).post(routes::asps::create),
        )
        .route(
            "/users/{user}/asps/{asp}",
            get(routes::asps::get).delete(routes::asps::delete),
        )
        .route(
            "/users/{user}/password/reset",
            post(routes::users::password_reset),
        )
        .route("/users/{user}/authlog", get(routes::authlog::list))
        .route("/users/{user}/authlog/{event}", get(routes::authlog::get))
        .route(
            "/users/{user}/archived/messages",
            get(routes::archived::list),
        )
        .route(
            "/users/{user}/archived/messages/{message}/restore",
            post(routes::archived::restore_one),
        )
        .route(
            "/users/{user}/archived/restore",
            post(routes::archived::restore_range),
        )
        .route("/openapi.json", get(openapi::serve))
        // Permissions per route (after routing, so the route's pattern is known).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        // The body limit is enforced by `Params` (413 as JSON); lift axum's own 2 MiB default.
        .layer(axum::extract::DefaultBodyLimit::disable());
    api.with_state(state)
}
