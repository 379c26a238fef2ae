//! Every business refusal of the contract arrives as a `userErrors` entry with its
//! code, and nothing changed; on SQLite and PostgreSQL.

use crate::api_support::{NOW, TestApp, user_error_codes, utc};
use entity::enums::PlanCode;
use entity::{edit, faulty_report, idempotency_record, invoice, ledger_entry};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use studio_bff::clock::Clock;
use studio_bff::config::{ClockMode, Config};
use studio_bff::ids::Kind;
use studio_bff::limits::Limits;

fn apply_input(photo_ids: &[String], background: &str, key: &str) -> Value {
    json!({"input": {"photoIds": photo_ids, "backgroundId": background, "idempotencyKey": key}})
}

/// How many rows `entity`'s table holds.
async fn rows<E>(app: &TestApp) -> u64
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    E::find().count(app.ledger.db()).await.expect("a count")
}

on_both_databases! {
    async fn a_batch_beyond_the_credits_is_refused_with_insufficient_credits_and_charges_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(account.id, 6).await;

        let payload = app.op(&app.member(account.id), "ApplyChanges", apply_input(&photos, &app.gid(Kind::Background, "showroom"), "k1")).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["INSUFFICIENT_CREDITS"]);
        assert_eq!(payload["userErrors"][0]["message"], "This batch needs 6 credits and 5 are available.");
        assert_eq!(payload["creditsCharged"], 0);
        assert_eq!(payload["edits"], json!([]));
        assert_eq!(payload["balance"]["available"], 5);
    }

    async fn premium_past_its_cap_is_refused_with_fair_use_cap_reached(db) {
        let app = TestApp::start(&db, Config { fair_use_cap: 2, ..Config::default() }).await;
        let account = app.ledger.create_account("P", PlanCode::Premium, 1, None).await.unwrap();
        let photos = app.photos(account.id, 3).await;
        let token = app.member(account.id);
        let showroom = app.gid(Kind::Background, "showroom");
        app.op(&token, "ApplyChanges", apply_input(&photos[..2], &showroom, "k1")).await;

        let payload = app.op(&token, "ApplyChanges", apply_input(&photos[2..], &showroom, "k2")).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["FAIR_USE_CAP_REACHED"]);
        assert_eq!(payload["balance"], json!({"available": 0, "unlimited": false, "fairUse": {"used": 2, "cap": 2}}));
    }

    async fn an_empty_batch_is_refused_with_empty_batch(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();

        let payload = app.op(&app.member(account.id), "ApplyChanges", apply_input(&[], &app.gid(Kind::Background, "showroom"), "k1")).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["EMPTY_BATCH"]);
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "photoIds"]));
    }

    async fn a_batch_over_the_maximum_is_refused_with_batch_too_large(db) {
        let app = TestApp::start(&db, Config { max_batch_photos: 2, ..Config::default() }).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let photos = app.photos(account.id, 3).await;

        let payload = app.op(&app.member(account.id), "ApplyChanges", apply_input(&photos, &app.gid(Kind::Background, "showroom"), "k1")).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["BATCH_TOO_LARGE"]);
        assert_eq!(payload["balance"]["available"], 10);
    }

    async fn another_accounts_photo_or_a_tampered_id_is_refused_with_photo_not_found(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 2, None).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 2, None).await.unwrap();
        let my_photo = app.photos(mine.id, 1).await.remove(0);
        let their_photo = app.photos(theirs.id, 1).await.remove(0);
        let token = app.member(mine.id);
        let showroom = app.gid(Kind::Background, "showroom");
        let last = if my_photo.ends_with('A') { 'B' } else { 'A' };
        let forged = format!("{}{last}", &my_photo[..my_photo.len() - 1]);

        let foreign = app.op(&token, "ApplyChanges", apply_input(&[my_photo.clone(), their_photo.clone()], &showroom, "k1")).await["applyChanges"].clone();
        let tampered = app.op(&token, "ApplyChanges", apply_input(&[forged], &showroom, "k2")).await["applyChanges"].clone();
        let report = app.op(&token, "ReportFaultyPhoto", json!({"photoId": their_photo})).await["reportFaultyPhoto"].clone();

        assert_eq!(user_error_codes(&foreign), ["PHOTO_NOT_FOUND"]);
        assert_eq!(foreign["userErrors"][0]["field"], json!(["input", "photoIds", "1"]));
        assert_eq!(foreign["balance"]["available"], 10);
        assert_eq!(user_error_codes(&tampered), ["PHOTO_NOT_FOUND"]);
        assert_eq!(user_error_codes(&report), ["PHOTO_NOT_FOUND"]);
        assert_eq!(app.ledger.balance(&theirs).await.unwrap().available, 10);
    }

    async fn an_unknown_background_is_refused_with_background_not_found(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(account.id, 1).await;

        let payload = app.op(&app.member(account.id), "ApplyChanges", apply_input(&photos, &app.gid(Kind::Background, "the-moon"), "k1")).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["BACKGROUND_NOT_FOUND"]);
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "backgroundId"]));
        assert_eq!(payload["balance"]["available"], 5);
    }

    async fn another_accounts_logo_is_refused_with_logo_not_found(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 1, None).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(mine.id, 1).await;
        let their_logo = app.ledger.add_logo(theirs.id, "Theirs", "https://img.example/l.png").await.unwrap();

        let payload = app.op(&app.member(mine.id), "ApplyChanges", json!({"input": {
            "photoIds": photos, "backgroundId": app.gid(Kind::Background, "showroom"),
            "logo": {"logoId": app.gid(Kind::Logo, their_logo.id), "position": "TOP_RIGHT"},
            "idempotencyKey": "k1",
        }})).await["applyChanges"].clone();

        assert_eq!(user_error_codes(&payload), ["LOGO_NOT_FOUND"]);
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "logo", "logoId"]));
        assert_eq!(payload["balance"]["available"], 5);
    }

    async fn reporting_a_photo_without_an_edit_is_refused_with_photo_not_edited(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photo = app.photos(account.id, 1).await.remove(0);

        let payload = app.op(&app.member(account.id), "ReportFaultyPhoto", json!({"photoId": photo, "reason": "?"})).await["reportFaultyPhoto"].clone();

        assert_eq!(user_error_codes(&payload), ["PHOTO_NOT_EDITED"]);
        assert_eq!(payload["report"], json!(null));
    }

    async fn a_pack_of_another_plan_is_refused_with_pack_not_available(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();

        let payload = app.op(&app.member(account.id), "BuyPack", json!({"packId": app.gid(Kind::CreditPack, "basic-small"), "idempotencyKey": "k1"})).await["purchasePack"].clone();

        assert_eq!(user_error_codes(&payload), ["PACK_NOT_AVAILABLE"]);
        assert_eq!(payload["invoice"], json!(null));
        assert_eq!(payload["balance"], json!({"available": 5, "purchased": {"remaining": 0}}));
    }

    async fn a_key_reused_for_another_pack_is_refused_with_idempotency_key_reused(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let token = app.member(account.id);
        app.op(&token, "BuyPack", json!({"packId": app.gid(Kind::CreditPack, "pro-small"), "idempotencyKey": "k1"})).await;

        let payload = app.op(&token, "BuyPack", json!({"packId": app.gid(Kind::CreditPack, "pro-medium"), "idempotencyKey": "k1"})).await["purchasePack"].clone();

        assert_eq!(user_error_codes(&payload), ["IDEMPOTENCY_KEY_REUSED"]);
        assert_eq!(payload["balance"], json!({"available": 30, "purchased": {"remaining": 25}}));
    }

    async fn a_logo_without_a_name_is_refused_with_invalid_input(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();

        let payload = app.op(&app.member(account.id), "AddLogo", json!({"name": "  ", "imageUrl": "https://img.example/l.png"})).await["addLogo"].clone();

        assert_eq!(user_error_codes(&payload), ["INVALID_INPUT"]);
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "name"]));
        assert_eq!(payload["logo"], json!(null));
    }

    async fn a_report_reason_with_a_nul_is_refused_with_invalid_input_and_stores_no_report(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(account.id, 1).await;
        let token = app.member(account.id);
        app.op(&token, "ApplyChanges", apply_input(&photos, &app.gid(Kind::Background, "showroom"), "k1")).await;

        let payload = app.op(&token, "ReportFaultyPhoto", json!({"photoId": photos[0], "reason": "bad\u{0}image"})).await["reportFaultyPhoto"].clone();

        assert_eq!(payload["userErrors"], json!([{
            "code": "INVALID_INPUT",
            "message": "reason must be at most 2048 printable characters.",
            "field": ["input", "reason"],
        }]));
        assert_eq!(payload["report"], json!(null));
        assert_eq!(payload["balance"]["available"], 4);
        assert_eq!(rows::<faulty_report::Entity>(&app).await, 0);
    }

    async fn idempotency_keys_with_a_control_character_are_refused_with_invalid_input_and_charge_and_bill_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(account.id, 1).await;
        let token = app.member(account.id);
        let showroom = app.gid(Kind::Background, "showroom");
        let pack = app.gid(Kind::CreditPack, "pro-small");
        let refused = json!([{
            "code": "INVALID_INPUT",
            "message": "idempotencyKey must be 1 to 128 printable characters.",
            "field": ["input", "idempotencyKey"],
        }]);
        let entries_before = rows::<ledger_entry::Entity>(&app).await;

        for key in ["k\u{0}1", "k\u{7}1", "k\u{7f}1"] {
            let applied = app.op(&token, "ApplyChanges", apply_input(&photos, &showroom, key)).await["applyChanges"].clone();
            let bought = app.op(&token, "BuyPack", json!({"packId": pack, "idempotencyKey": key})).await["purchasePack"].clone();

            assert_eq!(applied["userErrors"], refused, "apply with {key:?}");
            assert_eq!(applied["creditsCharged"], 0, "apply with {key:?}");
            assert_eq!(applied["edits"], json!([]), "apply with {key:?}");
            assert_eq!(bought["userErrors"], refused, "purchase with {key:?}");
            assert_eq!((&bought["invoice"], &bought["lot"]), (&json!(null), &json!(null)), "purchase with {key:?}");
            assert_eq!(bought["balance"], json!({"available": 5, "purchased": {"remaining": 0}}), "purchase with {key:?}");
        }
        assert_eq!(rows::<edit::Entity>(&app).await, 0);
        assert_eq!(rows::<invoice::Entity>(&app).await, 0);
        assert_eq!(rows::<idempotency_record::Entity>(&app).await, 0);
        assert_eq!(rows::<ledger_entry::Entity>(&app).await, entries_before);
    }

    async fn the_50th_logo_is_accepted_and_the_51st_is_refused_with_too_many_logos_storing_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        for i in 1..50 {
            app.ledger.add_logo(account.id, &format!("Logo {i}"), "https://img.example/l.png").await.unwrap();
        }
        let token = app.member(account.id);
        let add = |name: &str| json!({"name": name, "imageUrl": "https://img.example/l.png"});

        let fiftieth = app.op(&token, "AddLogo", add("Logo 50")).await["addLogo"].clone();
        let fifty_first = app.op(&token, "AddLogo", add("Logo 51")).await["addLogo"].clone();

        assert_eq!(fiftieth["userErrors"], json!([]));
        assert_eq!(fiftieth["logo"]["name"], "Logo 50");
        assert_eq!(fifty_first, json!({"logo": null, "userErrors": [
            {"code": "TOO_MANY_LOGOS", "message": "An account holds at most 50 logos.", "field": null},
        ]}));
        let stored = app.stored_logos(account.id).await;
        assert_eq!(stored.len(), 50);
        assert_eq!(stored.last().map(String::as_str), Some("Logo 50"));
    }

    async fn changing_an_account_that_does_not_exist_is_refused_with_account_not_found(db) {
        let app = TestApp::start(&db, Config::default()).await;

        let payload = app.op(&app.ops(), "UpdateSubscription", json!({"accountId": app.gid(Kind::Account, 999_999), "plan": "BASIC", "listingSlots": 1})).await["updateSubscription"].clone();

        assert_eq!(user_error_codes(&payload), ["ACCOUNT_NOT_FOUND"]);
        assert_eq!(payload["account"], json!(null));
    }

    async fn setting_a_system_clock_is_refused_with_clock_not_manual(db) {
        let app = TestApp::with(&db, Config::default(), Clock::new(ClockMode::System), Limits::default()).await;

        let payload = app.op(&app.ops(), "SetClock", json!({"now": "2030-01-01T00:00:00Z"})).await["setClock"].clone();

        assert_eq!(user_error_codes(&payload), ["CLOCK_NOT_MANUAL"]);
        assert_eq!(payload["now"], json!(null));
        assert!(app.ledger.now() < utc("2030-01-01T00:00:00Z"));
    }

    async fn moving_a_manual_clock_backwards_is_refused_with_invalid_input(db) {
        let app = TestApp::start(&db, Config::default()).await;

        let payload = app.op(&app.ops(), "SetClock", json!({"now": "2026-01-01T00:00:00Z"})).await["setClock"].clone();

        assert_eq!(user_error_codes(&payload), ["INVALID_INPUT"]);
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "now"]));
        assert_eq!(app.ledger.now(), utc(NOW));
    }
}
