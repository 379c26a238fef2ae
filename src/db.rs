//! Connecting to SQLite or PostgreSQL, migrating, and running write transactions that
//! serialize per account and are retried on transient conflicts.
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use migration::{Migrator, MigratorTrait, SchemaManager, seaql_migrations};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoDatabaseExecutor, RuntimeErr, Select, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tracing::Instrument;

use crate::error::Error;
use crate::telemetry::WRITE_SPAN;

/// How often a transaction that lost a race to a conflict is tried again.
const MAX_ATTEMPTS: u32 = 8;

/// The advisory lock key PostgreSQL instances migrate under ("studio" in ASCII).
const MIGRATION_LOCK: i64 = 0x7374_7564_696f;

/// The embedded default: a SQLite file in the working folder.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://studio-bff.sqlite?mode=rwc";

/// The pool size when `database_pool_size` is not configured: 8 on SQLite, 32 on
/// PostgreSQL.
pub fn default_pool_size(url: &str) -> u32 {
    if is_sqlite(url) { 8 } else { 32 }
}

/// Opens a pool of the default size on `url` and migrates it.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_and_migrate_pool(url, default_pool_size(url)).await
}

/// Opens a pool of up to `pool_size` connections on `url` (SQLite in WAL mode, or
/// PostgreSQL) and migrates it.
pub async fn connect_and_migrate_pool(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    connect(url, pool_size, true).await.map(|(db, _)| db)
}

/// Opens a pool of up to `pool_size` connections on `url` and leaves its schema as it
/// is (`migrate_on_start = false`: see [`pending_migrations`]).
pub async fn connect_pool(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    connect(url, pool_size, false).await.map(|(db, _)| db)
}

/// Brings the schema of the database at `url` up to date and closes it (`studio-bff
/// migrate`); the names of the migrations it applied, none when it was up to date.
pub async fn migrate_database(url: &str) -> Result<Vec<String>, DbErr> {
    let (db, applied) = connect(url, 1, true).await?;
    db.close().await?;
    Ok(applied)
}

/// The migrations this binary knows that `db` has not had, by name; reads only, so
/// a database never migrated (no `seaql_migrations` table) has them all pending.
/// Migrations of a newer release are no reason to refuse (see [`Migrations::check`]).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let migrations = Migrations::of(db).await?;
    migrations.check()?;
    Ok(migrations.pending)
}

/// A database's migrations as this binary sees them.
struct Migrations {
    /// Known to this binary, not applied yet, oldest first.
    pending: Vec<String>,
    /// Applied by a newer release: unknown to this binary.
    newer: Vec<String>,
}

impl Migrations {
    /// Reads the migrations `db` has had, without writing.
    async fn of<'c, C>(db: &'c C) -> Result<Migrations, DbErr>
    where
        C: ConnectionTrait,
        &'c C: IntoDatabaseExecutor<'c>,
    {
        let applied: BTreeSet<String> = if SchemaManager::new(db).has_table("seaql_migrations").await? {
            seaql_migrations::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|m| m.version)
                .collect()
        } else {
            BTreeSet::new()
        };
        let known: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        Ok(Migrations {
            pending: known.iter().filter(|name| !applied.contains(*name)).cloned().collect(),
            newer: applied.into_iter().filter(|name| !known.contains(name)).collect(),
        })
    }

    /// Every migration is additive, so a release serves on the schema of a newer one:
    /// during a rollout (or a rollback) an instance of the previous release may start
    /// after the new one migrated. A database that has a newer release's migrations but
    /// lacks one of this binary's was not migrated in order, and is refused.
    fn check(&self) -> Result<(), DbErr> {
        if self.newer.is_empty() {
            return Ok(());
        }
        if !self.pending.is_empty() {
            return Err(DbErr::Custom(format!(
                "the database has migrations of a newer release ({}) but not {} of this one",
                self.newer.join(", "),
                self.pending.join(", ")
            )));
        }
        tracing::warn!(
            newer = %self.newer.join(", "),
            "the database was migrated by a newer release; serving on its schema"
        );
        Ok(())
    }
}

/// The row `select` finds by a key the schema holds unique (a primary key or a unique
/// index), if there is one. sea-orm's `one` would bind a `LIMIT 1`, and SQLite plans a
/// statement with a bound LIMIT again each time it runs it (`sqlite3Reprepare`: a quarter
/// of HeaderBalanceInitial's instructions on the embedded default, `bench/profiling.md`);
/// a unique key needs no LIMIT.
pub async fn by_key<E: EntityTrait>(select: Select<E>, conn: &impl ConnectionTrait) -> Result<Option<E::Model>, DbErr> {
    Ok(select.all(conn).await?.pop())
}

/// A pool on `url`, migrated when `migrating`; with the migrations applied.
async fn connect(url: &str, pool_size: u32, migrating: bool) -> Result<(DatabaseConnection, Vec<String>), DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(pool_size);
    if is_sqlite(url) {
        // WAL lets readers run beside the one writer; IMMEDIATE transactions queue
        // writers on the busy timeout instead of failing half-way.
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    // Instances starting together on a new SQLite file race to switch it to WAL, and
    // the loser is told "database is locked" at once, whatever the busy timeout.
    let mut tries = 1;
    loop {
        let connected = match Database::connect(options.clone()).await {
            Ok(db) if migrating => migrate(&db).await.map(|applied| (db, applied)),
            Ok(db) => Ok((db, Vec::new())),
            Err(e) => Err(e),
        };
        match connected {
            Err(e) if tries < MAX_ATTEMPTS && is_transient(&e) => {
                tracing::debug!(error = %e, tries, "database busy while connecting, trying again");
                tokio::time::sleep(backoff(tries)).await;
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

/// How long the `tries`-th failed attempt waits before the next: 5 ms, 20 ms, 45 ms, ...
fn backoff(tries: u32) -> Duration {
    Duration::from_millis(5 * u64::from(tries * tries))
}

/// Brings the schema up to date inside one write transaction, so instances starting
/// together take turns: on SQLite the IMMEDIATE transaction holds the write lock, on
/// PostgreSQL an advisory lock; the later ones find nothing left to do. The names of
/// the migrations applied.
async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let txn = begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
        // sea-orm-migration runs `CREATE TABLE IF NOT EXISTS seaql_migrations` three
        // times per `up`, and PostgreSQL answers the later two with a NOTICE that sqlx
        // logs at INFO ("relation ... already exists, skipping"), on every start. Only
        // notices go: warnings still reach the log, and errors fail the migration.
        txn.execute_unprepared("SET LOCAL client_min_messages = warning")
            .await?;
    }
    let migrations = Migrations::of(&txn).await?;
    migrations.check()?;
    // sea-orm-migration refuses a database with migrations it does not know; with
    // nothing of this binary's pending there is nothing to run anyway.
    if !migrations.pending.is_empty() {
        Migrator::up(&txn, None).await?;
    }
    txn.commit().await?;
    Ok(migrations.pending)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Starts a transaction that writes: IMMEDIATE on SQLite so the write lock is taken
/// before anything is read; on PostgreSQL writers serialize on the account row lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Runs `attempt` (one whole transaction) until it succeeds, fails for good, or has
/// lost `MAX_ATTEMPTS` races to serialization failures, deadlocks or a busy SQLite.
/// Each attempt is a span of its own ([`WRITE_SPAN`]), a child of the caller's.
pub async fn retry_transient<T, F, Fut>(mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut tries = 1;
    loop {
        let span = tracing::info_span!(WRITE_SPAN, attempt = tries);
        match attempt().instrument(span).await {
            Err(Error::Db(e)) if tries < MAX_ATTEMPTS && is_transient(&e) => {
                tracing::debug!(error = %e, tries, "transient database conflict, trying again");
                tokio::time::sleep(backoff(tries)).await;
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Whether `error` failed only on the database, unreachable or busy, so that the same
/// request (a mutation with the same idempotency key) may succeed when sent again.
pub fn retryable(error: &Error) -> bool {
    matches!(error, Error::Db(e) if is_unavailable(e) || is_transient(e))
}

/// The driver's error beneath `e`, if the driver raised it.
fn sqlx_error(e: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    }
}

/// Whether `e` is a conflict that a second try of the same transaction can get past.
pub fn is_transient(e: &DbErr) -> bool {
    let Some(code) = sqlx_error(e).and_then(|e| e.as_database_error()).and_then(|d| d.code()) else {
        return false;
    };
    // PostgreSQL: serialization_failure, deadlock_detected.
    // SQLite: BUSY, LOCKED and their extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, ...).
    matches!(
        code.as_ref(),
        "40001" | "40P01" | "5" | "6" | "261" | "517" | "773" | "262"
    )
}

/// Whether the request failed only because the database could not be reached: no
/// connection within the pool's timeout, a connection lost, or PostgreSQL shutting
/// down or starting up. The transaction did not commit, unless the connection was
/// lost while COMMIT was in flight; either way a retry with the same idempotency key
/// acts at most once.
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    if matches!(e, DbErr::ConnectionAcquire(_)) {
        return true;
    }
    match sqlx_error(e) {
        Some(Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed) => true,
        // PostgreSQL: connection_exception (08xxx), admin_shutdown, crash_shutdown,
        // cannot_connect_now.
        Some(e) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
        None => false,
    }
}
