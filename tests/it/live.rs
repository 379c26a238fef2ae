//! Live balances (`studio_bff::live`): a watcher gets the current balance, then the
//! balance after each committed change of its account, also changes made by another
//! instance, by the clock alone, or while the listening connection was down; and
//! nothing of other accounts.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{TestDb, apply_new_photos, utc};
use entity::enums::PlanCode;
use studio_bff::config::Config;
use studio_bff::ledger::Ledger;
use studio_bff::live::{BalanceWatch, Hub};
use studio_bff::metrics::Metrics;
use studio_bff::rules::balance::Breakdown;
use studio_bff::scheduler;

const NOW: &str = "2026-11-24T10:00:00Z";

/// The next balance the watch shows, within `within`.
async fn next_within(watch: &mut BalanceWatch, within: Duration) -> Arc<Breakdown> {
    tokio::time::timeout(within, watch.next())
        .await
        .expect("a balance in time")
        .expect("the hub is alive")
}

/// Nothing arrives on the watch for `quiet`.
async fn assert_quiet(watch: &mut BalanceWatch, quiet: Duration) {
    if let Ok(pushed) = tokio::time::timeout(quiet, watch.next()).await {
        panic!("expected no balance, got {pushed:?}");
    }
}

/// Charges `photos` new photos of `account_id` on `ledger`.
async fn charge(ledger: &Ledger, account_id: i64, photos: usize, key: &str) {
    assert_eq!(apply_new_photos(ledger, account_id, photos, key).await.len(), photos);
}

on_both_databases! {
    async fn a_watcher_gets_the_balance_then_each_committed_change(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        // Professional, 4 slots: 20 monthly credits.
        let account = ledger.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch(account.id);

        let first = next_within(&mut watch, Duration::from_secs(2)).await;
        charge(&ledger, account.id, 3, "key-00000001").await;
        let after_charge = next_within(&mut watch, Duration::from_secs(2)).await;
        ledger.purchase_pack(account.id, "pro-small", "key-00000002").await.unwrap();
        let after_purchase = next_within(&mut watch, Duration::from_secs(2)).await;
        ledger.update_subscription(account.id, PlanCode::Professional, 6, None).await.unwrap();
        let after_upgrade = next_within(&mut watch, Duration::from_secs(2)).await;

        assert_eq!((first.available, first.monthly.remaining), (20, 20));
        assert_eq!((after_charge.available, after_charge.monthly.remaining), (17, 17));
        assert_eq!((after_purchase.available, after_purchase.purchased_remaining), (42, 25));
        // 6 slots grant 30: the monthly lot is raised by 10.
        assert_eq!((after_upgrade.available, after_upgrade.monthly.granted), (52, 30));
        assert_quiet(&mut watch, Duration::from_millis(300)).await;
    }

    async fn a_watcher_of_another_account_gets_nothing(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        let mine = ledger.create_account("Mine", PlanCode::Professional, 4, None).await.unwrap();
        let other = ledger.create_account("Other", PlanCode::Professional, 4, None).await.unwrap();
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch(mine.id);
        assert_eq!(next_within(&mut watch, Duration::from_secs(2)).await.available, 20);

        charge(&ledger, other.id, 2, "key-00000003").await;
        ledger.purchase_pack(other.id, "pro-small", "key-00000004").await.unwrap();

        assert_quiet(&mut watch, Duration::from_millis(500)).await;
    }

    async fn the_clock_alone_pushes_the_reset(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-30T23:59:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch(account.id);
        assert_eq!(next_within(&mut watch, Duration::from_secs(2)).await.available, 10);
        charge(&ledger, account.id, 4, "key-00000005").await;
        let before = next_within(&mut watch, Duration::from_secs(2)).await;
        let scheduler = scheduler::spawn(ledger.clone());

        // Move the clock only: no ledger call, no request.
        ledger.clock().set(utc("2026-12-01T00:00:01Z")).unwrap();
        let after = next_within(&mut watch, Duration::from_secs(3)).await;
        scheduler.abort();

        assert_eq!((before.available, before.monthly.resets_at), (6, utc("2026-12-01T00:00:00Z")));
        assert_eq!(after.available, 10);
        assert_eq!(after.monthly.cycle_start, utc("2026-12-01T00:00:00Z"));
        assert_eq!(after.monthly.resets_at, utc("2027-01-01T00:00:00Z"));
    }

    async fn the_last_watcher_gone_the_account_is_no_longer_read(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        let a = ledger.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
        let b = ledger.create_account("B", PlanCode::Professional, 4, None).await.unwrap();
        let hub = Hub::start(ledger.clone());
        let mut first = hub.watch(a.id);
        let mut second = hub.watch(a.id);
        let third = hub.watch(b.id);
        assert_eq!(next_within(&mut first, Duration::from_secs(2)).await.available, 20);
        assert_eq!(next_within(&mut second, Duration::from_secs(2)).await.available, 20);
        assert_eq!(hub.watched_accounts(), 2);

        drop(first);
        assert_eq!(hub.watched_accounts(), 2);
        drop(second);
        drop(third);
        assert_eq!(hub.watched_accounts(), 0);
    }
}

/// Two instances on one PostgreSQL database, each with its own pool: an account of
/// 20 credits watched on the first (its hub and watch, which has seen the 20, and its
/// metrics), and the other instance's ledger.
async fn watched_on_one_of_two(db: &TestDb) -> (Hub, BalanceWatch, Ledger, i64, Metrics) {
    let one = db.ledger(Config::default(), utc(NOW)).await;
    let metrics = one.metrics().clone();
    let other = db.ledger(Config::default(), utc(NOW)).await;
    let account = one.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
    let hub = Hub::start(one);
    let mut watch = hub.watch(account.id);
    assert_eq!(next_within(&mut watch, Duration::from_secs(2)).await.available, 20);
    (hub, watch, other, account.id, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_a_change_on_one_instance_reaches_watchers_on_the_other() {
    let db = TestDb::postgres().await;
    let (_hub, mut watch, other, account_id, _) = watched_on_one_of_two(&db).await;

    charge(&other, account_id, 5, "key-00000006").await;

    assert_eq!(next_within(&mut watch, Duration::from_secs(1)).await.available, 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_a_killed_listening_connection_is_replaced_and_nothing_stays_stale() {
    let db = TestDb::postgres().await;
    let (_hub, mut watch, other, account_id, hub_metrics) = watched_on_one_of_two(&db).await;
    assert!(
        hub_metrics
            .render()
            .contains("studio_live_listener_reconnects_total 0\n")
    );
    // Kill this test's listening connection, then change the balance on the other
    // instance at once, before the listener could be back.
    assert_eq!(db.kill_listeners().await, 1, "exactly this hub's listening connection");
    charge(&other, account_id, 5, "key-00000007").await;

    // Either the notification or the read after reconnecting brings 15, within 2 s.
    let mut latest = 20;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while latest != 15 {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        latest = next_within(&mut watch, left).await.available;
    }
    let reconnects = "studio_live_listener_reconnects_total 1\n";
    assert!(hub_metrics.render().contains(reconnects), "{}", hub_metrics.render());

    // And the new connection hears the next change.
    charge(&other, account_id, 2, "key-00000008").await;
    assert_eq!(next_within(&mut watch, Duration::from_secs(1)).await.available, 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_instances_of_other_schemas_share_no_channel() {
    let (db_a, db_b) = (TestDb::postgres().await, TestDb::postgres().await);
    let ledger_a = db_a.ledger(Config::default(), utc(NOW)).await;
    let ledger_b = db_b.ledger(Config::default(), utc(NOW)).await;
    // Both schemas number their first account 1.
    let account_a = ledger_a
        .create_account("A", PlanCode::Professional, 4, None)
        .await
        .unwrap();
    let account_b = ledger_b
        .create_account("B", PlanCode::Professional, 4, None)
        .await
        .unwrap();
    assert_eq!(account_a.id, account_b.id);
    let hub = Hub::start(ledger_a.clone());
    let mut watch = hub.watch(account_a.id);
    assert_eq!(next_within(&mut watch, Duration::from_secs(2)).await.available, 20);
    // The listener is up before the change it must not hear.
    db_a.wait_for_listeners(1).await;

    charge(&ledger_b, account_b.id, 3, "key-00000009").await;

    assert_quiet(&mut watch, Duration::from_millis(500)).await;
}
