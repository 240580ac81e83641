//! WildDuck in Rust: the IMAP front end over `wildduck-core` (work in progress).
