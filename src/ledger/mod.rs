//! The credit ledger: every operation that grants, spends, expires or bills credits,
//! over any sea-orm connection. Each write runs in one transaction that locks the
//! account, first catches up on what the clock has made due (expiry, reset, promotion),
//! and is retried as a whole on a transient conflict.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::begin_write;
use crate::error::{Error, RefusalCode, refuse};
use crate::metrics::Metrics;
use crate::rules::entitlement::{Campaign, campaigns};
use book::Book;

mod accounts;
mod actor;
mod announce;
mod apply;
mod book;
mod catalog;
mod cause;
mod corrections;
mod credit_notes;
mod events;
mod idempotency;
mod library;
mod numbering;
mod outbox;
mod purchase;
mod quote;
mod reads;
mod renders;

pub use accounts::Buyer;
pub use actor::Actor;
pub use announce::ChangeFeed;
pub use apply::{Applied, ApplyOutcome, ApplyRequest, LogoPlacement, Reported, Reverted, Written};
pub use book::bucket_label;
pub use cause::Cause;
pub use corrections::{Resolution, Resolved};
pub use events::{DUE_PAGE, DuePass};
pub use outbox::{Attempt, DELIVERED, EventType, FAILED, PENDING};
pub use purchase::{PurchaseOutcome, Purchased, Receipt};
pub use quote::{Priced, Quote, QuoteRequest};
pub use renders::{Claim, ClaimedJob, MAX_CLAIM, RenderResult, TIMED_OUT};

/// The credit ledger of every account; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: DatabaseConnection,
    config: Arc<Config>,
    /// The configured promotion campaigns, read once from `config`.
    campaigns: Arc<[Campaign]>,
    clock: Clock,
    announcer: Arc<announce::Announcer>,
    /// Who acts through this handle (see [`Ledger::acting_as`]); none for the clock.
    actor: Option<Actor>,
    /// What `/metrics` shows of this instance.
    metrics: Metrics,
    /// The instant up to which this instance has announced the lots that entered the
    /// warning window (see [`Ledger::process_due`]).
    warned_through: Arc<Mutex<DateTime<Utc>>>,
}

impl Ledger {
    /// A ledger over a migrated database, with the catalog of `config` stored.
    pub async fn new(db: DatabaseConnection, config: Arc<Config>, clock: Clock) -> Result<Self, Error> {
        catalog::store(&db, &config).await?;
        let announcer = Arc::new(announce::Announcer::for_database(&db).await?);
        Ok(Ledger {
            metrics: Metrics::new(db.clone()),
            db,
            campaigns: campaigns(&config).into(),
            config,
            warned_through: Arc::new(Mutex::new(clock.now())),
            clock,
            announcer,
            actor: None,
        })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// This ledger as `actor`: every edit, report, purchase and ledger entry it writes
    /// for a person records them; what the clock makes due on the way records no one.
    pub fn acting_as(&self, actor: Actor) -> Ledger {
        Ledger {
            actor: Some(actor),
            ..self.clone()
        }
    }

    /// The series of this instance: the ledger counts what it commits, and the rest
    /// of the service records here too.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Ledger {
    /// Begins a write transaction ([`begin_write`]), timing the wait for it.
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let started = std::time::Instant::now();
        let txn = begin_write(&self.db).await;
        self.metrics.write_acquired(started.elapsed());
        txn
    }

    /// Locks `account_id` in `txn`, then reads the clock and applies what it has made
    /// due. The instant is read once the lock is held, so an operation that waited for
    /// the lock across a reset acts, and is stamped, after it.
    async fn open_book(&self, txn: &DatabaseTransaction, account_id: i64) -> Result<(Book, DateTime<Utc>), Error> {
        let Some(mut book) = Book::open(txn, account_id).await? else {
            return refuse(RefusalCode::AccountNotFound, "No such account.");
        };
        book.actor = self.actor.clone();
        let now = self.now();
        self.catch_up_books(txn, std::slice::from_mut(&mut book), now).await?;
        Ok((book, now))
    }
}
