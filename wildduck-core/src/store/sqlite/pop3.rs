//! The POP3 login's read in one transaction: the user, INBOX, and INBOX's newest messages (only
//! the columns a listing needs), instead of three reads each handed to the blocking pool and each
//! starting its own read transaction.

use rusqlite::OptionalExtension;

use super::mailboxes::{MAILBOX_COLUMNS, mailbox_from};
use super::users::{USER_COLUMNS, user_from};
use super::{SqliteStore, codec, id_at, idb, sql, u_at};
use crate::Result;
use crate::model::{MailboxId, MessageId, Uid, UidSet};
use crate::service::pop3::Pop3Message;
use crate::store::pop3::{Pop3Content, Pop3Inbox, Pop3Snapshot, pop3_window};

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

    /// See [`crate::store::UserStore::pop3_contents`]: only the UID and the encoded content,
    /// through the `(mailbox, uid)` index (which holds the row id the content is keyed by), so the
    /// message rows themselves are not read; the content is decoded when it is sent.
    pub(super) async fn pop3_content_read(
        &self,
        mailbox: MailboxId,
        uids: UidSet,
    ) -> Result<Vec<(Uid, Pop3Content)>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT m.uid, c.data FROM messages m JOIN message_content c ON c.rid = m.rid \
                     WHERE m.mailbox = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid",
                )
                .map_err(sql)?;
            let mut out = Vec::new();
            for &(lo, hi) in uids.ranges() {
                let mut rows = stmt
                    .query(rusqlite::params![
                        idb(mailbox.0),
                        i64::from(lo),
                        i64::from(hi)
                    ])
                    .map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    let uid = Uid(u32::try_from(u_at(row, 0).map_err(sql)?).unwrap_or(u32::MAX));
                    let data: Vec<u8> = row.get(1).map_err(sql)?;
                    out.push((
                        uid,
                        Pop3Content::deferred(move || codec::decode_tree(&data)),
                    ));
                }
            }
            Ok(out)
        })
        .await
    }
}
