//! Rebuilding the exact message bytes (whole or in byte ranges) from the stored tree.
