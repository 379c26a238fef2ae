//! Live edits (`editChanged`, `studio_bff::live`): a subscriber first gets nothing,
//! then every change of an edit of its account, each once, also changes made by
//! another instance, by the clock's give-up, or while the listening connection was
//! down; and nothing of other accounts.
use std::time::Duration;

use crate::common::{TestDb, apply_new_photos, render_all, utc};
use entity::enums::{EditStatus, PlanCode};
use studio_bff::config::Config;
use studio_bff::live::{EditWatch, Hub};
use studio_bff::reads::EditRow;

const NOW: &str = "2026-11-24T10:00:00Z";

/// The next changed edit, within `within`.
async fn next_within(watch: &mut EditWatch, within: Duration) -> EditRow {
    (*tokio::time::timeout(within, watch.next())
        .await
        .expect("an edit in time")
        .expect("the hub is alive"))
    .clone()
}

/// Nothing arrives on the watch for `quiet`.
async fn assert_quiet(watch: &mut EditWatch, quiet: Duration) {
    if let Ok(pushed) = tokio::time::timeout(quiet, watch.next()).await {
        panic!("expected nothing, got {pushed:?}");
    }
}

const SOON: Duration = Duration::from_secs(2);

on_both_databases! {
    async fn a_subscriber_first_gets_nothing_then_each_change_of_its_accounts_edits(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        let account = ledger.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
        let other = ledger.create_account("B", PlanCode::Professional, 4, None).await.unwrap();
        let before = apply_new_photos(&ledger, account.id, 1, "k0").await;
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch_edits(account.id);
        assert_quiet(&mut watch, Duration::from_millis(300)).await;

        let edits = apply_new_photos(&ledger, account.id, 2, "k1").await;
        let first = next_within(&mut watch, SOON).await;
        let second = next_within(&mut watch, SOON).await;
        apply_new_photos(&ledger, other.id, 1, "k2").await;
        render_all(&ledger).await;
        let mut rendered = Vec::new();
        for _ in 0..3 {
            rendered.push(next_within(&mut watch, SOON).await);
        }

        assert_eq!((first.id, first.status), (edits[0], EditStatus::Rendering));
        assert_eq!((second.id, second.status), (edits[1], EditStatus::Rendering));
        let mut ids: Vec<i64> = rendered.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![before[0], edits[0], edits[1]], "A's edits only, each once");
        assert!(rendered.iter().all(|e| e.status == EditStatus::Ready && e.image_url.is_some()));
        assert_quiet(&mut watch, Duration::from_millis(300)).await;
    }

    async fn the_clocks_give_up_reaches_the_subscriber_as_failed_and_refunded(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        let account = ledger.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
        let edits = apply_new_photos(&ledger, account.id, 1, "k1").await;
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch_edits(account.id);
        assert_quiet(&mut watch, Duration::from_millis(300)).await;

        ledger.set_clock(utc("2026-11-24T10:30:00Z")).await.unwrap();

        let failed = next_within(&mut watch, SOON).await;
        assert_eq!((failed.id, failed.status), (edits[0], EditStatus::Failed));
        assert_eq!(failed.failure_reason.as_deref(), Some("timed out"));
        assert_eq!(failed.refunded_at, Some(utc("2026-11-24T10:30:00Z")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_an_edit_changed_on_one_instance_reaches_subscribers_on_the_other_after_a_lost_listener_too() {
    let db = TestDb::postgres().await;
    let one = db.ledger(Config::default(), utc(NOW)).await;
    let other = db.ledger(Config::default(), utc(NOW)).await;
    let account = one.create_account("A", PlanCode::Professional, 4, None).await.unwrap();
    let hub = Hub::start(one);
    let mut watch = hub.watch_edits(account.id);
    assert_quiet(&mut watch, Duration::from_millis(300)).await;

    let edits = apply_new_photos(&other, account.id, 1, "k1").await;
    assert_eq!(next_within(&mut watch, SOON).await.id, edits[0]);

    // Kill the listening connection, then finish the render on the other instance at
    // once: the notification or the read after reconnecting brings it, once.
    assert_eq!(db.kill_listeners().await, 1, "exactly this hub's listening connection");
    render_all(&other).await;
    let ready = next_within(&mut watch, SOON).await;
    assert_eq!((ready.id, ready.status), (edits[0], EditStatus::Ready));
    assert_quiet(&mut watch, Duration::from_millis(500)).await;
}
