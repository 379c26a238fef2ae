//! Concurrent charges never spend a credit twice nor take a lot below zero: from many
//! connections, from two processes, and with one idempotency key sent many times.

use std::process::Command;

use crate::common::utc;
use entity::enums::PlanCode;
use futures::future::join_all;
use studio_bff::config::Config;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ledger::{ApplyRequest, Ledger};

const NOW: &str = "2026-11-24T10:00:00Z";

/// A Professional account with 8 slots: 40 monthly credits, and `photos` photos.
async fn account_with_40_credits(ledger: &Ledger, photos: usize) -> (i64, Vec<i64>) {
    let account = ledger
        .create_account("Race", PlanCode::Professional, 8, None)
        .await
        .expect("create account");
    let registrations: Vec<(String, String)> = (0..photos)
        .map(|i| (format!("l{i}"), format!("https://img.example/{i}.jpg")))
        .collect();
    let ids = ledger
        .register_photos(account.id, &registrations)
        .await
        .expect("register")
        .into_iter()
        .map(|p| p.id)
        .collect();
    (account.id, ids)
}

fn one_photo(photo_id: i64, key: &str) -> ApplyRequest {
    ApplyRequest {
        photo_ids: vec![photo_id],
        background_id: "showroom".into(),
        logo: None,
        idempotency_key: key.into(),
    }
}

/// Charges one credit per photo, all at once; returns (charged, refused).
async fn charge_concurrently(ledger: &Ledger, account_id: i64, photo_ids: &[i64], key_prefix: &str) -> (usize, usize) {
    let outcomes = join_all(photo_ids.iter().enumerate().map(|(i, photo_id)| {
        let ledger = ledger.clone();
        let request = one_photo(*photo_id, &format!("{key_prefix}-{i}"));
        tokio::spawn(async move { ledger.apply_changes(account_id, &request).await })
    }))
    .await;
    let mut tally = (0, 0);
    for outcome in outcomes {
        match outcome.expect("task finished") {
            Ok(a) if a.outcome.credits_charged == 1 => tally.0 += 1,
            Err(Error::Refused(r)) if r.code == RefusalCode::InsufficientCredits => tally.1 += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    tally
}

/// The account's ledger adds up: 40 granted, `charged` charged, every lot exact.
async fn assert_exact_ledger(ledger: &Ledger, account_id: i64, charged: i32) {
    let entries = ledger.entries(account_id).await.expect("entries");
    let lots = ledger.lots(account_id).await.expect("lots");
    let charges: i32 = entries.iter().filter(|e| e.amount < 0).map(|e| e.amount).sum();
    assert_eq!(charges, -charged);
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i32>(), 40 - charged);
    for lot in &lots {
        assert!(lot.remaining >= 0);
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.lot_id == lot.id)
                .map(|e| e.amount)
                .sum::<i32>(),
            lot.remaining
        );
    }
    let account = ledger.account(account_id).await.expect("read").expect("account");
    assert_eq!(ledger.balance(&account).await.expect("balance").available, 40 - charged);
    // balance_after never goes below zero and ends at what is left.
    assert_eq!(entries.last().map(|e| e.balance_after), Some(40 - charged));
}

on_both_databases! {
    async fn sixty_four_concurrent_charges_against_forty_credits_spend_exactly_forty(db) {
        let ledger = db.ledger_with_pool(Config::default(), utc(NOW), 64).await;
        let (account_id, photos) = account_with_40_credits(&ledger, 64).await;

        let (charged, refused) = charge_concurrently(&ledger, account_id, &photos, "race").await;

        assert_eq!((charged, refused), (40, 24));
        assert_exact_ledger(&ledger, account_id, 40).await;
    }

    async fn one_idempotency_key_sent_ten_times_at_once_acts_once(db) {
        let ledger = db.ledger_with_pool(Config::default(), utc(NOW), 10).await;
        let (account_id, photos) = account_with_40_credits(&ledger, 3).await;
        let request = ApplyRequest { photo_ids: photos.clone(), background_id: "showroom".into(), logo: None, idempotency_key: "same".into() };

        let outcomes = join_all((0..10).map(|_| {
            let (ledger, request) = (ledger.clone(), request.clone());
            tokio::spawn(async move { ledger.apply_changes(account_id, &request).await })
        }))
        .await;

        let applied: Vec<_> = outcomes.into_iter().map(|o| o.expect("task").expect("apply")).collect();
        let fresh = applied.iter().filter(|a| a.written.is_some()).count();
        let outcomes: Vec<_> = applied.into_iter().map(|a| a.outcome).collect();
        assert_eq!(fresh, 1, "one apply acts, the others replay it");
        assert!(outcomes.iter().all(|o| *o == outcomes[0]), "every answer is the first answer");
        assert_eq!(outcomes[0].credits_charged, 3);
        assert_exact_ledger(&ledger, account_id, 3).await;
    }
}

/// Run by `two_processes_charging_one_account_spend_exactly_forty` in a child process:
/// charges each photo of `RACE_PHOTOS` at once through 32 connections, prints the tally.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a child process of the two-process race, not a test on its own"]
async fn race_child_process() {
    let url = std::env::var("RACE_DATABASE_URL").expect("RACE_DATABASE_URL");
    let account_id: i64 = std::env::var("RACE_ACCOUNT")
        .expect("RACE_ACCOUNT")
        .parse()
        .expect("account id");
    let photos: Vec<i64> = std::env::var("RACE_PHOTOS")
        .expect("RACE_PHOTOS")
        .split(',')
        .map(|p| p.parse().expect("photo id"))
        .collect();
    // The parent's database: the parent drops it, this process must not.
    let db = std::mem::ManuallyDrop::new(crate::common::TestDb { url, _dir: None });
    let ledger = db.ledger_with_pool(Config::default(), utc(NOW), 32).await;
    let prefix = format!("child-{}", std::process::id());
    let (charged, refused) = charge_concurrently(&ledger, account_id, &photos, &prefix).await;
    println!("RACE charged={charged} refused={refused}");
}

/// Starts this test binary as a child running `race_child_process` on `photos`.
fn spawn_child(url: &str, account_id: i64, photos: &[i64]) -> std::process::Child {
    let photos = photos.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            // The test's name in this binary, module first (`tests/it/main.rs`).
            "races::race_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RACE_DATABASE_URL", url)
        .env("RACE_ACCOUNT", account_id.to_string())
        .env("RACE_PHOTOS", photos)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start a child process")
}

fn tally_of(child: std::process::Child) -> (usize, usize) {
    let output = child.wait_with_output().expect("child finished");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RACE ").map(|(_, tally)| tally))
        .unwrap_or_else(|| panic!("no tally:\n{stdout}\n{stderr}"));
    let number = |name: &str| -> usize {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    (number("charged="), number("refused="))
}

on_both_databases! {
    async fn two_processes_charging_one_account_spend_exactly_forty(db) {
        let ledger = db.ledger(Config::default(), utc(NOW)).await;
        let (account_id, photos) = account_with_40_credits(&ledger, 64).await;

        let first = spawn_child(&db.url, account_id, &photos[..32]);
        let second = spawn_child(&db.url, account_id, &photos[32..]);
        let (a, b) = (tally_of(first), tally_of(second));

        assert_eq!((a.0 + b.0, a.1 + b.1), (40, 24));
        assert_exact_ledger(&ledger, account_id, 40).await;
    }
}

on_both_databases! {
    async fn instances_starting_together_on_a_new_database_all_come_up(db) {
        let starts = join_all((0..4).map(|_| studio_bff::db::connect_and_migrate_pool(&db.url, 2))).await;

        for started in starts {
            started.expect("every instance migrates or finds the schema migrated");
        }
    }
}
