//! The OpenAPI 3 document, generated from the route table below (the same paths the router
//! mounts, each with the parameters its handler validates) and served at `/openapi.json`.
//!
//! The table is checked against the handlers: every [`crate::params::Validator`] read is
//! recorded (when [`crate::params::audit`] is on) as the [`Kind`] and limits the handler
//! enforces, and [`disagreements`] lists every field a handler reads that its route does not
//! document (or documents with another type or limit), and every documented field that no
//! handler read. The tests run every route and require an empty list.

use axum::Json;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, ParameterStyle, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required, ResponseBuilder,
};

use crate::pagination::MAX_PAGE;
use crate::params::MAX_SAFE_INTEGER;

/// What a parameter holds, with the limits its handler enforces. The Validator records its
/// reads with the same type, so the two can be compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A 24 hex digit ObjectId.
    Id,
    /// An ObjectId or the given word (`resolve`).
    IdOr(&'static str),
    /// A string of at most this many characters.
    Str(usize),
    /// A string of at most this many characters matching a pattern (checked by the handler).
    Pattern(usize, &'static str),
    /// A string of at most this many characters, one of the values.
    Enum(usize, &'static [&'static str]),
    /// An email address of at most this many characters (its syntax checked by the handler or
    /// the core).
    Email(usize),
    /// A string whose length the handler does not limit.
    Text,
    /// A boolean (`true/yes/y/on/1`, `false/no/n/off/0` are taken too).
    Bool,
    /// A boolean of which the handler takes only this value (the other is not supported).
    Only(bool),
    /// A number in `min..=max`.
    Num(f64, f64),
    /// An integer in `min..=max`.
    Int(i64, i64),
    /// An array of strings of at most this many characters (or one comma separated string).
    StrList(usize),
    /// An array of strings, each one of the values.
    EnumList(usize, &'static [&'static str]),
    /// An array of strings checked one by one by the handler.
    TextList,
    /// A date: ISO 8601 text (`YYYY-MM-DDTHH:MM:SS.mmmZ`) or milliseconds since the epoch.
    Date,
    /// An object with these fields (others are ignored).
    Object(&'static [Param]),
    /// An object with these fields only (others are refused).
    Closed(&'static [Param]),
    /// An array of objects with these fields.
    ObjectList(&'static [Param]),
    /// An object, or the JSON text of one.
    Json,
    /// Any value: accepted for WildDuck compatibility but not used, or checked by hand.
    Any,
}

/// One parameter of a route: where it goes follows from the route (a `{name}` of the path, the
/// query of GET and DELETE, the JSON body of POST and PUT) unless `body` forces the body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    /// Field name.
    pub name: &'static str,
    /// Type and limits.
    pub kind: Kind,
    /// Whether the request must carry it.
    pub required: bool,
    /// Read from the body even though a path parameter has the same name.
    pub body: bool,
    /// What it does.
    pub doc: &'static str,
}

/// A required parameter.
const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param {
        name,
        kind,
        required: true,
        body: false,
        doc,
    }
}

/// An optional parameter.
const fn opt(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        body: false,
        doc,
    }
}

/// An optional body field that has the name of a path parameter.
const fn body(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        body: true,
        doc,
    }
}

/// One documented operation: method, path, tag, operation id, summary, and its parameters
/// as a list of groups (groups such as paging are shared by several routes).
type Route = (
    HttpMethod,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static [Param]],
);

const OBJECT_ID: &str = "^[0-9a-fA-F]{24}$";
/// What `parse_iso` reads (the day and time fields are range-checked too), or milliseconds.
const DATE: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?)?Z?)?$|^[0-9]{1,15}$";
const USERNAME: &str =
    "^[A-Za-z0-9-]+([._=:][A-Za-z0-9-]+)*(@[A-Za-z0-9-]+([._=:][A-Za-z0-9-]+)*)?$";
const UID_SELECTOR: &str = "^[0-9]+(,[0-9]+)*$|^[0-9]+:([0-9]+|\\*)$";
const ORDER: Param = opt("order", Kind::Enum(4, &["asc", "desc"]), "Sort order");
const SCOPES: &[&str] = &["master", "imap", "pop3", "smtp"];
const USER_SCOPES: &[&str] = &["imap", "pop3", "smtp"];
const COUNT: Kind = Kind::Int(0, MAX_SAFE_INTEGER);
/// `mailboxes.path` limit: 128 levels of 128 characters and their separators.
const MAILBOX_PATH: Kind = Kind::Str(128 * 128 + 127);
const IGNORED: &str = "Accepted for WildDuck compatibility, not used";

const NONE: &[&[Param]] = &[];
const USER: &[Param] = &[req("user", Kind::Id, "User id")];
const USER_MAILBOX: &[Param] = &[
    req("user", Kind::Id, "User id"),
    req("mailbox", Kind::Id, "Mailbox id"),
];
const USER_MAILBOX_UID: &[Param] = &[
    req("user", Kind::Id, "User id"),
    req("mailbox", Kind::Id, "Mailbox id"),
    req(
        "message",
        Kind::Int(1, 4_294_967_295),
        "Message UID in the mailbox",
    ),
];
const PAGING: &[Param] = &[
    opt("limit", Kind::Int(1, 250), "Page size (default 20)"),
    opt(
        "page",
        Kind::Int(1, MAX_PAGE),
        "Page number (informational)",
    ),
    opt(
        "next",
        Kind::Str(1024),
        "Cursor of the next page (`nextCursor`)",
    ),
    opt(
        "previous",
        Kind::Str(1024),
        "Cursor of the previous page (`previousCursor`)",
    ),
];

/// Fields of WildDuck's user routes this port accepts and ignores.
const USER_IGNORED: &[Param] = &[
    opt("targets", Kind::Any, IGNORED),
    opt("spamLevel", Kind::Any, IGNORED),
    opt("uploadSentMessages", Kind::Any, IGNORED),
    opt("fromWhitelist", Kind::Any, IGNORED),
    opt("pubKey", Kind::Any, IGNORED),
    opt("encryptMessages", Kind::Any, IGNORED),
    opt("encryptForwarded", Kind::Any, IGNORED),
    opt("recipients", Kind::Any, IGNORED),
    opt("forwards", Kind::Any, IGNORED),
    opt("filters", Kind::Any, IGNORED),
    opt("imapMaxUpload", Kind::Any, IGNORED),
    opt("imapMaxDownload", Kind::Any, IGNORED),
    opt("pop3MaxDownload", Kind::Any, IGNORED),
    opt("pop3MaxMessages", Kind::Any, IGNORED),
    opt("imapMaxConnections", Kind::Any, IGNORED),
    opt("receivedMax", Kind::Any, IGNORED),
    opt("featureFlags", Kind::Any, IGNORED),
    opt("allowUnsafe", Kind::Any, IGNORED),
    opt("requirePasswordChange", Kind::Any, IGNORED),
    opt("mailboxes", Kind::Any, IGNORED),
    opt("addTagsToAddress", Kind::Any, IGNORED),
];

const USER_CREATE: &[Param] = &[
    req(
        "username",
        Kind::Pattern(128, USERNAME),
        "Username (lower-cased): words of letters, digits and `-` joined by `.`, `_`, `=` or \
         `:`, optionally `@` and a domain of the same form",
    ),
    opt(
        "password",
        Kind::Str(256),
        "Password (none: no password login)",
    ),
    opt(
        "hashedPassword",
        Kind::Bool,
        "`password` is already a hash (bcrypt, pbkdf2, ...)",
    ),
    opt(
        "address",
        Kind::Email(255),
        "Main address (default: from the username)",
    ),
    opt(
        "emptyAddress",
        Kind::Bool,
        "Create the user without an address",
    ),
    opt("name", Kind::Str(256), "Display name"),
    opt("language", Kind::Str(20), "Language code"),
    opt("quota", COUNT, "Storage quota in bytes (0: server default)"),
    opt(
        "retention",
        COUNT,
        "Default message retention in ms (0: keep)",
    ),
    opt("tags", Kind::StrList(128), "Tags"),
    opt(
        "disabledScopes",
        Kind::EnumList(16, USER_SCOPES),
        "Scopes the user may not log in for",
    ),
];

const USER_UPDATE: &[Param] = &[
    opt("name", Kind::Str(256), "Display name"),
    opt("password", Kind::Str(256), "New password"),
    opt(
        "hashedPassword",
        Kind::Bool,
        "Refused together with `password` (not supported on update)",
    ),
    opt(
        "existingPassword",
        Kind::Str(256),
        "Current password, checked when given (403 when wrong)",
    ),
    opt(
        "address",
        Kind::Email(255),
        "New main address (one of the user's addresses)",
    ),
    opt("language", Kind::Str(20), "Language code"),
    opt("quota", COUNT, "Storage quota in bytes"),
    opt("retention", COUNT, "Default message retention in ms"),
    opt("tags", Kind::StrList(128), "Tags"),
    opt(
        "disabledScopes",
        Kind::EnumList(16, USER_SCOPES),
        "Scopes the user may not log in for",
    ),
    opt("disabled", Kind::Bool, "Disable the account"),
    opt("suspended", Kind::Bool, "Suspend the account"),
    opt("disable2fa", Kind::Any, IGNORED),
];

const USERS_LIST: &[Param] = &[
    opt("query", Kind::Str(255), "Part of the username or address"),
    opt("tags", Kind::Str(1024), "Comma separated tags, any of them"),
    opt(
        "requiredTags",
        Kind::Str(1024),
        "Comma separated tags, all of them",
    ),
    opt("forward", Kind::Str(255), "Part of a forwarding target"),
    opt("metaData", Kind::Bool, "Include metaData"),
    opt("internalData", Kind::Bool, "Include internalData"),
];

/// `autoreply` of a forwarded address.
const AUTOREPLY: &[Param] = &[
    opt("status", Kind::Bool, "Autoreply on (default true)"),
    opt("start", Kind::Date, "Start time (or `false`)"),
    opt("end", Kind::Date, "End time (or `false`)"),
    opt("name", Kind::Str(128), "Sender name of the reply"),
    opt("subject", Kind::Str(2048), "Subject of the reply"),
    opt("text", Kind::Str(131_072), "Plain text of the reply"),
    opt("html", Kind::Str(131_072), "HTML of the reply"),
];

/// A message's `metaData` (upload and update).
const MESSAGE_META_DATA: Param = opt(
    "metaData",
    Kind::Json,
    "Custom metadata (an object or its JSON text, at most 1 MiB)",
);

/// `metaData` and `internalData` of a user or of a user's address (create and update).
const META: &[Param] = &[
    opt(
        "metaData",
        Kind::Json,
        "Metadata (an object or its JSON text, at most 1 MiB)",
    ),
    opt(
        "internalData",
        Kind::Json,
        "Internal metadata (an object or its JSON text, at most 1 MiB; not for user tokens)",
    ),
];

/// The `metaData` / `internalData` flags of a listing.
const META_FLAGS: &[Param] = &[
    opt("metaData", Kind::Bool, "Include metaData"),
    opt("internalData", Kind::Bool, "Include internalData"),
];

const TARGETS_DOC: &str = "Email addresses and smtp(s)/http(s) URLs to forward to";

/// Fields of a forwarded address, shared by create and update (with [`META`]).
const FORWARDED_COMMON: &[Param] = &[
    opt("name", Kind::Str(128), "Display name"),
    opt("targets", Kind::TextList, TARGETS_DOC),
    opt("forwards", COUNT, "Daily forward limit (0: server default)"),
    opt("autoreply", Kind::Closed(AUTOREPLY), "Autoreply settings"),
    opt("tags", Kind::StrList(128), "Tags"),
];

const OR_FIELDS: &[Param] = &[
    opt("query", Kind::Str(255), "Full text"),
    opt("from", Kind::Str(1024), "Part of the From: header"),
    opt("to", Kind::Str(1024), "Part of the To: or Cc: header"),
    opt("subject", Kind::Str(1024), "Part of the subject"),
];

/// The criteria of `GET` and `POST /users/:user/search`.
const SEARCH: &[Param] = &[
    opt(
        "q",
        Kind::Str(1024),
        "Query in WildDuck's search language (overrides the fields below)",
    ),
    opt("mailbox", Kind::Id, "Only this mailbox"),
    opt(
        "id",
        Kind::Pattern(1024, UID_SELECTOR),
        "UIDs (`1,2,3`, `3:15`, `3:*`), with `mailbox`",
    ),
    opt("thread", Kind::Id, "Only this thread"),
    opt("query", Kind::Str(255), "Full text"),
    opt("from", Kind::Str(1024), "Part of the From: header"),
    opt("to", Kind::Str(1024), "Part of the To: or Cc: header"),
    opt("subject", Kind::Str(1024), "Part of the subject"),
    opt("minSize", COUNT, "Smallest size in bytes"),
    opt("maxSize", COUNT, "Largest size in bytes"),
    opt("attachments", Kind::Bool, "Only messages with attachments"),
    opt("flagged", Kind::Bool, "Only flagged messages"),
    opt("unseen", Kind::Bool, "Only unseen messages"),
    opt("searchable", Kind::Bool, "Skip Junk and Trash"),
    opt("datestart", Kind::Date, "Received at or after"),
    opt("dateend", Kind::Date, "Received before"),
    opt(
        "or",
        Kind::Closed(OR_FIELDS),
        "Any of these match (in a query: the JSON text of the object)",
    ),
];

const SEARCH_ACTION: &[Param] = &[req(
    "action",
    Kind::Closed(&[
        opt("moveTo", Kind::Id, "Move every match to this mailbox"),
        opt("seen", Kind::Bool, "Set or clear \\Seen"),
        opt("flagged", Kind::Bool, "Set or clear \\Flagged"),
    ]),
    "What to do with every match",
)];

/// A `{name, address}` of the structured upload.
const ADDRESS_OBJECT: &[Param] = &[
    opt("name", Kind::Str(255), "Display name"),
    req("address", Kind::Text, "Email address"),
];

const UPLOAD: &[Param] = &[
    opt(
        "raw",
        Kind::Str(wildduck_core::message::MAX_MESSAGE_SIZE),
        "The RFC 822 message (or send it as a `message/rfc822` body); \
         without it the message is built from the fields below",
    ),
    opt("unseen", Kind::Bool, "Store without \\Seen"),
    opt("flagged", Kind::Bool, "Store with \\Flagged"),
    opt("draft", Kind::Bool, "Store with \\Draft"),
    opt("date", Kind::Date, "Internal date"),
    opt(
        "from",
        Kind::Object(ADDRESS_OBJECT),
        "From: (default: the user)",
    ),
    opt("replyTo", Kind::Object(ADDRESS_OBJECT), "Reply-To:"),
    opt("to", Kind::ObjectList(ADDRESS_OBJECT), "To:"),
    opt("cc", Kind::ObjectList(ADDRESS_OBJECT), "Cc:"),
    opt("bcc", Kind::ObjectList(ADDRESS_OBJECT), "Bcc:"),
    opt("subject", Kind::Str(2048), "Subject"),
    opt("text", Kind::Str(1_048_576), "Plain text body"),
    opt("html", Kind::Str(1_048_576), "HTML body"),
    opt(
        "headers",
        Kind::ObjectList(&[
            req("key", Kind::Str(255), "Header name"),
            opt("value", Kind::Str(102_400), "Header value"),
        ]),
        "Extra headers",
    ),
    opt(
        "attachments",
        Kind::ObjectList(&[
            opt("filename", Kind::Str(255), "File name"),
            opt(
                "contentType",
                Kind::Str(255),
                "MIME type (default: from the file name)",
            ),
            opt(
                "encoding",
                Kind::Str(64),
                "Encoding of `content` (default base64)",
            ),
            opt("cid", Kind::Str(255), "Content-ID for inline use"),
            opt(
                "contentDisposition",
                Kind::Enum(32, &["inline", "attachment"]),
                "Disposition",
            ),
            req("content", Kind::Text, "Content, in `encoding`"),
        ]),
        "Attachments",
    ),
    MESSAGE_META_DATA,
    opt(
        "replacePrevious",
        Kind::Closed(&[
            opt("mailbox", Kind::Id, "Its mailbox (default: this one)"),
            req("id", Kind::Int(1, 4_294_967_295), "Its UID"),
        ]),
        "Delete this message once the new one is stored (a draft's previous version)",
    ),
];

const MESSAGE_CHANGES: &[Param] = &[
    opt("moveTo", Kind::Id, "Move to this mailbox"),
    opt("seen", Kind::Bool, "Set or clear \\Seen"),
    opt("flagged", Kind::Bool, "Set or clear \\Flagged"),
    opt("deleted", Kind::Bool, "Set or clear \\Deleted"),
    opt("draft", Kind::Bool, "Set or clear \\Draft"),
    opt(
        "expires",
        Kind::Date,
        "Delete the message at this time (ISO date or milliseconds), or `false` for never",
    ),
    MESSAGE_META_DATA,
];

/// The operations whose handlers ignore fields they do not know (WildDuck's `allowUnknown` on
/// listings and searches); every other handler refuses them with 400, so its body is closed.
pub const OPEN: &[&str] = &[
    "getArchivedMessages",
    "getAddresses",
    "getMessages",
    "getUsers",
    "searchMessages",
    "searchApplyMessages",
];

const NOT_SUPPORTED_FALSE: &str = "Only `false` is taken (not supported yet)";

/// What the message listing and search add on request.
const LIST_EXTRAS: &[Param] = &[
    opt(
        "threadCounters",
        Kind::Bool,
        "Include `threadMessageCount`: the user's messages in each result's thread",
    ),
    opt(
        "includeHeaders",
        Kind::Str(1024),
        "Comma separated header names: include `headers` with those present (WildDuck's \
         parsedHeader shape)",
    ),
];

const HIDDEN_DOC: &str = "Hidden from IMAP (not listed, cannot be opened) and from the listing \
     without `showHidden`";

const ENCRYPT_DOC: &str = "WildDuck's `encryptMessages` flag (stored and shown; this port does \
     not encrypt messages)";

/// Every route [`crate::router`] mounts.
pub const ROUTES: &[Route] = &[
    (
        HttpMethod::Get,
        "/users/{user}/archived/messages",
        "Archive",
        "getArchivedMessages",
        "List archived (recently deleted) messages, newest first (paginated)",
        &[
            USER,
            &[ORDER, opt("includeHeaders", Kind::Str(1024), IGNORED)],
            PAGING,
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/archived/messages/{message}/restore",
        "Archive",
        "restoreMessage",
        "Restore one archived message (into its mailbox, `mailbox`, or INBOX)",
        &[
            USER,
            &[
                req("message", Kind::Id, "Archived message id"),
                opt(
                    "mailbox",
                    Kind::Id,
                    "Restore into this mailbox (default: where it was, else INBOX)",
                ),
            ],
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/archived/restore",
        "Archive",
        "restoreMessages",
        "Restore the archived messages of a deletion time range",
        &[
            USER,
            &[
                req("start", Kind::Date, "Deleted at or after"),
                req("end", Kind::Date, "Deleted before"),
            ],
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/password/reset",
        "Users",
        "resetUserPassword",
        "Set a temporary password (shown once)",
        &[
            USER,
            &[opt(
                "validAfter",
                Kind::Date,
                "The temporary password works from then (default now; `false` = now)",
            )],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/asps",
        "ApplicationPasswords",
        "getASPs",
        "List the application passwords of a user",
        &[
            USER,
            &[opt(
                "showAll",
                Kind::Bool,
                "Include expired and temporary passwords",
            )],
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/asps",
        "ApplicationPasswords",
        "createASP",
        "Create an application password (shown once)",
        &[
            USER,
            &[
                req("description", Kind::Str(255), "Description"),
                opt(
                    "scopes",
                    Kind::EnumList(16, &["imap", "pop3", "smtp", "*"]),
                    "Scopes (default `*`)",
                ),
                opt(
                    "password",
                    Kind::Pattern(16, "^[a-z]{16}$"),
                    "The password to use (default: generated)",
                ),
                opt(
                    "ttl",
                    Kind::Num(0.0, 1e12),
                    "Lifetime in seconds (0: no expiry)",
                ),
                opt(
                    "generateMobileconfig",
                    Kind::Only(false),
                    NOT_SUPPORTED_FALSE,
                ),
                opt("address", Kind::Any, IGNORED),
            ],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/asps/{asp}",
        "ApplicationPasswords",
        "getASP",
        "One application password",
        &[USER, &[req("asp", Kind::Id, "Application password id")]],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/asps/{asp}",
        "ApplicationPasswords",
        "deleteASP",
        "Delete an application password",
        &[USER, &[req("asp", Kind::Id, "Application password id")]],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/authlog",
        "Authentication",
        "getAuthlog",
        "List authentication events, newest first",
        &[
            USER,
            &[
                opt(
                    "action",
                    Kind::Str(100),
                    "Only this action (`authentication`, ...)",
                ),
                opt("filterip", Kind::Str(45), "Only this IP address"),
            ],
            PAGING,
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/authlog/{event}",
        "Authentication",
        "getAuthlogEvent",
        "One authentication event",
        &[USER, &[req("event", Kind::Id, "Event id")]],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/logout",
        "Users",
        "logoutUser",
        "Close every IMAP session of the user",
        &[
            USER,
            &[opt(
                "reason",
                Kind::Str(128),
                "Reason shown to the IMAP clients",
            )],
        ],
    ),
    (
        HttpMethod::Post,
        "/preauth",
        "Authentication",
        "preauth",
        "Check that a user may log in for a scope (no password)",
        &[&[
            req("username", Kind::Str(1024), "Username or address"),
            opt("scope", Kind::Enum(16, SCOPES), "Scope (default master)"),
        ]],
    ),
    (
        HttpMethod::Delete,
        "/authenticate",
        "Authentication",
        "invalidateAccessToken",
        "Invalidate the request's user token",
        NONE,
    ),
    (
        HttpMethod::Get,
        "/users/{user}/search",
        "Messages",
        "searchMessages",
        "Search messages across mailboxes (structured parameters or the q language)",
        &[USER, SEARCH, &[ORDER], LIST_EXTRAS, PAGING],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/search",
        "Messages",
        "searchApplyMessages",
        "Apply an action (move, seen, flagged) to every matching message",
        &[
            USER,
            SEARCH,
            SEARCH_ACTION,
            &[
                opt("includeHeaders", Kind::Any, IGNORED),
                opt("threadCounters", Kind::Any, IGNORED),
            ],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/updates",
        "Users",
        "getUpdates",
        "Live journal of the user as Server-Sent Events",
        &[
            USER,
            &[opt(
                "Last-Event-ID",
                Kind::Id,
                "Resume after this event (the header of the same name wins)",
            )],
        ],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "deleteMessagesInMailbox",
        "Delete every message of a mailbox",
        &[
            USER_MAILBOX,
            &[
                opt("skipArchive", Kind::Bool, "Delete without archiving"),
                opt(
                    "async",
                    Kind::Bool,
                    "Queue the deletion as a `clear-folder` task and answer at once",
                ),
            ],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/resolve/{username}",
        "Users",
        "resolveUser",
        "Resolve a username or address to a user id",
        &[&[req("username", Kind::Str(255), "Username or address")]],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "updateMessages",
        "Change flags or move messages by UID selector",
        &[
            USER_MAILBOX,
            &[req(
                "message",
                Kind::Pattern(1024, UID_SELECTOR),
                "UIDs: `1,2,3`, `3:15` or `3:*`",
            )],
            MESSAGE_CHANGES,
        ],
    ),
    (
        HttpMethod::Get,
        "/health",
        "Health",
        "getHealth",
        "Check the API and its storage",
        NONE,
    ),
    (
        HttpMethod::Post,
        "/authenticate",
        "Authentication",
        "authenticate",
        "Authenticate a user with a password for a scope",
        &[&[
            req("username", Kind::Str(1024), "Username or address"),
            req(
                "password",
                Kind::Str(256),
                "Password or application password",
            ),
            opt("scope", Kind::Enum(16, SCOPES), "Scope (default master)"),
            opt(
                "token",
                Kind::Bool,
                "Also issue a user token (master scope only)",
            ),
            opt(
                "protocol",
                Kind::Str(64),
                "Protocol name for the log (default API)",
            ),
            opt("appId", Kind::Any, IGNORED),
        ]],
    ),
    (
        HttpMethod::Get,
        "/users",
        "Users",
        "getUsers",
        "List users (paginated, filters)",
        &[USERS_LIST, PAGING],
    ),
    (
        HttpMethod::Post,
        "/users",
        "Users",
        "createUser",
        "Create a user",
        &[USER_CREATE, META, USER_IGNORED],
    ),
    (
        HttpMethod::Get,
        "/users/{user}",
        "Users",
        "getUser",
        "User info with limits and quota usage",
        &[USER],
    ),
    (
        HttpMethod::Put,
        "/users/{user}",
        "Users",
        "updateUser",
        "Update a user",
        &[USER, USER_UPDATE, META, USER_IGNORED],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}",
        "Users",
        "deleteUser",
        "Delete a user",
        &[
            USER,
            &[opt(
                "deleteAfter",
                Kind::Date,
                "Purge the data then (default now)",
            )],
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/quota/reset",
        "Users",
        "recalculateQuota",
        "Recalculate quota usage",
        &[USER],
    ),
    (
        HttpMethod::Post,
        "/quota/reset",
        "Users",
        "recalculateQuotaAllUsers",
        "Recalculate quota usage for all users (queues the quota task)",
        NONE,
    ),
    (
        HttpMethod::Get,
        "/users/{user}/restore",
        "Users",
        "restoreUserInfo",
        "Return recovery info for a deleted user",
        &[USER],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/restore",
        "Users",
        "cancelUserDelete",
        "Cancel user deletion task",
        &[USER],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addresses",
        "Addresses",
        "getUserAddresses",
        "List a user's addresses",
        &[USER, META_FLAGS],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/addresses",
        "Addresses",
        "createUserAddress",
        "Add an address to a user",
        &[
            USER,
            &[
                req(
                    "address",
                    Kind::Email(255),
                    "The address (`*` only with `allowWildcard`)",
                ),
                opt("name", Kind::Str(256), "Display name"),
                opt("main", Kind::Bool, "Make it the main address"),
                opt("allowWildcard", Kind::Bool, "Allow a wildcard address"),
                opt("tags", Kind::StrList(1024), "Tags"),
            ],
            META,
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "getUserAddress",
        "One address of a user",
        &[USER, &[req("address", Kind::Id, "Address id")]],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "updateUserAddress",
        "Update an address (rename, name, tags, set main)",
        &[
            USER,
            &[
                req("address", Kind::Id, "Address id"),
                body("address", Kind::Email(255), "New address"),
                opt(
                    "main",
                    Kind::Only(true),
                    "Make it the main address (`false` is refused)",
                ),
                opt("name", Kind::Str(256), "Display name"),
                opt("tags", Kind::StrList(1024), "Tags"),
            ],
            META,
        ],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "deleteUserAddress",
        "Delete an address",
        &[USER, &[req("address", Kind::Id, "Address id")]],
    ),
    (
        HttpMethod::Get,
        "/addresses",
        "Addresses",
        "getAddresses",
        "List every address (query, tags, paginated)",
        &[
            &[
                opt("query", Kind::Str(255), "Part of the address"),
                opt("tags", Kind::StrList(1024), "Any of these tags"),
                opt("requiredTags", Kind::StrList(1024), "All of these tags"),
                opt("forward", Kind::Str(255), "Part of a forwarding target"),
                opt("metaData", Kind::Bool, "Include metaData"),
                opt("internalData", Kind::Bool, "Include internalData"),
            ],
            PAGING,
        ],
    ),
    (
        HttpMethod::Get,
        "/addresses/resolve/{address}",
        "Addresses",
        "resolveAddress",
        "Resolve an address",
        &[&[
            req("address", Kind::Str(255), "An address or an address id"),
            opt(
                "allowWildcard",
                Kind::Bool,
                "Resolve catch-all addresses too",
            ),
        ]],
    ),
    (
        HttpMethod::Post,
        "/addresses/forwarded",
        "Addresses",
        "createForwardedAddress",
        "Create a forwarded address (targets, daily forward limit, autoreply)",
        &[
            &[
                req(
                    "address",
                    Kind::Str(255),
                    "The address (`*@domain` or `user@*` with `allowWildcard`)",
                ),
                opt("allowWildcard", Kind::Bool, "Allow a wildcard address"),
            ],
            FORWARDED_COMMON,
            META,
        ],
    ),
    (
        HttpMethod::Get,
        "/addresses/forwarded/{address}",
        "Addresses",
        "getForwardedAddress",
        "A forwarded address with its forward counter",
        &[&[req("address", Kind::Id, "Forwarded address id")]],
    ),
    (
        HttpMethod::Put,
        "/addresses/forwarded/{address}",
        "Addresses",
        "updateForwardedAddress",
        "Update a forwarded address",
        &[
            &[
                req("address", Kind::Id, "Forwarded address id"),
                body("address", Kind::Str(255), "New address"),
                opt("forwardedDisabled", Kind::Bool, "Stop forwarding"),
            ],
            FORWARDED_COMMON,
            META,
        ],
    ),
    (
        HttpMethod::Delete,
        "/addresses/forwarded/{address}",
        "Addresses",
        "deleteForwardedAddress",
        "Delete a forwarded address",
        &[&[req("address", Kind::Id, "Forwarded address id")]],
    ),
    (
        HttpMethod::Put,
        "/addresses/renameDomain",
        "Addresses",
        "renameDomain",
        "Rename a domain in every address and users' main addresses",
        &[&[
            req("oldDomain", Kind::Str(255), "Domain to rename"),
            req("newDomain", Kind::Str(255), "New domain"),
        ]],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addressregister",
        "Addresses",
        "getUserAddressregister",
        "Search the correspondents register",
        &[
            USER,
            &[
                req(
                    "query",
                    Kind::Str(255),
                    "Part of the address or the start of the name",
                ),
                opt("limit", Kind::Int(1, 250), "At most this many (default 20)"),
            ],
        ],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/addressregister/{id}",
        "Addresses",
        "updateAddressAddressregister",
        "Disable or rename a register entry",
        &[
            USER,
            &[
                req("id", Kind::Id, "Register entry id"),
                req("disabled", Kind::Bool, "Hide the entry from the register"),
                opt("name", Kind::Str(255), "Display name"),
            ],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes",
        "Mailboxes",
        "getMailboxes",
        "List mailboxes",
        &[
            USER,
            &[
                opt("specialUse", Kind::Bool, "Only special-use mailboxes"),
                opt("showHidden", Kind::Bool, "Include hidden mailboxes"),
                opt("counters", Kind::Bool, "Include total and unseen counts"),
                opt("sizes", Kind::Bool, "Include sizes"),
            ],
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/mailboxes",
        "Mailboxes",
        "createMailbox",
        "Create a mailbox",
        &[
            USER,
            &[
                req("path", MAILBOX_PATH, "Path, `/` separated"),
                opt("hidden", Kind::Bool, HIDDEN_DOC),
                opt(
                    "retention",
                    COUNT,
                    "Milliseconds after which a message added here expires (0: never; \
                     default: the user's retention)",
                ),
                opt("encryptMessages", Kind::Bool, ENCRYPT_DOC),
            ],
        ],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "getMailbox",
        "Mailbox info",
        &[
            USER,
            &[
                req(
                    "mailbox",
                    Kind::IdOr("resolve"),
                    "Mailbox id, or `resolve` with `path`",
                ),
                opt("path", MAILBOX_PATH, "Path to resolve"),
            ],
        ],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "updateMailbox",
        "Rename a mailbox or change its settings",
        &[
            USER_MAILBOX,
            &[
                opt("path", MAILBOX_PATH, "New path (rename)"),
                opt("subscribed", Kind::Bool, "Subscribe or unsubscribe"),
                opt(
                    "retention",
                    COUNT,
                    "Retention in ms for messages added from now on (0: never expire)",
                ),
                opt("hidden", Kind::Bool, HIDDEN_DOC),
                opt("encryptMessages", Kind::Bool, ENCRYPT_DOC),
            ],
        ],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "deleteMailbox",
        "Delete a mailbox",
        &[USER_MAILBOX],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "getMessages",
        "List messages (paginated)",
        &[
            USER_MAILBOX,
            &[
                ORDER,
                opt("unseen", Kind::Bool, "Only unseen messages"),
                opt("metaData", Kind::Bool, "Include each message's metaData"),
            ],
            LIST_EXTRAS,
            PAGING,
        ],
    ),
    (
        HttpMethod::Post,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "uploadMessage",
        "Upload a raw message or one built from structured fields",
        &[USER_MAILBOX, UPLOAD],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "getMessage",
        "Message with parsed headers, text, html and attachments",
        &[
            USER_MAILBOX_UID,
            &[
                opt("markAsSeen", Kind::Bool, "Set \\Seen"),
                opt("replaceCidLinks", Kind::Any, IGNORED),
            ],
        ],
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "updateMessage",
        "Change flags or move a message",
        &[
            USER_MAILBOX,
            &[req(
                "message",
                Kind::Pattern(1024, UID_SELECTOR),
                "UIDs: `1,2,3`, `3:15` or `3:*`",
            )],
            MESSAGE_CHANGES,
        ],
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "deleteMessage",
        "Delete a message",
        &[USER_MAILBOX_UID],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml",
        "Messages",
        "getMessageSource",
        "Raw message bytes",
        &[USER_MAILBOX_UID],
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}",
        "Messages",
        "getMessageAttachment",
        "Decoded attachment",
        &[
            USER_MAILBOX_UID,
            &[
                req(
                    "attachment",
                    Kind::Pattern(100, "^ATT[0-9]+$"),
                    "Attachment id (`ATT00001`)",
                ),
                opt("sendAsString", Kind::Any, IGNORED),
            ],
        ],
    ),
];

/// An error answer: `{"error": string, "code": string, "details"?: object}` as JSON.
fn error_response(description: &str) -> ResponseBuilder {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("error", string())
        .property("code", string())
        .property("details", ObjectBuilder::new().schema_type(Type::Object))
        .required("error")
        .required("code");
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new().schema(Some(schema)).build(),
    )
}

/// The schema of one value of `kind`; `in_query` renders what a query string can carry (an
/// object as its JSON text).
fn schema(kind: &Kind, in_query: bool) -> Schema {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let array = |items: Schema| Schema::Array(ArrayBuilder::new().items(RefOr::T(items)).build());
    let object = |fields: &[Param], closed: bool| {
        let mut o = ObjectBuilder::new().schema_type(Type::Object);
        if closed {
            o = o.additional_properties(Some(AdditionalProperties::FreeForm(false)));
        }
        for f in fields {
            o = o.property(f.name, property(f, false));
            if f.required {
                o = o.required(f.name);
            }
        }
        o
    };
    let b = match kind {
        Kind::Id => string().pattern(Some(OBJECT_ID)),
        Kind::IdOr(word) => string().pattern(Some(format!("^([0-9a-fA-F]{{24}}|{word})$"))),
        Kind::Str(max) => string().max_length(Some(*max)),
        Kind::Pattern(max, re) => string().max_length(Some(*max)).pattern(Some(*re)),
        Kind::Enum(_, values) => string().enum_values(Some(values.iter().copied())),
        Kind::Email(max) => string()
            .max_length(Some(*max))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))),
        Kind::Text => string(),
        Kind::Bool => ObjectBuilder::new().schema_type(Type::Boolean),
        Kind::Only(b) => ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([*b])),
        Kind::Num(min, max) => ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(*min))
            .maximum(Some(*max)),
        Kind::Int(min, max) => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(*min))
            .maximum(Some(*max)),
        Kind::StrList(max) => return array(string().max_length(Some(*max)).into()),
        Kind::EnumList(_, values) => {
            return array(string().enum_values(Some(values.iter().copied())).into());
        }
        Kind::TextList => return array(string().into()),
        Kind::Date => string().pattern(Some(DATE)).description(Some(
            "ISO 8601 in UTC (`2026-11-28T09:47:08.973Z`) or milliseconds since the epoch",
        )),
        Kind::Object(_) | Kind::Closed(_) | Kind::ObjectList(_) | Kind::Json if in_query => {
            string().description(Some("JSON text"))
        }
        Kind::Object(fields) => object(fields, false),
        Kind::Closed(fields) => object(fields, true),
        Kind::ObjectList(fields) => return array(object(fields, false).into()),
        Kind::Json => ObjectBuilder::new().schema_type(Type::Object),
        Kind::Any => ObjectBuilder::new().schema_type(SchemaType::AnyValue),
    };
    Schema::Object(b.build())
}

/// The schema of a parameter: a required string may not be empty (`Validator::str` refuses
/// `""`; an optional `""` counts as absent).
fn param_schema(p: &Param, in_query: bool) -> Schema {
    match schema(&p.kind, in_query) {
        Schema::Object(mut o) if p.required && o.schema_type == SchemaType::Type(Type::String) => {
            o.min_length = Some(1);
            Schema::Object(o)
        }
        other => other,
    }
}

/// A body property: the schema with the parameter's description.
fn property(p: &Param, in_query: bool) -> Schema {
    match param_schema(p, in_query) {
        Schema::Object(mut o) => {
            o.description = Some(match o.description.take() {
                Some(what) => format!("{}. {what}", p.doc),
                None => p.doc.to_string(),
            });
            Schema::Object(o)
        }
        Schema::Array(mut a) => {
            a.description = Some(p.doc.to_string());
            Schema::Array(a)
        }
        other => other,
    }
}

/// `sess` and `ip`, which every route with parameters takes for its logs (WildDuck's
/// `sessSchema` and `sessIPSchema`).
const LOGGING: &[Param] = &[
    opt("sess", Kind::Text, "Session identifier for the logs"),
    opt("ip", Kind::Text, "IP address of the end user for the logs"),
];

/// Where `p` of a route with `path` and `method` goes.
fn location(method: &HttpMethod, path: &str, p: &Param) -> ParameterIn {
    if !p.body && path.contains(&format!("{{{}}}", p.name)) {
        ParameterIn::Path
    } else if matches!(method, HttpMethod::Post | HttpMethod::Put) {
        // The body; `ParameterIn` has no such place, so this marks it for the caller.
        ParameterIn::Cookie
    } else {
        ParameterIn::Query
    }
}

/// The documented parameters of a route, `sess` and `ip` included where the route reads any.
fn params_of(route: &Route) -> impl Iterator<Item = &'static Param> {
    let (_, _, _, id, _, groups) = route;
    let logging: &'static [Param] = if *id == "getHealth" { &[] } else { LOGGING };
    groups.iter().flat_map(|g| g.iter()).chain(logging.iter())
}

/// The 200 answer: WildDuck's `{"success": true, ...}` JSON, or the bytes of the three routes
/// that stream something else.
fn success_response(id: &str) -> ResponseBuilder {
    let content = |ctype: &str, format: Option<KnownFormat>| {
        let mut s = ObjectBuilder::new().schema_type(Type::String);
        if let Some(f) = format {
            s = s.format(Some(SchemaFormat::KnownFormat(f)));
        }
        ResponseBuilder::new()
            .description("Success")
            .content(ctype, ContentBuilder::new().schema(Some(s)).build())
    };
    match id {
        "getMessageSource" => content("message/rfc822", Some(KnownFormat::Binary)),
        // One event: `id` (the journal entry), `data` (the entry as JSON text).
        "getUpdates" => {
            let string = || ObjectBuilder::new().schema_type(Type::String);
            ResponseBuilder::new().description("Success").content(
                "text/event-stream",
                ContentBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Object)
                            .property("id", string())
                            .property("event", string())
                            .property("data", string())
                            .required("data"),
                    ))
                    .build(),
            )
        }
        // The attachment's own content type.
        "getMessageAttachment" => {
            ResponseBuilder::new().description("The decoded attachment, as its content type")
        }
        _ => ResponseBuilder::new().description("Success").content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
                        .required("success"),
                ))
                .build(),
        ),
    }
}

/// Builds the document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let (method, path, tag, id, summary, _) = route;
        let mut op = OperationBuilder::new()
            .operation_id(Some(*id))
            .summary(Some(*summary))
            .tag(*tag)
            .response("200", success_response(id));
        // Every error answer has WildDuck's `{error, code, details}` body.
        for (status, what) in [
            ("400", "InputValidationError"),
            (
                "403",
                "InvalidToken, MissingPrivileges, OverQuotaError or another refusal",
            ),
            ("404", "Not found"),
            ("409", "Conflict"),
            ("413", "Request body or message too large"),
        ] {
            op = op.response(status, error_response(what));
        }
        // The HTTP layer (hyper) refuses a request line longer than it buffers, before routing
        // and with an empty body.
        op = op.response(
            "414",
            ResponseBuilder::new().description("URI too long (no body)"),
        );
        let mut body = ObjectBuilder::new().schema_type(Type::Object);
        if !OPEN.contains(id) {
            body = body.additional_properties(Some(AdditionalProperties::FreeForm(false)));
        }
        let mut has_body = false;
        let mut body_required = false;
        for p in params_of(route) {
            let at = location(method, path, p);
            if at == ParameterIn::Cookie {
                body = body.property(p.name, property(p, false));
                if p.required {
                    body = body.required(p.name);
                    body_required = true;
                }
                has_body = true;
                continue;
            }
            let in_query = at == ParameterIn::Query;
            let mut param = ParameterBuilder::new()
                .name(p.name)
                .parameter_in(at)
                .description(Some(p.doc))
                .required(if p.required {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(param_schema(p, in_query)));
            if in_query
                && matches!(
                    p.kind,
                    Kind::StrList(_) | Kind::EnumList(..) | Kind::TextList
                )
            {
                // One comma separated value (`tags=a,b`), as the handlers split it.
                param = param.style(Some(ParameterStyle::Form)).explode(Some(false));
            }
            op = op.parameter(param);
        }
        if has_body {
            let mut rb = RequestBodyBuilder::new()
                .required(Some(if body_required {
                    Required::True
                } else {
                    Required::False
                }))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                );
            if *id == "uploadMessage" {
                rb = rb.content(
                    "message/rfc822",
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
                        ))
                        .build(),
                );
            }
            op = op.request_body(Some(rb.build()));
        }
        paths = paths.path(*path, PathItem::new(method.clone(), op));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("WildDuck in Rust API")
                .version(env!("CARGO_PKG_VERSION")),
        )
        .paths(paths)
        .build()
}

/// The operation id of the route `method` `path` (the router's `{name}` pattern).
pub fn operation_id(method: &axum::http::Method, path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|(m, p, ..)| *p == path && method_name(m) == method.as_str())
        .map(|(_, _, _, id, ..)| *id)
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

/// Whether a handler's read as `seen` matches the documented `doc` (the document may add what
/// the handler checks by hand: a pattern, a list of values, a date).
fn agrees(doc: &Kind, seen: &Kind) -> bool {
    match seen {
        Kind::Any => true,
        Kind::Id => matches!(doc, Kind::Id | Kind::IdOr(_)),
        Kind::Str(max) => match doc {
            Kind::Str(m) | Kind::Pattern(m, _) | Kind::Enum(m, _) | Kind::Email(m) => m == max,
            Kind::Date => *max == 64,
            _ => false,
        },
        Kind::StrList(max) => {
            matches!(doc, Kind::StrList(m) | Kind::EnumList(m, _) if m == max)
        }
        Kind::Bool => matches!(doc, Kind::Bool | Kind::Only(_)),
        other => doc == other,
    }
}

/// Where the document and the handlers disagree, given what the handlers read
/// ([`crate::params::audit::reads`]) after every route ran at least once: a field read but not
/// documented, documented with another type, limit or requiredness, or documented but never
/// read. `sess` and `ip` are every route's and not compared.
pub fn disagreements(reads: &crate::params::audit::Reads) -> Vec<String> {
    let mut out = Vec::new();
    for route in ROUTES {
        let (_, _, _, id, _, groups) = route;
        let doc: Vec<&Param> = groups.iter().flat_map(|g| g.iter()).collect();
        let open = OPEN.contains(id);
        if let Some(strict) = reads.strict.get(id)
            && strict.contains(&open)
        {
            out.push(format!(
                "{id}: the handler {} unknown fields, the document says it {}",
                if open { "refuses" } else { "ignores" },
                if open { "ignores them" } else { "refuses them" }
            ));
        }
        let Some(seen) = reads.fields.get(id) else {
            if !doc.is_empty() {
                out.push(format!("{id}: never ran"));
            }
            continue;
        };
        for (field, (kinds, required)) in seen {
            if matches!(*field, "sess" | "ip") {
                continue;
            }
            // The handler's reads are of the path value when a body field shares its name.
            let Some(p) = doc.iter().find(|p| p.name == *field && !p.body) else {
                out.push(format!("{id}: reads undocumented `{field}` as {kinds:?}"));
                continue;
            };
            for k in kinds {
                if !agrees(&p.kind, k) {
                    out.push(format!(
                        "{id}: `{field}` is read as {k:?}, documented as {:?}",
                        p.kind
                    ));
                }
            }
            if *required && !p.required {
                out.push(format!(
                    "{id}: `{field}` is required but documented optional"
                ));
            }
        }
        for p in &doc {
            if !p.body && !seen.contains_key(p.name) {
                out.push(format!("{id}: documents `{}`, never read", p.name));
            }
        }
    }
    out
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(
        route: &'static str,
        fields: &[(&'static str, Kind, bool)],
    ) -> crate::params::audit::Reads {
        let mut r = crate::params::audit::Reads::default();
        let m = r.fields.entry(route).or_default();
        for (f, k, req) in fields {
            m.insert(*f, (vec![*k], *req));
        }
        r
    }

    #[test]
    fn disagreements_name_each_kind_of_drift() {
        let ok = [("user", Kind::Id, true), ("showAll", Kind::Bool, false)];
        let all_ok = disagreements(&reads("getASPs", &ok));
        assert!(
            !all_ok.iter().any(|d| d.starts_with("getASPs")),
            "{all_ok:?}"
        );

        let undocumented = disagreements(&reads(
            "getASPs",
            &[ok[0], ok[1], ("bogus", Kind::Bool, false)],
        ));
        assert!(
            undocumented
                .iter()
                .any(|d| d.contains("undocumented `bogus`"))
        );

        let other_limit = disagreements(&reads(
            "getASPs",
            &[ok[0], ("showAll", Kind::Str(5), false)],
        ));
        assert!(
            other_limit
                .iter()
                .any(|d| d.contains("`showAll` is read as Str(5)"))
        );

        let unread = disagreements(&reads("getASPs", &[ok[0]]));
        assert!(
            unread
                .iter()
                .any(|d| d.contains("documents `showAll`, never read"))
        );

        let required = disagreements(&reads("getASPs", &[ok[0], ("showAll", Kind::Bool, true)]));
        assert!(
            required
                .iter()
                .any(|d| d.contains("required but documented optional"))
        );

        let mut open = reads("getASPs", &ok);
        open.strict.insert("getASPs", vec![true, false]);
        assert!(
            disagreements(&open)
                .iter()
                .any(|d| d.contains("getASPs: the handler ignores unknown fields"))
        );
    }

    #[test]
    fn every_route_has_a_unique_operation_id_and_resolves() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.3).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ROUTES.len());
        assert_eq!(
            operation_id(
                &axum::http::Method::GET,
                "/users/{user}/mailboxes/{mailbox}/messages"
            ),
            Some("getMessages")
        );
        assert_eq!(operation_id(&axum::http::Method::PATCH, "/users"), None);
    }

    #[test]
    fn limit_and_username_are_typed() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let params = &doc["paths"]["/users"]["get"]["parameters"];
        let limit = params
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(limit["schema"]["type"], "integer");
        assert_eq!(limit["schema"]["maximum"], 250);
        let body =
            &doc["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["properties"]["username"]["type"], "string");
        assert_eq!(body["required"][0], "username");
    }
}
