//! WildDuck's indexes (`indexes.yaml`, inventory §4.4) for the collections this backend writes.

use bson::{Document, doc};

/// One index.
pub(crate) struct IndexSpec {
    pub collection: &'static str,
    pub name: &'static str,
    pub keys: fn() -> Document,
    pub unique: bool,
    pub sparse: bool,
    pub ttl: Option<u64>,
    pub partial: Option<fn() -> Document>,
}

macro_rules! idx {
    ($coll:literal, $name:literal, { $($k:literal : $v:expr),* } $(, $opt:ident $(= $val:expr)?)*) => {{
        #[allow(unused_mut)]
        let mut s = IndexSpec {
            collection: $coll,
            name: $name,
            keys: || doc! { $($k: $v),* },
            unique: false,
            sparse: false,
            ttl: None,
            partial: None,
        };
        $( idx!(@opt s, $opt $(= $val)?); )*
        s
    }};
    (@opt $s:ident, unique) => { $s.unique = true };
    (@opt $s:ident, sparse) => { $s.sparse = true };
    (@opt $s:ident, ttl = $v:expr) => { $s.ttl = Some($v) };
    (@opt $s:ident, partial = $v:expr) => { $s.partial = Some($v) };
}

pub(crate) static INDEXES: std::sync::LazyLock<Vec<IndexSpec>> = std::sync::LazyLock::new(|| {
    vec![
        idx!("users", "users", { "username": 1 }),
        idx!("users", "users_dotless", { "unameview": 1 }, unique),
        idx!("users", "show_new", { "created": -1 }),
        idx!("users", "users_tags", { "tagsview": 1 }, sparse),
        idx!("addresses", "address_dotless", { "addrview": 1 }, unique),
        idx!("addresses", "address_tags", { "tagsview": 1 }, sparse),
        idx!("addresses", "address_paging", { "addrview": 1, "_id": 1 }),
        idx!("addresses", "user", { "user": 1 }),
        idx!("addressregister", "by_address", { "user": 1, "addrview": 1, "updated": -1 }),
        idx!("addressregister", "by_user_disabled_partial", { "user": 1, "updated": -1 }, partial = || doc! { "disabled": false }),
        idx!("addressregister", "by_user_disabled", { "user": 1, "disabled": 1 }),
        idx!("mailboxes", "user_path", { "user": 1, "path": 1 }, unique),
        idx!("mailboxes", "user_subscribed", { "user": 1, "subscribed": 1 }),
        idx!("mailboxes", "find_by_type", { "user": 1, "specialUse": 1 }),
        idx!("messages", "mailbox_uid_shard", { "_id": 1, "mailbox": 1, "uid": 1 }),
        idx!("messages", "user_messages_by_thread", { "user": 1, "thread": 1 }),
        idx!("messages", "mailbox_uid", { "mailbox": 1, "uid": 1, "_id": 1 }),
        idx!("messages", "mailbox_uid_reverse", { "mailbox": 1, "uid": -1, "_id": -1 }),
        idx!("messages", "mailbox_modseq_uid", { "mailbox": 1, "modseq": 1, "uid": 1 }),
        idx!("messages", "mailbox_flags", { "mailbox": 1, "flags": 1 }),
        idx!("messages", "by_idate", { "mailbox": 1, "idate": 1 }),
        idx!("messages", "by_idate_reverse_uid", { "mailbox": 1, "idate": -1, "_id": -1 }),
        idx!("messages", "by_idate_reverse_thread", { "mailbox": 1, "idate": -1, "_id": -1, "thread": 1, "uid": 1 }),
        idx!("messages", "by_hdate", { "mailbox": 1, "hdate": 1, "msgid": 1 }),
        idx!("messages", "by_size", { "mailbox": 1, "size": 1 }),
        idx!("messages", "by_headers", { "mailbox": 1, "headers.key": 1, "headers.value": 1 }),
        idx!("messages", "fulltext", { "user": 1, "headers.value": "text", "text": "text" },
            partial = || doc! { "searchable": true }),
        idx!("messages", "mailbox_unseen_flag", { "mailbox": 1, "unseen": 1 }),
        idx!("messages", "user_unseen_flag", { "user": 1, "unseen": 1 },
            partial = || doc! { "searchable": true }),
        idx!("messages", "mailbox_undeleted_flag", { "mailbox": 1, "undeleted": 1 }),
        idx!("messages", "mailbox_flagged_flag", { "mailbox": 1, "flagged": 1 }),
        idx!("messages", "user_flagged_flag", { "user": 1, "flagged": 1 }),
        idx!("messages", "user_searchable_flag", { "user": 1, "searchable": 1 }),
        idx!("messages", "mailbox_draft_flag", { "mailbox": 1, "draft": 1 }),
        idx!("messages", "has_attachment", { "mailbox": 1, "ha": 1 }),
        idx!("messages", "retention_time", { "exp": 1, "rdate": 1 },
            partial = || doc! { "exp": true }),
        idx!("archived", "user_messages", { "user": 1, "_id": 1 }),
        idx!("archived", "user_messages_desc", { "user": 1, "_id": -1 }),
        idx!("archived", "user_messages_by_thread", { "user": 1, "thread": 1 }),
        idx!("archived", "user_messages_archived", { "user": 1, "archived": 1 }),
        idx!("archived", "retention_time", { "exp": 1, "rdate": 1 },
            partial = || doc! { "exp": true }),
        idx!("attachments.files", "attachment_id_hashed", { "_id": "hashed" }),
        idx!("attachments.files", "related_attachments_cu", { "metadata.c": 1, "metadata.m": 1, "metadata.cu": 1 }),
        idx!("attachments.chunks", "chunks_shard", { "files_id": "hashed" }),
        idx!("attachments.chunks", "files_id_1_n_1", { "files_id": 1, "n": 1 }, unique),
        idx!("journal", "mailbox_modseq", { "mailbox": 1, "modseq": 1 }),
        idx!("journal", "user_limit_id", { "user": 1, "_id": 1 }),
        idx!("journal", "user_limit_id_reverse", { "user": 1, "_id": -1 }),
        idx!("journal", "journal_autoexpire", { "created": 1 }, ttl = 10800),
        idx!("threads", "thread_shard", { "user": "hashed" }),
        idx!("threads", "thread", { "user": 1, "ids": 1 }),
        idx!("threads", "thread_autoexpire", { "updated": 1 }, ttl = 15_552_000),
        idx!("asps", "asps_user", { "user": 1 }),
        idx!("asps", "entry_autoexpire", { "expires": 1 }, ttl = 0),
        idx!("authlog", "user", { "user": 1, "_id": -1 }),
        idx!("authlog", "insert", { "user": 1, "created": 1, "key": 1 }),
        idx!("authlog", "user_by_ip", { "user": 1, "ip": 1, "_id": -1 },
            partial = || doc! { "ip": true }),
        idx!("authlog", "by_ip", { "ip": 1 }, sparse),
        idx!("authlog", "user_hashed", { "user": "hashed" }),
        idx!("authlog", "entry_autoexpire", { "expires": 1 }, ttl = 0),
        idx!("tasks", "task", { "locked": 1, "lockedUntil": 1 }),
        idx!("tasks", "task_data_user", { "task": 1, "data.user": 1 }),
        // One queued clear-folder per mailbox, so concurrent `ensure` upserts cannot both insert.
        idx!("tasks", "clear_folder_task", { "task": 1, "data.user": 1, "data.mailbox": 1 },
            unique, partial = || doc! { "task": "clear-folder" }),
        idx!("deletedusers", "deletedusers_dotless", { "unameview": 1 }),
        idx!("deletedusers", "deletedusers_address", { "address": 1 }),
    ]
});
