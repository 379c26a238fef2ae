//! What the clock alone makes happen: lots expire, cycles reset, promotion campaigns
//! are granted, renders not finished in time are given up on. Due events are applied in
//! time order, each at its own instant, so a jump of three months writes the same
//! ledger as three months of daily steps. A lot entering the warning window with
//! credits left writes `credits.expiring` at that instant, once per lot (a jump over
//! its window and its expiry too, as daily steps would), and is announced, so live
//! balances show it.
use std::collections::{BTreeSet, HashMap};
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use entity::{account, lot, render_job};
use futures_util::{StreamExt, stream};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::book::{Book, NewLot};
use super::cause::Cause;
use super::{Ledger, idempotency, outbox};
use crate::clock::ClockError;
use crate::config::{Config, LAUNCH_CAMPAIGN};
use crate::db::{is_unavailable, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::cycle::BillingCalendar;
use crate::rules::entitlement::{Campaign, monthly_credits, next_promotion};
use crate::rules::spending_order::spending_key;
use crate::rules::webhook_events::expiring_due_at;

enum Event {
    Expiry(i64),
    Reset,
    /// The campaign at this index of the ledger's campaigns.
    Promotion(usize),
    /// Lots entered the warning window: `credits.expiring`.
    Warning,
}

impl Ledger {
    /// Applies every event due at or before `now` to each of `books`, asking for the
    /// renders to give up on of all of them at once.
    pub(super) async fn catch_up_books(
        &self,
        txn: &impl ConnectionTrait,
        books: &mut [Book],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let accounts: Vec<i64> = books.iter().map(|b| b.account.id).collect();
        let mut overdue: HashMap<i64, Vec<render_job::Model>> = HashMap::new();
        for job in self.overdue_jobs(txn, &accounts, now).await? {
            overdue.entry(job.account_id).or_default().push(job);
        }
        for book in books {
            let jobs = overdue.remove(&book.account.id).unwrap_or_default();
            self.catch_up(txn, book, jobs, now).await?;
        }
        Ok(())
    }

    /// Applies every event due at or before `now`, with `overdue`, the account's
    /// renders to give up on, oldest first.
    pub(super) async fn catch_up(
        &self,
        txn: &impl ConnectionTrait,
        book: &mut Book,
        overdue: Vec<render_job::Model>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        // Give-ups interleave with the other events in time order (a give-up before an
        // event at the same instant), so a refund meets its lot as it was then.
        let give_up_after = self.config.render_give_up();
        let mut overdue = overdue.into_iter().peekable();
        // The instant applied last: a lot that give-ups refunded inside the window is
        // due from its entry into it, but told after the refunds of that instant.
        let mut reached: Option<DateTime<Utc>> = None;
        loop {
            let give_up_at = overdue.peek().map(|job| job.created_at + give_up_after);
            let next = self
                .next_due(&book.account, &book.lots, now)
                .map(|(at, event)| (reached.map_or(at, |r| at.max(r)), event));
            match (next, give_up_at) {
                (Some((at, _)), Some(due)) if due <= at => {}
                (Some((at, event)), _) => {
                    reached = Some(at);
                    match event {
                        Event::Expiry(lot_id) => book.expire(txn, lot_id, at).await?,
                        Event::Reset => reset(txn, book, &self.config, at).await?,
                        Event::Promotion(i) => grant_promotion(txn, book, &self.campaigns[i], at).await?,
                        Event::Warning => outbox::tell_expiring(txn, book, &self.config, at).await?,
                    }
                    continue;
                }
                (None, Some(_)) => {}
                (None, None) => break,
            }
            if let (Some(job), Some(at)) = (overdue.next(), give_up_at) {
                reached = Some(at);
                self.give_up(txn, book, &job, at).await?;
            }
        }
        Ok(())
    }

    /// Whether the clock has made something due for `account` with its unexpired
    /// `lots` that is not written yet.
    pub(super) fn is_due(&self, account: &account::Model, lots: &[lot::Model], now: DateTime<Utc>) -> bool {
        self.next_due(account, lots, now).is_some()
    }

    /// The earliest due event; at one instant expiries come first, then the reset,
    /// then the campaigns in their order, so a reset never spends or counts the lot it
    /// replaces, then the warnings, so a lot granted inside the window is told at once.
    fn next_due(
        &self,
        account: &account::Model,
        lots: &[lot::Model],
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Event)> {
        let expiry = lots
            .iter()
            .filter(|l| l.expires_at <= now)
            .min_by_key(|l| (l.expires_at, spending_key(l)))
            .map(|l| (l.expires_at, 0, Event::Expiry(l.id)));
        let reset = (account.next_reset_at <= now).then_some((account.next_reset_at, 1, Event::Reset));
        let promotion = next_promotion(&self.campaigns, account, now).map(|(at, i)| (at, 2, Event::Promotion(i)));
        let window = self.config.expiry_warning();
        let warning = lots
            .iter()
            .filter_map(|l| expiring_due_at(l, window))
            .filter(|at| *at <= now)
            .min()
            .map(|at| (at, 3, Event::Warning));
        [expiry, reset, promotion, warning]
            .into_iter()
            .flatten()
            .min_by_key(|(at, rank, _)| (*at, *rank))
            .map(|(at, _, event)| (at, event))
    }
}

/// Starts the cycle beginning at `at` and grants its monthly lot at the current plan.
async fn reset(txn: &impl ConnectionTrait, book: &mut Book, config: &Config, at: DateTime<Utc>) -> Result<(), Error> {
    let end = BillingCalendar::from_config(config).cycle_containing(at).end;
    let mut account = book.account.clone().into_active_model();
    account.cycle_start = Set(at);
    account.next_reset_at = Set(end);
    book.save_account(txn, account).await?;
    grant_monthly(txn, book, config, at, at, Cause::Reset).await
}

/// Grants at `at` the monthly lot of the cycle starting at `cycle_start` and ending at
/// the account's next reset, if the plan includes credits.
pub async fn grant_monthly(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    config: &Config,
    cycle_start: DateTime<Utc>,
    at: DateTime<Utc>,
    cause: Cause,
) -> Result<(), Error> {
    let credits = monthly_credits(config, book.account.plan, book.account.listing_slots);
    if credits > 0 {
        let new = NewLot::monthly(cycle_start, book.account.next_reset_at, credits, cause);
        book.grant_new_lot(txn, new, at).await?;
    }
    Ok(())
}

/// Grants the account the lot of `campaign` at `at`, if its plan gets credits from it,
/// and marks the campaign considered either way: it grants once.
async fn grant_promotion(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    campaign: &Campaign,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let credits = campaign.credits(book.account.plan, book.account.listing_slots);
    if credits > 0 {
        book.grant_new_lot(txn, NewLot::promotion(campaign, credits, Cause::Promotion), at)
            .await?;
    }
    let mut account = book.account.clone().into_active_model();
    let mut list = book.account.promotions_considered.clone();
    if list.is_empty() {
        list.push(',');
    }
    list.push_str(&campaign.id);
    list.push(',');
    account.promotions_considered = Set(list);
    if campaign.id == LAUNCH_CAMPAIGN {
        account.promotion_processed = Set(true);
    }
    // Not a change the balance shows: the book is not marked changed.
    book.account = account.update(txn).await?;
    Ok(())
}

/// How many due rows [`Ledger::process_due`] reads at once.
pub const DUE_PAGE: u64 = 256;

/// How many accounts one catch-up transaction of [`Ledger::process_due`] writes: a
/// reset of every account commits (flushes the log, takes NOTIFY's lock) once per
/// chunk, not once per account, and holds a chunk's locks for a few milliseconds.
const CATCH_UP_CHUNK: usize = 32;

/// How a pass of [`Ledger::process_due`] takes an account that another transaction
/// holds locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    /// Waits for it, so that every account due by the pass's instant is caught up
    /// when the pass ends (at start, and when a manual clock is moved).
    Wait,
    /// Leaves it (PostgreSQL: `FOR UPDATE SKIP LOCKED`) to the transaction holding it,
    /// which catches it up first if it is a write, or to the next pass: instances
    /// sharing a database split the due accounts instead of queueing behind each
    /// other's locks (the scheduler's ticks). SQLite has one writer at a time, so
    /// there it waits.
    SkipLocked,
}

/// Where a row of a page of due work stands in its index: its instant and id.
type Key = (DateTime<Utc>, i64);

/// The rows after `after` in the order of `(at, id)`.
fn key_after(at: impl ColumnTrait, id: impl ColumnTrait, after: Key) -> Expr {
    sea_orm::sea_query::ExprTrait::gt(
        Expr::tuple([Expr::col(at), Expr::col(id)]),
        Expr::tuple([Expr::value(after.0), Expr::value(after.1)]),
    )
}

/// A page of the accounts that meet `condition`, in the order of `at` and id (the
/// indexes `accounts_due_reset`, `accounts_by_creation`, `accounts_launch_pending`),
/// after the account `after`: each account's key and id.
async fn accounts_page(
    db: &DatabaseConnection,
    at: account::Column,
    after: Option<Key>,
    condition: Condition,
) -> Result<Vec<(Key, i64)>, DbErr> {
    let mut query = account::Entity::find()
        .select_only()
        .column(at)
        .column(account::Column::Id)
        .filter(condition);
    if let Some(after) = after {
        query = query.filter(key_after(at, account::Column::Id, after));
    }
    let rows = query
        .order_by_asc(at)
        .order_by_asc(account::Column::Id)
        .limit(DUE_PAGE)
        .into_tuple::<Key>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|key| (key, key.1)).collect())
}

/// A page of the unexpired lots that meet `condition`, in the order of their expiry
/// (the partial indexes `lots_due_expiry` and `lots_due_warning`), after the lot
/// `after`: each lot's key and account.
async fn lots_page(
    db: &DatabaseConnection,
    after: Option<Key>,
    condition: Condition,
) -> Result<Vec<(Key, i64)>, DbErr> {
    let mut query = lot::Entity::find()
        .select_only()
        .column(lot::Column::ExpiresAt)
        .column(lot::Column::Id)
        .column(lot::Column::AccountId)
        .filter(sea_orm::sea_query::ExprTrait::not(Expr::col(lot::Column::Expired)))
        .filter(condition);
    if let Some(after) = after {
        query = query.filter(key_after(lot::Column::ExpiresAt, lot::Column::Id, after));
    }
    let rows = query
        .order_by_asc(lot::Column::ExpiresAt)
        .order_by_asc(lot::Column::Id)
        .limit(DUE_PAGE)
        .into_tuple::<(DateTime<Utc>, i64, i64)>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(at, id, account_id)| ((at, id), account_id))
        .collect())
}

/// What one pass of [`Ledger::process_due`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DuePass {
    /// Accounts whose balance changed.
    pub changed: Vec<i64>,
    /// Accounts whose catch-up failed (logged); the next pass tries them again.
    pub failed: Vec<i64>,
    /// Accounts announced because one of their lots entered the warning window since
    /// the previous pass, and whose balance did not change otherwise.
    pub warned: Vec<i64>,
}

impl DuePass {
    /// Counts the catch-up of `accounts` in one transaction: those whose balance it
    /// changed, or all of them as failed (logged). Only a database that cannot be
    /// reached is returned, to end the pass.
    fn settle(&mut self, accounts: &[i64], result: Result<Vec<i64>, Error>) -> Result<(), Error> {
        match result {
            Ok(changed) => self.changed.extend(changed),
            Err(e) if is_unreachable(&e) => return Err(e),
            Err(e) => {
                for &account_id in accounts {
                    tracing::error!(account_id, error = %e, "catching up an account failed; the others go on");
                    self.failed.push(account_id);
                }
            }
        }
        Ok(())
    }
}

/// Whether `error` is the database out of reach, which ends a pass.
fn is_unreachable(error: &Error) -> bool {
    matches!(error, Error::Db(e) if is_unavailable(e))
}

impl Ledger {
    /// Applies what the clock has made due for every account: expiries, resets,
    /// promotion campaigns, renders given up on, lots entering the warning window;
    /// forgets old idempotency records. An account whose catch-up
    /// fails is logged and counted, and the others go on; only a database that cannot
    /// be reached ends the pass.
    ///
    /// Each kind of due work is read in pages of [`DUE_PAGE`] rows, in the order of an
    /// index and after the last row of the previous page, and each page's accounts are
    /// caught up a few at once ([`Ledger::catch_up_concurrency`]): a pass over a
    /// million due accounts holds one page in memory and leaves most of the pool to
    /// requests. A caught-up account is no longer due, so a later kind does not
    /// return it again.
    ///
    /// It waits for an account another transaction holds, so every account due by its
    /// instant is caught up when it ends; the scheduler's ticks run
    /// [`Ledger::process_due_shared`].
    pub async fn process_due(&self) -> Result<DuePass, Error> {
        self.process_due_claiming(Claim::Wait).await
    }

    /// [`Ledger::process_due`] that leaves an account another transaction holds to it
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`): what the scheduler of each instance runs
    /// every tick, so instances sharing a database split a burst of due accounts.
    pub async fn process_due_shared(&self) -> Result<DuePass, Error> {
        self.process_due_claiming(Claim::SkipLocked).await
    }

    #[tracing::instrument(skip(self))]
    async fn process_due_claiming(&self, claim: Claim) -> Result<DuePass, Error> {
        let now = self.now();
        let mut pass = DuePass::default();
        let db = &self.db;
        self.catch_up_pages(now, claim, &mut pass, |after| {
            let due = Condition::all().add(account::Column::NextResetAt.lte(now));
            accounts_page(db, account::Column::NextResetAt, after, due)
        })
        .await?;
        self.catch_up_pages(now, claim, &mut pass, |after| {
            lots_page(db, after, Condition::all().add(lot::Column::ExpiresAt.lte(now)))
        })
        .await?;
        // Lots with credits left inside the warning window and not told yet
        // (`expiring_due_at`): `credits.expiring`.
        let window = self.config.expiry_warning();
        self.catch_up_pages(now, claim, &mut pass, |after| {
            let due = Condition::all()
                .add(lot::Column::ExpiryWarnedAt.is_null())
                .add(lot::Column::Remaining.gt(0))
                .add(lot::Column::ValidFrom.lte(now))
                .add(lot::Column::ExpiresAt.lte(now + window));
            lots_page(db, after, due)
        })
        .await?;
        let overdue = self.accounts_with_overdue_jobs(now).await?;
        self.catch_up_each(overdue, now, claim, &mut pass).await?;
        for campaign in self.campaigns.iter().filter(|c| c.starts_at <= now) {
            // Only accounts created before the window ended, in the order of their
            // creation (`accounts_by_creation`); the launch's condition is literal, no
            // parameter, so that the partial index `accounts_launch_pending` serves it.
            let not_considered = if campaign.id == LAUNCH_CAMPAIGN {
                sea_orm::sea_query::ExprTrait::not(Expr::col(account::Column::PromotionProcessed))
            } else {
                account::Column::PromotionsConsidered.not_like(format!("%,{},%", campaign.id))
            };
            let pending = Condition::all()
                .add(account::Column::CreatedAt.lt(campaign.ends_at))
                .add(not_considered);
            self.catch_up_pages(now, claim, &mut pass, |after| {
                accounts_page(db, account::Column::CreatedAt, after, pending.clone())
            })
            .await?;
        }
        for accounts in [&mut pass.changed, &mut pass.failed] {
            accounts.sort_unstable();
            accounts.dedup();
        }
        pass.warned = self.announce_warnings(now, &pass.changed).await?;
        // A write outside any transaction: on SQLite, writers that keep the lock busy
        // can outlast its busy timeout, and the delete is simply tried again.
        retry_transient(|| idempotency::purge(&self.db, self.config.idempotency_retention(), now)).await?;
        Ok(pass)
    }

    /// Catches up, page after page, the accounts of the rows `page` reads: given the
    /// key of the previous page's last row (none at first), it returns at most
    /// [`DUE_PAGE`] rows after it in key order, each as its key and its account. A
    /// shorter page is the last.
    async fn catch_up_pages<F, Fut>(
        &self,
        now: DateTime<Utc>,
        claim: Claim,
        pass: &mut DuePass,
        mut page: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Option<Key>) -> Fut,
        Fut: Future<Output = Result<Vec<(Key, i64)>, DbErr>>,
    {
        let mut after = None;
        loop {
            let rows = page(after).await?;
            let last_page = rows.len() < DUE_PAGE as usize;
            let mut accounts: Vec<i64> = Vec::with_capacity(rows.len());
            after = None;
            for (key, account_id) in rows {
                // A page of lots may hold one account twice.
                if !accounts.contains(&account_id) {
                    accounts.push(account_id);
                }
                after = Some(key);
            }
            self.catch_up_each(accounts, now, claim, pass).await?;
            if last_page || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Catches up `accounts` by `now`, in transactions of [`CATCH_UP_CHUNK`] accounts,
    /// [`Ledger::catch_up_concurrency`] transactions at once, and counts each in
    /// `pass`. A chunk that fails is caught up again one account at a time, so one
    /// account's failure is its own and the others go on.
    async fn catch_up_each(
        &self,
        accounts: Vec<i64>,
        now: DateTime<Utc>,
        claim: Claim,
        pass: &mut DuePass,
    ) -> Result<(), Error> {
        let chunks: Vec<Vec<i64>> = accounts
            .chunks(CATCH_UP_CHUNK)
            .map(|chunk| {
                // Every transaction locks its accounts in the order of their ids, so
                // two passes never wait for each other in a cycle.
                let mut chunk = chunk.to_vec();
                chunk.sort_unstable();
                chunk
            })
            .collect();
        let mut results = stream::iter(chunks)
            .map(|chunk| async move {
                let result = self.catch_up_chunk(&chunk, now, claim).await;
                (chunk, result)
            })
            .buffered(self.catch_up_concurrency());
        while let Some((chunk, result)) = results.next().await {
            match result {
                Err(e) if chunk.len() > 1 && !is_unreachable(&e) => {
                    for account_id in chunk {
                        let result = self.catch_up_chunk(&[account_id], now, claim).await;
                        pass.settle(&[account_id], result)?;
                    }
                }
                result => pass.settle(&chunk, result)?,
            }
        }
        Ok(())
    }

    /// How many catch-up transactions a pass runs at once: a quarter of the pool,
    /// between 1 and 4, so requests keep the rest of the connections during a reset of
    /// every account.
    fn catch_up_concurrency(&self) -> usize {
        let pool = match self.db.get_database_backend() {
            DbBackend::Postgres => self.db.get_postgres_connection_pool().options().get_max_connections(),
            _ => self.db.get_sqlite_connection_pool().options().get_max_connections(),
        };
        usize::try_from(pool / 4).unwrap_or(1).clamp(1, 4)
    }

    /// Announces every account one of whose lots, with credits left, entered the
    /// warning window after the instant the previous pass reached and by `now`
    /// (those in `changed`, in ascending order, were announced already). The catch-up wrote its
    /// `credits.expiring`, which changes no balance: the balance read shows
    /// `expiringSoon`, and the live hubs push it. Every instance
    /// announces what its own clock passed; a hub pushes only what differs, so a
    /// second announcement of the same account pushes nothing.
    async fn announce_warnings(&self, now: DateTime<Utc>, changed: &[i64]) -> Result<Vec<i64>, Error> {
        let since = *self.warned_through.lock().unwrap_or_else(PoisonError::into_inner);
        if now <= since {
            return Ok(Vec::new());
        }
        let window = self.config.expiry_warning();
        let entered: BTreeSet<i64> = lot::Entity::find()
            .select_only()
            .column(lot::Column::AccountId)
            .distinct()
            .filter(lot::Column::Expired.eq(false))
            .filter(lot::Column::Remaining.gt(0))
            .filter(lot::Column::ExpiresAt.gt(now))
            .filter(lot::Column::ExpiresAt.gt(since + window))
            .filter(lot::Column::ExpiresAt.lte(now + window))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|account_id| changed.binary_search(account_id).is_err())
            .collect();
        for &account_id in &entered {
            self.announce(account_id).await?;
        }
        let mut through = self.warned_through.lock().unwrap_or_else(PoisonError::into_inner);
        *through = (*through).max(now);
        Ok(entered.into_iter().collect())
    }

    /// Writes, in one transaction, what the clock has made due for `accounts` (in
    /// ascending order) by `now`, taking those other transactions hold as `claim`
    /// says; returns those whose balance it changed.
    pub(super) async fn catch_up_chunk(
        &self,
        accounts: &[i64],
        now: DateTime<Utc>,
        claim: Claim,
    ) -> Result<Vec<i64>, Error> {
        retry_transient(|| async {
            let txn = self.begin().await?;
            // The claim's lock, in one statement for the chunk: instances sharing a
            // database leave each other's accounts (SQLite has one writer at a time).
            let skip_locked = claim == Claim::SkipLocked && txn.get_database_backend() == DbBackend::Postgres;
            let mut books = Book::open_many(&txn, accounts, skip_locked).await?;
            self.catch_up_books(&txn, &mut books, now).await?;
            self.commit_books(txn, &mut books).await?;
            Ok(books.iter().filter(|b| b.changed()).map(|b| b.account.id).collect())
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
