//! The credit ledger: every operation that grants, spends, expires or bills credits,
//! over any sea-orm connection. Each write runs in one transaction that locks the
//! account, first catches up on what the clock has made due (expiry, reset, promotion),
//! and is retried as a whole on a transient conflict.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, RefusalCode, refuse};
use book::Book;

mod announce;
mod apply;
mod book;
mod catalog;
mod events;
mod idempotency;
mod purchase;
mod reads;
mod subscription;

pub use announce::ChangeFeed;
pub use apply::{Applied, ApplyOutcome, ApplyRequest, LogoPlacement, Written};
pub use book::bucket_label;
pub use purchase::PurchaseOutcome;

/// The credit ledger of every account; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: DatabaseConnection,
    config: Arc<Config>,
    clock: Clock,
    announcer: Arc<announce::Announcer>,
}

impl Ledger {
    /// A ledger over a migrated database, with the catalog of `config` stored.
    pub async fn new(db: DatabaseConnection, config: Arc<Config>, clock: Clock) -> Result<Self, Error> {
        catalog::store(&db, &config).await?;
        let announcer = Arc::new(announce::Announcer::for_database(&db).await?);
        Ok(Ledger {
            db,
            config,
            clock,
            announcer,
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
}

impl Ledger {
    /// Locks `account_id` in `txn` and applies what the clock has made due by `now`.
    async fn open_book(&self, txn: &DatabaseTransaction, account_id: i64, now: DateTime<Utc>) -> Result<Book, Error> {
        let Some(mut book) = Book::open(txn, account_id).await? else {
            return refuse(RefusalCode::AccountNotFound, "No such account.");
        };
        events::catch_up(txn, &mut book, &self.config, now).await?;
        Ok(book)
    }
}
