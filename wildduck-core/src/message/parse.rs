//! Parsing raw bytes into the exact-partition MIME tree.
