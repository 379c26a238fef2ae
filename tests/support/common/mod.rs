//! Test support: a fresh database per test, SQLite always and PostgreSQL when
//! `TEST_DATABASE_URL` is set, and ledgers over them on a manual clock.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::db::connect_and_migrate_pool;
use studio_bff::ledger::{ApplyRequest, Ledger, MAX_CLAIM, RenderResult};

pub mod audit;

/// A fresh, empty, migrated database for one test.
pub struct TestDb {
    pub url: String,
    /// Keeps a SQLite file's folder until the test ends.
    pub _dir: Option<tempfile::TempDir>,
}

/// A PostgreSQL test's schema and role are dropped when the test ends, so runs leave
/// nothing behind. A test still holding locks in it delays that by at most the lock
/// timeout, and then the schema is left for `DROP SCHEMA` by hand (said on stderr).
impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(role) = self.test_role().map(str::to_owned) else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = Database::connect(direct_url()).await?;
                admin.execute_unprepared("SET lock_timeout = '5s'").await?;
                admin
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {role} CASCADE"))
                    .await?;
                admin.execute_unprepared(&format!("DROP ROLE IF EXISTS {role}")).await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("the test schema of {} was left behind: {e}", self.url);
        }
    }
}

impl TestDb {
    /// A new SQLite file in a temporary folder.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.sqlite").display());
        TestDb { url, _dir: Some(dir) }
    }

    /// A new schema in the PostgreSQL database of `TEST_DATABASE_URL`, with a login
    /// role of the same name that owns it: PostgreSQL's default search path
    /// (`"$user", public`) finds the test's tables in it, on every connection and with
    /// nothing set per session, so a pooler in transaction mode carries it too (it
    /// keeps a pool per role). Unset or unreachable is a failure, never a silent pass:
    /// a test that calls this is marked `#[cfg_attr(not(postgres_tests), ignore =
    /// ...)]` (see `build.rs`), so without the variable it is reported as ignored.
    pub async fn postgres() -> TestDb {
        let base = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL must name a PostgreSQL database for a PostgreSQL test");
        let role = format!("test_{}", rand::random::<u64>());
        let admin = admin().await;
        admin
            .execute_unprepared(&format!(
                "CREATE ROLE {role} LOGIN SUPERUSER; CREATE SCHEMA {role} AUTHORIZATION {role}"
            ))
            .await
            .expect("create a test role and schema");
        admin.close().await.expect("close the admin connection");
        TestDb {
            url: with_user(&base, &role),
            _dir: None,
        }
    }

    /// The `listen_database_url` of a service on this database: PostgreSQL itself when
    /// the test goes through a pooler ([`listen_url`]).
    pub fn listen_database_url(&self) -> Option<studio_bff::secret::Secret> {
        listen_url(&self.url).map(Into::into)
    }

    /// The test's role and schema, when this is a database of [`TestDb::postgres`].
    fn test_role(&self) -> Option<&str> {
        user_of(&self.url).filter(|user| user.starts_with("test_"))
    }

    /// A ledger over this database whose manual clock stands at `now`.
    pub async fn ledger(&self, config: Config, now: DateTime<Utc>) -> Ledger {
        self.ledger_with_pool(config, now, 4).await
    }

    /// A ledger over up to `pool_size` connections to this database.
    pub async fn ledger_with_pool(&self, config: Config, now: DateTime<Utc>, pool_size: u32) -> Ledger {
        let db = connect_and_migrate_pool(&self.url, pool_size)
            .await
            .expect("connect and migrate");
        let config = Config {
            listen_database_url: config.listen_database_url.or(self.listen_database_url()),
            ..config
        };
        Ledger::new(db, Arc::new(config), Clock::manual_at(now))
            .await
            .expect("a ledger")
    }
}

impl TestDb {
    /// Waits up to 2 s until `n` instances listen for balance changes on this
    /// database's channel (PostgreSQL).
    pub async fn wait_for_listeners(&self, n: usize) {
        let admin = admin().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while admin
            .query_all_raw(self.listeners("pid"))
            .await
            .expect("pg_stat_activity")
            .len()
            < n
        {
            assert!(tokio::time::Instant::now() < deadline, "{n} listeners within 2 s");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Terminates the listening connections of this database's channel once at least
    /// one listens; how many were killed.
    pub async fn kill_listeners(&self) -> usize {
        self.wait_for_listeners(1).await;
        admin()
            .await
            .query_all_raw(self.listeners("pg_terminate_backend(pid)"))
            .await
            .expect("pg_terminate_backend")
            .len()
    }

    /// A statement selecting `what` from the listening connections of this test
    /// schema's channel, named after the schema.
    fn listeners(&self, what: &str) -> Statement {
        let schema = self.test_role().expect("a test schema");
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT {what} FROM pg_stat_activity \
                 WHERE application_name = 'studio-bff listener' AND query = $1"
            ),
            [format!("LISTEN \"balance_changed:{schema}\"").into()],
        )
    }
}

/// A connection to PostgreSQL itself ([`direct_url`]) outside any test schema.
async fn admin() -> sea_orm::DatabaseConnection {
    Database::connect(direct_url())
        .await
        .expect("TEST_DIRECT_DATABASE_URL or TEST_DATABASE_URL must answer")
}

/// PostgreSQL itself: `TEST_DIRECT_DATABASE_URL` when `TEST_DATABASE_URL` names a
/// pooler in transaction mode (`.ci/run`), else `TEST_DATABASE_URL`. What needs a
/// session of its own goes there: the listener, and the tests' own administration.
pub fn direct_url() -> String {
    std::env::var("TEST_DIRECT_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .expect("TEST_DATABASE_URL")
}

/// The `listen_database_url` for a service on `url`, a test database through the
/// pooler: the same role on PostgreSQL itself. None without a pooler, on SQLite, or
/// on a cluster of a test's own (`db_faults`): the listener then connects where the
/// pool does.
pub fn listen_url(url: &str) -> Option<String> {
    let direct = std::env::var("TEST_DIRECT_DATABASE_URL").ok()?;
    let pooler = std::env::var("TEST_DATABASE_URL").ok()?;
    let (user, host) = user_and_host(url)?;
    (Some(host) == user_and_host(&pooler).map(|(_, host)| host)).then(|| with_user(&direct, user))
}

/// The user a PostgreSQL `url` logs in as, if it names one.
fn user_of(url: &str) -> Option<&str> {
    user_and_host(url).map(|(user, _)| user)
}

/// The user a PostgreSQL `url` logs in as and the `host:port` it goes to.
fn user_and_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (userinfo, rest) = rest.split_once('@').filter(|(userinfo, _)| !userinfo.contains('/'))?;
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    scheme.starts_with("postgres").then_some((user, host))
}

/// `url` logging in as `user` (without a password: the test cluster trusts its
/// local connections).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let host = match rest.split_once('@') {
        Some((userinfo, host)) if !userinfo.contains('/') => host,
        _ => rest,
    };
    format!("{scheme}://{user}@{host}")
}

/// Parses an RFC 3339 instant.
pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid instant")
}

/// Declares each test twice, as `name::sqlite` and `name::postgres`, each given a
/// fresh `TestDb`. The PostgreSQL copy returns at once when `TEST_DATABASE_URL` is unset.
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $db = $crate::common::TestDb::sqlite().await;
                $body
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
            async fn postgres() {
                let $db = $crate::common::TestDb::postgres().await;
                $body
            }
        }
        $crate::on_both_databases!($($rest)*);
    };
    () => {};
}

/// Renders every queued edit, as a render service that answers at once would, so
/// that no charge is given back when the clock moves past `render_give_up_minutes`.
pub async fn render_all(ledger: &Ledger) {
    loop {
        let jobs = ledger.claim_render_jobs(MAX_CLAIM).await.expect("claim");
        if jobs.is_empty() {
            return;
        }
        for job in jobs {
            let done = RenderResult::Ready {
                image_url: format!("https://cdn.example/{}.png", job.edit.id),
            };
            ledger.finish_render(job.claim, &done).await.expect("complete");
        }
    }
}

/// Applies "showroom" to `photos` new photos of `account_id` under idempotency key
/// `key`; the edits' ids.
pub async fn apply_new_photos(ledger: &Ledger, account_id: i64, photos: usize, key: &str) -> Vec<i64> {
    let registered: Vec<(String, String)> = (0..photos)
        .map(|i| (format!("l{i}"), format!("https://img.example/{key}/{i}.jpg")))
        .collect();
    let photo_ids = ledger
        .register_photos(account_id, &registered)
        .await
        .expect("photos")
        .into_iter()
        .map(|p| p.id)
        .collect();
    let request = ApplyRequest {
        photo_ids,
        background_id: "showroom".into(),
        logo: None,
        idempotency_key: key.into(),
    };
    ledger
        .apply_changes(account_id, &request)
        .await
        .expect("an apply")
        .outcome
        .edit_ids
}
