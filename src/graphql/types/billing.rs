//! What the billing page lists: packs to buy, invoices and their lines, the ledger.
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::actor::Actor;
use super::paging::PageInfo;
use super::scalars::{CreditBucket, DateTime};
use crate::config::Config;
use crate::graphql::context::store;
use crate::graphql::errors::OrInternal;
use crate::graphql::loaders::LinesOfInvoice;
use crate::ids::{IdCodec, Kind};
use crate::reads::{InvoiceLineRow, InvoiceRow, LedgerEntryRow};
use crate::rules::catalog::PackSettings;

/// An amount of money in the smallest unit of its currency.
#[derive(SimpleObject, Debug, Clone)]
pub struct Money {
    /// The amount as an integer number of cents (hundredths of the currency's unit),
    /// e.g. 1250 for 12.50 EUR.
    pub amount_cents: i64,
    /// The currency's ISO 4217 code, e.g. EUR.
    pub currency: String,
}

/// An extra pack of credits, at its final price.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditPack {
    /// The pack's global id, to pass to `purchasePack`.
    pub id: ID,
    /// The pack's display name, as configured.
    pub name: String,
    /// Credits the pack grants; they expire 12 calendar months after the purchase.
    pub credits: i32,
    /// The final price, its discount included: what the purchase's invoice bills. No
    /// coupon or other discount applies on top.
    pub price: Money,
    /// The volume discount included in `price`, in whole percent (0 to 100) off the
    /// base price per credit.
    pub discount_percent: i32,
}

impl CreditPack {
    pub fn new(ids: &IdCodec, config: &Config, pack: &PackSettings) -> Self {
        CreditPack {
            id: ID(ids.encode(Kind::CreditPack, &pack.id)),
            name: pack.name.clone(),
            credits: pack.credits,
            price: Money {
                amount_cents: pack.price_cents(config.credit_price_cents),
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
    /// Credits added (+): a new lot (monthly, promotion, purchase), or a top-up after
    /// a plan or slot increase.
    Grant,
    /// Credits spent (-) by "Apply changes", one per photo edited; one entry per lot
    /// that paid.
    Charge,
    /// Credits given back (+) to the lot that paid for them.
    Refund,
    /// The credits a lot had left when it expired (-).
    Expiry,
    /// A correction by OPS, + or -.
    Adjustment,
}

/// One movement of credits.
#[derive(SimpleObject, Debug, Clone)]
pub struct LedgerEntry {
    /// The entry's global id.
    pub id: ID,
    /// What the entry did to its lot.
    pub kind: LedgerEntryKind,
    /// The bucket of the lot the entry changed.
    pub bucket: CreditBucket,
    /// Signed: + for GRANT and REFUND, - for CHARGE and EXPIRY, either for ADJUSTMENT.
    pub amount: i32,
    /// The account's available credits right after this entry.
    pub balance_after: i32,
    /// When the movement took effect (UTC); an EXPIRY carries its lot's expiry instant,
    /// even when it was written later.
    pub created_at: DateTime,
    /// What happened, in words for the dealer, e.g. "Apply changes: 3 photos".
    pub description: String,
    /// Who made the change: the user for an apply, a purchase or an OPS action; null
    /// where the clock did (expiry, reset, promotion).
    pub actor: Option<Actor>,
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
            actor: Actor::stored(model.actor_user_id.as_deref(), model.actor_role.as_deref()),
            description: model.description,
        }
    }
}

/// An invoice for a pack purchase.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Invoice {
    /// The invoice's global id.
    pub id: ID,
    /// INV-YYYY-NNNNNN, e.g. INV-2026-000001: numbered without gaps per calendar year
    /// (of the billing time zone).
    pub number: String,
    /// When the invoice was issued (UTC): the instant of the purchase.
    pub issued_at: DateTime,
    /// The amount billed: the sum of the lines' amounts.
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
    /// What the invoice bills, line by line; a pack purchase has one line.
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
    /// What the line bills, e.g. the pack's name, its credits and its discount.
    pub description: String,
    /// How many units; 1 for a pack.
    pub quantity: i32,
    /// The price of one unit.
    pub unit_price: Money,
    /// The line's amount: `quantity` times `unitPrice`.
    pub amount: Money,
}

/// A page of the account's ledger, newest first.
#[derive(SimpleObject)]
pub struct LedgerEntryConnection {
    /// The entries of this page, newest first.
    pub edges: Vec<LedgerEntryEdge>,
    /// Whether more entries follow, and the cursors to ask for them.
    pub page_info: PageInfo,
}

/// A ledger entry in a page of the ledger, with its cursor.
#[derive(SimpleObject)]
pub struct LedgerEntryEdge {
    /// This entry's place in the account's ledger: as `after`, it asks for the entries
    /// older than it.
    pub cursor: String,
    /// The entry.
    pub node: LedgerEntry,
}

/// A page of the account's invoices, newest first.
#[derive(SimpleObject)]
pub struct InvoiceConnection {
    /// The invoices of this page, newest first.
    pub edges: Vec<InvoiceEdge>,
    /// Whether more invoices follow, and the cursors to ask for them.
    pub page_info: PageInfo,
}

/// An invoice in a page of invoices, with its cursor.
#[derive(SimpleObject)]
pub struct InvoiceEdge {
    /// This invoice's place in the account's invoices: as `after`, it asks for the
    /// invoices older than it.
    pub cursor: String,
    /// The invoice.
    pub node: Invoice,
}
