//! The IMAP protocol layer: pure, no I/O, no session state.
//!
//! - [`Framer`] turns socket bytes into complete command [`Frame`]s, handling literals and limits
//!   (and streaming large `APPEND` literals in chunks);
//! - [`parse_command`] turns a frame into a [`Command`] (the AST in [`command`]), or a
//!   [`ParseError`] that carries the tag when it could be read;
//! - responses are written by [`crate::response`].
//!
//! (The parser lands in the next commit.)

pub mod command;
pub mod framer;

pub use command::*;
pub use framer::{Frame, FrameError, FrameErrorKind, Framer, FramerConfig, FramerEvent};
