//! ENVELOPE, computed once at ingestion as a protocol-neutral value.
