//! Plain domain types shared by the store traits, the services and the adapters. No database types
//! appear here: backends map these to their own representation.

mod auth;
mod flags;
mod forwarded;
mod ids;
mod types;
mod uid;

pub use auth::{
    AUTHLOG_BUCKET_MS, Asp, AuthEvent, AuthLogFilter, TEMP_PASSWORD_WINDOW_MS, TempPassword,
};
pub use flags::{Flag, FlagOp, Flags, MAX_KEYWORD_LEN};
pub use forwarded::{
    AddressAutoreply, ForwardTarget, ForwardTargetKind, Forwarding, RegisterEntry,
};
pub use ids::{AddressId, JournalId, MailboxId, MessageId, ObjectId, ThreadId, UserId};
pub use types::{
    Address, JournalCommand, JournalEntry, Mailbox, MailboxStatus, MessageMeta, SpecialUse,
    Timestamp, User, UserLimits, UserUpdate,
};
pub use uid::{ModSeq, Uid, UidSet};
