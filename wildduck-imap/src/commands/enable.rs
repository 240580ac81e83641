//! `ENABLE` (RFC 5161; Authenticated state only, as WildDuck): CONDSTORE and UTF8=ACCEPT are
//! recognised, anything else is ignored; `* ENABLED` lists what was enabled by this command.

use crate::session::{Context, Reply};

/// Enables extensions.
pub fn handle(ctx: &mut Context<'_>, caps: &[String]) -> Reply {
    let mut enabled: Vec<&str> = Vec::new();
    for c in caps {
        match c.to_ascii_uppercase().as_str() {
            "CONDSTORE" if !enabled.contains(&"CONDSTORE") => {
                ctx.session.condstore = true;
                enabled.push("CONDSTORE");
            }
            "UTF8=ACCEPT" if !enabled.contains(&"UTF8=ACCEPT") => {
                ctx.session.utf8_accept = true;
                enabled.push("UTF8=ACCEPT");
            }
            _ => {}
        }
    }
    let mut line = String::from("ENABLED");
    for e in &enabled {
        line.push(' ');
        line.push_str(e);
    }
    ctx.untagged(&line);
    Reply::ok(match enabled.len() {
        0 => "Success",
        1 => "Extension enabled",
        _ => "Extensions enabled",
    })
}
