//! The one error type of the library. Adapters map [`ErrorKind`] to their protocol in one place.

use std::fmt;

/// What went wrong, in terms an adapter can map to a protocol answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object does not exist (or belongs to someone else: never leak which).
    NotFound,
    /// A unique name or address is taken.
    AlreadyExists,
    /// The user's storage quota would be exceeded.
    OverQuota,
    /// Credentials were wrong.
    AuthFailed,
    /// Too many attempts or too much traffic.
    RateLimited,
    /// The input is over a size limit (e.g. a message above 64 MiB).
    TooBig,
    /// The input is malformed or breaks a rule.
    Invalid,
    /// A concurrent change got in the way; retrying may succeed.
    Conflict,
    /// The storage backend failed; details are logged, never shown to clients.
    Backend,
}

/// The library's error: a kind plus a message for logs and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Builds an error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The kind, for mapping to a protocol answer.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, for logs.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for [`ErrorKind::TooBig`].
    pub fn too_big(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooBig, message)
    }

    /// Shorthand for [`ErrorKind::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
