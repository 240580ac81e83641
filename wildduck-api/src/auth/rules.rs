//! Which permission each route needs, in one table (WildDuck checks the same pairs inside each
//! handler). Paths are in the router's `{param}` form.

use axum::http::Method;

use super::roles::Action::{self, Create as C, Delete as D, Read as R, Update as U};

/// The check a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No permission check (health, the OpenAPI document, token revocation).
    Open,
    /// `<action>Own(resource)` when the path's `{user}` is the caller's own user, else
    /// `<action>Any(resource)`.
    User(&'static str, Action),
    /// `<action>Any(resource)` only.
    Any(&'static str, Action),
    /// A listing: `readAny(resource)`, or `readOwn(resource)` limited to the caller's own user.
    Listing(&'static str),
}

/// Routes whose rule is not "by method on the resource of the first path segment".
const TABLE: &[(&str, &str, Rule)] = &[
    ("GET", "/health", Rule::Open),
    ("GET", "/openapi.json", Rule::Open),
    ("DELETE", "/authenticate", Rule::Open),
    ("POST", "/authenticate", Rule::Any("authentication", C)),
    ("POST", "/preauth", Rule::Any("authentication", C)),
    ("GET", "/users", Rule::Listing("userlisting")),
    ("POST", "/users", Rule::Any("users", C)),
    ("GET", "/users/resolve/{username}", Rule::Any("users", R)),
    ("GET", "/users/{user}", Rule::User("users", R)),
    ("PUT", "/users/{user}", Rule::User("users", U)),
    ("DELETE", "/users/{user}", Rule::Any("users", D)),
    ("PUT", "/users/{user}/logout", Rule::User("users", R)),
    ("POST", "/users/{user}/quota/reset", Rule::User("users", U)),
    ("POST", "/quota/reset", Rule::Any("users", U)),
    (
        "POST",
        "/users/{user}/password/reset",
        Rule::Any("users", U),
    ),
    ("GET", "/users/{user}/restore", Rule::User("users", R)),
    ("POST", "/users/{user}/restore", Rule::User("users", U)),
    ("GET", "/users/{user}/updates", Rule::User("users", R)),
    ("POST", "/data/export", Rule::Any("export", C)),
    ("POST", "/data/import", Rule::Any("import", C)),
    ("GET", "/addresses", Rule::Listing("addresslisting")),
    (
        "GET",
        "/users/{user}/addressregister",
        Rule::User("addresses", R),
    ),
    // WildDuck checks `createOwn/createAny('addresses')` for a register update.
    (
        "PUT",
        "/users/{user}/addressregister/{id}",
        Rule::User("addresses", C),
    ),
    (
        "GET",
        "/users/{user}/authlog",
        Rule::User("authentication", R),
    ),
    (
        "GET",
        "/users/{user}/authlog/{event}",
        Rule::User("authentication", R),
    ),
    ("GET", "/users/{user}/search", Rule::User("messages", R)),
    ("POST", "/users/{user}/search", Rule::User("messages", U)),
    ("POST", "/users/{user}/submit", Rule::User("messages", C)),
    (
        "GET",
        "/users/{user}/archived/messages",
        Rule::User("messages", R),
    ),
    (
        "POST",
        "/users/{user}/archived/restore",
        Rule::User("messages", U),
    ),
    (
        "POST",
        "/users/{user}/archived/messages/{message}/restore",
        Rule::User("messages", U),
    ),
    (
        "GET",
        "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}",
        Rule::User("attachments", R),
    ),
    ("GET", "/filters", Rule::Listing("filters")),
];

/// The action a method stands for.
fn action(method: &Method) -> Option<Action> {
    Some(match *method {
        Method::GET | Method::HEAD => R,
        Method::POST => C,
        Method::PUT => U,
        Method::DELETE => D,
        _ => return None,
    })
}

/// The resource of a path below `/users/{user}/<segment>`.
fn user_resource(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "mailboxes" | "outbound" => "messages",
        "addresses" | "addressregister" => "addresses",
        "asps" => "asps",
        "storage" => "storage",
        "filters" => "filters",
        "autoreply" => "autoreplies",
        "2fa" => "users",
        _ => return None,
    })
}

/// The resource of an administrative path (`/<segment>/…`).
fn admin_resource(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "addresses" => "addresses",
        "dkim" => "dkim",
        "certs" => "certs",
        "domainaliases" => "domainaliases",
        "domainaccess" => "domainaccess",
        "webhooks" => "webhooks",
        "settings" => "settings",
        "audit" => "audit",
        _ => return None,
    })
}

/// The rule of a mounted route, `None` when none is known (the caller then allows only
/// `root`, so a route added without a rule fails closed).
pub fn rule(method: &Method, path: &str) -> Option<Rule> {
    if let Some((_, _, r)) = TABLE
        .iter()
        .find(|(m, p, _)| *p == path && *m == method.as_str())
    {
        return Some(*r);
    }
    let action = action(method)?;
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next()?;
    if first == "users" && segments.next() == Some("{user}") {
        // `/users/{user}/mailboxes/{mailbox}` is a mailbox; anything below `messages` is one.
        let second = segments.next()?;
        let resource = if second == "mailboxes" {
            let deeper = segments.nth(1);
            if deeper == Some("messages") {
                "messages"
            } else {
                "mailboxes"
            }
        } else {
            user_resource(second)?
        };
        return Some(Rule::User(resource, action));
    }
    admin_resource(first).map(|r| Rule::Any(r, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_wildduck_checks() {
        let r = |m: Method, p: &str| rule(&m, p);
        assert_eq!(r(Method::GET, "/health"), Some(Rule::Open));
        assert_eq!(
            r(Method::GET, "/users/{user}/mailboxes"),
            Some(Rule::User("mailboxes", R))
        );
        assert_eq!(
            r(Method::DELETE, "/users/{user}/mailboxes/{mailbox}"),
            Some(Rule::User("mailboxes", D))
        );
        assert_eq!(
            r(Method::POST, "/users/{user}/mailboxes/{mailbox}/messages"),
            Some(Rule::User("messages", C))
        );
        assert_eq!(
            r(
                Method::PUT,
                "/users/{user}/mailboxes/{mailbox}/messages/{message}"
            ),
            Some(Rule::User("messages", U))
        );
        assert_eq!(
            r(Method::DELETE, "/users/{user}/asps/{asp}"),
            Some(Rule::User("asps", D))
        );
        assert_eq!(
            r(Method::GET, "/addresses/resolve/{address}"),
            Some(Rule::Any("addresses", R))
        );
        assert_eq!(
            r(Method::DELETE, "/users/{user}"),
            Some(Rule::Any("users", D))
        );
        assert_eq!(r(Method::GET, "/nowhere"), None);
    }

    #[test]
    fn every_documented_route_has_a_rule() {
        for (method, path, ..) in crate::openapi::ROUTES {
            let m = Method::from_bytes(method_name(method).as_bytes()).unwrap_or(Method::GET);
            assert!(
                rule(&m, path).is_some(),
                "{m} {path} has no permission rule"
            );
        }
    }

    fn method_name(m: &utoipa::openapi::path::HttpMethod) -> &'static str {
        use utoipa::openapi::path::HttpMethod as H;
        match m {
            H::Get => "GET",
            H::Post => "POST",
            H::Put => "PUT",
            H::Delete => "DELETE",
            H::Patch => "PATCH",
            H::Head => "HEAD",
            _ => "OPTIONS",
        }
    }
}
