//! Shared helpers for the root package's integration tests. Include with `mod support;`.

#![allow(dead_code)] // each test binary uses a different subset

pub mod corpus;
