//! Forwarded addresses (the forwarded-only fields of the `addresses` collection) and the
//! correspondents register (`addressregister`).

use super::ids::ObjectId;
use super::{Timestamp, UserId};

/// The kind of a forwarding target, as WildDuck stores it in `targets[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardTargetKind {
    /// An email address (`mail`).
    #[default]
    Mail,
    /// An SMTP relay URL, `smtp://` or `smtps://` (`relay`).
    Relay,
    /// An HTTP(S) URL the message is POSTed to (`http`).
    Http,
}

impl ForwardTargetKind {
    /// WildDuck's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mail => "mail",
            Self::Relay => "relay",
            Self::Http => "http",
        }
    }

    /// Parses WildDuck's name; unknown names are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mail" => Self::Mail,
            "relay" => Self::Relay,
            "http" => Self::Http,
            _ => return None,
        })
    }
}

/// One forwarding target (`targets[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForwardTarget {
    /// The target's own id (WildDuck gives every target one).
    pub id: ObjectId,
    /// What the value is.
    pub kind: ForwardTargetKind,
    /// The address or URL as given.
    pub value: String,
    /// For a mail target that is one of our users' addresses: that user.
    pub user: Option<UserId>,
}

/// The autoreply of a forwarded address (`autoreply` sub-document).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddressAutoreply {
    /// Enabled.
    pub status: bool,
    /// Not before this time (`None` = stored as `false` or absent).
    pub start: Option<Timestamp>,
    /// Not after this time.
    pub end: Option<Timestamp>,
    /// From name of the reply (`None` = absent from the document).
    pub name: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
}

/// The forwarded-only fields of an address. An address with these has no user: mail to it is
/// sent on to the targets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forwarding {
    /// Where mail goes.
    pub targets: Vec<ForwardTarget>,
    /// Daily forwarding limit (`forwards`; 0 = the server default).
    pub forwards: u64,
    /// Forwarding is switched off (`forwardedDisabled`).
    pub disabled: bool,
    /// Autoreply settings.
    pub autoreply: AddressAutoreply,
    /// `metaData` as stored: the JSON text of an object.
    pub meta_data: Option<String>,
    /// `internalData` as stored: the JSON text of an object.
    pub internal_data: Option<String>,
}

/// One correspondent in a user's register (`addressregister`): who the user received mail from
/// or sent mail to, for address autocompletion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisterEntry {
    /// Id.
    pub id: ObjectId,
    /// Owner.
    pub user: UserId,
    /// The address, normalised (local part and domain lower-cased).
    pub address: String,
    /// Its dotless lower-case view (unique per user).
    pub addrview: String,
    /// The display name last seen (decoded).
    pub name: Option<String>,
    /// Last time it was seen or changed.
    pub updated: Timestamp,
    /// Disabled entries are neither listed nor updated by new mail.
    pub disabled: bool,
}
