//! WildDuck in Rust: an embeddable mail store with IMAP, POP3 and HTTP API front ends.
//!
//! This crate re-exports the workspace's crates so an embedder can depend on one name.

pub use wildduck_api as api;
pub use wildduck_core as core;
pub use wildduck_imap as imap;
pub use wildduck_pop3 as pop3;

/// The bundled daemon behind the `wildduck` binary: configuration, storage selection, listeners,
/// logs, metrics and signals.
#[cfg(feature = "daemon")]
pub mod daemon;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
