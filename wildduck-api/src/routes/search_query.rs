//! WildDuck's `q` search language (`GET /users/:user/search?q=…`, `lib/search-query.js` over the
//! npm packages `logic-query-parser` and `search-string`), parsed into a [`Query`] whose leaves
//! are the core's protocol-neutral [`SearchKey`]s plus the conditions that are about where a
//! message lives rather than what it holds (`in:`, `thread:`, `has:attachment`). Those are
//! resolved per mailbox by [`Query::lower`] into plain search keys.
//!
//! Syntax:
//! - words and `"quoted phrases"` match the message text and headers (substring, case-insensitive);
//! - whitespace or `AND` joins terms; `OR` has the lower precedence (`a OR b c` is `a OR (b c)`);
//!   parentheses group; `\` escapes the next character;
//! - `from:`, `to:` (To, Cc and Bcc), `subject:`, `in:` (mailbox id, path or special-use name),
//!   `thread:` (thread id), `has:attachment`; a value may be quoted (`from:"Amy Namy"`,
//!   also `from: "Amy Namy"` as WildDuck joins them);
//! - a leading `-` negates a term, a keyword or (an extension) a group `-(…)`;
//! - extension: `is:seen|unseen|read|unread|flagged|unflagged|answered|unanswered|draft|deleted`.
//!
//! Malformed queries (unbalanced parentheses or quotes, a dangling `AND`/`OR`, an empty group, a
//! tree deeper than [`MAX_SEARCH_DEPTH`]) are a [`QueryError`], which the route answers with 400.

use wildduck_core::model::{Mailbox, MailboxId, ObjectId, SpecialUse, ThreadId, UidSet};
use wildduck_core::search::{MAX_SEARCH_DEPTH, SearchKey};

/// A parsed `q` query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every part matches.
    And(Vec<Query>),
    /// At least one part matches.
    Or(Vec<Query>),
    /// The part does not match.
    Not(Box<Query>),
    /// A condition on the message itself.
    Key(SearchKey),
    /// `in:` — the message is in the mailbox this names.
    In(String),
    /// `thread:` — the message belongs to this thread.
    Thread(ThreadId),
    /// `has:attachment`.
    HasAttachment,
    /// A term WildDuck ignores (`thread:` without an id, `has:` with another value).
    Ignored,
}

/// Why a query could not be parsed (the message goes into the 400 answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    /// A term; `quoted` when any of it came from a quoted string (then it is never an operator
    /// nor a keyword, and a leading `-` is literal).
    Word {
        text: String,
        quoted: bool,
        negated: bool,
    },
}

fn err<T>(msg: &str) -> Result<T, QueryError> {
    Err(QueryError(msg.to_string()))
}

fn tokenize(q: &str) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        match c {
            '(' => {
                chars.next();
                out.push(Token::Open);
                continue;
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
                continue;
            }
            _ => {}
        }
        // A word: up to whitespace or a parenthesis; quoted sections may sit inside it.
        let mut text = String::new();
        let mut quoted = false;
        let mut negated = false;
        let mut first = true;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '(' || c == ')' {
                break;
            }
            chars.next();
            match c {
                '\\' => match chars.next() {
                    Some(e) => text.push(e),
                    None => return err("the query ends with a lone backslash"),
                },
                '"' => {
                    quoted = true;
                    let mut closed = false;
                    while let Some(x) = chars.next() {
                        match x {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => match chars.next() {
                                Some(e) => text.push(e),
                                None => break,
                            },
                            _ => text.push(x),
                        }
                    }
                    if !closed {
                        return err("a quoted string is not closed");
                    }
                }
                '-' if first => negated = true,
                _ => text.push(c),
            }
            first = false;
        }
        let op = if quoted || negated {
            None
        } else if text.eq_ignore_ascii_case("and") {
            Some(Token::And)
        } else if text.eq_ignore_ascii_case("or") {
            Some(Token::Or)
        } else {
            None
        };
        match op {
            Some(t) => out.push(t),
            None => out.push(Token::Word {
                text,
                quoted,
                negated,
            }),
        }
    }
    // `from: "Amy Namy"`: a keyword with its value in the next word (WildDuck joins them too).
    let mut joined: Vec<Token> = Vec::with_capacity(out.len());
    for t in out {
        if let (
            Some(Token::Word {
                text: prev,
                quoted: false,
                ..
            }),
            Token::Word {
                text,
                negated: false,
                ..
            },
        ) = (joined.last_mut(), &t)
            && prev.len() > 1
            && prev.ends_with(':')
            && keyword_of(prev).is_some()
        {
            prev.push_str(text);
            continue;
        }
        joined.push(t);
    }
    Ok(joined)
}

/// The keyword a word starts with (`from:` …), lower-cased.
fn keyword_of(word: &str) -> Option<&'static str> {
    let (k, _) = word.split_once(':')?;
    ["from", "to", "subject", "in", "thread", "has", "is"]
        .into_iter()
        .find(|x| x.eq_ignore_ascii_case(k))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or_expr(&mut self, depth: usize) -> Result<Query, QueryError> {
        // Half the core's limit: lowering adds a few levels (`to:` is an OR of three, long OR
        // lists become balanced trees).
        if depth > MAX_SEARCH_DEPTH / 2 {
            return err("the query is nested too deeply");
        }
        let mut parts = vec![self.and_expr(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.next();
            parts.push(self.and_expr(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Query::Ignored)
        } else {
            Query::Or(parts)
        })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary(depth)?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.next();
                    parts.push(self.unary(depth)?);
                }
                Some(Token::Open | Token::Word { .. }) => parts.push(self.unary(depth)?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Query::Ignored)
        } else {
            Query::And(parts)
        })
    }

    fn group(&mut self, depth: usize) -> Result<Query, QueryError> {
        if self.peek() == Some(&Token::Close) {
            return err("empty parentheses");
        }
        let inner = self.or_expr(depth + 1)?;
        match self.next() {
            Some(Token::Close) => Ok(inner),
            _ => err("a parenthesis is not closed"),
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Query, QueryError> {
        match self.next() {
            Some(Token::Open) => self.group(depth),
            Some(Token::Word {
                text,
                quoted,
                negated,
            }) => {
                // `-(…)`: a lone `-` before a group negates the group.
                if negated && text.is_empty() && !quoted {
                    if self.peek() == Some(&Token::Open) {
                        self.next();
                        return Ok(negate(self.group(depth)?));
                    }
                    return err("a '-' must be followed by a term");
                }
                let q = leaf(&text, quoted)?;
                Ok(if negated { negate(q) } else { q })
            }
            Some(Token::Close) => err("unexpected ')'"),
            Some(Token::And | Token::Or) => err("AND/OR must stand between two terms"),
            None => err("the query ends where a term was expected"),
        }
    }
}

fn negate(q: Query) -> Query {
    match q {
        // An ignored term stays ignored, negated or not (as in WildDuck).
        Query::Ignored => Query::Ignored,
        Query::Not(inner) => *inner,
        other => Query::Not(Box::new(other)),
    }
}

fn leaf(text: &str, quoted: bool) -> Result<Query, QueryError> {
    if let Some(k) = keyword_of(text)
        && let Some((_, value)) = text.split_once(':')
        && !value.trim().is_empty()
    {
        let value = value.trim();
        return Ok(match k {
            "from" => Query::Key(SearchKey::From(value.to_string())),
            "subject" => Query::Key(SearchKey::Subject(value.to_string())),
            "to" => Query::Key(
                SearchKey::To(value.to_string())
                    .or(SearchKey::Cc(value.to_string()).or(SearchKey::Bcc(value.to_string()))),
            ),
            "in" => Query::In(value.to_string()),
            "thread" => match value.parse::<ObjectId>() {
                Ok(id) if value.len() == 24 => Query::Thread(ThreadId(id)),
                _ => Query::Ignored,
            },
            "has" if value.eq_ignore_ascii_case("attachment") => Query::HasAttachment,
            "has" => Query::Ignored,
            _ => Query::Key(match value.to_ascii_lowercase().as_str() {
                "seen" | "read" => SearchKey::Seen,
                "unseen" | "unread" => SearchKey::Unseen,
                "flagged" | "starred" => SearchKey::Flagged,
                "unflagged" | "unstarred" => SearchKey::Unflagged,
                "answered" => SearchKey::Answered,
                "unanswered" => SearchKey::Unanswered,
                "draft" => SearchKey::Draft,
                "deleted" => SearchKey::Deleted,
                _ => return err("unknown is: value"),
            }),
        });
    }
    let _ = quoted;
    if text.is_empty() {
        // `""`: an empty phrase matches everything, as an empty substring does.
        return Ok(Query::Ignored);
    }
    Ok(Query::Key(SearchKey::Text(text.to_string())))
}

/// Parses a `q` string. An empty (or all-blank) string is an error: the route treats it as absent
/// before calling this.
pub fn parse(q: &str) -> Result<Query, QueryError> {
    let tokens = tokenize(q)?;
    if tokens.is_empty() {
        return err("the query is empty");
    }
    let mut p = Parser { tokens, pos: 0 };
    let out = p.or_expr(0)?;
    match p.peek() {
        None => Ok(out),
        Some(Token::Close) => err("unexpected ')'"),
        Some(_) => err("unexpected text after the query"),
    }
}

/// What [`Query::lower`] needs to know about one mailbox.
#[derive(Debug, Default)]
pub struct MailboxFacts {
    /// UIDs of its messages with attachments.
    pub with_attachments: UidSet,
    /// Its messages' threads.
    pub threads: Vec<(ThreadId, u32)>,
}

impl Query {
    /// Whether a free-text term occurs (WildDuck then only finds `searchable`, i.e. not
    /// `\Deleted`, messages).
    pub fn has_text(&self) -> bool {
        match self {
            Self::Key(k) => key_has_text(k),
            Self::Not(q) => q.has_text(),
            Self::And(v) | Self::Or(v) => v.iter().any(Self::has_text),
            _ => false,
        }
    }

    /// Whether [`Query::lower`] needs [`MailboxFacts`] (attachments or threads).
    pub fn needs_facts(&self) -> bool {
        match self {
            Self::HasAttachment | Self::Thread(_) => true,
            Self::Not(q) => q.needs_facts(),
            Self::And(v) | Self::Or(v) => v.iter().any(Self::needs_facts),
            _ => false,
        }
    }

    /// The `in:` values used.
    pub fn mailbox_names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_in(&mut out);
        out
    }

    fn collect_in<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::In(s) => out.push(s),
            Self::Not(q) => q.collect_in(out),
            Self::And(v) | Self::Or(v) => v.iter().for_each(|q| q.collect_in(out)),
            _ => {}
        }
    }

    /// The search key for the messages of `mailbox`: `in:` becomes true or false (`resolved`
    /// maps each `in:` value to the mailbox it names, if any), `has:attachment` and `thread:`
    /// become UID sets from `facts`.
    pub fn lower(
        &self,
        mailbox: MailboxId,
        resolved: &[(String, Option<MailboxId>)],
        facts: &MailboxFacts,
    ) -> SearchKey {
        match self {
            Self::And(v) => SearchKey::And(
                v.iter()
                    .map(|q| q.lower(mailbox, resolved, facts))
                    .collect(),
            ),
            Self::Or(v) => balanced_or(
                v.iter()
                    .map(|q| q.lower(mailbox, resolved, facts))
                    .collect(),
            ),
            Self::Not(q) => q.lower(mailbox, resolved, facts).negate(),
            Self::Key(k) => k.clone(),
            Self::In(name) => {
                let hit = resolved
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, id)| *id)
                    == Some(mailbox);
                if hit {
                    SearchKey::All
                } else {
                    SearchKey::All.negate()
                }
            }
            Self::Thread(t) => {
                let mut set = UidSet::new();
                for (th, uid) in &facts.threads {
                    if th == t {
                        set.insert(*uid);
                    }
                }
                SearchKey::Uids(set)
            }
            Self::HasAttachment => SearchKey::Uids(facts.with_attachments.clone()),
            Self::Ignored => SearchKey::All,
        }
    }
}

/// `a OR b OR …` as a balanced tree, so a long list stays shallow (the core's `OR` is binary).
fn balanced_or(mut keys: Vec<SearchKey>) -> SearchKey {
    if keys.len() <= 1 {
        return keys.pop().unwrap_or(SearchKey::All);
    }
    let right = keys.split_off(keys.len() / 2);
    balanced_or(keys).or(balanced_or(right))
}

fn key_has_text(k: &SearchKey) -> bool {
    match k {
        SearchKey::Text(_) => true,
        SearchKey::Not(k) => key_has_text(k),
        SearchKey::Or(a, b) => key_has_text(a) || key_has_text(b),
        SearchKey::And(v) => v.iter().any(key_has_text),
        _ => false,
    }
}

/// Which of `mailboxes` an `in:` value names, as WildDuck resolves it: a mailbox id, `Inbox`
/// (any case), an exact path, or a special-use folder by its usual name (`spam`/`junk…`,
/// `sent…`, `trash…`/`deleted…`, `drafts…`, with an optional leading `/`).
pub fn resolve_in(value: &str, mailboxes: &[Mailbox]) -> Option<MailboxId> {
    let value = value.trim();
    if value.len() == 24
        && let Ok(id) = value.to_ascii_lowercase().parse::<ObjectId>()
    {
        return mailboxes.iter().find(|m| m.id.0 == id).map(|m| m.id);
    }
    if value.eq_ignore_ascii_case("inbox") {
        return mailboxes.iter().find(|m| m.path == "INBOX").map(|m| m.id);
    }
    if let Some(m) = mailboxes.iter().find(|m| m.path == value) {
        return Some(m.id);
    }
    let lower = value.trim_start_matches('/').to_ascii_lowercase();
    let special = if lower.starts_with("spam") || lower.starts_with("junk") {
        Some(SpecialUse::Junk)
    } else if lower.starts_with("sent") {
        Some(SpecialUse::Sent)
    } else if lower.starts_with("trash") || lower.starts_with("deleted") {
        Some(SpecialUse::Trash)
    } else if lower.starts_with("drafts") {
        Some(SpecialUse::Drafts)
    } else {
        None
    }?;
    mailboxes
        .iter()
        .find(|m| m.special_use == Some(special))
        .map(|m| m.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Query {
        Query::Key(SearchKey::Text(s.into()))
    }

    #[test]
    fn terms_and_precedence() {
        assert_eq!(parse("hello"), Ok(text("hello")));
        assert_eq!(
            parse("welcome OR bye AND hello"),
            Ok(Query::Or(vec![
                text("welcome"),
                Query::And(vec![text("bye"), text("hello")])
            ]))
        );
        assert_eq!(
            parse("(welcome or bye) hello"),
            Ok(Query::And(vec![
                Query::Or(vec![text("welcome"), text("bye")]),
                text("hello")
            ]))
        );
        assert_eq!(parse("\"hello OR there\""), Ok(text("hello OR there")));
        assert_eq!(parse("hello\\ \\OR\\ there"), Ok(text("hello OR there")));
        assert_eq!(
            parse("\\(hello bye\\)"),
            Ok(Query::And(vec![text("(hello"), text("bye)")]))
        );
    }

    #[test]
    fn keywords_and_negation() {
        assert_eq!(
            parse("from:\"Amy Namy\""),
            Ok(Query::Key(SearchKey::From("Amy Namy".into())))
        );
        assert_eq!(
            parse("from: \"Amy Namy\""),
            Ok(Query::Key(SearchKey::From("Amy Namy".into())))
        );
        assert_eq!(
            parse("-subject:dinner"),
            Ok(Query::Not(Box::new(Query::Key(SearchKey::Subject(
                "dinner".into()
            )))))
        );
        assert_eq!(parse("-kupi"), Ok(Query::Not(Box::new(text("kupi")))));
        assert_eq!(parse("has:attachment"), Ok(Query::HasAttachment));
        assert_eq!(parse("has:pictures"), Ok(Query::Ignored));
        assert_eq!(parse("in:spam"), Ok(Query::In("spam".into())));
        assert_eq!(parse("is:unseen"), Ok(Query::Key(SearchKey::Unseen)));
        assert_eq!(parse("x-y"), Ok(text("x-y")));
        assert_eq!(parse("foo:bar"), Ok(text("foo:bar")));
        assert_eq!(
            parse("-(a b)"),
            Ok(Query::Not(Box::new(Query::And(vec![text("a"), text("b")]))))
        );
    }

    #[test]
    fn malformed() {
        for q in [
            "(hello",
            "hello)",
            "\"hello",
            "a OR",
            "OR a",
            "a AND AND b",
            "()",
            "is:bogus",
            "-",
            "trailing\\",
            ")\" bye\" (",
        ] {
            assert!(parse(q).is_err(), "{q} should fail");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        let ok_depth = format!("{}a{}", "(".repeat(10), ")".repeat(10));
        assert!(parse(&ok_depth).is_ok());
    }
}
