//! Races at scale: random operations from 32 clients over 20 accounts (applies,
//! reverts, reports, purchases, plan changes, clock moves), then the auditor
//! (`common::audit`) recomputes every lot and every balance from the ledger entries and
//! compares them with what the service answers. Any outcome but success or a business
//! refusal is a failure.
//!
//! `RACE_OPERATIONS` sets the number of operations: 1,000 by default (CI), 10,000 for
//! the long round (`RACE_OPERATIONS=10000 cargo test --release --test races_at_scale`).
#[path = "support/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use common::audit::audit;
use common::utc;
use entity::enums::PlanCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use studio_bff::config::Config;
use studio_bff::error::Error;
use studio_bff::ledger::{ApplyRequest, Ledger};

const CLIENTS: usize = 32;
const ACCOUNTS: usize = 20;
const PHOTOS_PER_ACCOUNT: usize = 30;
const PLANS: [PlanCode; 4] = [
    PlanCode::Basic,
    PlanCode::Professional,
    PlanCode::ProfessionalPlus,
    PlanCode::Premium,
];
const BACKGROUNDS: [&str; 2] = ["showroom", "studio-white"];

fn operations() -> usize {
    std::env::var("RACE_OPERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// How the operations ended, by kind.
#[derive(Default)]
struct Tally {
    done: AtomicUsize,
    refused: AtomicUsize,
}

impl Tally {
    /// Counts `outcome`; anything but success or a refusal fails the test.
    fn count<T>(&self, what: &str, outcome: Result<T, Error>) {
        match outcome {
            Ok(_) => self.done.fetch_add(1, Ordering::Relaxed),
            Err(Error::Refused(_)) => self.refused.fetch_add(1, Ordering::Relaxed),
            Err(e) => panic!("{what} failed: {e}"),
        };
    }
}

/// One client: `count` random operations with a seed of its own.
async fn client(ledger: Ledger, accounts: Arc<Vec<(i64, Vec<i64>)>>, seed: u64, count: usize, tally: Arc<Tally>) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0..count {
        let (account_id, photos) = &accounts[rng.random_range(0..accounts.len())];
        let some_photos = |rng: &mut StdRng, most: usize| -> Vec<i64> {
            (0..rng.random_range(1..=most))
                .map(|_| photos[rng.random_range(0..photos.len())])
                .collect()
        };
        match rng.random_range(0..100) {
            0..45 => {
                let request = ApplyRequest {
                    photo_ids: some_photos(&mut rng, 5),
                    background_id: BACKGROUNDS[rng.random_range(0..BACKGROUNDS.len())].into(),
                    logo: None,
                    idempotency_key: format!("race-{seed}-{n}"),
                };
                tally.count("apply", ledger.apply_changes(*account_id, &request).await);
            }
            45..60 => tally.count(
                "revert",
                ledger.revert_photos(*account_id, &some_photos(&mut rng, 3)).await,
            ),
            60..70 => {
                let photo = photos[rng.random_range(0..photos.len())];
                tally.count(
                    "report",
                    ledger.report_faulty_photo(*account_id, photo, Some("blurry")).await,
                );
            }
            70..85 => {
                let packs = &ledger.config().packs;
                let pack = packs[rng.random_range(0..packs.len())].id.clone();
                let key = format!("race-{seed}-{n}");
                tally.count("purchase", ledger.purchase_pack(*account_id, &pack, &key).await);
            }
            85..95 => {
                let plan = PLANS[rng.random_range(0..PLANS.len())];
                let slots = rng.random_range(0..=8);
                tally.count(
                    "plan change",
                    ledger.update_subscription(*account_id, plan, slots, None).await,
                );
            }
            _ => {
                let to = ledger.now() + TimeDelta::hours(rng.random_range(1..=72));
                // Two clients moving the clock at once: the later target may be refused.
                tally.count("clock move", ledger.set_clock(to).await);
            }
        }
    }
}

on_both_databases! {
    async fn random_operations_from_32_clients_leave_a_ledger_the_auditor_agrees_with(db) {
        let ledger = db.ledger_with_pool(Config::default(), utc("2026-11-24T10:00:00Z"), CLIENTS as u32).await;
        let mut accounts = Vec::new();
        for i in 0..ACCOUNTS {
            let account = ledger.create_account(&format!("Dealer {i}"), PLANS[i % PLANS.len()], 4, None).await.unwrap();
            let registrations: Vec<(String, String)> = (0..PHOTOS_PER_ACCOUNT)
                .map(|p| (format!("l{p}"), format!("https://img.example/{i}/{p}.jpg")))
                .collect();
            let photos = ledger.register_photos(account.id, &registrations).await.unwrap();
            accounts.push((account.id, photos.into_iter().map(|p| p.id).collect()));
        }
        let accounts = Arc::new(accounts);
        let tally = Arc::new(Tally::default());
        let total = operations();

        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let count = total / CLIENTS + usize::from(c < total % CLIENTS);
                tokio::spawn(client(ledger.clone(), accounts.clone(), c as u64, count, tally.clone()))
            })
            .collect();
        for client in clients {
            client.await.expect("a client ends without panicking");
        }
        let account_ids: Vec<i64> = accounts.iter().map(|(id, _)| *id).collect();
        let (checks, differences) = audit(&ledger, &account_ids).await;

        let (done, refused) = (tally.done.load(Ordering::Relaxed), tally.refused.load(Ordering::Relaxed));
        eprintln!("races at scale: {total} operations ({done} done, {refused} refused), {checks} checks, {differences} differences");
        assert_eq!(done + refused, total);
        assert!(done > total / 2, "most operations succeed: {done} of {total}");
        assert_eq!(differences, 0);
    }
}
