//! `wildduck-core`: the library behind WildDuck in Rust.
//!
//! It holds the domain model, the storage traits, message ingestion (raw RFC 5322 → stored form → exact
//! bytes again) and the use cases that the protocol adapters (`wildduck-imap`, `wildduck-pop3`,
//! `wildduck-api`) call. It opens no sockets and knows no protocol syntax.

pub mod auth;
pub mod bus;
pub mod error;
pub mod message;
pub mod model;
pub mod search;
pub mod service;
pub mod store;

pub use error::{Error, ErrorKind, Result};
