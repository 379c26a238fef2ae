//! Batched reads for nested fields, one loader set per request so nothing is cached
//! across requests or users: a list of 50 photos reads a page of each one's edits in
//! one statement. The statements are the read side's ([`crate::reads`]); what stays
//! here is async-graphql's part, the batching window and the request's cache, which
//! mutations feed with what their transaction wrote.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::error::Error;
use crate::reads::{
    BackgroundRow, CreditNoteRow, EditRow, InvoiceLineRow, LogoRow, PhotoRow, PhotoWindow, Reads, ReportRow,
};

/// The loaders of one request; they cache what they loaded until the request ends.
pub type Loaders = DataLoader<Store, HashMapCache>;

/// Fresh loaders for one request.
pub fn for_request(reads: Reads) -> Loaders {
    DataLoader::with_cache(Store { reads }, tokio::spawn, HashMapCache::default())
}

/// Loads the current edits of a page of photos (and their logos) in one statement
/// each, so the page's nested fields never wait on a batching window.
pub async fn prime_current_edits(loaders: &Loaders, photos: &[PhotoRow], with_logos: bool) -> Result<(), Arc<Error>> {
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
pub async fn prime_invoice_lines(loaders: &Loaders, invoice_ids: &[i64]) -> Result<(), Arc<Error>> {
    let keys: Vec<LinesOfInvoice> = invoice_ids.iter().copied().map(LinesOfInvoice).collect();
    if keys.is_empty() {
        return Ok(());
    }
    let lines = Loader::<LinesOfInvoice>::load(loaders.loader(), &keys).await?;
    loaders.feed_many(lines).await;
    Ok(())
}

/// Loads whether each invoice of a page was voided, in one statement.
pub async fn prime_credit_notes(loaders: &Loaders, invoice_ids: &[i64]) -> Result<(), Arc<Error>> {
    let keys: Vec<CreditNoteOfInvoice> = invoice_ids.iter().copied().map(CreditNoteOfInvoice).collect();
    if keys.is_empty() {
        return Ok(());
    }
    let notes = Loader::<CreditNoteOfInvoice>::load(loaders.loader(), &keys).await?;
    loaders.feed_many(notes).await;
    Ok(())
}

/// The reads behind the request's loaders.
pub struct Store {
    reads: Reads,
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
/// A page of a photo's edits, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EditsOfPhoto(pub PhotoWindow);
/// A page of a photo's faulty reports, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportsOfPhoto(pub PhotoWindow);
/// The lines of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinesOfInvoice(pub i64);
/// The credit note that voided an invoice, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CreditNoteOfInvoice(pub i64);

type Loaded<K, V> = Result<HashMap<K, V>, Arc<Error>>;

impl Loader<PhotoKey> for Store {
    type Value = PhotoRow;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[PhotoKey]) -> Loaded<PhotoKey, PhotoRow> {
        let rows = self.reads.photos_by_id(keys.iter().map(|k| k.0)).await?;
        Ok(rows.into_iter().map(|r| (PhotoKey(r.id), r)).collect())
    }
}

impl Loader<EditKey> for Store {
    type Value = EditRow;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[EditKey]) -> Loaded<EditKey, EditRow> {
        let rows = self.reads.edits_by_id(keys.iter().map(|k| k.0)).await?;
        Ok(rows.into_iter().map(|r| (EditKey(r.id), r)).collect())
    }
}

impl Loader<LogoKey> for Store {
    type Value = LogoRow;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LogoKey]) -> Loaded<LogoKey, LogoRow> {
        let rows = self.reads.logos_by_id(keys.iter().map(|k| k.0)).await?;
        Ok(rows.into_iter().map(|r| (LogoKey(r.id), r)).collect())
    }
}

impl Loader<BackgroundKey> for Store {
    type Value = BackgroundRow;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[BackgroundKey]) -> Loaded<BackgroundKey, BackgroundRow> {
        let rows = self.reads.backgrounds_by_id(keys.iter().map(|k| k.0.clone())).await?;
        Ok(rows.into_iter().map(|r| (BackgroundKey(r.id.clone()), r)).collect())
    }
}

impl Loader<EditsOfPhoto> for Store {
    type Value = Vec<EditRow>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[EditsOfPhoto]) -> Loaded<EditsOfPhoto, Vec<EditRow>> {
        let pages: Vec<PhotoWindow> = keys.iter().map(|k| k.0).collect();
        let found = self.reads.edits_of_photos(&pages).await?;
        Ok(found
            .into_iter()
            .map(|(page, rows)| (EditsOfPhoto(page), rows))
            .collect())
    }
}

impl Loader<ReportsOfPhoto> for Store {
    type Value = Vec<ReportRow>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ReportsOfPhoto]) -> Loaded<ReportsOfPhoto, Vec<ReportRow>> {
        let pages: Vec<PhotoWindow> = keys.iter().map(|k| k.0).collect();
        let found = self.reads.reports_of_photos(&pages).await?;
        Ok(found
            .into_iter()
            .map(|(page, rows)| (ReportsOfPhoto(page), rows))
            .collect())
    }
}

impl Loader<LinesOfInvoice> for Store {
    type Value = Vec<InvoiceLineRow>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[LinesOfInvoice]) -> Loaded<LinesOfInvoice, Vec<InvoiceLineRow>> {
        let invoice_ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = self.reads.lines_of_invoices(&invoice_ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, lines)| (LinesOfInvoice(id), lines))
            .collect())
    }
}

impl Loader<CreditNoteOfInvoice> for Store {
    type Value = Option<CreditNoteRow>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CreditNoteOfInvoice]) -> Loaded<CreditNoteOfInvoice, Option<CreditNoteRow>> {
        let invoice_ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = self.reads.credit_notes_of_invoices(&invoice_ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, note)| (CreditNoteOfInvoice(id), note))
            .collect())
    }
}
