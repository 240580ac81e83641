//! WildDuck in Rust: the API front end over `wildduck-core` (work in progress).
