//! Batched reads for nested fields, one loader set per request so nothing is cached
//! across requests or users: a list of 50 photos reads a page of each one's edits in
//! one statement.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{background, edit, faulty_report, invoice_line, logo, photo};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait};

use super::pages::Page;

/// The loaders of one request; they cache what they loaded until the request ends.
pub type Loaders = DataLoader<Store, HashMapCache>;

/// Fresh loaders for one request.
pub fn for_request(db: DatabaseConnection) -> Loaders {
    DataLoader::with_cache(Store { db }, tokio::spawn, HashMapCache::default())
}

/// Loads the current edits of a page of photos (and their logos) in one statement
/// each, so the page's nested fields never wait on a batching window.
pub async fn prime_current_edits(
    loaders: &Loaders,
    photos: &[photo::Model],
    with_logos: bool,
) -> Result<(), Arc<DbErr>> {
    let keys: Vec<EditKey> = photos.iter().filter_map(|p| p.current_edit_id).map(EditKey).collect();
    if keys.is_empty() {
        return Ok(());
    }
    let edits = Loader::<EditKey>::load(loaders.loader(), &keys).await?;
    if with_logos {
        let logo_keys: Vec<LogoKey> = edits.values().filter_map(|e| e.logo_id).map(LogoKey).collect();
        if !logo_keys.is_empty() {
            let logos = Loader::<LogoKey>::load(loaders.loader(), &logo_keys).await?;
            loaders.feed_many(logos).await;
        }
    }
    loaders.feed_many(edits).await;
    Ok(())
}

/// Loads the lines of a page of invoices in one statement.
pub async fn prime_invoice_lines(loaders: &Loaders, invoice_ids: &[i64]) -> Result<(), Arc<DbErr>> {
    let keys: Vec<LinesOfInvoice> = invoice_ids.iter().copied().map(LinesOfInvoice).collect();
    if keys.is_empty() {
        return Ok(());
    }
    let lines = Loader::<LinesOfInvoice>::load(loaders.loader(), &keys).await?;
    loaders.feed_many(lines).await;
    Ok(())
}

/// The database behind the request's loaders.
pub struct Store {
    db: DatabaseConnection,
}

/// A photo by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhotoKey(pub i64);
/// An edit by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EditKey(pub i64);
/// A logo by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogoKey(pub i64);
/// A background by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackgroundKey(pub String);
/// A page of one photo's edits or reports, newest first: at most `first` of them,
/// each older than `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhotoPage {
    pub photo_id: i64,
    pub first: u64,
    pub after: Option<i64>,
}

impl PhotoPage {
    pub fn new(photo_id: i64, page: &Page) -> Self {
        PhotoPage {
            photo_id,
            first: page.first(),
            after: page.after(),
        }
    }
}

/// A page of a photo's edits, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EditsOfPhoto(pub PhotoPage);
/// A page of a photo's faulty reports, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportsOfPhoto(pub PhotoPage);
/// The lines of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinesOfInvoice(pub i64);

type Loaded<K, V> = Result<HashMap<K, V>, Arc<DbErr>>;

impl Loader<PhotoKey> for Store {
    type Value = photo::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[PhotoKey]) -> Loaded<PhotoKey, photo::Model> {
        let rows = photo::Entity::find()
            .filter(photo::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (PhotoKey(r.id), r)).collect())
    }
}

impl Loader<EditKey> for Store {
    type Value = edit::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[EditKey]) -> Loaded<EditKey, edit::Model> {
        let rows = edit::Entity::find()
            .filter(edit::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (EditKey(r.id), r)).collect())
    }
}

impl Loader<LogoKey> for Store {
    type Value = logo::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[LogoKey]) -> Loaded<LogoKey, logo::Model> {
        let rows = logo::Entity::find()
            .filter(logo::Column::Id.is_in(keys.iter().map(|k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (LogoKey(r.id), r)).collect())
    }
}

impl Loader<BackgroundKey> for Store {
    type Value = background::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[BackgroundKey]) -> Loaded<BackgroundKey, background::Model> {
        let rows = background::Entity::find()
            .filter(background::Column::Id.is_in(keys.iter().map(|k| k.0.clone())))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (BackgroundKey(r.id.clone()), r)).collect())
    }
}

impl Loader<EditsOfPhoto> for Store {
    type Value = Vec<edit::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[EditsOfPhoto]) -> Loaded<EditsOfPhoto, Vec<edit::Model>> {
        let pages: Vec<PhotoPage> = keys.iter().map(|k| k.0).collect();
        let found = newest_per_photo::<edit::Entity>(&self.db, &pages, edit::Column::PhotoId, edit::Column::Id, |e| {
            e.photo_id
        })
        .await?;
        Ok(found
            .into_iter()
            .map(|(page, rows)| (EditsOfPhoto(page), rows))
            .collect())
    }
}

impl Loader<ReportsOfPhoto> for Store {
    type Value = Vec<faulty_report::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[ReportsOfPhoto]) -> Loaded<ReportsOfPhoto, Vec<faulty_report::Model>> {
        let pages: Vec<PhotoPage> = keys.iter().map(|k| k.0).collect();
        let found = newest_per_photo::<faulty_report::Entity>(
            &self.db,
            &pages,
            faulty_report::Column::PhotoId,
            faulty_report::Column::Id,
            |r| r.photo_id,
        )
        .await?;
        Ok(found
            .into_iter()
            .map(|(page, rows)| (ReportsOfPhoto(page), rows))
            .collect())
    }
}

/// The rows of `pages`, newest first, read with one statement per distinct
/// `(first, after)`: in a request that is one statement, however many photos it lists.
/// `ROW_NUMBER()` numbers each photo's rows apart, so a photo with a thousand rows
/// never crowds out another one's page, and SQLite and PostgreSQL both run it.
async fn newest_per_photo<E: EntityTrait>(
    db: &DatabaseConnection,
    pages: &[PhotoPage],
    photo_column: E::Column,
    id_column: E::Column,
    photo_of: impl Fn(&E::Model) -> i64,
) -> Result<HashMap<PhotoPage, Vec<E::Model>>, DbErr> {
    /// The column holding a row's place among its photo's rows, from 1 (the newest).
    const PLACE: &str = "place_in_photo";
    let mut found: HashMap<PhotoPage, Vec<E::Model>> = pages.iter().map(|p| (*p, Vec::new())).collect();
    let mut photos_by_window: HashMap<(u64, Option<i64>), Vec<i64>> = HashMap::new();
    for page in pages.iter().filter(|p| p.first > 0) {
        photos_by_window
            .entry((page.first, page.after))
            .or_default()
            .push(page.photo_id);
    }
    for ((first, after), photo_ids) in photos_by_window {
        let mut ranked = E::find().filter(photo_column.is_in(photo_ids));
        if let Some(after) = after {
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
            .and_where(Expr::col(PLACE).lte(i64::try_from(first).unwrap_or(i64::MAX)))
            .order_by(id_column, Order::Desc)
            .take();
        let rows = E::find()
            .from_raw_sql(db.get_database_backend().build(&page))
            .all(db)
            .await?;
        for row in rows {
            let page = PhotoPage {
                photo_id: photo_of(&row),
                first,
                after,
            };
            found.entry(page).or_default().push(row);
        }
    }
    Ok(found)
}

impl Loader<LinesOfInvoice> for Store {
    type Value = Vec<invoice_line::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[LinesOfInvoice]) -> Loaded<LinesOfInvoice, Vec<invoice_line::Model>> {
        let rows = invoice_line::Entity::find()
            .filter(invoice_line::Column::InvoiceId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(invoice_line::Column::Id)
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<LinesOfInvoice, Vec<invoice_line::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped.entry(LinesOfInvoice(row.invoice_id)).or_default().push(row);
        }
        Ok(grouped)
    }
}
