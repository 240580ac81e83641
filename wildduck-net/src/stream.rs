//! One client's byte stream: plain TCP or TLS, upgradable in place.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::observe::Observer;
use crate::tls::TlsAcceptor;

/// A TCP socket that reports the bytes read and written to an [`Observer`] once one is attached
/// (below TLS, so what is counted is what crossed the wire). It offers the readiness calls of
/// [`TcpStream`] that sessions use to wait without holding a buffer.
#[derive(Debug)]
pub struct MeteredTcp {
    tcp: TcpStream,
    meter: Option<(Observer, &'static str)>,
}

impl MeteredTcp {
    /// Wraps `tcp`; nothing is reported until [`MeteredTcp::observe`].
    pub fn new(tcp: TcpStream) -> Self {
        Self { tcp, meter: None }
    }

    /// Reports this socket's traffic to `observer` under `protocol` from now on.
    pub fn observe(&mut self, observer: Observer, protocol: &'static str) {
        self.meter = Some((observer, protocol));
    }

    /// The socket.
    pub fn get_ref(&self) -> &TcpStream {
        &self.tcp
    }

    /// Waits until the socket is readable ([`TcpStream::readable`]).
    pub async fn readable(&self) -> io::Result<()> {
        self.tcp.readable().await
    }

    /// A non-blocking read ([`TcpStream::try_read`]), counted.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.try_read(buf)?;
        self.count(n, 0);
        Ok(n)
    }

    fn count(&self, read: usize, written: usize) {
        if let Some((o, p)) = &self.meter
            && read + written > 0
        {
            o.bytes(p, read as u64, written as u64);
        }
    }
}

impl AsyncRead for MeteredTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.tcp).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            me.count(buf.filled().len().saturating_sub(before), 0);
        }
        r
    }
}

impl AsyncWrite for MeteredTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            me.count(0, n);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            me.count(0, n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// A client connection, plain or TLS. Reads and writes go straight to the socket (no buffering
/// here: a protocol keeps its own read buffer, which it must discard on STARTTLS).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(MeteredTcp),
    /// TLS over TCP (boxed: the TLS state is large).
    Tls(Box<TlsStream<MeteredTcp>>),
}

impl Stream {
    /// Reports the socket's traffic (from now on, TLS records included) to `observer` as
    /// `protocol`'s.
    pub fn observe(&mut self, observer: Observer, protocol: &'static str) {
        match self {
            Self::Plain(t) => t.observe(observer, protocol),
            Self::Tls(t) => t.get_mut().0.observe(observer, protocol),
        }
    }

    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The SNI name the client asked for, if TLS and given.
    pub fn servername(&self) -> Option<&str> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(t) => t.get_ref().1.server_name(),
        }
    }

    /// Runs a TLS handshake on a plain stream (implicit TLS, or STARTTLS after the protocol said
    /// "go ahead"), bounded by `timeout`. A stream that already is TLS is refused.
    pub async fn upgrade(self, acceptor: &TlsAcceptor, timeout: Duration) -> io::Result<Self> {
        let tcp = match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "stream is already TLS",
                ));
            }
        };
        match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Ok(Self::Tls(Box::new(tls))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }
}
