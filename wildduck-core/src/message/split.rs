//! Splitting leaf bodies out to the de-duplicated attachment store (SHA-256 keys, decoded base64).
