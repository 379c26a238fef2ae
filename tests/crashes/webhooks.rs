//! Crashes during webhook deliveries: the binary posts its events to a loopback receiver
//! (`api_support::receiver`, which verifies every signature) that holds open the
//! requests of some accounts. Each round buys a few packs (an `invoice.issued` each,
//! and any warnings they cross), waits until a held delivery has arrived, kills the
//! binary with SIGKILL mid-delivery, lets the receiver answer again, restarts the
//! binary on the same database and moves its manual clock past the dead instance's
//! 60 s leases. Then, every round:
//!
//! - every event stored is DELIVERED, and every event the kill cut arrived again, with
//!   the same `webhook-id` and the same body;
//! - per account, the events arrived (each counted at its first arrival) exactly in the
//!   outbox's order, and nothing arrived that is not stored;
//! - every purchase answered has its `invoice.issued`, and no other does;
//! - no signature failed to verify.
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::time::Duration;

use chrono::Utc;
use entity::{purchase, webhook_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;
use studio_bff::auth::Auth;
use studio_bff::config::Config;
use studio_bff::ledger::Ledger;
use tokio::time::Instant;

use crate::api_support::receiver::{Mood, Receiver};
use crate::api_support::service::Service;
use crate::api_support::{SECRET, user_error_codes};
use crate::{ledger_on, op, open_accounts, ops_token, rounds};

/// The secret events are signed with.
const WEBHOOK_SECRET: &str = "a webhook secret of thirty-two chars";
/// Packs bought in each round, before the kill.
const PURCHASES: RangeInclusive<usize> = 2..=5;
/// How long after the first held delivery the kill comes, in milliseconds.
const KILL_AFTER_MS: RangeInclusive<u64> = 0..=200;
/// How long a round may wait for a delivery.
const WAIT: Duration = Duration::from_secs(20);

/// The events stored, in the outbox's order.
async fn events(ledger: &Ledger) -> Vec<webhook_event::Model> {
    webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(ledger.db())
        .await
        .expect("events")
}

/// Waits up to [`WAIT`] for `done`.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

crate::on_both_databases! {
    async fn killed_mid_delivery_an_event_is_sent_again_with_the_same_id_in_order_per_account_and_none_is_lost(db) {
        let started = std::time::Instant::now();
        let name = if db.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let receiver = Receiver::start(WEBHOOK_SECRET).await;
        let mut service = Service::start(
            &db.url,
            &[
                ("STUDIO_RENDERER", "external"),
                ("STUDIO_CLOCK", "manual"),
                ("STUDIO_WEBHOOK_URL", &receiver.url),
                ("STUDIO_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ],
        )
        .await;
        let auth = Auth::new(SECRET);
        let ops = ops_token(&auth);
        let config = Config::default();
        let accounts = open_accounts(&service, &auth, &config).await;
        let ledger = ledger_on(&db, config).await;
        let mut rng = StdRng::seed_from_u64(rand::random());
        let mut clock = Utc::now();
        let mut bought: BTreeMap<i64, usize> = BTreeMap::new();
        let (mut cut, mut sent_twice) = (0, 0);

        for round in 0..rounds(4) {
            // Act: some accounts' deliveries held open, purchases, the kill mid-delivery.
            let held_accounts: Vec<i64> = accounts
                .iter()
                .enumerate()
                .filter(|(n, _)| *n == round % accounts.len() || rng.random_bool(0.5))
                .map(|(_, a)| a.id)
                .collect();
            receiver.set(Mood::Hold, &held_accounts);
            for n in 0..rng.random_range(PURCHASES) {
                // The first for an account held, so that a delivery is held.
                let account = match n {
                    0 => &accounts[round % accounts.len()],
                    _ => &accounts[rng.random_range(0..accounts.len())],
                };
                let pack = &account.packs[rng.random_range(0..account.packs.len())];
                let key = format!("buy-{round}-{n}");
                let data = op(&service, &account.token, "BuyPack", json!({"packId": pack, "idempotencyKey": key})).await;
                assert!(user_error_codes(&data["purchasePack"]).is_empty(), "{key}: {data}");
                *bought.entry(account.id).or_default() += 1;
            }
            let unanswered = || {
                let answered: BTreeSet<String> = receiver.delivered().into_iter().map(|a| a.id).collect();
                receiver
                    .received()
                    .into_iter()
                    .filter(|id| !answered.contains(id))
                    .collect::<BTreeSet<String>>()
            };
            until("a held delivery", || async { !unanswered().is_empty() }).await;
            tokio::time::sleep(Duration::from_millis(rng.random_range(KILL_AFTER_MS))).await;
            let held = unanswered();
            service.kill();
            cut += held.len();
            receiver.set(Mood::Up, &[]);
            service.restart().await;
            let stored = events(&ledger).await;
            let leases_end = stored
                .iter()
                .filter_map(|e| e.lease_until)
                .chain(stored.iter().map(|e| e.next_attempt_at))
                .max()
                .unwrap_or(clock);
            clock = clock.max(leases_end).max(Utc::now()) + chrono::Duration::seconds(1);
            let set = op(&service, &ops, "SetClock", json!({"now": clock.to_rfc3339()})).await;
            assert!(user_error_codes(&set["setClock"]).is_empty(), "{set}");
            until("every event delivered", || async {
                events(&ledger).await.iter().all(|e| e.status == "DELIVERED")
            })
            .await;

            // Assert.
            let stored = events(&ledger).await;
            let received = receiver.received();
            let delivered = receiver.delivered();
            for id in &held {
                let arrivals = received.iter().filter(|r| *r == id).count();
                let bodies: BTreeSet<String> = delivered.iter().filter(|d| d.id == *id).map(|d| d.body.to_string()).collect();
                assert!(arrivals >= 2 && bodies.len() == 1, "{id}, cut by the kill: arrived {arrivals} times, delivered as {bodies:?}");
            }
            let mut first_arrivals: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            let mut seen = BTreeSet::new();
            for arrived in &delivered {
                if seen.insert(arrived.id.clone()) {
                    first_arrivals.entry(arrived.account_id).or_default().push(arrived.id.clone());
                }
            }
            let mut outbox: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            for event in &stored {
                let account = event.account_id.expect("an account's event");
                outbox.entry(account).or_default().push(event.event_id.clone());
            }
            assert_eq!(first_arrivals, outbox, "round {round}: events per account, as they arrived and as stored");
            let mut issued: BTreeMap<i64, usize> = BTreeMap::new();
            for event in stored.iter().filter(|e| e.event_type == "invoice.issued") {
                *issued.entry(event.account_id.expect("an account")).or_default() += 1;
            }
            let purchases = purchase::Entity::find().all(ledger.db()).await.expect("purchases");
            assert_eq!(issued, bought, "round {round}: invoice.issued per account, and packs bought");
            assert_eq!(purchases.len(), bought.values().sum::<usize>());
            assert!(receiver.forged().is_empty(), "signatures that did not verify: {:?}", receiver.forged());
            sent_twice = received.len() - received.iter().collect::<BTreeSet<_>>().len();
        }
        let events = events(&ledger).await;
        eprintln!(
            "webhook crashes ({name}): {} rounds, {} kills, {} events, {cut} deliveries cut by the kill, {sent_twice} arrivals of an id that arrived before, in {:.1} s",
            rounds(4),
            rounds(4),
            events.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(cut >= rounds(4));
    }
}
