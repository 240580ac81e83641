//! The IMAP server: configuration, the shared state of all sessions, and the accept loop on
//! `wildduck-net`.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wildduck_core::service::Services;
use wildduck_net::{Connection, Listener, ShutdownSignal};

use crate::proto::FramerConfig;
use crate::session::notify::Registry;

/// IMAP settings (WildDuck's `imap.*` configuration and imap-core options).
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Server name in the greeting and in ID (`imap.id.name`; WildDuck "WildDuck IMAP Server").
    pub name: String,
    /// Version in the ID answer.
    pub version: String,
    /// Vendor in the ID answer.
    pub vendor: String,
    /// Also put `[CAPABILITY …]` in the greeting (saves clients a round trip). WildDuck does not,
    /// so the default is off.
    pub greeting_capability: bool,
    /// Allow LOGIN/AUTHENTICATE on plaintext even when STARTTLS is offered (`ignoreSTARTTLS`):
    /// then LOGINDISABLED is not advertised.
    pub ignore_starttls: bool,
    /// Do not offer STARTTLS even when the listener could (`disableSTARTTLS`).
    pub disable_starttls: bool,
    /// Offer COMPRESS=DEFLATE after login (`enableCompression`, default false).
    pub enable_compression: bool,
    /// Most inflated bytes per command under COMPRESS (`maxCompressionInflateBytes`, 100 MB).
    pub max_inflate_bytes: u64,
    /// Largest message APPEND accepts, advertised as APPENDLIMIT (`imap.maxMB`: 25 MiB).
    pub max_message: u64,
    /// Concurrent connections per user unless the user has `imapMaxConnections` (15).
    pub max_connections: u64,
    /// Socket inactivity timeout (WildDuck: 5 min 37 s).
    pub socket_timeout: Duration,
    /// Socket inactivity timeout once a connection upgraded with STARTTLS (WildDuck's
    /// imap-core gives the upgraded socket 30 min; implicit TLS keeps `socket_timeout`).
    pub starttls_socket_timeout: Duration,
    /// Longest IDLE before `* BYE IDLE terminated` (30 min).
    pub idle_timeout: Duration,
    /// Longest command line outside literals (`maxLineLength`: 16,384).
    pub max_line_length: usize,
    /// More BAD answers than this close the connection (50).
    pub max_bad_commands: u32,
    /// Most SELECT/EXAMINE (and EXPUNGE) commands per connection (1000).
    pub max_selects: u32,
    /// Daily APPEND bytes per user unless the user has `imapMaxUpload` (10 GiB).
    pub max_upload: u64,
    /// Daily FETCH bytes per user unless the user has `imapMaxDownload` (10 GiB).
    pub max_download: u64,
    /// The tagged LOGOUT answers (WildDuck's duck quotes); one is picked at random.
    pub quotes: Vec<String>,
    /// Receives every command (name, latency, outcome), APPENDs and the connection's bytes
    /// (metrics); a no-op by default.
    pub observer: wildduck_net::Observer,
}

impl Default for ImapConfig {
    fn default() -> Self {
        Self {
            name: "WildDuck IMAP Server".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "Kreata".into(),
            greeting_capability: false,
            ignore_starttls: false,
            disable_starttls: false,
            enable_compression: false,
            max_inflate_bytes: 100 * 1024 * 1024,
            max_message: 25 * 1024 * 1024,
            max_connections: 15,
            socket_timeout: Duration::from_secs(5 * 60 + 37),
            starttls_socket_timeout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(30 * 60),
            max_line_length: 16 * 1024,
            max_bad_commands: 50,
            max_selects: 1000,
            max_upload: 10240 * 1024 * 1024,
            max_download: 10240 * 1024 * 1024,
            quotes: vec![
                "Cut the dramatics, would yeh, and follow me!".into(),
                "Quack!".into(),
                "Ducks are just waterproof chickens.".into(),
            ],
            observer: wildduck_net::noop_observer(),
        }
    }
}

impl ImapConfig {
    /// The framer limits this configuration implies.
    pub fn framer_config(&self) -> FramerConfig {
        FramerConfig {
            max_line_length: self.max_line_length,
            max_append_literal: self.max_message,
            ..FramerConfig::default()
        }
    }
}

/// What every session of one server shares.
#[derive(Debug)]
pub struct Shared {
    /// The core.
    pub services: Services,
    /// The settings.
    pub config: ImapConfig,
    /// Users → live sessions, for change notifications.
    pub registry: Arc<Registry>,
    /// The notification listener was started (once per server, however many listeners).
    listening: AtomicBool,
}

/// An IMAP server over one set of services. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ImapServer {
    shared: Arc<Shared>,
}

impl ImapServer {
    /// A server answering with `services` as `config` says. When the services have a notifier,
    /// one listener task per server (spawned on the first [`ImapServer::serve`] or on demand by
    /// [`ImapServer::start_notifications`]) wakes the sessions of users whose data changed.
    pub fn new(services: Services, config: ImapConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                services,
                config,
                registry: Arc::new(Registry::default()),
                listening: AtomicBool::new(false),
            }),
        }
    }

    /// The shared state (services, configuration, session registry).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Starts the notification listener (once per server; needs a tokio runtime). Returns
    /// `false` when the services have no notifier.
    pub fn start_notifications(&self) -> bool {
        let Some(n) = self.shared.services.notifier().cloned() else {
            return false;
        };
        if self.shared.listening.swap(true, Ordering::AcqRel) {
            return true;
        }
        tokio::spawn(self.shared.registry.clone().run(n));
        true
    }

    /// Serves `listener` until `shutdown` fires; sessions then get `* BYE` between commands
    /// (never inside a response) and close, and the call returns once they are gone.
    pub async fn serve(self, listener: Listener, shutdown: ShutdownSignal) -> io::Result<()> {
        self.start_notifications();
        let this = self.clone();
        wildduck_net::serve(listener, shutdown, move |conn| this.handle(conn)).await
    }

    /// Runs one session on an accepted connection (for embedders with their own accept loop).
    ///
    /// Not an `async fn`: the returned future is the session's own, so a spawned session task
    /// does not also keep copies of `conn` in wrapper futures (memory per idle session).
    pub fn handle(&self, mut conn: Connection) -> impl Future<Output = ()> + Send + use<> {
        conn.stream
            .observe(self.shared.config.observer.clone(), "imap");
        crate::session::run(self.shared.clone(), conn)
    }
}
