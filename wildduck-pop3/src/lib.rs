//! WildDuck in Rust: the POP3 front end over `wildduck-core` (work in progress).
