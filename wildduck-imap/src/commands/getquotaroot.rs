//! `GETQUOTAROOT mailbox` (RFC 2087): every mailbox has the root `""`.

use crate::commands::{find_mailbox, getquota::write_quota, write_mailbox_name};
use crate::session::{Context, Reply};

/// Handles GETQUOTAROOT.
pub async fn handle(ctx: &mut Context<'_>, name: &str) -> Reply {
    let mb = match find_mailbox(ctx, name, "GETQUOTAROOT").await {
        Ok(mb) => mb,
        Err(r) => return r,
    };
    let mut line = b"* QUOTAROOT ".to_vec();
    write_mailbox_name(&mut line, ctx.session, &mb.path);
    line.extend_from_slice(b" \"\"\r\n");
    ctx.write(&line);
    match write_quota(ctx).await {
        Ok(()) => Reply::ok("Success"),
        Err(r) => r,
    }
}
