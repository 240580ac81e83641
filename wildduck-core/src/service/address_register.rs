//! The correspondents register (WildDuck's `addressregister`): who a user received mail from, and
//! whom they sent mail to (messages stored in the `\Sent` mailbox), for address autocompletion.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Services;
use super::addresses::{addrview, normalize_address};
use crate::message::header;
use crate::message::ingest::StoredMessage;
use crate::message::maildata::decode_words;
use crate::model::{Flag, Flags, ObjectId, RegisterEntry, SpecialUse, Timestamp, UserId};
use crate::{Error, Result};

/// Mail with any of these headers (lists, automatic replies) adds nobody to the register.
const SKIP_HEADERS: [&str; 3] = ["list-id", "auto-submitted", "x-auto-response-suppress"];

/// The most entries one listing returns (WildDuck's `limit` maximum).
pub const MAX_REGISTER_LIMIT: usize = 250;

/// How long correspondents wait before they are written, so a burst of appends (a mailbox
/// import, a busy sender) shares one write per user instead of one per message.
pub const REGISTER_DELAY: Duration = Duration::from_millis(100);

/// Most correspondents held for the next write; beyond that new ones are dropped (the register
/// is a convenience, memory is not).
const MAX_PENDING: usize = 10_000;

/// Correspondents waiting for the next register write.
#[derive(Debug, Default)]
pub(crate) struct RegisterBuffer {
    pending: Mutex<Vec<RegisterEntry>>,
    scheduled: AtomicBool,
}

/// One entry per (user, address view), in first-seen order: the latest time, and the latest
/// name given.
fn coalesce(entries: Vec<RegisterEntry>) -> Vec<RegisterEntry> {
    let mut out: Vec<RegisterEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        match out
            .iter_mut()
            .find(|o| o.user == e.user && o.addrview == e.addrview)
        {
            Some(o) => {
                o.updated = o.updated.max(e.updated);
                if e.name.is_some() {
                    o.name = e.name;
                }
            }
            None => out.push(e),
        }
    }
    out
}

/// Whether an address looks like a no-reply address (`no-reply`, `noreply`, any case).
fn is_no_reply(address: &str) -> bool {
    let l = address.to_lowercase();
    l.contains("noreply") || l.contains("no-reply")
}

/// The correspondents a newly stored message adds to its owner's register, as WildDuck's
/// `MessageHandler.add` picks them: nobody for junk and drafts or for mail with a list or
/// auto-reply header; else the `To`, `Cc` and `Bcc` addresses of a message stored in the `\Sent`
/// mailbox and the `From` addresses of any other, without no-reply addresses, once each.
pub fn correspondents(
    special_use: Option<SpecialUse>,
    flags: &Flags,
    message: &StoredMessage,
) -> Vec<RegisterEntry> {
    if special_use == Some(SpecialUse::Junk) || flags.contains(&Flag::Draft) {
        return Vec::new();
    }
    let head = &message.tree.header;
    if SKIP_HEADERS
        .iter()
        .any(|h| header::first(head, h).is_some())
    {
        return Vec::new();
    }
    let env = &message.envelope;
    let lists = if special_use == Some(SpecialUse::Sent) {
        vec![&env.to, &env.cc, &env.bcc]
    } else {
        vec![&env.from]
    };
    let now = Timestamp::now();
    let mut out: Vec<RegisterEntry> = Vec::new();
    for a in lists.into_iter().flatten().flatten() {
        if a.is_group_marker() {
            continue;
        }
        let (Some(mailbox), Some(host)) = (&a.mailbox, &a.host) else {
            continue;
        };
        if mailbox.is_empty() || host.is_empty() {
            continue;
        }
        let raw = format!(
            "{}@{}",
            String::from_utf8_lossy(mailbox),
            String::from_utf8_lossy(host)
        );
        if is_no_reply(&raw) {
            continue;
        }
        let Ok(address) = normalize_address(&raw) else {
            continue;
        };
        let view = addrview(&address);
        if out.iter().any(|e| e.addrview == view) {
            continue;
        }
        let name = a
            .name
            .as_ref()
            .map(|n| decode_words(&String::from_utf8_lossy(n)).trim().to_string())
            .filter(|n| !n.is_empty());
        out.push(RegisterEntry {
            id: ObjectId::new(),
            user: UserId::default(),
            address,
            addrview: view,
            name,
            updated: now,
            disabled: false,
        });
    }
    out
}

impl Services {
    /// Records `entries` (from [`correspondents`]) in `user`'s register in the background,
    /// [`REGISTER_DELAY`] later, together with whatever else arrived meanwhile (one write per
    /// user). The register is a convenience: a failure is logged and never fails the delivery,
    /// and nothing waits for the store.
    pub fn record_correspondents(&self, user: UserId, mut entries: Vec<RegisterEntry>) {
        if entries.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for e in &mut entries {
            e.user = user;
        }
        {
            let Ok(mut pending) = self.register.pending.lock() else {
                return;
            };
            let room = MAX_PENDING.saturating_sub(pending.len());
            pending.extend(entries.into_iter().take(room));
        }
        if self.register.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let buffer = self.register.clone();
        let store = self.backend.addresses.clone();
        rt.spawn(async move {
            tokio::time::sleep(REGISTER_DELAY).await;
            // Cleared before the drain: whatever arrives after it schedules the next write.
            buffer.scheduled.store(false, Ordering::Release);
            let batch = match buffer.pending.lock() {
                Ok(mut p) => std::mem::take(&mut *p),
                Err(_) => return,
            };
            let batch = coalesce(batch);
            let mut users: Vec<UserId> = Vec::new();
            for e in &batch {
                if !users.contains(&e.user) {
                    users.push(e.user);
                }
            }
            for user in users {
                let mine: Vec<RegisterEntry> =
                    batch.iter().filter(|e| e.user == user).cloned().collect();
                if let Err(e) = store.register_correspondents(user, &mine).await {
                    tracing::debug!(%user, error = %e, "address register update failed");
                }
            }
        });
    }

    /// `user`'s register entries matching `query` (address substring, or name prefix ignoring
    /// case), most recent first, at most `limit` (1..=250). `NotFound` for an unknown user.
    pub async fn search_address_register(
        &self,
        user: UserId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<RegisterEntry>> {
        self.get_user(user).await?;
        if query.is_empty() {
            return Err(Error::invalid("\"query\" is required"));
        }
        let limit = limit.clamp(1, MAX_REGISTER_LIMIT);
        self.backend
            .addresses
            .search_register(user, query, limit)
            .await
    }

    /// Disables or enables one of `user`'s register entries and, when given, renames it (an
    /// encoded-word name is decoded). `false` when the entry is not the user's; `NotFound` for an
    /// unknown user.
    pub async fn update_address_register(
        &self,
        user: UserId,
        id: ObjectId,
        disabled: bool,
        name: Option<&str>,
    ) -> Result<bool> {
        self.get_user(user).await?;
        let name = name.filter(|n| !n.is_empty()).map(decode_words);
        self.backend
            .addresses
            .update_register_entry(user, id, disabled, name.as_deref(), Timestamp::now())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(raw: &str) -> StoredMessage {
        match crate::message::ingest(raw.as_bytes()) {
            Ok(i) => i.message,
            Err(e) => panic!("ingest: {e}"),
        }
    }

    #[test]
    fn coalesces_per_user_and_address() {
        let (a, b) = (UserId::new(), UserId::new());
        let e = |user, view: &str, name: Option<&str>, t| RegisterEntry {
            user,
            addrview: view.into(),
            address: view.into(),
            name: name.map(str::to_string),
            updated: Timestamp(t),
            ..Default::default()
        };
        let out = coalesce(vec![
            e(a, "x@d", Some("X"), 1),
            e(b, "x@d", None, 2),
            e(a, "x@d", None, 3),
            e(a, "y@d", None, 4),
        ]);
        let got: Vec<_> = out
            .iter()
            .map(|o| {
                (
                    o.user == a,
                    o.addrview.as_str(),
                    o.name.as_deref(),
                    o.updated.0,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (true, "x@d", Some("X"), 3),
                (false, "x@d", None, 2),
                (true, "y@d", None, 4)
            ]
        );
    }

    #[test]
    fn picks_senders_or_recipients_as_wildduck() {
        let m = ingest(
            "From: =?utf-8?q?J=C3=BCrgen?= <Juergen@Example.com>\r\nTo: a@x.org, \"B\" <b@x.org>\r\n\
             Cc: noreply@x.org\r\nSubject: s\r\n\r\nbody\r\n",
        );
        let inbox = correspondents(None, &Flags::new(), &m);
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].address, "juergen@example.com");
        assert_eq!(inbox[0].name.as_deref(), Some("Jürgen"));
        let sent = correspondents(Some(SpecialUse::Sent), &Flags::new(), &m);
        let got: Vec<_> = sent.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(got, ["a@x.org", "b@x.org"]);
        let mut draft = Flags::new();
        draft.insert(Flag::Draft);
        assert!(correspondents(None, &draft, &m).is_empty());
        assert!(correspondents(Some(SpecialUse::Junk), &Flags::new(), &m).is_empty());
        let list = ingest("From: a@x.org\r\nList-ID: <l.x.org>\r\n\r\nb\r\n");
        assert!(correspondents(None, &Flags::new(), &list).is_empty());
    }
}
