//! Message search: a protocol-neutral query tree ([`SearchKey`]) covering every IMAP `SEARCH` key
//! (RFC 3501 §6.4.4, RFC 5032 `WITHIN`, RFC 7162 `MODSEQ`), compiled into a backend-neutral
//! [`SearchPlan`] that the stores translate into one query and that [`SearchPlan::matches`]
//! evaluates in memory (the reference the backends are tested against).
//!
//! Semantics (the same on every backend):
//! - String keys match a case-insensitive substring (RFC 3501); an empty string matches every message
//!   that has the field (for headers: the header is present).
//! - `FROM`, `TO`, `CC`, `SUBJECT` and `HEADER` on one of WildDuck's indexed headers
//!   ([`INDEXED_HEADERS`]) match the decoded, lower-cased indexed value. Any other header (`BCC`,
//!   `HEADER X-Mailer …`) matches the raw top-level header lines as stored (not MIME-decoded).
//! - `BODY` matches the plain text of the message (`text` + `textFooter`), `TEXT` additionally the
//!   indexed header values and the raw header lines. No full-text index is involved.
//! - Date keys compare the UTC calendar day of the internal date (`BEFORE`/`ON`/`SINCE`) or of the
//!   `Date:` header, falling back to the internal date (`SENT*`), as WildDuck does.
//! - `\Recent` is not kept (as in WildDuck): `RECENT` and `NEW` match nothing, `OLD` matches
//!   everything, unless the session substitutes its own recent set with [`SearchKey::with_recent`].
//!
//! [`INDEXED_HEADERS`]: crate::message::maildata::INDEXED_HEADERS

use std::fmt;
use std::ops::Not as _;

use crate::message::StoredMessage;
use crate::message::maildata::{INDEXED_HEADERS, IndexedHeader};
use crate::model::{Flag, MessageMeta, ModSeq, Timestamp, Uid, UidSet};

mod matcher;

pub use matcher::contains_ci;

/// The deepest search tree the services accept ([`SearchKey::depth`]): evaluation is recursive,
/// and MongoDB refuses queries nested more than 100 levels.
pub const MAX_SEARCH_DEPTH: usize = 32;

/// A calendar date (no time, no zone), as IMAP date search keys carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SearchDate {
    year: i32,
    month: u8,
    day: u8,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const DAY_MS: i64 = 24 * 3600 * 1000;

impl SearchDate {
    /// A valid Gregorian date (years 1..=9999), `None` otherwise.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        (day <= days).then_some(Self { year, month, day })
    }

    /// The UTC calendar day `t` falls on.
    pub fn of(t: Timestamp) -> Self {
        let days = t.0.div_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        Self { year, month, day }
    }

    /// Year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Day of the month, 1–31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Milliseconds since the epoch at 00:00 UTC of this day (WildDuck compares dates as GMT).
    pub fn start_ms(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * DAY_MS
    }
}

impl fmt::Display for SearchDate {
    /// The IMAP `date` form, e.g. `1-Feb-1994`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS
            .get(usize::from(self.month).saturating_sub(1))
            .copied()
            .unwrap_or("???");
        write!(f, "{}-{}-{}", self.day, month, self.year)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX }),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

/// Which metadata item a `MODSEQ` search key names (RFC 7162 `entry-type-req`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`
    Private,
    /// `shared`
    Shared,
    /// `all`
    All,
}

impl EntryType {
    /// The wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Private => "priv",
            Self::Shared => "shared",
            Self::All => "all",
        }
    }
}

/// The optional entry of a `MODSEQ` key (`"/flags/\\seen" all`). Kept for the record: MODSEQs are
/// per message, not per flag (as in WildDuck), so the entry does not change the result, which
/// RFC 7162 §3.1.5 allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModSeqEntry {
    /// Entry name, e.g. `/flags/\seen`.
    pub name: String,
    /// Entry type.
    pub kind: EntryType,
}

/// One IMAP search key, protocol-neutral: the adapter parses its syntax, resolves sequence numbers
/// and `*` to UIDs, and hands over this tree. A list of keys is [`SearchKey::And`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// A sequence set or `UID` set, already resolved to UIDs by the caller.
    Uids(UidSet),
    /// `ANSWERED`
    Answered,
    /// `UNANSWERED`
    Unanswered,
    /// `DELETED`
    Deleted,
    /// `UNDELETED`
    Undeleted,
    /// `DRAFT`
    Draft,
    /// `UNDRAFT`
    Undraft,
    /// `FLAGGED`
    Flagged,
    /// `UNFLAGGED`
    Unflagged,
    /// `SEEN`
    Seen,
    /// `UNSEEN`
    Unseen,
    /// `RECENT` (never kept: matches nothing unless replaced by [`SearchKey::with_recent`]).
    Recent,
    /// `NEW` (`RECENT UNSEEN`).
    New,
    /// `OLD` (`NOT RECENT`).
    Old,
    /// `KEYWORD flag` (case-insensitive, RFC 3501 §2.3.2).
    Keyword(String),
    /// `UNKEYWORD flag`
    Unkeyword(String),
    /// `FROM string`
    From(String),
    /// `TO string`
    To(String),
    /// `CC string`
    Cc(String),
    /// `BCC string`
    Bcc(String),
    /// `SUBJECT string`
    Subject(String),
    /// `HEADER field-name string`; an empty string matches any message that has the field.
    Header(String, String),
    /// `BODY string`
    Body(String),
    /// `TEXT string` (header or body).
    Text(String),
    /// `BEFORE date`: internal date earlier than the day.
    Before(SearchDate),
    /// `ON date`: internal date within the day.
    On(SearchDate),
    /// `SINCE date`: internal date within or later than the day.
    Since(SearchDate),
    /// `SENTBEFORE date` (the `Date:` header, or the internal date when absent).
    SentBefore(SearchDate),
    /// `SENTON date`
    SentOn(SearchDate),
    /// `SENTSINCE date`
    SentSince(SearchDate),
    /// `LARGER n`: `RFC822.SIZE` above n.
    Larger(u64),
    /// `SMALLER n`: `RFC822.SIZE` below n.
    Smaller(u64),
    /// `OLDER n` (RFC 5032): internal date at least n seconds before now.
    Older(u64),
    /// `YOUNGER n` (RFC 5032): internal date at most n seconds before now.
    Younger(u64),
    /// `MODSEQ [entry type] n` (RFC 7162): MODSEQ at least n.
    ModSeq {
        /// The optional entry name and type (does not change the result).
        entry: Option<ModSeqEntry>,
        /// The lowest MODSEQ that matches.
        modseq: ModSeq,
    },
    /// `NOT key`
    Not(Box<SearchKey>),
    /// `OR key1 key2`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// A parenthesised list (or the top-level list): every key matches.
    And(Vec<SearchKey>),
}

impl SearchKey {
    /// Every key of `keys` matches.
    pub fn and<I: IntoIterator<Item = SearchKey>>(keys: I) -> Self {
        Self::And(keys.into_iter().collect())
    }

    /// `self` or `other` matches.
    pub fn or(self, other: SearchKey) -> Self {
        Self::Or(Box::new(self), Box::new(other))
    }

    /// `self` does not match.
    pub fn negate(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// `HEADER name value`.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Header(name.into(), value.into())
    }

    /// A UID (or resolved sequence) set.
    pub fn uids(set: UidSet) -> Self {
        Self::Uids(set)
    }

    /// `MODSEQ n` without an entry.
    pub fn modseq(modseq: u64) -> Self {
        Self::ModSeq {
            entry: None,
            modseq: ModSeq(modseq),
        }
    }

    /// Nesting depth of the tree (a leaf is 1), computed without recursion so that any tree can be
    /// measured before it is walked.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack: Vec<(&SearchKey, usize)> = vec![(self, 1)];
        while let Some((k, d)) = stack.pop() {
            max = max.max(d);
            match k {
                Self::Not(inner) => stack.push((inner, d + 1)),
                Self::Or(a, b) => {
                    stack.push((a, d + 1));
                    stack.push((b, d + 1));
                }
                Self::And(v) => stack.extend(v.iter().map(|x| (x, d + 1))),
                _ => {}
            }
        }
        max
    }

    /// Whether a `MODSEQ` key occurs anywhere in the tree: then the IMAP answer carries the highest
    /// MODSEQ of the matches (RFC 7162 §3.1.5).
    pub fn uses_modseq(&self) -> bool {
        match self {
            Self::ModSeq { .. } => true,
            Self::Not(k) => k.uses_modseq(),
            Self::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            Self::And(v) => v.iter().any(Self::uses_modseq),
            _ => false,
        }
    }

    /// Replaces `RECENT`, `NEW` and `OLD` with conditions on a session's recent UIDs, for a
    /// session that tracks `\Recent` itself.
    pub fn with_recent(self, recent: &UidSet) -> Self {
        match self {
            Self::Recent => Self::Uids(recent.clone()),
            Self::New => Self::And(vec![Self::Uids(recent.clone()), Self::Unseen]),
            Self::Old => Self::Uids(recent.clone()).negate(),
            Self::Not(k) => k.with_recent(recent).negate(),
            Self::Or(a, b) => a.with_recent(recent).or(b.with_recent(recent)),
            Self::And(v) => Self::And(v.into_iter().map(|k| k.with_recent(recent)).collect()),
            other => other,
        }
    }

    /// Compiles the tree into a [`SearchPlan`], resolving `OLDER`/`YOUNGER` against `now` and
    /// folding constant parts (`ALL`, `RECENT`, empty lists) away. Recursive: check an untrusted
    /// tree's [`SearchKey::depth`] against [`MAX_SEARCH_DEPTH`] first (the services do).
    pub fn plan(&self, now: Timestamp) -> SearchPlan {
        use Condition as C;
        let cond = |c: Condition| SearchPlan::Cond(c);
        let header = |name: &str, value: &str| header_condition(name, value);
        let p = match self {
            Self::All => SearchPlan::All,
            Self::Uids(set) if set.is_all() => SearchPlan::All,
            Self::Uids(set) if set.is_empty() => SearchPlan::Nothing,
            Self::Uids(set) => cond(C::Uids(set.clone())),
            Self::Answered => cond(C::Flag(Flag::Answered)),
            Self::Unanswered => cond(C::Flag(Flag::Answered)).not(),
            Self::Deleted => cond(C::Flag(Flag::Deleted)),
            Self::Undeleted => cond(C::Flag(Flag::Deleted)).not(),
            Self::Draft => cond(C::Flag(Flag::Draft)),
            Self::Undraft => cond(C::Flag(Flag::Draft)).not(),
            Self::Flagged => cond(C::Flag(Flag::Flagged)),
            Self::Unflagged => cond(C::Flag(Flag::Flagged)).not(),
            Self::Seen => cond(C::Flag(Flag::Seen)),
            Self::Unseen => cond(C::Flag(Flag::Seen)).not(),
            Self::Recent | Self::New => SearchPlan::Nothing,
            Self::Old => SearchPlan::All,
            Self::Keyword(k) => keyword_plan(k),
            Self::Unkeyword(k) => keyword_plan(k).not(),
            Self::From(v) => header("from", v),
            Self::To(v) => header("to", v),
            Self::Cc(v) => header("cc", v),
            Self::Bcc(v) => header("bcc", v),
            Self::Subject(v) => header("subject", v),
            Self::Header(name, v) => header(name, v),
            Self::Body(v) => cond(C::Body(v.clone())),
            Self::Text(v) => cond(C::Text(v.clone())),
            Self::Before(d) => cond(C::InternalDate(MsRange::before(d.start_ms()))),
            Self::On(d) => cond(C::InternalDate(MsRange::day(d.start_ms()))),
            Self::Since(d) => cond(C::InternalDate(MsRange::since(d.start_ms()))),
            Self::SentBefore(d) => cond(C::SentDate(MsRange::before(d.start_ms()))),
            Self::SentOn(d) => cond(C::SentDate(MsRange::day(d.start_ms()))),
            Self::SentSince(d) => cond(C::SentDate(MsRange::since(d.start_ms()))),
            Self::Larger(n) => cond(C::SizeAbove(*n)),
            Self::Smaller(0) => SearchPlan::Nothing,
            Self::Smaller(n) => cond(C::SizeBelow(*n)),
            Self::Older(secs) => {
                // Internal date at or before now − n s.
                let limit = now.0.saturating_sub(secs_ms(*secs));
                cond(C::InternalDate(MsRange::before(limit.saturating_add(1))))
            }
            Self::Younger(secs) => {
                let limit = now.0.saturating_sub(secs_ms(*secs));
                cond(C::InternalDate(MsRange::since(limit)))
            }
            Self::ModSeq { modseq, .. } if modseq.0 == 0 => SearchPlan::All,
            Self::ModSeq { modseq, .. } => cond(C::ModSeqAtLeast(*modseq)),
            Self::Not(k) => k.plan(now).not(),
            Self::Or(a, b) => SearchPlan::Or(vec![a.plan(now), b.plan(now)]),
            Self::And(v) => SearchPlan::And(v.iter().map(|k| k.plan(now)).collect()),
        };
        p.simplify()
    }
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

fn keyword_plan(k: &str) -> SearchPlan {
    // A system flag named as a keyword means that flag; anything else is a keyword.
    match Flag::parse(k) {
        Ok(Flag::Keyword(_)) | Err(_) => SearchPlan::Cond(Condition::Keyword(k.to_string())),
        Ok(flag) => SearchPlan::Cond(Condition::Flag(flag)),
    }
}

fn header_condition(name: &str, value: &str) -> SearchPlan {
    let name = name.trim().to_ascii_lowercase();
    let indexed = INDEXED_HEADERS.contains(&name.as_str());
    SearchPlan::Cond(match (indexed, value.is_empty()) {
        (true, true) => Condition::IndexedHeaderPresent(name),
        (true, false) => Condition::IndexedHeader(name, value.to_string()),
        (false, true) => Condition::RawHeaderPresent(name),
        (false, false) => Condition::RawHeader(name, value.to_string()),
    })
}

/// A range of milliseconds since the epoch: `from` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsRange {
    /// Lowest matching value, if bounded below.
    pub from: Option<i64>,
    /// First value above the range, if bounded above.
    pub until: Option<i64>,
}

impl MsRange {
    fn before(t: i64) -> Self {
        Self {
            from: None,
            until: Some(t),
        }
    }

    fn since(t: i64) -> Self {
        Self {
            from: Some(t),
            until: None,
        }
    }

    fn day(start: i64) -> Self {
        Self {
            from: Some(start),
            until: Some(start.saturating_add(DAY_MS)),
        }
    }

    /// Whether `t` is in the range.
    pub fn contains(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

/// One primitive condition of a [`SearchPlan`]. String needles are as the client gave them; matching
/// is case-insensitive substring matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// UID in the set (never empty, never `1:*`: those fold into constants).
    Uids(UidSet),
    /// The flag is set (a system flag; keywords use [`Condition::Keyword`]).
    Flag(Flag),
    /// A keyword equal to this one, ignoring case, is set.
    Keyword(String),
    /// One of the indexed headers (lower-cased name) is present.
    IndexedHeaderPresent(String),
    /// An indexed header (lower-cased name) whose decoded value contains the needle.
    IndexedHeader(String, String),
    /// A raw top-level header line with this (lower-cased) name is present.
    RawHeaderPresent(String),
    /// A raw top-level header line with this name whose value contains the needle (compared as the
    /// stored bytes: the needle's UTF-8 bytes, ASCII case ignored).
    RawHeader(String, String),
    /// The plain text (`text` + `textFooter`) contains the needle.
    Body(String),
    /// The plain text, an indexed header value or a raw header line contains the needle.
    Text(String),
    /// The internal date is in the range.
    InternalDate(MsRange),
    /// The header date (falling back to the internal date) is in the range.
    SentDate(MsRange),
    /// Size above n.
    SizeAbove(u64),
    /// Size below n.
    SizeBelow(u64),
    /// MODSEQ at least n.
    ModSeqAtLeast(ModSeq),
}

/// A compiled search: constants folded, `OLDER`/`YOUNGER` resolved to dates, header keys resolved to
/// the indexed or raw form. What a backend translates into its query language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPlan {
    /// Matches every message.
    All,
    /// Matches no message.
    Nothing,
    /// A primitive condition.
    Cond(Condition),
    /// Negation.
    Not(Box<SearchPlan>),
    /// Every part matches (at least two after [`SearchPlan::simplify`]).
    And(Vec<SearchPlan>),
    /// Some part matches (at least two after [`SearchPlan::simplify`]).
    Or(Vec<SearchPlan>),
}

impl std::ops::Not for SearchPlan {
    type Output = SearchPlan;

    /// Negation (double negation and constants folded).
    fn not(self) -> Self {
        match self {
            Self::All => Self::Nothing,
            Self::Nothing => Self::All,
            Self::Not(inner) => *inner,
            other => Self::Not(Box::new(other)),
        }
    }
}

impl std::ops::Not for SearchKey {
    type Output = SearchKey;

    /// `NOT self`.
    fn not(self) -> Self {
        self.negate()
    }
}

impl SearchPlan {
    /// Folds constants and single-element lists: after this, `All` and `Nothing` occur only as the
    /// whole plan, and nested lists of the same kind are flattened.
    pub fn simplify(self) -> Self {
        match self {
            Self::Not(inner) => inner.simplify().not(),
            Self::And(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    match p.simplify() {
                        Self::All => {}
                        Self::Nothing => return Self::Nothing,
                        Self::And(inner) => out.extend(inner),
                        other => out.push(other),
                    }
                }
                match out.len() {
                    0 => Self::All,
                    1 => out.pop().unwrap_or(Self::All),
                    _ => Self::And(out),
                }
            }
            Self::Or(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    match p.simplify() {
                        Self::Nothing => {}
                        Self::All => return Self::All,
                        Self::Or(inner) => out.extend(inner),
                        other => out.push(other),
                    }
                }
                match out.len() {
                    0 => Self::Nothing,
                    1 => out.pop().unwrap_or(Self::Nothing),
                    _ => Self::Or(out),
                }
            }
            other => other,
        }
    }

    /// Whether evaluating the plan needs more than [`MessageMeta`] (headers or text).
    pub fn needs_content(&self) -> bool {
        match self {
            Self::All | Self::Nothing => false,
            Self::Cond(c) => matches!(
                c,
                Condition::IndexedHeaderPresent(_)
                    | Condition::IndexedHeader(..)
                    | Condition::RawHeaderPresent(_)
                    | Condition::RawHeader(..)
                    | Condition::Body(_)
                    | Condition::Text(_)
            ),
            Self::Not(inner) => inner.needs_content(),
            Self::And(parts) | Self::Or(parts) => parts.iter().any(Self::needs_content),
        }
    }

    /// Evaluates the plan against one message in memory.
    pub fn matches(&self, meta: &MessageMeta, fields: &SearchFields) -> bool {
        matcher::plan_matches(self, meta, fields)
    }
}

/// The searchable content of a message beside its [`MessageMeta`], in the form the stores keep it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchFields {
    /// Indexed headers: lower-cased key, decoded lower-cased value (WildDuck's `headers`).
    pub headers: Vec<IndexedHeader>,
    /// The top-level header lines as stored (WildDuck's `mimeTree.header`): each field with its
    /// continuation lines, without the final line break, every byte one character (Node's
    /// `binary` strings).
    pub header_lines: Vec<String>,
    /// The first part of the plain text (`text`).
    pub text: String,
    /// The rest of the plain text (`textFooter`).
    pub text_footer: String,
}

impl SearchFields {
    /// The fields of an ingested message.
    pub fn from_stored(message: &StoredMessage) -> Self {
        Self {
            headers: message.data.headers.clone(),
            header_lines: header_lines(&message.tree.header),
            text: message.data.text.clone(),
            text_footer: message.data.text_footer.clone(),
        }
    }
}

/// Splits a raw header section into WildDuck's `mimeTree.header` lines, by its rules: a line ends at
/// `\r*\n` or a lone `\r`; a line starting with white space (space, tab, VT, FF, NBSP) continues the
/// previous one, joined with `\r\n`; each byte becomes the character of the same value.
pub fn header_lines(section: &[u8]) -> Vec<String> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut i = 0;
    while let Some(&b) = section.get(i) {
        if b != b'\r' && b != b'\n' {
            line.push(b);
            i += 1;
            continue;
        }
        let mut j = i;
        while section.get(j) == Some(&b'\r') {
            j += 1;
        }
        i = if section.get(j) == Some(&b'\n') {
            j + 1
        } else {
            i + 1
        };
        lines.push(std::mem::take(&mut line));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(lines.len());
    for l in lines {
        let continues = matches!(l.first(), Some(b' ' | b'\t' | 0x0B | 0x0C | 0xA0));
        match out.last_mut() {
            Some(prev) if continues => {
                prev.extend_from_slice(b"\r\n");
                prev.extend_from_slice(&l);
            }
            _ => out.push(l),
        }
    }
    out.iter().map(|l| binary_string(l)).collect()
}

/// Bytes as a Node `binary` string: every byte becomes the character with the same code.
pub fn binary_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Whether `key` matches the message, with `OLDER`/`YOUNGER` relative to the current time.
pub fn matches(key: &SearchKey, meta: &MessageMeta, fields: &SearchFields) -> bool {
    matches_at(key, meta, fields, Timestamp::now())
}

/// Whether `key` matches the message, with `OLDER`/`YOUNGER` relative to `now`.
pub fn matches_at(
    key: &SearchKey,
    meta: &MessageMeta,
    fields: &SearchFields,
    now: Timestamp,
) -> bool {
    key.plan(now).matches(meta, fields)
}

/// The outcome of a search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchResult {
    /// Matching UIDs, ascending.
    pub uids: Vec<Uid>,
    /// The highest MODSEQ of the matches, when the key used `MODSEQ` and something matched
    /// (RFC 7162 §3.1.5: the IMAP answer then ends with `(MODSEQ n)`).
    pub highest_modseq: Option<ModSeq>,
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for SearchKey {
    /// IMAP-like syntax, for logs and debugging (sets print as UIDs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |f: &mut fmt::Formatter<'_>, w: &str, s: &str| {
            write!(f, "{w} ")?;
            write_string(f, s)
        };
        match self {
            Self::All => f.write_str("ALL"),
            Self::Uids(set) if set.is_empty() => f.write_str("UID \"\""),
            Self::Uids(set) => write!(f, "UID {set}"),
            Self::Answered => f.write_str("ANSWERED"),
            Self::Unanswered => f.write_str("UNANSWERED"),
            Self::Deleted => f.write_str("DELETED"),
            Self::Undeleted => f.write_str("UNDELETED"),
            Self::Draft => f.write_str("DRAFT"),
            Self::Undraft => f.write_str("UNDRAFT"),
            Self::Flagged => f.write_str("FLAGGED"),
            Self::Unflagged => f.write_str("UNFLAGGED"),
            Self::Seen => f.write_str("SEEN"),
            Self::Unseen => f.write_str("UNSEEN"),
            Self::Recent => f.write_str("RECENT"),
            Self::New => f.write_str("NEW"),
            Self::Old => f.write_str("OLD"),
            Self::Keyword(k) => write!(f, "KEYWORD {k}"),
            Self::Unkeyword(k) => write!(f, "UNKEYWORD {k}"),
            Self::From(s) => word(f, "FROM", s),
            Self::To(s) => word(f, "TO", s),
            Self::Cc(s) => word(f, "CC", s),
            Self::Bcc(s) => word(f, "BCC", s),
            Self::Subject(s) => word(f, "SUBJECT", s),
            Self::Header(name, s) => {
                f.write_str("HEADER ")?;
                write_string(f, name)?;
                f.write_str(" ")?;
                write_string(f, s)
            }
            Self::Body(s) => word(f, "BODY", s),
            Self::Text(s) => word(f, "TEXT", s),
            Self::Before(d) => write!(f, "BEFORE {d}"),
            Self::On(d) => write!(f, "ON {d}"),
            Self::Since(d) => write!(f, "SINCE {d}"),
            Self::SentBefore(d) => write!(f, "SENTBEFORE {d}"),
            Self::SentOn(d) => write!(f, "SENTON {d}"),
            Self::SentSince(d) => write!(f, "SENTSINCE {d}"),
            Self::Larger(n) => write!(f, "LARGER {n}"),
            Self::Smaller(n) => write!(f, "SMALLER {n}"),
            Self::Older(n) => write!(f, "OLDER {n}"),
            Self::Younger(n) => write!(f, "YOUNGER {n}"),
            Self::ModSeq { entry, modseq } => {
                f.write_str("MODSEQ ")?;
                if let Some(e) = entry {
                    write_string(f, &e.name)?;
                    write!(f, " {} ", e.kind.as_str())?;
                }
                write!(f, "{modseq}")
            }
            Self::Not(k) => write!(f, "NOT {k}"),
            Self::Or(a, b) => write!(f, "OR {a} {b}"),
            Self::And(v) => {
                f.write_str("(")?;
                for (i, k) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl From<UidSet> for SearchKey {
    fn from(set: UidSet) -> Self {
        Self::Uids(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_start_at_utc_midnight() {
        let d = SearchDate::new(1994, 2, 1).expect("valid");
        assert_eq!(d.start_ms(), 760_060_800_000);
        assert_eq!(SearchDate::of(Timestamp(760_060_800_000 + DAY_MS - 1)), d);
        assert_eq!(SearchDate::of(Timestamp(760_060_800_000 - 1)).day(), 31);
        assert_eq!(d.to_string(), "1-Feb-1994");
        assert!(SearchDate::new(2023, 2, 29).is_none());
        assert!(SearchDate::new(2024, 2, 29).is_some());
        assert!(SearchDate::new(2024, 13, 1).is_none());
        for days in [-800_000_i64, -1, 0, 1, 19_000, 2_900_000] {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
        }
    }

    #[test]
    fn header_lines_follow_wildduck() {
        assert_eq!(
            header_lines(b"From: a\r\nSubject: x\r\n\ty\r\nX: \xc3\xa9\rZ:\n"),
            vec!["From: a", "Subject: x\r\n\ty", "X: \u{c3}\u{a9}", "Z:"]
        );
        assert!(header_lines(b"").is_empty());
    }

    #[test]
    fn plan_folds_constants() {
        let now = Timestamp(0);
        assert_eq!(SearchKey::All.negate().plan(now), SearchPlan::Nothing);
        assert_eq!(SearchKey::Old.plan(now), SearchPlan::All);
        assert_eq!(
            SearchKey::and([SearchKey::All, SearchKey::Recent.or(SearchKey::Seen)]).plan(now),
            SearchPlan::Cond(Condition::Flag(Flag::Seen))
        );
        assert_eq!(
            SearchKey::Unseen.negate().plan(now),
            SearchKey::Seen.plan(now)
        );
        assert_eq!(
            SearchKey::Uids(UidSet::new()).plan(now),
            SearchPlan::Nothing
        );
        assert_eq!(
            SearchKey::Keyword("\\SEEN".into()).plan(now),
            SearchKey::Seen.plan(now)
        );
        assert!(matches!(
            SearchKey::Bcc("x".into()).plan(now),
            SearchPlan::Cond(Condition::RawHeader(ref n, _)) if n == "bcc"
        ));
        assert!(matches!(
            SearchKey::header("Subject", "").plan(now),
            SearchPlan::Cond(Condition::IndexedHeaderPresent(ref n)) if n == "subject"
        ));
    }

    #[test]
    fn display_is_imap_like() {
        let k = SearchKey::and([
            SearchKey::From("a \"b\"".into()),
            SearchKey::Seen.or(SearchKey::Larger(10)).negate(),
            SearchKey::Uids(UidSet::from_ranges([(1, 3), (7, 7)])),
            SearchKey::ModSeq {
                entry: Some(ModSeqEntry {
                    name: "/flags/\\seen".into(),
                    kind: EntryType::All,
                }),
                modseq: ModSeq(5),
            },
        ]);
        assert_eq!(
            k.to_string(),
            "(FROM \"a \\\"b\\\"\" NOT OR SEEN LARGER 10 UID 1:3,7 MODSEQ \"/flags/\\\\seen\" all 5)"
        );
        assert!(k.uses_modseq());
        assert!(!SearchKey::All.uses_modseq());
        assert_eq!(k.depth(), 4);
        assert_eq!(SearchKey::All.depth(), 1);
    }

    #[test]
    fn with_recent_substitutes_a_session_set() {
        let recent = UidSet::from_ranges([(4, 5)]);
        let k = SearchKey::and([SearchKey::New, SearchKey::Old.negate()]).with_recent(&recent);
        assert_eq!(
            k,
            SearchKey::and([
                SearchKey::and([SearchKey::Uids(recent.clone()), SearchKey::Unseen]),
                SearchKey::Uids(recent).negate().negate(),
            ])
        );
    }
}
