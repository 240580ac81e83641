//! `wildduck-net`: the listener machinery shared by the protocol front ends (POP3 now, IMAP next).
//!
//! It knows sockets and TLS, not protocols:
//!
//! - [`ListenerConfig`] / [`Listener::bind`]: a TCP listener bound from configuration, plain or with
//!   implicit TLS (995/993-style), optionally expecting a HAProxy PROXY v1 header on every connection.
//! - [`Stream`]: one client's byte stream, plain or TLS, that a plaintext stream can be upgraded on
//!   (`STLS` / `STARTTLS`) with [`Stream::upgrade`].
//! - [`tls`]: a rustls 0.23 (ring) server configuration with an SNI certificate resolver over PEM
//!   files or bytes: a default certificate plus certificates per server name (wildcards allowed).
//! - [`proxy`]: PROXY protocol v1 parsing; a bad header closes the connection.
//! - [`Shutdown`] / [`ShutdownSignal`]: one signal every session can await to say goodbye, after which
//!   [`serve`] stops accepting and drains the sessions (aborting what is left after a grace period).
//! - [`session_id`]: WildDuck-style session ids (16 base32 characters).
//! - [`SessionObserver`]: what the front ends report for metrics (commands with latency and
//!   outcome, bytes on the wire, appends); [`Stream::observe`] counts a connection's bytes.
//!
//! A front end calls [`serve`] with a handler that receives one [`Connection`] per client:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use wildduck_net::{Listener, ListenerConfig, Shutdown, serve};
//! use tokio::io::AsyncWriteExt;
//! let shutdown = Shutdown::new();
//! let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().unwrap())).await?;
//! serve(listener, shutdown.signal(), |mut conn| async move {
//!     let _ = conn.stream.write_all(b"+OK hello\r\n").await;
//! })
//! .await
//! # }
//! ```
//!
//! Adapters depend on this crate and on `wildduck-core`; it depends on neither the core nor any
//! storage driver.

mod id;
pub mod observe;
pub mod proxy;
mod server;
mod shutdown;
mod stream;
pub mod tls;

pub use id::session_id;
pub use observe::{NoopObserver, Observer, Outcome, SessionObserver, noop_observer};
pub use server::{ConnInfo, Connection, Listener, ListenerConfig, TlsMode, serve};
pub use shutdown::{Shutdown, ShutdownSignal};
pub use stream::{MeteredTcp, Stream};
pub use tls::{CertResolver, TlsAcceptor};

/// Errors of the configuration steps (loading certificates, binding). Per-connection failures
/// (a bad PROXY header, a failed handshake) are logged and close that connection only.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A certificate or key could not be used.
    #[error("tls: {0}")]
    Tls(String),
}
