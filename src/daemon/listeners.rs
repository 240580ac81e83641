//! The protocol listeners: TLS per service, binding every listener before serving any, and the
//! per-connection wrapper (session id span, connection metrics).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;
use wildduck_core::service::Services;
use wildduck_net::{Listener, ListenerConfig, ShutdownSignal, TlsAcceptor, TlsMode};

use super::certs;
use super::config::{Config, ConfigError, Service};

/// The acceptors each service uses.
#[derive(Default)]
pub struct TlsSet {
    imap: Option<TlsAcceptor>,
    pop3: Option<TlsAcceptor>,
    /// The HTTPS acceptor when `[api] secure`.
    pub api: Option<TlsAcceptor>,
    /// The generated certificate's path when one is in use.
    pub generated: Option<PathBuf>,
}

impl std::fmt::Debug for TlsSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSet")
            .field("imap", &self.imap.is_some())
            .field("pop3", &self.pop3.is_some())
            .field("api", &self.api.is_some())
            .field("generated", &self.generated)
            .finish()
    }
}

fn needs_tls(svc: &Service) -> bool {
    svc.enabled && (svc.secure || !svc.disable_starttls || svc.listeners.iter().any(|l| l.secure))
}

impl TlsSet {
    /// Loads the configured certificates; generates (or reuses) the self-signed one for services
    /// that use TLS without a configured certificate.
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        let mut set = Self::default();
        let mut generated: Option<TlsAcceptor> = None;
        for (name, svc) in [("imap", &config.imap), ("pop3", &config.pop3)] {
            if !needs_tls(svc) {
                continue;
            }
            let acceptor = match config.tls_for(svc) {
                Some(files) => {
                    let key = if std::ptr::eq(files, &svc.tls) {
                        format!("{name}.tls")
                    } else {
                        "tls".to_string()
                    };
                    certs::acceptor_from(&key, files)?
                }
                None => match &generated {
                    Some(a) => a.clone(),
                    None => {
                        let (a, path, created) = certs::generated(&config.data_dir)?;
                        if created {
                            tracing::info!(cert = %path.display(), "no certificate configured: generated a self-signed one");
                        } else {
                            tracing::info!(cert = %path.display(), "no certificate configured: using the self-signed one generated earlier");
                        }
                        set.generated = Some(path);
                        generated = Some(a.clone());
                        a
                    }
                },
            };
            match name {
                "imap" => set.imap = Some(acceptor),
                _ => set.pop3 = Some(acceptor),
            }
        }
        if config.api.enabled && config.api.secure {
            let acceptor = if !config.api.tls.cert.is_empty() {
                certs::acceptor_from("api.tls", &config.api.tls)?
            } else if !config.tls.cert.is_empty() {
                certs::acceptor_from("tls", &config.tls)?
            } else if let Some(a) = &generated {
                a.clone()
            } else {
                let (a, path, created) = certs::generated(&config.data_dir)?;
                if created {
                    tracing::info!(cert = %path.display(), "no certificate configured: generated a self-signed one");
                }
                set.generated = Some(path);
                a
            };
            set.api = Some(acceptor);
        }
        Ok(set)
    }
}

/// A bound listener of one protocol.
#[derive(Debug)]
pub struct Bound {
    /// `imap` or `pop3`.
    pub protocol: &'static str,
    /// The bound address (the real port when configured as 0).
    pub addr: SocketAddr,
    listener: Listener,
}

impl Bound {
    /// How the listener uses TLS, for the start-up summary.
    pub fn mode(&self) -> &'static str {
        match self.listener.config().tls {
            TlsMode::Plain => "plain",
            TlsMode::StartTls(_) => {
                if self.protocol == "pop3" {
                    "plain+STLS"
                } else {
                    "plain+STARTTLS"
                }
            }
            TlsMode::Implicit(_) => "TLS",
        }
    }

    /// Serves until `shutdown` with the protocol's server from `servers`; returns after the
    /// sessions drained.
    pub async fn serve(self, servers: Servers, shutdown: ShutdownSignal) -> std::io::Result<()> {
        let protocol = self.protocol;
        match (protocol, servers.imap, servers.pop3) {
            ("imap", Some(server), _) => {
                let server = Arc::new(server);
                wildduck_net::serve(self.listener, shutdown, move |conn| {
                    let server = server.clone();
                    let span = session_span("imap", &conn.info);
                    async move {
                        let _guard = SessionMetrics::start("imap");
                        tracing::debug!("connection accepted");
                        server.handle(conn).await;
                        tracing::debug!("connection closed");
                    }
                    .instrument(span)
                })
                .await
            }
            ("pop3", _, Some(server)) => {
                let server = Arc::new(server);
                wildduck_net::serve(self.listener, shutdown, move |conn| {
                    let server = server.clone();
                    let span = session_span("pop3", &conn.info);
                    async move {
                        let _guard = SessionMetrics::start("pop3");
                        tracing::debug!("connection accepted");
                        server.handle(conn).await;
                        tracing::debug!("connection closed");
                    }
                    .instrument(span)
                })
                .await
            }
            (other, _, _) => Err(std::io::Error::other(format!(
                "no {other} server was built"
            ))),
        }
    }
}

/// Every log line of a connection carries its session id and peer.
fn session_span(protocol: &'static str, info: &wildduck_net::ConnInfo) -> tracing::Span {
    tracing::info_span!("session", protocol, id = %info.id, peer = %info.peer)
}

/// One server per protocol, shared by all its listeners (IMAP's per-user connection limit and
/// change notifications span every listener).
#[derive(Debug, Clone, Default)]
pub struct Servers {
    /// The IMAP server when `[imap]` is enabled.
    pub imap: Option<wildduck_imap::ImapServer>,
    /// The POP3 server when `[pop3]` is enabled.
    pub pop3: Option<wildduck_pop3::Pop3Server>,
}

impl Servers {
    /// The servers the configuration enables, over `services`; `observer` receives the sessions' commands, bytes and appends (metrics).
    pub fn new(config: &Config, services: &Services, observer: wildduck_net::Observer) -> Self {
        Self {
            imap: config.imap.enabled.then(|| {
                let c = wildduck_imap::ImapConfig {
                    observer: observer.clone(),
                    ..imap_config(&config.imap)
                };
                wildduck_imap::ImapServer::new(services.clone(), c)
            }),
            pop3: config.pop3.enabled.then(|| {
                let c = wildduck_pop3::Pop3Config {
                    observer: observer.clone(),
                    ..pop3_config(&config.pop3)
                };
                wildduck_pop3::Pop3Server::new(services.clone(), c)
            }),
        }
    }
}

fn imap_config(svc: &Service) -> wildduck_imap::ImapConfig {
    let d = wildduck_imap::ImapConfig::default();
    wildduck_imap::ImapConfig {
        name: svc.name.clone(),
        ignore_starttls: svc.ignore_starttls,
        disable_starttls: svc.disable_starttls,
        enable_compression: svc.enable_compression,
        max_message: svc.max_mb.saturating_mul(1024 * 1024),
        max_connections: svc.max_connections,
        max_line_length: svc.max_line_length.max(1024),
        max_upload: svc.max_upload_mb.saturating_mul(1024 * 1024),
        socket_timeout: Duration::from_secs(svc.socket_timeout.max(1)),
        max_download: svc.max_download_mb.saturating_mul(1024 * 1024),
        ..d
    }
}

/// Connection counters around one session (no-ops without a metrics recorder).
struct SessionMetrics {
    protocol: &'static str,
    started: Instant,
}

impl SessionMetrics {
    fn start(protocol: &'static str) -> Self {
        metrics::counter!("wildduck_connections_total", "protocol" => protocol).increment(1);
        metrics::gauge!("wildduck_sessions_active", "protocol" => protocol).increment(1.0);
        Self {
            protocol,
            started: Instant::now(),
        }
    }
}

impl Drop for SessionMetrics {
    fn drop(&mut self) {
        let p = self.protocol;
        metrics::gauge!("wildduck_sessions_active", "protocol" => p).decrement(1.0);
        metrics::histogram!("wildduck_session_duration_seconds", "protocol" => p)
            .record(self.started.elapsed().as_secs_f64());
    }
}

fn pop3_config(svc: &Service) -> wildduck_pop3::Pop3Config {
    let d = wildduck_pop3::Pop3Config::default();
    wildduck_pop3::Pop3Config {
        name: svc.name.clone(),
        disable_version_string: svc.disable_version_string,
        ignore_starttls: svc.ignore_starttls,
        disable_starttls: svc.disable_starttls,
        max_messages: svc.max_messages,
        max_download: svc.max_download_mb.saturating_mul(1024 * 1024),
        ..d
    }
}

/// Binds every enabled listener, or none: the first failure names its key.
pub async fn bind_all(config: &Config, tls: &TlsSet) -> Result<Vec<Bound>, ConfigError> {
    let mut out = Vec::new();
    let grace = Duration::from_secs(config.shutdown_timeout);
    for (protocol, svc, acceptor) in [
        ("imap", &config.imap, &tls.imap),
        ("pop3", &config.pop3, &tls.pop3),
    ] {
        if !svc.enabled {
            continue;
        }
        let main = std::iter::once((
            format!("{protocol}.port"),
            svc.host.clone(),
            svc.port,
            svc.secure,
        ));
        let extra = svc.listeners.iter().enumerate().map(|(i, l)| {
            (
                format!("{protocol}.listeners[{i}].port"),
                l.host.clone(),
                l.port,
                l.secure,
            )
        });
        for (key, host, port, secure) in main.chain(extra) {
            let mode = match (secure, acceptor, svc.disable_starttls) {
                (true, Some(a), _) => TlsMode::Implicit(a.clone()),
                (false, Some(a), false) => TlsMode::StartTls(a.clone()),
                (false, _, _) => TlsMode::Plain,
                (true, None, _) => {
                    return Err(ConfigError(format!(
                        "config key `{key}`: secure listener without a certificate"
                    )));
                }
            };
            let ip: std::net::IpAddr = if host == "localhost" {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                host.parse().map_err(|_| {
                    ConfigError(format!(
                        "config key `{protocol}.host`: bad address {host:?}"
                    ))
                })?
            };
            let lc = ListenerConfig {
                tls: mode,
                proxy_protocol: svc.use_proxy,
                idle_timeout: Duration::from_secs(svc.socket_timeout.max(1)),
                drain_timeout: grace,
                ..ListenerConfig::plain(SocketAddr::new(ip, port))
            };
            let listener = Listener::bind(lc).await.map_err(|e| {
                ConfigError(format!(
                    "config key `{key}`: cannot listen on {host}:{port}: {e}"
                ))
            })?;
            let addr = listener
                .local_addr()
                .map_err(|e| ConfigError(format!("config key `{key}`: {e}")))?;
            out.push(Bound {
                protocol,
                addr,
                listener,
            });
        }
    }
    Ok(out)
}
