//! Keyset pages of an account's photos (oldest first), ledger and invoices (newest
//! first), behind opaque cursors: one statement per page, whatever the list's size.
use entity::{invoice, ledger_entry, logo, photo};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::errors::bad_input;
use super::types::PageInfo;
use crate::ids::{IdCodec, List};

/// Items per page when the client does not say.
const DEFAULT_PAGE: u64 = 20;
/// The most items a client may ask for in one page.
const MAX_PAGE: u64 = 100;

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

    /// How many items the page holds at most.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The key the page starts after, if any.
    pub fn after(&self) -> Option<i64> {
        self.after
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

/// Splits one extra row off: its presence says there is a next page.
fn split_next<T>(mut rows: Vec<T>, first: u64) -> (Vec<T>, bool) {
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    (rows, has_next)
}

/// A page of the account's photos and how many photos it has in all.
pub async fn photos(
    db: &DatabaseConnection,
    account_id: i64,
    page: &Page,
) -> Result<(Vec<photo::Model>, bool, i64), DbErr> {
    let mut query = photo::Entity::find().filter(photo::Column::AccountId.eq(account_id));
    if let Some(after) = page.after {
        query = query.filter(photo::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(photo::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let total = photo::Entity::find()
        .filter(photo::Column::AccountId.eq(account_id))
        .count(db)
        .await?;
    let (rows, has_next) = split_next(rows, page.first);
    Ok((rows, has_next, i64::try_from(total).unwrap_or(i64::MAX)))
}

/// A page of the account's ledger, newest first.
pub async fn ledger(
    db: &DatabaseConnection,
    account_id: i64,
    page: &Page,
) -> Result<(Vec<ledger_entry::Model>, bool), DbErr> {
    let mut query = ledger_entry::Entity::find().filter(ledger_entry::Column::AccountId.eq(account_id));
    if let Some(after) = page.after {
        query = query.filter(ledger_entry::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(ledger_entry::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(split_next(rows, page.first))
}

/// A page of the account's invoices, newest first.
pub async fn invoices(
    db: &DatabaseConnection,
    account_id: i64,
    page: &Page,
) -> Result<(Vec<invoice::Model>, bool), DbErr> {
    let mut query = invoice::Entity::find().filter(invoice::Column::AccountId.eq(account_id));
    if let Some(after) = page.after {
        query = query.filter(invoice::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(invoice::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(split_next(rows, page.first))
}

/// The account's oldest `max` logos, oldest first: an account that gathered more before
/// the cap existed still answers a bounded list.
pub async fn logos(db: &DatabaseConnection, account_id: i64, max: u64) -> Result<Vec<logo::Model>, DbErr> {
    logo::Entity::find()
        .filter(logo::Column::AccountId.eq(account_id))
        .order_by_asc(logo::Column::Id)
        .limit(max)
        .all(db)
        .await
}
