//! Single records by key: any stored record a global id names, through one generic
//! lookup, and the few records a mutation's replay reads again.
use entity::{account, credit_note, edit, faulty_report, invoice, ledger_entry, logo, lot, photo};
use sea_orm::{ColumnTrait, EntityTrait, PrimaryKeyTrait, QueryFilter};

use super::{
    AccountRow, CreditNoteRow, EditRow, InvoiceRow, LedgerEntryRow, LogoRow, LotRow, PhotoRow, Reads, ReportRow,
};
use crate::db;
use crate::error::Error;
use crate::ids::Kind;

/// A stored record that a global id can name.
#[derive(Debug, Clone)]
pub enum Stored {
    Account(AccountRow),
    Photo(PhotoRow),
    Edit(EditRow),
    Report(ReportRow),
    Logo(LogoRow),
    LedgerEntry(LedgerEntryRow),
    Invoice(InvoiceRow),
    CreditNote(CreditNoteRow),
}

impl Stored {
    /// The account the record belongs to: whose members may see it.
    pub fn account_id(&self) -> i64 {
        match self {
            Stored::Account(a) => a.id,
            Stored::Photo(p) => p.account_id,
            Stored::Edit(e) => e.account_id,
            Stored::Report(r) => r.account_id,
            Stored::Logo(l) => l.account_id,
            Stored::LedgerEntry(e) => e.account_id,
            Stored::Invoice(i) => i.account_id,
            Stored::CreditNote(n) => n.account_id,
        }
    }
}

impl Reads {
    /// The stored record of `kind` with `key`, whoever owns it (the caller decides who
    /// may see it). Kinds that name no row of their own (backgrounds and packs are
    /// configuration, lots are shown inside a balance, cursors are positions) have none.
    pub async fn node(&self, kind: Kind, key: i64) -> Result<Option<Stored>, Error> {
        match kind {
            Kind::Account => self.by_key::<account::Entity>(key, Stored::Account).await,
            Kind::Photo => self.by_key::<photo::Entity>(key, Stored::Photo).await,
            Kind::PhotoEdit => self.by_key::<edit::Entity>(key, Stored::Edit).await,
            Kind::FaultyReport => self.by_key::<faulty_report::Entity>(key, Stored::Report).await,
            Kind::Logo => self.by_key::<logo::Entity>(key, Stored::Logo).await,
            Kind::LedgerEntry => self.by_key::<ledger_entry::Entity>(key, Stored::LedgerEntry).await,
            Kind::Invoice => self.by_key::<invoice::Entity>(key, Stored::Invoice).await,
            Kind::CreditNote => self.by_key::<credit_note::Entity>(key, Stored::CreditNote).await,
            // Events are OPS's, listed by `webhookEvents`, not nodes of an account.
            Kind::Background
            | Kind::CreditPack
            | Kind::PurchasedLot
            | Kind::WebhookEvent
            | Kind::RenderJob
            | Kind::Cursor => Ok(None),
        }
    }

    /// The row of `E` with primary key `key`, as `wrap` makes it.
    async fn by_key<E>(&self, key: i64, wrap: impl FnOnce(E::Model) -> Stored) -> Result<Option<Stored>, Error>
    where
        E: EntityTrait,
        i64: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
    {
        Ok(db::by_key(E::find_by_id(key), &self.db).await?.map(wrap))
    }

    pub async fn invoice(&self, invoice_id: i64) -> Result<Option<InvoiceRow>, Error> {
        Ok(db::by_key(invoice::Entity::find_by_id(invoice_id), &self.db).await?)
    }

    pub async fn lot(&self, lot_id: i64) -> Result<Option<LotRow>, Error> {
        Ok(db::by_key(lot::Entity::find_by_id(lot_id), &self.db).await?)
    }

    /// The account of that name, if any: how the demo finds its account again.
    pub async fn account_named(&self, name: &str) -> Result<Option<AccountRow>, Error> {
        Ok(account::Entity::find()
            .filter(account::Column::Name.eq(name))
            .one(&self.db)
            .await?)
    }
}
