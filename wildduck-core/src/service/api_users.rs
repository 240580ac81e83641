//! The API's user listing (WildDuck `GET /users`): filters over every user, in id order.

use super::Services;
use super::users::unameview;
use crate::Result;
use crate::model::User;

/// Filters of a user listing (all optional; empty = no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Lower-cased substring of the main address or of the username view.
    pub query: Option<String>,
    /// The user has at least one of these tags (lower-cased).
    pub any_tags: Vec<String>,
    /// The user has all of these tags (lower-cased).
    pub all_tags: Vec<String>,
}

impl UserFilter {
    /// Whether `user` passes, as WildDuck's MongoDB filter decides (`address` or `unameview`
    /// substring, `tagsview` `$in` / `$all`).
    pub fn matches(&self, user: &User) -> bool {
        if let Some(q) = &self.query {
            let in_address = user
                .address
                .as_deref()
                .is_some_and(|a| a.contains(q.as_str()));
            let in_name = unameview(&user.username).contains(&unameview(q));
            if !in_address && !in_name {
                return false;
            }
        }
        let tags: Vec<String> = user.tags.iter().map(|t| t.to_lowercase()).collect();
        if !self.any_tags.is_empty() && !self.any_tags.iter().any(|t| tags.contains(t)) {
            return false;
        }
        self.all_tags.iter().all(|t| tags.contains(t))
    }
}

impl Services {
    /// The users that pass `filter`, sorted by id.
    pub async fn list_users(&self, filter: &UserFilter) -> Result<Vec<User>> {
        let mut all = self.backend.users.list_users().await?;
        all.retain(|u| filter.matches(u));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, address: Option<&str>, tags: &[&str]) -> User {
        User {
            username: name.into(),
            address: address.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_follow_wildduck() {
        let u = user("John.Doe", Some("john@example.com"), &["Red", "blue"]);
        assert!(UserFilter::default().matches(&u));
        let q = |s: &str| UserFilter {
            query: Some(s.into()),
            ..Default::default()
        };
        assert!(q("johndoe").matches(&u), "username view ignores dots");
        assert!(q("john.d").matches(&u));
        assert!(q("example.com").matches(&u), "address substring");
        assert!(!q("jane").matches(&u));
        let tags = |any: &[&str], all: &[&str]| UserFilter {
            any_tags: any.iter().map(|t| t.to_string()).collect(),
            all_tags: all.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        assert!(
            tags(&["red", "green"], &[]).matches(&u),
            "tags compare lower-cased"
        );
        assert!(!tags(&["green"], &[]).matches(&u));
        assert!(tags(&[], &["red", "blue"]).matches(&u));
        assert!(!tags(&[], &["red", "green"]).matches(&u));
    }
}
