//! Events for other systems (rules §6), through a transactional outbox: each event is
//! written in the transaction of the change it tells of, so it exists if and only if
//! the change committed. The webhook worker ([`crate::webhooks`]) claims them here one
//! at a time, in order per account, under a lease, and settles each attempt.
use chrono::{DateTime, Duration, Utc};
use entity::{account, credit_note, faulty_report, invoice, invoice_line, lot, webhook_event};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set, Statement,
};
use serde_json::{Value, json};

use super::Ledger;
use super::book::Book;
use crate::config::Config;
use crate::db;
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::balance::breakdown;
use crate::rules::spending_order::spending_key;
use crate::rules::webhook_events::{Crossing, crossing, expiring_due_at};

/// What an event tells of: its `type`, as receivers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A purchase issued an invoice.
    InvoiceIssued,
    /// OPS voided an invoice with a credit note.
    InvoiceVoided,
    /// A dealer reported a faulty photo (`reportFaultyPhoto`).
    ReportOpened,
    /// The correction team resolved a report (`resolveReport`).
    ReportResolved,
    /// The available balance fell below `low_balance_threshold`.
    CreditsLow,
    /// It rose back to the threshold or above.
    CreditsRecovered,
    /// A lot with credits left entered the warning window (`expiry_warning_days`).
    CreditsExpiring,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InvoiceIssued => "invoice.issued",
            EventType::InvoiceVoided => "invoice.voided",
            EventType::ReportOpened => "report.opened",
            EventType::ReportResolved => "report.resolved",
            EventType::CreditsLow => "credits.low",
            EventType::CreditsRecovered => "credits.recovered",
            EventType::CreditsExpiring => "credits.expiring",
        }
    }
}

/// The events' statuses as stored.
pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

/// Writes an event of `account` into the outbox, in `txn`: the body as sent, with an
/// id that never changes (`msg_` and a random UUID).
pub(super) async fn record(
    txn: &impl ConnectionTrait,
    account: &account::Model,
    event_type: EventType,
    at: DateTime<Utc>,
    data: Value,
) -> Result<(), Error> {
    let event_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "id": event_id,
        "type": event_type.as_str(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": with_account(account, data),
    });
    webhook_event::ActiveModel {
        event_id: Set(event_id),
        account_id: Set(Some(account.id)),
        event_type: Set(event_type.as_str().to_owned()),
        payload: Set(body.to_string()),
        occurred_at: Set(at),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// `data` with the account it concerns, as the platform knows it.
fn with_account(account: &account::Model, mut data: Value) -> Value {
    data["account"] = json!({"id": account.id, "externalId": account.external_id, "name": account.name});
    data
}

/// The data of `invoice.issued`.
pub(super) fn invoice_issued(invoice: &invoice::Model, lines: &[invoice_line::Model]) -> Value {
    json!({
        "invoice": {
            "number": invoice.number,
            "issuedAt": invoice.issued_at,
            "currency": invoice.currency,
            "subtotalCents": invoice.subtotal_cents,
            "vatPercent": invoice.vat_percent,
            "taxCents": invoice.tax_cents,
            "totalCents": invoice.total_cents,
            "seller": {"name": invoice.seller_name, "address": invoice.seller_address, "vatId": invoice.seller_vat_id},
            "buyer": {"name": invoice.buyer_name, "address": invoice.buyer_address, "vatId": invoice.buyer_vat_id},
            "lines": lines.iter().map(|l| json!({
                "description": l.description,
                "quantity": l.quantity,
                "unitPriceCents": l.unit_price_cents,
                "amountCents": l.amount_cents,
            })).collect::<Vec<_>>(),
        }
    })
}

/// The data of `invoice.voided`.
pub(super) fn invoice_voided(invoice: &invoice::Model, note: &credit_note::Model) -> Value {
    json!({
        "invoice": {"number": invoice.number},
        "creditNote": {
            "number": note.number,
            "issuedAt": note.issued_at,
            "reason": note.reason,
            "currency": note.currency,
            "subtotalCents": note.subtotal_cents,
            "taxCents": note.tax_cents,
            "totalCents": note.total_cents,
        }
    })
}

/// The data of `report.opened`.
pub(super) fn report_opened(report: &faulty_report::Model) -> Value {
    json!({
        "report": {
            "id": report.id,
            "photoId": report.photo_id,
            "editId": report.edit_id,
            "reason": report.reason,
            "reportedAt": report.reported_at,
        }
    })
}

/// The data of `report.resolved`: the report as its resolution left it.
pub(super) fn report_resolved(report: &faulty_report::Model) -> Value {
    json!({
        "report": {
            "id": report.id,
            "photoId": report.photo_id,
            "editId": report.edit_id,
            "resolution": report.status,
            "note": report.resolution_note,
            "resolvedAt": report.resolved_at,
        }
    })
}

/// Writes `credits.low` or `credits.recovered` when the balance `book` leaves at
/// `now` crossed `low_balance_threshold` since the last one told, and remembers the
/// side it is on: once per crossing, whatever moved it (a charge, a purchase, an
/// expiry the clock made due).
pub(super) async fn tell_crossing(
    txn: &impl ConnectionTrait,
    book: &Book,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let balance = breakdown(&book.account, &book.lots, config, now);
    let threshold = config.low_balance_threshold;
    let Some(crossing) = crossing(book.account.credits_low, &balance) else {
        return Ok(());
    };
    let low = crossing == Crossing::Low;
    account::Entity::update_many()
        .col_expr(account::Column::CreditsLow, Expr::value(low))
        .filter(account::Column::Id.eq(book.account.id))
        .exec(txn)
        .await?;
    let event_type = if low {
        EventType::CreditsLow
    } else {
        EventType::CreditsRecovered
    };
    let data = json!({"balance": {"available": balance.available, "threshold": threshold}});
    record(txn, &book.account, event_type, now, data).await
}

/// Writes `credits.expiring`, stamped `at`, for every lot of `book` due to be told by
/// `at` ([`expiring_due_at`]), in spending order, and remembers each: once per lot.
pub(super) async fn tell_expiring(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    config: &Config,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let window = config.expiry_warning();
    let mut due: Vec<lot::Model> = book
        .lots
        .iter()
        .filter(|l| expiring_due_at(l, window).is_some_and(|due| due <= at))
        .cloned()
        .collect();
    due.sort_by_key(spending_key);
    for lot in due {
        if book.mark_expiry_warned(txn, lot.id, at).await? {
            let data = json!({
                "lot": {"id": lot.id, "bucket": lot.bucket, "credits": lot.remaining, "expiresAt": lot.expires_at}
            });
            record(txn, &book.account, EventType::CreditsExpiring, at, data).await?;
        }
    }
    Ok(())
}

/// How an attempt to deliver an event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else: the reason, and when to try again (none: give up, FAILED).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

impl Ledger {
    /// Claims the next event to send, if any, for `lease`: the oldest pending event
    /// that is due, not leased by anyone, and the first pending one of its account
    /// (so an account's events go out in order, one at a time). PostgreSQL skips rows
    /// another instance is claiming; SQLite's write lock serializes the claims.
    pub async fn claim_webhook_event(&self, lease: Duration) -> Result<Option<webhook_event::Model>, Error> {
        let txn = self.begin().await?;
        let now = self.now();
        let backend = txn.get_database_backend();
        // PostgreSQL: a row another instance is claiming is skipped, not waited for.
        let (placeholder, lock) = match backend {
            DbBackend::Postgres => ("$1", " FOR UPDATE SKIP LOCKED"),
            _ => ("?1", ""),
        };
        let sql = format!(
            "SELECT e.id FROM webhook_events e \
             WHERE e.status = 'PENDING' AND e.next_attempt_at <= {placeholder} \
             AND (e.lease_until IS NULL OR e.lease_until < {placeholder}) \
             AND NOT EXISTS (SELECT 1 FROM webhook_events p \
                 WHERE p.account_id = e.account_id AND p.status = 'PENDING' AND p.id < e.id) \
             ORDER BY e.id LIMIT 1{lock}"
        );
        let found = txn
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [now.into()]))
            .await?;
        let Some(found) = found else {
            txn.commit().await?;
            return Ok(None);
        };
        let id: i64 = found.try_get("", "id")?;
        let Some(event) = db::by_key(webhook_event::Entity::find_by_id(id), &txn).await? else {
            txn.commit().await?;
            return Ok(None);
        };
        let mut leased = event.into_active_model();
        leased.lease_until = Set(Some(now + lease));
        let event = leased.update(&txn).await?;
        txn.commit().await?;
        Ok(Some(event))
    }

    /// Records how an attempt to send `event_id` (the outbox row's id) ended and
    /// releases its lease.
    pub async fn settle_webhook_event(&self, id: i64, attempt: Attempt) -> Result<(), Error> {
        let now = self.now();
        let Some(event) = db::by_key(webhook_event::Entity::find_by_id(id), &self.db).await? else {
            return Err(Error::Internal(format!("webhook event {id} vanished")));
        };
        let attempts = event.attempts + 1;
        let mut settled = event.into_active_model();
        settled.attempts = Set(attempts);
        settled.lease_until = Set(None);
        match attempt {
            Attempt::Delivered => {
                settled.status = Set(DELIVERED.to_owned());
                settled.delivered_at = Set(Some(now));
                settled.last_error = Set(None);
            }
            Attempt::Failed { error, retry_at } => {
                settled.last_error = Set(Some(error));
                match retry_at {
                    Some(at) => settled.next_attempt_at = Set(at),
                    None => settled.status = Set(FAILED.to_owned()),
                }
            }
        }
        settled.update(&self.db).await?;
        Ok(())
    }

    /// Sends a FAILED (or DELIVERED) event again: PENDING and due now, its id and
    /// attempts kept; a pending one is left as it is. Refused with EVENT_NOT_FOUND.
    pub async fn redeliver_webhook_event(&self, id: i64) -> Result<webhook_event::Model, Error> {
        let Some(event) = db::by_key(webhook_event::Entity::find_by_id(id), &self.db).await? else {
            return Err(Refusal::new(RefusalCode::EventNotFound, "No such event.")
                .at(&["eventId"])
                .into());
        };
        if event.status == PENDING {
            return Ok(event);
        }
        // Only a settled event changes: a worker never holds one.
        let mut again = event.into_active_model();
        again.status = Set(PENDING.to_owned());
        again.next_attempt_at = Set(self.now());
        again.lease_until = Set(None);
        Ok(again.update(&self.db).await?)
    }

    /// How many events wait to be sent, and since when the oldest waits.
    pub async fn webhook_backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), Error> {
        let pending = webhook_event::Entity::find().filter(webhook_event::Column::Status.eq(PENDING));
        let count = pending.clone().count(&self.db).await?;
        let oldest = pending
            .order_by_asc(webhook_event::Column::Id)
            .one(&self.db)
            .await?
            .map(|e| e.occurred_at);
        Ok((count, oldest))
    }
}
