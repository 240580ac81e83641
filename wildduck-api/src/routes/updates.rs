//! `GET /users/:user/updates`: the user's journal as Server-Sent Events, as WildDuck's
//! `lib/api/updates.js` streams it (`data:` the entry without `_id`, `user`, `modseq`, `ignore`,
//! `unseenChange`, `created`; `id:` the journal id; `: idling N` comments every 15 s).
//!
//! The stream starts at the present (WildDuck starts after the newest journal entry when no
//! `Last-Event-ID` is given; replay from a `Last-Event-ID` is not implemented yet). It wakes on
//! the notifier when there is one and also polls, so it works on backends without pub/sub.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event, Sse};
use serde_json::{Map, Value, json};
use wildduck_core::model::{JournalEntry, MailboxId, ModSeq, UserId};

use super::iso_date;
use crate::ApiState;
use crate::error::ApiResult;
use crate::params::{Params, Validator};
use crate::routes::users::load_user;

/// How often the journal is read when no notification arrives.
const POLL: Duration = Duration::from_millis(250);
/// Keep-alive comment interval (WildDuck: 15 s).
const IDLE: Duration = Duration::from_secs(15);

fn entry_json(e: &JournalEntry) -> Value {
    let mut o = Map::new();
    if let Some(c) = e.command {
        o.insert("command".into(), json!(c.as_str()));
    }
    o.insert("mailbox".into(), json!(e.mailbox.to_string()));
    if let Some(m) = e.message {
        o.insert("message".into(), json!(m.to_string()));
    }
    if let Some(u) = e.uid {
        o.insert("uid".into(), json!(u.0));
    }
    if let Some(f) = &e.flags {
        o.insert("flags".into(), json!(f));
    }
    if let Some(t) = e.thread {
        o.insert("thread".into(), json!(t.to_string()));
    }
    if let Some(d) = e.idate {
        o.insert("idate".into(), json!(iso_date(d)));
    }
    if let Some(p) = &e.path {
        o.insert("path".into(), json!(p));
    }
    Value::Object(o)
}

/// Reads new journal entries of every mailbox of `user` past `seen`, advancing `seen`.
async fn read_new(
    state: &ApiState,
    user: UserId,
    seen: &mut HashMap<MailboxId, ModSeq>,
) -> wildduck_core::Result<Vec<JournalEntry>> {
    let s = &state.services;
    let mut out = Vec::new();
    for mb in s.list_mailboxes(user, false).await? {
        let since = seen.get(&mb.id).copied().unwrap_or(ModSeq(0));
        if mb.modify_index <= since {
            continue;
        }
        let entries = s.backend().journal.since(mb.id, since).await?;
        // Advance only to what was read: a MODSEQ is allocated before its journal entry is
        // written, so a mailbox's `modify_index` can be ahead of its journal for a moment.
        if let Some(max) = entries.iter().map(|e| e.modseq).max() {
            seen.insert(mb.id, max.max(since));
        }
        out.extend(entries);
    }
    Ok(out)
}

/// `GET /users/:user/updates` → `text/event-stream`.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    v.accept(&["Last-Event-ID"]);
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let mut seen: HashMap<MailboxId, ModSeq> = HashMap::new();
    let boxes = state
        .services
        .list_mailboxes(user.id, false)
        .await
        .map_err(|e| crate::error::ApiError::from_core(e, crate::error::USER_NF))?;
    for mb in boxes {
        seen.insert(mb.id, mb.modify_index);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    let mut sub = state.services.notifier().map(|n| n.subscribe());
    tokio::spawn(async move {
        let mut idle_n = 1u64;
        if tx
            .send(Event::default().comment(format!("idling {idle_n}")))
            .await
            .is_err()
        {
            return;
        }
        let mut last_sent = tokio::time::Instant::now();
        loop {
            match sub.as_mut() {
                Some(s) => {
                    // Woken by any change (of any user: cheap to re-check), or by the poll.
                    let _ = tokio::time::timeout(POLL, s.recv()).await;
                }
                None => tokio::time::sleep(POLL).await,
            }
            if tx.is_closed() {
                return;
            }
            match read_new(&state, user.id, &mut seen).await {
                Ok(entries) => {
                    for e in &entries {
                        let ev = Event::default()
                            .id(e.id.to_string())
                            .data(entry_json(e).to_string());
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                }
                Err(e) => tracing::warn!(user = %user.id, error = %e, "updates stream read failed"),
            }
            if last_sent.elapsed() >= IDLE {
                idle_n += 1;
                if tx
                    .send(Event::default().comment(format!("idling {idle_n}")))
                    .await
                    .is_err()
                {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok::<Event, Infallible>(ev), rx))
    });
    Ok(Sse::new(stream).into_response())
}
