//! What the clock alone makes happen: lots expire, cycles reset, the launch promotion
//! is granted. Due events are applied in time order, each at its own instant, so a
//! jump of three months writes the same ledger as three months of daily steps.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::enums::Bucket;
use entity::{account, lot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};

use super::book::{Book, NewLot};
use super::{Ledger, idempotency};
use crate::clock::ClockError;
use crate::config::Config;
use crate::db::{begin_write, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::cycle::BillingCalendar;
use crate::rules::entitlement::{monthly_credits, promotion_credits, promotion_grant_at};
use crate::rules::spending_order::spending_key;

/// The origin of the monthly lot of the cycle that starts at `start`.
pub fn cycle_origin(start: DateTime<Utc>) -> String {
    format!("cycle:{}", start.to_rfc3339())
}

/// The origin of an account's one promotion lot.
pub const PROMOTION_ORIGIN: &str = "promotion";

enum Event {
    Expiry(i64),
    Reset,
    Promotion,
}

/// Applies every event due at or before `now`.
pub async fn catch_up(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    while let Some((at, event)) = next_due(&book.account, &book.lots, config, now) {
        match event {
            Event::Expiry(lot_id) => book.expire(txn, lot_id, at).await?,
            Event::Reset => reset(txn, book, config, at).await?,
            Event::Promotion => grant_promotion(txn, book, config, at).await?,
        }
    }
    if !book.account.promotion_processed
        && config.launch_at.is_some()
        && promotion_grant_at(config, book.account.created_at).is_none()
    {
        // Created after the window closed: there is nothing to wait for.
        set_promotion_processed(txn, book).await?;
    }
    Ok(())
}

/// Whether the clock has made something due for `account` with its unexpired `lots`
/// that is not written yet.
pub fn is_due(account: &account::Model, lots: &[lot::Model], config: &Config, now: DateTime<Utc>) -> bool {
    next_due(account, lots, config, now).is_some()
}

/// The earliest due event; at one instant expiries come first, then the reset, then
/// the promotion, so a reset never spends or counts the lot it replaces.
fn next_due(
    account: &account::Model,
    lots: &[lot::Model],
    config: &Config,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Event)> {
    let expiry = lots
        .iter()
        .filter(|l| l.expires_at <= now)
        .min_by_key(|l| (l.expires_at, spending_key(l)))
        .map(|l| (l.expires_at, 0, Event::Expiry(l.id)));
    let reset = (account.next_reset_at <= now).then_some((account.next_reset_at, 1, Event::Reset));
    let promotion = (!account.promotion_processed)
        .then(|| promotion_grant_at(config, account.created_at))
        .flatten()
        .filter(|at| *at <= now)
        .map(|at| (at, 2, Event::Promotion));
    [expiry, reset, promotion]
        .into_iter()
        .flatten()
        .min_by_key(|(at, rank, _)| (*at, *rank))
        .map(|(at, _, event)| (at, event))
}

/// Starts the cycle beginning at `at` and grants its monthly lot at the current plan.
async fn reset(txn: &impl ConnectionTrait, book: &mut Book, config: &Config, at: DateTime<Utc>) -> Result<(), Error> {
    let end = BillingCalendar::from_config(config).cycle_containing(at).end;
    let mut account = book.account.clone().into_active_model();
    account.cycle_start = Set(at);
    account.next_reset_at = Set(end);
    book.save_account(txn, account).await?;
    grant_monthly(txn, book, config, at, at, "reset").await
}

/// Grants at `at` the monthly lot of the cycle starting at `cycle_start` and ending at
/// the account's next reset, if the plan includes credits.
pub async fn grant_monthly(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    config: &Config,
    cycle_start: DateTime<Utc>,
    at: DateTime<Utc>,
    cause: &str,
) -> Result<(), Error> {
    let end = book.account.next_reset_at;
    let credits = monthly_credits(config, book.account.plan, book.account.listing_slots);
    if credits > 0 {
        let new = NewLot {
            bucket: Bucket::Monthly,
            origin: cycle_origin(cycle_start),
            credits,
            expires_at: end,
            pack_id: None,
            cause,
            description: format!("Monthly credits until {}", end.format("%Y-%m-%d %H:%M UTC")),
        };
        book.grant_new_lot(txn, new, at).await?;
    }
    Ok(())
}

/// Grants the account's launch promotion at `at`, expiring with the window.
async fn grant_promotion(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    config: &Config,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let credits = promotion_credits(config, book.account.plan, book.account.listing_slots);
    if let (true, Some((_, end))) = (credits > 0, config.promotion_window()) {
        let new = NewLot {
            bucket: Bucket::LaunchPromotion,
            origin: PROMOTION_ORIGIN.to_owned(),
            credits,
            expires_at: end,
            pack_id: None,
            cause: "promotion",
            description: "Launch promotion".to_owned(),
        };
        book.grant_new_lot(txn, new, at).await?;
    }
    set_promotion_processed(txn, book).await
}

async fn set_promotion_processed(txn: &impl ConnectionTrait, book: &mut Book) -> Result<(), Error> {
    let mut account = book.account.clone().into_active_model();
    account.promotion_processed = Set(true);
    // Not a change the balance shows: the book is not marked changed.
    book.account = account.update(txn).await?;
    Ok(())
}

impl Ledger {
    /// Applies what the clock has made due for every account: expiries, resets, the
    /// launch promotion; forgets old idempotency records. Returns the accounts changed.
    #[tracing::instrument(skip(self))]
    pub async fn process_due(&self) -> Result<Vec<i64>, Error> {
        let now = self.now();
        let mut due: BTreeSet<i64> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::NextResetAt.lte(now))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        due.extend(
            lot::Entity::find()
                .select_only()
                .column(lot::Column::AccountId)
                .distinct()
                .filter(lot::Column::Expired.eq(false))
                .filter(lot::Column::ExpiresAt.lte(now))
                .into_tuple::<i64>()
                .all(&self.db)
                .await?,
        );
        if let Some((start, _)) = self.config.promotion_window()
            && start <= now
        {
            due.extend(
                account::Entity::find()
                    .select_only()
                    .column(account::Column::Id)
                    .filter(account::Column::PromotionProcessed.eq(false))
                    .into_tuple::<i64>()
                    .all(&self.db)
                    .await?,
            );
        }
        let mut changed = Vec::new();
        for account_id in due {
            if self.catch_up_account(account_id, now).await? {
                changed.push(account_id);
            }
        }
        idempotency::purge(&self.db, self.config.idempotency_retention(), now).await?;
        Ok(changed)
    }

    /// Writes what the clock has made due for one account by `now`; returns whether
    /// that changed its balance.
    pub(super) async fn catch_up_account(&self, account_id: i64, now: DateTime<Utc>) -> Result<bool, Error> {
        retry_transient(|| async {
            let txn = begin_write(&self.db).await?;
            let Some(mut book) = Book::open(&txn, account_id).await? else {
                return Ok(false);
            };
            catch_up(&txn, &mut book, &self.config, now).await?;
            self.commit(txn, &book).await?;
            Ok(book.changed())
        })
        .await
    }

    /// Moves a manual clock forward to `to` and applies what that made due.
    pub async fn set_clock(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
        let now = self.clock.set(to).map_err(|e| match e {
            ClockError::NotManual => Refusal::new(RefusalCode::ClockNotManual, e.to_string()),
            ClockError::Backwards { .. } => Refusal::new(RefusalCode::InvalidInput, e.to_string()).at(&["now"]),
        })?;
        self.process_due().await?;
        Ok(now)
    }
}
