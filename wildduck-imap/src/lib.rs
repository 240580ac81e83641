//! WildDuck in Rust: the IMAP front end over `wildduck-core` (work in progress).
//!
//! So far it holds the response writer for the message items computed by the core
//! ([`response::write_envelope`], [`response::write_body_structure`]).
//! The protocol layer ([`proto`]: framer, command AST and parser) and modified UTF-7 ([`utf7`])
//! are pure and have no I/O.

pub mod proto;
pub mod response;
pub mod utf7;
