//! `credits.expiring` (rules §6): once per lot, when it enters the warning window
//! (`expiry_warning_days`) with credits left, written in the account's transaction that
//! notices it: the clock's pass, stamped with the instant it entered (a jump writes what
//! daily steps would), or the grant of a lot inside the window already. Never for a lot
//! used up before its window, never twice, whatever the passes and instances. On SQLite
//! and PostgreSQL.

use crate::common::{render_all, utc};
use entity::enums::PlanCode;
use entity::webhook_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use studio_bff::auth::Role;
use studio_bff::config::Config;
use studio_bff::ledger::{Actor, ApplyRequest, Ledger, RenderResult};

/// BASIC accounts (no monthly credits) buy basic-small (100 credits) from here: a pack
/// bought now expires 2027-11-24T10:00Z and enters the 7-day window 2027-11-17T10:00Z.
const BOUGHT: &str = "2026-11-24T10:00:00Z";

/// The `credits.expiring` events written, oldest first: account, timestamp and lot.
async fn told(ledger: &Ledger) -> Vec<(i64, String, serde_json::Value)> {
    webhook_event::Entity::find()
        .filter(webhook_event::Column::EventType.eq("credits.expiring"))
        .order_by_asc(webhook_event::Column::Id)
        .all(ledger.db())
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
            let timestamp = body["timestamp"].as_str().unwrap().to_owned();
            (e.account_id.unwrap(), timestamp, body["data"]["lot"].clone())
        })
        .collect()
}

/// The id of the lot `account_id` bought with `key`.
async fn lot_bought(ledger: &Ledger, account_id: i64, key: &str) -> i64 {
    let bought = ledger.purchase_pack(account_id, "basic-small", key).await.unwrap();
    bought.outcome.lot_id
}

fn pack_expiring(lot_id: i64, credits: i32, expires_at: &str) -> serde_json::Value {
    json!({"id": lot_id, "bucket": "PURCHASED", "credits": credits, "expiresAt": expires_at})
}

on_both_databases! {
    async fn a_clock_jump_into_the_window_tells_each_lot_once_at_its_own_instant_and_moving_on_tells_nothing(db) {
        let ledger = db.ledger(Config::default(), utc(BOUGHT)).await;
        let one = ledger.create_account("One", PlanCode::Basic, 1, None).await.unwrap().id;
        let spent = ledger.create_account("Spent", PlanCode::Basic, 1, None).await.unwrap().id;
        let first = lot_bought(&ledger, one, "one-1").await;
        let used_up = lot_bought(&ledger, spent, "spent-1").await;
        let photos = ledger
            .register_photos(spent, &(0..100).map(|i| (format!("l{i}"), format!("https://img.example/{i}.jpg"))).collect::<Vec<_>>())
            .await
            .unwrap();
        let request = ApplyRequest {
            photo_ids: photos.iter().map(|p| p.id).collect(),
            background_id: "showroom".into(),
            logo: None,
            idempotency_key: "spend-all".into(),
        };
        ledger.apply_changes(spent, &request).await.unwrap();
        render_all(&ledger).await;
        ledger.set_clock(utc("2026-11-25T10:00:00Z")).await.unwrap();
        let second = lot_bought(&ledger, one, "one-2").await;
        ledger.set_clock(utc("2027-11-17T09:59:59Z")).await.unwrap();
        let before = told(&ledger).await;

        ledger.set_clock(utc("2027-11-20T00:00:00Z")).await.unwrap();
        let entered = told(&ledger).await;
        ledger.set_clock(utc("2027-11-23T00:00:00Z")).await.unwrap();
        ledger.process_due().await.unwrap();
        ledger.set_clock(utc("2027-11-26T00:00:00Z")).await.unwrap();

        assert_eq!(before, vec![]);
        assert_eq!(
            entered,
            vec![
                (one, "2027-11-17T10:00:00Z".to_owned(), pack_expiring(first, 100, "2027-11-24T10:00:00Z")),
                (one, "2027-11-18T10:00:00Z".to_owned(), pack_expiring(second, 100, "2027-11-25T10:00:00Z")),
            ]
        );
        assert_eq!(told(&ledger).await, entered, "told once; the used-up lot {used_up} never");
    }

    async fn a_jump_over_the_window_and_the_expiry_tells_the_lot_as_daily_steps_would(db) {
        let ledger = db.ledger(Config::default(), utc(BOUGHT)).await;
        let account = ledger.create_account("A", PlanCode::Basic, 1, None).await.unwrap().id;
        let lot = lot_bought(&ledger, account, "buy").await;

        ledger.set_clock(utc("2028-01-01T00:00:00Z")).await.unwrap();

        assert_eq!(
            told(&ledger).await,
            vec![(account, "2027-11-17T10:00:00Z".to_owned(), pack_expiring(lot, 100, "2027-11-24T10:00:00Z"))]
        );
    }

    async fn a_lot_granted_inside_the_window_is_told_with_its_grant_once(db) {
        // A window of 40 days is longer than any cycle: every monthly lot is granted
        // inside it.
        let config = Config { expiry_warning_days: 40, ..Config::default() };
        let ledger = db.ledger(config, utc(BOUGHT)).await;
        let account = ledger.create_account("Pro", PlanCode::Professional, 2, Some("platform-1")).await.unwrap().id;
        let opened = told(&ledger).await;

        ledger.set_clock(utc("2026-12-02T00:00:00Z")).await.unwrap();
        ledger.process_due().await.unwrap();

        let all = told(&ledger).await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(opened, all[..1]);
        let monthly = |lot: &serde_json::Value, expires_at: &str| {
            assert_eq!((&lot["bucket"], &lot["credits"], &lot["expiresAt"]), (&json!("MONTHLY"), &json!(10), &json!(expires_at)));
        };
        assert_eq!((all[0].0, all[0].1.as_str()), (account, BOUGHT));
        monthly(&all[0].2, "2026-12-01T00:00:00Z");
        // The reset's lot, told at the reset.
        assert_eq!((all[1].0, all[1].1.as_str()), (account, "2026-12-01T00:00:00Z"));
        monthly(&all[1].2, "2027-01-01T00:00:00Z");
        assert_ne!(all[0].2["id"], all[1].2["id"]);
    }

    async fn two_instances_passing_at_once_tell_a_lot_once(db) {
        let one = db.ledger(Config::default(), utc(BOUGHT)).await;
        let other = db.ledger(Config::default(), utc(BOUGHT)).await;
        let accounts = [
            one.create_account("A", PlanCode::Basic, 1, None).await.unwrap().id,
            one.create_account("B", PlanCode::Basic, 1, None).await.unwrap().id,
        ];
        for account in accounts {
            lot_bought(&one, account, &format!("buy-{account}")).await;
        }
        one.set_clock(utc("2027-11-17T09:59:59Z")).await.unwrap();

        one.clock().set(utc("2027-11-18T00:00:00Z")).unwrap();
        other.clock().set(utc("2027-11-18T00:00:00Z")).unwrap();
        let (a, b) = tokio::join!(one.process_due(), other.process_due());
        a.unwrap();
        b.unwrap();

        let accounts_told: Vec<i64> = told(&one).await.into_iter().map(|(account, _, _)| account).collect();
        assert_eq!(accounts_told, accounts);
    }
}

on_both_databases! {
    async fn a_lot_used_up_before_its_window_is_told_only_once_a_refund_gives_it_credits_inside_it(db) {
        // The 10 monthly credits of 24 November expire at the reset of 1 December and
        // enter a 2-day window on 29 November; unfinished renders are given up after 6
        // days, at 30 November 10:00, inside it.
        let config = Config { expiry_warning_days: 2, render_give_up_minutes: 6 * 24 * 60, ..Config::default() };
        let ledger = db.ledger(config, utc(BOUGHT)).await;
        let failed = spent_on_renders(&ledger, "Failed").await;
        let given_up = spent_on_renders(&ledger, "Given up").await;
        ledger.set_clock(utc("2026-11-29T12:00:00Z")).await.unwrap();
        let used_up = told(&ledger).await;

        let renderer = ledger.acting_as(Actor { user_id: "render-service".into(), role: Role::Renderer });
        let job = renderer.claim_render_jobs(1).await.unwrap().remove(0);
        renderer.finish_render(job.claim, &RenderResult::Failed { reason: "model crashed".into() }).await.unwrap();
        ledger.set_clock(utc("2026-11-30T12:00:00Z")).await.unwrap();

        assert_eq!(used_up, vec![]);
        let all = told(&ledger).await;
        let summary: Vec<(i64, &str, &serde_json::Value)> = all.iter().map(|(a, at, lot)| (*a, at.as_str(), &lot["credits"])).collect();
        // The failed account's later give-ups tell nothing again.
        assert_eq!(summary, vec![(failed, "2026-11-29T12:00:00Z", &json!(1)), (given_up, "2026-11-30T10:00:00Z", &json!(10))]);
    }
}

/// A PROFESSIONAL account (10 monthly credits) that spent them all on renders not yet
/// finished.
async fn spent_on_renders(ledger: &Ledger, name: &str) -> i64 {
    let account = ledger
        .create_account(name, PlanCode::Professional, 2, None)
        .await
        .unwrap()
        .id;
    let photos = ledger
        .register_photos(
            account,
            &(0..10)
                .map(|i| (format!("l{i}"), format!("https://img.example/{i}.jpg")))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let request = ApplyRequest {
        photo_ids: photos.iter().map(|p| p.id).collect(),
        background_id: "showroom".into(),
        logo: None,
        idempotency_key: "spend-all".into(),
    };
    ledger.apply_changes(account, &request).await.unwrap();
    account
}
