//! Keyset pages: one statement per page, whatever the list's size. A page is asked for
//! as a [`Window`], the API's cursors decoded to the key it starts after.
use entity::{faulty_report, invoice, ledger_entry, logo, photo, webhook_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{InvoiceRow, LedgerEntryRow, LogoRow, PhotoRow, Reads, ReportRow, ReportStatus, WebhookEventRow};
use crate::error::Error;

/// A window on a list in its order: at most `first` items, those past the key `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub first: u64,
    pub after: Option<i64>,
}

/// Splits one extra row off: its presence says there is a next page.
fn split_next<T>(mut rows: Vec<T>, first: u64) -> (Vec<T>, bool) {
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    (rows, has_next)
}

impl Reads {
    /// A page of the account's photos, oldest first, whether there are more, and how
    /// many photos it has in all.
    pub async fn photos(&self, account_id: i64, window: Window) -> Result<(Vec<PhotoRow>, bool, i64), Error> {
        let mut query = photo::Entity::find().filter(photo::Column::AccountId.eq(account_id));
        if let Some(after) = window.after {
            query = query.filter(photo::Column::Id.gt(after));
        }
        let rows = query
            .order_by_asc(photo::Column::Id)
            .limit(window.first + 1)
            .all(&self.db)
            .await?;
        let total = photo::Entity::find()
            .filter(photo::Column::AccountId.eq(account_id))
            .count(&self.db)
            .await?;
        let (rows, has_next) = split_next(rows, window.first);
        Ok((rows, has_next, i64::try_from(total).unwrap_or(i64::MAX)))
    }

    /// A page of the account's ledger, newest first, and whether there are more.
    pub async fn ledger(&self, account_id: i64, window: Window) -> Result<(Vec<LedgerEntryRow>, bool), Error> {
        let mut query = ledger_entry::Entity::find().filter(ledger_entry::Column::AccountId.eq(account_id));
        if let Some(after) = window.after {
            query = query.filter(ledger_entry::Column::Id.lt(after));
        }
        let rows = query
            .order_by_desc(ledger_entry::Column::Id)
            .limit(window.first + 1)
            .all(&self.db)
            .await?;
        Ok(split_next(rows, window.first))
    }

    /// A page of the account's invoices, newest first, and whether there are more.
    pub async fn invoices(&self, account_id: i64, window: Window) -> Result<(Vec<InvoiceRow>, bool), Error> {
        let mut query = invoice::Entity::find().filter(invoice::Column::AccountId.eq(account_id));
        if let Some(after) = window.after {
            query = query.filter(invoice::Column::Id.lt(after));
        }
        let rows = query
            .order_by_desc(invoice::Column::Id)
            .limit(window.first + 1)
            .all(&self.db)
            .await?;
        Ok(split_next(rows, window.first))
    }

    /// A page of every account's reports, oldest first, of `status` when given, and
    /// whether there are more: the correction team's queue.
    pub async fn report_queue(
        &self,
        status: Option<ReportStatus>,
        window: Window,
    ) -> Result<(Vec<ReportRow>, bool), Error> {
        let mut query = faulty_report::Entity::find();
        if let Some(status) = status {
            query = query.filter(faulty_report::Column::Status.eq(status));
        }
        if let Some(after) = window.after {
            query = query.filter(faulty_report::Column::Id.gt(after));
        }
        let rows = query
            .order_by_asc(faulty_report::Column::Id)
            .limit(window.first + 1)
            .all(&self.db)
            .await?;
        Ok(split_next(rows, window.first))
    }

    /// A page of the events for other systems, newest first, of one status (stored as
    /// `PENDING`, `DELIVERED` or `FAILED`) or all, and whether there are more.
    pub async fn webhook_events(
        &self,
        status: Option<&str>,
        window: Window,
    ) -> Result<(Vec<WebhookEventRow>, bool), Error> {
        let mut query = webhook_event::Entity::find();
        if let Some(status) = status {
            query = query.filter(webhook_event::Column::Status.eq(status));
        }
        if let Some(after) = window.after {
            query = query.filter(webhook_event::Column::Id.lt(after));
        }
        let rows = query
            .order_by_desc(webhook_event::Column::Id)
            .limit(window.first + 1)
            .all(&self.db)
            .await?;
        Ok(split_next(rows, window.first))
    }

    /// The account's oldest `max` logos, oldest first: an account that gathered more
    /// before the cap existed still answers a bounded list.
    pub async fn logos(&self, account_id: i64, max: u64) -> Result<Vec<LogoRow>, Error> {
        Ok(logo::Entity::find()
            .filter(logo::Column::AccountId.eq(account_id))
            .order_by_asc(logo::Column::Id)
            .limit(max)
            .all(&self.db)
            .await?)
    }
}
