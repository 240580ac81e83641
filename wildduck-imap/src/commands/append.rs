//! `APPEND mailbox [flags] [date-time] literal`: one message per command. The literal was
//! either kept inline by the framer or streamed into the session's spool; oversized literals
//! never reach here (the framer answered `NO [TOOBIG]` without reading them). Checks: the date
//! may not be more than 24 h ahead, the message not empty, the daily upload counter
//! (`iup:<user>`); the core checks quota (`OVERQUOTA`) and size (`TOOBIG`). A missing mailbox is
//! `NO [TRYCREATE]`. When the target is the selected mailbox, `* n EXISTS` goes out at once.

use std::time::Duration;

use wildduck_core::model::{Flags, Timestamp};
use wildduck_core::service::messages::AppendRequest;

use crate::proto::{AppendCommand, AppendData};
use crate::session::{Context, Reply};

/// The upload counter window (one day).
const UPLOAD_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Handles APPEND.
pub async fn handle(ctx: &mut Context<'_>, cmd: AppendCommand) -> Reply {
    let raw = match cmd.message {
        AppendData::Inline(v) => v,
        AppendData::Streamed { .. } => return Reply::bad("Invalid message argument for APPEND"),
    };
    if raw.is_empty() {
        return Reply::no("Empty message");
    }
    if u64::try_from(raw.len()).unwrap_or(u64::MAX) > ctx.config().max_message {
        return Reply::no_code(
            "TOOBIG",
            format!(
                "Message size exceeds allowed limit: attempted {} bytes, but maximum allowed is {} bytes.",
                raw.len(),
                ctx.config().max_message
            ),
        );
    }
    if let Some(d) = cmd.date {
        let limit = Timestamp::now().0.saturating_add(24 * 3600 * 1000);
        if d.0 > limit || d.0 <= 1000 {
            return Reply::bad("Invalid date-time argument for APPEND");
        }
    }
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad("APPEND not allowed now");
    };
    let services = ctx.services().clone();
    let mb = match services.find_mailbox(user, &cmd.mailbox).await {
        Ok(mb) if !mb.hidden => mb,
        Ok(_) => return Reply::no_code("TRYCREATE", "APPEND completed"),
        Err(e) => return crate::error::reply_trycreate(&e, "APPEND"),
    };
    // Daily upload limit, counted before storing as WildDuck does.
    let account = match services.get_user(user).await {
        Ok(u) => u,
        Err(e) => return crate::error::reply(&e, "APPEND"),
    };
    let limit = account
        .limits
        .imap_max_upload
        .unwrap_or(ctx.config().max_upload);
    let key = format!("iup:{user}");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match services
        .counters()
        .ttl_counter(
            &key,
            i64::try_from(raw.len()).unwrap_or(i64::MAX),
            limit,
            UPLOAD_WINDOW,
        )
        .await
    {
        Ok(c) if !c.success => {
            return Reply::no_code(
                "TEMPFAIL",
                format!(
                    "Upload was rate limited. Try again in {}.",
                    round_time(c.ttl)
                ),
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "upload counter unavailable"),
    }
    let session_id = ctx.session.id.clone();
    // The user and the mailbox were just read: the service does not read them again.
    let appended = match services
        .append_to(
            &account,
            &mb,
            AppendRequest {
                raw: &raw,
                flags: cmd.flags.into_iter().collect::<Flags>(),
                idate: cmd.date,
                session: Some(&session_id),
            },
        )
        .await
    {
        Ok(a) => a,
        Err(e) => return crate::error::reply_trycreate(&e, "APPEND"),
    };
    drop(raw);
    if let Some(sel) = ctx.session.selected.as_deref_mut()
        && sel.mailbox.id == mb.id
    {
        let n = sel.view.add(appended.uid);
        ctx.untagged(&format!("{n} EXISTS"));
    }
    Reply::ok_code(
        format!("APPENDUID {} {}", appended.uid_validity, appended.uid.0),
        "APPEND completed",
    )
}

/// "Try again in …" as WildDuck rounds it.
fn round_time(ttl_secs: i64) -> String {
    let s = ttl_secs.max(1);
    if s < 60 {
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        let m = (s + 59) / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}
