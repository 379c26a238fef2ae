//! `quoteApply` (rules §1, "What an apply would cost"): it answers what the apply of
//! the same input then does, refusal or charge, bucket by bucket, and writes nothing;
//! on SQLite and PostgreSQL.

use crate::api_support::{TestApp, utc};
use entity::enums::PlanCode;
use entity::{account, edit, faulty_report, idempotency_record, invoice, ledger_entry, logo, lot, photo};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;

/// Rows of every table an apply or the clock's catch-up writes to.
async fn row_counts(app: &TestApp) -> [u64; 8] {
    let db = app.ledger.db();
    [
        account::Entity::find().count(db).await.unwrap(),
        lot::Entity::find().count(db).await.unwrap(),
        ledger_entry::Entity::find().count(db).await.unwrap(),
        edit::Entity::find().count(db).await.unwrap(),
        photo::Entity::find().count(db).await.unwrap(),
        idempotency_record::Entity::find().count(db).await.unwrap(),
        invoice::Entity::find().count(db).await.unwrap(),
        faulty_report::Entity::find().count(db).await.unwrap() + logo::Entity::find().count(db).await.unwrap(),
    ]
}

fn look(photos: &[String], background: &str, logo: Option<&str>) -> Value {
    let logo = logo.map(|id| json!({"logoId": id, "position": "TOP_LEFT"}));
    json!({"photoIds": photos, "backgroundId": background, "logo": logo})
}

async fn quote(app: &TestApp, token: &str, input: &Value) -> Value {
    app.op(token, "QuoteApply", json!({"input": input})).await["quoteApply"].clone()
}

async fn apply(app: &TestApp, token: &str, input: &Value, key: &str) -> Value {
    let mut input = input.clone();
    input["idempotencyKey"] = json!(key);
    app.op(token, "ApplyChanges", json!({"input": input})).await["applyChanges"].clone()
}

on_both_databases! {
    async fn a_quote_meets_every_refusal_the_apply_then_meets_and_writes_nothing(db) {
        let app = TestApp::start(&db, Config { max_batch_photos: 6, fair_use_cap: 1, ..Config::default() }).await;
        // Professional, 1 slot: 5 credits.
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 1, None).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 1, None).await.unwrap();
        let premium = app.ledger.create_account("Premium", PlanCode::Premium, 1, None).await.unwrap();
        let photos = app.photos(mine.id, 7).await;
        let their_photo = app.photos(theirs.id, 1).await.remove(0);
        let premium_photos = app.photos(premium.id, 2).await;
        let their_logo = app.ledger.add_logo(theirs.id, "Theirs", "https://img.example/l.png").await.unwrap();
        let (token, premium_token) = (app.member(mine.id), app.member(premium.id));
        let showroom = app.gid(Kind::Background, "showroom");
        let last = if photos[0].ends_with('A') { 'B' } else { 'A' };
        let forged = format!("{}{last}", &photos[0][..photos[0].len() - 1]);
        // Premium with a cap of 1: one credit spent, the cap is used up.
        apply(&app, &premium_token, &look(&premium_photos[..1], &showroom, None), "premium-1").await;
        let cases: Vec<(&str, &str, Value, &str)> = vec![
            ("another account's photo", "PHOTO_NOT_FOUND", look(&[photos[0].clone(), their_photo.clone()], &showroom, None), &token),
            ("a tampered photo id", "PHOTO_NOT_FOUND", look(&[forged], &showroom, None), &token),
            ("an unknown background", "BACKGROUND_NOT_FOUND", look(&photos[..1], &app.gid(Kind::Background, "the-moon"), None), &token),
            ("another account's logo", "LOGO_NOT_FOUND", look(&photos[..1], &showroom, Some(&app.gid(Kind::Logo, their_logo.id))), &token),
            ("six photos for five credits", "INSUFFICIENT_CREDITS", look(&photos[..6], &showroom, None), &token),
            ("no photo", "EMPTY_BATCH", look(&[], &showroom, None), &token),
            ("seven photos over a maximum of six", "BATCH_TOO_LARGE", look(&photos, &showroom, None), &token),
            ("premium past its cap", "FAIR_USE_CAP_REACHED", look(&premium_photos[1..], &showroom, None), &premium_token),
        ];
        let before = row_counts(&app).await;

        let mut quotes = Vec::new();
        for (_, _, input, token) in &cases {
            quotes.push(quote(&app, token, input).await);
        }
        let after_quotes = row_counts(&app).await;
        let mut applies = Vec::new();
        for (i, (_, _, input, token)) in cases.iter().enumerate() {
            applies.push(apply(&app, token, input, &format!("key-{i}")).await);
        }

        assert_eq!(after_quotes, before, "a quote wrote rows");
        for (((what, code, _, token), quoted), applied) in cases.iter().zip(&quotes).zip(&applies) {
            let available = if *token == premium_token { 0 } else { 5 };
            assert_eq!(quoted["userErrors"][0]["code"], json!(code), "{what}");
            assert_eq!(quoted["userErrors"], applied["userErrors"], "{what}");
            assert_eq!(
                (&quoted["credits"], &quoted["unchanged"], &quoted["drawnFrom"], &quoted["available"]),
                (&json!(0), &json!([]), &json!([]), &json!(available)),
                "{what}"
            );
            assert_eq!(applied["creditsCharged"], 0, "{what}");
        }
        assert_eq!(quotes[4]["userErrors"][0]["message"], "This batch needs 6 credits and 5 are available.");
        assert_eq!(quotes[0]["userErrors"][0]["field"], json!(["input", "photoIds", "1"]));
        assert_eq!(row_counts(&app).await, before, "a refused apply wrote rows");
    }

    async fn a_quote_names_the_credits_each_bucket_gives_and_the_apply_charges_exactly_those(db) {
        let config = Config { launch_at: Some(utc("2026-11-20T00:00:00Z")), ..Config::default() };
        let app = TestApp::start(&db, config).await;
        // PROFESSIONAL_PLUS, 1 slot: 10 promotion, 10 monthly credits; a pack of 25.
        let account = app.ledger.create_account("A", PlanCode::ProfessionalPlus, 1, None).await.unwrap();
        app.ledger.purchase_pack(account.id, "pro-small", "buy-1").await.unwrap();
        let photos = app.photos(account.id, 25).await;
        let token = app.member(account.id);
        let showroom = app.gid(Kind::Background, "showroom");
        // Two photos already show the look: promotion 10 -> 8.
        apply(&app, &token, &look(&photos[..2], &showroom, None), "first").await;
        let input = look(&photos, &showroom, None);
        let before = row_counts(&app).await;

        let quoted = quote(&app, &token, &input).await;
        let after_quote = row_counts(&app).await;
        let applied = apply(&app, &token, &input, "second").await;

        assert_eq!(after_quote, before);
        assert_eq!(
            quoted,
            json!({
                "credits": 23,
                "unchanged": [{"id": photos[0]}, {"id": photos[1]}],
                "drawnFrom": [
                    {"bucket": "LAUNCH_PROMOTION", "credits": 8},
                    {"bucket": "MONTHLY", "credits": 10},
                    {"bucket": "PURCHASED", "credits": 5},
                ],
                "available": 43,
                "userErrors": [],
            })
        );
        assert_eq!(applied["creditsCharged"], 23);
        assert_eq!(applied["unchanged"], quoted["unchanged"]);
        let paid_from: Vec<&str> = applied["edits"].as_array().unwrap().iter().map(|e| e["paidFrom"].as_str().unwrap()).collect();
        let count = |bucket| paid_from.iter().filter(|b| **b == bucket).count();
        assert_eq!(
            (count("LAUNCH_PROMOTION"), count("MONTHLY"), count("PURCHASED"), paid_from.len()),
            (8, 10, 5, 23)
        );
        assert_eq!(applied["balance"]["available"], 20);
    }

    async fn a_quote_across_a_reset_not_yet_written_sees_the_new_cycle_and_writes_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        // Professional, 1 slot: 5 credits, all spent before the reset of 1 December.
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let photos = app.photos(account.id, 8).await;
        let token = app.member(account.id);
        let showroom = app.gid(Kind::Background, "showroom");
        apply(&app, &token, &look(&photos[..5], &showroom, None), "november").await;
        // The clock alone moves past the reset: nothing has written it yet.
        app.ledger.clock().set(utc("2026-12-01T00:00:01Z")).unwrap();
        let input = look(&photos[5..], &showroom, None);
        let before = row_counts(&app).await;

        let quoted = quote(&app, &token, &input).await;
        let after_quote = row_counts(&app).await;
        let stored = account::Entity::find_by_id(account.id).one(app.ledger.db()).await.unwrap().unwrap();
        let applied = apply(&app, &token, &input, "december").await;

        assert_eq!(after_quote, before);
        assert_eq!(stored.next_reset_at, utc("2026-12-01T00:00:00Z"), "the quote wrote the reset");
        assert_eq!(quoted["credits"], 3);
        assert_eq!(quoted["drawnFrom"], json!([{"bucket": "MONTHLY", "credits": 3}]));
        assert_eq!(quoted["available"], 5);
        assert_eq!(applied["creditsCharged"], 3);
        assert_eq!(applied["balance"]["available"], 2);
    }
}
