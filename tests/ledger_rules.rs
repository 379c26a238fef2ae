//! The credit rules carried out by the stored ledger, on SQLite and PostgreSQL.
mod common;

use common::utc;
use entity::enums::{EntryKind, LogoPosition, PlanCode};
use studio_bff::config::Config;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ledger::{ApplyRequest, Ledger, LogoPlacement};

/// Photos registered for `account_id`, by id.
async fn photos(ledger: &Ledger, account_id: i64, n: usize) -> Vec<i64> {
    let registrations: Vec<(String, String)> = (0..n)
        .map(|i| (format!("listing-{i}"), format!("https://img.example/{i}.jpg")))
        .collect();
    ledger
        .register_photos(account_id, &registrations)
        .await
        .expect("register photos")
        .into_iter()
        .map(|p| p.id)
        .collect()
}

fn apply(photo_ids: &[i64], background: &str, key: &str) -> ApplyRequest {
    ApplyRequest {
        photo_ids: photo_ids.to_vec(),
        background_id: background.into(),
        logo: None,
        idempotency_key: key.into(),
    }
}

fn refusal_code(result: Result<impl std::fmt::Debug, Error>) -> RefusalCode {
    match result {
        Err(Error::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// For every lot: its entries sum to its remaining credits, its GRANT entries to what
/// it was granted, and it is not negative.
async fn assert_lots_balance(ledger: &Ledger, account_id: i64) {
    let entries = ledger.entries(account_id).await.expect("entries");
    for lot in ledger.lots(account_id).await.expect("lots") {
        let of_lot = entries.iter().filter(|e| e.lot_id == lot.id);
        let sum: i32 = of_lot.clone().map(|e| e.amount).sum();
        let granted: i32 = of_lot.filter(|e| e.kind == EntryKind::Grant).map(|e| e.amount).sum();
        assert_eq!(
            (sum, granted),
            (lot.remaining, lot.granted),
            "lot {} ({:?})",
            lot.id,
            lot.bucket
        );
        assert!(lot.remaining >= 0);
    }
}

on_both_databases! {
    async fn three_photos_applied_cost_three_credits(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2).await.unwrap();
        let ids = photos(&ledger, account.id, 3).await;

        let outcome = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await.unwrap();

        assert_eq!(outcome.credits_charged, 3);
        assert_eq!(outcome.edit_ids.len(), 3);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 7);
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn the_same_look_again_is_free_and_reported_unchanged(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 2).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;
        ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", "k1")).await.unwrap();

        let outcome = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k2")).await.unwrap();

        assert_eq!(outcome.credits_charged, 1);
        assert_eq!(outcome.unchanged_photo_ids, vec![ids[0]]);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn background_and_logo_in_two_steps_cost_two_credits(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 2).await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;
        let logo = ledger.add_logo(account.id, "Logo", "https://img.example/logo.png").await.unwrap();
        ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await.unwrap();

        let mut with_logo = apply(&ids, "showroom", "k2");
        with_logo.logo = Some(LogoPlacement { logo_id: logo.id, position: LogoPosition::TopLeft });
        let second = ledger.apply_changes(account.id, &with_logo).await.unwrap();
        with_logo.idempotency_key = "k3".into();
        let third = ledger.apply_changes(account.id, &with_logo).await.unwrap();

        assert_eq!((second.credits_charged, third.credits_charged), (1, 0));
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn a_batch_the_account_cannot_pay_charges_nothing(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 1).await.unwrap();
        let ids = photos(&ledger, account.id, 6).await;

        let refused = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await;

        match refused {
            Err(Error::Refused(r)) => {
                assert_eq!(r.code, RefusalCode::InsufficientCredits);
                assert_eq!(r.message, "This batch needs 6 credits and 5 are available.");
            }
            other => panic!("expected INSUFFICIENT_CREDITS, got {other:?}"),
        }
        assert_eq!(ledger.balance(&account).await.unwrap().available, 5);
        assert_eq!(ledger.entries(account.id).await.unwrap().len(), 1, "only the monthly grant");
    }
}

#[test]
fn the_rule_tables_use_the_provisional_values() {
    let config = Config::default();
    assert_eq!(
        config
            .packs_for(PlanCode::Basic)
            .map(|p| config.pack_price_cents(p))
            .collect::<Vec<_>>(),
        vec![5000, 11250, 20000]
    );
    assert_eq!(
        config
            .packs_for(PlanCode::Professional)
            .map(|p| config.pack_price_cents(p))
            .collect::<Vec<_>>(),
        vec![1250, 2375, 4500]
    );
    assert_eq!(config.packs_for(PlanCode::Premium).count(), 0);
}
