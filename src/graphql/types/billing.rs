//! What the billing page lists: packs to buy, invoices and their lines, the ledger.
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::paging::PageInfo;
use super::scalars::{CreditBucket, DateTime};
use crate::config::{Config, PackSettings};
use crate::graphql::context::store;
use crate::graphql::errors::OrInternal;
use crate::graphql::loaders::LinesOfInvoice;
use crate::ids::{IdCodec, Kind};
use crate::reads::{InvoiceLineRow, InvoiceRow, LedgerEntryRow};

/// An amount of money in the smallest unit of its currency.
#[derive(SimpleObject, Debug, Clone)]
pub struct Money {
    pub amount_cents: i64,
    pub currency: String,
}

/// An extra pack of credits, at its final price.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditPack {
    pub id: ID,
    pub name: String,
    pub credits: i32,
    pub price: Money,
    pub discount_percent: i32,
}

impl CreditPack {
    pub fn new(ids: &IdCodec, config: &Config, pack: &PackSettings) -> Self {
        CreditPack {
            id: ID(ids.encode(Kind::CreditPack, &pack.id)),
            name: pack.name.clone(),
            credits: pack.credits,
            price: Money {
                amount_cents: config.pack_price_cents(pack),
                currency: config.currency.clone(),
            },
            discount_percent: pack.discount_percent,
        }
    }
}

/// What a ledger entry did to its lot.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::EntryKind")]
pub enum LedgerEntryKind {
    Grant,
    Charge,
    Refund,
    Expiry,
    Adjustment,
}

/// One movement of credits.
#[derive(SimpleObject, Debug, Clone)]
pub struct LedgerEntry {
    pub id: ID,
    pub kind: LedgerEntryKind,
    pub bucket: CreditBucket,
    /// Signed: + for GRANT and REFUND, - for CHARGE and EXPIRY.
    pub amount: i32,
    /// The account's available credits right after this entry.
    pub balance_after: i32,
    pub created_at: DateTime,
    pub description: String,
}

impl LedgerEntry {
    pub fn new(ids: &IdCodec, model: LedgerEntryRow) -> Self {
        LedgerEntry {
            id: ID(ids.encode(Kind::LedgerEntry, model.id)),
            kind: model.kind.into(),
            bucket: model.bucket.into(),
            amount: model.amount,
            balance_after: model.balance_after,
            created_at: model.created_at.into(),
            description: model.description,
        }
    }
}

/// An invoice for a pack purchase.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Invoice {
    pub id: ID,
    pub number: String,
    pub issued_at: DateTime,
    pub total: Money,
    #[graphql(skip)]
    pub invoice_id: i64,
}

impl Invoice {
    pub fn new(ids: &IdCodec, model: InvoiceRow) -> Self {
        Invoice {
            id: ID(ids.encode(Kind::Invoice, model.id)),
            number: model.number,
            issued_at: model.issued_at.into(),
            total: Money {
                amount_cents: model.total_cents,
                currency: model.currency,
            },
            invoice_id: model.id,
        }
    }
}

#[ComplexObject]
impl Invoice {
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLine>> {
        let currency = self.total.currency.clone();
        let lines = store(ctx)?
            .load_one(LinesOfInvoice(self.invoice_id))
            .await
            .or_internal(ctx)?
            .unwrap_or_default();
        Ok(lines
            .into_iter()
            .map(|l: InvoiceLineRow| InvoiceLine {
                description: l.description,
                quantity: l.quantity,
                unit_price: Money {
                    amount_cents: l.unit_price_cents,
                    currency: currency.clone(),
                },
                amount: Money {
                    amount_cents: l.amount_cents,
                    currency: currency.clone(),
                },
            })
            .collect())
    }
}

/// One line of an invoice.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub amount: Money,
}

/// A page of the account's ledger, newest first.
#[derive(SimpleObject)]
pub struct LedgerEntryConnection {
    pub edges: Vec<LedgerEntryEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct LedgerEntryEdge {
    pub cursor: String,
    pub node: LedgerEntry,
}

/// A page of the account's invoices, newest first.
#[derive(SimpleObject)]
pub struct InvoiceConnection {
    pub edges: Vec<InvoiceEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct InvoiceEdge {
    pub cursor: String,
    pub node: Invoice,
}
