//! The accept loop: bind, accept, PROXY header, implicit TLS, hand each connection to the protocol,
//! and drain on shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::proxy::{self, ProxyHeader};
use crate::shutdown::ShutdownSignal;
use crate::stream::Stream;
use crate::tls::TlsAcceptor;

/// How a listener uses TLS.
#[derive(Clone, Default)]
pub enum TlsMode {
    /// Plaintext only; STARTTLS is not offered.
    #[default]
    Plain,
    /// Plaintext that the protocol may upgrade (`STLS`, `STARTTLS`) with this acceptor.
    StartTls(TlsAcceptor),
    /// TLS from the first byte (ports 995/993).
    Implicit(TlsAcceptor),
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain => "Plain",
            Self::StartTls(_) => "StartTls",
            Self::Implicit(_) => "Implicit",
        })
    }
}

/// What a listener needs to know.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Address to bind (port 0 = any free port; see [`Listener::local_addr`]).
    pub addr: SocketAddr,
    /// TLS use.
    pub tls: TlsMode,
    /// Expect a HAProxy PROXY v1 header on every connection (a missing or bad one closes it).
    pub proxy_protocol: bool,
    /// Longest wait for the PROXY header and for a TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a session may stay silent; protocols apply it to their reads.
    pub idle_timeout: Duration,
    /// After shutdown, how long sessions get to finish before they are aborted.
    pub drain_timeout: Duration,
}

impl ListenerConfig {
    /// A plaintext listener on `addr` with the usual timeouts (handshake 10 s, idle 60 s, drain
    /// 10 s).
    pub fn plain(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: TlsMode::Plain,
            proxy_protocol: false,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    config: ListenerConfig,
}

impl Listener {
    /// Binds `config.addr`.
    pub async fn bind(config: ListenerConfig) -> io::Result<Self> {
        let tcp = TcpListener::bind(config.addr).await?;
        Ok(Self { tcp, config })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The configuration it was bound with.
    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }
}

/// Facts about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Session id (16 base32 characters, as WildDuck's).
    pub id: String,
    /// The client: from the PROXY header when one was given, else the socket's peer.
    pub peer: SocketAddr,
    /// The local end of the socket.
    pub local: SocketAddr,
    /// Whether a PROXY header supplied `peer`.
    pub proxied: bool,
}

/// One accepted client, handed to the protocol's handler.
pub struct Connection {
    /// The byte stream (already TLS for implicit-TLS listeners).
    pub stream: Stream,
    /// Who and where.
    pub info: ConnInfo,
    /// Fires when the server shuts down: the session should say goodbye and return.
    pub shutdown: ShutdownSignal,
    /// The acceptor for a STARTTLS upgrade; `None` when the listener offers none (or the stream is
    /// already TLS).
    pub starttls: Option<TlsAcceptor>,
    /// The idle timeout the protocol should apply to its reads.
    pub idle_timeout: Duration,
    /// The bound for a STARTTLS handshake.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("info", &self.info)
            .field("tls", &self.stream.is_tls())
            .field("starttls", &self.starttls.is_some())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Upgrades the stream to TLS (after the protocol answered "begin TLS"). Any bytes the
    /// protocol buffered before must be discarded by it (they were sent in plaintext).
    pub async fn starttls(mut self) -> io::Result<Self> {
        let Some(acceptor) = self.starttls.take() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "STARTTLS is not available",
            ));
        };
        self.stream = self
            .stream
            .upgrade(&acceptor, self.handshake_timeout)
            .await?;
        Ok(self)
    }
}

/// Accepts connections until `shutdown` fires, running `handler` for each on its own task; then
/// stops accepting and waits up to `drain_timeout` for the sessions (which see the same signal),
/// aborting those still running. Returns when every session is gone.
///
/// Failures of one connection (bad PROXY header, failed TLS handshake) close that connection and
/// are logged at debug level; an accept error is logged and the loop goes on after a short pause
/// (e.g. out of file descriptors).
pub async fn serve<F, Fut>(
    listener: Listener,
    mut shutdown: ShutdownSignal,
    handler: F,
) -> io::Result<()>
where
    F: Fn(Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handler = Arc::new(handler);
    let config = Arc::new(listener.config.clone());
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            accepted = listener.tcp.accept() => {
                match accepted {
                    Ok((tcp, peer)) => {
                        let handler = handler.clone();
                        let config = config.clone();
                        let signal = shutdown.clone();
                        sessions.spawn(async move {
                            if let Some(conn) = prepare(tcp, peer, &config, signal).await {
                                handler(conn).await;
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                // Reap finished sessions so the set does not grow with the server's lifetime.
                while sessions.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            left = sessions.len(),
            "aborting sessions after the drain timeout"
        );
        sessions.shutdown().await;
    }
    Ok(())
}

/// PROXY header and implicit TLS for one accepted socket; `None` closes it.
async fn prepare(
    mut tcp: tokio::net::TcpStream,
    socket_peer: SocketAddr,
    config: &ListenerConfig,
    shutdown: ShutdownSignal,
) -> Option<Connection> {
    // Small protocol answers must not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().ok()?;
    let mut peer = socket_peer;
    let mut proxied = false;
    if config.proxy_protocol {
        match tokio::time::timeout(config.handshake_timeout, proxy::read_v1(&mut tcp)).await {
            Ok(Ok(ProxyHeader::Tcp { source, .. })) => {
                peer = source;
                proxied = true;
            }
            Ok(Ok(ProxyHeader::Unknown)) => {}
            Ok(Err(e)) => {
                tracing::debug!(peer = %socket_peer, error = %e, "closing connection");
                return None;
            }
            Err(_) => {
                tracing::debug!(peer = %socket_peer, "no PROXY header in time");
                return None;
            }
        }
    }
    let mut stream = Stream::Plain(crate::stream::MeteredTcp::new(tcp));
    let mut starttls = None;
    match &config.tls {
        TlsMode::Plain => {}
        TlsMode::StartTls(a) => starttls = Some(a.clone()),
        // Boxed: the handshake future holds a whole rustls connection (over 1 KiB); inline, it
        // would size every session task for the session's whole life, not only the handshake.
        TlsMode::Implicit(a) => match Box::pin(stream.upgrade(a, config.handshake_timeout)).await {
            Ok(s) => stream = s,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return None;
            }
        },
    }
    Some(Connection {
        stream,
        info: ConnInfo {
            id: crate::session_id(),
            peer,
            local,
            proxied,
        },
        shutdown,
        starttls,
        idle_timeout: config.idle_timeout,
        handshake_timeout: config.handshake_timeout,
    })
}
