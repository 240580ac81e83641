//! Schema, migrations and the crash repair. The tables are described in `docs/data-model.md`.

use rusqlite::{Connection, TransactionBehavior};

use super::{get_meta, set_meta, sql};
use crate::{Error, ErrorKind, Result};

/// The schema version this binary writes. Files with a higher version are refused.
pub const SCHEMA_VERSION: u32 = 8;

/// Migrations in order: `(version reached, statements)`. Each runs in one transaction together
/// with the version bump, and uses `IF NOT EXISTS`, so re-running one after a crash is harmless.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, V1),
    (2, V2_AUTH),
    (3, V3_TEMP_PASSWORD),
    (4, V4_TASKS_DELETED_USERS),
    (5, V5_ARCHIVED),
    (6, V6_FORWARDED_REGISTER),
    (7, V7_META_DATA_EXPIRY),
    (8, V8_USER_ADDRESS_META),
];

/// The API's `metaData` and `internalData` of users and of users' addresses (JSON text of an
/// object each, NULL when never set). Forwarded addresses keep theirs in `forwarding`.
const V8_USER_ADDRESS_META: &str = r#"
ALTER TABLE users ADD COLUMN meta_data TEXT;
ALTER TABLE users ADD COLUMN internal_data TEXT;
ALTER TABLE addresses ADD COLUMN meta_data TEXT;
ALTER TABLE addresses ADD COLUMN internal_data TEXT;
"#;

/// The API's custom metadata of a message (WildDuck `meta.custom`, JSON text) next to its
/// content, where metadata reads never load it, and kept by the archive; the collector's index
/// of messages with an expiry; the listing's thread counters by (user, thread).
const V7_META_DATA_EXPIRY: &str = r#"
ALTER TABLE message_content ADD COLUMN custom TEXT;
ALTER TABLE archived ADD COLUMN custom TEXT;
CREATE INDEX IF NOT EXISTS messages_expiry ON messages (rdate) WHERE rdate IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_user_thread ON messages (user, thread);
"#;

/// Forwarded addresses and the correspondents register (WildDuck's forwarded-only `addresses`
/// fields and `addressregister`). `forwarding` is the JSON object of the forwarded-only fields,
/// NULL for users' addresses. A register entry is unique per user and address view.
const V6_FORWARDED_REGISTER: &str = r#"
ALTER TABLE addresses ADD COLUMN forwarding TEXT;
CREATE TABLE IF NOT EXISTS addressregister (
    id BLOB PRIMARY KEY,
    user BLOB NOT NULL,
    address TEXT NOT NULL,
    addrview TEXT NOT NULL,
    name TEXT,
    updated INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user, addrview)
);
CREATE INDEX IF NOT EXISTS addressregister_user_updated ON addressregister (user, updated);
"#;

/// The archive of deleted messages (WildDuck's `archived`): the `messages` columns (so one row
/// reader serves both), the encoded content, and the archive's own `archived` and `expires`
/// times. Archived rows keep their attachment references, so the crash repair counts them.
const V5_ARCHIVED: &str = r#"
CREATE TABLE IF NOT EXISTS archived (
    rid INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    root BLOB NOT NULL,
    user BLOB NOT NULL,
    mailbox BLOB NOT NULL,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    thread BLOB,
    idate INTEGER NOT NULL,
    hdate INTEGER NOT NULL,
    flags TEXT NOT NULL,
    size INTEGER NOT NULL,
    msgid TEXT,
    subject TEXT NOT NULL,
    ha INTEGER NOT NULL,
    junk INTEGER NOT NULL,
    magic INTEGER NOT NULL,
    rdate INTEGER,
    blobs TEXT,
    archived INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS archived_user ON archived (user, id);
CREATE INDEX IF NOT EXISTS archived_user_time ON archived (user, archived);
CREATE INDEX IF NOT EXISTS archived_expires ON archived (expires);
"#;

/// The task queue (WildDuck's `tasks`) and the snapshots of deleted users awaiting their purge
/// (WildDuck's `deletedusers`). A snapshot keeps the user's and its addresses' rows as JSON
/// objects of column values, so columns added later are restored too.
const V4_TASKS_DELETED_USERS: &str = r#"
CREATE TABLE IF NOT EXISTS tasks (
    id BLOB PRIMARY KEY,
    task TEXT NOT NULL,
    user BLOB,
    data TEXT NOT NULL,
    locked INTEGER NOT NULL,
    lock_token BLOB,
    locked_until INTEGER NOT NULL,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    run_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (task, locked, locked_until);
CREATE INDEX IF NOT EXISTS tasks_user ON tasks (task, user);
CREATE TABLE IF NOT EXISTS deleted_users (
    id BLOB PRIMARY KEY,
    unameview TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    main_address TEXT,
    user_row TEXT NOT NULL,
    addresses TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_users_unameview ON deleted_users (unameview);
"#;

/// The temporary password of a password reset (JSON `{password, created, validAfter}`). The
/// migration runs in one transaction with its version bump, so it never runs twice.
const V3_TEMP_PASSWORD: &str = "ALTER TABLE users ADD COLUMN temp_password TEXT;";

/// Application-specific passwords and the authentication log (WildDuck's `asps`, `authlog`).
const V2_AUTH: &str = r#"
CREATE TABLE IF NOT EXISTS asps (
    id BLOB PRIMARY KEY,
    user BLOB NOT NULL,
    description TEXT NOT NULL,
    scopes TEXT NOT NULL,
    password TEXT NOT NULL,
    selector TEXT NOT NULL,
    used INTEGER,
    auth_event BLOB,
    auth_ip TEXT,
    created INTEGER NOT NULL,
    ttl INTEGER,
    expires INTEGER
);
CREATE INDEX IF NOT EXISTS asps_user ON asps (user);
CREATE TABLE IF NOT EXISTS authlog (
    id BLOB PRIMARY KEY,
    user BLOB NOT NULL,
    action TEXT NOT NULL,
    result TEXT,
    protocol TEXT,
    source TEXT,
    asp BLOB,
    aname TEXT,
    temporary INTEGER,
    sess TEXT,
    ip TEXT,
    required_scope TEXT,
    created INTEGER NOT NULL,
    last INTEGER NOT NULL,
    events INTEGER NOT NULL,
    key BLOB NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS authlog_user ON authlog (user, id);
CREATE INDEX IF NOT EXISTS authlog_insert ON authlog (user, key, created);
"#;

const V1: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id BLOB PRIMARY KEY,
    username TEXT NOT NULL,
    unameview TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT,
    language TEXT,
    password TEXT NOT NULL,
    auth_version INTEGER NOT NULL,
    quota INTEGER NOT NULL,
    storage_used INTEGER NOT NULL,
    retention INTEGER NOT NULL,
    tags TEXT NOT NULL,
    disabled_scopes TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    suspended INTEGER NOT NULL,
    activated INTEGER NOT NULL,
    lim_recipients INTEGER,
    lim_forwards INTEGER,
    lim_imap_max_upload INTEGER,
    lim_imap_max_download INTEGER,
    lim_pop3_max_download INTEGER,
    lim_pop3_max_messages INTEGER,
    lim_imap_max_connections INTEGER,
    lim_received_max INTEGER,
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS addresses (
    id BLOB PRIMARY KEY,
    user BLOB,
    address TEXT NOT NULL,
    addrview TEXT NOT NULL UNIQUE,
    name TEXT,
    tags TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS addresses_user ON addresses (user, addrview);

CREATE TABLE IF NOT EXISTS mailboxes (
    id BLOB PRIMARY KEY,
    user BLOB NOT NULL,
    path TEXT NOT NULL,
    special_use TEXT,
    uid_validity INTEGER NOT NULL,
    uid_next INTEGER NOT NULL,
    modify_index INTEGER NOT NULL,
    subscribed INTEGER NOT NULL,
    flags TEXT NOT NULL,
    retention INTEGER NOT NULL,
    hidden INTEGER NOT NULL,
    encrypt_messages INTEGER NOT NULL,
    UNIQUE (user, path)
);
CREATE INDEX IF NOT EXISTS mailboxes_special_use ON mailboxes (user, special_use);

CREATE TABLE IF NOT EXISTS messages (
    rid INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    root BLOB NOT NULL,
    user BLOB NOT NULL,
    mailbox BLOB NOT NULL,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    thread BLOB,
    idate INTEGER NOT NULL,
    hdate INTEGER NOT NULL,
    flags TEXT NOT NULL,
    seen INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    draft INTEGER NOT NULL,
    size INTEGER NOT NULL,
    msgid TEXT,
    subject TEXT NOT NULL,
    ha INTEGER NOT NULL,
    junk INTEGER NOT NULL,
    magic INTEGER NOT NULL,
    rdate INTEGER,
    blobs TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_mailbox_uid ON messages (mailbox, uid);
CREATE INDEX IF NOT EXISTS messages_mailbox_seen ON messages (mailbox, seen);
CREATE INDEX IF NOT EXISTS messages_mailbox_modseq ON messages (mailbox, modseq);
CREATE INDEX IF NOT EXISTS messages_user_size ON messages (user, size);

CREATE TABLE IF NOT EXISTS message_content (
    rid INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS messages_drop_content AFTER DELETE ON messages BEGIN
    DELETE FROM message_content WHERE rid = old.rid;
END;

CREATE TABLE IF NOT EXISTS blobs (
    hash TEXT PRIMARY KEY,
    refs INTEGER NOT NULL,
    magic INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    transfer_encoding TEXT,
    encoded_size INTEGER NOT NULL,
    decoded_line_len INTEGER,
    length INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blob_data (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL,
    user BLOB NOT NULL,
    mailbox BLOB NOT NULL,
    command TEXT,
    uid INTEGER,
    message BLOB,
    modseq INTEGER NOT NULL,
    flags TEXT,
    unseen INTEGER,
    unseen_change INTEGER,
    idate INTEGER,
    thread BLOB,
    ignore TEXT,
    path TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_mailbox_modseq ON journal (mailbox, modseq);
CREATE INDEX IF NOT EXISTS journal_created ON journal (created);

CREATE TABLE IF NOT EXISTS threads (
    id BLOB PRIMARY KEY,
    user BLOB NOT NULL,
    subject TEXT NOT NULL,
    ids TEXT NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS thread_refs (
    user BLOB NOT NULL,
    subject TEXT NOT NULL,
    ref TEXT NOT NULL,
    thread BLOB NOT NULL,
    PRIMARY KEY (user, subject, ref, thread)
) WITHOUT ROWID;
"#;

/// Brings the file to [`SCHEMA_VERSION`]. Returns the version found before.
pub(super) fn migrate(conn: &mut Connection) -> Result<u32> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    )
    .map_err(sql)?;
    let found = read_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::Backend,
            format!(
                "the database has schema version {found}, newer than the {SCHEMA_VERSION} this \
                 binary supports: it was written by a newer WildDuck; upgrade this binary \
                 (the file was not modified)"
            ),
        ));
    }
    for &(version, statements) in MIGRATIONS {
        if version <= found {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        tx.execute_batch(statements).map_err(sql)?;
        set_meta(&tx, "schema_version", &version.to_string())?;
        tx.commit().map_err(sql)?;
        tracing::info!(version, "sqlite schema migrated");
    }
    Ok(found)
}

fn read_version(conn: &Connection) -> Result<u32> {
    match get_meta(conn, "schema_version")? {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::new(
                ErrorKind::Backend,
                format!("the database's schema version {v:?} is not a number"),
            )
        }),
    }
}

/// Repairs what a killed process can leave behind, in one transaction: `storage_used` of every
/// user is the sum of its messages' sizes (archived ones do not count); every blob's reference
/// count and magic sum follow the messages and archived messages that reference it; blobs nobody
/// references are removed.
pub(super) fn repair(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    tx.execute_batch(
        "UPDATE users SET storage_used =
             COALESCE((SELECT SUM(m.size) FROM messages m WHERE m.user = users.id), 0);
         CREATE TEMP TABLE repair_refs AS
             SELECT j.value AS hash, COUNT(*) AS c, SUM(m.magic) AS mg
             FROM (SELECT blobs, magic FROM messages WHERE blobs IS NOT NULL
                   UNION ALL
                   SELECT blobs, magic FROM archived WHERE blobs IS NOT NULL) m,
                  json_each(m.blobs) j
             GROUP BY j.value;
         CREATE UNIQUE INDEX temp.repair_refs_hash ON repair_refs (hash);
         UPDATE blobs SET
             refs = COALESCE((SELECT c FROM repair_refs r WHERE r.hash = blobs.hash), 0),
             magic = COALESCE((SELECT mg FROM repair_refs r WHERE r.hash = blobs.hash), 0);
         DELETE FROM blob_data WHERE hash IN (SELECT hash FROM blobs WHERE refs <= 0);
         DELETE FROM blobs WHERE refs <= 0;
         DROP TABLE temp.repair_refs;",
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(())
}
