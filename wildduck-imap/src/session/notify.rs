//! Change notifications for live sessions: one registry per server maps users to their sessions,
//! and one task per server (not per session) listens on the core's notifier and wakes the
//! sessions of the user an event names.
//!
//! A session holds only an `Arc<SessionHandle>` (a `Notify` and two flags); while it waits for
//! client input, [`crate::session::io::Io::next_input`] also waits on the handle and returns
//! [`crate::session::io::Input::Notified`]. What to tell the client, and when, is decided by
//! [`crate::session::updates`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;
use tokio::sync::Notify;
use wildduck_core::bus::{BusEvent, Notifier};

/// What the bus told one session.
#[derive(Debug, Default)]
pub struct SessionHandle {
    /// The session's id: change events it caused itself ([`wildduck_core::bus::Notification::origin`])
    /// are not for it.
    session: Box<str>,
    notify: Notify,
    /// New journal entries may exist for this user.
    changed: AtomicBool,
    /// Events with a payload (WildDuck's `LOGOUT`, `DROP` commands), in arrival order.
    payloads: Mutex<Vec<Value>>,
}

impl SessionHandle {
    /// Waits until the handle is signalled (a signal sent while nobody waited is kept).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Takes the "data changed" flag.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    /// Marks the data as changed (e.g. after the session's own write, to re-read the journal).
    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::Release);
    }

    /// Takes the payload events received so far.
    pub fn take_payloads(&self) -> Vec<Value> {
        match self.payloads.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => Vec::new(),
        }
    }

    fn signal(&self, payload: Option<Value>, origin: Option<&str>) {
        match payload {
            // The session's own change: it told its client already, and its view skips its own
            // journal entries anyway (they are read, at no cost, with the next foreign change).
            None if origin.is_some_and(|o| *o == *self.session) => return,
            None => self.changed.store(true, Ordering::Release),
            Some(p) => {
                if let Ok(mut v) = self.payloads.lock() {
                    v.push(p);
                }
            }
        }
        self.notify.notify_one();
    }
}

/// The server's map of users to live sessions.
#[derive(Debug, Default)]
pub struct Registry {
    users: Mutex<HashMap<String, Vec<Weak<SessionHandle>>>>,
}

impl Registry {
    /// Registers session `session` of `user`; it stays registered until the handle is dropped.
    pub fn register(&self, user: &str, session: &str) -> Arc<SessionHandle> {
        let handle = Arc::new(SessionHandle {
            session: session.into(),
            ..SessionHandle::default()
        });
        if let Ok(mut m) = self.users.lock() {
            let list = m.entry(user.to_string()).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&handle));
        }
        handle
    }

    /// Number of live sessions registered for `user`.
    pub fn sessions(&self, user: &str) -> usize {
        self.users
            .lock()
            .map(|m| {
                m.get(user)
                    .map_or(0, |l| l.iter().filter(|w| w.strong_count() > 0).count())
            })
            .unwrap_or(0)
    }

    /// Wakes every session of `user` (all users when `None`) but `origin`, the session whose own
    /// change a plain event announces.
    pub fn signal(&self, user: Option<&str>, payload: Option<Value>, origin: Option<&str>) {
        let Ok(mut m) = self.users.lock() else {
            return;
        };
        let mut wake = |list: &mut Vec<Weak<SessionHandle>>| {
            list.retain(|w| match w.upgrade() {
                Some(h) => {
                    h.signal(payload.clone(), origin);
                    true
                }
                None => false,
            });
        };
        match user {
            Some(u) => {
                if let Some(list) = m.get_mut(u) {
                    wake(list);
                    if list.is_empty() {
                        m.remove(u);
                    }
                }
            }
            None => {
                m.values_mut().for_each(&mut wake);
                m.retain(|_, l| !l.is_empty());
            }
        }
    }

    /// Runs until the notifier closes: every event wakes the sessions of its user; a lost-events
    /// marker wakes everyone (they re-read the journal).
    pub async fn run(self: Arc<Self>, notifier: Arc<dyn Notifier>) {
        let mut sub = notifier.subscribe();
        while let Some(ev) = sub.recv().await {
            match ev {
                BusEvent::Notify(n) => self.signal(Some(&n.user), n.payload, n.origin.as_deref()),
                BusEvent::Missed => self.signal(None, None, None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signals_reach_only_the_user() {
        let r = Registry::default();
        let a = r.register("a", "s1");
        let b = r.register("b", "s2");
        r.signal(Some("a"), None, None);
        assert!(a.take_changed());
        assert!(!b.take_changed());
        // A session's own change does not mark it; another session of the user is marked.
        let a2 = r.register("a", "s3");
        r.signal(Some("a"), None, Some("s1"));
        assert!(!a.take_changed());
        assert!(a2.take_changed());
        // The permit is kept until someone waits.
        tokio::time::timeout(std::time::Duration::from_millis(50), a.notified())
            .await
            .expect("permit kept");
        r.signal(
            Some("b"),
            Some(serde_json::json!({"command": "LOGOUT"})),
            Some("s2"),
        );
        assert_eq!(b.take_payloads().len(), 1);
        assert!(!b.take_changed());
        drop(a2);
        assert_eq!(r.sessions("a"), 1);
        drop(a);
        assert_eq!(r.sessions("a"), 0);
    }
}
