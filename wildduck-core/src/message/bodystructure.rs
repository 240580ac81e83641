//! BODYSTRUCTURE (extended form), computed once at ingestion as a protocol-neutral value.
