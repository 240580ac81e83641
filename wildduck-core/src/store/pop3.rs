//! What a POP3 login reads: the user, INBOX and the newest messages of INBOX, in one step where
//! the backend can (see [`crate::store::UserStore::pop3_login_snapshot`]).

use crate::model::{Mailbox, User};
use crate::service::pop3::Pop3Message;

/// How many messages a POP3 listing holds for `user`: `pop3MaxMessages` when set (and not 0),
/// else `default_max` (WildDuck's `pop3.maxMessages`).
pub fn pop3_window(user: &User, default_max: u64) -> usize {
    let n = match user.limits.pop3_max_messages {
        Some(n) if n > 0 => n,
        _ => default_max,
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// INBOX and its newest messages, as read together with the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Pop3Inbox {
    /// INBOX.
    pub mailbox: Mailbox,
    /// The newest [`pop3_window`] messages of INBOX, oldest first (no listing floor applied).
    pub newest: Vec<Pop3Message>,
}

/// What [`crate::store::UserStore::pop3_login_snapshot`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Pop3Snapshot {
    /// The user.
    pub user: User,
    /// INBOX and its newest messages when the backend read them in the same step; `None` when it
    /// did not (the caller reads them itself) or the user has no INBOX.
    pub inbox: Option<Pop3Inbox>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_users_limit_or_the_default() {
        let mut user = User::default();
        assert_eq!(pop3_window(&user, 250), 250);
        user.limits.pop3_max_messages = Some(0);
        assert_eq!(pop3_window(&user, 250), 250);
        user.limits.pop3_max_messages = Some(3);
        assert_eq!(pop3_window(&user, 250), 3);
    }
}
