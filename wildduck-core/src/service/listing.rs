//! Paged message listings (the API's message list): one page of UIDs read through the index with
//! a limit, so a page costs the same in a mailbox of 100 messages or of 100,000.

use super::Services;
use crate::Result;
use crate::model::{Mailbox, Uid};
use crate::store::UidWindow;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCursor {
    /// The first page.
    First,
    /// The page right after this UID in listing order (a `next` cursor).
    After(Uid),
    /// The page right before this UID in listing order (a `previous` cursor).
    Before(Uid),
}

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpec {
    /// Where the page starts.
    pub cursor: PageCursor,
    /// Newest (highest UID) first.
    pub descending: bool,
    /// Page size.
    pub limit: usize,
    /// Only messages without `\Seen`.
    pub unseen_only: bool,
}

/// One page of UIDs in listing order, and whether pages exist on either side of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidPage {
    /// The page, in listing order.
    pub uids: Vec<Uid>,
    /// Messages exist before the page in listing order.
    pub has_previous: bool,
    /// Messages exist after the page in listing order.
    pub has_next: bool,
}

impl Services {
    /// One page of `mb`'s UIDs (loaded by the caller through [`Services::get_mailbox`] or
    /// [`Services::find_mailbox`], so ownership is checked): at most three indexed reads of
    /// `limit + 1` UIDs or fewer, never the whole mailbox.
    pub async fn message_page(&self, mb: &Mailbox, spec: PageSpec) -> Result<UidPage> {
        let store = &self.backend.messages;
        let window = |after: Option<Uid>, descending: bool, limit: usize| UidWindow {
            after,
            descending,
            limit,
            unseen_only: spec.unseen_only,
        };
        let limit = spec.limit.max(1);
        // Is there anything beyond `edge` in the given direction?
        let beyond = |edge: Uid, descending: bool| async move {
            store
                .uid_window(mb.id, window(Some(edge), descending, 1))
                .await
                .map(|v| !v.is_empty())
        };
        match spec.cursor {
            PageCursor::First | PageCursor::After(_) => {
                let after = match spec.cursor {
                    PageCursor::After(u) => Some(u),
                    _ => None,
                };
                let mut uids = store
                    .uid_window(mb.id, window(after, spec.descending, limit + 1))
                    .await?;
                let has_next = uids.len() > limit;
                uids.truncate(limit);
                let has_previous = match (after, uids.first()) {
                    (None, _) => false,
                    (Some(_), Some(first)) => beyond(*first, !spec.descending).await?,
                    // Nothing after the cursor: whatever exists lies before it.
                    (Some(_), None) => !store
                        .uid_window(mb.id, window(None, spec.descending, 1))
                        .await?
                        .is_empty(),
                };
                Ok(UidPage {
                    uids,
                    has_previous,
                    has_next,
                })
            }
            PageCursor::Before(before) => {
                let mut uids = store
                    .uid_window(mb.id, window(Some(before), !spec.descending, limit + 1))
                    .await?;
                let has_previous = uids.len() > limit;
                uids.truncate(limit);
                uids.reverse();
                let has_next = match uids.last() {
                    Some(last) => beyond(*last, spec.descending).await?,
                    None => !store
                        .uid_window(mb.id, window(None, spec.descending, 1))
                        .await?
                        .is_empty(),
                };
                Ok(UidPage {
                    uids,
                    has_previous,
                    has_next,
                })
            }
        }
    }
}
