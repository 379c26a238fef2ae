//! Buying an extra pack: a purchased lot valid for 12 calendar months and an invoice
//! with one line at the net price, VAT on top, numbered without gaps per calendar year.
use chrono::Datelike;
use entity::enums::Bucket;
use entity::{invoice, invoice_line, lot, purchase};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::book::NewLot;
use super::cause::Cause;
use super::idempotency::{IdempotencyKey, Opened, fingerprint, remember};
use super::numbering::{Series, next_number};
use super::outbox::{self, EventType};
use crate::db::retry_transient;
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::balance::{Breakdown, breakdown};
use crate::rules::catalog::packs_for;
use crate::rules::cycle::BillingCalendar;
use crate::rules::lot_origin::LotOrigin;
use crate::rules::vat::Amounts;

/// How long a purchased lot is valid.
const PURCHASE_VALIDITY_MONTHS: u32 = 12;

/// What a purchase created; replayed as is to a retry with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOutcome {
    pub purchase_id: i64,
    pub invoice_id: i64,
    pub lot_id: i64,
}

/// A purchase as its transaction left things, so that its answer reads nothing after it.
#[derive(Debug, Clone)]
pub struct Purchased {
    pub outcome: PurchaseOutcome,
    /// What this call wrote; `None` when it replayed the first outcome of its key,
    /// whose lot and balance may have changed since and are read again.
    pub written: Option<Receipt>,
}

/// What a purchase wrote, as of its commit.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub invoice: invoice::Model,
    /// The invoice's lines, in order.
    pub lines: Vec<invoice_line::Model>,
    /// The purchased lot, untouched yet.
    pub lot: lot::Model,
    /// The account's balance after the purchase.
    pub balance: Breakdown,
}

#[derive(Serialize)]
struct PurchaseInput<'a> {
    pack_id: &'a str,
}

impl Ledger {
    /// Buys one pack of the account's plan's catalog at its final price.
    #[tracing::instrument(skip(self))]
    pub async fn purchase_pack(
        &self,
        account_id: i64,
        pack_id: &str,
        idempotency_key: &str,
    ) -> Result<Purchased, Error> {
        let key = IdempotencyKey::parse(idempotency_key)?;
        let fingerprint = fingerprint("purchasePack", &PurchaseInput { pack_id })?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = match self.open_idempotent(&txn, account_id, &key, &fingerprint).await? {
                Opened::Replay(first) => {
                    return Ok(Purchased {
                        outcome: first,
                        written: None,
                    });
                }
                Opened::Fresh(book, now) => (*book, now),
            };
            let Some(pack) = packs_for(&self.config.packs, book.account.plan).find(|p| p.id == pack_id) else {
                return Err(Refusal::new(
                    RefusalCode::PackNotAvailable,
                    "This pack is not offered to the account's plan.",
                )
                .at(&["packId"])
                .into());
            };
            let price_cents = pack.price_cents(self.config.credit_price_cents);
            let calendar = BillingCalendar::from_config(&self.config);
            let year = now.with_timezone(&self.config.billing_time_zone).year();
            let number = next_number(&txn, Series::Invoices, year).await?;
            let amounts = Amounts::with_vat(price_cents, self.config.vat_percent);
            let seller = &self.config.seller;
            let invoice = invoice::ActiveModel {
                account_id: Set(account_id),
                number: Set(number.text.clone()),
                year: Set(number.year),
                sequence: Set(number.sequence),
                issued_at: Set(now),
                total_cents: Set(amounts.total_cents),
                currency: Set(self.config.currency.clone()),
                subtotal_cents: Set(Some(amounts.subtotal_cents)),
                tax_cents: Set(Some(amounts.tax_cents)),
                vat_percent: Set(Some(self.config.vat_percent)),
                seller_name: Set(Some(seller.name.clone())),
                seller_address: Set(seller.address.clone()),
                seller_vat_id: Set(seller.vat_id.clone()),
                buyer_name: Set(Some(book.account.name.clone())),
                buyer_address: Set(book.account.buyer_address.clone()),
                buyer_vat_id: Set(book.account.buyer_vat_id.clone()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let line = invoice_line::ActiveModel {
                invoice_id: Set(invoice.id),
                description: Set(format!(
                    "{} ({} credits, {} % off)",
                    pack.name, pack.credits, pack.discount_percent
                )),
                quantity: Set(1),
                unit_price_cents: Set(price_cents),
                amount_cents: Set(price_cents),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let origin = LotOrigin::Purchase(number.text.clone());
            let lot = NewLot {
                bucket: Bucket::Purchased,
                origin,
                credits: pack.credits,
                valid_from: None,
                expires_at: calendar.add_months(now, PURCHASE_VALIDITY_MONTHS),
                pack_id: Some(pack.id.clone()),
                cause: Cause::Purchase(number.text.clone()),
                description: format!("Purchase of {} ({})", pack.name, number.text),
            };
            let lot = book.grant_new_lot(&txn, lot, now).await?;
            let (actor_user_id, actor_role) = book.actor_columns();
            let purchase = purchase::ActiveModel {
                account_id: Set(account_id),
                pack_id: Set(pack.id.clone()),
                lot_id: Set(lot.id),
                invoice_id: Set(invoice.id),
                purchased_at: Set(now),
                actor_user_id: Set(actor_user_id),
                actor_role: Set(actor_role),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let outcome = PurchaseOutcome {
                purchase_id: purchase.id,
                invoice_id: invoice.id,
                lot_id: lot.id,
            };
            remember(&txn, account_id, &key, fingerprint.clone(), &outcome, now).await?;
            let issued = outbox::invoice_issued(&invoice, std::slice::from_ref(&line));
            outbox::record(&txn, &book.account, EventType::InvoiceIssued, now, issued).await?;
            self.commit(txn, &mut book).await?;
            let written = Receipt {
                invoice,
                lines: vec![line],
                lot,
                balance: breakdown(&book.account, &book.lots, &self.config, now),
            };
            Ok(Purchased {
                outcome,
                written: Some(written),
            })
        })
        .await
    }
}
