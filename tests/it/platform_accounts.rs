//! Accounts named by the platform's id, subscription updates in the platform's order,
//! and who made each change (rules §4), through the contract's operations on SQLite
//! and PostgreSQL.

use std::time::Duration;

use crate::api_support::{TestApp, user_error_codes};
use entity::enums::{EntryKind, PlanCode};
use serde_json::{Value, json};
use studio_bff::auth::Role;
use studio_bff::config::Config;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ids::Kind;

fn create(external_id: &str, plan: &str, slots: i32) -> Value {
    json!({"name": "Autohaus Süd", "plan": plan, "listingSlots": slots, "externalId": external_id})
}

/// The account's ledger as the billing page shows it, newest first: (kind, amount,
/// actor).
async fn history(app: &TestApp, token: &str) -> Vec<(String, i64, Value)> {
    let page = app.op(token, "BillingPage", json!({"historyFirst": 50})).await;
    page["viewer"]["account"]["ledger"]["edges"]
        .as_array()
        .expect("a ledger page")
        .iter()
        .map(|e| {
            let node = &e["node"];
            (
                node["kind"].as_str().expect("a kind").to_owned(),
                node["amount"].as_i64().expect("an amount"),
                node["actor"].clone(),
            )
        })
        .collect()
}

fn refusal_code(outcome: Result<impl std::fmt::Debug, Error>) -> RefusalCode {
    match outcome {
        Err(Error::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

on_both_databases! {
    async fn create_account_again_with_its_external_id_answers_that_account_and_grants_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();

        let first = app.op(&ops, "CreateAccount", create("dealer-42", "PROFESSIONAL", 2)).await["createAccount"].clone();
        let again = app.op(&ops, "CreateAccount", create("dealer-42", "PROFESSIONAL", 2)).await["createAccount"].clone();
        let other = app.op(&ops, "CreateAccount", create("dealer-42", "PROFESSIONAL", 3)).await["createAccount"].clone();
        let other_plan = app.op(&ops, "CreateAccount", create("dealer-42", "BASIC", 2)).await["createAccount"].clone();

        let account = &first["account"];
        assert_eq!(account["externalId"], "dealer-42");
        assert_eq!(account["balance"]["available"], 10, "2 slots × 5 credits");
        assert_eq!(first["userErrors"], json!([]));
        assert_eq!(again["account"], first["account"], "the same account, the same balance");
        assert_eq!(again["userErrors"], json!([]));
        for refused in [&other, &other_plan] {
            assert_eq!(refused["account"], Value::Null);
            assert_eq!(user_error_codes(refused), ["ACCOUNT_EXISTS"]);
            assert_eq!(refused["userErrors"][0]["field"], json!(["input", "externalId"]));
        }
        let id = app.ledger.account_by_external_id("dealer-42").await.unwrap().expect("stored").id;
        assert_eq!(app.gid(Kind::Account, id), account["id"].as_str().unwrap());
        let grants: Vec<i32> = app.ledger.entries(id).await.unwrap().iter().map(|e| e.amount).collect();
        assert_eq!(grants, [10], "one grant, however often the platform asked");
        let stored = app.ledger.account(id).await.unwrap().expect("stored");
        assert_eq!((stored.plan, stored.listing_slots), (PlanCode::Professional, 2));

        let found = app.op(&ops, "OpsAccountByExternalId", json!({"externalId": "dealer-42"})).await;
        assert_eq!(
            found["accountByExternalId"],
            json!({"id": account["id"], "externalId": "dealer-42", "name": "Autohaus Süd",
                   "plan": {"code": "PROFESSIONAL"}, "listingSlots": 2})
        );
        let missing = app.op(&ops, "OpsAccountByExternalId", json!({"externalId": "dealer-43"})).await;
        assert_eq!(missing["accountByExternalId"], Value::Null);
        let unprintable = app.op(&ops, "OpsAccountByExternalId", json!({"externalId": "dealer\u{0}42"})).await;
        assert_eq!(unprintable["accountByExternalId"], Value::Null, "no account can have it, on either database");
    }

    async fn an_external_id_is_1_to_64_printable_characters(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();
        let longest = "x".repeat(64);
        for bad in ["", "dealer\u{0}7", "dealer\n7", &"x".repeat(65)] {
            let refused = app.op(&ops, "CreateAccount", create(bad, "BASIC", 1)).await["createAccount"].clone();
            assert_eq!(user_error_codes(&refused), ["INVALID_INPUT"], "{bad:?}");
            assert_eq!(refused["userErrors"][0]["field"], json!(["input", "externalId"]));
        }
        assert!(app.ledger.account_by_external_id("dealer\u{0}7").await.unwrap().is_none());
        let made = app.op(&ops, "CreateAccount", create(&longest, "BASIC", 1)).await["createAccount"].clone();
        assert_eq!(made["account"]["externalId"], longest.as_str());
        let without = app
            .op(&ops, "CreateAccount", json!({"name": "No id", "plan": "BASIC", "listingSlots": 1}))
            .await["createAccount"]
            .clone();
        let without_again = app
            .op(&ops, "CreateAccount", json!({"name": "No id", "plan": "BASIC", "listingSlots": 1}))
            .await["createAccount"]
            .clone();
        assert_eq!(without["account"]["externalId"], Value::Null);
        assert_ne!(without["account"]["id"], without_again["account"]["id"], "without an id, each call opens one");
    }

    async fn instances_creating_one_external_id_at_once_open_one_account_with_one_grant(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let tries = (0..8).map(|_| app.ledger.create_account("Racing Cars", PlanCode::Professional, 2, Some("dealer-race")));
        let answers = futures::future::join_all(tries).await;

        let ids: Vec<i64> = answers.into_iter().map(|a| a.expect("every call answers the account").id).collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        let entries = app.ledger.entries(ids[0]).await.unwrap();
        assert_eq!(entries.iter().map(|e| (e.kind, e.amount)).collect::<Vec<_>>(), [(EntryKind::Grant, 10)]);
    }

    async fn a_subscription_update_that_is_not_newer_changes_nothing(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();
        let account = app.ledger.create_account("Autohaus West", PlanCode::Professional, 2, None).await.unwrap();
        let id = app.gid(Kind::Account, account.id);
        let update = |slots: i32, plan: &str, sequence: Option<i64>| {
            json!({"accountId": id, "plan": plan, "listingSlots": slots, "sequence": sequence})
        };
        let send = |variables: Value| {
            let (app, ops) = (&app, &ops);
            async move { app.op(ops, "UpdateSubscription", variables).await["updateSubscription"].clone() }
        };

        let newer = send(update(4, "PROFESSIONAL", Some(2))).await;
        // Delivered late, after sequence 2: an older message must not undo it.
        let late = send(update(1, "BASIC", Some(1))).await;
        let repeated = send(update(3, "PROFESSIONAL", Some(2))).await;
        let unsequenced = send(update(5, "PROFESSIONAL", None)).await;
        let still_stale = send(update(1, "BASIC", Some(2))).await;
        let next = send(update(6, "PROFESSIONAL", Some(3))).await;

        assert_eq!(newer["account"]["balance"]["available"], 20, "4 slots × 5");
        for stale in [&late, &repeated, &still_stale] {
            assert_eq!(stale["account"], Value::Null);
            assert_eq!(user_error_codes(stale), ["STALE_UPDATE"]);
            assert_eq!(stale["userErrors"][0]["field"], json!(["input", "sequence"]));
        }
        assert_eq!(unsequenced["account"]["listingSlots"], 5, "an update without sequence applies");
        assert_eq!(unsequenced["account"]["balance"]["available"], 25);
        assert_eq!(next["account"]["listingSlots"], 6);
        assert_eq!(next["account"]["balance"]["available"], 30);
        let stored = app.ledger.account(account.id).await.unwrap().expect("stored");
        assert_eq!((stored.plan, stored.listing_slots, stored.subscription_sequence), (PlanCode::Professional, 6, Some(3)));
        let grants: Vec<i32> = app.ledger.entries(account.id).await.unwrap().iter().map(|e| e.amount).collect();
        assert_eq!(grants, [10, 10, 5, 5], "the opening grant and three top-ups; nothing from the stale ones");
    }

    async fn two_racing_updates_end_with_the_newer_one_whichever_commits_first(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Race", PlanCode::Professional, 2, None).await.unwrap();
        for round in 0..6_i64 {
            let (older, newer) = (2 * round + 1, 2 * round + 2);
            let (a, b) = tokio::join!(
                app.ledger.update_subscription(account.id, PlanCode::Basic, 1, Some(older)),
                app.ledger.update_subscription(account.id, PlanCode::Professional, 3, Some(newer)),
            );
            b.expect("the newer update always applies");
            if a.is_err() {
                assert_eq!(refusal_code(a), RefusalCode::StaleUpdate);
            }
            let stored = app.ledger.account(account.id).await.unwrap().expect("stored");
            assert_eq!(
                (stored.plan, stored.listing_slots, stored.subscription_sequence),
                (PlanCode::Professional, 3, Some(newer)),
                "round {round}"
            );
        }
    }

    async fn every_change_records_who_made_it_and_the_clocks_own_record_none(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();
        let created = app.op(&ops, "CreateAccount", create("dealer-7", "PROFESSIONAL", 2)).await["createAccount"].clone();
        let account_gid = created["account"]["id"].as_str().unwrap().to_owned();
        let account_id = app.ledger.account_by_external_id("dealer-7").await.unwrap().unwrap().id;
        let seller = app.auth.mint("seller-9", Role::Member, Some(account_id), Duration::from_secs(3600)).unwrap();
        let photos = app.photos(account_id, 1).await;

        let applied = app
            .op(&seller, "ApplyChanges", json!({"input": {"photoIds": [photos[0]],
                "backgroundId": app.gid(Kind::Background, "showroom"), "idempotencyKey": "k1"}}))
            .await;
        assert_eq!(applied["applyChanges"]["creditsCharged"], 1);
        let bought = app
            .op(&seller, "BuyPack", json!({"packId": app.gid(Kind::CreditPack, "pro-small"), "idempotencyKey": "b1"}))
            .await;
        assert_eq!(bought["purchasePack"]["userErrors"], json!([]));
        app.op(&seller, "ReportFaultyPhoto", json!({"photoId": photos[0], "reason": "logo cut off"})).await;
        app.op(&ops, "UpdateSubscription", json!({"accountId": account_gid, "plan": "PROFESSIONAL", "listingSlots": 3}))
            .await;
        app.op(&ops, "SetClock", json!({"now": "2026-12-01T00:00:00Z"})).await;

        let seller_actor = json!({"userId": "seller-9", "role": "MEMBER"});
        let ops_actor = json!({"userId": "ops-1", "role": "OPS"});
        assert_eq!(
            history(&app, &seller).await,
            [
                ("GRANT".to_owned(), 15, Value::Null),
                ("EXPIRY".to_owned(), -15, Value::Null),
                // Nothing rendered the edit: the clock gave up on it after 30 minutes.
                ("REFUND".to_owned(), 1, Value::Null),
                ("GRANT".to_owned(), 5, ops_actor.clone()),
                ("GRANT".to_owned(), 25, seller_actor.clone()),
                ("CHARGE".to_owned(), -1, seller_actor.clone()),
                ("GRANT".to_owned(), 10, ops_actor),
            ],
            "newest first: the reset's grant and expiry and the give-up's refund are the clock's"
        );
        let photo = app.op(&seller, "PhotoHistory", json!({"photoId": photos[0]})).await;
        assert_eq!(photo["node"]["edits"][0]["appliedBy"], json!({"userId": "seller-9"}));
        let report = app
            .query(&seller, "query($id: ID!) { node(id: $id) { ... on Photo { reports { reportedBy { userId role } } } } }",
                json!({"id": photos[0]}))
            .await;
        assert_eq!(report["data"]["node"]["reports"][0]["reportedBy"], seller_actor);
    }
}
