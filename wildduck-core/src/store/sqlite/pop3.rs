//! The POP3 login's read in one transaction: the user, INBOX, and INBOX's newest messages (only
//! the columns a listing needs), instead of three reads each handed to the blocking pool and each
//! starting its own read transaction.

use rusqlite::OptionalExtension;

use super::mailboxes::{MAILBOX_COLUMNS, mailbox_from};
use super::users::{USER_COLUMNS, user_from};
use super::{SqliteStore, id_at, idb, sql, u_at};
use crate::Result;
use crate::model::{MessageId, Uid};
use crate::service::pop3::Pop3Message;
use crate::store::pop3::{Pop3Inbox, Pop3Snapshot, pop3_window};

impl SqliteStore {
    /// See [`crate::store::UserStore::pop3_login_snapshot`].
    pub(super) async fn pop3_snapshot(
        &self,
        unameview: String,
        default_max: u64,
    ) -> Result<Option<Pop3Snapshot>> {
        self.read(move |tx| {
            let Some(user) = tx
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE unameview = ?1"
                ))
                .map_err(sql)?
                .query_row([unameview], user_from)
                .optional()
                .map_err(sql)?
            else {
                return Ok(None);
            };
            let mailbox = tx
                .prepare_cached(&format!(
                    "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE user = ?1 AND path = 'INBOX'"
                ))
                .map_err(sql)?
                .query_row([idb(user.id.0)], mailbox_from)
                .optional()
                .map_err(sql)?;
            let Some(mailbox) = mailbox else {
                return Ok(Some(Pop3Snapshot { user, inbox: None }));
            };
            let limit = i64::try_from(pop3_window(&user, default_max)).unwrap_or(i64::MAX);
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, uid, size, seen FROM messages WHERE mailbox = ?1 \
                     ORDER BY uid DESC LIMIT ?2",
                )
                .map_err(sql)?;
            let mut rows = stmt
                .query(rusqlite::params![idb(mailbox.id.0), limit])
                .map_err(sql)?;
            let mut newest = Vec::new();
            while let Some(row) = rows.next().map_err(sql)? {
                newest.push(Pop3Message {
                    id: MessageId(id_at(row, 0).map_err(sql)?),
                    uid: Uid(u32::try_from(u_at(row, 1).map_err(sql)?).unwrap_or(u32::MAX)),
                    size: u_at(row, 2).map_err(sql)?,
                    seen: row.get::<_, bool>(3).map_err(sql)?,
                });
            }
            newest.reverse();
            Ok(Some(Pop3Snapshot {
                user,
                inbox: Some(Pop3Inbox { mailbox, newest }),
            }))
        })
        .await
    }
}
