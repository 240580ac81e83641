//! The aggregates: users, addresses, mailboxes, message metadata, journal entries.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{AddressId, Flags, JournalId, MailboxId, MessageId, ModSeq, ThreadId, Uid, UserId};

/// A point in time in milliseconds since the Unix epoch (BSON dates have this resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Self {
        Self(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        )
    }

    /// Whole seconds since the epoch.
    pub fn secs(&self) -> i64 {
        self.0.div_euclid(1000)
    }
}

/// A mailbox's special use (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
    /// `\Junk`
    Junk,
    /// `\Drafts`
    Drafts,
    /// `\Archive`
    Archive,
    /// `\All`
    All,
    /// `\Flagged`
    Flagged,
}

impl SpecialUse {
    /// The stored/wire form, e.g. `\Sent`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "\\Sent",
            Self::Trash => "\\Trash",
            Self::Junk => "\\Junk",
            Self::Drafts => "\\Drafts",
            Self::Archive => "\\Archive",
            Self::All => "\\All",
            Self::Flagged => "\\Flagged",
        }
    }

    /// Parses `\Sent` etc., case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "\\sent" => Self::Sent,
            "\\trash" => Self::Trash,
            "\\junk" => Self::Junk,
            "\\drafts" => Self::Drafts,
            "\\archive" => Self::Archive,
            "\\all" => Self::All,
            "\\flagged" => Self::Flagged,
            _ => return None,
        })
    }
}

/// A user account (`users` collection).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Username as given.
    pub username: String,
    /// Display name.
    pub name: String,
    /// The main address (normalised form as stored in `addresses.address`), if any.
    pub address: Option<String>,
    /// Language code for localised folder names.
    pub language: Option<String>,
    /// Password hash; empty means the account cannot log in with a password.
    pub password: String,
    /// Incremented on each password change (invalidates API tokens).
    pub auth_version: i64,
    /// Quota in bytes; 0 means the server default.
    pub quota: u64,
    /// Bytes used (sum of message sizes, kept incrementally).
    pub storage_used: i64,
    /// Retention for new mailboxes in ms; 0 = keep forever.
    pub retention: u64,
    /// Tags.
    pub tags: Vec<String>,
    /// Scopes (`imap`, `pop3`, `smtp`) that may not be used.
    pub disabled_scopes: Vec<String>,
    /// Account can not be used at all.
    pub disabled: bool,
    /// Account is suspended.
    pub suspended: bool,
    /// Account is activated.
    pub activated: bool,
    /// Per-user limits (`None` = server default).
    pub limits: UserLimits,
    /// Creation time.
    pub created: Timestamp,
    /// A temporary password from a password reset, if one is set.
    pub temp_password: Option<super::TempPassword>,
    /// `metaData`: the JSON text of an object, as the API stored it (`None` = never set).
    pub meta_data: Option<String>,
    /// `internalData`: like `meta_data`, for the operator only (hidden from user tokens).
    pub internal_data: Option<String>,
}

/// Per-user limits as WildDuck stores them on the user document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserLimits {
    /// `recipients`: outbound recipients a day.
    pub recipients: Option<u64>,
    /// `forwards`: forwards a day.
    pub forwards: Option<u64>,
    /// `imapMaxUpload`: bytes a day.
    pub imap_max_upload: Option<u64>,
    /// `imapMaxDownload`: bytes a day.
    pub imap_max_download: Option<u64>,
    /// `pop3MaxDownload`: bytes a day.
    pub pop3_max_download: Option<u64>,
    /// `pop3MaxMessages`: messages listed per POP3 session.
    pub pop3_max_messages: Option<u64>,
    /// `imapMaxConnections`: concurrent IMAP connections.
    pub imap_max_connections: Option<u64>,
    /// `receivedMax`: inbound messages per 60 s.
    pub received_max: Option<u64>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New password hash (the service hashes; also bumps `auth_version`).
    pub password: Option<String>,
    /// New main address.
    pub address: Option<String>,
    /// New language.
    pub language: Option<String>,
    /// New quota in bytes.
    pub quota: Option<u64>,
    /// New retention in ms.
    pub retention: Option<u64>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New disabled scopes.
    pub disabled_scopes: Option<Vec<String>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// Suspend or resume.
    pub suspended: Option<bool>,
    /// New `metaData` (JSON text of an object; checked by the service).
    pub meta_data: Option<String>,
    /// New `internalData` (JSON text of an object; checked by the service).
    pub internal_data: Option<String>,
}

/// An email address (`addresses` collection).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Address {
    /// Id.
    pub id: AddressId,
    /// Owner; `None` for forwarded addresses.
    pub user: Option<UserId>,
    /// The address as stored (`local@domain`, domain lower-cased; wildcards literal).
    pub address: String,
    /// The unique lookup form: lower-cased, dots and `+label` removed from the local part.
    pub addrview: String,
    /// Display name.
    pub name: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Creation time.
    pub created: Timestamp,
    /// The forwarded-only fields; `Some` exactly for forwarded addresses (WildDuck tells them
    /// apart by the presence of `targets`).
    pub forwarding: Option<super::Forwarding>,
    /// `metaData` of a user's address: the JSON text of an object (a forwarded address keeps
    /// its own in [`super::Forwarding::meta_data`], this stays `None` there).
    pub meta_data: Option<String>,
    /// `internalData` of a user's address, like `meta_data` (hidden from user tokens).
    pub internal_data: Option<String>,
}

/// A mailbox (`mailboxes` collection).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mailbox {
    /// Id.
    pub id: MailboxId,
    /// Owner.
    pub user: UserId,
    /// Full path with `/` as delimiter.
    pub path: String,
    /// Special use, if any.
    pub special_use: Option<SpecialUse>,
    /// UIDVALIDITY: creation time in seconds; never changes.
    pub uid_validity: u32,
    /// The next UID to assign.
    pub uid_next: Uid,
    /// HIGHESTMODSEQ.
    pub modify_index: ModSeq,
    /// Subscribed (LSUB).
    pub subscribed: bool,
    /// Keywords seen in this mailbox (shown in FLAGS / PERMANENTFLAGS).
    pub flags: Vec<String>,
    /// Retention in ms for messages added here; 0 = never expire.
    pub retention: u64,
    /// Hidden from listings.
    pub hidden: bool,
    /// Encrypt messages stored here.
    pub encrypt_messages: bool,
}

impl Mailbox {
    /// When a message added here at `now` expires: `now + retention`, or never without a
    /// retention (WildDuck's `exp: !!retention, rdate: now + retention` on append, copy and
    /// move).
    pub fn expiry_from(&self, now: Timestamp) -> Option<Timestamp> {
        (self.retention > 0).then(|| {
            Timestamp(
                now.0
                    .saturating_add(i64::try_from(self.retention).unwrap_or(i64::MAX)),
            )
        })
    }
}

/// STATUS data of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxStatus {
    /// Number of messages.
    pub messages: u64,
    /// Messages without `\Seen`.
    pub unseen: u64,
    /// Next UID.
    pub uid_next: Uid,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: ModSeq,
}

/// The metadata of a stored message: everything FETCH of flags/size/dates and SEARCH of non-text keys
/// need, without the MIME tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageMeta {
    /// Document id (new on copy/move).
    pub id: MessageId,
    /// The original id, kept across copy/move.
    pub root: MessageId,
    /// Owner.
    pub user: UserId,
    /// Mailbox.
    pub mailbox: MailboxId,
    /// UID in the mailbox.
    pub uid: Uid,
    /// MODSEQ of the last change.
    pub modseq: ModSeq,
    /// Thread.
    pub thread: Option<ThreadId>,
    /// INTERNALDATE.
    pub idate: Timestamp,
    /// Date header (falls back to `idate`).
    pub hdate: Timestamp,
    /// Flags.
    pub flags: Flags,
    /// RFC822.SIZE: byte length of the rebuilt message (the quota unit).
    pub size: u64,
    /// Message-ID.
    pub msgid: Option<String>,
    /// Decoded, whitespace-normalised subject.
    pub subject: String,
    /// Has a non-related attachment.
    pub has_attachments: bool,
    /// Stored in / moved into `\Junk`.
    pub junk: bool,
    /// Random 16-bit number for attachment reference accounting.
    pub magic: u32,
    /// Expiry time (ms since epoch) from the mailbox retention, if any.
    pub rdate: Option<Timestamp>,
    /// Keys of the attachment blobs the message references (for reference accounting).
    pub blobs: Vec<String>,
}

/// Kind of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalCommand {
    /// A message appeared.
    Exists,
    /// A message was removed.
    Expunge,
    /// A message's flags changed.
    Fetch,
    /// A mailbox was created.
    Create,
    /// A mailbox was deleted.
    Delete,
    /// A mailbox was renamed.
    Rename,
}

impl JournalCommand {
    /// Stored form (`EXISTS`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exists => "EXISTS",
            Self::Expunge => "EXPUNGE",
            Self::Fetch => "FETCH",
            Self::Create => "CREATE",
            Self::Delete => "DELETE",
            Self::Rename => "RENAME",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "EXISTS" => Self::Exists,
            "EXPUNGE" => Self::Expunge,
            "FETCH" => Self::Fetch,
            "CREATE" => Self::Create,
            "DELETE" => Self::Delete,
            "RENAME" => Self::Rename,
            _ => return None,
        })
    }
}

/// One change, as other sessions and instances learn it (`journal` collection).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournalEntry {
    /// Id (assigned on insert when default).
    pub id: JournalId,
    /// User.
    pub user: UserId,
    /// Mailbox.
    pub mailbox: MailboxId,
    /// What happened.
    pub command: Option<JournalCommand>,
    /// UID concerned.
    pub uid: Option<Uid>,
    /// Message concerned.
    pub message: Option<MessageId>,
    /// MODSEQ of the change.
    pub modseq: ModSeq,
    /// New flags for `FETCH`, flags for `EXISTS`.
    pub flags: Option<Vec<String>>,
    /// Unseen state after the change.
    pub unseen: Option<bool>,
    /// Whether the unseen state changed.
    pub unseen_change: Option<bool>,
    /// INTERNALDATE for `EXISTS`.
    pub idate: Option<Timestamp>,
    /// Thread for `EXISTS`.
    pub thread: Option<ThreadId>,
    /// Session that caused the change (it already told its client).
    pub ignore: Option<String>,
    /// Path for mailbox-level entries.
    pub path: Option<String>,
    /// Creation time (TTL 3 h on MongoDB).
    pub created: Timestamp,
}
