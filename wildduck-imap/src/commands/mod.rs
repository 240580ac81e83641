//! One file per command (WildDuck's imap-core has one module per command too). Each exposes
//! `handle(ctx, …) -> Reply`; [`crate::session::dispatch`] routes the AST to them after the
//! state check.

use wildduck_core::model::Mailbox;

use crate::response::write_string;
use crate::session::{Context, Reply, Session};

pub mod append;
pub mod authenticate;
pub mod capability;
pub mod check;
pub mod close;
pub mod compress;
pub mod copy;
pub mod create;
pub mod delete;
pub mod enable;
pub mod expunge;
pub mod fetch;
pub mod getquota;
pub mod getquotaroot;
pub mod id;
pub mod idle;
pub mod list;
pub mod login;
pub mod logout;
pub mod mv;
pub mod namespace;
pub mod noop;
pub mod rename;
pub mod search;
pub mod select;
pub mod setquota;
pub mod starttls;
pub mod status;
pub mod store;
pub mod subscribe;
pub mod unselect;

/// A mailbox path as the client must see it: modified UTF-7 unless UTF8=ACCEPT is enabled,
/// then as an IMAP string (quoted, or a literal when it cannot be quoted).
pub fn write_mailbox_name(out: &mut Vec<u8>, session: &Session, path: &str) {
    if session.utf8_accept {
        write_string(out, path.as_bytes(), true);
    } else {
        write_string(out, crate::utf7::encode(path).as_bytes(), false);
    }
}

/// Looks a mailbox up by the client's (decoded) name; the error reply names `command`.
pub async fn find_mailbox(ctx: &Context<'_>, name: &str, command: &str) -> Result<Mailbox, Reply> {
    let Some(user) = ctx.session.user_id() else {
        return Err(Reply::bad(format!("{command} not allowed now")));
    };
    match ctx.services().find_mailbox(user, name).await {
        Ok(mb) if !mb.hidden => Ok(mb),
        Ok(_) => Err(Reply::no_code(
            "NONEXISTENT",
            format!("{command} completed"),
        )),
        Err(e) => Err(crate::error::reply(&e, command)),
    }
}
