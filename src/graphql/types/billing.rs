//! What the billing page lists: packs to buy, invoices and their lines, the ledger.
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::actor::Actor;
use super::paging::PageInfo;
use super::scalars::{CreditBucket, DateTime};
use crate::config::Config;
use crate::graphql::context::{ids, ledger, reads, store};
use crate::graphql::errors::{OrInternal, internal};
use crate::graphql::loaders::{CreditNoteOfInvoice, LinesOfInvoice};
use crate::ids::{IdCodec, Kind};
use crate::reads::{CreditNoteRow, InvoiceLineRow, InvoiceRow, LedgerEntryRow};
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

/// An invoice for a pack purchase: net prices, VAT on top.
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
    /// Net: the sum of the lines' amounts.
    pub subtotal: Money,
    /// The VAT rate applied to the subtotal, in whole percent (0 on invoices issued
    /// before VAT was billed).
    pub vat_percent: i32,
    /// The VAT: `vatPercent` of the subtotal, rounded half up to the cent.
    pub tax: Money,
    /// Gross: subtotal + tax, the amount billed.
    pub total: Money,
    #[graphql(skip)]
    pub row: InvoiceRow,
}

impl Invoice {
    pub fn new(ids: &IdCodec, row: InvoiceRow) -> Self {
        let money = |amount_cents| Money {
            amount_cents,
            currency: row.currency.clone(),
        };
        Invoice {
            id: ID(ids.encode(Kind::Invoice, row.id)),
            number: row.number.clone(),
            issued_at: row.issued_at.into(),
            // An invoice of the first release billed no VAT: its total is net.
            subtotal: money(row.subtotal_cents.unwrap_or(row.total_cents)),
            vat_percent: row.vat_percent.unwrap_or(0),
            tax: money(row.tax_cents.unwrap_or(0)),
            total: money(row.total_cents),
            row,
        }
    }
}

#[ComplexObject]
impl Invoice {
    /// Who issued the invoice, as configured when it was issued.
    async fn seller(&self, ctx: &Context<'_>) -> async_graphql::Result<Party> {
        Ok(match &self.row.seller_name {
            Some(name) => Party {
                name: name.clone(),
                address: self.row.seller_address.clone(),
                vat_id: self.row.seller_vat_id.clone(),
            },
            // Issued by a release that kept no seller: the one configured now.
            None => {
                let seller = &ledger(ctx)?.config().seller;
                Party {
                    name: seller.name.clone(),
                    address: seller.address.clone(),
                    vat_id: seller.vat_id.clone(),
                }
            }
        })
    }

    /// Who was billed: the account's name and the buyer's details as the account held
    /// them when the invoice was issued.
    async fn buyer(&self, ctx: &Context<'_>) -> async_graphql::Result<Party> {
        if let Some(name) = &self.row.buyer_name {
            return Ok(Party {
                name: name.clone(),
                address: self.row.buyer_address.clone(),
                vat_id: self.row.buyer_vat_id.clone(),
            });
        }
        // Issued by a release that kept no buyer: the account as it is now.
        let account = ledger(ctx)?.account(self.row.account_id).await.or_internal(ctx)?;
        let account = account.ok_or_else(|| internal(ctx, "an invoice without its account"))?;
        Ok(Party {
            name: account.name,
            address: account.buyer_address,
            vat_id: account.buyer_vat_id,
        })
    }

    /// The credit note that voided this invoice; null while it stands.
    async fn credit_note(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CreditNote>> {
        let ids = ids(ctx)?;
        let note = store(ctx)?
            .load_one(CreditNoteOfInvoice(self.row.id))
            .await
            .or_internal(ctx)?
            .flatten();
        Ok(note.map(|n| CreditNote::new(ids, n)))
    }

    /// What the invoice bills, line by line; a pack purchase has one line.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLine>> {
        let currency = self.total.currency.clone();
        let lines = store(ctx)?
            .load_one(LinesOfInvoice(self.row.id))
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

/// A seller or a buyer as an invoice names them.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The company's or dealer's name.
    pub name: String,
    /// The postal address, as given; null when none was.
    pub address: Option<String>,
    /// The VAT identification number, as given; null when none was.
    pub vat_id: Option<String>,
}

/// A credit note: it voids an invoice with the invoice's amounts negated.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct CreditNote {
    /// The credit note's global id.
    pub id: ID,
    /// CN-YYYY-NNNNNN, e.g. CN-2026-000001: numbered without gaps per calendar year
    /// (of the billing time zone), apart from the invoices.
    pub number: String,
    /// When the credit note was issued (UTC).
    pub issued_at: DateTime,
    /// Why OPS voided the invoice.
    pub reason: String,
    /// The invoice's subtotal, negated.
    pub subtotal: Money,
    /// The invoice's tax, negated.
    pub tax: Money,
    /// The invoice's total, negated.
    pub total: Money,
    #[graphql(skip)]
    pub invoice_id: i64,
}

impl CreditNote {
    pub fn new(ids: &IdCodec, row: CreditNoteRow) -> Self {
        let money = |amount_cents| Money {
            amount_cents,
            currency: row.currency.clone(),
        };
        CreditNote {
            id: ID(ids.encode(Kind::CreditNote, row.id)),
            number: row.number.clone(),
            issued_at: row.issued_at.into(),
            subtotal: money(row.subtotal_cents),
            tax: money(row.tax_cents),
            total: money(row.total_cents),
            reason: row.reason,
            invoice_id: row.invoice_id,
        }
    }
}

#[ComplexObject]
impl CreditNote {
    /// The invoice this credit note voids.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<Invoice> {
        let invoice = reads(ctx)?.invoice(self.invoice_id).await.or_internal(ctx)?;
        let invoice = invoice.ok_or_else(|| internal(ctx, "a credit note without its invoice"))?;
        Ok(Invoice::new(ids(ctx)?, invoice))
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
