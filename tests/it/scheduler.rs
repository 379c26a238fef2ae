//! The clock alone makes things happen: with no request, the scheduler that the
//! started service runs writes the expiry and the reset when the clock passes them.

use std::time::Duration;

use crate::api_support::SECRET;
use crate::common::utc;
use entity::enums::{EntryKind, PlanCode};
use studio_bff::app::App;
use studio_bff::clock::Clock;
use studio_bff::config::Config;

on_both_databases! {
    async fn the_scheduler_resets_a_cycle_without_any_request(db) {
        let config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(db.url.as_str().into()),
            listen_database_url: db.listen_database_url(),
            jwt_secret: Some(SECRET.into()),
            ..Config::default()
        };
        let app = App::build_with(config, Clock::manual_at(utc("2026-11-30T23:59:00Z"))).await.unwrap();
        let ledger = app.ledger().clone();
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let mut watch = app.hub().watch(account.id);
        let before = watch.next().await.expect("the current balance");

        // Move the clock only: no ledger call, no request.
        ledger.clock().set(utc("2026-12-01T00:00:01Z")).unwrap();
        let pushed = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;

        assert_eq!(before.monthly.cycle_start, utc("2026-11-01T00:00:00Z"));
        let after = pushed.expect("a push within 5 s").expect("a balance");
        assert_eq!(after.monthly.cycle_start, utc("2026-12-01T00:00:00Z"));
        let kinds: Vec<(EntryKind, i32, String)> =
            ledger.entries(account.id).await.unwrap().into_iter().map(|e| (e.kind, e.amount, e.created_at.to_rfc3339())).collect();
        assert_eq!(kinds, vec![
            (EntryKind::Grant, 10, "2026-11-30T23:59:00+00:00".to_owned()),
            (EntryKind::Expiry, -10, "2026-12-01T00:00:00+00:00".to_owned()),
            (EntryKind::Grant, 10, "2026-12-01T00:00:00+00:00".to_owned()),
        ]);
    }
}

/// SQLite only: a write that waits for its lock past the busy timeout (10 s) is told
/// "database is locked"; PostgreSQL waits for its locks instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_a_pass_waits_out_a_write_lock_held_past_the_busy_timeout() {
    use sea_orm::sqlx::{Connection, Executor, SqliteConnection};

    let db = crate::common::TestDb::sqlite().await;
    let ledger = db.ledger(Config::default(), utc("2026-11-15T12:00:00Z")).await;
    let mut holder = SqliteConnection::connect(&db.url)
        .await
        .expect("a connection of its own");
    holder.execute("BEGIN IMMEDIATE").await.expect("the write lock");
    let held = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(11)).await;
        holder.execute("COMMIT").await.expect("the lock let go");
    });

    let pass = ledger.process_due().await;

    held.await.expect("the holder ends");
    let pass = pass.expect("the pass waits for the lock rather than failing");
    assert!(pass.changed.is_empty() && pass.failed.is_empty());
}
