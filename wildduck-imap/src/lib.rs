//! WildDuck in Rust: the IMAP front end over `wildduck-core`.
//!
//! - [`proto`]: the framer (literals, limits, streamed APPEND) and the command parser;
//! - [`response`]: writers for the message items computed by the core (ENVELOPE, BODYSTRUCTURE);
//! - [`session`]: one connection's state machine, the [`session::Context`] command handlers
//!   get, and the transport (TLS upgrade, COMPRESS=DEFLATE);
//! - [`commands`]: one file per command;
//! - [`error`]: core errors → IMAP response codes, in one place;
//! - [`ImapServer`]: the listener loop on `wildduck-net`.
//!
//! ```no_run
//! # async fn demo(services: wildduck_core::service::Services) -> std::io::Result<()> {
//! use wildduck_imap::{ImapConfig, ImapServer};
//! use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
//! let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:9143".parse().unwrap())).await?;
//! let shutdown = Shutdown::new();
//! ImapServer::new(services, ImapConfig::default())
//!     .serve(listener, shutdown.signal())
//!     .await
//! # }
//! ```

pub mod commands;
pub mod error;
pub mod proto;
pub mod response;
mod server;
pub mod session;
pub mod utf7;

pub use server::{ImapConfig, ImapServer, Shared};

/// The listener machinery (`wildduck-net`) this server runs on, for embedders.
pub use wildduck_net as net;
