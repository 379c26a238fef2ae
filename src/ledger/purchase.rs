//! Buying an extra pack: a purchased lot valid for 12 calendar months and an invoice
//! with one line, numbered without gaps per calendar year.
use chrono::Datelike;
use entity::enums::Bucket;
use entity::{invoice, invoice_line, invoice_sequence, lot, purchase};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::book::NewLot;
use super::cause::Cause;
use super::idempotency::{IdempotencyKey, Opened, fingerprint, remember};
use crate::db::retry_transient;
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::balance::{Breakdown, breakdown};
use crate::rules::catalog::packs_for;
use crate::rules::cycle::BillingCalendar;
use crate::rules::lot_origin::LotOrigin;

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
            let number = next_invoice_number(&txn, now.with_timezone(&self.config.billing_time_zone).year()).await?;
            let invoice = invoice::ActiveModel {
                account_id: Set(account_id),
                number: Set(number.text.clone()),
                year: Set(number.year),
                sequence: Set(number.sequence),
                issued_at: Set(now),
                total_cents: Set(price_cents),
                currency: Set(self.config.currency.clone()),
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
            self.commit(txn, &book).await?;
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

struct InvoiceNumber {
    year: i32,
    sequence: i32,
    text: String,
}

/// The next number of `year`. The counter row stays locked until the purchase commits,
/// and a rolled-back purchase rolls its number back: no gaps, no duplicates.
async fn next_invoice_number(txn: &impl ConnectionTrait, year: i32) -> Result<InvoiceNumber, Error> {
    invoice_sequence::Entity::insert(invoice_sequence::ActiveModel {
        year: Set(year),
        last_sequence: Set(0),
    })
    .on_conflict_do_nothing()
    .exec(txn)
    .await?;
    invoice_sequence::Entity::update_many()
        .col_expr(
            invoice_sequence::Column::LastSequence,
            Expr::col(invoice_sequence::Column::LastSequence).add(1),
        )
        .filter(invoice_sequence::Column::Year.eq(year))
        .exec(txn)
        .await?;
    let sequence = invoice_sequence::Entity::find_by_id(year)
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal(format!("invoice sequence of {year} missing")))?
        .last_sequence;
    Ok(InvoiceNumber {
        year,
        sequence,
        text: format!("INV-{year}-{sequence:06}"),
    })
}
