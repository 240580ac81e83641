//! The POP3 server: configuration and the per-connection loop (read → answer every complete line
//! → flush), with the idle timeout, STLS and shutdown.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wildduck_core::service::Services;
use wildduck_core::service::pop3::{POP3_MAX_DOWNLOAD, POP3_MAX_MESSAGES, Pop3DeleteAction};
use wildduck_net::{Connection, Listener, Observer, ShutdownSignal, Stream};

use crate::proto::{DEFAULT_MAX_LINE, LineBuffer};
use crate::session::{Action, Session};

/// POP3 settings (WildDuck's `pop3.*` configuration).
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// Server name in the greeting (`pop3.name`).
    pub name: String,
    /// Version in CAPA's `IMPLEMENTATION WildDuck-v<version>`.
    pub version: String,
    /// Leave `IMPLEMENTATION` out of CAPA (`pop3.disableVersionString`).
    pub disable_version_string: bool,
    /// Allow USER/PASS/AUTH on plaintext even when STLS is offered (`pop3.ignoreSTARTTLS`).
    pub ignore_starttls: bool,
    /// Do not offer STLS even when the listener could (`pop3.disableSTARTTLS`).
    pub disable_starttls: bool,
    /// Messages listed per session unless the user has `pop3MaxMessages` (`pop3.maxMessages`).
    pub max_messages: u64,
    /// Daily download bytes unless the user has `pop3MaxDownload`.
    pub max_download: u64,
    /// What DELE does at QUIT.
    pub delete_action: Pop3DeleteAction,
    /// Longest command line in bytes.
    pub max_line: usize,
    /// Receives every command (name, latency, outcome) and the connection's bytes (metrics).
    pub observer: Observer,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Self {
            name: "WildDuck POP3 Server".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            disable_version_string: false,
            ignore_starttls: false,
            disable_starttls: false,
            max_messages: POP3_MAX_MESSAGES,
            max_download: POP3_MAX_DOWNLOAD,
            delete_action: Pop3DeleteAction::MoveToTrash,
            max_line: DEFAULT_MAX_LINE,
            observer: wildduck_net::noop_observer(),
        }
    }
}

/// A POP3 server over one set of services. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pop3Server {
    services: Services,
    config: Arc<Pop3Config>,
}

/// Flush the answer buffer early when a RETR makes it this large.
const FLUSH_AT: usize = 256 * 1024;

impl Pop3Server {
    /// A server answering with `services` as `config` says.
    pub fn new(services: Services, config: Pop3Config) -> Self {
        Self {
            services,
            config: Arc::new(config),
        }
    }

    /// Serves `listener` until `shutdown` fires; sessions then answer
    /// `-ERR [SYS/TEMP] Server shutting down` and close (nothing is deleted), and the call returns
    /// once they are gone.
    pub async fn serve(self, listener: Listener, shutdown: ShutdownSignal) -> io::Result<()> {
        let this = Arc::new(self);
        wildduck_net::serve(listener, shutdown, move |conn| {
            let this = this.clone();
            async move { this.handle(conn).await }
        })
        .await
    }

    /// Runs one session on an accepted connection (for embedders with their own accept loop).
    pub async fn handle(&self, conn: Connection) {
        let Connection {
            mut stream,
            info,
            mut shutdown,
            mut starttls,
            idle_timeout,
            handshake_timeout,
        } = conn;
        stream.observe(self.config.observer.clone(), "pop3");
        let mut session = Session::new(
            &self.services,
            &self.config,
            &info,
            stream.is_tls(),
            starttls.is_some() && !stream.is_tls(),
        );
        let mut out = Vec::with_capacity(4096);
        session.greeting(&mut out);
        let mut input = LineBuffer::new(self.config.max_line.max(16));
        let mut chunk = vec![0u8; 16 * 1024];
        'session: loop {
            // Answer every complete line already received (pipelining), in order.
            loop {
                let line = match input.next_line() {
                    Ok(Some(l)) => l,
                    Ok(None) => break,
                    Err(_) => {
                        out.extend_from_slice(b"-ERR line too long\r\n");
                        let _ = write_all(&mut stream, &out).await;
                        break 'session;
                    }
                };
                match session.handle(&line, &mut out).await {
                    Action::Continue => {}
                    Action::Close => {
                        let _ = write_all(&mut stream, &out).await;
                        break 'session;
                    }
                    Action::StartTls => {
                        if write_all(&mut stream, &out).await.is_err() {
                            break 'session;
                        }
                        out.clear();
                        input.clear();
                        let Some(acceptor) = starttls.take() else {
                            break 'session;
                        };
                        match stream.upgrade(&acceptor, handshake_timeout).await {
                            Ok(s) => stream = s,
                            Err(e) => {
                                tracing::debug!(session = %info.id, error = %e, "STLS handshake failed");
                                return;
                            }
                        }
                        session.tls_established();
                        continue 'session;
                    }
                }
                if out.len() >= FLUSH_AT {
                    if write_all(&mut stream, &out).await.is_err() {
                        break 'session;
                    }
                    out.clear();
                }
            }
            if !out.is_empty() {
                if write_all(&mut stream, &out).await.is_err() {
                    break 'session;
                }
                out.clear();
            }
            let read = tokio::select! {
                r = tokio::time::timeout(idle_timeout, stream.read(&mut chunk)) => r,
                _ = shutdown.wait() => {
                    let _ = write_all(&mut stream, b"-ERR [SYS/TEMP] Server shutting down\r\n").await;
                    break 'session;
                }
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => break 'session,
                Ok(Ok(n)) => input.extend(chunk.get(..n).unwrap_or_default()),
                Err(_) => {
                    let _ = write_all(&mut stream, b"-ERR Disconnected for inactivity\r\n").await;
                    break 'session;
                }
            }
        }
        let _ = stream.shutdown().await;
    }
}

async fn write_all(stream: &mut Stream, data: &[u8]) -> io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}
