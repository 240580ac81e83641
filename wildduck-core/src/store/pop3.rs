//! What a POP3 login reads: the user, INBOX and the newest messages of INBOX, in one step where
//! the backend can (see [`crate::store::UserStore::pop3_login_snapshot`]).

use crate::Result;
use crate::message::MimeNode;
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

/// A message's stored content as read for POP3 ([`crate::store::UserStore::pop3_contents`]): the
/// MIME tree, which is all RETR and TOP need to rebuild the bytes. A backend may hand it over
/// still encoded, so that messages read ahead but never retrieved are never decoded.
pub struct Pop3Content(ContentForm);

enum ContentForm {
    Tree(MimeNode),
    Deferred(Box<dyn FnOnce() -> Result<MimeNode> + Send>),
}

impl Pop3Content {
    /// Content already decoded.
    pub fn tree(tree: MimeNode) -> Self {
        Self(ContentForm::Tree(tree))
    }

    /// Content that `decode` turns into the tree when the message is sent.
    pub fn deferred(decode: impl FnOnce() -> Result<MimeNode> + Send + 'static) -> Self {
        Self(ContentForm::Deferred(Box::new(decode)))
    }

    /// The MIME tree (decoding it now when it was deferred).
    pub fn into_tree(self) -> Result<MimeNode> {
        match self.0 {
            ContentForm::Tree(t) => Ok(t),
            ContentForm::Deferred(decode) => decode(),
        }
    }
}

impl std::fmt::Debug for Pop3Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ContentForm::Tree(_) => "Pop3Content(decoded)",
            ContentForm::Deferred(_) => "Pop3Content(deferred)",
        })
    }
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
