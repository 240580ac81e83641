//! What the POP3 front end needs from the store, as WildDuck's POP3 server does it (inventory §2):
//! the listing fixed at login (newest `maxMessages` of INBOX, oldest first), message bytes with the
//! daily download limit (`pdw:<user>`), and the UPDATE state's changes (`\Seen` for retrieved
//! messages, deleted ones moved to Trash and marked `\Seen`, or really deleted).

use std::time::Duration;

use super::Services;
use super::login::LoginRequest;
use super::messages::FetchedMessage;
use super::users::unameview;
use crate::message::rebuild::rebuild;
use crate::message::{BodyContent, MimeNode, NoBlobs, NodeBody};
use crate::model::{
    Flag, FlagOp, Flags, Mailbox, MessageId, SpecialUse, Uid, UidSet, User, UserId,
};
use crate::store::pop3::{Pop3Content, Pop3Inbox, Pop3Snapshot, pop3_window};
use crate::{Error, ErrorKind, Result};

/// Messages listed per session unless the user has `pop3MaxMessages` (WildDuck `pop3.maxMessages`).
pub const POP3_MAX_MESSAGES: u64 = 250;
/// Bytes a user may download over POP3 a day unless the user has `pop3MaxDownload`
/// (WildDuck `const:max:pop3:download`: 10 GiB).
pub const POP3_MAX_DOWNLOAD: u64 = 10 * 1024 * 1024 * 1024;
/// The download counter's window.
pub const DOWNLOAD_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The listing floor's hash is `pxm:<user id>` (WildDuck's name), one field per INBOX id.
pub const POP3_FLOOR_PREFIX: &str = "pxm:";
/// How long an unused listing floor is kept. WildDuck's never expires; our record store needs a
/// lifetime, and a year without a POP3 login only means the window restarts at the newest mail.
pub const POP3_FLOOR_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// One listed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Message {
    /// The message id; its hex form is the UIDL (WildDuck-compatible).
    pub id: MessageId,
    /// UID in INBOX.
    pub uid: Uid,
    /// RFC822.SIZE, the size RETR sends.
    pub size: u64,
    /// Already `\Seen` at login.
    pub seen: bool,
}

/// A session's listing, fixed at login.
#[derive(Debug, Clone, PartialEq)]
pub struct Pop3Listing {
    /// INBOX as loaded at login.
    pub mailbox: Mailbox,
    /// Oldest first; message number n is `messages[n - 1]`.
    pub messages: Vec<Pop3Message>,
}

/// A listed message's content as [`Services::pop3_read`] read it (ahead of RETR/TOP): turned
/// into bytes only when it is sent, by [`Services::pop3_bytes`], so messages read ahead that
/// the client never retrieves cost their read and nothing more.
#[derive(Debug)]
pub struct Pop3Body(BodyForm);

#[derive(Debug)]
enum BodyForm {
    /// From the backend's POP3 read: the tree, maybe still encoded.
    Content(Pop3Content),
    /// From the general message load (backends without the POP3 read), blobs included.
    Fetched(Box<FetchedMessage>),
}

/// What happens to messages deleted in a POP3 session at QUIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pop3DeleteAction {
    /// Move to the `\Trash` mailbox and mark `\Seen` (WildDuck's behaviour).
    #[default]
    MoveToTrash,
    /// Remove them (expunge).
    Delete,
}

/// What the UPDATE state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pop3Update {
    /// Messages moved to Trash or deleted.
    pub deleted: u64,
    /// Retrieved messages newly marked `\Seen`.
    pub seen: u64,
}

fn limit_or(v: Option<u64>, default: u64) -> u64 {
    match v {
        Some(n) if n > 0 => n,
        _ => default,
    }
}

/// The floor's hash key and field for `user`'s INBOX `mailbox`.
fn floor_key(user: &User, mailbox: &Mailbox) -> (String, String) {
    (
        format!("{POP3_FLOOR_PREFIX}{}", user.id),
        mailbox.id.to_string(),
    )
}

/// The blob hashes a tree's split-out bodies reference, each once.
fn blob_hashes(node: &MimeNode, out: &mut Vec<String>) {
    match &node.body {
        NodeBody::Leaf(leaf) => {
            if let BodyContent::Stored(r) = &leaf.content
                && !out.contains(&r.hash)
            {
                out.push(r.hash.clone());
            }
        }
        NodeBody::Multipart(m) => m.parts.iter().for_each(|p| blob_hashes(&p.node, out)),
        NodeBody::Message(inner) => blob_hashes(inner, out),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Services {
    /// The newest `pop3MaxMessages` (or `default_max`) messages of `user`'s INBOX, oldest first,
    /// never below the listing floor: as WildDuck does, the oldest UID listed is remembered in
    /// the hash `pxm:<user>` (field: INBOX's id) and later listings start there, so the window
    /// only slides forward and old mail does not reappear when newer mail is removed.
    ///
    /// Two store reads (INBOX, then the window's metadata: one query on the embedded backend, see
    /// [`crate::store::MessageStore::newest_meta`]) plus the floor's read, and its write only when
    /// it moved. A failure of the floor's store is logged and lists without it.
    pub async fn pop3_listing(&self, user: &User, default_max: u64) -> Result<Pop3Listing> {
        let mailbox = self.find_mailbox(user.id, "INBOX").await?;
        let max = pop3_window(user, default_max);
        let (key, field) = floor_key(user, &mailbox);
        let floor = self.pop3_floor(&key, &field).await;
        let metas = self
            .backend
            .messages
            .newest_meta(mailbox.id, Uid(floor.unwrap_or(0)), max)
            .await?;
        let messages: Vec<Pop3Message> = metas
            .into_iter()
            .map(|m| Pop3Message {
                id: m.id,
                uid: m.uid,
                size: m.size,
                seen: m.flags.contains(&Flag::Seen),
            })
            .collect();
        self.pop3_move_floor(&key, &field, floor, &messages).await;
        Ok(Pop3Listing { mailbox, messages })
    }

    /// A POP3 login ([`Services::login`] with `req`, scope and all) and the session's listing
    /// ([`Services::pop3_listing`]), with as few store round trips as the backend allows: on the
    /// embedded backend the account, INBOX and its newest messages are one read
    /// ([`crate::store::UserStore::pop3_login_snapshot`]) before the password check, instead
    /// of one read before it and two after. The listing is the same: the newest window cut at
    /// the listing floor is the newest window of the messages at or above the floor. A login
    /// that fails has read the window for nothing (one indexed query, bounded by the window).
    /// Names with `@` (addresses) take the separate steps.
    pub async fn pop3_login(
        &self,
        req: LoginRequest<'_>,
        default_max: u64,
    ) -> Result<(User, Pop3Listing)> {
        let name = req.username.trim();
        if name.contains('@') || name.is_empty() || req.password.is_empty() {
            let user = self.login(req).await?;
            let listing = self.pop3_listing(&user, default_max).await?;
            return Ok((user, listing));
        }
        let snapshot = self
            .backend
            .users
            .pop3_login_snapshot(&unameview(name), default_max)
            .await?;
        let (found, inbox) = match snapshot {
            Some(Pop3Snapshot { user, inbox }) => (Some(user), inbox),
            None => (None, None),
        };
        let user = self.login_prefetched(req, found).await?.user;
        let Some(Pop3Inbox { mailbox, newest }) = inbox.filter(|i| i.mailbox.user == user.id)
        else {
            let listing = self.pop3_listing(&user, default_max).await?;
            return Ok((user, listing));
        };
        let (key, field) = floor_key(&user, &mailbox);
        let floor = self.pop3_floor(&key, &field).await;
        let messages: Vec<Pop3Message> = match floor {
            Some(f) => newest.into_iter().filter(|m| m.uid.0 >= f).collect(),
            None => newest,
        };
        self.pop3_move_floor(&key, &field, floor, &messages).await;
        Ok((user, Pop3Listing { mailbox, messages }))
    }

    /// The listing floor (`None` when unset or unreadable: a failure is logged).
    async fn pop3_floor(&self, key: &str, field: &str) -> Option<u32> {
        match self.kv.hash_get_all(key).await {
            Ok(h) => h.get(field).and_then(|v| v.parse::<u32>().ok()),
            Err(e) => {
                tracing::warn!(error = %e, "POP3 listing floor read failed");
                None
            }
        }
    }

    /// Moves the floor to the oldest UID listed when it is somewhere else (a failure is logged).
    async fn pop3_move_floor(
        &self,
        key: &str,
        field: &str,
        floor: Option<u32>,
        listed: &[Pop3Message],
    ) {
        if let Some(oldest) = listed.first()
            && floor != Some(oldest.uid.0)
            && let Err(e) = self
                .kv
                .hash_set(key, &[(field, oldest.uid.0.to_string())], POP3_FLOOR_TTL)
                .await
        {
            tracing::warn!(error = %e, "POP3 listing floor update failed");
        }
    }

    /// The bytes of a listed message (exactly as stored) for RETR/TOP, refused with `RateLimited`
    /// when the user's daily POP3 download (`pop3MaxDownload` or `default_limit`) is used up, and
    /// `NotFound` when the message is gone (deleted elsewhere since login). The caller reports
    /// what it sent with [`Services::pop3_count_download`].
    pub async fn pop3_message(
        &self,
        user: &User,
        mailbox: &Mailbox,
        message: &Pop3Message,
        default_limit: u64,
    ) -> Result<Vec<u8>> {
        self.pop3_messages(user, mailbox, std::slice::from_ref(message), default_limit)
            .await?
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| Error::not_found("message does not exist or is already deleted"))
    }

    /// [`Services::pop3_message`] for several messages in one read (a session reading ahead of a
    /// client that retrieves in order): the bytes in the order asked, `None` for messages gone
    /// since login. One download-limit check for the batch.
    pub async fn pop3_messages(
        &self,
        user: &User,
        mailbox: &Mailbox,
        messages: &[Pop3Message],
        default_limit: u64,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(messages.len());
        for body in self
            .pop3_read(user, mailbox, messages, default_limit)
            .await?
        {
            out.push(match body {
                Some(b) => Some(self.pop3_bytes(b).await?),
                None => None,
            });
        }
        Ok(out)
    }

    /// The content of several listed messages in one read, in the order asked (`None` for
    /// messages gone since login), each turned into bytes only when sent
    /// ([`Services::pop3_bytes`]): a session reads ahead of a client that retrieves in order
    /// without decoding what it may never send. Refused with `RateLimited` when the daily
    /// download is used up (one check for the batch); `NotFound` when `mailbox` is not `user`'s.
    /// On the embedded backend one indexed query reads only the UIDs and the stored content
    /// ([`crate::store::UserStore::pop3_contents`]); elsewhere the messages are loaded whole.
    pub async fn pop3_read(
        &self,
        user: &User,
        mailbox: &Mailbox,
        messages: &[Pop3Message],
        default_limit: u64,
    ) -> Result<Vec<Option<Pop3Body>>> {
        self.pop3_check_download(user, default_limit).await?;
        if mailbox.user != user.id {
            return Err(Error::not_found("no such mailbox"));
        }
        let uids: UidSet = messages.iter().map(|m| m.uid).collect();
        if let Some(mut found) = self.backend.users.pop3_contents(mailbox.id, &uids).await? {
            // UIDs are never reused in a mailbox, so the UID names the listed message.
            return Ok(messages
                .iter()
                .map(|want| {
                    found
                        .iter()
                        .position(|(uid, _)| *uid == want.uid)
                        .map(|i| Pop3Body(BodyForm::Content(found.swap_remove(i).1)))
                })
                .collect());
        }
        let mut found = self.fetch_messages(user.id, mailbox, &uids).await?;
        Ok(messages
            .iter()
            .map(|want| {
                found
                    .iter()
                    .position(|m| m.meta.id == want.id)
                    .map(|i| Pop3Body(BodyForm::Fetched(Box::new(found.swap_remove(i)))))
            })
            .collect())
    }

    /// The bytes of a message read by [`Services::pop3_read`], exactly as stored: decodes its
    /// tree and loads the attachment blobs it references (none for most messages).
    pub async fn pop3_bytes(&self, body: Pop3Body) -> Result<Vec<u8>> {
        let tree = match body.0 {
            BodyForm::Fetched(m) => return m.raw(),
            BodyForm::Content(c) => c.into_tree()?,
        };
        let mut hashes = Vec::new();
        blob_hashes(&tree, &mut hashes);
        if hashes.is_empty() {
            return rebuild(&tree, &NoBlobs);
        }
        let blobs = self.backend.attachments.get_blobs(&hashes).await?;
        rebuild(&tree, &blobs)
    }

    /// `RateLimited` when the user's daily POP3 download (`pop3MaxDownload` or `default_limit`) is
    /// used up (a counter failure is logged and allows the download).
    pub async fn pop3_check_download(&self, user: &User, default_limit: u64) -> Result<()> {
        let limit = limit_or(user.limits.pop3_max_download, default_limit);
        match self
            .counters
            .ttl_counter_check(&format!("pdw:{}", user.id), to_i64(limit), DOWNLOAD_WINDOW)
            .await
        {
            Ok(c) if !c.success => Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "Download was rate limited. Try again in {} minutes.",
                    (c.ttl.max(1) + 59) / 60
                ),
            )),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "download limit check failed");
                Ok(())
            }
        }
    }

    /// Adds `bytes` to the user's daily POP3 download counter (a failure is logged).
    pub async fn pop3_count_download(&self, user: &User, bytes: u64, default_limit: u64) {
        let limit = limit_or(user.limits.pop3_max_download, default_limit);
        if let Err(e) = self
            .counters
            .ttl_counter(
                &format!("pdw:{}", user.id),
                to_i64(bytes),
                to_i64(limit),
                DOWNLOAD_WINDOW,
            )
            .await
        {
            tracing::warn!(error = %e, "download counter update failed");
        }
    }

    /// The UPDATE state: marks `seen` (retrieved, not deleted, not yet seen) messages `\Seen`, then
    /// handles `deleted` as `action` says. One flag change (one MODSEQ, journal FETCH entries so
    /// IMAP sessions see it) covers the seen and the to-be-trashed messages.
    pub async fn pop3_update(
        &self,
        user: UserId,
        mailbox: &Mailbox,
        seen: &[Uid],
        deleted: &[Uid],
        action: Pop3DeleteAction,
        session: Option<&str>,
    ) -> Result<Pop3Update> {
        let mut out = Pop3Update::default();
        let mut mark: UidSet = seen.iter().copied().collect();
        if action == Pop3DeleteAction::MoveToTrash {
            for u in deleted {
                mark.insert(u.0);
            }
        }
        if !mark.is_empty() {
            let mut flags = Flags::new();
            flags.insert(Flag::Seen);
            let r = self
                .store_flags(user, mailbox, &mark, &FlagOp::Add(flags), None, session)
                .await?;
            out.seen = r
                .changed
                .iter()
                .filter(|c| c.seen_changed && !deleted.contains(&c.uid))
                .count() as u64;
        }
        if deleted.is_empty() {
            return Ok(out);
        }
        let del: UidSet = deleted.iter().copied().collect();
        match action {
            Pop3DeleteAction::MoveToTrash => {
                let trash = self
                    .list_mailboxes(user, false)
                    .await?
                    .into_iter()
                    .find(|m| m.special_use == Some(SpecialUse::Trash))
                    .ok_or_else(|| Error::not_found("Trash mailbox not found for user"))?;
                let moved = self
                    .move_messages(user, mailbox, &del, trash.id, session)
                    .await?;
                out.deleted = moved.uids.len() as u64;
            }
            Pop3DeleteAction::Delete => {
                let mut flags = Flags::new();
                flags.insert(Flag::Deleted);
                self.store_flags(user, mailbox, &del, &FlagOp::Add(flags), None, session)
                    .await?;
                let gone = self.expunge(user, mailbox, Some(&del), session).await?;
                out.deleted = gone.uids.len() as u64;
            }
        }
        Ok(out)
    }
}
