//! Forwarded addresses (addresses without a mailbox: mail to them goes on to `targets`), domain
//! renames across every address, and the default address of a new user (`emailDomain`).

use std::collections::HashMap;
use std::time::Duration;

use super::Services;
use super::addresses::{MAX_WILDCARD_LEN, addrview, normalize_address};
use crate::model::{
    Address, AddressAutoreply, AddressId, ForwardTarget, ForwardTargetKind, Forwarding, ObjectId,
    Timestamp, UserId, UserUpdate,
};
use crate::{Error, ErrorKind, Result};

/// WildDuck's `const:max:forwards`: forwards a day when the address sets no limit.
pub const DEFAULT_MAX_FORWARDS: u64 = 2000;

/// The window of the forward counter `wdf:<address id>`.
pub const FORWARD_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What a new forwarded address needs (`POST /addresses/forwarded`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewForwarded {
    /// The address (`*@domain`, `user@*` and partial wildcards only with `allow_wildcard`).
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// Targets as given: email addresses, `smtp(s)://` relays, `http(s)://` URLs.
    pub targets: Vec<String>,
    /// Daily forwarding limit (0 = the default).
    pub forwards: u64,
    /// Permit a wildcard address.
    pub allow_wildcard: bool,
    /// Autoreply; `None` stores `{status: false}`.
    pub autoreply: Option<AutoreplyChange>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// `metaData`: the JSON text of an object.
    pub meta_data: Option<String>,
    /// `internalData`: the JSON text of an object.
    pub internal_data: Option<String>,
}

/// The autoreply fields a request gives; `None` fields are left as they are on update (and
/// absent on create).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoreplyChange {
    /// Enabled (WildDuck's default when an autoreply object is given: `true`).
    pub status: bool,
    /// `Some(None)` = `false` (no start check), `Some(Some(t))` = a start time.
    pub start: Option<Option<Timestamp>>,
    /// As `start`, for the end.
    pub end: Option<Option<Timestamp>>,
    /// From name.
    pub name: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Plain text.
    pub text: Option<String>,
    /// HTML.
    pub html: Option<String>,
}

impl Default for AutoreplyChange {
    fn default() -> Self {
        Self {
            status: true,
            start: None,
            end: None,
            name: None,
            subject: None,
            text: None,
            html: None,
        }
    }
}

impl AutoreplyChange {
    fn apply(self, a: &mut AddressAutoreply) {
        a.status = self.status;
        if let Some(s) = self.start {
            a.start = s;
        }
        if let Some(e) = self.end {
            a.end = e;
        }
        for (slot, v) in [
            (&mut a.name, self.name),
            (&mut a.subject, self.subject),
            (&mut a.text, self.text),
            (&mut a.html, self.html),
        ] {
            if v.is_some() {
                *slot = v;
            }
        }
    }
}

/// A change to a forwarded address (`PUT /addresses/forwarded/:id`); `None` leaves a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForwardedUpdate {
    /// A new address (wildcard addresses cannot be renamed, nor can one become a wildcard).
    pub address: Option<String>,
    /// A new name (an empty one is ignored, as in WildDuck).
    pub name: Option<String>,
    /// New targets, replacing the old ones.
    pub targets: Option<Vec<String>>,
    /// A new daily limit (0 is ignored, as in WildDuck).
    pub forwards: Option<u64>,
    /// Switch forwarding off or on.
    pub disabled: Option<bool>,
    /// Autoreply fields to change.
    pub autoreply: Option<AutoreplyChange>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New `metaData` JSON text.
    pub meta_data: Option<String>,
    /// New `internalData` JSON text.
    pub internal_data: Option<String>,
}

/// The forward counter of a forwarded address as WildDuck reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardUsage {
    /// Forwards allowed a day.
    pub allowed: u64,
    /// Forwards in the current window.
    pub used: u64,
    /// Seconds until the window ends; `None` when no window is running.
    pub ttl: Option<u64>,
}

/// What `rename_domain` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainRename {
    /// Addresses renamed.
    pub addresses: u64,
    /// Users whose main address was renamed.
    pub users: u64,
}

/// Trims tags, drops empty ones and case-insensitive duplicates, sorts them case-insensitively
/// (WildDuck's order for forwarded addresses).
pub fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.iter().any(|x| x.to_lowercase() == t.to_lowercase()) {
            out.push(t);
        }
    }
    out.sort_by_key(|t| t.to_lowercase());
    out
}

fn is_relay(t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    l.starts_with("smtp:") || l.starts_with("smtps:")
}

fn is_http(t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    l.starts_with("http:") || l.starts_with("https:")
}

/// Classifies targets as WildDuck does: a value with `@` that is not a URL is a mail target (and
/// must not be the address itself, `own_view`), `smtp(s):` is a relay, `http(s):` is a URL;
/// anything else is refused. Each target gets a fresh id; local users are not resolved here.
pub fn parse_targets(values: &[String], own_view: &str) -> Result<Vec<ForwardTarget>> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let kind = if !is_relay(v) && !is_http(v) && v.contains('@') {
            let norm = normalize_address(v)
                .map_err(|_| Error::invalid(format!("Unknown target type \"{v}\"")))?;
            if addrview(&norm) == own_view {
                return Err(Error::invalid(format!("Can not forward to self \"{v}\"")));
            }
            ForwardTargetKind::Mail
        } else if is_relay(v) {
            ForwardTargetKind::Relay
        } else if is_http(v) {
            ForwardTargetKind::Http
        } else {
            return Err(Error::invalid(format!("Unknown target type \"{v}\"")));
        };
        out.push(ForwardTarget {
            id: ObjectId::new(),
            kind,
            value: v.clone(),
            user: None,
        });
    }
    Ok(out)
}

/// WildDuck's wildcard rule for a new address: at most one `*`, and a wildcard local part of at
/// most 32 characters besides it.
fn check_wildcard(address: &str, allow: bool) -> Result<()> {
    if !address.contains('*') {
        return Ok(());
    }
    if !allow {
        return Err(Error::invalid("Address can not contain *"));
    }
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    if address.matches('*').count() > 1 || local.chars().count() > MAX_WILDCARD_LEN + 1 {
        return Err(Error::invalid(
            "Invalid wildcard address, use \"*@domain\" or \"user@*\"",
        ));
    }
    Ok(())
}

fn not_found() -> Error {
    Error::not_found("Invalid or unknown email address identifier")
}

/// The machine's host name (for `emailDomain`'s fallback, as WildDuck's `os.hostname()`).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

impl Services {
    /// The address WildDuck gives a user created without one: the username itself when it is an
    /// address, else `<username>@<emailDomain or host name>`; lower-cased, `+label` removed.
    pub fn default_user_address(&self, username: &str) -> Result<String> {
        let username = username.trim();
        let candidate = if username.contains('@') && normalize_address(username).is_ok() {
            username.to_string()
        } else {
            let local = username.split('@').next().unwrap_or(username);
            let domain = self
                .config()
                .email_domain
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(host_name);
            format!("{local}@{}", domain.trim().to_lowercase())
        };
        let norm = normalize_address(&candidate)?;
        // WildDuck's `removeLabel: true` for the main address.
        let (local, domain) = norm.rsplit_once('@').unwrap_or((norm.as_str(), ""));
        let local = local.split('+').next().unwrap_or(local);
        normalize_address(&format!("{local}@{domain}"))
    }

    /// Resolves mail targets that are local users' addresses (one query): such a target gets
    /// `user` set.
    async fn resolve_target_users(&self, targets: &mut [ForwardTarget]) -> Result<()> {
        let views: Vec<String> = targets
            .iter()
            .filter(|t| t.kind == ForwardTargetKind::Mail)
            .filter_map(|t| normalize_address(&t.value).ok().map(|a| addrview(&a)))
            .collect();
        if views.is_empty() {
            return Ok(());
        }
        let found = self.backend.addresses.find_addresses(&views).await?;
        let users: HashMap<&str, UserId> = found
            .iter()
            .filter_map(|a| a.user.map(|u| (a.addrview.as_str(), u)))
            .collect();
        for t in targets.iter_mut() {
            if t.kind != ForwardTargetKind::Mail {
                continue;
            }
            if let Ok(a) = normalize_address(&t.value) {
                t.user = users.get(addrview(&a).as_str()).copied();
            }
        }
        Ok(())
    }

    /// Creates a forwarded address. Errors: `Invalid` (bad address, `+` in it, a wildcard not
    /// allowed or malformed, a target of unknown type or the address itself), `AlreadyExists`.
    pub async fn create_forwarded(&self, new: NewForwarded) -> Result<Address> {
        let address = normalize_address(&new.address)?;
        let view = addrview(&address);
        let mut targets = parse_targets(&new.targets, &view)?;
        if address.contains('+') {
            return Err(Error::invalid("Address can not contain +"));
        }
        check_wildcard(&address, new.allow_wildcard)?;
        if !self
            .backend
            .addresses
            .find_addresses(std::slice::from_ref(&view))
            .await?
            .is_empty()
        {
            return Err(super::already_exists("This email address already exists"));
        }
        self.resolve_target_users(&mut targets).await?;
        let mut autoreply = AddressAutoreply::default();
        if let Some(change) = new.autoreply {
            change.apply(&mut autoreply);
        }
        let addr = Address {
            id: AddressId::new(),
            user: None,
            address,
            addrview: view,
            name: new.name.filter(|n| !n.is_empty()),
            tags: new.tags.map(normalize_tags).unwrap_or_default(),
            created: Timestamp::now(),
            forwarding: Some(Forwarding {
                targets,
                forwards: new.forwards,
                disabled: false,
                autoreply,
                meta_data: new.meta_data,
                internal_data: new.internal_data,
            }),
            // A forwarded address keeps its metadata in `forwarding`.
            meta_data: None,
            internal_data: None,
        };
        self.backend.addresses.insert_address(&addr).await?;
        Ok(addr)
    }

    /// A forwarded address by id; `NotFound` for a user's address or none.
    pub async fn get_forwarded(&self, id: AddressId) -> Result<Address> {
        self.backend
            .addresses
            .get_address(id)
            .await?
            .filter(|a| a.user.is_none() && a.forwarding.is_some())
            .ok_or_else(not_found)
    }

    /// Updates a forwarded address. Errors: `NotFound`, `Invalid` ("Can not change special
    /// address", bad targets), `AlreadyExists` (the new address is taken).
    pub async fn update_forwarded(
        &self,
        id: AddressId,
        update: ForwardedUpdate,
    ) -> Result<Address> {
        let mut addr = self.get_forwarded(id).await?;
        let old_view = addr.addrview.clone();
        let mut f = addr.forwarding.take().unwrap_or_default();
        if let Some(new) = &update.address {
            let norm = normalize_address(new)?;
            if norm != addr.address {
                if addr.address.contains('*') || norm.contains('*') {
                    return Err(Error::invalid("Can not change special address"));
                }
                addr.addrview = addrview(&norm);
                addr.address = norm;
            }
        }
        if let Some(n) = update.forwards.filter(|n| *n > 0) {
            f.forwards = n;
        }
        if let Some(n) = update.name.filter(|n| !n.is_empty()) {
            addr.name = Some(n);
        }
        if let Some(d) = update.disabled {
            f.disabled = d;
        }
        if let Some(change) = update.autoreply {
            change.apply(&mut f.autoreply);
        }
        if let Some(t) = update.tags {
            addr.tags = normalize_tags(t);
        }
        if update.meta_data.is_some() {
            f.meta_data = update.meta_data;
        }
        if update.internal_data.is_some() {
            f.internal_data = update.internal_data;
        }
        if let Some(values) = &update.targets {
            // As WildDuck: the self check is against the address before a rename.
            let mut targets = parse_targets(values, &old_view)?;
            self.resolve_target_users(&mut targets).await?;
            f.targets = targets;
        }
        addr.forwarding = Some(f);
        if !self.backend.addresses.update_address(&addr).await? {
            return Err(not_found());
        }
        Ok(addr)
    }

    /// Deletes a forwarded address; `NotFound` for a user's address or none.
    pub async fn delete_forwarded(&self, id: AddressId) -> Result<()> {
        self.get_forwarded(id).await?;
        if !self.backend.addresses.delete_forwarded(id).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// The forward counter `wdf:<id>` of a forwarded address against its limit (the address's
    /// `forwards`, else [`DEFAULT_MAX_FORWARDS`]). Read only: nothing is counted.
    pub async fn forward_usage(&self, address: &Address) -> Result<ForwardUsage> {
        let allowed = address
            .forwarding
            .as_ref()
            .map(|f| f.forwards)
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_FORWARDS);
        let c = self
            .counters()
            .ttl_counter_check(
                &format!("wdf:{}", address.id),
                i64::try_from(allowed).unwrap_or(i64::MAX),
                FORWARD_WINDOW,
            )
            .await?;
        Ok(ForwardUsage {
            allowed,
            used: u64::try_from(c.value).unwrap_or(0),
            ttl: u64::try_from(c.ttl).ok().filter(|t| *t > 0),
        })
    }

    /// Renames `old` to `new` in the domain of every address (users' and forwarded) and in the
    /// main address of each user whose main address was one of them. An address whose new form
    /// is taken keeps its old domain (logged). Domains are lower-cased and trimmed.
    pub async fn rename_domain(&self, old: &str, new: &str) -> Result<DomainRename> {
        let old = old.trim().to_lowercase();
        let new = new.trim().to_lowercase();
        if old.is_empty() || new.is_empty() || old.contains('@') || new.contains('@') {
            return Err(Error::invalid("invalid domain"));
        }
        let suffix = format!("@{old}");
        let all = self.backend.addresses.list_all_addresses().await?;
        let mut out = DomainRename::default();
        for mut a in all.into_iter().filter(|a| a.addrview.ends_with(&suffix)) {
            let previous = a.address.clone();
            let Some((local, _)) = a.address.split_once('@') else {
                continue;
            };
            a.address = format!("{local}@{new}");
            let Some((vlocal, _)) = a.addrview.split_once('@') else {
                continue;
            };
            a.addrview = format!("{vlocal}@{new}");
            match self.backend.addresses.update_address(&a).await {
                Ok(true) => out.addresses += 1,
                Ok(false) => continue,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    tracing::warn!(address = %previous, "domain rename: the new address is taken");
                    continue;
                }
                Err(e) => return Err(e),
            }
            if let Some(user) = a.user
                && let Some(u) = self.backend.users.get_user(user).await?
                && u.address.as_deref() == Some(previous.as_str())
            {
                let update = UserUpdate {
                    address: Some(a.address.clone()),
                    ..Default::default()
                };
                if self.backend.users.update_user(user, &update).await? {
                    out.users += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified_as_wildduck_does() {
        let t = parse_targets(
            &[
                "A.B@Example.com".to_string(),
                "smtp://mx.example.com:25".to_string(),
                "HTTPS://hook.example.com/x".to_string(),
            ],
            "me@example.com",
        )
        .unwrap_or_default();
        let kinds: Vec<_> = t.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                ForwardTargetKind::Mail,
                ForwardTargetKind::Relay,
                ForwardTargetKind::Http
            ]
        );
        assert_eq!(t.first().map(|t| t.value.as_str()), Some("A.B@Example.com"));
        let own = parse_targets(&["M.e@example.com".to_string()], "me@example.com");
        assert!(own.is_err_and(|e| e.message().contains("Can not forward to self")));
        let bad = parse_targets(&["ftp://x".to_string()], "me@example.com");
        assert!(bad.is_err_and(|e| e.message().contains("Unknown target type")));
    }

    #[test]
    fn wildcards_and_tags() {
        assert!(check_wildcard("*@example.com", true).is_ok());
        assert!(check_wildcard("user@*", true).is_ok());
        assert!(check_wildcard("*@example.com", false).is_err());
        assert!(check_wildcard("*a*@example.com", true).is_err());
        assert_eq!(
            normalize_tags(vec![" b ".into(), "A".into(), "a".into(), String::new()]),
            ["A", "b"]
        );
    }
}
