//! WildDuck's roles and their grants (`config/roles.json`, checked by the `accesscontrol`
//! package): for each role, which actions on which resources it may take on its own objects
//! (`own`) or on anyone's (`any`), and which attributes it may see or set.

/// What a request does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `create`.
    Create,
    /// `read`.
    Read,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
}

/// Whose object: the token's own user, or any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Possession {
    /// The token's own user.
    Own,
    /// Anyone.
    Any,
}

/// All attributes.
const ALL: &[&str] = &["*"];
/// `user` role on user records: no tags, disabled scopes or internal data.
const USER_SELF: &[&str] = &["*", "!tags", "!disabledScopes", "!internalData"];
/// `user` role on addresses: no internal data.
const NO_INTERNAL: &[&str] = &["*", "!internalData"];
/// `auth` role: may authenticate but not get a token.
const NO_TOKEN: &[&str] = &["*", "!token"];

/// One grant: resource, action, possession, attributes.
type Grant = (&'static str, Action, Possession, &'static [&'static str]);

use Action::{Create as C, Delete as D, Read as R, Update as U};
use Possession::{Any as A, Own as O};

/// Full create/read/update/delete on `any` for each resource.
macro_rules! crud_any {
    ($($res:literal),*) => { [$(
        ($res, C, A, ALL), ($res, R, A, ALL), ($res, U, A, ALL), ($res, D, A, ALL),
    )*] };
}

/// Full create/read/update/delete on `own` for each resource.
macro_rules! crud_own {
    ($($res:literal),*) => { [$(
        ($res, C, O, ALL), ($res, R, O, ALL), ($res, U, O, ALL), ($res, D, O, ALL),
    )*] };
}

const ROOT_CRUD: [Grant; 48] = crud_any!(
    "addresses",
    "users",
    "messages",
    "attachments",
    "storage",
    "mailboxes",
    "autoreplies",
    "filters",
    "certs",
    "dkim",
    "domainaccess",
    "domainaliases"
);
const ROOT_REST: &[Grant] = &[
    ("addresslisting", R, A, ALL),
    ("authentication", C, A, ALL),
    ("authentication", R, A, ALL),
    ("userlisting", R, A, ALL),
    ("asps", C, A, ALL),
    ("asps", R, A, ALL),
    ("asps", D, A, ALL),
    ("webhooks", C, A, ALL),
    ("webhooks", R, A, ALL),
    ("webhooks", U, A, ALL),
    ("webhooks", D, A, ALL),
    ("settings", C, A, ALL),
    ("settings", R, A, ALL),
    ("settings", U, A, ALL),
    ("settings", D, A, ALL),
];
const MANAGER_CRUD: [Grant; 36] = crud_any!(
    "addresses",
    "users",
    "autoreplies",
    "filters",
    "certs",
    "dkim",
    "domainaccess",
    "domainaliases",
    "webhooks"
);
const MANAGER_REST: &[Grant] = &[
    ("addresslisting", R, A, ALL),
    ("authentication", C, A, ALL),
    ("authentication", R, A, ALL),
    ("userlisting", R, A, ALL),
    ("asps", C, A, ALL),
    ("asps", R, A, ALL),
    ("asps", D, A, ALL),
];
const WEBMAIL_CRUD: [Grant; 36] = crud_any!(
    "addresses",
    "messages",
    "attachments",
    "storage",
    "mailboxes",
    "autoreplies",
    "filters",
    "domainaccess",
    "webhooks"
);
const WEBMAIL_REST: &[Grant] = &[
    ("authentication", C, A, ALL),
    ("authentication", R, A, ALL),
    ("users", R, A, ALL),
    ("users", U, A, ALL),
    ("asps", C, A, ALL),
    ("asps", R, A, ALL),
    ("asps", D, A, ALL),
];
const USER_CRUD: [Grant; 24] = crud_own!(
    "messages",
    "attachments",
    "storage",
    "mailboxes",
    "autoreplies",
    "filters"
);
const USER_REST: &[Grant] = &[
    ("addresslisting", R, O, NO_INTERNAL),
    ("addresses", C, O, NO_INTERNAL),
    ("addresses", R, O, NO_INTERNAL),
    ("addresses", U, O, NO_INTERNAL),
    ("addresses", D, O, ALL),
    ("authentication", R, O, ALL),
    ("authentication", C, O, ALL),
    ("userlisting", R, O, USER_SELF),
    ("users", R, O, USER_SELF),
    ("users", U, O, USER_SELF),
    ("asps", C, O, ALL),
    ("asps", R, O, ALL),
    ("asps", D, O, ALL),
    ("webhooks", R, O, ALL),
];
const AUTH: &[Grant] = &[("authentication", C, A, NO_TOKEN)];
const ATTACHMENTS: &[Grant] = &[("attachments", R, A, ALL)];
const TOKEN_AUTH: &[Grant] = &[("authentication", C, A, ALL)];
const AUDIT: &[Grant] = &[
    ("users", R, A, ALL),
    ("audit", C, A, ALL),
    ("audit", R, A, ALL),
    ("audit", U, A, ALL),
    ("audit", D, A, ALL),
];
const AUDIT_CLIENT: &[Grant] = &[("audit", R, A, ALL)];
const EXPORT: &[Grant] = &[("export", C, A, ALL), ("import", C, A, ALL)];
const SETTINGS: &[Grant] = &[
    ("settings", C, A, ALL),
    ("settings", R, A, ALL),
    ("settings", U, A, ALL),
    ("settings", D, A, ALL),
];
const DOWNLOADER: &[Grant] = &[("messages", R, A, ALL)];

/// The twelve roles of WildDuck's `roles.json`.
pub const ROLES: [&str; 12] = [
    "root",
    "manager",
    "webmail",
    "user",
    "auth",
    "attachments",
    "tokenAuth",
    "audit",
    "auditclient",
    "export",
    "settings",
    "downloader",
];

/// The grants of `role`, in two slices; `None` for an unknown role.
fn grants(role: &str) -> Option<(&'static [Grant], &'static [Grant])> {
    Some(match role {
        "root" => (&ROOT_CRUD, ROOT_REST),
        "manager" => (&MANAGER_CRUD, MANAGER_REST),
        "webmail" => (&WEBMAIL_CRUD, WEBMAIL_REST),
        "user" => (&USER_CRUD, USER_REST),
        "auth" => (AUTH, &[]),
        "attachments" => (ATTACHMENTS, &[]),
        "tokenAuth" => (TOKEN_AUTH, &[]),
        "audit" => (AUDIT, &[]),
        "auditclient" => (AUDIT_CLIENT, &[]),
        "export" => (EXPORT, &[]),
        "settings" => (SETTINGS, &[]),
        "downloader" => (DOWNLOADER, &[]),
        _ => return None,
    })
}

/// Whether `role` is one of [`ROLES`].
pub fn is_role(role: &str) -> bool {
    grants(role).is_some()
}

/// The outcome of a permission check: granted or not, and the attributes hidden from the
/// caller (stripped from its input and from the answer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permission {
    /// Whether the action is allowed.
    pub granted: bool,
    /// Attributes the role may not see or set (`!name` in the grant).
    pub denied: Vec<&'static str>,
}

/// `accesscontrol`'s `can(role).<action><Own|Any>(resource)`: an `any` grant also covers
/// `own`; with several matching grants the attributes are their union.
pub fn can(role: &str, action: Action, possession: Possession, resource: &str) -> Permission {
    let Some((a, b)) = grants(role) else {
        return Permission::default();
    };
    let matching: Vec<&Grant> = a
        .iter()
        .chain(b.iter())
        .filter(|(res, act, pos, _)| {
            *res == resource
                && *act == action
                && (*pos == Possession::Any || possession == Possession::Own)
        })
        .collect();
    if matching.is_empty() {
        return Permission::default();
    }
    // An attribute is hidden only when every matching grant hides it (union of what is allowed).
    let mut denied: Vec<&'static str> = Vec::new();
    if let Some((_, _, _, first)) = matching.first() {
        for attr in first.iter().filter_map(|x| x.strip_prefix('!')) {
            let everywhere = matching
                .iter()
                .all(|(_, _, _, attrs)| attrs.iter().any(|x| x.strip_prefix('!') == Some(attr)));
            if everywhere {
                denied.push(attr);
            }
        }
    }
    Permission {
        granted: true,
        denied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_follow_wildduck_roles() {
        assert_eq!(ROLES.iter().filter(|r| is_role(r)).count(), 12);
        assert!(!is_role("nobody"));
        assert!(can("root", R, A, "users").granted);
        assert!(can("root", D, O, "messages").granted, "any covers own");
        assert!(can("user", R, O, "messages").granted);
        assert!(!can("user", R, A, "messages").granted);
        assert!(
            !can("user", D, O, "users").granted,
            "a user cannot delete itself"
        );
        assert_eq!(
            can("user", R, O, "users").denied,
            ["tags", "disabledScopes", "internalData"]
        );
        assert_eq!(can("auth", C, A, "authentication").denied, ["token"]);
        assert!(!can("manager", R, A, "messages").granted);
        assert!(can("webmail", U, A, "users").granted);
        assert!(!can("webmail", C, A, "users").granted);
        assert!(can("downloader", R, A, "messages").granted);
        assert!(!can("downloader", R, A, "mailboxes").granted);
        assert!(!can("unknown", R, A, "users").granted);
    }
}
