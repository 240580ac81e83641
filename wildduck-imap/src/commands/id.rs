//! `ID` (RFC 2971, any state): logs the client's fields WildDuck knows and answers the server's
//! name, version and vendor.

use crate::response::write_string;
use crate::session::{Context, Reply};

/// Client ID fields WildDuck logs; others are ignored.
const KNOWN_KEYS: [&str; 11] = [
    "name",
    "version",
    "os",
    "os-version",
    "vendor",
    "support-url",
    "address",
    "date",
    "command",
    "arguments",
    "environment",
];

/// Handles ID.
pub fn handle(ctx: &mut Context<'_>, params: Option<Vec<(String, Option<String>)>>) -> Reply {
    for (k, v) in params.iter().flatten() {
        let key = k.to_ascii_lowercase();
        if KNOWN_KEYS.contains(&key.as_str()) {
            tracing::info!(session = %ctx.session.id, key, value = v.as_deref().unwrap_or("NIL"), "client ID");
        }
    }
    let config = ctx.config();
    let fields = [
        ("name", config.name.clone()),
        ("version", config.version.clone()),
        ("vendor", config.vendor.clone()),
    ];
    let mut out = b"* ID (".to_vec();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(&mut out, k.as_bytes(), false);
        out.push(b' ');
        write_string(&mut out, v.as_bytes(), false);
    }
    out.extend_from_slice(b")\r\n");
    ctx.write(&out);
    Reply::ok("ID completed")
}
