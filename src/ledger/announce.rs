//! Telling every instance that an account's balance changed, once the change is
//! committed. On PostgreSQL the write transaction itself sends a NOTIFY, which the
//! database delivers to every listening instance if and only if the transaction
//! commits (`bench/RESULTS.md` measures what that costs the charge: nothing visible).
//! On SQLite there is one instance, and the message stays in the process. A commit
//! that changed the balance also tells other systems when it crossed the low-balance
//! threshold (`credits.low`, `credits.recovered`), and any commit tells of a lot inside
//! the warning window not told yet (`credits.expiring`).
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::broadcast;

use super::Ledger;
use super::book::Book;
use super::outbox;
use crate::error::Error;

/// How many changes a slow in-process listener may fall behind before it is told it lagged.
const CHANGE_BUFFER: usize = 4096;

/// How committed changes reach the instances.
pub(super) enum Announcer {
    /// A NOTIFY on `channel` with the account id as its payload.
    Notify { channel: String },
    /// A message in process, sent after the commit.
    InProcess(broadcast::Sender<i64>),
}

/// Where an instance hears of committed changes: the account id of each.
pub enum ChangeFeed {
    /// LISTEN on this channel, on a connection of its own.
    Notify {
        channel: String,
    },
    InProcess(broadcast::Receiver<i64>),
}

impl Announcer {
    /// The announcer for `db`. PostgreSQL instances sharing a schema share a channel;
    /// another schema (a test's, say) has its own.
    pub(super) async fn for_database(db: &DatabaseConnection) -> Result<Self, Error> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Announcer::InProcess(broadcast::channel(CHANGE_BUFFER).0));
        }
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_schema()"))
            .await?
            .ok_or_else(|| Error::Internal("current_schema() returned no row".into()))?;
        let schema: String = row.try_get_by_index(0)?;
        Ok(Announcer::Notify {
            channel: format!("balance_changed:{schema}"),
        })
    }
}

impl Ledger {
    /// Where this instance hears of every committed change, its own and, on
    /// PostgreSQL, every other instance's.
    pub fn change_feed(&self) -> ChangeFeed {
        match self.announcer.as_ref() {
            Announcer::Notify { channel } => ChangeFeed::Notify {
                channel: channel.clone(),
            },
            Announcer::InProcess(sender) => ChangeFeed::InProcess(sender.subscribe()),
        }
    }

    /// Tells every instance that what `account_id`'s balance shows changed though
    /// nothing was written: time alone moved it (a lot entered the warning window).
    pub(super) async fn announce(&self, account_id: i64) -> Result<(), Error> {
        match self.announcer.as_ref() {
            Announcer::Notify { channel } => {
                self.db.execute_raw(notify(channel, &[account_id])).await?;
            }
            Announcer::InProcess(sender) => {
                // No receiver is not an error: nobody is watching.
                let _ = sender.send(account_id);
            }
        }
        Ok(())
    }

    /// Commits `txn`, with the events of its balance; when it changed the balance or an
    /// edit of `book`'s account, every instance hears of it, and only once it is
    /// committed. Then the credits it moved and the renders it queued and finished are
    /// counted.
    pub(super) async fn commit(&self, txn: DatabaseTransaction, book: &mut Book) -> Result<(), Error> {
        self.commit_books(txn, std::slice::from_mut(book)).await
    }

    /// [`Ledger::commit`] of a transaction that wrote several accounts' `books`: one
    /// commit (one flush of the log, one NOTIFY lock) for all of them.
    pub(super) async fn commit_books(&self, txn: DatabaseTransaction, books: &mut [Book]) -> Result<(), Error> {
        let now = self.now();
        for book in books.iter_mut() {
            if book.changed() {
                outbox::tell_crossing(&txn, book, &self.config, now).await?;
            }
            // A lot this transaction granted inside the warning window, or gave credits
            // back to there, is told with it.
            outbox::tell_expiring(&txn, book, &self.config, now).await?;
        }
        if let Announcer::Notify { channel } = self.announcer.as_ref() {
            let changed: Vec<i64> = books
                .iter()
                .filter(|b| b.changed() || b.edits_changed())
                .map(|b| b.account.id)
                .collect();
            if !changed.is_empty() {
                txn.execute_raw(notify(channel, &changed)).await?;
            }
        }
        txn.commit().await?;
        for book in books.iter() {
            if let Announcer::InProcess(sender) = self.announcer.as_ref()
                && (book.changed() || book.edits_changed())
            {
                // No receiver is not an error: nobody is watching.
                let _ = sender.send(book.account.id);
            }
            for &(kind, bucket, amount) in book.written() {
                self.metrics.credits(kind, bucket, amount);
            }
            self.metrics.render_jobs_queued(book.renders_queued);
            for &(outcome, age) in &book.renders_finished {
                self.metrics.render_finished(outcome, age.to_std().unwrap_or_default());
            }
        }
        Ok(())
    }
}

/// The NOTIFYs on `channel` that name each of `account_ids`: one statement for all.
fn notify(channel: &str, account_ids: &[i64]) -> Statement {
    let ids = account_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, id) FROM unnest(string_to_array($2, ',')) AS id",
        [channel.to_owned().into(), ids.into()],
    )
}
