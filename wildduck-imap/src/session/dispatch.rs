//! From the command AST to `commands::<name>::handle`: the state check (WildDuck's
//! `BAD <CMD> not allowed now`), the call, and the untagged updates that go before the tagged
//! line.
//!
//! To plug in a command: add `commands/<name>.rs` with
//! `pub async fn handle(ctx: &mut Context<'_>, …) -> Reply`, list it in `commands/mod.rs`, and
//! route its [`CommandBody`] variant in [`run_command`] below.

use crate::commands;
use crate::proto::{AppendData, Command, CommandBody};
use crate::session::updates;
use crate::session::{Context, Reply, State, Status, Then};

/// States a command may run in (imap-core's per-command `state` lists, inventory §1.3).
pub fn allowed(body: &CommandBody, state: State) -> bool {
    use CommandBody as C;
    match body {
        C::Capability | C::Noop | C::Logout | C::Id(_) | C::StartTls => true,
        C::Login { .. } | C::Authenticate { .. } => state == State::NotAuthenticated,
        // WildDuck allows ENABLE only before SELECT (RFC 5161 wants it before, too).
        C::Enable(_) => state == State::Authenticated,
        C::Check
        | C::Close
        | C::Unselect
        | C::Expunge { .. }
        | C::Search { .. }
        | C::Fetch(_)
        | C::Store(_)
        | C::Copy { .. }
        | C::Move { .. } => state == State::Selected,
        C::Namespace
        | C::Select { .. }
        | C::Create { .. }
        | C::Delete { .. }
        | C::Rename { .. }
        | C::Subscribe { .. }
        | C::Unsubscribe { .. }
        | C::List(_)
        | C::Status { .. }
        | C::Append(_)
        | C::Idle
        | C::GetQuota { .. }
        | C::GetQuotaRoot { .. }
        | C::SetQuota { .. }
        | C::Compress { .. }
        | C::XApplePushService(_) => state != State::NotAuthenticated,
    }
}

/// Which pending mailbox changes are written before this command's tagged line: none for
/// APPEND (WildDuck's `disableNotifications`), LOGOUT and IDLE (which writes them itself);
/// EXISTS and FETCH only for FETCH, STORE and SEARCH, where RFC 3501 §7.4.1 forbids EXPUNGE;
/// everything for the rest.
pub fn flushes_updates(body: &CommandBody) -> Option<updates::Allow> {
    match body {
        CommandBody::Append(_) | CommandBody::Idle | CommandBody::Logout => None,
        _ => Some(updates::allow_for(body)),
    }
}

/// Runs one parsed command and returns its tagged reply. `literal` is the spooled APPEND
/// message when the framer streamed it.
pub async fn dispatch(ctx: &mut Context<'_>, cmd: Command, literal: Option<Vec<u8>>) -> Reply {
    // Reported to the configured observer (metrics): name, latency, outcome, appended bytes.
    let started = std::time::Instant::now();
    let name = cmd.name();
    let appended = match &cmd.body {
        CommandBody::Append(a) => Some(a.message.len()),
        _ => None,
    };
    let reply = dispatch_command(ctx, cmd, literal).await;
    let observer = &ctx.shared.config.observer;
    let outcome = match reply.status {
        Status::Ok => wildduck_net::Outcome::Ok,
        Status::No => wildduck_net::Outcome::No,
        Status::Bad => wildduck_net::Outcome::Bad,
    };
    observer.command("imap", name, started.elapsed(), outcome);
    if let Some(size) = appended
        && reply.status == Status::Ok
    {
        observer.append("imap", size);
    }
    reply
}

async fn dispatch_command(ctx: &mut Context<'_>, cmd: Command, literal: Option<Vec<u8>>) -> Reply {
    let name = cmd.name();
    if matches!(cmd.body, CommandBody::XApplePushService(_)) {
        // Push is not offered (`aps.enabled` is false): WildDuck treats the command as unknown.
        return Reply::bad(format!("Unknown command: {name}"));
    }
    if !allowed(&cmd.body, ctx.session.state()) {
        return Reply::bad(format!("{name} not allowed now"));
    }
    let flush = flushes_updates(&cmd.body);
    let reply = run_command(ctx, cmd, literal).await;
    if let Some(allow) = flush
        && reply.then == Then::Continue
        && ctx.session.state() == State::Selected
        && Box::pin(updates::flush_pending(ctx, allow)).await
    {
        // A pushed LOGOUT/DROP: `* BYE` is queued, the connection closes after the reply.
        return reply.then(Then::Close);
    }
    reply
}

/// Every async command future is boxed here, so the dispatch future (boxed once per command by
/// the session) holds only a pointer to the one command that runs. IDLE is not a command future
/// at all: it returns [`Then::Idle`] and the session loop waits in the idling state.
async fn run_command(ctx: &mut Context<'_>, cmd: Command, literal: Option<Vec<u8>>) -> Reply {
    use CommandBody as C;
    let name = cmd.name();
    match cmd.body {
        C::Capability => commands::capability::handle(ctx),
        C::Noop => commands::noop::handle(ctx),
        C::Logout => commands::logout::handle(ctx),
        C::StartTls => commands::starttls::handle(ctx),
        C::Login { username, password } => {
            Box::pin(commands::login::handle(ctx, &username, &password)).await
        }
        C::Authenticate {
            mechanism,
            initial_response,
        } => {
            Box::pin(commands::authenticate::handle(
                ctx,
                &mechanism,
                initial_response,
            ))
            .await
        }
        C::Id(params) => commands::id::handle(ctx, params),
        C::Enable(caps) => commands::enable::handle(ctx, &caps),
        C::Compress { mechanism } => commands::compress::handle(ctx, &mechanism),
        C::Namespace => commands::namespace::handle(ctx),
        C::Select {
            mailbox,
            read_only,
            condstore,
        } => {
            Box::pin(commands::select::handle(
                ctx, &mailbox, read_only, condstore,
            ))
            .await
        }
        C::Create { mailbox } => Box::pin(commands::create::handle(ctx, &mailbox)).await,
        C::Delete { mailbox } => Box::pin(commands::delete::handle(ctx, &mailbox)).await,
        C::Rename { from, to } => Box::pin(commands::rename::handle(ctx, &from, &to)).await,
        C::Subscribe { mailbox } => {
            Box::pin(commands::subscribe::handle(ctx, &mailbox, true)).await
        }
        C::Unsubscribe { mailbox } => {
            Box::pin(commands::subscribe::handle(ctx, &mailbox, false)).await
        }
        C::List(list) => Box::pin(commands::list::handle(ctx, &list)).await,
        C::Status { mailbox, items } => {
            Box::pin(commands::status::handle(ctx, &mailbox, &items)).await
        }
        C::Append(mut append) => {
            if let (AppendData::Streamed { .. }, Some(data)) = (&append.message, literal) {
                append.message = AppendData::Inline(data);
            }
            Box::pin(commands::append::handle(ctx, append)).await
        }
        C::GetQuota { root } => Box::pin(commands::getquota::handle(ctx, &root)).await,
        C::GetQuotaRoot { mailbox } => {
            Box::pin(commands::getquotaroot::handle(ctx, &mailbox)).await
        }
        C::SetQuota { .. } => commands::setquota::handle(ctx),
        C::XApplePushService(_) => Reply::bad(format!("Unknown command: {name}")),
        C::Check => commands::check::handle(ctx),
        C::Close => Box::pin(commands::close::handle(ctx)).await,
        C::Unselect => commands::unselect::handle(ctx),
        C::Expunge { uids } => Box::pin(commands::expunge::handle(ctx, uids.as_ref())).await,
        C::Search {
            uid,
            charset,
            query,
        } => {
            Box::pin(commands::search::handle(
                ctx,
                uid,
                charset.as_deref(),
                &query,
            ))
            .await
        }
        C::Fetch(fetch) => Box::pin(commands::fetch::handle(ctx, fetch)).await,
        C::Store(store) => Box::pin(commands::store::handle(ctx, store)).await,
        C::Copy { uid, set, mailbox } => {
            Box::pin(commands::copy::handle(ctx, uid, &set, &mailbox)).await
        }
        C::Move { uid, set, mailbox } => {
            Box::pin(commands::mv::handle(ctx, uid, &set, &mailbox)).await
        }
        C::Idle => commands::idle::handle(ctx),
    }
}
