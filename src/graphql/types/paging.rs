//! Keyset pages of an account's photos (oldest first), ledger and invoices (newest
//! first), and a photo's edits and reports, behind opaque cursors: what a client may
//! ask for, checked, as the read side's [`Window`].
use async_graphql::SimpleObject;

use crate::graphql::errors::bad_input;
use crate::ids::{IdCodec, List};
use crate::reads::{PhotoWindow, Window};

/// Items per page when the client does not say.
const DEFAULT_PAGE: u64 = 20;
/// The most items a client may ask for in one page.
const MAX_PAGE: u64 = 100;

/// A page of a list.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// True when more items follow this page: ask for them with `after: endCursor`.
    pub has_next_page: bool,
    /// True when this page was asked for with `after`, so items come before it; false
    /// on the first page.
    pub has_previous_page: bool,
    /// The cursor of the page's first item; null when the page is empty.
    pub start_cursor: Option<String>,
    /// The cursor of the page's last item, to pass as `after` for the next page; null
    /// when the page is empty.
    pub end_cursor: Option<String>,
}

/// A requested page of one owner's list: how many items, after which position.
pub struct Page {
    list: List,
    /// Whose list it is (an account, or a photo for its edits and reports): a cursor
    /// is good only for that owner's list.
    owner: i64,
    first: u64,
    after: Option<i64>,
}

impl Page {
    /// Checks `first` (0 to 100) and `after` (a cursor of this very list of `owner`).
    /// A cursor of another list, or of another account's, is refused exactly like a
    /// forged one.
    pub fn parse(
        ids: &IdCodec,
        list: List,
        owner: i64,
        first: Option<i32>,
        after: Option<&str>,
    ) -> async_graphql::Result<Page> {
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) => u64::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_PAGE)
                .ok_or_else(|| bad_input(format!("`first` must be 0 to {MAX_PAGE}.")))?,
        };
        let after = after
            .map(|cursor| {
                ids.decode_cursor(list, owner, cursor)
                    .ok_or_else(|| bad_input("`after` is not a cursor of this list."))
            })
            .transpose()?;
        Ok(Page {
            list,
            owner,
            first,
            after,
        })
    }

    /// The cursor of the item at `position` of this page's list.
    pub fn cursor(&self, ids: &IdCodec, position: i64) -> String {
        ids.cursor(self.list, self.owner, position)
    }

    /// The window the read side reads.
    pub fn window(&self) -> Window {
        Window {
            first: self.first,
            after: self.after,
        }
    }

    /// The window on the edits or reports of the photo whose list this is.
    pub fn of_photo(&self) -> PhotoWindow {
        PhotoWindow {
            photo_id: self.owner,
            window: self.window(),
        }
    }

    /// The page info of a page whose items have the keys `keys`.
    pub fn info(
        &self,
        ids: &IdCodec,
        keys: impl DoubleEndedIterator<Item = i64> + Clone,
        has_next_page: bool,
    ) -> PageInfo {
        PageInfo {
            has_next_page,
            has_previous_page: self.after.is_some(),
            start_cursor: keys.clone().next().map(|k| self.cursor(ids, k)),
            end_cursor: keys.last().map(|k| self.cursor(ids, k)),
        }
    }
}

/// The complexity of a page: its fields counted once per item it may hold.
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.map_or(DEFAULT_PAGE, |n| u64::try_from(n).unwrap_or(0).min(MAX_PAGE));
    usize::try_from(items)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}
