//! `FETCH` / `UID FETCH` (RFC 3501 §6.4.5, RFC 7162 `CHANGEDSINCE`).
//!
//! Reads as little as the items need: flags, sizes and dates come from message metadata alone
//! (one query); ENVELOPE, BODYSTRUCTURE and header sections need the stored form but no
//! attachment blobs; only full bodies load blobs. Messages are answered in sequence order, in
//! batches bounded by count and size, so a `1:* BODY[]` never holds the whole mailbox.
//!
//! Fetching `BODY[…]`, `RFC822` or `RFC822.TEXT` without `.PEEK` on a read-write mailbox sets
//! `\Seen` (one flag change for the batch) and the reply carries the new `FLAGS`.

use wildduck_core::message::section::SectionKind;
use wildduck_core::message::{NoBlobs, StoredMessage};
use wildduck_core::model::{Flag, FlagOp, Flags, MessageMeta, ModSeq, Uid, UidSet};
use wildduck_core::service::messages::FetchedMessage;
use wildduck_core::store::MessageFilter;

use crate::proto::{FetchCommand, FetchItem};
use crate::response::{FetchContent, write_fetch, write_flags_fetch};
use crate::session::{Context, Reply};

/// Most messages loaded with their content at once.
const CONTENT_BATCH: usize = 100;
/// Most bytes (by RFC822.SIZE) of full messages loaded at once.
const CONTENT_BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Most metadata records read at once.
const META_BATCH: usize = 10_000;

/// Whether `item` can be answered from UID, MODSEQ and flags alone.
fn flags_item(item: &FetchItem) -> bool {
    matches!(item, FetchItem::Flags | FetchItem::Uid | FetchItem::ModSeq)
}

/// How much of each message the items need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContentNeed {
    /// Metadata only (FLAGS, UID, MODSEQ, INTERNALDATE, RFC822.SIZE).
    Meta,
    /// The stored form without attachment blobs (ENVELOPE, BODYSTRUCTURE, BODY, header sections).
    Structure,
    /// Everything, blobs included (bodies).
    Full,
}

/// The items to answer, after WildDuck's additions, and what they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// Reply items in order: the requested ones (duplicates dropped), then `FLAGS` when `\Seen`
    /// is set implicitly, `UID` for UID FETCH, `MODSEQ` with CHANGEDSINCE.
    pub items: Vec<FetchItem>,
    /// Set `\Seen` on the fetched messages.
    pub mark_seen: bool,
    /// What has to be loaded.
    pub need: ContentNeed,
}

fn item_need(item: &FetchItem) -> ContentNeed {
    match item {
        FetchItem::Flags
        | FetchItem::Uid
        | FetchItem::InternalDate
        | FetchItem::Rfc822Size
        | FetchItem::ModSeq => ContentNeed::Meta,
        FetchItem::Envelope
        | FetchItem::BodyStructure
        | FetchItem::Body
        | FetchItem::Rfc822Header => ContentNeed::Structure,
        FetchItem::BodySection { section, .. } => match section.kind {
            // Header sections are inline in the stored tree: no blob is ever read for them.
            SectionKind::Header
            | SectionKind::HeaderFields(_)
            | SectionKind::HeaderFieldsNot(_)
            | SectionKind::Mime => ContentNeed::Structure,
            SectionKind::Full | SectionKind::Text => ContentNeed::Full,
        },
        FetchItem::Rfc822 | FetchItem::Rfc822Text => ContentNeed::Full,
    }
}

impl FetchPlan {
    /// Whether every item is FLAGS, UID or MODSEQ (and nothing is to be marked `\Seen`).
    pub fn flags_only(&self) -> bool {
        !self.mark_seen && self.items.iter().all(flags_item)
    }
}

/// Plans a FETCH on a mailbox opened read-only or not.
pub fn plan(cmd: &FetchCommand, read_only: bool) -> FetchPlan {
    let mut items: Vec<FetchItem> = Vec::with_capacity(cmd.items.len() + 3);
    for item in &cmd.items {
        if !items.contains(item) {
            items.push(item.clone());
        }
    }
    let mark_seen = !read_only && items.iter().any(FetchItem::sets_seen);
    if mark_seen && !items.contains(&FetchItem::Flags) {
        items.push(FetchItem::Flags);
    }
    if cmd.uid && !items.contains(&FetchItem::Uid) {
        items.push(FetchItem::Uid);
    }
    if cmd.changed_since.is_some() && !items.contains(&FetchItem::ModSeq) {
        items.push(FetchItem::ModSeq);
    }
    let need = items
        .iter()
        .map(item_need)
        .max()
        .unwrap_or(ContentNeed::Meta);
    FetchPlan {
        items,
        mark_seen,
        need,
    }
}

/// Splits UIDs (with their sizes when known) into batches of at most `CONTENT_BATCH` messages
/// and about `CONTENT_BATCH_BYTES` (a single larger message is a batch of its own).
fn batches(uids: &[(Uid, u64)], need: ContentNeed) -> Vec<Vec<Uid>> {
    let mut out: Vec<Vec<Uid>> = Vec::new();
    let mut cur: Vec<Uid> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in uids {
        let size = if need == ContentNeed::Full { size } else { 0 };
        if !cur.is_empty()
            && (cur.len() >= CONTENT_BATCH || bytes.saturating_add(size) > CONTENT_BATCH_BYTES)
        {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes = bytes.saturating_add(size);
        cur.push(uid);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One loaded message: metadata plus, when needed, its content.
enum Loaded {
    Meta(MessageMeta),
    Structure(MessageMeta, StoredMessage),
    Full(FetchedMessage),
}

impl Loaded {
    fn meta_mut(&mut self) -> &mut MessageMeta {
        match self {
            Self::Meta(m) | Self::Structure(m, _) => m,
            Self::Full(f) => &mut f.meta,
        }
    }
}

/// Runs FETCH / UID FETCH, within the user's daily download limit (WildDuck's `idw:<user>`):
/// checked before anything is read, refused with `NO [TEMPFAIL] Download was rate limited. Try
/// again in …` once reached, and every byte of the FETCH responses counted afterwards (as
/// WildDuck counts them; one counter update per command instead of one per message).
pub async fn handle(ctx: &mut Context<'_>, cmd: FetchCommand) -> Reply {
    let name = if cmd.uid { "UID FETCH" } else { "FETCH" };
    let Some(user) = ctx.session.user.as_deref() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let (user, limit) = (
        user.id,
        user.download_limit
            .filter(|n| *n > 0)
            .unwrap_or(ctx.config().max_download),
    );
    let shared = ctx.shared;
    let services = &shared.services;
    if let Err(e) = services.imap_check_download(user, limit).await {
        return Reply::no_code("TEMPFAIL", e.message().to_string());
    }
    let mut sent = 0u64;
    let reply = fetch(ctx, cmd, &mut sent).await;
    services.imap_count_download(user, sent, limit).await;
    reply
}

/// The FETCH itself; `sent` counts the response bytes written.
async fn fetch(ctx: &mut Context<'_>, cmd: FetchCommand, sent: &mut u64) -> Reply {
    let name = if cmd.uid { "UID FETCH" } else { "FETCH" };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    // RFC 7162 §3.1: CHANGEDSINCE and the MODSEQ item are CONDSTORE-enabling.
    if cmd.changed_since.is_some() || cmd.items.contains(&FetchItem::ModSeq) {
        ctx.session.condstore = true;
    }
    let utf8 = ctx.session.utf8_accept;
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let services = &shared.services;
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let plan = plan(&cmd, sel.read_only);
    let requested = cmd.set.resolve(cmd.uid, sel.view.uids());
    // Only messages the client knows: `1:*` must not show UIDs not announced yet.
    let known = requested.filter_sorted(sel.view.uids());
    if known.is_empty() {
        return Reply::ok(format!("{name} completed"));
    }
    let changed_since = cmd.changed_since.map(ModSeq);

    if plan.flags_only() {
        return fetch_flags(
            ctx.io,
            services,
            user,
            sel,
            &plan,
            &known,
            changed_since,
            sent,
            name,
        )
        .await;
    }

    // Which UIDs to load, with sizes when metadata was read first. Metadata is read first when
    // it is all that is needed, when CHANGEDSINCE filters, or to size batches of full bodies.
    let single = known.len() == 1;
    let mut metas: Option<Vec<MessageMeta>> = None;
    let targets: Vec<(Uid, u64)> = if plan.need == ContentNeed::Meta
        || changed_since.is_some()
        || (plan.need == ContentNeed::Full && !single)
    {
        let mut all = Vec::new();
        for chunk in known.chunks(META_BATCH) {
            let filter = MessageFilter {
                uids: Some(chunk.iter().copied().collect()),
                changed_since,
                deleted_only: false,
            };
            match services.fetch_meta(user, &sel.mailbox, &filter).await {
                Ok(m) => all.extend(m),
                Err(e) => return crate::error::reply(&e, name),
            }
        }
        all.sort_by_key(|m| m.uid);
        let t = all.iter().map(|m| (m.uid, m.size)).collect();
        metas = Some(all);
        t
    } else {
        known.iter().map(|u| (*u, 0)).collect()
    };

    if plan.need == ContentNeed::Meta {
        let mut metas = metas.unwrap_or_default().into_iter().peekable();
        while metas.peek().is_some() {
            let mut loaded: Vec<Loaded> = metas
                .by_ref()
                .take(CONTENT_BATCH * 10)
                .map(Loaded::Meta)
                .collect();
            if let Err(reply) =
                mark_seen(services, user, sel, &plan, &mut loaded, &session_id, name).await
            {
                return reply;
            }
            let mut buf = Vec::new();
            for l in &loaded {
                render(&mut buf, &sel.view, &plan, l, utf8);
            }
            *sent += buf.len() as u64;
            ctx.io.write(&buf);
            if ctx.io.flush_if_large().await.is_err() {
                return Reply::no(format!("{name} aborted"));
            }
        }
        return Reply::ok(format!("{name} completed"));
    }

    // One message with the implicit \Seen: the flag change and the read together.
    let seen_with_read = plan.mark_seen && single && changed_since.is_none();
    for batch in batches(&targets, plan.need) {
        let set: UidSet = batch.iter().copied().collect();
        let mut loaded: Vec<Loaded> = if let (true, Some(uid)) = (seen_with_read, batch.first()) {
            let full = plan.need == ContentNeed::Full;
            match services
                .fetch_marking_seen(user, &sel.mailbox, *uid, full, Some(&session_id))
                .await
            {
                Ok(Some((f, _))) if full => vec![Loaded::Full(f)],
                Ok(Some((f, _))) => vec![Loaded::Structure(f.meta, f.message)],
                Ok(None) => Vec::new(),
                Err(e) => return crate::error::reply(&e, name),
            }
        } else if plan.need == ContentNeed::Full {
            match services.fetch_messages(user, &sel.mailbox, &set).await {
                Ok(v) => v.into_iter().map(Loaded::Full).collect(),
                Err(e) => return crate::error::reply(&e, name),
            }
        } else {
            match services.fetch_structure(user, &sel.mailbox, &set).await {
                Ok(v) => v
                    .into_iter()
                    .map(|(m, s)| Loaded::Structure(m, s))
                    .collect(),
                Err(e) => return crate::error::reply(&e, name),
            }
        };
        if !seen_with_read
            && let Err(reply) =
                mark_seen(services, user, sel, &plan, &mut loaded, &session_id, name).await
        {
            return reply;
        }
        let mut buf = Vec::new();
        for l in &loaded {
            if let Err(e) = try_render(&mut buf, &sel.view, &plan, l, utf8) {
                tracing::warn!(session = %session_id, error = %e, "FETCH rendering failed");
                *sent += buf.len() as u64;
                ctx.io.write(&buf);
                return Reply::no_code("SERVERBUG", format!("{name} failed"));
            }
        }
        *sent += buf.len() as u64;
        ctx.io.write(&buf);
        if ctx.io.flush_if_large().await.is_err() {
            return Reply::no(format!("{name} aborted"));
        }
    }
    Reply::ok(format!("{name} completed"))
}

/// FETCH of nothing but FLAGS, UID and MODSEQ (the commonest FETCH of a synchronising client):
/// the narrow read of those three fields, answered in chunks as they are rendered.
#[allow(clippy::too_many_arguments)]
async fn fetch_flags(
    io: &mut crate::session::io::Io,
    services: &wildduck_core::service::Services,
    user: wildduck_core::model::UserId,
    sel: &crate::session::Selected,
    plan: &FetchPlan,
    known: &[Uid],
    changed_since: Option<ModSeq>,
    sent: &mut u64,
    name: &str,
) -> Reply {
    let mut buf = Vec::new();
    for chunk in known.chunks(META_BATCH) {
        let filter = MessageFilter {
            uids: Some(chunk.iter().copied().collect()),
            changed_since,
            deleted_only: false,
        };
        let rows = match services.fetch_flags(user, &sel.mailbox, &filter).await {
            Ok(rows) => rows,
            Err(e) => return crate::error::reply(&e, name),
        };
        for rows in rows.chunks(CONTENT_BATCH * 10) {
            buf.clear();
            for row in rows {
                let Some(seq) = sel.view.seq(row.uid) else {
                    continue;
                };
                write_flags_fetch(&mut buf, seq, &plan.items, row);
            }
            *sent += buf.len() as u64;
            io.write(&buf);
            if io.flush_if_large().await.is_err() {
                return Reply::no(format!("{name} aborted"));
            }
        }
    }
    Reply::ok(format!("{name} completed"))
}

/// Sets `\Seen` on the loaded messages that lack it (one flag change for the batch) and updates
/// their flags and MODSEQ for the reply.
async fn mark_seen(
    services: &wildduck_core::service::Services,
    user: wildduck_core::model::UserId,
    sel: &mut crate::session::Selected,
    plan: &FetchPlan,
    loaded: &mut [Loaded],
    session_id: &str,
    name: &str,
) -> Result<(), Reply> {
    if !plan.mark_seen {
        return Ok(());
    }
    let unseen: UidSet = loaded
        .iter_mut()
        .map(|l| l.meta_mut())
        .filter(|m| !m.flags.contains(&Flag::Seen))
        .map(|m| m.uid)
        .collect();
    if unseen.is_empty() {
        return Ok(());
    }
    let seen: Flags = std::iter::once(Flag::Seen).collect();
    let result = services
        .store_flags(
            user,
            &sel.mailbox,
            &unseen,
            &FlagOp::Add(seen),
            None,
            Some(session_id),
        )
        .await
        .map_err(|e| crate::error::reply(&e, name))?;
    for change in result.changed {
        if let Some(l) = loaded.iter_mut().find(|l| {
            let m: &MessageMeta = match l {
                Loaded::Meta(m) | Loaded::Structure(m, _) => m,
                Loaded::Full(f) => &f.meta,
            };
            m.uid == change.uid
        }) {
            let m = l.meta_mut();
            m.flags = change.flags;
            m.modseq = change.modseq;
        }
    }
    Ok(())
}

fn render(
    buf: &mut Vec<u8>,
    view: &wildduck_core::service::view::MailboxView,
    plan: &FetchPlan,
    l: &Loaded,
    utf8: bool,
) {
    // Metadata items cannot fail.
    let _ = try_render(buf, view, plan, l, utf8);
}

fn try_render(
    buf: &mut Vec<u8>,
    view: &wildduck_core::service::view::MailboxView,
    plan: &FetchPlan,
    l: &Loaded,
    utf8: bool,
) -> wildduck_core::Result<()> {
    let (meta, content) = match l {
        Loaded::Meta(m) => (m, None),
        Loaded::Structure(m, s) => (
            m,
            Some(FetchContent {
                message: s,
                blobs: &NoBlobs,
            }),
        ),
        Loaded::Full(f) => (
            &f.meta,
            Some(FetchContent {
                message: &f.message,
                blobs: f.blobs(),
            }),
        ),
    };
    let Some(seq) = view.seq(meta.uid) else {
        return Ok(());
    };
    let start = buf.len();
    if let Err(e) = write_fetch(buf, seq, &plan.items, meta, content, utf8) {
        buf.truncate(start);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Partial, SeqNum, SequenceSet};
    use wildduck_core::message::section::SectionSpec;

    fn cmd(uid: bool, items: Vec<FetchItem>, changed_since: Option<u64>) -> FetchCommand {
        FetchCommand {
            uid,
            set: SequenceSet(vec![(SeqNum::Value(1), SeqNum::Star)]),
            items,
            changed_since,
        }
    }

    fn section(kind: SectionKind, peek: bool) -> FetchItem {
        FetchItem::BodySection {
            section: SectionSpec {
                part: Vec::new(),
                kind,
            },
            partial: Some(Partial {
                offset: 0,
                length: Some(10),
            }),
            peek,
        }
    }

    #[test]
    fn plans_add_items_and_pick_the_cheapest_read() {
        let p = plan(
            &cmd(false, vec![FetchItem::Flags, FetchItem::Flags], None),
            false,
        );
        assert_eq!(p.items, vec![FetchItem::Flags]);
        assert_eq!(p.need, ContentNeed::Meta);
        assert!(!p.mark_seen);

        let p = plan(
            &cmd(true, vec![section(SectionKind::Full, false)], Some(3)),
            false,
        );
        assert!(p.mark_seen);
        assert_eq!(p.need, ContentNeed::Full);
        assert_eq!(
            &p.items[1..],
            &[FetchItem::Flags, FetchItem::Uid, FetchItem::ModSeq]
        );

        // EXAMINE: no implicit \Seen, so no FLAGS added.
        let p = plan(
            &cmd(false, vec![section(SectionKind::Text, false)], None),
            true,
        );
        assert!(!p.mark_seen);
        assert_eq!(p.items.len(), 1);

        let p = plan(
            &cmd(
                false,
                vec![section(
                    SectionKind::HeaderFields(vec!["From".into()]),
                    true,
                )],
                None,
            ),
            false,
        );
        assert_eq!(p.need, ContentNeed::Structure);
        assert!(!p.mark_seen);
    }

    #[test]
    fn batches_by_count_and_size() {
        let uids: Vec<(Uid, u64)> = (1..=250).map(|u| (Uid(u), 1000)).collect();
        let b = batches(&uids, ContentNeed::Full);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        // A message above the byte budget is a batch of its own.
        let big = vec![
            (Uid(1), 20 << 20),
            (Uid(2), 1),
            (Uid(3), 1),
            (Uid(4), 20 << 20),
        ];
        let b = batches(&big, ContentNeed::Full);
        assert_eq!(b, vec![vec![Uid(1)], vec![Uid(2), Uid(3)], vec![Uid(4)]]);
        // Sizes do not matter when no body is loaded.
        assert_eq!(batches(&big, ContentNeed::Structure).len(), 1);
    }
}
