//! The IMAP response writer: serialises protocol-neutral values from `wildduck-core` into IMAP4rev1
//! syntax (RFC 3501 §9), appending to a caller-owned buffer.
//!
//! Every writer takes `utf8`: whether the client enabled `UTF8=ACCEPT` (RFC 6855), which lets valid
//! UTF-8 travel in quoted strings instead of literals.

mod body_structure;
mod envelope;
mod fetch;
mod string;

pub use body_structure::write_body_structure;
pub use envelope::write_envelope;
pub use fetch::{
    FetchContent, format_internal_date, write_fetch, write_fetch_item, write_flag_strings,
    write_flags, write_flags_fetch, write_literal, write_section,
};
pub use string::{write_nstring, write_number, write_string};
