//! `wildduck-pop3`: WildDuck's POP3 server (inventory §2) as a thin adapter over `wildduck-core`.
//!
//! - Commands: `CAPA USER PASS AUTH(PLAIN) STLS NOOP QUIT STAT LIST UIDL RETR TOP DELE RSET`, with
//!   WildDuck's answers; pipelined commands are answered in order.
//! - The maildrop is the newest `maxMessages` (250) of INBOX, fixed at login; UIDL is the message
//!   id in hex, as WildDuck's.
//! - At QUIT (UPDATE state) retrieved messages get `\Seen` and deleted ones are moved to Trash and
//!   marked `\Seen` (or deleted, see [`Pop3Config::delete_action`]); a dropped connection changes
//!   nothing.
//! - Listeners, TLS, STLS, SNI and PROXY headers come from `wildduck-net`.
//!
//! ```no_run
//! # async fn demo(services: wildduck_core::service::Services) -> std::io::Result<()> {
//! use wildduck_net::{Listener, ListenerConfig, Shutdown};
//! use wildduck_pop3::{Pop3Config, Pop3Server};
//! let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:9995".parse().unwrap())).await?;
//! let shutdown = Shutdown::new();
//! Pop3Server::new(services, Pop3Config::default())
//!     .serve(listener, shutdown.signal())
//!     .await
//! # }
//! ```

pub mod proto;
mod server;
pub mod session;

pub use server::{Pop3Config, Pop3Server};
pub use wildduck_core::service::pop3::Pop3DeleteAction;

/// The listener machinery (`wildduck-net`) this server runs on, for embedders.
pub use wildduck_net as net;
