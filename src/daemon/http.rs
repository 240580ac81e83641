//! The HTTP listener: `/health`, Prometheus `/metrics`, and the API routes of `wildduck-api` once
//! they exist.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use wildduck_core::service::Services;
use wildduck_net::{MeteredTcp, ShutdownSignal, Stream, TlsAcceptor};

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
pub struct BoundHttp {
    /// The bound address.
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
    /// HTTPS when set (`[api] secure`).
    tls: Option<TlsAcceptor>,
}

/// Binds `[api] host/port`.
pub async fn bind(config: &Config, tls: Option<TlsAcceptor>) -> Result<BoundHttp, ConfigError> {
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
    Ok(BoundHttp {
        addr,
        listener,
        tls,
    })
}

impl std::fmt::Debug for BoundHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundHttp")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
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
        match self.tls {
            None => {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(async move { shutdown.wait().await })
                    .await
            }
            Some(acceptor) => {
                let tls = TlsListener::start(self.listener, acceptor, self.addr);
                axum::serve(tls, app)
                    .with_graceful_shutdown(async move { shutdown.wait().await })
                    .await
            }
        }
    }

    /// `https` or `http`, for the start-up summary.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Accepted connections after their TLS handshake. Handshakes run on their own tasks (bounded by
/// a timeout), so a client that connects and stays silent holds up nobody else.
struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(Stream, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    fn start(tcp: tokio::net::TcpListener, acceptor: TlsAcceptor, addr: SocketAddr) -> Self {
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (sock, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "api accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (conn_tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let plain = Stream::Plain(MeteredTcp::new(sock));
                    match plain.upgrade(&acceptor, HANDSHAKE_TIMEOUT).await {
                        Ok(s) => {
                            let _ = conn_tx.send((s, peer)).await;
                        }
                        Err(e) => tracing::debug!(%peer, error = %e, "api TLS handshake failed"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Self { ready, addr }
    }
}

/// Longest wait for an API client's TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl axum::serve::Listener for TlsListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
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
