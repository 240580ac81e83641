//! The OpenAPI 3 document, generated from the route table below (the same paths the router
//! mounts) and served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required, ResponseBuilder,
};

/// One documented operation: method, path (WildDuck's `:param` form), tag, operation id, summary.
type Route = (
    HttpMethod,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Every route [`crate::router`] mounts.
pub const ROUTES: &[Route] = &[
    (
        HttpMethod::Get,
        "/users/{user}/archived/messages",
        "Archive",
        "getArchivedMessages",
        "List archived (recently deleted) messages, newest first (paginated)",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/archived/messages/{message}/restore",
        "Archive",
        "restoreMessage",
        "Restore one archived message (into its mailbox, `mailbox`, or INBOX)",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/archived/restore",
        "Archive",
        "restoreMessages",
        "Restore the archived messages of a deletion time range",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/password/reset",
        "Users",
        "resetUserPassword",
        "Set a temporary password (shown once)",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/asps",
        "ApplicationPasswords",
        "getASPs",
        "List the application passwords of a user",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/asps",
        "ApplicationPasswords",
        "createASP",
        "Create an application password (shown once)",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/asps/{asp}",
        "ApplicationPasswords",
        "getASP",
        "One application password",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/asps/{asp}",
        "ApplicationPasswords",
        "deleteASP",
        "Delete an application password",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/authlog",
        "Authentication",
        "getAuthlog",
        "List authentication events, newest first",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/authlog/{event}",
        "Authentication",
        "getAuthlogEvent",
        "One authentication event",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/logout",
        "Users",
        "logoutUser",
        "Close every IMAP session of the user",
    ),
    (
        HttpMethod::Post,
        "/preauth",
        "Authentication",
        "preauth",
        "Check that a user may log in for a scope (no password)",
    ),
    (
        HttpMethod::Delete,
        "/authenticate",
        "Authentication",
        "invalidateAccessToken",
        "Invalidate the request's user token",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/search",
        "Messages",
        "searchMessages",
        "Search messages across mailboxes (structured parameters or the q language)",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/search",
        "Messages",
        "searchApplyMessages",
        "Apply an action (move, seen, flagged) to every matching message",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/updates",
        "Users",
        "getUpdates",
        "Live journal of the user as Server-Sent Events",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "deleteMessagesInMailbox",
        "Delete every message of a mailbox",
    ),
    (
        HttpMethod::Get,
        "/users/resolve/{username}",
        "Users",
        "resolveUser",
        "Resolve a username or address to a user id",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "updateMessages",
        "Change flags or move messages by UID selector",
    ),
    (
        HttpMethod::Get,
        "/health",
        "Health",
        "getHealth",
        "Check the API and its storage",
    ),
    (
        HttpMethod::Post,
        "/authenticate",
        "Authentication",
        "authenticate",
        "Authenticate a user with a password for a scope",
    ),
    (
        HttpMethod::Get,
        "/users",
        "Users",
        "getUsers",
        "List users (paginated, filters)",
    ),
    (
        HttpMethod::Post,
        "/users",
        "Users",
        "createUser",
        "Create a user",
    ),
    (
        HttpMethod::Get,
        "/users/{user}",
        "Users",
        "getUser",
        "User info with limits and quota usage",
    ),
    (
        HttpMethod::Put,
        "/users/{user}",
        "Users",
        "updateUser",
        "Update a user",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}",
        "Users",
        "deleteUser",
        "Delete a user",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/quota/reset",
        "Users",
        "recalculateQuota",
        "Recalculate quota usage",
    ),
    (
        HttpMethod::Post,
        "/quota/reset",
        "Users",
        "recalculateQuotaAllUsers",
        "Recalculate quota usage for all users (queues the quota task)",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/restore",
        "Users",
        "restoreUserInfo",
        "Return recovery info for a deleted user",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/restore",
        "Users",
        "cancelUserDelete",
        "Cancel user deletion task",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addresses",
        "Addresses",
        "getUserAddresses",
        "List a user's addresses",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/addresses",
        "Addresses",
        "createUserAddress",
        "Add an address to a user",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "getUserAddress",
        "One address of a user",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "updateUserAddress",
        "Update an address (rename, name, tags, set main)",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/addresses/{address}",
        "Addresses",
        "deleteUserAddress",
        "Delete an address",
    ),
    (
        HttpMethod::Get,
        "/addresses",
        "Addresses",
        "getAddresses",
        "List every address (query, tags, paginated)",
    ),
    (
        HttpMethod::Get,
        "/addresses/resolve/{address}",
        "Addresses",
        "resolveAddress",
        "Resolve an address",
    ),
    (
        HttpMethod::Post,
        "/addresses/forwarded",
        "Addresses",
        "createForwardedAddress",
        "Create a forwarded address (targets, daily forward limit, autoreply)",
    ),
    (
        HttpMethod::Get,
        "/addresses/forwarded/{address}",
        "Addresses",
        "getForwardedAddress",
        "A forwarded address with its forward counter",
    ),
    (
        HttpMethod::Put,
        "/addresses/forwarded/{address}",
        "Addresses",
        "updateForwardedAddress",
        "Update a forwarded address",
    ),
    (
        HttpMethod::Delete,
        "/addresses/forwarded/{address}",
        "Addresses",
        "deleteForwardedAddress",
        "Delete a forwarded address",
    ),
    (
        HttpMethod::Put,
        "/addresses/renameDomain",
        "Addresses",
        "renameDomain",
        "Rename a domain in every address and users' main addresses",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/addressregister",
        "Addresses",
        "getUserAddressregister",
        "Search the correspondents register",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/addressregister/{id}",
        "Addresses",
        "updateAddressAddressregister",
        "Disable or rename a register entry",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes",
        "Mailboxes",
        "getMailboxes",
        "List mailboxes",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/mailboxes",
        "Mailboxes",
        "createMailbox",
        "Create a mailbox",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "getMailbox",
        "Mailbox info",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "updateMailbox",
        "Rename or (un)subscribe a mailbox",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}",
        "Mailboxes",
        "deleteMailbox",
        "Delete a mailbox",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "getMessages",
        "List messages (paginated)",
    ),
    (
        HttpMethod::Post,
        "/users/{user}/mailboxes/{mailbox}/messages",
        "Messages",
        "uploadMessage",
        "Upload a raw message or one built from structured fields",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "getMessage",
        "Message with parsed headers, text, html and attachments",
    ),
    (
        HttpMethod::Put,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "updateMessage",
        "Change flags or move a message",
    ),
    (
        HttpMethod::Delete,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}",
        "Messages",
        "deleteMessage",
        "Delete a message",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml",
        "Messages",
        "getMessageSource",
        "Raw message bytes",
    ),
    (
        HttpMethod::Get,
        "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}",
        "Messages",
        "getMessageAttachment",
        "Decoded attachment",
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

/// Builds the document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (method, path, tag, id, summary) in ROUTES {
        let mut op = OperationBuilder::new()
            .operation_id(Some(*id))
            .summary(Some(*summary))
            .tag(*tag)
            .response("200", ResponseBuilder::new().description("Success"));
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
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
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

/// `GET /openapi.json`.
pub async fn serve() -> Json<OpenApi> {
    Json(document())
}
