//! The command parser: one [`Frame`] in, one [`Command`] or [`ParseError`] out.
//!
//! One file per command group: [`fetch`], [`search`], [`store`] (STORE, COPY, MOVE, EXPUNGE),
//! [`list`] (LIST/LSUB/XLIST, STATUS), [`append`], [`auth`] (LOGIN, AUTHENTICATE, SASL helpers),
//! and the small commands here.

use std::fmt;

use super::command::{ApplePush, Command, CommandBody};
use super::framer::{Frame, leading_tag};
use super::lexer::{LexResult, Reader};
use crate::utf7;

mod append;
mod auth;
mod fetch;
mod list;
mod search;
mod store;

pub use auth::{SaslPlain, decode_sasl_plain};

/// Parser settings that depend on the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// `UTF8=ACCEPT` is enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7.
    pub utf8_accept: bool,
}

/// Why a command was refused. The session answers `<tag> BAD <message>`, or `* BAD <message>`
/// when there is no tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The tag, when one could be read.
    pub tag: Option<String>,
    /// The command name (upper-cased, `UID FETCH` style), when it could be read.
    pub command: Option<String>,
    /// The class of error.
    pub kind: ParseErrorKind,
    /// Human-readable text for the `BAD` response.
    pub message: String,
}

/// Classes of parse errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// No valid tag, or a tag without a command: WildDuck answers `* BAD Invalid tag` in both
    /// cases (the tag, when present, is still in [`ParseError::tag`] for logging).
    InvalidTag,
    /// The command name is unknown (`BAD Unknown command: X`).
    UnknownCommand,
    /// The arguments do not follow the grammar.
    Syntax,
    /// A mailbox name is not valid modified UTF-7 (or UTF-8).
    InvalidMailboxName,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Whether a frame read while IDLE-ing is the `DONE` that ends it.
pub fn is_idle_done(frame: &Frame) -> bool {
    frame.bytes().trim_ascii().eq_ignore_ascii_case(b"DONE")
}

/// Parses one command frame.
pub fn parse_command(frame: &Frame, options: &ParseOptions) -> Result<Command, ParseError> {
    let bytes = frame.bytes();
    let Some(tag) = leading_tag(bytes) else {
        return Err(ParseError {
            tag: None,
            command: None,
            kind: ParseErrorKind::InvalidTag,
            message: "Invalid tag".into(),
        });
    };
    let tag = tag.to_string();
    let mut r = Reader::new(bytes, frame.streamed_literal());
    // Skip the tag (validated above).
    let _ = r.atom();
    let name = r
        .sp()
        .and_then(|()| r.atom_upper())
        .map_err(|_| ParseError {
            tag: Some(tag.clone()),
            command: None,
            kind: ParseErrorKind::InvalidTag,
            message: "Invalid tag".into(),
        })?;
    let mut p = Parser {
        r,
        options: *options,
    };
    let (name, body) = match name.as_str() {
        "UID" => {
            let sub = p.r.sp().and_then(|()| p.r.atom_upper()).unwrap_or_default();
            let full = format!("UID {sub}");
            let body = match sub.as_str() {
                "FETCH" => Some(fetch::parse(&mut p, true)),
                "SEARCH" => Some(search::parse(&mut p, true)),
                "STORE" => Some(store::parse_store(&mut p, true)),
                "COPY" => Some(store::parse_copy_move(&mut p, true, false)),
                "MOVE" => Some(store::parse_copy_move(&mut p, true, true)),
                "EXPUNGE" => Some(store::parse_uid_expunge(&mut p)),
                _ => None,
            };
            (full, body)
        }
        other => {
            let body = p.dispatch(other);
            (name.clone(), body)
        }
    };
    match body {
        None => Err(ParseError {
            tag: Some(tag),
            command: Some(name.clone()),
            kind: ParseErrorKind::UnknownCommand,
            message: format!("Unknown command: {name}"),
        }),
        Some(Ok(body)) => Ok(Command { tag, body }),
        Some(Err(e)) => Err(ParseError {
            tag: Some(tag),
            command: Some(name),
            kind: e.kind,
            message: e.message,
        }),
    }
}

/// An error inside a command's arguments.
#[derive(Debug)]
pub(crate) struct ArgError {
    pub(crate) kind: ParseErrorKind,
    pub(crate) message: String,
}

impl From<String> for ArgError {
    fn from(message: String) -> Self {
        Self {
            kind: ParseErrorKind::Syntax,
            message,
        }
    }
}

impl From<&str> for ArgError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

pub(crate) type ArgResult<T> = Result<T, ArgError>;

/// The reader plus the session-dependent options.
#[derive(Debug)]
pub(crate) struct Parser<'a> {
    pub(crate) r: Reader<'a>,
    pub(crate) options: ParseOptions,
}

impl Parser<'_> {
    fn dispatch(&mut self, name: &str) -> Option<ArgResult<CommandBody>> {
        let body = match name {
            "CAPABILITY" => self.no_args(CommandBody::Capability),
            "NOOP" => self.no_args(CommandBody::Noop),
            "LOGOUT" => self.no_args(CommandBody::Logout),
            "STARTTLS" => self.no_args(CommandBody::StartTls),
            "NAMESPACE" => self.no_args(CommandBody::Namespace),
            "CHECK" => self.no_args(CommandBody::Check),
            "CLOSE" => self.no_args(CommandBody::Close),
            "UNSELECT" => self.no_args(CommandBody::Unselect),
            "EXPUNGE" => self.no_args(CommandBody::Expunge { uids: None }),
            "IDLE" => self.no_args(CommandBody::Idle),
            "LOGIN" => auth::parse_login(self),
            "AUTHENTICATE" => auth::parse_authenticate(self),
            "ID" => self.parse_id(),
            "ENABLE" => self.parse_enable(),
            "COMPRESS" => self.parse_compress(),
            "SELECT" => self.parse_select(false),
            "EXAMINE" => self.parse_select(true),
            "CREATE" => self.parse_create(),
            "DELETE" => self
                .one_mailbox()
                .map(|mailbox| CommandBody::Delete { mailbox }),
            "SUBSCRIBE" => self
                .one_mailbox()
                .map(|mailbox| CommandBody::Subscribe { mailbox }),
            "UNSUBSCRIBE" => self
                .one_mailbox()
                .map(|mailbox| CommandBody::Unsubscribe { mailbox }),
            "RENAME" => self.parse_rename(),
            "LIST" => list::parse_list(self, super::command::ListKind::List),
            "LSUB" => list::parse_list(self, super::command::ListKind::Lsub),
            "XLIST" => list::parse_list(self, super::command::ListKind::Xlist),
            "STATUS" => list::parse_status(self),
            "APPEND" => append::parse(self),
            "FETCH" => fetch::parse(self, false),
            "SEARCH" => search::parse(self, false),
            "STORE" => store::parse_store(self, false),
            "COPY" => store::parse_copy_move(self, false, false),
            "MOVE" => store::parse_copy_move(self, false, true),
            "GETQUOTA" => self.parse_getquota(),
            "GETQUOTAROOT" => self
                .one_mailbox()
                .map(|mailbox| CommandBody::GetQuotaRoot { mailbox }),
            "SETQUOTA" => self.parse_setquota(),
            "XAPPLEPUSHSERVICE" => self.parse_apple_push(),
            _ => return None,
        };
        Some(body)
    }

    fn no_args(&mut self, body: CommandBody) -> ArgResult<CommandBody> {
        self.r.end()?;
        Ok(body)
    }

    /// `SP` before a required argument.
    pub(crate) fn sp(&mut self) -> LexResult<()> {
        self.r.sp()
    }

    /// A mailbox name: astring, decoded (modified UTF-7 unless UTF8=ACCEPT), INBOX normalised,
    /// leading and trailing `/` removed (WildDuck's `normalizeMailbox`).
    pub(crate) fn mailbox(&mut self) -> ArgResult<String> {
        let raw = self.mailbox_raw()?;
        Ok(normalize_mailbox(&raw, false))
    }

    /// The decoded name without normalisation.
    pub(crate) fn mailbox_raw(&mut self) -> ArgResult<String> {
        let bytes = self.r.astring()?;
        self.decode_name(&bytes)
    }

    /// Decodes a mailbox name or pattern per the options.
    pub(crate) fn decode_name(&self, bytes: &[u8]) -> ArgResult<String> {
        let text = std::str::from_utf8(bytes).map_err(|_| ArgError {
            kind: ParseErrorKind::InvalidMailboxName,
            message: "Invalid mailbox name: not UTF-8".into(),
        })?;
        if self.options.utf8_accept {
            if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
                return Err(ArgError {
                    kind: ParseErrorKind::InvalidMailboxName,
                    message: "Invalid mailbox name".into(),
                });
            }
            return Ok(text.to_string());
        }
        utf7::decode(text).map_err(|e| ArgError {
            kind: ParseErrorKind::InvalidMailboxName,
            message: format!("Invalid mailbox name: {e}"),
        })
    }

    fn one_mailbox(&mut self) -> ArgResult<String> {
        self.sp()?;
        let m = self.mailbox()?;
        self.r.end()?;
        Ok(m)
    }

    fn parse_select(&mut self, read_only: bool) -> ArgResult<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut condstore = false;
        if self.r.more()? {
            // select-params (RFC 4466): only CONDSTORE is known.
            self.r.expect(b'(')?;
            while !self.r.eat(b')') {
                let p = self.r.atom_upper()?;
                match p.as_str() {
                    "CONDSTORE" => condstore = true,
                    _ => return Err(format!("Unsupported select parameter {p}").into()),
                }
                if self.r.peek() != Some(b')') {
                    self.sp()?;
                }
            }
            self.r.end()?;
        }
        Ok(CommandBody::Select {
            mailbox,
            read_only,
            condstore,
        })
    }

    fn parse_create(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        let raw = self.mailbox_raw()?;
        if self.r.more()? {
            // CREATE-SPECIAL-USE (RFC 6154 `USE (…)`) is not supported, as in WildDuck.
            return Err("CREATE parameters are not supported".into());
        }
        Ok(CommandBody::Create {
            mailbox: normalize_mailbox(&raw, true),
        })
    }

    fn parse_rename(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        let from = self.mailbox()?;
        self.sp()?;
        let to = self.mailbox()?;
        self.r.end()?;
        Ok(CommandBody::Rename { from, to })
    }

    fn parse_id(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        if self.r.eat(b'(') {
            let mut fields = Vec::new();
            while self.r.eat(b' ') {}
            while !self.r.eat(b')') {
                let key = self.r.string()?;
                self.sp()?;
                let value = self.r.nstring()?;
                fields.push((
                    String::from_utf8_lossy(&key).into_owned(),
                    value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                ));
                if fields.len() > 30 {
                    // RFC 2971 §3.3: at most 30 pairs.
                    return Err("Too many ID fields".into());
                }
                if self.r.peek() != Some(b')') {
                    self.sp()?;
                }
            }
            self.r.end()?;
            Ok(CommandBody::Id(Some(fields)))
        } else {
            if self.r.nstring()?.is_some() {
                return Err("Expected a parameter list or NIL".into());
            }
            self.r.end()?;
            Ok(CommandBody::Id(None))
        }
    }

    fn parse_enable(&mut self) -> ArgResult<CommandBody> {
        let mut caps = Vec::new();
        while self.r.more()? {
            caps.push(self.r.atom_upper()?);
        }
        if caps.is_empty() {
            return Err("ENABLE expects capability names".into());
        }
        Ok(CommandBody::Enable(caps))
    }

    fn parse_compress(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        let mechanism = self.r.atom_upper()?;
        self.r.end()?;
        Ok(CommandBody::Compress { mechanism })
    }

    fn parse_getquota(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        let root = self.r.astring_utf8()?;
        self.r.end()?;
        Ok(CommandBody::GetQuota { root })
    }

    fn parse_setquota(&mut self) -> ArgResult<CommandBody> {
        self.sp()?;
        let root = self.r.astring_utf8()?;
        self.sp()?;
        self.r.expect(b'(')?;
        let mut limits = Vec::new();
        while self.r.eat(b' ') {}
        while !self.r.eat(b')') {
            let name = self.r.atom_upper()?;
            self.sp()?;
            let value = self.r.number64()?;
            limits.push((name, value));
            if self.r.peek() != Some(b')') {
                self.sp()?;
            }
        }
        self.r.end()?;
        Ok(CommandBody::SetQuota { root, limits })
    }

    fn parse_apple_push(&mut self) -> ArgResult<CommandBody> {
        let mut aps = ApplePush::default();
        while self.r.more()? {
            let key = self.r.atom()?.to_ascii_lowercase();
            self.sp()?;
            if key == "mailboxes" {
                self.r.expect(b'(')?;
                while self.r.eat(b' ') {}
                while !self.r.eat(b')') {
                    let m = self.mailbox()?;
                    aps.mailboxes.push(m);
                    if self.r.peek() != Some(b')') {
                        self.sp()?;
                    }
                }
                continue;
            }
            let value = self.r.astring_utf8()?;
            let slot = match key.as_str() {
                "aps-version" => &mut aps.version,
                "aps-account-id" => &mut aps.account_id,
                "aps-device-token" => &mut aps.device_token,
                "aps-subtopic" => &mut aps.subtopic,
                _ => return Err(format!("Unknown XAPPLEPUSHSERVICE parameter {key}").into()),
            };
            *slot = Some(value);
        }
        Ok(CommandBody::XApplePushService(aps))
    }
}

/// WildDuck's `normalizeMailbox`: strips one leading `/` (and, unless `keep_trailing`, one
/// trailing `/`), and upper-cases a first component equal to `INBOX` in any case.
pub(crate) fn normalize_mailbox(name: &str, keep_trailing: bool) -> String {
    let name = name.strip_prefix('/').unwrap_or(name);
    let name = if keep_trailing {
        name
    } else {
        name.strip_suffix('/').unwrap_or(name)
    };
    let (first, rest) = match name.find('/') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        format!("INBOX{rest}")
    } else {
        name.to_string()
    }
}
