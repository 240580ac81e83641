//! The HTTP listener: `/health`, Prometheus `/metrics`, and the API routes of `wildduck-api` once
//! they exist.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use wildduck_core::service::Services;
use wildduck_net::ShutdownSignal;

use super::config::{Config, ConfigError};

/// Installs the process-wide Prometheus recorder.
pub fn install_metrics() -> Result<PrometheusHandle, ConfigError> {
    // Durations as real histograms (`_bucket` series) rather than the exporter's default summaries,
    // so they can be aggregated across instances.
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            super::metrics::DURATION_BUCKETS,
        )
        .map_err(|e| ConfigError(format!("config key `api.metrics.enabled`: {e}")))?
        .install_recorder()
        .map_err(|e| ConfigError(format!("config key `api.metrics.enabled`: {e}")))
}

/// The bound HTTP listener.
#[derive(Debug)]
pub struct BoundHttp {
    /// The bound address.
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
}

/// Binds `[api] host/port`.
pub async fn bind(config: &Config) -> Result<BoundHttp, ConfigError> {
    let host = &config.api.host;
    let ip: std::net::IpAddr = if host == "localhost" {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse()
            .map_err(|_| ConfigError(format!("config key `api.host`: bad address {host:?}")))?
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, config.api.port))
        .await
        .map_err(|e| {
            ConfigError(format!(
                "config key `api.port`: cannot listen on {host}:{}: {e}",
                config.api.port
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConfigError(format!("config key `api.port`: {e}")))?;
    Ok(BoundHttp { addr, listener })
}

impl BoundHttp {
    /// Serves the API routes (and `/metrics`) until `shutdown`.
    pub async fn serve(
        self,
        state: wildduck_api::ApiState,
        metrics: Option<PrometheusHandle>,
        mut shutdown: ShutdownSignal,
    ) -> std::io::Result<()> {
        let mut app: Router = wildduck_api::router(state);
        if let Some(handle) = metrics {
            app = app.route_layer(axum::middleware::from_fn(super::metrics::track_api));
            app = app.route(
                "/metrics",
                get(move || {
                    let h = handle.clone();
                    async move { h.render() }
                }),
            );
        }
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await
    }
}

/// The API's state from `[api]`.
pub fn api_state(config: &Config, services: &Services) -> wildduck_api::ApiState {
    let access_token =
        (!config.api.access_token.is_empty()).then(|| config.api.access_token.clone());
    let ac = &config.api.access_control;
    if access_token.is_none() && !ac.enabled {
        tracing::warn!(
            "api.accessToken is not set and api.accessControl is off: every API request runs as root; keep [api] host on loopback or set a token"
        );
    }
    if ac.enabled && ac.secret == wildduck_api::AccessControl::default().secret {
        tracing::warn!(
            "api.accessControl.secret is WildDuck's shipped default: set your own secret"
        );
    }
    wildduck_api::ApiState::new(
        services.clone(),
        wildduck_api::ApiConfig {
            access_token,
            access_control: wildduck_api::AccessControl {
                enabled: ac.enabled,
                secret: ac.secret.clone(),
                token_ttl: std::time::Duration::from_secs(ac.token_ttl.max(1)),
                token_lifetime: std::time::Duration::from_secs(ac.token_lifetime.max(1)),
            },
            ..Default::default()
        },
    )
}
