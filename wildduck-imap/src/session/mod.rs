//! One IMAP connection: its state, the loop that reads commands and answers them, and the
//! [`Context`] every command handler gets.
//!
//! # How a command runs
//!
//! 1. [`io::Io::next_input`] yields framer events; literals of `APPEND` arrive as chunks and are
//!    collected into the *spool* (the framer refused oversized ones already: `NO [TOOBIG]`).
//! 2. A complete frame is parsed with the session's [`ParseOptions`] (UTF8=ACCEPT changes how
//!    mailbox names are read); a parse error is answered `BAD` and counted.
//! 3. [`dispatch::dispatch`] checks the state (`BAD <CMD> not allowed now`) and calls
//!    `commands::<name>::handle(ctx, …)`, which writes untagged responses through the
//!    [`Context`] and returns a [`Reply`] (the tagged status line).
//! 4. Before the tagged line, pending mailbox changes are written when the command allows it
//!    ([`updates::flush`]), as WildDuck does.
//! 5. [`Then`] in the reply tells the loop to close, start TLS or start compression after the
//!    tagged line is flushed.
//!
//! # Writing a command handler
//!
//! ```text
//! pub async fn handle(ctx: &mut Context<'_>, <arguments from the AST>) -> Reply {
//!     let Some(user) = ctx.session.user_id() else { return Reply::bad("…") };  // state is checked already
//!     match ctx.services().something(user, …).await {
//!         Ok(x) => { ctx.untagged(&format!("…{x}…")); Reply::ok("CMD completed") }
//!         Err(e) => crate::error::reply(&e),   // the one place core errors become IMAP codes
//!     }
//! }
//! ```
//!
//! Long answers (FETCH) call [`Context::flush_if_large`] between items so that no buffer grows
//! to the size of the answer. A handler that needs more input from the client (AUTHENTICATE's
//! `+`) sends a continuation with [`Context::continuation`] and reads with
//! [`Context::next_input`]. IDLE is the exception: it can last 30 minutes, so it does not wait
//! inside its command but returns [`Then::Idle`], and the loop waits in an [`Idling`] state.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use wildduck_core::model::{Mailbox, UserId};
use wildduck_core::service::view::MailboxView;
use wildduck_net::{Connection, TlsAcceptor};

use crate::proto::{FrameErrorKind, FramerEvent, ParseOptions, parse_command};
use crate::server::Shared;

pub mod context;
pub mod dispatch;
pub mod io;
pub mod notify;
pub mod updates;

pub use context::{Context, Reply, Status, Then};
use io::{Input, Io};
use notify::SessionHandle;

/// RFC 3501 connection states, as WildDuck names them in its state checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
}

/// The logged-in user of a session. Kept small: an idle session holds only this.
#[derive(Debug)]
pub struct LoggedIn {
    /// The user's id.
    pub id: UserId,
    /// The name the user logged in with (for logs and the LOGIN answer).
    pub username: String,
    /// Woken when this user's data changes elsewhere.
    pub handle: Arc<SessionHandle>,
    /// The user's `imapMaxDownload` as read at login (`None`: the server's default), so FETCH
    /// needs no user read for its download limit.
    pub download_limit: Option<u64>,
    /// The slot in the per-user connection counter (`lim:imap`); released when dropped.
    #[expect(dead_code, reason = "held only for its Drop, which releases the slot")]
    pub(crate) slot: Option<ConnSlot>,
}

/// The selected mailbox (SELECT/EXAMINE).
#[derive(Debug)]
pub struct Selected {
    /// The mailbox as read at SELECT (path, UIDVALIDITY, keywords, special use).
    pub mailbox: Mailbox,
    /// The UIDs the client knows, in sequence order, and the MODSEQ seen so far.
    pub view: MailboxView,
    /// EXAMINE, or SELECT of a mailbox the session may not change.
    pub read_only: bool,
    /// UIDs expunged elsewhere while the client could not be told (during FETCH, STORE or
    /// SEARCH); still in `view` until [`updates::flush_pending`] may announce them.
    pub deferred_expunges: Vec<wildduck_core::model::Uid>,
}

/// The state of one connection.
#[derive(Debug)]
pub struct Session {
    /// Session id (logged; shown in the greeting; journal entries of this session carry it as
    /// `ignore`).
    pub id: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// Set by LOGIN/AUTHENTICATE.
    pub user: Option<Box<LoggedIn>>,
    /// Set by SELECT/EXAMINE; only with `user`.
    pub selected: Option<Box<Selected>>,
    /// CONDSTORE is enabled (ENABLE, SELECT (CONDSTORE), STATUS HIGHESTMODSEQ, FETCH MODSEQ …).
    pub condstore: bool,
    /// UTF8=ACCEPT is enabled: mailbox names travel as UTF-8.
    pub utf8_accept: bool,
    /// The acceptor for STARTTLS while the stream is plaintext and the listener offers it.
    pub(crate) starttls: Option<StartTls>,
    /// BAD answers so far.
    pub bad_count: u32,
    /// SELECT/EXAMINE commands so far.
    pub select_count: u32,
    /// EXPUNGE commands so far.
    pub expunge_count: u32,
    /// A command frame read while IDLE instead of `DONE`: run next, as if just received (boxed:
    /// it is rare, and every session carries the field).
    pub replay: Option<Box<crate::proto::Frame>>,
    /// Set while the session is in IDLE (see [`crate::commands::idle`]).
    pub idling: Option<Idling>,
}

/// A session in IDLE: what the loop needs to end it. Kept small, as it is held for as long as
/// the client idles.
#[derive(Debug)]
pub struct Idling {
    /// The IDLE command's tag, for the tagged `OK IDLE terminated`.
    pub tag: Box<str>,
    /// When IDLE ends with `* BYE IDLE terminated` (`None`: the configured maximum is too
    /// large to represent, so never).
    pub deadline: Option<tokio::time::Instant>,
}

impl Session {
    /// The RFC 3501 state.
    pub fn state(&self) -> State {
        match (&self.user, &self.selected) {
            (None, _) => State::NotAuthenticated,
            (Some(_), None) => State::Authenticated,
            (Some(_), Some(_)) => State::Selected,
        }
    }

    /// The logged-in user's id.
    pub fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|u| u.id)
    }

    /// How the parser must read this session's commands.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            utf8_accept: self.utf8_accept,
        }
    }
}

/// The STARTTLS acceptor (a newtype so that [`Session`] can be `Debug`).
#[derive(Clone)]
pub(crate) struct StartTls(pub(crate) TlsAcceptor);

impl std::fmt::Debug for StartTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartTls")
    }
}

/// A taken slot of the per-user connection limit; gives it back when dropped (also when the
/// session task is aborted at shutdown).
#[derive(Debug)]
pub(crate) struct ConnSlot {
    counters: Arc<dyn wildduck_core::bus::Counters>,
    user: String,
}

/// The hash WildDuck counts IMAP connections per user in.
pub const CONNECTION_COUNTER: &str = "lim:imap";

impl ConnSlot {
    pub(crate) fn new(counters: Arc<dyn wildduck_core::bus::Counters>, user: String) -> Self {
        Self { counters, user }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let counters = self.counters.clone();
        let user = std::mem::take(&mut self.user);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = counters.limited_release(CONNECTION_COUNTER, &user).await {
                    tracing::warn!(error = %e, "IMAP connection counter release failed");
                }
            });
        }
    }
}

/// Runs one session to its end.
///
/// Not an `async fn`: the connection is taken apart and the transport and session state are
/// built here, so the returned future holds them once (an `async fn` would also keep `conn`,
/// its argument, for the session's whole life).
pub fn run(shared: Arc<Shared>, conn: Connection) -> impl Future<Output = ()> + Send + 'static {
    let Connection {
        stream,
        info,
        shutdown,
        starttls,
        idle_timeout: _,
        handshake_timeout,
    } = conn;
    let config = &shared.config;
    let secure = stream.is_tls();
    let mut io = Io::new(
        stream,
        config.framer_config(),
        config.socket_timeout,
        shutdown,
        config.max_inflate_bytes,
    );
    let mut session = Session {
        id: info.id,
        peer: info.peer,
        user: None,
        selected: None,
        condstore: false,
        utf8_accept: false,
        starttls: if secure || config.disable_starttls {
            None
        } else {
            starttls.map(StartTls)
        },
        bad_count: 0,
        select_count: 0,
        expunge_count: 0,
        replay: None,
        idling: None,
    };
    tracing::debug!(session = %session.id, peer = %session.peer, secure, "IMAP connection");
    {
        let mut greeting = String::from("* OK ");
        if config.greeting_capability {
            greeting.push_str("[CAPABILITY ");
            greeting.push_str(&context::capability_list(&session, &io, config));
            greeting.push_str("] ");
        }
        greeting.push_str(&format!(
            "{} ready for requests from {} {}\r\n",
            config.name,
            session.peer.ip(),
            session.id
        ));
        io.write(greeting.as_bytes());
    }
    async move {
        let config = &shared.config;
        // The streamed APPEND literal being received.
        let mut spool: Option<Vec<u8>> = None;
        loop {
            // IDLE waits here, in the same read slot as between commands (not in a command future
            // of its own). Nothing from one iteration is kept across this wait but `io`, `session`
            // and `spool`: this await is where an idle session spends its life.
            let input = if let Some(frame) = session.replay.take() {
                Input::Event(FramerEvent::Frame(*frame))
            } else {
                let handle = session.user.as_ref().map(|u| u.handle.clone());
                let deadline = session.idling.as_ref().and_then(|i| i.deadline);
                io.next_input(handle.as_deref(), deadline).await
            };
            let (mut tag, mut reply) = {
                if let Some(idling) = session.idling.as_ref() {
                    let passed = idling
                        .deadline
                        .is_some_and(|d| tokio::time::Instant::now() >= d);
                    let mut ctx = Context {
                        shared: &shared,
                        session: &mut session,
                        io: &mut io,
                    };
                    let end = match crate::commands::idle::on_input(&mut ctx, input, passed) {
                        Some(reply) => Some(reply),
                        // Still idling: pending changes and queued output go out before the
                        // next wait.
                        None => Box::pin(crate::commands::idle::before_wait(&mut ctx)).await,
                    };
                    match end {
                        None => continue,
                        Some(reply) => (idle_tag(&mut session), reply),
                    }
                } else {
                    match input {
                        Input::Event(FramerEvent::Frame(frame)) => {
                            let literal = spool.take();
                            let cmd = match parse_command(&frame, &session.parse_options()) {
                                Ok(cmd) => cmd,
                                Err(e) => {
                                    let line = match &e.tag {
                                        Some(tag) => format!("{tag} BAD {}\r\n", e.message),
                                        None => format!("* BAD {}\r\n", e.message),
                                    };
                                    drop(frame);
                                    io.write(line.as_bytes());
                                    if count_bad(&mut session, &mut io, config) {
                                        break;
                                    }
                                    continue;
                                }
                            };
                            drop(frame);
                            let tag = cmd.tag.clone();
                            let mut ctx = Context {
                                shared: &shared,
                                session: &mut session,
                                io: &mut io,
                            };
                            // Boxed: the largest command future (FETCH, APPEND…) would otherwise
                            // be part of every idle session's task.
                            let reply = Box::pin(dispatch::dispatch(&mut ctx, cmd, literal)).await;
                            (tag, reply)
                        }
                        Input::Event(FramerEvent::Continue) => {
                            io.write(b"+ Go ahead\r\n");
                            continue;
                        }
                        Input::Event(FramerEvent::LiteralStart { size, continuation }) => {
                            // Sized up front but never beyond 1 MiB before data arrives: a client
                            // cannot make us reserve memory it does not send.
                            let cap = usize::try_from(size.min(1024 * 1024)).unwrap_or(0);
                            spool = Some(Vec::with_capacity(cap));
                            if continuation {
                                io.write(b"+ Go ahead\r\n");
                            }
                            continue;
                        }
                        Input::Event(FramerEvent::LiteralData(chunk)) => {
                            if let Some(s) = spool.as_mut() {
                                s.extend_from_slice(&chunk);
                            }
                            continue;
                        }
                        Input::Event(FramerEvent::Error(e)) => {
                            spool = None;
                            let tag = e.tag.as_deref().unwrap_or("*");
                            let (status, text) = match &e.kind {
                                FrameErrorKind::LineTooLong => ("BAD", e.to_string()),
                                FrameErrorKind::CommandTooLarge => ("BAD", e.to_string()),
                                FrameErrorKind::InvalidLiteralSize => ("BAD", e.to_string()),
                                FrameErrorKind::LiteralTooLarge { .. } => ("NO", e.to_string()),
                                FrameErrorKind::TooBig { .. } => ("NO", format!("[TOOBIG] {e}")),
                            };
                            io.write(format!("{tag} {status} {text}\r\n").as_bytes());
                            if status == "BAD" && count_bad(&mut session, &mut io, config) {
                                break;
                            }
                            continue;
                        }
                        Input::Event(FramerEvent::NeedMore) => continue,
                        Input::Closed => break,
                        Input::Timeout => {
                            io.write(b"* BYE Idle timeout, closing connection\r\n");
                            break;
                        }
                        Input::Shutdown => {
                            io.write(b"* BYE System shutdown\r\n");
                            break;
                        }
                        Input::InflateLimit => {
                            io.write(b"* BYE Too much data, closing connection\r\n");
                            break;
                        }
                        Input::Notified => {
                            let mut ctx = Context {
                                shared: &shared,
                                session: &mut session,
                                io: &mut io,
                            };
                            if Box::pin(updates::on_notified(&mut ctx)).await {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            if reply.then == Then::Idle {
                // No tagged line yet: it is written when IDLE ends (`idle_tag`).
                session.idling = Some(Idling {
                    tag: std::mem::take(&mut tag).into_boxed_str(),
                    deadline: tokio::time::Instant::now().checked_add(config.idle_timeout),
                });
                let mut ctx = Context {
                    shared: &shared,
                    session: &mut session,
                    io: &mut io,
                };
                match Box::pin(crate::commands::idle::before_wait(&mut ctx)).await {
                    None => continue,
                    Some(end) => {
                        reply = end;
                        tag = idle_tag(&mut session);
                    }
                }
            }
            io.write(reply.tagged_line(&tag).as_bytes());
            if reply.status == Status::Bad && count_bad(&mut session, &mut io, config) {
                break;
            }
            match reply.then {
                Then::Continue | Then::Idle => {}
                Then::Close => break,
                Then::StartTls => {
                    if io.flush().await.is_err() {
                        break;
                    }
                    let Some(acceptor) = session.starttls.take() else {
                        break;
                    };
                    if let Err(e) = Box::pin(io.start_tls(&acceptor.0, handshake_timeout)).await {
                        tracing::debug!(session = %session.id, error = %e, "STARTTLS failed");
                        break;
                    }
                    // As WildDuck: the upgraded socket gets its own (longer) timeout.
                    io.set_timeout(config.starttls_socket_timeout);
                }
                Then::Compress => {
                    if io.flush().await.is_err() {
                        break;
                    }
                    io.start_deflate();
                }
            }
        }
        io.close().await;
        tracing::debug!(session = %session.id, "IMAP connection closed");
    }
}

/// Leaves the idling state and gives back the IDLE command's tag.
fn idle_tag(session: &mut Session) -> String {
    session
        .idling
        .take()
        .map(|i| String::from(i.tag))
        .unwrap_or_default()
}

/// Counts a BAD answer; `true` when the limit is passed and `* BYE` was queued.
fn count_bad(session: &mut Session, io: &mut Io, config: &crate::ImapConfig) -> bool {
    session.bad_count += 1;
    if session.bad_count > config.max_bad_commands {
        io.write(b"* BYE Too many protocol errors\r\n");
        return true;
    }
    false
}
