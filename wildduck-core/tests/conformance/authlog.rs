//! Background authentication-log entries (`Services::log_auth_event_in_background`): entries
//! recorded close together for one user and merge key are written together, and the entry's
//! count says how many there were, as if each had been written on its own; other keys get
//! their own entries. `AuthLogStore::log_merged_events` adds a merged count to an existing
//! entry.

use std::time::Duration;

use wildduck_core::model::{AuthEvent, AuthLogFilter};
use wildduck_core::service::Services;
use wildduck_core::service::authlog::AuthLogEntry;
use wildduck_core::service::users::NewUser;

fn success(ip: &str) -> AuthLogEntry {
    AuthLogEntry {
        result: Some("success".into()),
        protocol: Some("POP3".into()),
        source: Some("master".into()),
        ip: Some(ip.into()),
        required_scope: Some("pop3".into()),
        ..Default::default()
    }
}

/// The user's entries once their counts add up to `total` (the writes run in the background).
async fn entries_counting(
    s: &Services,
    user: wildduck_core::model::UserId,
    total: i64,
) -> Vec<AuthEvent> {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = s
            .list_auth_events(user, &AuthLogFilter::default())
            .await
            .expect("list");
        if last.iter().map(|e| e.events).sum::<i64>() == total {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("entries never added up to {total}: {last:?}");
}

pub async fn run_all(s: &Services) {
    let u = s
        .create_user(NewUser {
            username: "logwriter".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    for _ in 0..5 {
        s.log_auth_event_in_background(u.id, success("192.0.2.1"))
            .await;
    }
    s.log_auth_event_in_background(u.id, success("192.0.2.2"))
        .await;
    let mut entries = entries_counting(s, u.id, 6).await;
    entries.sort_by_key(|e| e.events);
    let counts: Vec<(i64, Option<&str>)> = entries
        .iter()
        .map(|e| (e.events, e.ip.as_deref()))
        .collect();
    assert_eq!(counts, [(1, Some("192.0.2.2")), (5, Some("192.0.2.1"))]);
    assert!(entries.iter().all(|e| e.last >= e.created));

    // More of the same later: added to the same entry.
    for _ in 0..3 {
        s.log_auth_event_in_background(u.id, success("192.0.2.1"))
            .await;
    }
    let entries = entries_counting(s, u.id, 9).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().any(|e| e.events == 8));
}
