//! `COMPRESS DEFLATE` (RFC 4978), offered only when `enable_compression` is set: after the
//! tagged OK both directions are raw deflate; inflated input per command is capped
//! (`max_inflate_bytes`) so a small compressed command cannot make us hold a huge one.

use crate::session::{Context, Reply, Then};

/// Starts compression.
pub fn handle(ctx: &mut Context<'_>, mechanism: &str) -> Reply {
    if !ctx.config().enable_compression {
        return Reply::bad("Unknown command: COMPRESS");
    }
    if ctx.io.is_compressed() {
        return Reply::no_code("COMPRESSIONACTIVE", "DEFLATE active");
    }
    if !mechanism.eq_ignore_ascii_case("DEFLATE") {
        return Reply::bad_code("CANNOT", "Unsupported compression mechanism");
    }
    Reply::ok("DEFLATE active").then(Then::Compress)
}
