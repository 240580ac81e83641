//! Addresses: add, list, resolve (dotless, label-less `addrview`, wildcards), set main, delete.

use super::Services;
use crate::model::{Address, AddressId, Timestamp, UserId, UserUpdate};
use crate::{Error, Result};

/// A new address of a user ([`Services::add_user_address`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUserAddress {
    /// The address (`*` wildcards allowed: `*@domain`, `prefix*@domain`, `*suffix@domain`).
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// Make it the user's main address.
    pub main: bool,
    /// Tags (trimmed, empty and case-insensitive duplicates dropped).
    pub tags: Vec<String>,
    /// `metaData`: the JSON text of an object.
    pub meta_data: Option<String>,
    /// `internalData`: the JSON text of an object.
    pub internal_data: Option<String>,
}

/// Tags as stored: trimmed, without empty ones and case-insensitive duplicates.
fn clean_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_string();
        if !tag.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(&tag)) {
            out.push(tag);
        }
    }
    out
}

/// WildDuck's `MAX_ALLOWED_WILDCARD_LENGTH`.
pub const MAX_WILDCARD_LEN: usize = 32;

/// Normalises an address for storage: trimmed, local part and domain lower-cased. Refuses anything
/// without exactly one usable `@`. Wildcards (`*@domain`, `user@*`, `ab*@domain`) are kept literally.
pub fn normalize_address(address: &str) -> Result<String> {
    let a = address.trim();
    let at = a
        .rfind('@')
        .ok_or_else(|| Error::invalid("an address needs an @"))?;
    let (local, domain) = (&a[..at], &a[at + 1..]);
    if local.is_empty()
        || domain.is_empty()
        || local.contains('@')
        || a.chars().any(|c| c.is_whitespace() || c.is_control())
        || local.len() > 64
        || domain.len() > 255
    {
        return Err(Error::invalid("invalid address"));
    }
    Ok(format!(
        "{}@{}",
        local.to_lowercase(),
        domain.to_lowercase()
    ))
}

/// The unique lookup form of a stored address: lower-case, dots removed from the local part.
pub fn addrview(address: &str) -> String {
    match address.rfind('@') {
        Some(at) => format!("{}{}", address[..at].replace('.', ""), &address[at..]).to_lowercase(),
        None => address.replace('.', "").to_lowercase(),
    }
}

/// The lookup form of an address to resolve: also drops a `+label` from the local part.
pub fn resolve_view(address: &str) -> Result<String> {
    let a = normalize_address(address)?;
    let at = a.rfind('@').unwrap_or(a.len());
    let (local, domain) = a.split_at(at);
    let local = match local.find('+') {
        Some(p) => &local[..p],
        None => local,
    };
    Ok(format!("{}{}", local.replace('.', ""), domain))
}

/// Wildcard candidates for `local@domain`, longest (most specific) first: `ab*@d`, `*yz@d` prefixes and
/// suffixes up to 32 characters, then `*@domain`.
fn wildcard_candidates(local: &str, domain: &str) -> Vec<String> {
    let chars: Vec<char> = local.chars().collect();
    let mut out = Vec::new();
    let max = chars.len().min(MAX_WILDCARD_LEN);
    for i in (1..=max).rev() {
        let prefix: String = chars.iter().take(i).collect();
        let suffix: String = chars.iter().skip(chars.len() - i).collect();
        out.push(format!("{prefix}*@{domain}"));
        out.push(format!("*{suffix}@{domain}"));
    }
    out.push(format!("*@{domain}"));
    out
}

impl Services {
    /// Adds an address to a user. Duplicate → `AlreadyExists`. With `main`, it becomes the user's
    /// main address.
    pub async fn add_address(
        &self,
        user: UserId,
        address: &str,
        name: Option<String>,
        main: bool,
    ) -> Result<Address> {
        self.add_user_address(
            user,
            NewUserAddress {
                address: address.to_string(),
                name,
                main,
                ..Default::default()
            },
        )
        .await
    }

    /// Adds an address to a user with its tags and metadata (WildDuck's
    /// `POST /users/:user/addresses`). Errors: `NotFound` (no such user), `Invalid` (bad
    /// address or wildcard, metadata that is not the JSON text of an object of at most 1 MiB),
    /// `AlreadyExists` (the address is taken). With `main`, it becomes the user's main address.
    pub async fn add_user_address(&self, user: UserId, new: NewUserAddress) -> Result<Address> {
        super::users::check_metas(new.meta_data.as_deref(), new.internal_data.as_deref())?;
        self.get_user(user).await?;
        let address = normalize_address(&new.address)?;
        let at = address.rfind('@').unwrap_or(0);
        let local = &address[..at];
        if local.contains('*')
            && (local.len() > MAX_WILDCARD_LEN + 1 || local.matches('*').count() > 1)
        {
            return Err(Error::invalid("invalid wildcard address"));
        }
        let addr = Address {
            id: AddressId::new(),
            user: Some(user),
            addrview: addrview(&address),
            address,
            name: new.name,
            tags: clean_tags(new.tags),
            created: Timestamp::now(),
            forwarding: None,
            meta_data: new.meta_data,
            internal_data: new.internal_data,
        };
        self.backend.addresses.insert_address(&addr).await?;
        if new.main {
            self.set_main_address(user, addr.id).await?;
        }
        Ok(addr)
    }

    /// A user's addresses.
    pub async fn list_addresses(&self, user: UserId) -> Result<Vec<Address>> {
        self.backend.addresses.list_addresses(user).await
    }

    /// An address record by its id, user or forwarded (`NotFound` when absent).
    pub async fn address_by_id(&self, id: AddressId) -> Result<Address> {
        self.backend
            .addresses
            .get_address(id)
            .await?
            .ok_or_else(|| Error::not_found("no such address"))
    }

    /// Resolves an address to its record: exact (dotless, label-less) match first, then, when
    /// `wildcard`, the most specific `prefix*@domain` / `*suffix@domain` / `*@domain`, then
    /// `local@*`. Two queries at most.
    pub async fn resolve_address(&self, address: &str, wildcard: bool) -> Result<Address> {
        let view = resolve_view(address)?;
        let at = view.rfind('@').unwrap_or(0);
        let (local, domain) = (&view[..at], &view[at + 1..]);
        let mut candidates = vec![view.clone()];
        if wildcard {
            candidates.extend(wildcard_candidates(local, domain));
            candidates.push(format!("{local}@*"));
        }
        let found = self.backend.addresses.find_addresses(&candidates).await?;
        // The candidate order is the preference order.
        candidates
            .iter()
            .find_map(|c| found.iter().find(|a| &a.addrview == c))
            .cloned()
            .ok_or_else(|| Error::not_found("no such address"))
    }

    /// Makes one of the user's addresses the main one.
    pub async fn set_main_address(&self, user: UserId, id: AddressId) -> Result<()> {
        let addr = self
            .backend
            .addresses
            .get_address(id)
            .await?
            .filter(|a| a.user == Some(user))
            .ok_or_else(|| Error::not_found("no such address"))?;
        let update = UserUpdate {
            address: Some(addr.address),
            ..Default::default()
        };
        if !self.backend.users.update_user(user, &update).await? {
            return Err(Error::not_found("no such user"));
        }
        Ok(())
    }

    /// Deletes one of the user's addresses; the main address cannot be deleted (`Invalid`).
    pub async fn delete_address(&self, user: UserId, id: AddressId) -> Result<()> {
        let u = self.get_user(user).await?;
        let addr = self
            .backend
            .addresses
            .get_address(id)
            .await?
            .filter(|a| a.user == Some(user))
            .ok_or_else(|| Error::not_found("no such address"))?;
        if u.address.as_deref() == Some(addr.address.as_str()) {
            return Err(Error::invalid("the main address cannot be deleted"));
        }
        if !self.backend.addresses.delete_address(user, id).await? {
            return Err(Error::not_found("no such address"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views() {
        assert_eq!(
            normalize_address(" John.Doe@Example.COM ").ok().as_deref(),
            Some("john.doe@example.com")
        );
        assert_eq!(addrview("john.doe@example.com"), "johndoe@example.com");
        assert_eq!(
            resolve_view("J.Doe+news@Example.com").ok().as_deref(),
            Some("jdoe@example.com")
        );
        assert!(normalize_address("nope").is_err());
        assert!(normalize_address("a@").is_err());
        let c = wildcard_candidates("abc", "d.com");
        assert_eq!(c.first().map(String::as_str), Some("abc*@d.com"));
        assert!(c.contains(&"*bc@d.com".to_string()));
        assert_eq!(c.last().map(String::as_str), Some("*@d.com"));
    }
}

/// A change to one address (`PUT /users/:user/addresses/:id`); `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressUpdate {
    /// A new address (rename). Wildcard addresses cannot be renamed, nor can an address become one.
    pub address: Option<String>,
    /// A new display name.
    pub name: Option<String>,
    /// New tags (replacing the old ones).
    pub tags: Option<Vec<String>>,
    /// Make it the user's main address (only `true` means anything, as in WildDuck).
    pub main: bool,
    /// New `metaData` (the JSON text of an object).
    pub meta_data: Option<String>,
    /// New `internalData` (the JSON text of an object).
    pub internal_data: Option<String>,
}

impl Services {
    /// Updates one of `user`'s addresses. Renaming the main address renames the user's main
    /// address too. Errors: `NotFound` (no such address of this user), `Invalid` (bad address,
    /// a wildcard rename, a wildcard made main, metadata that is not the JSON text of an object
    /// of at most 1 MiB), `AlreadyExists` (the new address is taken).
    pub async fn update_address(
        &self,
        user: UserId,
        id: AddressId,
        update: AddressUpdate,
    ) -> Result<Address> {
        super::users::check_metas(update.meta_data.as_deref(), update.internal_data.as_deref())?;
        let u = self.get_user(user).await?;
        let mut addr = self
            .backend
            .addresses
            .get_address(id)
            .await?
            .filter(|a| a.user == Some(user))
            .ok_or_else(|| Error::not_found("no such address"))?;
        let was_main = u.address.as_deref() == Some(addr.address.as_str());
        let mut main = update.main;
        if let Some(new) = &update.address {
            let new = normalize_address(new)?;
            if new != addr.address {
                if addr.address.contains('*') || new.contains('*') {
                    return Err(Error::invalid("can not change special address"));
                }
                addr.addrview = addrview(&new);
                addr.address = new;
                // The user's main address follows its rename.
                main = main || was_main;
            }
        }
        if main && addr.address.contains('*') {
            return Err(Error::invalid("can not set wildcard address as default"));
        }
        if let Some(n) = update.name {
            addr.name = Some(n).filter(|n| !n.is_empty());
        }
        if let Some(t) = update.tags {
            addr.tags = clean_tags(t);
        }
        if update.meta_data.is_some() {
            addr.meta_data = update.meta_data;
        }
        if update.internal_data.is_some() {
            addr.internal_data = update.internal_data;
        }
        if !self.backend.addresses.update_address(&addr).await? {
            return Err(Error::not_found("no such address"));
        }
        if main {
            self.set_main_address(user, addr.id).await?;
        }
        Ok(addr)
    }

    /// Every address (users' and forwarded), sorted by address view, filtered: `query` is a
    /// substring of the address (case-sensitive, as WildDuck's regex); any of `tags` must be on it, and all of
    /// `required_tags` (tags compare case-insensitively).
    pub async fn list_all_addresses(
        &self,
        query: Option<&str>,
        tags: &[String],
        required_tags: &[String],
    ) -> Result<Vec<Address>> {
        let all = self.backend.addresses.list_all_addresses().await?;
        let has = |a: &Address, t: &String| a.tags.iter().any(|x| x.eq_ignore_ascii_case(t));
        Ok(all
            .into_iter()
            .filter(|a| {
                query.is_none_or(|q| a.address.contains(q))
                    && (tags.is_empty() || tags.iter().any(|t| has(a, t)))
                    && required_tags.iter().all(|t| has(a, t))
            })
            .collect())
    }
}
