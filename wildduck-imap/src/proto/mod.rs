//! The IMAP protocol layer: pure, no I/O, no session state.
//!
//! - [`Framer`] turns socket bytes into complete command [`Frame`]s, handling literals and limits
//!   (and streaming large `APPEND` literals in chunks);
//! - [`parse_command`] turns a frame into a [`Command`] (the AST in [`command`]), or a
//!   [`ParseError`] that carries the tag when it could be read;
//! - responses are written by [`crate::response`].
//!
//! Typical session loop:
//!
//! ```
//! use wildduck_imap::proto::{Framer, FramerEvent, ParseOptions, parse_command};
//!
//! let mut framer = Framer::default();
//! framer.feed(b"a1 SELECT INBOX\r\n");
//! loop {
//!     match framer.next_event() {
//!         FramerEvent::NeedMore => break, // read more from the socket
//!         FramerEvent::Frame(frame) => {
//!             let cmd = parse_command(&frame, &ParseOptions::default()).unwrap();
//!             assert_eq!(cmd.tag, "a1");
//!         }
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! ```

pub mod command;
pub mod framer;
mod lexer;
mod parse;

pub use command::*;
pub use framer::{Frame, FrameError, FrameErrorKind, Framer, FramerConfig, FramerEvent};
pub use parse::{
    ParseError, ParseErrorKind, ParseOptions, SaslPlain, decode_sasl_plain, is_idle_done,
    parse_command,
};
