//! The batched statements behind a request's loaders: many records by id in one
//! statement, a page of each of many photos' edits or reports in one statement, the
//! lines of many invoices, or their credit notes, in one. The loaders themselves (what batches and caches
//! within one request) are the API's: `crate::graphql::loaders`.
use std::collections::HashMap;

use entity::{background, credit_note, edit, faulty_report, invoice_line, logo, photo};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait};

use super::{BackgroundRow, CreditNoteRow, EditRow, InvoiceLineRow, LogoRow, PhotoRow, Reads, ReportRow, Window};
use crate::error::Error;

/// A page of one photo's edits or reports, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhotoWindow {
    pub photo_id: i64,
    pub window: Window,
}

impl Reads {
    /// The photos among `ids`, in no particular order; missing ones are left out.
    pub async fn photos_by_id(&self, ids: impl IntoIterator<Item = i64>) -> Result<Vec<PhotoRow>, Error> {
        Ok(photo::Entity::find()
            .filter(photo::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// The photos of `account_id` among `ids`, in the order of `ids`; others are left out.
    pub async fn photos_of_account(&self, account_id: i64, ids: &[i64]) -> Result<Vec<PhotoRow>, Error> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let rows = photo::Entity::find()
            .filter(photo::Column::AccountId.eq(account_id))
            .filter(photo::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(in_order(ids, rows, |p| p.id))
    }

    /// The edits among `ids`, in no particular order; missing ones are left out.
    pub async fn edits_by_id(&self, ids: impl IntoIterator<Item = i64>) -> Result<Vec<EditRow>, Error> {
        Ok(edit::Entity::find()
            .filter(edit::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// The edits among `ids`, in the order of `ids`.
    pub async fn edits_in_order(&self, ids: &[i64]) -> Result<Vec<EditRow>, Error> {
        let rows = self.edits_by_id(ids.iter().copied()).await?;
        Ok(in_order(ids, rows, |e| e.id))
    }

    /// The logos among `ids`, in no particular order; missing ones are left out.
    pub async fn logos_by_id(&self, ids: impl IntoIterator<Item = i64>) -> Result<Vec<LogoRow>, Error> {
        Ok(logo::Entity::find()
            .filter(logo::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// The stored backgrounds among `ids` (one removed from the configuration is
    /// still stored), in no particular order.
    pub async fn backgrounds_by_id(&self, ids: impl IntoIterator<Item = String>) -> Result<Vec<BackgroundRow>, Error> {
        Ok(background::Entity::find()
            .filter(background::Column::Id.is_in(ids))
            .all(&self.db)
            .await?)
    }

    /// A page of each photo's edits, newest first: an entry for every page asked for.
    pub async fn edits_of_photos(&self, pages: &[PhotoWindow]) -> Result<HashMap<PhotoWindow, Vec<EditRow>>, Error> {
        Ok(
            newest_per_photo::<edit::Entity>(&self.db, pages, edit::Column::PhotoId, edit::Column::Id, |e| e.photo_id)
                .await?,
        )
    }

    /// A page of each photo's faulty reports, newest first: an entry for every page
    /// asked for.
    pub async fn reports_of_photos(
        &self,
        pages: &[PhotoWindow],
    ) -> Result<HashMap<PhotoWindow, Vec<ReportRow>>, Error> {
        Ok(newest_per_photo::<faulty_report::Entity>(
            &self.db,
            pages,
            faulty_report::Column::PhotoId,
            faulty_report::Column::Id,
            |r| r.photo_id,
        )
        .await?)
    }

    /// The credit note that voided each invoice, if any: an entry for every invoice
    /// asked for.
    pub async fn credit_notes_of_invoices(
        &self,
        invoice_ids: &[i64],
    ) -> Result<HashMap<i64, Option<CreditNoteRow>>, Error> {
        let rows = credit_note::Entity::find()
            .filter(credit_note::Column::InvoiceId.is_in(invoice_ids.iter().copied()))
            .all(&self.db)
            .await?;
        let mut found: HashMap<i64, Option<CreditNoteRow>> = invoice_ids.iter().map(|id| (*id, None)).collect();
        for row in rows {
            found.insert(row.invoice_id, Some(row));
        }
        Ok(found)
    }

    /// The lines of each invoice, in order: an entry for every invoice asked for.
    pub async fn lines_of_invoices(&self, invoice_ids: &[i64]) -> Result<HashMap<i64, Vec<InvoiceLineRow>>, Error> {
        let rows = invoice_line::Entity::find()
            .filter(invoice_line::Column::InvoiceId.is_in(invoice_ids.iter().copied()))
            .order_by_asc(invoice_line::Column::Id)
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<i64, Vec<InvoiceLineRow>> = invoice_ids.iter().map(|id| (*id, Vec::new())).collect();
        for row in rows {
            grouped.entry(row.invoice_id).or_default().push(row);
        }
        Ok(grouped)
    }
}

/// `rows` in the order of `ids`, by the key `key_of` reads; an id of no row is left out.
fn in_order<T: Clone>(ids: &[i64], rows: Vec<T>, key_of: impl Fn(&T) -> i64) -> Vec<T> {
    let by_key: HashMap<i64, T> = rows.into_iter().map(|row| (key_of(&row), row)).collect();
    ids.iter().filter_map(|id| by_key.get(id).cloned()).collect()
}

/// The rows of `pages`, newest first, read with one statement per distinct window: in a
/// request that is one statement, however many photos it lists. `ROW_NUMBER()` numbers
/// each photo's rows apart, so a photo with a thousand rows never crowds out another
/// one's page, and SQLite and PostgreSQL both run it.
async fn newest_per_photo<E: EntityTrait>(
    db: &DatabaseConnection,
    pages: &[PhotoWindow],
    photo_column: E::Column,
    id_column: E::Column,
    photo_of: impl Fn(&E::Model) -> i64,
) -> Result<HashMap<PhotoWindow, Vec<E::Model>>, DbErr> {
    /// The column holding a row's place among its photo's rows, from 1 (the newest).
    const PLACE: &str = "place_in_photo";
    let mut found: HashMap<PhotoWindow, Vec<E::Model>> = pages.iter().map(|p| (*p, Vec::new())).collect();
    let mut photos_by_window: HashMap<Window, Vec<i64>> = HashMap::new();
    for page in pages.iter().filter(|p| p.window.first > 0) {
        photos_by_window.entry(page.window).or_default().push(page.photo_id);
    }
    for (window, photo_ids) in photos_by_window {
        let mut ranked = E::find().filter(photo_column.is_in(photo_ids));
        if let Some(after) = window.after {
            ranked = ranked.filter(id_column.lt(after));
        }
        let mut ranked = ranked.into_query();
        ranked.expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by(photo_column)
                .order_by(id_column, Order::Desc)
                .take(),
            PLACE,
        );
        let page = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, "ranked")
            .and_where(Expr::col(PLACE).lte(i64::try_from(window.first).unwrap_or(i64::MAX)))
            .order_by(id_column, Order::Desc)
            .take();
        let rows = E::find()
            .from_raw_sql(db.get_database_backend().build(&page))
            .all(db)
            .await?;
        for row in rows {
            let page = PhotoWindow {
                photo_id: photo_of(&row),
                window,
            };
            found.entry(page).or_default().push(row);
        }
    }
    Ok(found)
}
