//! `GET /users/:user/updates`: the user's journal as Server-Sent Events, as WildDuck's
//! `lib/api/updates.js` streams it (`data:` the entry without `_id`, `user`, `modseq`, `ignore`,
//! `unseenChange`, `created`; `id:` the journal id; `: idling N` comments every 15 s).
//!
//! Without `Last-Event-ID` the stream starts at the present (WildDuck starts after the newest
//! journal entry). With it (header or query parameter, a journal id), the journal entries after
//! that id are replayed first. After every batch of entries, a `COUNTERS` event
//! (`{"command":"COUNTERS","mailbox","total","unseen"}`, id = the batch's last entry) follows
//! for each mailbox whose message count or unseen count the batch changed, as WildDuck sends
//! them. The stream wakes on the notifier when there is one and also polls, so it works on
//! backends without pub/sub.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, Sse};
use serde_json::{Map, Value, json};
use wildduck_core::model::{JournalCommand, JournalEntry, MailboxId, ModSeq, UserId};

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

/// Whether an entry changes its mailbox's total or unseen count (then `COUNTERS` follows).
fn changes_counts(e: &JournalEntry) -> bool {
    match e.command {
        Some(JournalCommand::Exists | JournalCommand::Expunge) => true,
        Some(JournalCommand::Fetch) => e.unseen == Some(true) || e.unseen_change == Some(true),
        _ => false,
    }
}

/// The events for one batch of entries: the entries, then `COUNTERS` for the mailboxes whose
/// counts they changed.
async fn batch_events(state: &ApiState, user: UserId, entries: &[JournalEntry]) -> Vec<Event> {
    let mut out = Vec::with_capacity(entries.len());
    let mut touched: Vec<MailboxId> = Vec::new();
    for e in entries {
        out.push(
            Event::default()
                .id(e.id.to_string())
                .data(entry_json(e).to_string()),
        );
        if changes_counts(e) && !touched.contains(&e.mailbox) {
            touched.push(e.mailbox);
        }
    }
    let Some(last) = entries.last() else {
        return out;
    };
    for mb in touched {
        // A mailbox deleted meanwhile has no counters to show.
        if let Ok(st) = state.services.mailbox_status(user, mb).await {
            let data = json!({
                "command": "COUNTERS",
                "mailbox": mb.to_string(),
                "total": st.messages,
                "unseen": st.unseen,
            });
            out.push(
                Event::default()
                    .id(last.id.to_string())
                    .data(data.to_string()),
            );
        }
    }
    out
}

/// `GET /users/:user/updates` → `text/event-stream`.
pub async fn get(State(state): State<ApiState>, headers: HeaderMap, p: Params) -> ApiResult {
    let mut p = p;
    // The header wins over the query parameter (WildDuck copies it over).
    if let Some(h) = headers.get("last-event-id").and_then(|h| h.to_str().ok()) {
        p.map
            .insert("Last-Event-ID".into(), Value::String(h.trim().to_string()));
    }
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let last_event = v.opt_object_id("Last-Event-ID");
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
        let mut idle_n = 0u64;
        let mut replayed = false;
        if let Some(last) = last_event {
            match state
                .services
                .user_updates_after(user.id, last, &seen)
                .await
            {
                Ok(entries) => {
                    replayed = !entries.is_empty();
                    for ev in batch_events(&state, user.id, &entries).await {
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(user = %user.id, error = %e, "updates replay failed");
                    let ev = Event::default().event("error").data("replay failed");
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        }
        // WildDuck comments right away unless the replay sent something.
        if !replayed {
            idle_n += 1;
            if tx
                .send(Event::default().comment(format!("idling {idle_n}")))
                .await
                .is_err()
            {
                return;
            }
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
            match state.services.user_updates(user.id, &mut seen).await {
                Ok(entries) => {
                    for ev in batch_events(&state, user.id, &entries).await {
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
