//! `LIST`, `LSUB`, `XLIST` with WildDuck's listing rules: the reference and pattern are joined
//! and normalised, matched against every (non-hidden) path with `*` and `%`; parents missing
//! from storage appear as `\Noselect`; every entry gets `\HasChildren` or `\HasNoChildren`;
//! special-use flags are appended (XLIST renames some and marks INBOX as `Inbox`). The only
//! LIST-EXTENDED options are the `SPECIAL-USE` selection and return options (RFC 6154); `RETURN
//! (CHILDREN)` is accepted since the flags are always there.

use std::collections::BTreeMap;

use wildduck_core::model::SpecialUse;

use crate::commands::write_mailbox_name;
use crate::proto::{ListCommand, ListKind, ListReturn, ListSelect};
use crate::session::{Context, Reply};

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Full path.
    pub path: String,
    /// `\Noselect`, `\HasChildren`, `\HasNoChildren`.
    pub flags: Vec<&'static str>,
    /// The mailbox's special use.
    pub special_use: Option<SpecialUse>,
}

/// Handles LIST/LSUB/XLIST.
pub async fn handle(ctx: &mut Context<'_>, cmd: &ListCommand) -> Reply {
    let name = match cmd.kind {
        ListKind::List => "LIST",
        ListKind::Lsub => "LSUB",
        ListKind::Xlist => "XLIST",
    };
    let mut only_special = false;
    for s in &cmd.selection {
        match s {
            ListSelect::SpecialUse => only_special = true,
            _ => return Reply::bad(format!("Invalid argument provided for {name}")),
        }
    }
    let mut return_special = false;
    for r in &cmd.returns {
        match r {
            ListReturn::SpecialUse => return_special = true,
            ListReturn::Children => {}
            ListReturn::Subscribed => {
                return Reply::bad(format!("Invalid argument provided for {name}"));
            }
        }
    }
    let patterns: Vec<&str> = if cmd.patterns.is_empty() {
        vec![""]
    } else {
        cmd.patterns.iter().map(String::as_str).collect()
    };
    if patterns.iter().all(|p| p.is_empty()) && !return_special {
        // An empty pattern asks for the hierarchy delimiter.
        ctx.untagged(&format!("{name} (\\Noselect) \"/\" \"/\""));
        return Reply::ok(format!("{name} completed"));
    }
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let mailboxes = match ctx
        .services()
        .list_mailboxes(user, cmd.kind == ListKind::Lsub)
        .await
    {
        Ok(m) => m,
        Err(e) => return crate::error::reply(&e, name),
    };
    let listing = folder_listing(
        mailboxes
            .iter()
            .filter(|m| !m.hidden)
            .map(|m| (m.path.as_str(), m.special_use)),
    );
    let queries: Vec<String> = patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| normalize_query(&format!("{}{p}", cmd.reference)))
        .collect();
    let xlist = cmd.kind == ListKind::Xlist;
    let mut out = Vec::new();
    for entry in &listing {
        if !queries.iter().any(|q| matches(q, &entry.path)) {
            continue;
        }
        if only_special && entry.special_use.is_none() {
            continue;
        }
        let mut flags: Vec<&str> = if return_special {
            Vec::new()
        } else {
            entry.flags.clone()
        };
        if let Some(su) = entry.special_use {
            flags.push(if xlist { xlist_flag(su) } else { su.as_str() });
        }
        let mut path = entry.path.as_str();
        if xlist && path == "INBOX" {
            path = "Inbox";
            flags.push("\\Inbox");
        }
        out.clear();
        out.extend_from_slice(format!("* {name} ({}) \"/\" ", flags.join(" ")).as_bytes());
        write_mailbox_name(&mut out, ctx.session, path);
        out.extend_from_slice(b"\r\n");
        ctx.write(&out);
    }
    Reply::ok(format!("{name} completed"))
}

fn xlist_flag(su: SpecialUse) -> &'static str {
    match su {
        SpecialUse::Junk => "\\Spam",
        SpecialUse::Flagged => "\\Starred",
        other => other.as_str(),
    }
}

/// WildDuck's query normalisation: outer slashes trimmed, a first level `INBOX` in any case
/// becomes `INBOX`.
pub fn normalize_query(q: &str) -> String {
    let q = q.strip_prefix('/').unwrap_or(q);
    let q = q.strip_suffix('/').unwrap_or(q);
    match q.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX/{rest}"),
        None if q.eq_ignore_ascii_case("INBOX") => "INBOX".into(),
        _ => q.to_string(),
    }
}

/// The listing of `paths` (with special use): virtual `\Noselect` parents, children flags, INBOX
/// always present, sorted level by level with INBOX first.
pub fn folder_listing<'a>(
    paths: impl IntoIterator<Item = (&'a str, Option<SpecialUse>)>,
) -> Vec<Entry> {
    let mut items: BTreeMap<String, Entry> = BTreeMap::new();
    let mut parents: Vec<String> = Vec::new();
    for (path, special_use) in paths {
        if path.is_empty() {
            continue;
        }
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !parent.is_empty() && !parents.iter().any(|x| x == parent) {
                parents.push(parent.to_string());
            }
            p = parent;
        }
        items.insert(
            path.to_string(),
            Entry {
                path: path.to_string(),
                flags: Vec::new(),
                special_use,
            },
        );
    }
    items.entry("INBOX".into()).or_insert_with(|| Entry {
        path: "INBOX".into(),
        flags: Vec::new(),
        special_use: None,
    });
    for parent in parents {
        let e = items.entry(parent.clone()).or_insert_with(|| Entry {
            path: parent,
            flags: vec!["\\Noselect"],
            special_use: None,
        });
        if !e.flags.contains(&"\\HasChildren") {
            e.flags.push("\\HasChildren");
        }
    }
    let mut out: Vec<Entry> = items.into_values().collect();
    for e in &mut out {
        if !e.flags.contains(&"\\HasChildren") {
            e.flags.push("\\HasNoChildren");
        }
    }
    out.sort_by(|a, b| {
        let (mut ai, mut bi) = (a.path.split('/'), b.path.split('/'));
        let mut level = 0;
        loop {
            match (ai.next(), bi.next()) {
                (None, None) => return std::cmp::Ordering::Equal,
                (None, Some(_)) => return std::cmp::Ordering::Less,
                (Some(_), None) => return std::cmp::Ordering::Greater,
                (Some(x), Some(y)) if x != y => {
                    if level == 0 && x == "INBOX" {
                        return std::cmp::Ordering::Less;
                    }
                    if level == 0 && y == "INBOX" {
                        return std::cmp::Ordering::Greater;
                    }
                    return x.to_lowercase().cmp(&y.to_lowercase()).then(x.cmp(y));
                }
                _ => level += 1,
            }
        }
    });
    out
}

/// Whether `name` matches the LIST pattern `pattern`: `*` matches anything, `%` anything but
/// the delimiter `/`. Linear memory, time bounded by pattern × name (both bounded by limits).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // reach[j]: the pattern prefix seen so far matches the name prefix of length j.
    let mut reach = vec![false; n.len() + 1];
    if let Some(first) = reach.first_mut() {
        *first = true;
    }
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                let mut on = false;
                for j in 0..=n.len() {
                    if reach.get(j).copied().unwrap_or(false) {
                        on = true;
                    }
                    if on {
                        if let Some(x) = next.get_mut(j) {
                            *x = true;
                        }
                        // `%` cannot run past a delimiter.
                        if pc == '%' && n.get(j) == Some(&'/') {
                            on = false;
                        }
                    }
                }
            }
            c => {
                for j in 0..n.len() {
                    if reach.get(j).copied().unwrap_or(false)
                        && n.get(j) == Some(&c)
                        && let Some(x) = next.get_mut(j + 1)
                    {
                        *x = true;
                    }
                }
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "INBOX"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a*c", "a/b/c"));
        assert!(!matches("a%c", "a/b/c"));
        assert!(matches("INBOX", "INBOX"));
        assert!(!matches("INBOX", "INBOX/x"));
        assert!(matches("", ""));
        assert!(matches("%/%", "a/b"));
        assert!(matches("T*h", "Trash"));
    }

    #[test]
    fn listing_has_virtual_parents_and_children_flags() {
        let l = folder_listing([
            ("Work/Projects/X", None),
            ("Trash", Some(SpecialUse::Trash)),
            ("INBOX", None),
            ("Archive", None),
        ]);
        let paths: Vec<&str> = l.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "INBOX",
                "Archive",
                "Trash",
                "Work",
                "Work/Projects",
                "Work/Projects/X"
            ]
        );
        let work = l.iter().find(|e| e.path == "Work").unwrap();
        assert_eq!(work.flags, vec!["\\Noselect", "\\HasChildren"]);
        let x = l.iter().find(|e| e.path == "Work/Projects/X").unwrap();
        assert_eq!(x.flags, vec!["\\HasNoChildren"]);
        assert_eq!(normalize_query("/inbox/"), "INBOX");
        assert_eq!(normalize_query("Inbox/a"), "INBOX/a");
    }
}
