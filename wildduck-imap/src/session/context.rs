//! What a command handler gets ([`Context`]) and returns ([`Reply`]).

use std::io;

use wildduck_core::service::Services;

use crate::server::{ImapConfig, Shared};
use crate::session::io::{Input, Io};
use crate::session::{LoggedIn, Selected, Session};

/// The status of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD` (counted towards the protocol-error limit)
    Bad,
}

impl Status {
    /// The wire word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::No => "NO",
            Self::Bad => "BAD",
        }
    }
}

/// What the connection does after the tagged response is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Then {
    /// Read the next command.
    #[default]
    Continue,
    /// Flush and close (LOGOUT, fatal errors).
    Close,
    /// Flush, then run the TLS handshake (STARTTLS).
    StartTls,
    /// Flush, then compress everything after (COMPRESS DEFLATE).
    Compress,
    /// Wait in the idling state (IDLE): no tagged line now; the session loop writes it, with
    /// this reply's status and text, when IDLE ends.
    Idle,
}

/// The tagged response of a command: `<tag> <status> [<code>] <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// OK / NO / BAD.
    pub status: Status,
    /// The response code without brackets (`APPENDUID 1 2`, `TRYCREATE`), if any.
    pub code: Option<String>,
    /// Human-readable text.
    pub text: String,
    /// What happens next.
    pub then: Then,
}

impl Reply {
    /// A reply with every part given.
    pub fn new(status: Status, code: Option<String>, text: impl Into<String>) -> Self {
        Self {
            status,
            code,
            text: text.into(),
            then: Then::Continue,
        }
    }

    /// `OK text`
    pub fn ok(text: impl Into<String>) -> Self {
        Self::new(Status::Ok, None, text)
    }

    /// `OK [code] text`
    pub fn ok_code(code: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Ok, Some(code.into()), text)
    }

    /// `NO text`
    pub fn no(text: impl Into<String>) -> Self {
        Self::new(Status::No, None, text)
    }

    /// `NO [code] text`
    pub fn no_code(code: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::No, Some(code.into()), text)
    }

    /// `BAD text`
    pub fn bad(text: impl Into<String>) -> Self {
        Self::new(Status::Bad, None, text)
    }

    /// `BAD [code] text`
    pub fn bad_code(code: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Bad, Some(code.into()), text)
    }

    /// The same reply, followed by `then`.
    pub fn then(mut self, then: Then) -> Self {
        self.then = then;
        self
    }

    /// The full tagged line with CRLF.
    pub fn tagged_line(&self, tag: &str) -> String {
        let mut s = String::with_capacity(tag.len() + self.text.len() + 16);
        s.push_str(tag);
        s.push(' ');
        s.push_str(self.status.as_str());
        if let Some(c) = &self.code {
            s.push_str(" [");
            s.push_str(c);
            s.push(']');
        }
        s.push(' ');
        s.push_str(&self.text);
        s.push_str("\r\n");
        s
    }
}

/// Everything a command handler may use: the server's shared state, the session, and the
/// transport for untagged responses, continuations and further input.
#[derive(Debug)]
pub struct Context<'a> {
    /// Services, configuration and the session registry.
    pub shared: &'a Shared,
    /// The session state (user, selected mailbox, enabled extensions, counters).
    pub session: &'a mut Session,
    /// The transport. Prefer the helpers below; use it directly for literal-bearing output.
    pub io: &'a mut Io,
}

impl Context<'_> {
    /// The core services.
    pub fn services(&self) -> &Services {
        &self.shared.services
    }

    /// The server configuration.
    pub fn config(&self) -> &ImapConfig {
        &self.shared.config
    }

    /// The logged-in user (always there for commands allowed only after login).
    pub fn user(&self) -> Option<&LoggedIn> {
        self.session.user.as_deref()
    }

    /// The selected mailbox (always there for Selected-state commands).
    pub fn selected(&mut self) -> Option<&mut Selected> {
        self.session.selected.as_deref_mut()
    }

    /// Queues `* <text>\r\n`.
    pub fn untagged(&mut self, text: &str) {
        self.io.write(b"* ");
        self.io.write(text.as_bytes());
        self.io.write(b"\r\n");
    }

    /// Queues raw bytes (the caller writes line endings and literals itself).
    pub fn write(&mut self, bytes: &[u8]) {
        self.io.write(bytes);
    }

    /// Sends `+ <text>\r\n` now.
    pub async fn continuation(&mut self, text: &str) -> io::Result<()> {
        self.io.write(b"+ ");
        self.io.write(text.as_bytes());
        self.io.write(b"\r\n");
        self.io.flush().await
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }

    /// Sends what is queued when it has grown large (between items of a long answer).
    pub async fn flush_if_large(&mut self) -> io::Result<()> {
        self.io.flush_if_large().await
    }

    /// Waits for client input (after a continuation). Also returns
    /// [`Input::Notified`] when the user's data changed elsewhere.
    pub async fn next_input(&mut self) -> Input {
        let handle = self.session.user.as_ref().map(|u| u.handle.clone());
        self.io.next_input(handle.as_deref(), None).await
    }

    /// The capability list for the current state (without `* CAPABILITY `).
    pub fn capabilities(&self) -> String {
        capability_list(self.session, self.io, &self.shared.config)
    }
}

/// The CAPABILITY list as WildDuck builds it (inventory §1.2 as observed in the reference run):
/// `IMAP4rev1` first, then the rest in alphabetical order; STARTTLS/LOGINDISABLED on plaintext,
/// AUTH=/SASL-IR only before login, COMPRESS=DEFLATE only after login and when enabled; plus
/// LITERAL+ (our framer accepts non-synchronising literals).
pub fn capability_list(session: &Session, io: &Io, config: &ImapConfig) -> String {
    let mut caps: Vec<String> = [
        "CHILDREN",
        "CONDSTORE",
        "ENABLE",
        "ID",
        "IDLE",
        "LITERAL+",
        "MOVE",
        "NAMESPACE",
        "QUOTA",
        "SPECIAL-USE",
        "UIDPLUS",
        "UNSELECT",
        "UTF8=ACCEPT",
        "WITHIN",
        "XLIST",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    caps.push(format!("APPENDLIMIT={}", config.max_message));
    if !io.is_tls() && session.starttls.is_some() {
        caps.push("STARTTLS".into());
        if !config.ignore_starttls {
            caps.push("LOGINDISABLED".into());
        }
    }
    if session.user.is_none() {
        caps.push("AUTH=PLAIN".into());
        caps.push("AUTH=PLAIN-CLIENTTOKEN".into());
        caps.push("SASL-IR".into());
    } else if config.enable_compression && !io.is_compressed() {
        caps.push("COMPRESS=DEFLATE".into());
    }
    caps.sort();
    let mut out = String::from("IMAP4rev1");
    for c in caps {
        out.push(' ');
        out.push_str(&c);
    }
    out
}
