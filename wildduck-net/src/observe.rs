//! What the front ends report about their sessions, for an embedder's metrics: commands with their
//! latency and outcome, bytes on the socket, stored messages. Every method has a no-op default, so
//! an observer implements only what it counts; [`NoopObserver`] is the default of every server.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How a command ended, in the protocol's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// IMAP `OK`, POP3 `+OK`, HTTP 1xx–3xx.
    Ok,
    /// IMAP `NO`, POP3 `-ERR`, HTTP 4xx: the command was understood and refused.
    No,
    /// IMAP `BAD` (or a syntax error), HTTP 5xx: the command could not be run.
    Bad,
}

impl Outcome {
    /// Lower-case label (`ok`, `no`, `bad`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::No => "no",
            Self::Bad => "bad",
        }
    }
}

/// Receives session events from the protocol servers. Called on the session's task, so an
/// implementation must be quick (count, do not log or block).
///
/// `protocol` is a lower-case constant (`imap`, `pop3`); command `name`s are upper-case command
/// words from a fixed set per protocol (unknown input is reported as `UNKNOWN`), so they are safe
/// as metric labels.
pub trait SessionObserver: Send + Sync + fmt::Debug {
    /// A command finished after `elapsed` (parsing to answer written into the output buffer).
    fn command(
        &self,
        protocol: &'static str,
        name: &'static str,
        elapsed: Duration,
        outcome: Outcome,
    ) {
        let _ = (protocol, name, elapsed, outcome);
    }

    /// Bytes read from and written to a connection's socket since the last call (TLS records and
    /// compressed data as they are on the wire).
    fn bytes(&self, protocol: &'static str, read: u64, written: u64) {
        let _ = (protocol, read, written);
    }

    /// A message of `size` bytes was stored through the protocol (IMAP `APPEND`).
    fn append(&self, protocol: &'static str, size: u64) {
        let _ = (protocol, size);
    }
}

/// An observer that counts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl SessionObserver for NoopObserver {}

/// A shared observer handle, as servers keep it in their configuration.
pub type Observer = Arc<dyn SessionObserver>;

/// The no-op observer as a handle (the servers' default).
pub fn noop_observer() -> Observer {
    Arc::new(NoopObserver)
}
