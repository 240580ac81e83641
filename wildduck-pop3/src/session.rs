//! One POP3 session: the AUTHORIZATION → TRANSACTION → UPDATE states (RFC 1939) with WildDuck's
//! answers (inventory §2). The session writes answers into a buffer; the server loop flushes it
//! when no further pipelined command is waiting, so pipelined commands are answered in order and
//! in as few writes as possible.

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine as _;
use wildduck_core::model::{Mailbox, User};
use wildduck_core::service::Services;
use wildduck_core::service::login::{LoginRequest, Scope};
use wildduck_core::service::pop3::{Pop3Body, Pop3Message};
use wildduck_core::{Error, ErrorKind};
use wildduck_net::{ConnInfo, Outcome};

use crate::Pop3Config;
use crate::proto::{self, CommandLine};

/// What the server loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the next command.
    Continue,
    /// Flush and close the connection.
    Close,
    /// Flush, drop buffered input, and run the TLS handshake (after `+OK Begin TLS negotiation`).
    StartTls,
}

/// RFC 1939 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before login.
    Authorization,
    /// Logged in, maildrop listed.
    Transaction,
    /// After QUIT in TRANSACTION: changes are applied.
    Update,
}

/// A listed message and what the session did with it.
#[derive(Debug)]
struct Entry {
    msg: Pop3Message,
    deleted: bool,
    fetched: bool,
}

#[derive(Debug)]
struct Maildrop {
    user: User,
    mailbox: Mailbox,
    entries: Vec<Entry>,
}

impl Maildrop {
    fn count_and_size(&self) -> (usize, u64) {
        self.entries
            .iter()
            .filter(|e| !e.deleted)
            .fold((0, 0), |(n, s), e| (n + 1, s + e.msg.size))
    }
}

/// The state of one connection.
#[derive(Debug)]
pub struct Session<'a> {
    services: &'a Services,
    config: &'a Pop3Config,
    info: &'a ConnInfo,
    secured: bool,
    starttls_available: bool,
    state: State,
    pending_user: Option<String>,
    awaiting_sasl: bool,
    drop: Option<Maildrop>,
    /// Messages read ahead, by index, not yet decoded; bounded by [`READ_AHEAD_BYTES`].
    cache: HashMap<usize, Pop3Body>,
}

/// Most messages one read fetches ahead of RETR/TOP.
const READ_AHEAD_COUNT: usize = 16;
/// Most bytes one read fetches (the asked-for message is always fetched, whatever its size).
const READ_AHEAD_BYTES: u64 = 1024 * 1024;

fn ok(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+OK");
    if !text.is_empty() {
        out.push(b' ');
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

fn err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The command word of `line` as a metric label: one of the known commands, else `UNKNOWN`.
fn command_label(line: &str) -> &'static str {
    const KNOWN: [&str; 14] = [
        "CAPA", "USER", "PASS", "AUTH", "STLS", "NOOP", "QUIT", "STAT", "LIST", "UIDL", "RETR",
        "TOP", "DELE", "RSET",
    ];
    let word = line.trim().split(' ').next().unwrap_or_default();
    KNOWN
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(word))
        .unwrap_or("UNKNOWN")
}

/// Answers for store failures: only kinds meant for clients say more than "temporary failure".
fn backend_failure(out: &mut Vec<u8>, e: &Error) {
    tracing::warn!(error = %e, "POP3 command failed");
    err(out, "[SYS/TEMP] Temporary server failure, try again later");
}

impl<'a> Session<'a> {
    /// A new session in AUTHORIZATION state. `secured`: the stream is TLS; `starttls_available`:
    /// the listener can upgrade it.
    pub fn new(
        services: &'a Services,
        config: &'a Pop3Config,
        info: &'a ConnInfo,
        secured: bool,
        starttls_available: bool,
    ) -> Self {
        Self {
            services,
            config,
            info,
            secured,
            starttls_available,
            state: State::Authorization,
            pending_user: None,
            awaiting_sasl: false,
            drop: None,
            cache: HashMap::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The greeting line.
    pub fn greeting(&self, out: &mut Vec<u8>) {
        ok(
            out,
            &format!(
                "{} ready for requests from {} {}",
                self.config.name,
                self.info.peer.ip(),
                self.info.id
            ),
        );
    }

    /// Called after a successful STLS handshake.
    pub fn tls_established(&mut self) {
        self.secured = true;
        self.starttls_available = false;
    }

    /// STLS is offered: plaintext, an acceptor exists and it is not disabled.
    fn stls_offered(&self) -> bool {
        !self.secured && self.starttls_available && !self.config.disable_starttls
    }

    /// Plaintext logins are allowed: TLS is on, or STLS is not offered, or the operator chose to
    /// ignore it (WildDuck's `ignoreSTARTTLS`).
    fn login_allowed(&self) -> bool {
        self.secured || self.config.ignore_starttls || !self.stls_offered()
    }

    /// Handles one client line, reporting it to the configured observer (command, latency,
    /// `+OK`/`-ERR`).
    pub async fn handle(&mut self, line: &str, out: &mut Vec<u8>) -> Action {
        let started = Instant::now();
        let mark = out.len();
        let name = if self.awaiting_sasl {
            "AUTH"
        } else {
            command_label(line)
        };
        let action = self.dispatch(line, out).await;
        let outcome = if out.get(mark..).is_some_and(|a| a.starts_with(b"-ERR")) {
            Outcome::No
        } else {
            Outcome::Ok
        };
        self.config
            .observer
            .command("pop3", name, started.elapsed(), outcome);
        action
    }

    async fn dispatch(&mut self, line: &str, out: &mut Vec<u8>) -> Action {
        if self.awaiting_sasl {
            self.awaiting_sasl = false;
            let line = line.trim();
            if line == "*" {
                err(out, "authentication cancelled");
                return Action::Continue;
            }
            return self.auth_plain(line, out).await;
        }
        let CommandLine { name, args } = proto::parse_command(line);
        match name.as_str() {
            "CAPA" => self.capa(out),
            "USER" => self.user(&args, out),
            "PASS" => return self.pass(&args, out).await,
            "AUTH" => return self.auth(&args, out).await,
            "STLS" => return self.stls(out),
            "NOOP" => self.in_transaction(out).map_or((), |_| ok(out, "")),
            "QUIT" => return self.quit(out).await,
            "STAT" => {
                if let Some(d) = self.in_transaction(out) {
                    let (n, size) = d.count_and_size();
                    ok(out, &format!("{n} {size}"));
                }
            }
            "LIST" => self.list(&args, out, false),
            "UIDL" => self.list(&args, out, true),
            "RETR" => self.retr(&args, out).await,
            "TOP" => self.top(&args, out).await,
            "DELE" => self.dele(&args, out),
            "RSET" => {
                if let Some(d) = self.in_transaction_mut(out) {
                    d.entries.iter_mut().for_each(|e| e.deleted = false);
                    let (n, size) = d.count_and_size();
                    ok(
                        out,
                        &format!("maildrop has {n} message{} ({size} octets)", plural(n)),
                    );
                }
            }
            _ => {
                err(out, "bad command");
                return Action::Close;
            }
        }
        Action::Continue
    }

    fn in_transaction(&self, out: &mut Vec<u8>) -> Option<&Maildrop> {
        match (&self.state, &self.drop) {
            (State::Transaction, Some(d)) => Some(d),
            _ => {
                err(out, "Command not accepted");
                None
            }
        }
    }

    fn in_transaction_mut(&mut self, out: &mut Vec<u8>) -> Option<&mut Maildrop> {
        match (&self.state, &mut self.drop) {
            (State::Transaction, Some(d)) => Some(d),
            _ => {
                err(out, "Command not accepted");
                None
            }
        }
    }

    fn capa(&self, out: &mut Vec<u8>) {
        ok(out, "Capability list follows");
        let mut caps: Vec<String> = vec!["TOP".into(), "UIDL".into()];
        let offer_login = self.login_allowed() && self.state == State::Authorization;
        if offer_login {
            caps.push("USER".into());
        }
        caps.push("RESP-CODES".into());
        if offer_login {
            caps.push("SASL PLAIN".into());
        }
        caps.push("PIPELINING".into());
        if self.stls_offered() && self.state == State::Authorization {
            caps.push("STLS".into());
        }
        if !self.config.disable_version_string {
            caps.push(format!("IMPLEMENTATION WildDuck-v{}", self.config.version));
        }
        for c in caps {
            out.extend_from_slice(c.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    fn user(&mut self, args: &str, out: &mut Vec<u8>) {
        if self.state != State::Authorization {
            return err(out, "Command not accepted");
        }
        if !self.login_allowed() {
            return err(out, "Command is not valid in this state");
        }
        if args.is_empty() {
            return err(out, "USER who?");
        }
        self.pending_user = Some(args.to_string());
        ok(out, "send PASS");
    }

    async fn pass(&mut self, args: &str, out: &mut Vec<u8>) -> Action {
        if self.state != State::Authorization {
            err(out, "Command not accepted");
            return Action::Continue;
        }
        let Some(username) = self.pending_user.take() else {
            err(out, "malformed command");
            return Action::Continue;
        };
        if args.is_empty() {
            err(out, "malformed command");
            return Action::Continue;
        }
        self.login(&username, args, out).await
    }

    async fn auth(&mut self, args: &str, out: &mut Vec<u8>) -> Action {
        if self.state != State::Authorization {
            err(out, "Command not accepted");
            return Action::Continue;
        }
        if !self.login_allowed() {
            err(out, "Command is not valid in this state");
            return Action::Continue;
        }
        if args.is_empty() {
            ok(out, "");
            out.extend_from_slice(b"PLAIN\r\n.\r\n");
            return Action::Continue;
        }
        let mut params = args.split_whitespace();
        let mechanism = params.next().unwrap_or_default();
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            err(out, "unsupported SASL mechanism");
            return Action::Continue;
        }
        match (params.next(), params.next()) {
            (None, _) => {
                out.extend_from_slice(b"+ \r\n");
                self.awaiting_sasl = true;
                Action::Continue
            }
            (Some(initial), None) => self.auth_plain(initial, out).await,
            (Some(_), Some(_)) => {
                err(out, "malformed command");
                Action::Continue
            }
        }
    }

    /// SASL PLAIN: base64 of `authzid NUL authcid NUL password`.
    async fn auth_plain(&mut self, data: &str, out: &mut Vec<u8>) -> Action {
        let decoded = match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(d) => d,
            Err(_) => {
                err(out, "malformed command");
                return Action::Continue;
            }
        };
        let text = String::from_utf8_lossy(&decoded);
        let parts: Vec<&str> = text.split('\0').collect();
        let [authzid, authcid, password] = parts.as_slice() else {
            err(out, "malformed command");
            return Action::Continue;
        };
        // WildDuck logs in as the authorization id when one is given (no proxy logins).
        let username = if authcid.is_empty() { authzid } else { authcid };
        let (username, password) = (username.to_string(), password.to_string());
        self.login(&username, &password, out).await
    }

    async fn login(&mut self, username: &str, password: &str, out: &mut Vec<u8>) -> Action {
        let ip = self.info.peer.ip();
        let req = LoginRequest {
            username,
            password,
            scope: Scope::Pop3,
            ip: Some(ip),
            protocol: "POP3",
            session: Some(&self.info.id),
        };
        // The login and the listing together: one store read on the embedded backend.
        let (user, listing) = match self
            .services
            .pop3_login(req, self.config.max_messages)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return match e.kind() {
                    ErrorKind::AuthFailed | ErrorKind::RateLimited => {
                        err(out, &format!("[AUTH] {}", e.message()));
                        Action::Continue
                    }
                    _ => {
                        backend_failure(out, &e);
                        Action::Close
                    }
                };
            }
        };
        let d = Maildrop {
            user,
            mailbox: listing.mailbox,
            entries: listing
                .messages
                .into_iter()
                .map(|msg| Entry {
                    msg,
                    deleted: false,
                    fetched: false,
                })
                .collect(),
        };
        let (n, size) = d.count_and_size();
        self.drop = Some(d);
        self.state = State::Transaction;
        ok(
            out,
            &format!("maildrop has {n} message{} ({size} octets)", plural(n)),
        );
        Action::Continue
    }

    fn stls(&mut self, out: &mut Vec<u8>) -> Action {
        if self.secured {
            err(out, "Command not permitted when TLS active");
        } else if self.state != State::Authorization {
            err(out, "Command not accepted");
        } else if !self.stls_offered() {
            err(out, "TLS not available");
        } else {
            ok(out, "Begin TLS negotiation");
            // Credentials given before the upgrade are forgotten.
            self.pending_user = None;
            return Action::StartTls;
        }
        Action::Continue
    }

    /// Resolves a message-number argument to an index of a listed, not deleted message, or writes
    /// the error.
    fn message_index(d: &Maildrop, arg: &str, out: &mut Vec<u8>) -> Option<usize> {
        let Some(n) = proto::parse_number(arg) else {
            err(out, "malformed command");
            return None;
        };
        let Some(e) = d.entries.get(n - 1) else {
            err(
                out,
                &format!(
                    "no such message, only {} messages in maildrop",
                    d.entries.len()
                ),
            );
            return None;
        };
        if e.deleted {
            err(out, &format!("message {n} already deleted"));
            return None;
        }
        Some(n - 1)
    }

    /// LIST and UIDL. Message numbers stay those of the login listing (RFC 1939); deleted
    /// messages are left out of the full listing.
    fn list(&self, args: &str, out: &mut Vec<u8>, uidl: bool) {
        let Some(d) = self.in_transaction(out) else {
            return;
        };
        let value = |e: &Entry| {
            if uidl {
                e.msg.id.to_string()
            } else {
                e.msg.size.to_string()
            }
        };
        if !args.is_empty() {
            if let Some(i) = Self::message_index(d, args, out)
                && let Some(e) = d.entries.get(i)
            {
                ok(out, &format!("{} {}", i + 1, value(e)));
            }
            return;
        }
        if uidl {
            ok(out, "");
        } else {
            let (n, size) = d.count_and_size();
            ok(out, &format!("{n} {size}"));
        }
        for (i, e) in d.entries.iter().enumerate().filter(|(_, e)| !e.deleted) {
            out.extend_from_slice(format!("{} {}\r\n", i + 1, value(e)).as_bytes());
        }
        out.extend_from_slice(b".\r\n");
    }

    /// Loads a message's bytes for RETR/TOP, writing the error when it cannot. Clients retrieve
    /// in order, so one read also fetches the following messages (up to [`READ_AHEAD_COUNT`]
    /// messages and [`READ_AHEAD_BYTES`]) into a small cache, where they stay undecoded until
    /// retrieved.
    async fn load(&mut self, i: usize, out: &mut Vec<u8>) -> Option<Vec<u8>> {
        let body = self.load_body(i, out).await?;
        match self.services.pop3_bytes(body).await {
            Ok(raw) => Some(raw),
            Err(e) => {
                Self::load_error(&e, out);
                None
            }
        }
    }

    /// The content of message `i` from the read-ahead cache or a new read (see [`Self::load`]).
    async fn load_body(&mut self, i: usize, out: &mut Vec<u8>) -> Option<Pop3Body> {
        let d = self.drop.as_ref()?;
        if self.cache.contains_key(&i) {
            // Read ahead, but the limit still applies to each message sent.
            if let Err(e) = self
                .services
                .pop3_check_download(&d.user, self.config.max_download)
                .await
            {
                Self::load_error(&e, out);
                return None;
            }
            return self.cache.remove(&i);
        }
        let first = d.entries.get(i)?;
        let mut batch = vec![(i, first.msg.clone())];
        let mut bytes = first.msg.size;
        for (j, e) in d.entries.iter().enumerate().skip(i + 1) {
            if batch.len() >= READ_AHEAD_COUNT || bytes + e.msg.size > READ_AHEAD_BYTES {
                break;
            }
            if e.deleted || e.fetched || self.cache.contains_key(&j) {
                continue;
            }
            bytes += e.msg.size;
            batch.push((j, e.msg.clone()));
        }
        let msgs: Vec<Pop3Message> = batch.iter().map(|(_, m)| m.clone()).collect();
        let loaded = self
            .services
            .pop3_read(&d.user, &d.mailbox, &msgs, self.config.max_download)
            .await;
        match loaded {
            Ok(list) => {
                let mut wanted = None;
                for ((j, _), raw) in batch.iter().zip(list) {
                    if *j == i {
                        wanted = raw;
                    } else if let Some(raw) = raw {
                        self.cache.insert(*j, raw);
                    }
                }
                if wanted.is_none() {
                    err(out, "Message does not exist or is already deleted");
                }
                wanted
            }
            Err(e) => {
                Self::load_error(&e, out);
                None
            }
        }
    }

    fn load_error(e: &Error, out: &mut Vec<u8>) {
        match e.kind() {
            ErrorKind::RateLimited => err(out, &format!("[SYS/TEMP] {}", e.message())),
            ErrorKind::NotFound => err(out, "Message does not exist or is already deleted"),
            _ => backend_failure(out, e),
        }
    }

    async fn retr(&mut self, args: &str, out: &mut Vec<u8>) {
        let Some(d) = self.in_transaction(out) else {
            return;
        };
        let Some(i) = Self::message_index(d, args, out) else {
            return;
        };
        let Some(raw) = self.load(i, out).await else {
            return;
        };
        let Some(d) = self.drop.as_mut() else {
            return;
        };
        let Some(e) = d.entries.get_mut(i) else {
            return;
        };
        e.fetched = true;
        ok(out, &format!("{} octets", e.msg.size));
        proto::dot_stuff_into(&raw, out);
        self.services
            .pop3_count_download(&d.user, raw.len() as u64, self.config.max_download)
            .await;
    }

    async fn top(&mut self, args: &str, out: &mut Vec<u8>) {
        let Some(d) = self.in_transaction(out) else {
            return;
        };
        let (msg_arg, lines_arg) = args.split_once(' ').unwrap_or((args, ""));
        let Some(lines) = proto::parse_count(lines_arg.trim()) else {
            err(out, "malformed command");
            return;
        };
        let Some(i) = Self::message_index(d, msg_arg, out) else {
            return;
        };
        let Some(raw) = self.load(i, out).await else {
            return;
        };
        let part = proto::top_part(&raw, lines);
        ok(out, "message follows");
        proto::dot_stuff_into(part, out);
        if let Some(d) = &self.drop {
            self.services
                .pop3_count_download(&d.user, part.len() as u64, self.config.max_download)
                .await;
        }
    }

    fn dele(&mut self, args: &str, out: &mut Vec<u8>) {
        let Some(d) = self.in_transaction_mut(out) else {
            return;
        };
        let Some(i) = Self::message_index(d, args, out) else {
            return;
        };
        if let Some(e) = d.entries.get_mut(i) {
            e.deleted = true;
            ok(out, &format!("message {} deleted", i + 1));
        }
    }

    /// QUIT: in TRANSACTION, enter UPDATE and apply the changes before answering (so a client that
    /// reconnects sees them); in AUTHORIZATION just say goodbye.
    async fn quit(&mut self, out: &mut Vec<u8>) -> Action {
        if self.state != State::Transaction {
            ok(out, "Bye");
            return Action::Close;
        }
        self.state = State::Update;
        let Some(d) = &self.drop else {
            ok(out, "Bye");
            return Action::Close;
        };
        let deleted: Vec<_> = d
            .entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.msg.uid)
            .collect();
        let seen: Vec<_> = d
            .entries
            .iter()
            .filter(|e| e.fetched && !e.deleted && !e.msg.seen)
            .map(|e| e.msg.uid)
            .collect();
        if deleted.is_empty() && seen.is_empty() {
            ok(out, "Bye");
            return Action::Close;
        }
        match self
            .services
            .pop3_update(
                d.user.id,
                &d.mailbox,
                &seen,
                &deleted,
                self.config.delete_action,
                Some(&self.info.id),
            )
            .await
        {
            Ok(u) => {
                tracing::info!(
                    user = %d.user.username, deleted = u.deleted, seen = u.seen,
                    session = %self.info.id, "POP3 update"
                );
                ok(out, "Bye");
            }
            Err(e) => {
                tracing::warn!(error = %e, session = %self.info.id, "POP3 update failed");
                err(out, "[SYS/TEMP] some deleted messages not removed");
            }
        }
        Action::Close
    }
}
