//! Events for other systems (rules §6): written in the transaction of their change,
//! delivered to a loopback receiver that verifies every signature, in order per
//! account, retried while the receiver is down, FAILED after `webhook_retry_hours`;
//! neither a slow receiver nor a redirect to another host stalls other accounts. On
//! SQLite and PostgreSQL, the manual clock driving the retries.

use std::time::Duration as StdDuration;

use crate::api_support::TestApp;
use crate::api_support::receiver::{Mood, Receiver};
use crate::common::{TestDb, apply_new_photos, utc};
use chrono::Duration;
use entity::enums::PlanCode;
use entity::webhook_event;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use studio_bff::config::Config;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ledger::{ApplyRequest, Ledger, Resolution};
use studio_bff::secret::Secret;

const SECRET: &str = "a webhook secret of thirty-two chars";

async fn events(ledger: &Ledger) -> Vec<webhook_event::Model> {
    webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(ledger.db())
        .await
        .unwrap()
}

/// A warning window of a day: the monthly lots the tests grant on 24 November, a week
/// before the reset, are not inside it, so only the events under test are written.
fn config() -> Config {
    Config {
        expiry_warning_days: 1,
        ..Config::default()
    }
}

/// A ledger posting to `receiver` (none: no worker), on the manual clock.
async fn ledger(db: &TestDb, receiver: Option<&Receiver>, retry_hours: u32) -> Ledger {
    let config = Config {
        webhook_url: receiver.map(|r| r.url.clone()),
        webhook_secret: Some(Secret::new(SECRET)),
        webhook_retry_hours: retry_hours,
        ..config()
    };
    db.ledger(config, utc("2026-11-24T10:00:00Z")).await
}

/// Waits up to 10 s for `done`.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "waited 10 s for {what}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Whether the worker has nothing due: no event in flight, and the first pending
/// event of each account (the only one it may send) waits for a later retry.
async fn settled(ledger: &Ledger) -> bool {
    let stored = events(ledger).await;
    let mut seen = std::collections::BTreeSet::new();
    stored.iter().all(|e| {
        let first_pending = e.status == "PENDING" && seen.insert(e.account_id);
        e.lease_until.is_none() && (!first_pending || e.next_attempt_at > ledger.now())
    })
}

/// Two accounts with 10 credits (never low) that each bought a pack: `invoice.issued`
/// for each.
async fn two_buyers(ledger: &Ledger) -> (i64, i64) {
    let a = ledger
        .create_account("Alpha", PlanCode::Professional, 2, None)
        .await
        .unwrap()
        .id;
    let b = ledger
        .create_account("Bravo", PlanCode::Professional, 2, None)
        .await
        .unwrap()
        .id;
    ledger.purchase_pack(a, "pro-small", "a1").await.unwrap();
    ledger.purchase_pack(b, "pro-small", "b1").await.unwrap();
    (a, b)
}

on_both_databases! {
    async fn each_change_writes_its_event_in_its_transaction_and_a_refusal_or_rollback_writes_none(db) {
        let ledger = ledger(&db, None, 72).await;
        let account = ledger.create_account("Alpha", PlanCode::Basic, 0, Some("platform-1")).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "basic-small", "buy").await.unwrap().outcome;
        let photo = ledger.register_photos(account.id, &[("l".into(), "https://img.example/1.jpg".into())]).await.unwrap()[0].id;
        let request = ApplyRequest { photo_ids: vec![photo], background_id: "showroom".into(), logo: None, idempotency_key: "k".into() };
        ledger.apply_changes(account.id, &request).await.unwrap();
        ledger.report_faulty_photo(account.id, photo, Some("Blurred")).await.unwrap();
        let refused = ledger.void_invoice(bought.invoice_id, "Mistake").await;
        let other = ledger.purchase_pack(account.id, "basic-medium", "buy-2").await.unwrap().outcome;
        // A void that fails after its writes: rolled back, event included.
        let blocker = "INSERT INTO credit_notes (id, invoice_id, account_id, number, year, sequence, issued_at, reason, \
                       subtotal_cents, tax_cents, total_cents, currency) VALUES \
                       (999, 999, 999, 'CN-2026-000001', 2026, 1, '2026-01-01T00:00:00Z', 'blocker', 0, 0, 0, 'EUR')";
        ledger.db().execute_unprepared(blocker).await.unwrap();
        assert!(matches!(ledger.void_invoice(other.invoice_id, "Mistake").await, Err(Error::Db(_))));
        ledger.db().execute_unprepared("DELETE FROM credit_notes WHERE id = 999").await.unwrap();
        ledger.void_invoice(other.invoice_id, "Mistake").await.unwrap();

        assert!(matches!(refused, Err(Error::Refused(r)) if r.code == RefusalCode::PackPartlyUsed));
        let written = events(&ledger).await;
        let types: Vec<&str> = written.iter().map(|e| e.event_type.as_str()).collect();
        // Opened with 0 credits: low; the pack brings it back.
        assert_eq!(
            types,
            ["credits.low", "invoice.issued", "credits.recovered", "report.opened", "invoice.issued", "invoice.voided"]
        );
        assert!(written.iter().all(|e| e.status == "PENDING" && e.attempts == 0 && e.account_id == Some(account.id)));
        let issued: serde_json::Value = serde_json::from_str(&written[1].payload).unwrap();
        assert_eq!(issued["id"], written[1].event_id.as_str());
        assert_eq!(issued["type"], "invoice.issued");
        assert_eq!(issued["timestamp"], "2026-11-24T10:00:00Z");
        assert_eq!(issued["data"]["account"], serde_json::json!({"id": account.id, "externalId": "platform-1", "name": "Alpha"}));
        let invoice = &issued["data"]["invoice"];
        assert_eq!(invoice["number"], "INV-2026-000001");
        assert_eq!((&invoice["subtotalCents"], &invoice["vatPercent"], &invoice["taxCents"], &invoice["totalCents"]),
            (&serde_json::json!(5000), &serde_json::json!(19), &serde_json::json!(950), &serde_json::json!(5950)));
        assert_eq!(invoice["lines"][0]["amountCents"], 5000);
        let voided: serde_json::Value = serde_json::from_str(&written[5].payload).unwrap();
        assert_eq!(voided["data"]["invoice"]["number"], "INV-2026-000002");
        assert_eq!(voided["data"]["creditNote"]["number"], "CN-2026-000001");
        assert_eq!(voided["data"]["creditNote"]["totalCents"], -13388);
        let opened: serde_json::Value = serde_json::from_str(&written[3].payload).unwrap();
        let recovered: serde_json::Value = serde_json::from_str(&written[2].payload).unwrap();
        assert_eq!(recovered["data"]["balance"], serde_json::json!({"available": 100, "threshold": 10}));
        assert_eq!(opened["data"]["report"]["reason"], "Blurred");
    }

    async fn events_arrive_signed_once_each_and_are_marked_delivered(db) {
        let receiver = Receiver::start(SECRET).await;
        let ledger = ledger(&db, Some(&receiver), 72).await;
        let (a, b) = two_buyers(&ledger).await;
        let worker = studio_bff::webhooks::spawn(ledger.clone()).expect("a worker");

        until("two deliveries", || async { events(&ledger).await.iter().all(|e| e.status == "DELIVERED") }).await;
        until("the backlog shown empty", || async {
            ledger.metrics().render().contains("studio_webhook_backlog 0\n")
        })
        .await;
        worker.abort();
        let metrics = ledger.metrics().render();
        assert!(metrics.contains("studio_webhook_deliveries_total{outcome=\"delivered\"} 2\n"), "{metrics}");
        assert!(metrics.contains("studio_webhook_oldest_pending_age_seconds 0\n"), "{metrics}");

        let arrived = receiver.delivered();
        let stored = events(&ledger).await;
        assert_eq!(receiver.forged(), Vec::<String>::new());
        let mut ids: Vec<(i64, String)> = arrived.iter().map(|e| (e.account_id, e.id.clone())).collect();
        ids.sort();
        assert_eq!(ids, vec![(a, stored[0].event_id.clone()), (b, stored[1].event_id.clone())]);
        assert!(arrived.iter().all(|e| e.event_type == "invoice.issued"));
        assert!(stored.iter().all(|e| e.attempts == 1 && e.delivered_at == Some(utc("2026-11-24T10:00:00Z")) && e.lease_until.is_none()));
    }

    async fn a_receiver_down_for_an_hour_gets_everything_in_order_per_account_once_it_is_back(db) {
        let receiver = Receiver::start(SECRET).await;
        receiver.set(Mood::Down, &[]);
        let ledger = ledger(&db, Some(&receiver), 72).await;
        let (a, b) = two_buyers(&ledger).await;
        ledger.purchase_pack(a, "pro-medium", "a2").await.unwrap();
        ledger.purchase_pack(b, "pro-medium", "b2").await.unwrap();
        ledger.purchase_pack(a, "pro-large", "a3").await.unwrap();
        let worker = studio_bff::webhooks::spawn(ledger.clone()).expect("a worker");

        // An hour of 5-minute steps: every due retry fails, and nothing is given up.
        let start = ledger.now();
        for step in 0..12 {
            until("the due attempts", || settled(&ledger)).await;
            ledger.set_clock(start + Duration::minutes(5 * (step + 1))).await.unwrap();
        }
        // The gauges, read at the worker's next pass: five events wait, the oldest an hour.
        until("the backlog shown", || async {
            let metrics = ledger.metrics().render();
            metrics.contains("studio_webhook_backlog 5\n")
                && metrics.contains("studio_webhook_oldest_pending_age_seconds 3600\n")
        })
        .await;
        let during = events(&ledger).await;
        assert!(during.iter().all(|e| e.status == "PENDING"), "{during:?}");
        assert!(during.iter().any(|e| e.attempts >= 4), "retried while down: {during:?}");
        assert!(during.iter().all(|e| e.last_error.as_deref() == Some("the receiver answered 503 Service Unavailable") || e.attempts == 0));
        receiver.set(Mood::Up, &[]);
        ledger.set_clock(start + Duration::hours(3)).await.unwrap();
        until("every event delivered", || async { events(&ledger).await.iter().all(|e| e.status == "DELIVERED") }).await;
        worker.abort();

        let stored = events(&ledger).await;
        let arrived = receiver.delivered();
        assert_eq!(receiver.forged(), Vec::<String>::new());
        for account in [a, b] {
            let sent: Vec<&str> = stored.iter().filter(|e| e.account_id == Some(account)).map(|e| e.event_id.as_str()).collect();
            let got: Vec<&str> = arrived.iter().filter(|e| e.account_id == account).map(|e| e.id.as_str()).collect();
            assert_eq!(got, sent, "account {account}: each event once, in order");
        }
    }

    async fn an_event_refused_past_webhook_retry_hours_is_failed_and_the_next_of_its_account_goes_out(db) {
        let receiver = Receiver::start(SECRET).await;
        let ledger = ledger(&db, Some(&receiver), 1).await;
        let account = ledger.create_account("Alpha", PlanCode::Professional, 2, None).await.unwrap().id;
        ledger.purchase_pack(account, "pro-small", "a1").await.unwrap();
        receiver.set(Mood::Down, &[]);
        let worker = studio_bff::webhooks::spawn(ledger.clone()).expect("a worker");
        let start = ledger.now();
        let mut minutes = 0;
        while events(&ledger).await[0].status == "PENDING" {
            assert!(minutes < 180, "given up within 3 hours");
            until("the due attempt", || settled(&ledger)).await;
            minutes += 10;
            ledger.set_clock(start + Duration::minutes(minutes)).await.unwrap();
        }
        receiver.set(Mood::Up, &[]);
        ledger.purchase_pack(account, "pro-medium", "a2").await.unwrap();
        until("the next event delivered", || async { events(&ledger).await[1].status == "DELIVERED" }).await;
        worker.abort();

        let stored = events(&ledger).await;
        assert_eq!(stored[0].status, "FAILED");
        assert!(stored[0].attempts >= 3, "{:?}", stored[0]);
        assert!((50..=70).contains(&minutes), "given up after the hour: {minutes} minutes");
        assert_eq!(receiver.delivered().iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![stored[1].event_id.clone()]);

        // OPS sends it again: the same id, delivered now that the receiver is up.
        let again = ledger.redeliver_webhook_event(stored[0].id).await.unwrap();
        assert_eq!((again.status.as_str(), again.attempts), ("PENDING", stored[0].attempts));
        let worker = studio_bff::webhooks::spawn(ledger.clone()).expect("a worker");
        until("the redelivery", || async { events(&ledger).await[0].status == "DELIVERED" }).await;
        worker.abort();
        let ids: Vec<String> = receiver.delivered().iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, vec![stored[1].event_id.clone(), stored[0].event_id.clone()]);
        let missing = ledger.redeliver_webhook_event(stored[1].id + 100).await;
        assert!(matches!(missing, Err(Error::Refused(r)) if r.code == RefusalCode::EventNotFound));
    }

    async fn a_slow_receiver_or_a_redirect_elsewhere_stalls_no_other_account_and_is_not_followed(db) {
        let receiver = Receiver::start(SECRET).await;
        let elsewhere = Receiver::start(SECRET).await;
        let ledger = ledger(&db, Some(&receiver), 72).await;
        let slow = ledger.create_account("Slow", PlanCode::Professional, 2, None).await.unwrap().id;
        let moved = ledger.create_account("Moved", PlanCode::Professional, 2, None).await.unwrap().id;
        let fine = ledger.create_account("Fine", PlanCode::Professional, 2, None).await.unwrap().id;
        receiver.set(Mood::Slow(StdDuration::from_secs(4)), &[slow]);
        ledger.purchase_pack(slow, "pro-small", "s").await.unwrap();
        let worker = studio_bff::webhooks::spawn(ledger.clone()).expect("a worker");
        until("the slow account's event in flight", || async { events(&ledger).await[0].lease_until.is_some() }).await;
        receiver.set(Mood::Redirect(format!("{}?from=redirect", elsewhere.url)), &[moved]);
        ledger.purchase_pack(moved, "pro-small", "m").await.unwrap();
        ledger.purchase_pack(fine, "pro-small", "f").await.unwrap();

        let started = std::time::Instant::now();
        until("the fine account's event", || async { events(&ledger).await[2].status == "DELIVERED" }).await;
        let fine_took = started.elapsed();
        until("the slow account's event", || async { events(&ledger).await[0].status == "DELIVERED" }).await;
        worker.abort();

        assert!(fine_took < StdDuration::from_secs(3), "another account waited {fine_took:?} for a slow one");
        let stored = events(&ledger).await;
        assert_eq!(stored[1].status, "PENDING");
        assert_eq!(stored[1].last_error.as_deref(), Some("the receiver answered 307 Temporary Redirect"));
        assert!(elsewhere.delivered().is_empty() && elsewhere.forged().is_empty(), "the redirect was not followed");
        assert_eq!(receiver.forged(), Vec::<String>::new());
    }

    async fn ops_lists_the_failed_events_newest_first_and_sends_one_again(db) {
        let app = TestApp::start(&db, config()).await;
        let (a, _) = two_buyers(&app.ledger).await;
        app.ledger.purchase_pack(a, "pro-medium", "a2").await.unwrap();
        let stored = events(&app.ledger).await;
        // Two events given up: as the worker leaves them after webhook_retry_hours.
        let give_up = format!(
            "UPDATE webhook_events SET status = 'FAILED', attempts = 9, last_error = 'the receiver answered 503 Service Unavailable' WHERE id IN ({}, {})",
            stored[0].id, stored[2].id
        );
        app.ledger.db().execute_unprepared(&give_up).await.unwrap();
        let ops = app.ops();

        let first = app.op(&ops, "FailedWebhooks", serde_json::json!({"first": 1})).await;
        let page = &first["webhookEvents"];
        let next = app
            .query(
                &ops,
                "query($after: String) { webhookEvents(status: FAILED, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }",
                serde_json::json!({"after": page["pageInfo"]["endCursor"]}),
            )
            .await;
        let newest = &page["edges"][0]["node"];
        let redelivered = app.op(&ops, "RedeliverWebhook", serde_json::json!({"eventId": newest["id"]})).await;
        let missing = app
            .op(&ops, "RedeliverWebhook", serde_json::json!({"eventId": app.gid(studio_bff::ids::Kind::WebhookEvent, 999)}))
            .await;

        assert_eq!(newest["id"], app.gid(studio_bff::ids::Kind::WebhookEvent, stored[2].id));
        assert_eq!(newest["type"], "invoice.issued");
        assert_eq!(newest["occurredAt"], "2026-11-24T10:00:00Z");
        assert_eq!((&newest["attempts"], &newest["status"]), (&serde_json::json!(9), &serde_json::json!("FAILED")));
        assert_eq!(newest["lastError"], "the receiver answered 503 Service Unavailable");
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        let older = &next["data"]["webhookEvents"];
        assert_eq!(older["edges"][0]["node"]["id"], app.gid(studio_bff::ids::Kind::WebhookEvent, stored[0].id));
        assert_eq!(older["pageInfo"]["hasNextPage"], false);
        assert_eq!(redelivered["redeliverWebhook"]["event"], serde_json::json!({"id": newest["id"], "status": "PENDING", "attempts": 9}));
        assert_eq!(crate::api_support::user_error_codes(&missing["redeliverWebhook"]), ["EVENT_NOT_FOUND"]);
        let after = events(&app.ledger).await;
        assert_eq!((after[2].status.as_str(), after[2].next_attempt_at), ("PENDING", app.ledger.now()));
        assert_eq!(after[0].status, "FAILED");
    }

    async fn two_instances_never_send_one_accounts_events_at_once_and_keep_their_order(db) {
        let receiver = Receiver::start(SECRET).await;
        receiver.set(Mood::Slow(StdDuration::from_millis(150)), &[]);
        let first = ledger(&db, Some(&receiver), 72).await;
        let second = ledger(&db, Some(&receiver), 72).await;
        let accounts = [
            first.create_account("Alpha", PlanCode::Professional, 2, None).await.unwrap().id,
            first.create_account("Bravo", PlanCode::Professional, 2, None).await.unwrap().id,
            first.create_account("Charlie", PlanCode::Professional, 2, None).await.unwrap().id,
        ];
        for round in 0..4 {
            for account in accounts {
                first.purchase_pack(account, "pro-small", &format!("{account}-{round}")).await.unwrap();
            }
        }
        let workers = [
            studio_bff::webhooks::spawn(first.clone()).expect("a worker"),
            studio_bff::webhooks::spawn(second.clone()).expect("a worker"),
        ];

        until("every event delivered", || async { events(&first).await.iter().all(|e| e.status == "DELIVERED") }).await;
        workers.iter().for_each(|w| w.abort());

        let stored = events(&first).await;
        let arrived = receiver.delivered();
        assert_eq!(receiver.overlapping(), Vec::<String>::new(), "an account had two events in flight");
        assert_eq!(receiver.forged(), Vec::<String>::new());
        for account in accounts {
            let sent: Vec<&str> = stored.iter().filter(|e| e.account_id == Some(account)).map(|e| e.event_id.as_str()).collect();
            let got: Vec<&str> = arrived.iter().filter(|e| e.account_id == account).map(|e| e.id.as_str()).collect();
            assert_eq!(got, sent, "account {account}: each once, in order");
        }
        assert!(stored.iter().all(|e| e.attempts == 1), "nothing sent twice: {stored:?}");
    }

    async fn an_event_claimed_by_an_instance_that_died_is_sent_again_with_its_id_once_the_lease_runs_out(db) {
        let receiver = Receiver::start(SECRET).await;
        let dead = ledger(&db, Some(&receiver), 72).await;
        let alive = ledger(&db, Some(&receiver), 72).await;
        let account = dead.create_account("Alpha", PlanCode::Professional, 2, None).await.unwrap().id;
        dead.purchase_pack(account, "pro-small", "a1").await.unwrap();
        // What an instance killed with -9 mid-send leaves: a claim, never settled.
        let claimed = dead.claim_webhook_event(Duration::seconds(60)).await.unwrap().expect("a due event");
        let worker = studio_bff::webhooks::spawn(alive.clone()).expect("a worker");

        tokio::time::sleep(StdDuration::from_millis(600)).await;
        assert!(receiver.delivered().is_empty(), "sent while another instance held it");
        alive.set_clock(alive.now() + Duration::seconds(61)).await.unwrap();
        until("the event sent again", || async { events(&alive).await[0].status == "DELIVERED" }).await;
        worker.abort();

        let arrived = receiver.delivered();
        assert_eq!(arrived.len(), 1);
        assert_eq!(arrived[0].id, claimed.event_id);
    }

    async fn credits_low_and_recovered_are_told_once_per_crossing_and_never_for_premium_under_its_cap(db) {
        let ledger = ledger(&db, None, 72).await;
        let pro = ledger.create_account("Alpha", PlanCode::Professional, 2, None).await.unwrap().id;
        let premium = ledger.create_account("Prime", PlanCode::Premium, 1, None).await.unwrap().id;

        apply_new_photos(&ledger, pro, 1, "p1").await; // 10 -> 9: below
        apply_new_photos(&ledger, pro, 1, "p2").await; // 9 -> 8: still below, nothing told
        ledger.purchase_pack(pro, "pro-small", "buy").await.unwrap(); // 33: back
        apply_new_photos(&ledger, premium, 1, "q1").await; // premium under its cap: never low
        // The reset: the month's 8 go, 10 come; the pack's 25 stay. Nothing crosses.
        ledger.set_clock(utc("2026-12-01T00:00:00Z")).await.unwrap();

        let told: Vec<(Option<i64>, String, serde_json::Value)> = events(&ledger)
            .await
            .iter()
            .filter(|e| ["credits.low", "credits.recovered"].contains(&e.event_type.as_str()))
            .map(|e| {
                let body: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
                (e.account_id, e.event_type.clone(), body["data"]["balance"].clone())
            })
            .collect();
        assert_eq!(
            told,
            vec![
                (Some(pro), "credits.low".to_owned(), serde_json::json!({"available": 9, "threshold": 10})),
                (Some(pro), "credits.recovered".to_owned(), serde_json::json!({"available": 33, "threshold": 10})),
            ]
        );
    }

    async fn a_resolution_tells_report_resolved_once_and_a_repeated_or_refused_one_tells_nothing(db) {
        let ledger = ledger(&db, None, 72).await;
        let account = ledger.create_account("Alpha", PlanCode::Basic, 0, Some("platform-1")).await.unwrap().id;
        ledger.purchase_pack(account, "basic-small", "buy").await.unwrap();
        let photo = ledger.register_photos(account, &[("l".into(), "https://img.example/1.jpg".into())]).await.unwrap()[0].id;
        let request = ApplyRequest { photo_ids: vec![photo], background_id: "showroom".into(), logo: None, idempotency_key: "k".into() };
        ledger.apply_changes(account, &request).await.unwrap();
        let report = ledger.report_faulty_photo(account, photo, Some("Blurred")).await.unwrap().report;
        let before = events(&ledger).await.len();

        ledger.clock().set(utc("2026-11-24T11:00:00Z")).unwrap();
        let resolved = ledger.resolve_report(report.id, &Resolution::Rejected, Some("The photo is as sent")).await.unwrap();
        let again = ledger.resolve_report(report.id, &Resolution::Rejected, Some("The photo is as sent")).await.unwrap();
        let other = ledger.resolve_report(report.id, &Resolution::Refunded, None).await;

        assert_eq!(again.report, resolved.report);
        assert!(matches!(other, Err(Error::Refused(r)) if r.code == RefusalCode::ReportAlreadyResolved));
        let written = events(&ledger).await;
        let told: Vec<&str> = written[before..].iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(told, ["report.resolved"]);
        let body: serde_json::Value = serde_json::from_str(&written[before].payload).unwrap();
        assert_eq!(body["timestamp"], "2026-11-24T11:00:00Z");
        assert_eq!(
            body["data"],
            serde_json::json!({
                "account": {"id": account, "externalId": "platform-1", "name": "Alpha"},
                "report": {"id": report.id, "photoId": photo, "editId": report.edit_id, "resolution": "REJECTED",
                           "note": "The photo is as sent", "resolvedAt": "2026-11-24T11:00:00Z"}
            })
        );
    }
}
