//! The command AST: what a client asked for, fully parsed and validated, with no session state
//! applied. Sequence sets are kept symbolic (`*` unresolved) because only the session knows the
//! mailbox; [`SequenceSet::resolve_seq`] / [`SequenceSet::resolve_uid`] turn them into UIDs.

use wildduck_core::message::section::SectionSpec;
use wildduck_core::model::{Flag, Timestamp, Uid, UidSet};
use wildduck_core::search::SearchKey;

/// One parsed command: the client's tag and what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag, echoed in the tagged response.
    pub tag: String,
    /// The command and its arguments.
    pub body: CommandBody,
}

impl Command {
    /// The canonical command name (`UID FETCH`, `AUTHENTICATE`, …) for messages and logs.
    pub fn name(&self) -> &'static str {
        self.body.name()
    }
}

/// Every command WildDuck's dispatcher knows (inventory §1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `STARTTLS`
    StartTls,
    /// `LOGIN username password`
    Login {
        /// The user name (astring, UTF-8).
        username: String,
        /// The password (astring, UTF-8).
        password: String,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR, RFC 4959).
    Authenticate {
        /// The mechanism, upper-cased (`PLAIN`, `PLAIN-CLIENTTOKEN`, or anything the client sent).
        mechanism: String,
        /// The initial response, BASE64-decoded; `Some(empty)` for `=`; `None` when absent (then
        /// the session sends `+ ` and reads a continuation line).
        initial_response: Option<Vec<u8>>,
    },
    /// `ID NIL` or `ID ("key" "value" …)` (RFC 2971); `None` for `NIL`.
    Id(Option<Vec<(String, Option<String>)>>),
    /// `ENABLE cap…` (RFC 5161); capability names upper-cased, unknown ones kept.
    Enable(Vec<String>),
    /// `COMPRESS mechanism` (RFC 4978); mechanism upper-cased.
    Compress {
        /// `DEFLATE` is the only one WildDuck accepts; the session checks.
        mechanism: String,
    },
    /// `NAMESPACE`
    Namespace,
    /// `SELECT` / `EXAMINE mailbox [(CONDSTORE)]`.
    Select {
        /// The mailbox.
        mailbox: String,
        /// `EXAMINE` rather than `SELECT`.
        read_only: bool,
        /// The `(CONDSTORE)` select parameter was given (RFC 7162 §3.1.8).
        condstore: bool,
    },
    /// `CREATE mailbox`. A trailing `/` is kept so the session can answer WildDuck's
    /// `OK [CANNOT] Ignoring hierarchy declaration`.
    Create {
        /// The mailbox (decoded, INBOX case-normalised, trailing delimiter kept).
        mailbox: String,
    },
    /// `DELETE mailbox`
    Delete {
        /// The mailbox.
        mailbox: String,
    },
    /// `RENAME from to`
    Rename {
        /// Existing name.
        from: String,
        /// New name.
        to: String,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// The mailbox.
        mailbox: String,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// The mailbox.
        mailbox: String,
    },
    /// `LIST`, `LSUB`, `XLIST` (with the LIST-EXTENDED options WildDuck accepts).
    List(ListCommand),
    /// `STATUS mailbox (items)`
    Status {
        /// The mailbox.
        mailbox: String,
        /// The requested items, in request order.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flags] [date-time] literal` (one message: no MULTIAPPEND, as WildDuck).
    Append(AppendCommand),
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT`
    Unselect,
    /// `EXPUNGE` (`uids: None`) or `UID EXPUNGE set`.
    Expunge {
        /// The `UID EXPUNGE` set.
        uids: Option<SequenceSet>,
    },
    /// `[UID] SEARCH [CHARSET x] keys…`
    Search {
        /// `UID SEARCH`
        uid: bool,
        /// The `CHARSET` argument (upper-cased); WildDuck ignores it, as may the session.
        charset: Option<String>,
        /// The criteria, an implicit AND of the top-level keys.
        query: SearchQuery,
    },
    /// `[UID] FETCH set items [(CHANGEDSINCE n)]`
    Fetch(FetchCommand),
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`
    Store(StoreCommand),
    /// `[UID] COPY set mailbox`
    Copy {
        /// `UID COPY`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// Destination.
        mailbox: String,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851)
    Move {
        /// `UID MOVE`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// Destination.
        mailbox: String,
    },
    /// `IDLE` (the session then reads `DONE` with [`crate::proto::is_idle_done`]).
    Idle,
    /// `GETQUOTA root`
    GetQuota {
        /// The quota root (WildDuck has only `""`).
        root: String,
    },
    /// `GETQUOTAROOT mailbox`
    GetQuotaRoot {
        /// The mailbox.
        mailbox: String,
    },
    /// `SETQUOTA root (resource limit …)` (WildDuck always refuses it).
    SetQuota {
        /// The quota root.
        root: String,
        /// Resource name (upper-cased) and limit pairs.
        limits: Vec<(String, u64)>,
    },
    /// `XAPPLEPUSHSERVICE aps-version 2 aps-account-id x …` (parsed; WildDuck never serves it).
    XApplePushService(ApplePush),
}

impl CommandBody {
    /// The canonical command name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::StartTls => "STARTTLS",
            Self::Login { .. } => "LOGIN",
            Self::Authenticate { .. } => "AUTHENTICATE",
            Self::Id(_) => "ID",
            Self::Enable(_) => "ENABLE",
            Self::Compress { .. } => "COMPRESS",
            Self::Namespace => "NAMESPACE",
            Self::Select {
                read_only: false, ..
            } => "SELECT",
            Self::Select {
                read_only: true, ..
            } => "EXAMINE",
            Self::Create { .. } => "CREATE",
            Self::Delete { .. } => "DELETE",
            Self::Rename { .. } => "RENAME",
            Self::Subscribe { .. } => "SUBSCRIBE",
            Self::Unsubscribe { .. } => "UNSUBSCRIBE",
            Self::List(l) => match l.kind {
                ListKind::List => "LIST",
                ListKind::Lsub => "LSUB",
                ListKind::Xlist => "XLIST",
            },
            Self::Status { .. } => "STATUS",
            Self::Append(_) => "APPEND",
            Self::Check => "CHECK",
            Self::Close => "CLOSE",
            Self::Unselect => "UNSELECT",
            Self::Expunge { uids: None } => "EXPUNGE",
            Self::Expunge { uids: Some(_) } => "UID EXPUNGE",
            Self::Search { uid: false, .. } => "SEARCH",
            Self::Search { uid: true, .. } => "UID SEARCH",
            Self::Fetch(f) if f.uid => "UID FETCH",
            Self::Fetch(_) => "FETCH",
            Self::Store(s) if s.uid => "UID STORE",
            Self::Store(_) => "STORE",
            Self::Copy { uid: false, .. } => "COPY",
            Self::Copy { uid: true, .. } => "UID COPY",
            Self::Move { uid: false, .. } => "MOVE",
            Self::Move { uid: true, .. } => "UID MOVE",
            Self::Idle => "IDLE",
            Self::GetQuota { .. } => "GETQUOTA",
            Self::GetQuotaRoot { .. } => "GETQUOTAROOT",
            Self::SetQuota { .. } => "SETQUOTA",
            Self::XApplePushService(_) => "XAPPLEPUSHSERVICE",
        }
    }
}

/// One end of a sequence range: a number or `*` (the largest number in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNum {
    /// A message sequence number or UID (never 0).
    Value(u32),
    /// `*`
    Star,
}

impl SeqNum {
    fn resolve(self, largest: u32) -> u32 {
        match self {
            Self::Value(v) => v,
            Self::Star => largest,
        }
    }
}

/// A sequence set (`1:3,7,9:*`), unresolved. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(pub Vec<(SeqNum, SeqNum)>);

impl SequenceSet {
    /// Resolves the set as message sequence numbers against the selected mailbox's sorted UID
    /// list: `*` is the last message; numbers beyond the mailbox are dropped (as WildDuck).
    pub fn resolve_seq(&self, uids: &[Uid]) -> UidSet {
        let len = u32::try_from(uids.len()).unwrap_or(u32::MAX);
        let mut out = UidSet::new();
        if len == 0 {
            return out;
        }
        for &(a, b) in &self.0 {
            let (a, b) = (a.resolve(len), b.resolve(len));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let lo = lo.max(1);
            let hi = hi.min(len);
            if lo > hi {
                continue;
            }
            let from = usize::try_from(lo - 1).unwrap_or(usize::MAX);
            let to = usize::try_from(hi).unwrap_or(usize::MAX);
            if let Some(slice) = uids.get(from..to) {
                for uid in slice {
                    out.insert(uid.0);
                }
            }
        }
        out
    }

    /// Resolves the set as UIDs: `*` is the largest UID in the mailbox (`uids` sorted), so
    /// `559:*` always includes the last message (RFC 3501 §6.4.8). With an empty mailbox `*`
    /// matches nothing. The result is not intersected with the mailbox.
    pub fn resolve_uid(&self, uids: &[Uid]) -> UidSet {
        let largest = uids.last().map(|u| u.0);
        let mut out = UidSet::new();
        for &(a, b) in &self.0 {
            let (a, b) = match (a, b, largest) {
                (SeqNum::Star, _, None) | (_, SeqNum::Star, None) => continue,
                (a, b, l) => (a.resolve(l.unwrap_or(0)), b.resolve(l.unwrap_or(0))),
            };
            out.insert_range(a, b);
        }
        out
    }

    /// Resolves as UIDs when `uid`, else as sequence numbers.
    pub fn resolve(&self, uid: bool, uids: &[Uid]) -> UidSet {
        if uid {
            self.resolve_uid(uids)
        } else {
            self.resolve_seq(uids)
        }
    }
}

/// Which listing command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `LIST`
    List,
    /// `LSUB`
    Lsub,
    /// `XLIST` (Gmail legacy)
    Xlist,
}

/// A LIST-EXTENDED selection option (RFC 5258 §3.1). WildDuck serves only `SPECIAL-USE`; the
/// others are parsed so the session can answer precisely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListSelect {
    /// `SPECIAL-USE` (RFC 6154)
    SpecialUse,
    /// `SUBSCRIBED`
    Subscribed,
    /// `REMOTE`
    Remote,
    /// `RECURSIVEMATCH`
    RecursiveMatch,
}

/// A LIST-EXTENDED return option (RFC 5258 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListReturn {
    /// `SPECIAL-USE`
    SpecialUse,
    /// `SUBSCRIBED`
    Subscribed,
    /// `CHILDREN`
    Children,
}

/// `LIST`/`LSUB`/`XLIST` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    /// Which command.
    pub kind: ListKind,
    /// Selection options (`LIST (SPECIAL-USE) "" "*"`); empty when none.
    pub selection: Vec<ListSelect>,
    /// The reference name (decoded).
    pub reference: String,
    /// The mailbox patterns (decoded); more than one only with LIST-EXTENDED's `("a" "b")`.
    /// An empty pattern asks for the hierarchy delimiter.
    pub patterns: Vec<String>,
    /// Return options (`RETURN (SPECIAL-USE)`); empty when none.
    pub returns: Vec<ListReturn>,
}

/// A STATUS data item WildDuck answers (others are a parse error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT` (always 0)
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `HIGHESTMODSEQ` (enables CONDSTORE)
    HighestModSeq,
}

impl StatusItem {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Messages => "MESSAGES",
            Self::Recent => "RECENT",
            Self::UidNext => "UIDNEXT",
            Self::UidValidity => "UIDVALIDITY",
            Self::Unseen => "UNSEEN",
            Self::HighestModSeq => "HIGHESTMODSEQ",
        }
    }
}

/// The APPEND message data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    /// A small literal that the framer kept in the frame.
    Inline(Vec<u8>),
    /// A literal the framer delivered as [`crate::proto::FramerEvent::LiteralData`] chunks
    /// (so the session stored it itself); `size` bytes in all.
    Streamed {
        /// The declared literal size.
        size: u64,
    },
}

impl AppendData {
    /// The message size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Inline(v) => v.len() as u64,
            Self::Streamed { size } => *size,
        }
    }

    /// Whether the message is empty (WildDuck answers `NO`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `APPEND` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCommand {
    /// Destination mailbox.
    pub mailbox: String,
    /// Flags to set (system flags normalised, duplicates removed).
    pub flags: Vec<Flag>,
    /// The internal date given, if any (not range-checked: the session refuses dates more than
    /// 24 h ahead as WildDuck does).
    pub date: Option<Timestamp>,
    /// The `UTF8 (literal)` form of RFC 6855 was used.
    pub utf8: bool,
    /// The message.
    pub message: AppendData,
}

/// A search criterion tree whose leaves are either ready [`SearchKey`]s or sequence sets still to
/// be resolved against the session's UID list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchQuery {
    /// A key that needs no session state (never `Uids`, `Not`, `Or` or `And`).
    Key(SearchKey),
    /// A bare sequence set (message numbers).
    Seq(SequenceSet),
    /// `UID set`
    Uid(SequenceSet),
    /// `NOT q`
    Not(Box<SearchQuery>),
    /// `OR a b`
    Or(Box<SearchQuery>, Box<SearchQuery>),
    /// A parenthesised list or the top-level list: all must match.
    And(Vec<SearchQuery>),
}

impl SearchQuery {
    /// Produces the core's [`SearchKey`], resolving sequence sets against the sorted UIDs of the
    /// selected mailbox.
    pub fn resolve(&self, uids: &[Uid]) -> SearchKey {
        match self {
            Self::Key(k) => k.clone(),
            Self::Seq(s) => SearchKey::Uids(s.resolve_seq(uids)),
            Self::Uid(s) => SearchKey::Uids(s.resolve_uid(uids)),
            Self::Not(q) => q.resolve(uids).negate(),
            Self::Or(a, b) => a.resolve(uids).or(b.resolve(uids)),
            Self::And(v) => SearchKey::And(v.iter().map(|q| q.resolve(uids)).collect()),
        }
    }

    /// Whether a `MODSEQ` key occurs (the answer then carries `(MODSEQ n)`, and CONDSTORE is on).
    pub fn uses_modseq(&self) -> bool {
        match self {
            Self::Key(k) => k.uses_modseq(),
            Self::Seq(_) | Self::Uid(_) => false,
            Self::Not(q) => q.uses_modseq(),
            Self::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            Self::And(v) => v.iter().any(Self::uses_modseq),
        }
    }
}

/// A partial range `<offset.length>`: the reply names only `<offset>` (RFC 3501).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet.
    pub offset: u32,
    /// Maximum number of octets; `None` for WildDuck's lenient `<offset>` form (to the end).
    pub length: Option<u32>,
}

/// One FETCH data item (macros are expanded by the parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    /// `FLAGS`
    Flags,
    /// `UID`
    Uid,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `ENVELOPE`
    Envelope,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// The section.
        section: SectionSpec,
        /// The partial range.
        partial: Option<Partial>,
        /// `BODY.PEEK`: do not set `\Seen`.
        peek: bool,
    },
    /// `RFC822` (= `BODY[]`, sets `\Seen`)
    Rfc822,
    /// `RFC822.HEADER` (= `BODY.PEEK[HEADER]`)
    Rfc822Header,
    /// `RFC822.TEXT` (= `BODY[TEXT]`, sets `\Seen`)
    Rfc822Text,
    /// `MODSEQ` (RFC 7162)
    ModSeq,
}

impl FetchItem {
    /// Whether fetching this item sets `\Seen` on a read-write mailbox (RFC 3501 §6.4.5).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            Self::BodySection { peek: false, .. } | Self::Rfc822 | Self::Rfc822Text
        )
    }

    /// Whether the item needs the message content rather than only its metadata.
    pub fn needs_content(&self) -> bool {
        matches!(
            self,
            Self::BodySection { .. } | Self::Rfc822 | Self::Rfc822Header | Self::Rfc822Text
        )
    }
}

/// `FETCH` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCommand {
    /// `UID FETCH` (the session adds `UID` to the reply items).
    pub uid: bool,
    /// The messages.
    pub set: SequenceSet,
    /// The items in request order, macros expanded, duplicates kept.
    pub items: Vec<FetchItem>,
    /// `(CHANGEDSINCE n)` (RFC 7162): only messages with a greater MODSEQ; implies `MODSEQ`.
    pub changed_since: Option<u64>,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreAction {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// `STORE` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCommand {
    /// `UID STORE`
    pub uid: bool,
    /// The messages.
    pub set: SequenceSet,
    /// Replace, add or remove.
    pub action: StoreAction,
    /// `.SILENT`
    pub silent: bool,
    /// The flags (system flags normalised).
    pub flags: Vec<Flag>,
    /// `(UNCHANGEDSINCE n)` (RFC 7162).
    pub unchanged_since: Option<u64>,
}

/// `XAPPLEPUSHSERVICE` arguments (all optional: the session validates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplePush {
    /// `aps-version`
    pub version: Option<String>,
    /// `aps-account-id`
    pub account_id: Option<String>,
    /// `aps-device-token`
    pub device_token: Option<String>,
    /// `aps-subtopic`
    pub subtopic: Option<String>,
    /// `mailboxes (…)`
    pub mailboxes: Vec<String>,
}
