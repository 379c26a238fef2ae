//! The balance's warnings (rules §5): `expiringSoon`, the credits that expire within
//! `expiry_warning_days`, and `low`, below `low_balance_threshold` but never for
//! premium under its cap; both pushed live when they change, also when only time
//! made them change; on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use crate::api_support::TestApp;
use crate::common::{TestDb, render_all, utc};
use entity::enums::{Bucket, PlanCode};
use serde_json::json;
use studio_bff::config::Config;
use studio_bff::ledger::{ApplyRequest, DuePass};
use studio_bff::live::{BalanceWatch, Hub};
use studio_bff::rules::balance::{Breakdown, NextExpiry};
use studio_bff::scheduler;

/// A BASIC account (no monthly credits) with the pack basic-small (100 credits) bought
/// at 2026-11-24T10:00Z: it expires 2027-11-24T10:00Z and enters the 7-day window at
/// 2027-11-17T10:00Z.
const BOUGHT: &str = "2026-11-24T10:00:00Z";
const ENTERS_WINDOW: &str = "2027-11-17T10:00:00Z";
const JUST_BEFORE: &str = "2027-11-17T09:59:59Z";

fn the_pack_expiring_soon() -> Option<NextExpiry> {
    Some(NextExpiry {
        credits: 100,
        at: utc("2027-11-24T10:00:00Z"),
        bucket: Bucket::Purchased,
    })
}

async fn next_within(watch: &mut BalanceWatch, within: Duration) -> Arc<Breakdown> {
    tokio::time::timeout(within, watch.next())
        .await
        .expect("a balance in time")
        .expect("the hub is alive")
}

async fn assert_quiet(watch: &mut BalanceWatch, quiet: Duration) {
    if let Ok(pushed) = tokio::time::timeout(quiet, watch.next()).await {
        panic!("expected no balance, got {pushed:?}");
    }
}

/// The header's balance of `account_id`, as its member reads it.
async fn header(app: &TestApp, account_id: i64) -> serde_json::Value {
    app.op(&app.member(account_id), "HeaderBalanceInitial", json!({})).await["viewer"]["account"]["balance"].clone()
}

on_both_databases! {
    async fn the_clock_alone_pushes_a_lot_entering_the_warning_window(db) {
        let ledger = db.ledger(Config::default(), utc(BOUGHT)).await;
        let account = ledger.create_account("A", PlanCode::Basic, 1, None).await.unwrap();
        ledger.purchase_pack(account.id, "basic-small", "buy-1").await.unwrap();
        let hub = Hub::start(ledger.clone());
        let mut watch = hub.watch(account.id);
        assert_eq!(next_within(&mut watch, Duration::from_secs(2)).await.expiring_soon, None);
        // A year of resets first (BASIC: no credits), then nothing else happens.
        ledger.set_clock(utc(JUST_BEFORE)).await.unwrap();
        let before = next_within(&mut watch, Duration::from_secs(2)).await;
        assert_quiet(&mut watch, Duration::from_millis(300)).await;
        let scheduler = scheduler::spawn(ledger.clone());

        // Move the clock only: no ledger call, no request, no write.
        ledger.clock().set(utc(ENTERS_WINDOW)).unwrap();
        let entered = next_within(&mut watch, Duration::from_secs(3)).await;
        ledger.clock().set(utc("2027-11-18T10:00:00Z")).unwrap();
        assert_quiet(&mut watch, Duration::from_millis(1500)).await;
        scheduler.abort();

        assert_eq!((before.available, before.expiring_soon, before.low), (100, None, false));
        assert_eq!(entered.expiring_soon, the_pack_expiring_soon());
        assert_eq!((entered.available, entered.low, entered.monthly.clone()), (100, false, before.monthly.clone()));
    }

    async fn a_pass_announces_an_account_once_when_its_lot_enters_the_window(db) {
        let ledger = db.ledger(Config::default(), utc(BOUGHT)).await;
        let account = ledger.create_account("A", PlanCode::Basic, 1, None).await.unwrap();
        let spent = ledger.create_account("Spent", PlanCode::Basic, 1, None).await.unwrap();
        ledger.purchase_pack(account.id, "basic-small", "buy-1").await.unwrap();
        ledger.purchase_pack(spent.id, "basic-small", "buy-2").await.unwrap();
        let photos = ledger
            .register_photos(spent.id, &(0..100).map(|i| (format!("l{i}"), format!("https://img.example/{i}.jpg"))).collect::<Vec<_>>())
            .await
            .unwrap();
        let request = ApplyRequest {
            photo_ids: photos.iter().map(|p| p.id).collect(),
            background_id: "showroom".into(),
            logo: None,
            idempotency_key: "spend-all".into(),
        };
        ledger.apply_changes(spent.id, &request).await.unwrap();
        render_all(&ledger).await;
        ledger.set_clock(utc(JUST_BEFORE)).await.unwrap();

        ledger.clock().set(utc(ENTERS_WINDOW)).unwrap();
        let entering = ledger.process_due().await.unwrap();
        let again = ledger.process_due().await.unwrap();

        // The used-up lot of `spent` has nothing to warn of.
        assert_eq!(entering, DuePass { changed: vec![], failed: vec![], warned: vec![account.id] });
        assert_eq!(again, DuePass::default());
        let balance = ledger.balance(&account).await.unwrap();
        assert_eq!(balance.expiring_soon, the_pack_expiring_soon());
        assert_eq!(ledger.balance(&spent).await.unwrap().expiring_soon, None);
    }

    async fn the_header_shows_low_and_expiring_soon_and_a_charge_below_the_threshold_is_pushed(db) {
        let app = TestApp::start(&db, Config::default()).await;
        // Professional, 2 slots: 10 monthly credits, which expire at the reset of
        // 1 December, within 7 days of 24 November.
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let premium = app.ledger.create_account("P", PlanCode::Premium, 1, None).await.unwrap();
        let hub = Hub::start(app.ledger.clone());
        let mut watch = hub.watch(account.id);
        let first = next_within(&mut watch, Duration::from_secs(2)).await;
        let at_ten = header(&app, account.id).await;

        app.charge_one(account.id, "k1").await;
        let pushed = next_within(&mut watch, Duration::from_secs(2)).await;
        let at_nine = header(&app, account.id).await;
        let premium_header = header(&app, premium.id).await;

        assert_eq!((first.available, first.low), (10, false));
        assert_eq!((pushed.available, pushed.low), (9, true));
        assert_eq!(at_ten["low"], false);
        assert_eq!(at_ten["expiringSoon"], json!({"credits": 10, "at": "2026-12-01T00:00:00Z"}));
        assert_eq!(at_nine["low"], true);
        assert_eq!(at_nine["expiringSoon"], json!({"credits": 9, "at": "2026-12-01T00:00:00Z"}));
        assert_eq!(
            (&premium_header["unlimited"], &premium_header["low"], &premium_header["expiringSoon"]),
            (&json!(true), &json!(false), &json!({"credits": 2000, "at": "2026-12-01T00:00:00Z"}))
        );
    }
}

/// Two instances on one PostgreSQL database: the pass of the one whose scheduler
/// noticed the lot entering the window reaches the watchers of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_a_lot_entering_the_window_reaches_watchers_on_every_instance() {
    let db = TestDb::postgres().await;
    let one = db.ledger(Config::default(), utc(BOUGHT)).await;
    let other = db.ledger(Config::default(), utc(BOUGHT)).await;
    let account = one.create_account("A", PlanCode::Basic, 1, None).await.unwrap();
    one.purchase_pack(account.id, "basic-small", "buy-1").await.unwrap();
    one.set_clock(utc(JUST_BEFORE)).await.unwrap();
    other.clock().set(utc(JUST_BEFORE)).unwrap();
    let hub = Hub::start(one.clone());
    db.wait_for_listeners(1).await;
    let mut watch = hub.watch(account.id);
    assert_eq!(
        next_within(&mut watch, Duration::from_secs(2)).await.expiring_soon,
        None
    );

    // Time moves on both; only the other instance runs a pass.
    one.clock().set(utc(ENTERS_WINDOW)).unwrap();
    other.clock().set(utc(ENTERS_WINDOW)).unwrap();
    let pass = other.process_due().await.unwrap();

    assert_eq!(pass.warned, vec![account.id]);
    let pushed = next_within(&mut watch, Duration::from_secs(2)).await;
    assert_eq!(pushed.expiring_soon, the_pack_expiring_soon());
}
