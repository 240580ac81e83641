//! The connection's transport: the socket (plain or TLS), the command framer, the output buffer
//! and the optional COMPRESS=DEFLATE layer.
//!
//! Memory is the point of this file (issue target: ≤ 4 KiB per idle plain session). An idle
//! session holds no read buffer at all: on a plain socket we wait for readability first and only
//! then borrow a buffer for one read; the output buffer and the framer's buffers are released when
//! they grew large. There is no task or timer per session beyond the read's own timeout.

use std::io;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;
use wildduck_net::{ShutdownSignal, Stream};

use crate::proto::{Framer, FramerConfig, FramerEvent};
use crate::session::notify::SessionHandle;

/// Size of the buffer borrowed for one socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Output buffers above this capacity are released after a flush.
const KEEP_OUT: usize = 4 * 1024;
/// Flush early when a response grows beyond this (large FETCH answers).
pub const FLUSH_AT: usize = 128 * 1024;

/// Stands in for a timeout too large to represent.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What waiting for client input produced.
#[derive(Debug)]
pub enum Input {
    /// A framer event (never [`FramerEvent::NeedMore`]): a command frame, a literal step or a
    /// framing error.
    Event(FramerEvent),
    /// The client closed the connection (or the socket failed).
    Closed,
    /// Nothing arrived within the socket timeout.
    Timeout,
    /// The server is shutting down (only reported between commands, never inside one).
    Shutdown,
    /// Another session or instance changed this user's data (see [`SessionHandle`]); the caller
    /// decides when to tell the client.
    Notified,
    /// More inflated bytes arrived for one command than COMPRESS allows.
    InflateLimit,
}

/// The COMPRESS=DEFLATE state (RFC 4978): raw deflate both ways.
struct Deflate {
    compress: Compress,
    decompress: Decompress,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deflate")
    }
}

/// The transport of one session; see the module documentation.
#[derive(Debug)]
pub struct Io {
    /// `None` only after a failed STARTTLS handshake (the connection is then closed).
    stream: Option<Stream>,
    framer: Framer,
    out: Vec<u8>,
    deflate: Option<Box<Deflate>>,
    timeout: Duration,
    shutdown: ShutdownSignal,
    /// The last TLS read filled the buffer: more plaintext may be waiting inside rustls, so read
    /// again before waiting for the socket.
    more_buffered: bool,
    /// Inflated bytes since the last complete command, and the cap.
    inflated: u64,
    inflate_cap: u64,
}

impl Io {
    /// A transport over `stream` with the given framer limits and socket timeout.
    pub fn new(
        stream: Stream,
        framer: FramerConfig,
        timeout: Duration,
        shutdown: ShutdownSignal,
        inflate_cap: u64,
    ) -> Self {
        Self {
            stream: Some(stream),
            framer: Framer::new(framer),
            out: Vec::new(),
            deflate: None,
            timeout,
            shutdown,
            more_buffered: false,
            inflated: 0,
            inflate_cap,
        }
    }

    /// Whether the stream is TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(Stream::is_tls)
    }

    /// Whether COMPRESS=DEFLATE is active.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// The framer (e.g. to change its limits).
    pub fn framer_mut(&mut self) -> &mut Framer {
        &mut self.framer
    }

    /// Queues bytes for the client.
    pub fn write(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet flushed.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Whether the framer holds no partial command.
    pub fn between_commands(&self) -> bool {
        self.framer.is_idle()
    }

    /// Sends everything queued. The buffer is released when it had grown large.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            self.out.clear();
            return Err(io::ErrorKind::NotConnected.into());
        };
        let result = match self.deflate.as_mut() {
            None => write_all(stream, &self.out).await,
            Some(d) => match deflate_sync(&mut d.compress, &self.out) {
                Ok(packed) => write_all(stream, &packed).await,
                Err(e) => Err(e),
            },
        };
        self.out.clear();
        if self.out.capacity() > KEEP_OUT {
            self.out = Vec::new();
        }
        result
    }

    /// Flushes when the queued output is large (call inside long responses).
    pub async fn flush_if_large(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// Releases buffer memory before a long wait (e.g. IDLE).
    pub fn shrink(&mut self) {
        self.framer.shrink();
        if self.out.is_empty() {
            self.out = Vec::new();
        }
    }

    /// Drops whatever the client sent that was not consumed yet and starts framing afresh (after
    /// STARTTLS, where buffered plaintext must not be trusted).
    pub fn reset_framer(&mut self) {
        let config = *self.framer.config();
        self.framer = Framer::new(config);
        self.more_buffered = false;
    }

    /// Replaces the socket inactivity timeout (STARTTLS sets WildDuck's longer one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Upgrades to TLS (after `OK Begin TLS negotiation now` was flushed).
    pub async fn start_tls(
        &mut self,
        acceptor: &wildduck_net::TlsAcceptor,
        timeout: Duration,
    ) -> io::Result<()> {
        self.reset_framer();
        let stream = self
            .stream
            .take()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        self.stream = Some(stream.upgrade(acceptor, timeout).await?);
        // A client may send its first command in the same segment as its handshake Finished
        // (curl does): rustls has then already decrypted it, and waiting for the socket would
        // hang, so the first read goes to rustls.
        self.more_buffered = true;
        Ok(())
    }

    /// Turns on COMPRESS=DEFLATE for everything after the (already flushed) tagged OK.
    pub fn start_deflate(&mut self) {
        self.deflate = Some(Box::new(Deflate {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
        }));
    }

    /// Closes the write side (best effort).
    pub async fn close(&mut self) {
        let _ = self.flush().await;
        if let Some(s) = self.stream.as_mut() {
            let _ = s.shutdown().await;
        }
    }

    /// The next input: pending output is flushed first, then framer events are returned as long
    /// as buffered bytes allow, then the socket is read (bounded by the socket timeout). Shutdown
    /// is reported only between commands; `notify` (when given) wakes the wait with
    /// [`Input::Notified`]. A `deadline` (IDLE's maximum) shortens the wait: reaching it returns
    /// [`Input::Timeout`] (one timer, not a second one next to the socket timeout).
    pub async fn next_input(
        &mut self,
        notify: Option<&SessionHandle>,
        deadline: Option<Instant>,
    ) -> Input {
        loop {
            match self.framer.next_event() {
                FramerEvent::NeedMore => {}
                ev => {
                    if matches!(ev, FramerEvent::Frame(_)) {
                        self.inflated = 0;
                    }
                    return Input::Event(ev);
                }
            }
            if self.flush().await.is_err() {
                return Input::Closed;
            }
            let watch_shutdown = self.framer.is_idle();
            if watch_shutdown {
                // Between commands nothing needs to stay allocated: an idle session keeps no
                // buffers (they come back on the next command).
                self.framer.shrink();
                self.out = Vec::new();
            }
            let Some(stream) = self.stream.as_mut() else {
                return Input::Closed;
            };
            let read = {
                let until = match (Instant::now().checked_add(self.timeout), deadline) {
                    (Some(t), Some(d)) => t.min(d),
                    (Some(t), None) => t,
                    (None, Some(d)) => d,
                    // A timeout too large to add: as good as none.
                    (None, None) => Instant::now() + FOREVER,
                };
                let more = self.more_buffered;
                let read_fut = tokio::time::timeout_at(until, read_some(stream, more));
                tokio::select! {
                    biased;
                    _ = self.shutdown.wait(), if watch_shutdown => return Input::Shutdown,
                    _ = wait_notified(notify) => return Input::Notified,
                    r = read_fut => r,
                }
            };
            let data = match read {
                Err(_) => return Input::Timeout,
                Ok(Err(_)) => return Input::Closed,
                Ok(Ok(d)) if d.is_empty() => return Input::Closed,
                Ok(Ok(d)) => d,
            };
            self.more_buffered = self.is_tls() && data.len() == READ_CHUNK;
            match self.deflate.as_mut() {
                None => self.framer.feed(&data),
                Some(d) => {
                    let Ok(plain) = inflate(&mut d.decompress, &data) else {
                        return Input::Closed;
                    };
                    self.inflated = self.inflated.saturating_add(plain.len() as u64);
                    if self.inflated > self.inflate_cap {
                        return Input::InflateLimit;
                    }
                    self.framer.feed(&plain);
                }
            }
        }
    }
}

async fn wait_notified(notify: Option<&SessionHandle>) {
    match notify {
        Some(h) => h.notified().await,
        None => std::future::pending().await,
    }
}

/// One read. On a plain socket no buffer is held while waiting; on TLS the buffer is needed for
/// the read itself.
///
/// Readiness is awaited with `poll_read_ready`, which keeps the waker in the socket's own
/// registration: unlike `readable()`, whose future carries a waiter node (168 bytes), the wait
/// adds nothing to the session's future.
async fn read_some(stream: &mut Stream, more_buffered: bool) -> io::Result<Vec<u8>> {
    match stream {
        Stream::Plain(tcp) => loop {
            std::future::poll_fn(|cx| tcp.get_ref().poll_read_ready(cx)).await?;
            let mut buf = vec![0u8; READ_CHUNK];
            match tcp.try_read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                // Readiness was stale; `try_read` cleared it, so the next poll waits again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        },
        Stream::Tls(tls) => {
            if !more_buffered {
                // Wait for ciphertext without holding a buffer; rustls has no plaintext left
                // (the last read did not fill its buffer).
                let tcp = tls.get_ref().0.get_ref();
                std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await?;
            }
            let mut buf = vec![0u8; READ_CHUNK];
            let n = tls.read(&mut buf).await?;
            buf.truncate(n);
            Ok(buf)
        }
    }
}

async fn write_all(stream: &mut Stream, data: &[u8]) -> io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}

fn deflate_sync(c: &mut Compress, input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let mut consumed = 0usize;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let before_in = c.total_in();
        let rest = input.get(consumed..).unwrap_or_default();
        c.compress_vec(rest, &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        consumed += usize::try_from(c.total_in() - before_in).unwrap_or(0);
        // Done when all input is taken and the sync flush fitted (space left over).
        if consumed >= input.len() && out.capacity() > out.len() {
            return Ok(out);
        }
    }
}

fn inflate(d: &mut Decompress, input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).max(256));
    let mut consumed = 0usize;
    loop {
        if out.capacity() - out.len() < 256 {
            out.reserve(out.capacity().max(1024));
        }
        let before_in = d.total_in();
        let before_out = d.total_out();
        let rest = input.get(consumed..).unwrap_or_default();
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::Sync)
            .map_err(io::Error::other)?;
        consumed += usize::try_from(d.total_in() - before_in).unwrap_or(0);
        let produced = d.total_out() - before_out;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if consumed >= input.len() && out.capacity() > out.len() {
            return Ok(out);
        }
        if produced == 0 && consumed >= input.len() {
            return Ok(out);
        }
    }
}
