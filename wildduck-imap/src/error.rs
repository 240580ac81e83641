//! The one place where core errors become IMAP answers (DESIGN §2: each adapter maps
//! [`ErrorKind`] once).
//!
//! WildDuck turns a handler's string result into a response code and, when the handler gave no
//! text, answers `<CMD> completed`; backend failures are hidden as `NO [TEMPFAIL]`. We keep those
//! texts, and show the core's message only for kinds whose messages are written for clients.

use wildduck_core::{Error, ErrorKind};

use crate::session::Reply;

/// The response code for a core error kind.
pub fn code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NONEXISTENT",
        ErrorKind::AlreadyExists => "ALREADYEXISTS",
        ErrorKind::OverQuota => "OVERQUOTA",
        ErrorKind::TooBig => "TOOBIG",
        ErrorKind::Invalid => "CANNOT",
        ErrorKind::AuthFailed => "AUTHENTICATIONFAILED",
        ErrorKind::RateLimited => "LIMIT",
        ErrorKind::Conflict => "INUSE",
        _ => "TEMPFAIL",
    }
}

/// The tagged `NO` for a failed `command` (`SELECT`, `CREATE`, …).
pub fn reply(e: &Error, command: &str) -> Reply {
    let text = match e.kind() {
        ErrorKind::Invalid | ErrorKind::RateLimited | ErrorKind::TooBig => e.message().to_string(),
        ErrorKind::AuthFailed => "Invalid credentials".to_string(),
        ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::OverQuota
        | ErrorKind::Conflict => format!("{command} completed"),
        _ => {
            tracing::warn!(command, error = %e, "IMAP command failed");
            format!("{command} completed")
        }
    };
    Reply::no_code(code(e.kind()), text)
}

/// Like [`reply`], for commands whose target mailbox should be created by the client first
/// (APPEND, COPY, MOVE): a missing mailbox is `NO [TRYCREATE]` (RFC 3501 §6.3.11).
pub fn reply_trycreate(e: &Error, command: &str) -> Reply {
    if e.kind() == ErrorKind::NotFound {
        return Reply::no_code("TRYCREATE", format!("{command} completed"));
    }
    reply(e, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Status;

    #[test]
    fn kinds_map_to_codes() {
        let r = reply(&Error::not_found("x"), "SELECT");
        assert_eq!(
            r.tagged_line("a"),
            "a NO [NONEXISTENT] SELECT completed\r\n"
        );
        let r = reply(
            &Error::new(ErrorKind::Backend, "db down at 10.0.0.1"),
            "LIST",
        );
        assert_eq!(r.status, Status::No);
        assert!(!r.text.contains("10.0.0.1"));
        assert_eq!(r.code.as_deref(), Some("TEMPFAIL"));
        let r = reply_trycreate(&Error::not_found("x"), "APPEND");
        assert_eq!(r.code.as_deref(), Some("TRYCREATE"));
        assert_eq!(code(ErrorKind::OverQuota), "OVERQUOTA");
        assert_eq!(code(ErrorKind::AlreadyExists), "ALREADYEXISTS");
        assert_eq!(code(ErrorKind::Invalid), "CANNOT");
    }
}
