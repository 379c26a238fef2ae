//! Voiding an invoice (rules §2): a credit note with the invoice's amounts negated,
//! numbered without gaps per calendar year, and the pack's credits taken back with an
//! ADJUSTMENT. Only a pack none of whose credits were spent can be voided; voiding
//! twice answers the first credit note.
use chrono::Datelike;
use entity::enums::EntryKind;
use entity::{credit_note, invoice, purchase};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::Ledger;
use super::book::Entry;
use super::cause::Cause;
use super::numbering::{Series, next_number};
use super::outbox::{self, EventType};
use crate::db::{self, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::text::required_text;
use crate::rules::vat::Amounts;

impl Ledger {
    /// Voids the invoice `invoice_id` with a credit note, for `reason`; refused with
    /// INVOICE_NOT_FOUND, or PACK_PARTLY_USED (nothing changed) when any of the pack's
    /// credits were spent or have expired.
    #[tracing::instrument(skip(self))]
    pub async fn void_invoice(&self, invoice_id: i64, reason: &str) -> Result<credit_note::Model, Error> {
        let reason = required_text(reason, &["reason"])?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let not_found =
                || Error::from(Refusal::new(RefusalCode::InvoiceNotFound, "No such invoice.").at(&["invoiceId"]));
            let invoice = db::by_key(invoice::Entity::find_by_id(invoice_id), &txn)
                .await?
                .ok_or_else(not_found)?;
            // The account's lock orders two voids of one invoice: the second finds the
            // first's credit note.
            let (mut book, now) = self.open_book(&txn, invoice.account_id).await?;
            if let Some(note) = credit_note::Entity::find()
                .filter(credit_note::Column::InvoiceId.eq(invoice_id))
                .one(&txn)
                .await?
            {
                self.commit(txn, &mut book).await?;
                return Ok(note);
            }
            let purchase = purchase::Entity::find()
                .filter(purchase::Column::InvoiceId.eq(invoice_id))
                .one(&txn)
                .await?
                .ok_or_else(|| Error::Internal(format!("invoice {invoice_id} has no purchase")))?;
            let untouched = book
                .lot(purchase.lot_id)
                .filter(|lot| lot.remaining == lot.granted)
                .cloned();
            let Some(lot) = untouched else {
                return Err(Refusal::new(
                    RefusalCode::PackPartlyUsed,
                    format!(
                        "Invoice {} cannot be voided: some of its pack's credits were spent or have expired.",
                        invoice.number
                    ),
                )
                .at(&["invoiceId"])
                .into());
            };
            let year = now.with_timezone(&self.config.billing_time_zone).year();
            let number = next_number(&txn, Series::CreditNotes, year).await?;
            let billed = Amounts {
                subtotal_cents: invoice.subtotal_cents.unwrap_or(invoice.total_cents),
                tax_cents: invoice.tax_cents.unwrap_or(0),
                total_cents: invoice.total_cents,
            };
            let refunded = billed.negated();
            let (actor_user_id, actor_role) = book.actor_columns();
            let note = credit_note::ActiveModel {
                invoice_id: Set(invoice.id),
                account_id: Set(invoice.account_id),
                number: Set(number.text.clone()),
                year: Set(number.year),
                sequence: Set(number.sequence),
                issued_at: Set(now),
                reason: Set(reason.clone()),
                subtotal_cents: Set(refunded.subtotal_cents),
                tax_cents: Set(refunded.tax_cents),
                total_cents: Set(refunded.total_cents),
                currency: Set(invoice.currency.clone()),
                actor_user_id: Set(actor_user_id),
                actor_role: Set(actor_role),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let take_back = Entry {
                kind: EntryKind::Adjustment,
                amount: -lot.remaining,
                at: now,
                cause: Cause::CreditNote(number.text.clone()),
                description: format!("Invoice {} voided by credit note {}", invoice.number, number.text),
            };
            book.post(&txn, lot.id, take_back).await?;
            let voided = outbox::invoice_voided(&invoice, &note);
            outbox::record(&txn, &book.account, EventType::InvoiceVoided, now, voided).await?;
            self.commit(txn, &mut book).await?;
            Ok(note)
        })
        .await
    }
}
