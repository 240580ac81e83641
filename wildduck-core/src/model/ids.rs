//! Identifiers. An [`ObjectId`] is MongoDB's 12-byte id kept as plain bytes so the model needs no BSON;
//! the typed wrappers stop a mailbox id from being passed where a user id is expected.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// A 12-byte object id: 4 bytes of seconds since the epoch, 5 random bytes, a 3-byte counter
/// (the layout MongoDB uses, so ids sort by creation time on both backends).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId([u8; 12]);

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ObjectId {
    /// A fresh id for the current time.
    pub fn new() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as u32;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        // One random value per process (as the drivers do), so ids made in one second by one
        // process sort in creation order: the journal relies on `_id` order within a MODSEQ.
        b[4..9].copy_from_slice(&process_random());
        // The counter starts at a random point per process, like the drivers do.
        let c = COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(process_seed());
        b[9..].copy_from_slice(&c.to_be_bytes()[1..]);
        Self(b)
    }

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn bytes(&self) -> [u8; 12] {
        self.0
    }

    /// Seconds since the epoch encoded in the id.
    pub fn timestamp_secs(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
}

fn process_random() -> [u8; 5] {
    static RANDOM: std::sync::OnceLock<[u8; 5]> = std::sync::OnceLock::new();
    *RANDOM.get_or_init(rand::random)
}

fn process_seed() -> u32 {
    static SEED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *SEED.get_or_init(rand::random)
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.as_bytes();
        if s.len() != 24 {
            return Err(Error::invalid("an id is 24 hex digits"));
        }
        let mut out = [0u8; 12];
        for (i, pair) in s.chunks(2).enumerate() {
            let hi = hex_val(pair.first().copied());
            let lo = hex_val(pair.get(1).copied());
            match (hi, lo, out.get_mut(i)) {
                (Some(h), Some(l), Some(slot)) => *slot = h << 4 | l,
                _ => return Err(Error::invalid("an id is 24 hex digits")),
            }
        }
        Ok(Self(out))
    }
}

fn hex_val(c: Option<u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub ObjectId);

        impl $name {
            /// A fresh id.
            pub fn new() -> Self {
                Self(ObjectId::new())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                ObjectId::from_str(s).map(Self)
            }
        }

        impl From<ObjectId> for $name {
            fn from(id: ObjectId) -> Self {
                Self(id)
            }
        }
    )*};
}

typed_id!(
    /// Id of a user (`users._id`).
    UserId,
    /// Id of an address (`addresses._id`).
    AddressId,
    /// Id of a mailbox (`mailboxes._id`).
    MailboxId,
    /// Id of a message document (`messages._id`); new on every copy and move.
    MessageId,
    /// Id of a thread (`threads._id`).
    ThreadId,
    /// Id of a journal entry (`journal._id`).
    JournalId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::new();
        let s = id.to_string();
        assert_eq!(s.len(), 24);
        assert_eq!(s.parse::<ObjectId>().ok(), Some(id));
        assert!("zz".parse::<ObjectId>().is_err());
        assert!("0123456789abcdef0123456g".parse::<ObjectId>().is_err());
        assert!("0123456789ABCDEF01234567".parse::<MailboxId>().is_ok());
    }

    #[test]
    fn ids_are_unique_and_ordered_by_time() {
        let a = ObjectId::new();
        let b = ObjectId::new();
        assert_ne!(a, b);
        assert!(a.timestamp_secs() > 1_600_000_000);
    }
}
