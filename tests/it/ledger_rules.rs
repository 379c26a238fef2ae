//! The credit rules carried out by the stored ledger, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use crate::common::audit::audit;
use crate::common::{render_all, utc};
use chrono::{DateTime, Utc};
use entity::enums::{Bucket, EntryKind, LogoPosition, PlanCode};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, Set, Statement};
use studio_bff::config::{Config, PromotionSettings};
use studio_bff::demo;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ledger::{ApplyRequest, DUE_PAGE, DuePass, Ledger, LogoPlacement};
use studio_bff::rules::catalog::packs_for;

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
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 3).await;

        let outcome = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await.unwrap().outcome;

        assert_eq!(outcome.credits_charged, 3);
        assert_eq!(outcome.edit_ids.len(), 3);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 7);
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn the_same_look_again_is_free_and_reported_unchanged(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;
        ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", "k1")).await.unwrap();

        let outcome = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k2")).await.unwrap().outcome;

        assert_eq!(outcome.credits_charged, 1);
        assert_eq!(outcome.unchanged_photo_ids, vec![ids[0]]);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn background_and_logo_in_two_steps_cost_two_credits(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;
        let logo = ledger.add_logo(account.id, "Logo", "https://img.example/logo.png").await.unwrap();
        ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await.unwrap();

        let mut with_logo = apply(&ids, "showroom", "k2");
        with_logo.logo = Some(LogoPlacement { logo_id: logo.id, position: LogoPosition::TopLeft });
        let second = ledger.apply_changes(account.id, &with_logo).await.unwrap().outcome;
        with_logo.idempotency_key = "k3".into();
        let third = ledger.apply_changes(account.id, &with_logo).await.unwrap().outcome;

        assert_eq!((second.credits_charged, third.credits_charged), (1, 0));
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn a_batch_the_account_cannot_pay_charges_nothing(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus", PlanCode::Professional, 1, None).await.unwrap();
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

fn launch_config(launch_at: &str) -> Config {
    Config {
        launch_at: Some(utc(launch_at)),
        ..Config::default()
    }
}

/// (kind, bucket, amount, balance_after, created_at) of every entry, oldest first.
async fn history(ledger: &Ledger, account_id: i64) -> Vec<(EntryKind, Bucket, i32, i32, String)> {
    ledger
        .entries(account_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.bucket, e.amount, e.balance_after, e.created_at.to_rfc3339()))
        .collect()
}

on_both_databases! {
    async fn batch_refusals_name_the_input_and_change_nothing(db) {
        let config = Config { max_batch_photos: 3, ..Config::default() };
        let ledger = db.ledger(config, utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let other = ledger.create_account("B", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 4).await;
        let foreign = photos(&ledger, other.id, 1).await;
        let foreign_logo = ledger.add_logo(other.id, "Theirs", "https://img.example/l.png").await.unwrap();

        assert_eq!(refusal_code(ledger.apply_changes(account.id, &apply(&[], "showroom", "k")).await), RefusalCode::EmptyBatch);
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await), RefusalCode::BatchTooLarge);
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &apply(&ids[..1], "beach", "k")).await), RefusalCode::BackgroundNotFound);
        let mut with_foreign_logo = apply(&ids[..1], "showroom", "k");
        with_foreign_logo.logo = Some(LogoPlacement { logo_id: foreign_logo.id, position: LogoPosition::BottomRight });
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &with_foreign_logo).await), RefusalCode::LogoNotFound);
        let mixed = apply(&[ids[0], foreign[0]], "showroom", "k");
        match ledger.apply_changes(account.id, &mixed).await {
            Err(Error::Refused(r)) => {
                assert_eq!(r.code, RefusalCode::PhotoNotFound);
                assert_eq!(r.field, Some(vec!["input".to_owned(), "photoIds".to_owned(), "1".to_owned()]));
            }
            other => panic!("expected PHOTO_NOT_FOUND, got {other:?}"),
        }
        let missing = apply(&[ids[0], 999_999], "showroom", "k");
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &missing).await), RefusalCode::PhotoNotFound);
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", "")).await), RefusalCode::InvalidInput);
        let long_key = "k".repeat(129);
        assert_eq!(refusal_code(ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", &long_key)).await), RefusalCode::InvalidInput);

        assert_eq!(ledger.balance(&account).await.unwrap().available, 10);
        assert_eq!(ledger.entries(account.id).await.unwrap().len(), 1);
    }

    async fn the_same_photo_twice_in_a_batch_counts_once(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;

        let outcome = ledger.apply_changes(account.id, &apply(&[ids[0], ids[1], ids[0]], "showroom", "k")).await.unwrap().outcome;

        assert_eq!(outcome.credits_charged, 2);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn a_repeated_key_returns_the_first_answer_and_another_input_is_refused(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;
        let first = ledger.apply_changes(account.id, &apply(&ids, "showroom", "key-1")).await.unwrap().outcome;

        let again = ledger.apply_changes(account.id, &apply(&ids, "showroom", "key-1")).await.unwrap().outcome;
        let other_input = ledger.apply_changes(account.id, &apply(&ids, "city-street", "key-1")).await;
        let bought = ledger.purchase_pack(account.id, "pro-small", "key-1").await;

        assert_eq!(again, first);
        assert_eq!(refusal_code(other_input), RefusalCode::IdempotencyKeyReused);
        assert_eq!(refusal_code(bought), RefusalCode::IdempotencyKeyReused);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn a_key_older_than_the_retention_acts_anew(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;
        ledger.apply_changes(account.id, &apply(&ids, "showroom", "key")).await.unwrap();
        render_all(&ledger).await;
        ledger.set_clock(utc("2026-11-25T09:59:59Z")).await.unwrap();
        let within = ledger.apply_changes(account.id, &apply(&ids, "city-street", "key")).await;
        assert_eq!(refusal_code(within), RefusalCode::IdempotencyKeyReused);

        ledger.set_clock(utc("2026-11-25T10:00:00Z")).await.unwrap();
        let after = ledger.apply_changes(account.id, &apply(&ids, "city-street", "key")).await.unwrap().outcome;

        assert_eq!(after.credits_charged, 1);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn revert_is_free_and_a_no_op_without_an_edit(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;
        ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", "k1")).await.unwrap();

        let reverted = ledger.revert_photos(account.id, &[ids[0], ids[1], ids[0]]).await.unwrap();
        let reverted: Vec<i64> = reverted.photos.iter().map(|p| p.id).collect();
        let reapplied = ledger.apply_changes(account.id, &apply(&ids[..1], "showroom", "k2")).await.unwrap().outcome;

        assert_eq!(reverted, vec![ids[0], ids[1]]);
        assert_eq!(reapplied.credits_charged, 1, "the original is a different look");
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn only_a_photo_with_an_applied_edit_can_be_reported_and_reports_are_free(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let other = ledger.create_account("B", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;
        assert_eq!(refusal_code(ledger.report_faulty_photo(account.id, ids[0], None).await), RefusalCode::PhotoNotEdited);
        let applied = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await.unwrap().outcome;

        let first = ledger.report_faulty_photo(account.id, ids[0], Some("Logo blurred")).await.unwrap().report;
        let second = ledger.report_faulty_photo(account.id, ids[0], None).await.unwrap().report;
        let by_other = ledger.report_faulty_photo(other.id, ids[0], None).await;
        ledger.revert_photos(account.id, &ids).await.unwrap();
        let after_revert = ledger.report_faulty_photo(account.id, ids[0], None).await;

        assert_eq!((first.edit_id, second.edit_id), (applied.edit_ids[0], applied.edit_ids[0]));
        assert_eq!(first.reason.as_deref(), Some("Logo blurred"));
        assert_eq!(refusal_code(by_other), RefusalCode::PhotoNotFound);
        assert_eq!(refusal_code(after_revert), RefusalCode::PhotoNotEdited);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 9);
    }

    async fn a_purchase_grants_a_lot_for_twelve_months_and_numbers_invoices_without_gaps(db) {
        let ledger = db.ledger(Config::default(), utc("2028-02-29T15:00:00Z")).await;
        let basic = ledger.create_account("Basic", PlanCode::Basic, 0, None).await.unwrap();
        let pro = ledger.create_account("Pro", PlanCode::Professional, 1, None).await.unwrap();

        let first = ledger.purchase_pack(basic.id, "basic-medium", "p1").await.unwrap().outcome;
        let refused = ledger.purchase_pack(pro.id, "basic-medium", "p2").await;
        let second = ledger.purchase_pack(pro.id, "pro-small", "p3").await.unwrap();
        let replayed = ledger.purchase_pack(pro.id, "pro-small", "p3").await.unwrap();
        ledger.set_clock(utc("2029-01-01T00:00:00Z")).await.unwrap();
        let next_year = ledger.purchase_pack(basic.id, "basic-small", "p4").await.unwrap().outcome;

        assert_eq!(refusal_code(refused), RefusalCode::PackNotAvailable);
        assert_eq!(replayed.outcome, second.outcome);
        assert!(second.written.is_some() && replayed.written.is_none(), "a replay wrote nothing");
        let invoices = entity::invoice::Entity::find().all(ledger.db()).await.unwrap();
        let numbers: Vec<(&str, Option<i64>, i64)> =
            invoices.iter().map(|i| (i.number.as_str(), i.subtotal_cents, i.total_cents)).collect();
        assert_eq!(
            numbers,
            vec![
                ("INV-2028-000001", Some(11250), 13388),
                ("INV-2028-000002", Some(1250), 1488),
                ("INV-2029-000001", Some(5000), 5950)
            ]
        );
        let lot = entity::lot::Entity::find_by_id(first.lot_id).one(ledger.db()).await.unwrap().unwrap();
        assert_eq!((lot.bucket, lot.granted, lot.remaining), (Bucket::Purchased, 250, 250));
        assert_eq!(lot.expires_at, utc("2029-02-28T15:00:00Z"));
        assert_eq!(next_year.invoice_id, invoices[2].id);
        let account = ledger.account(basic.id).await.unwrap().unwrap();
        assert_eq!(ledger.balance(&account).await.unwrap().available, 350);
    }

    async fn premium_has_no_packs_and_stops_at_its_fair_use_cap(db) {
        let config = Config { fair_use_cap: 2, ..Config::default() };
        let ledger = db.ledger(config, utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Premium", PlanCode::Premium, 10, None).await.unwrap();
        let ids = photos(&ledger, account.id, 3).await;
        assert!(ledger.balance(&account).await.unwrap().unlimited);

        let over_cap = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k1")).await;
        ledger.apply_changes(account.id, &apply(&ids[..2], "showroom", "k2")).await.unwrap();
        let capped = ledger.apply_changes(account.id, &apply(&ids[2..], "showroom", "k3")).await;
        let no_packs = ledger.purchase_pack(account.id, "pro-small", "k4").await;

        assert_eq!(refusal_code(over_cap), RefusalCode::InsufficientCredits);
        assert_eq!(refusal_code(capped), RefusalCode::FairUseCapReached);
        assert_eq!(refusal_code(no_packs), RefusalCode::PackNotAvailable);
        let balance = ledger.balance(&account).await.unwrap();
        assert!(!balance.unlimited);
        assert_eq!(balance.fair_use.map(|f| (f.used, f.cap)), Some((2, 2)));
    }

    async fn credits_are_spent_promotion_first_then_monthly_then_purchased(db) {
        let ledger = db.ledger(launch_config("2026-12-01T00:00:00Z"), utc("2026-12-02T10:00:00Z")).await;
        let account = ledger.create_account("Plus", PlanCode::ProfessionalPlus, 1, None).await.unwrap();
        ledger.purchase_pack(account.id, "pro-small", "buy").await.unwrap();
        let ids = photos(&ledger, account.id, 30).await;

        let outcome = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap().outcome;

        let edits = entity::edit::Entity::find().all(ledger.db()).await.unwrap();
        let paid_from: Vec<Bucket> = outcome.edit_ids.iter().map(|id| edits.iter().find(|e| e.id == *id).unwrap().paid_from).collect();
        let expected: Vec<Bucket> = [Bucket::LaunchPromotion; 10].into_iter().chain([Bucket::Monthly; 10]).chain([Bucket::Purchased; 10]).collect();
        assert_eq!(paid_from, expected);
        let balance = ledger.balance(&account).await.unwrap();
        assert_eq!((balance.available, balance.purchased_remaining), (15, 15));
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn the_monthly_reset_expires_what_is_left_and_grants_the_new_cycle(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 3).await;
        ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap();
        render_all(&ledger).await;

        ledger.set_clock(utc("2026-12-01T00:00:00Z")).await.unwrap();

        assert_eq!(history(&ledger, account.id).await, vec![
            (EntryKind::Grant, Bucket::Monthly, 10, 10, "2026-11-24T10:00:00+00:00".into()),
            (EntryKind::Charge, Bucket::Monthly, -3, 7, "2026-11-24T10:00:00+00:00".into()),
            (EntryKind::Expiry, Bucket::Monthly, -7, 0, "2026-12-01T00:00:00+00:00".into()),
            (EntryKind::Grant, Bucket::Monthly, 10, 10, "2026-12-01T00:00:00+00:00".into()),
        ]);
        let account = ledger.account(account.id).await.unwrap().unwrap();
        let balance = ledger.balance(&account).await.unwrap();
        assert_eq!((balance.monthly.granted, balance.monthly.cycle_start, balance.monthly.resets_at),
            (10, utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")));
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn a_restarted_service_catches_up_on_resets_it_slept_through(db) {
        let before = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = before.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        drop(before);

        let after = db.ledger(Config::default(), utc("2027-01-15T08:00:00Z")).await;
        let pass = after.process_due().await.unwrap();

        assert_eq!(pass.changed, vec![account.id]);
        let resets: Vec<String> = history(&after, account.id).await.into_iter().filter(|e| e.0 == EntryKind::Grant).map(|e| e.4).collect();
        assert_eq!(resets, vec!["2026-11-24T10:00:00+00:00", "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]);
    }

    async fn a_pass_over_more_due_accounts_than_a_page_catches_every_one_up(db) {
        let before = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let mut accounts = Vec::new();
        for i in 0..2 * DUE_PAGE + 1 {
            accounts.push(before.create_account(&format!("A{i}"), PlanCode::Professional, 1, None).await.unwrap().id);
        }
        drop(before);

        let after = db.ledger(Config::default(), utc("2026-12-01T00:00:01Z")).await;
        let pass = after.process_due().await.unwrap();

        assert_eq!(pass.changed, accounts);
        for id in &accounts {
            let account = after.account(*id).await.unwrap().unwrap();
            assert_eq!((account.cycle_start, account.next_reset_at), (utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")), "account {id}");
        }
        assert_eq!(after.process_due().await.unwrap(), DuePass::default());
    }

    async fn free_actions_and_purchases_work_at_a_zero_balance(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let ids = photos(&ledger, account.id, 5).await;
        ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap();

        ledger.report_faulty_photo(account.id, ids[0], Some("edge")).await.unwrap();
        ledger.revert_photos(account.id, &ids).await.unwrap();
        ledger.purchase_pack(account.id, "pro-small", "buy").await.unwrap();

        assert_eq!(ledger.balance(&account).await.unwrap().available, 25);
    }

    async fn increases_top_up_at_once_and_decreases_wait_for_the_reset(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::ProfessionalPlus, 50, None).await.unwrap();

        ledger.update_subscription(account.id, PlanCode::ProfessionalPlus, 10, None).await.unwrap();
        let after_decrease = ledger.balance(&ledger.account(account.id).await.unwrap().unwrap()).await.unwrap();
        ledger.update_subscription(account.id, PlanCode::ProfessionalPlus, 60, None).await.unwrap();
        let after_increase = ledger.balance(&ledger.account(account.id).await.unwrap().unwrap()).await.unwrap();
        ledger.update_subscription(account.id, PlanCode::Professional, 60, None).await.unwrap();
        ledger.set_clock(utc("2026-12-01T00:00:00Z")).await.unwrap();
        let next_cycle = ledger.balance(&ledger.account(account.id).await.unwrap().unwrap()).await.unwrap();

        assert_eq!(after_decrease.monthly.granted, 500);
        assert_eq!(after_increase.monthly.granted, 600);
        assert_eq!(after_increase.available, 600);
        assert_eq!(next_cycle.monthly.granted, 300);
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn basic_upgraded_mid_cycle_gets_its_monthly_lot_at_once(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Basic, 20, None).await.unwrap();
        assert_eq!(ledger.balance(&account).await.unwrap().available, 0);

        let upgraded = ledger.update_subscription(account.id, PlanCode::Professional, 20, None).await.unwrap();

        let balance = ledger.balance(&upgraded).await.unwrap();
        assert_eq!((balance.available, balance.monthly.granted), (100, 100));
    }

    async fn the_launch_promotion_is_granted_at_launch_and_expires_with_its_window(db) {
        let ledger = db.ledger(launch_config("2026-12-10T00:00:00Z"), utc("2026-11-24T10:00:00Z")).await;
        let early = ledger.create_account("Early", PlanCode::ProfessionalPlus, 5, None).await.unwrap();
        assert!(ledger.balance(&early).await.unwrap().launch_promotion.is_none());

        ledger.set_clock(utc("2026-12-31T12:00:00Z")).await.unwrap();
        let late = ledger.create_account("Late", PlanCode::ProfessionalPlus, 5, None).await.unwrap();
        let late_balance = ledger.balance(&late).await.unwrap();
        ledger.set_clock(utc("2027-01-07T00:00:00Z")).await.unwrap();

        let early_history = history(&ledger, early.id).await;
        let promotion: Vec<_> = early_history.iter().filter(|e| e.1 == Bucket::LaunchPromotion).cloned().collect();
        assert_eq!(promotion, vec![
            (EntryKind::Grant, Bucket::LaunchPromotion, 50, 100, "2026-12-10T00:00:00+00:00".into()),
            (EntryKind::Expiry, Bucket::LaunchPromotion, -50, 50, "2027-01-07T00:00:00+00:00".into()),
        ]);
        let promotion_of_late = late_balance.launch_promotion.expect("joined inside the window");
        // The window is the campaign's, not the join date's.
        assert_eq!(
            (promotion_of_late.campaign.as_str(), promotion_of_late.granted, promotion_of_late.starts_at, promotion_of_late.expires_at),
            ("launch", 50, utc("2026-12-10T00:00:00Z"), utc("2027-01-07T00:00:00Z"))
        );
        // The window spans the 1 January reset, which did not touch the promotion lot.
        assert!(early_history.contains(&(EntryKind::Grant, Bucket::Monthly, 50, 100, "2027-01-01T00:00:00+00:00".into())));
        assert_lots_balance(&ledger, early.id).await;
        assert_lots_balance(&ledger, late.id).await;
    }

    async fn an_account_created_after_the_window_gets_no_promotion(db) {
        let ledger = db.ledger(launch_config("2026-10-01T00:00:00Z"), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::ProfessionalPlus, 5, None).await.unwrap();

        ledger.process_due().await.unwrap();

        assert!(ledger.balance(&account).await.unwrap().launch_promotion.is_none());
        assert_eq!(history(&ledger, account.id).await.len(), 1, "only the monthly grant");
    }

    async fn an_expired_purchased_lot_is_never_spent(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Basic, 0, None).await.unwrap();
        ledger.purchase_pack(account.id, "basic-small", "buy").await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;

        ledger.set_clock(utc("2027-11-24T10:00:00Z")).await.unwrap();
        let refused = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await;

        assert_eq!(refusal_code(refused), RefusalCode::InsufficientCredits);
        let last = history(&ledger, account.id).await.pop().unwrap();
        assert_eq!(last, (EntryKind::Expiry, Bucket::Purchased, -100, 0, "2027-11-24T10:00:00+00:00".into()));
    }
}

#[test]
fn the_rule_tables_use_the_provisional_values() {
    let config = Config::default();
    let prices = |plan| {
        packs_for(&config.packs, plan)
            .map(|p| p.price_cents(config.credit_price_cents))
            .collect::<Vec<_>>()
    };
    assert_eq!(prices(PlanCode::Basic), vec![5000, 11250, 20000]);
    assert_eq!(prices(PlanCode::Professional), vec![1250, 2375, 4500]);
    assert_eq!(prices(PlanCode::Premium), Vec::<i64>::new());
}

// ----- Rules, second edition: campaigns, exact idempotency, premium's cap, time -----

fn phase(id: &str, starts_at: &str, days: u32, plan: PlanCode, per_slot: i32) -> PromotionSettings {
    PromotionSettings {
        id: id.into(),
        starts_at: utc(starts_at),
        days,
        credits_per_slot: BTreeMap::from([(plan, per_slot)]),
    }
}

/// (campaign, granted, remaining, starts at, expires at) of every promotion lot shown.
async fn promotions(ledger: &Ledger, account_id: i64) -> Vec<(String, i32, i32, DateTime<Utc>, DateTime<Utc>)> {
    let account = ledger.account(account_id).await.unwrap().unwrap();
    ledger
        .balance(&account)
        .await
        .unwrap()
        .promotions
        .into_iter()
        .map(|p| (p.campaign, p.granted, p.remaining, p.starts_at, p.expires_at))
        .collect()
}

/// Every promotion lot the account ever had, expired ones included.
async fn promotion_lots(ledger: &Ledger, account_id: i64) -> usize {
    ledger
        .lots(account_id)
        .await
        .unwrap()
        .iter()
        .filter(|l| l.bucket == Bucket::LaunchPromotion)
        .count()
}

on_both_databases! {
    async fn a_later_phase_grants_its_own_lot_and_promotions_are_spent_earliest_expiry_first(db) {
        let config = Config {
            launch_at: Some(utc("2026-12-01T00:00:00Z")),
            promotions: vec![phase("phase-2", "2026-12-10T00:00:00Z", 7, PlanCode::ProfessionalPlus, 2)],
            ..Config::default()
        };
        let ledger = db.ledger(config, utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Plus", PlanCode::ProfessionalPlus, 5, None).await.unwrap();
        let ids = photos(&ledger, account.id, 12).await;
        ledger.set_clock(utc("2026-12-12T09:00:00Z")).await.unwrap();

        assert_eq!(promotions(&ledger, account.id).await, vec![
            ("phase-2".into(), 10, 10, utc("2026-12-10T00:00:00Z"), utc("2026-12-17T00:00:00Z")),
            ("launch".into(), 50, 50, utc("2026-12-01T00:00:00Z"), utc("2026-12-29T00:00:00Z")),
        ]);
        let balance = ledger.balance(&ledger.account(account.id).await.unwrap().unwrap()).await.unwrap();
        assert_eq!((balance.available, balance.launch_promotion.map(|p| p.campaign)), (110, Some("phase-2".into())));

        ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap();

        assert_eq!(promotions(&ledger, account.id).await, vec![
            ("phase-2".into(), 10, 0, utc("2026-12-10T00:00:00Z"), utc("2026-12-17T00:00:00Z")),
            ("launch".into(), 50, 48, utc("2026-12-01T00:00:00Z"), utc("2026-12-29T00:00:00Z")),
        ]);
        assert_eq!(promotion_lots(&ledger, account.id).await, 2);
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn a_campaign_for_another_plan_grants_when_the_account_moves_to_it_inside_the_window(db) {
        let config = Config {
            promotions: vec![phase("professional", "2026-12-10T00:00:00Z", 14, PlanCode::Professional, 4)],
            ..Config::default()
        };
        let ledger = db.ledger(config, utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Basic", PlanCode::Basic, 5, None).await.unwrap();
        ledger.set_clock(utc("2026-12-12T00:00:00Z")).await.unwrap();
        assert_eq!(promotions(&ledger, account.id).await, vec![]);

        ledger.update_subscription(account.id, PlanCode::Professional, 5, None).await.unwrap();
        ledger.update_subscription(account.id, PlanCode::Professional, 10, None).await.unwrap();

        assert_eq!(promotions(&ledger, account.id).await, vec![
            ("professional".into(), 40, 40, utc("2026-12-10T00:00:00Z"), utc("2026-12-24T00:00:00Z")),
        ]);
        ledger.set_clock(utc("2026-12-27T00:00:00Z")).await.unwrap();
        ledger.update_subscription(account.id, PlanCode::Professional, 20, None).await.unwrap();
        assert_eq!(promotions(&ledger, account.id).await, vec![]);
        assert_eq!(promotion_lots(&ledger, account.id).await, 1);
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn a_campaign_changed_after_it_started_never_fails_an_operation_or_grants_twice(db) {
        let before = db.ledger(launch_config("2026-12-01T00:00:00Z"), utc("2026-11-24T10:00:00Z")).await;
        let account = before.create_account("Plus", PlanCode::ProfessionalPlus, 5, None).await.unwrap();
        before.set_clock(utc("2026-12-02T00:00:00Z")).await.unwrap();
        drop(before);

        // Longer and richer while the lot is unexpired: the top-up follows the new
        // values, the lot keeps its expiry.
        let mut richer = launch_config("2026-12-01T00:00:00Z");
        richer.launch_promotion_days = 40;
        richer.plans.get_mut(&PlanCode::ProfessionalPlus).unwrap().promotion_credits_per_slot = 20;
        let ledger = db.ledger(richer, utc("2026-12-05T00:00:00Z")).await;
        ledger.update_subscription(account.id, PlanCode::ProfessionalPlus, 6, None).await.unwrap();
        assert_eq!(promotions(&ledger, account.id).await, vec![
            ("launch".into(), 120, 120, utc("2026-12-01T00:00:00Z"), utc("2026-12-29T00:00:00Z")),
        ]);
        drop(ledger);

        // Moved to a later start, after the lot expired: nothing is granted again.
        let ledger = db.ledger(launch_config("2027-01-05T00:00:00Z"), utc("2027-01-10T00:00:00Z")).await;
        ledger.update_subscription(account.id, PlanCode::ProfessionalPlus, 10, None).await.unwrap();

        assert_eq!(promotions(&ledger, account.id).await, vec![]);
        assert_eq!(promotion_lots(&ledger, account.id).await, 1);
        let expiry = history(&ledger, account.id).await.into_iter().rfind(|e| e.1 == Bucket::LaunchPromotion);
        assert_eq!(expiry, Some((EntryKind::Expiry, Bucket::LaunchPromotion, -120, 60, "2026-12-29T00:00:00+00:00".into())));
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn the_embedded_default_restarted_on_a_later_day_takes_a_slot_increase(db) {
        let first_day = utc("2026-11-27T09:00:00Z");
        let ledger = db.ledger(demo::with_demo_launch(Config::default(), first_day), first_day).await;
        let account = demo::seed(&ledger).await.unwrap();
        drop(ledger);

        let a_month_later = utc("2026-12-28T09:00:00Z");
        let restarted = db.ledger(demo::with_demo_launch(Config::default(), a_month_later), a_month_later).await;
        restarted.update_subscription(account.id, PlanCode::ProfessionalPlus, 25, None).await.unwrap();

        assert_eq!(promotion_lots(&restarted, account.id).await, 1);
        assert_eq!(promotions(&restarted, account.id).await, vec![]);
        assert_lots_balance(&restarted, account.id).await;
    }

    async fn premium_moved_from_a_larger_lot_shows_its_cap_and_keeps_the_lot_until_the_reset(db) {
        let config = Config { fair_use_cap: 20, ..Config::default() };
        let ledger = db.ledger(config, utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Plus", PlanCode::ProfessionalPlus, 3, None).await.unwrap();
        let ids = photos(&ledger, account.id, 31).await;
        ledger.apply_changes(account.id, &apply(&ids[..5], "showroom", "k1")).await.unwrap();
        let fair_use = |b: &studio_bff::rules::balance::Breakdown| (b.unlimited, b.available, b.monthly.granted, b.fair_use.map(|f| (f.used, f.cap)));

        // A decrease (30 to 20): it waits for the reset, and nothing is taken back.
        let premium = ledger.update_subscription(account.id, PlanCode::Premium, 3, None).await.unwrap();
        assert_eq!(fair_use(&ledger.balance(&premium).await.unwrap()), (true, 25, 30, Some((5, 20))));

        ledger.apply_changes(account.id, &apply(&ids[5..20], "showroom", "k2")).await.unwrap();
        assert_eq!(fair_use(&ledger.balance(&premium).await.unwrap()), (false, 10, 30, Some((20, 20))));

        ledger.apply_changes(account.id, &apply(&ids[20..30], "showroom", "k3")).await.unwrap();
        let capped = ledger.apply_changes(account.id, &apply(&ids[30..], "showroom", "k4")).await;
        assert_eq!(refusal_code(capped), RefusalCode::FairUseCapReached);
        assert_eq!(fair_use(&ledger.balance(&premium).await.unwrap()), (false, 0, 30, Some((30, 20))));

        ledger.set_clock(utc("2026-12-01T00:00:00Z")).await.unwrap();
        let account = ledger.account(account.id).await.unwrap().unwrap();
        assert_eq!(fair_use(&ledger.balance(&account).await.unwrap()), (true, 20, 20, Some((0, 20))));
        assert_lots_balance(&ledger, account.id).await;
    }

    async fn the_same_key_with_the_batch_reordered_or_repeated_replays(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 2).await;
        let first = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap();

        let reordered = ledger.apply_changes(account.id, &apply(&[ids[1], ids[0], ids[1]], "showroom", "k")).await.unwrap();

        assert!(first.written.is_some());
        assert!(reordered.written.is_none(), "a replay writes nothing");
        assert_eq!(reordered.outcome, first.outcome);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 8);
    }

    async fn a_refused_apply_is_not_remembered_and_its_key_acts_when_sent_again(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let ids = photos(&ledger, account.id, 6).await;
        let refused = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await;
        assert_eq!(refusal_code(refused), RefusalCode::InsufficientCredits);

        ledger.purchase_pack(account.id, "pro-small", "pack").await.unwrap();
        let again = ledger.apply_changes(account.id, &apply(&ids, "showroom", "k")).await.unwrap();

        assert_eq!((again.outcome.credits_charged, again.written.is_some()), (6, true));
        assert_eq!(ledger.balance(&account).await.unwrap().available, 24);
    }

    async fn an_apply_that_waited_for_the_lock_across_a_reset_acts_after_it(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-30T23:59:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let ids = photos(&ledger, account.id, 1).await;
        let holder = hold_lock(&ledger, account.id).await;

        let waiting = {
            let ledger = ledger.clone();
            let request = apply(&ids, "showroom", "k");
            tokio::spawn(async move { ledger.apply_changes(account.id, &request).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the apply waits for the lock");
        ledger.clock().set(utc("2026-12-01T00:01:00Z")).unwrap();
        holder.rollback().await.unwrap();
        let applied = waiting.await.unwrap().unwrap();

        let edit = entity::edit::Entity::find_by_id(applied.outcome.edit_ids[0]).one(ledger.db()).await.unwrap().unwrap();
        let payer = entity::lot::Entity::find_by_id(edit.lot_id).one(ledger.db()).await.unwrap().unwrap();
        assert_eq!(edit.applied_at, utc("2026-12-01T00:01:00Z"));
        assert_eq!(payer.origin, "cycle:2026-12-01T00:00:00+00:00");
        assert_eq!(history(&ledger, account.id).await[1..], [
            (EntryKind::Expiry, Bucket::Monthly, -10, 0, "2026-12-01T00:00:00+00:00".into()),
            (EntryKind::Grant, Bucket::Monthly, 10, 10, "2026-12-01T00:00:00+00:00".into()),
            (EntryKind::Charge, Bucket::Monthly, -1, 9, "2026-12-01T00:01:00+00:00".into()),
        ]);
    }

    async fn one_account_that_cannot_catch_up_does_not_hold_back_the_others(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let broken = ledger.create_account("Broken", PlanCode::Professional, 2, None).await.unwrap();
        let healthy = ledger.create_account("Healthy", PlanCode::Professional, 2, None).await.unwrap();
        // A retired lot already holding the next cycle's origin: the reset cannot grant it.
        entity::lot::ActiveModel {
            account_id: Set(broken.id),
            bucket: Set(Bucket::Monthly),
            origin: Set("cycle:2026-12-01T00:00:00+00:00".into()),
            granted: Set(0),
            remaining: Set(0),
            valid_from: Set(utc("2026-11-24T10:00:00Z")),
            expires_at: Set(utc("2026-11-25T00:00:00Z")),
            expired: Set(true),
            created_at: Set(utc("2026-11-24T10:00:00Z")),
            pack_id: Set(None),
            ..Default::default()
        }
        .insert(ledger.db())
        .await
        .unwrap();
        ledger.clock().set(utc("2026-12-01T00:00:10Z")).unwrap();

        let pass = ledger.process_due().await.unwrap();

        assert_eq!(pass, DuePass { changed: vec![healthy.id], failed: vec![broken.id], warned: vec![] });
        let origins: Vec<String> = ledger.lots(healthy.id).await.unwrap().into_iter().map(|l| l.origin).collect();
        assert_eq!(origins, ["cycle:2026-11-01T00:00:00+00:00", "cycle:2026-12-01T00:00:00+00:00"]);
    }

    async fn a_pass_waits_for_an_account_another_transaction_holds(db) {
        // process_due (at start, and when a manual clock moves) ends with every due
        // account caught up, the held one too once it is let go.
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let held = ledger.create_account("Held", PlanCode::Professional, 2, None).await.unwrap();
        let free = ledger.create_account("Free", PlanCode::Professional, 2, None).await.unwrap();
        ledger.clock().set(utc("2026-12-01T00:00:10Z")).unwrap();
        let holder = hold_lock(&ledger, held.id).await;

        let pass = {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.process_due().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!pass.is_finished(), "the pass waits for the held account");
        holder.rollback().await.unwrap();

        let pass = pass.await.unwrap().unwrap();
        assert_eq!(pass, DuePass { changed: vec![held.id, free.id], failed: vec![], warned: vec![] });
    }

    async fn the_auditor_counts_refunds_and_adjustments_like_every_other_entry(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let lot = ledger.lots(account.id).await.unwrap().remove(0);

        write_entry(&ledger, &lot, EntryKind::Refund, 1, 11, true).await;
        write_entry(&ledger, &lot, EntryKind::Adjustment, -3, 8, true).await;
        let (_, clean) = audit(&ledger, &[account.id]).await;
        // An entry whose lot was not changed: the lot, the balance and the breakdown differ.
        write_entry(&ledger, &lot, EntryKind::Adjustment, -1, 7, false).await;
        let (_, unbalanced) = audit(&ledger, &[account.id]).await;

        assert_eq!((clean, unbalanced), (0, 3));
    }
}

/// A scheduler's tick leaves an account another transaction holds to it (PostgreSQL's
/// `FOR UPDATE SKIP LOCKED`), so instances sharing the database split a burst of due
/// accounts instead of queueing behind each other's locks; the next tick takes what
/// was left. Only on PostgreSQL: SQLite has one writer at a time and no row locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn a_tick_leaves_an_account_another_transaction_holds_to_the_next_tick() {
    let db = crate::common::TestDb::postgres().await;
    let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
    let held = ledger
        .create_account("Held", PlanCode::Professional, 2, None)
        .await
        .unwrap();
    let free = ledger
        .create_account("Free", PlanCode::Professional, 2, None)
        .await
        .unwrap();
    ledger.clock().set(utc("2026-12-01T00:00:10Z")).unwrap();
    let holder = hold_lock(&ledger, held.id).await;

    let tick = tokio::time::timeout(std::time::Duration::from_secs(10), ledger.process_due_shared())
        .await
        .expect("the tick does not wait for the held account")
        .unwrap();

    assert_eq!(
        tick,
        DuePass {
            changed: vec![free.id],
            failed: vec![],
            warned: vec![]
        }
    );
    let cycles = |lots: Vec<entity::lot::Model>| lots.into_iter().map(|l| l.origin).collect::<Vec<_>>();
    assert_eq!(
        cycles(ledger.lots(held.id).await.unwrap()),
        ["cycle:2026-11-01T00:00:00+00:00"]
    );
    holder.rollback().await.unwrap();
    let next = ledger.process_due_shared().await.unwrap();
    assert_eq!(
        next,
        DuePass {
            changed: vec![held.id],
            failed: vec![],
            warned: vec![]
        }
    );
    assert_eq!(
        cycles(ledger.lots(held.id).await.unwrap()),
        ["cycle:2026-11-01T00:00:00+00:00", "cycle:2026-12-01T00:00:00+00:00"]
    );
}

/// Holds `account_id`'s lock the way a write does (SQLite: the write lock; PostgreSQL:
/// the account row) until the returned transaction ends.
async fn hold_lock(ledger: &Ledger, account_id: i64) -> sea_orm::DatabaseTransaction {
    let txn = studio_bff::db::begin_write(ledger.db()).await.unwrap();
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account_id.into()],
        ))
        .await
        .unwrap();
    }
    txn
}

/// Writes an entry of `kind` to `lot` with `balance_after`, changing the lot by
/// `amount` when `move_lot`: what the renders and credit-notes issues will write.
async fn write_entry(
    ledger: &Ledger,
    lot: &entity::lot::Model,
    kind: EntryKind,
    amount: i32,
    balance_after: i32,
    move_lot: bool,
) {
    if move_lot {
        let current = entity::lot::Entity::find_by_id(lot.id)
            .one(ledger.db())
            .await
            .unwrap()
            .unwrap();
        let mut changed: entity::lot::ActiveModel = current.clone().into();
        changed.remaining = Set(current.remaining + amount);
        changed.update(ledger.db()).await.unwrap();
    }
    entity::ledger_entry::ActiveModel {
        account_id: Set(lot.account_id),
        lot_id: Set(lot.id),
        kind: Set(kind),
        bucket: Set(lot.bucket),
        amount: Set(amount),
        balance_after: Set(balance_after),
        created_at: Set(utc("2026-11-24T11:00:00Z")),
        cause: Set("test".into()),
        description: Set(format!("{kind:?}")),
        ..Default::default()
    }
    .insert(ledger.db())
    .await
    .unwrap();
}
