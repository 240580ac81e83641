//! `STATUS mailbox (items)`: MESSAGES, RECENT (always 0), UIDNEXT, UIDVALIDITY, UNSEEN,
//! HIGHESTMODSEQ (which enables CONDSTORE, RFC 7162 §3.1.2); counts are read fresh each time.

use crate::commands::{find_mailbox, write_mailbox_name};
use crate::proto::StatusItem;
use crate::session::{Context, Reply};

/// Handles STATUS.
pub async fn handle(ctx: &mut Context<'_>, name: &str, items: &[StatusItem]) -> Reply {
    if name.is_empty() {
        return Reply::no_code("CANNOT", "No folder name given");
    }
    if items.is_empty() {
        return Reply::bad("Empty status list");
    }
    let mb = match find_mailbox(ctx, name, "STATUS").await {
        Ok(mb) => mb,
        Err(r) => return r,
    };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad("STATUS not allowed now");
    };
    let st = match ctx.services().mailbox_status(user, mb.id).await {
        Ok(s) => s,
        Err(e) => return crate::error::reply(&e, "STATUS"),
    };
    let mut line = b"* STATUS ".to_vec();
    write_mailbox_name(&mut line, ctx.session, &mb.path);
    line.extend_from_slice(b" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        let value = match item {
            StatusItem::Messages => st.messages,
            StatusItem::Recent => 0,
            StatusItem::UidNext => u64::from(st.uid_next.0),
            StatusItem::UidValidity => u64::from(st.uid_validity),
            StatusItem::Unseen => st.unseen,
            StatusItem::HighestModSeq => {
                ctx.session.condstore = true;
                st.highest_modseq.0
            }
        };
        line.extend_from_slice(format!("{} {value}", item.as_str()).as_bytes());
    }
    line.extend_from_slice(b")\r\n");
    ctx.write(&line);
    Reply::ok("STATUS completed")
}
