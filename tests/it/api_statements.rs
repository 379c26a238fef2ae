//! No N+1: the studio's and the billing page's queries run as many SQL statements for
//! a big account as for a small one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::api_support::{NOW, TestApp, utc};
use entity::enums::{LogoPosition, PlanCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::db::connect_and_migrate;
use studio_bff::ids::Kind;
use studio_bff::ledger::{ApplyRequest, LogoPlacement};
use studio_bff::limits::Limits;

/// The app over `db`, and the count of SQL statements it has run.
async fn counted_app(db: &crate::common::TestDb) -> (TestApp, Arc<AtomicUsize>) {
    let mut conn = connect_and_migrate(&db.url).await.expect("connect and migrate");
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let config = Config {
        listen_database_url: db.listen_database_url(),
        ..Config::default()
    };
    let app = TestApp::over(conn, config, Clock::manual_at(utc(NOW)), Limits::default()).await;
    (app, statements)
}

fn apply(photo_ids: Vec<i64>, background: &str, logo: Option<i64>, key: String) -> ApplyRequest {
    ApplyRequest {
        photo_ids,
        background_id: background.into(),
        logo: logo.map(|logo_id| LogoPlacement {
            logo_id,
            position: LogoPosition::BottomRight,
        }),
        idempotency_key: key,
    }
}

/// An account with `photos` photos, each showing an edit with a logo; its id and the
/// photos' ids.
async fn studio_account(app: &TestApp, photos: usize) -> (i64, Vec<i64>) {
    let account = app
        .ledger
        .create_account("Studio", PlanCode::ProfessionalPlus, 5, None)
        .await
        .unwrap();
    let registrations: Vec<(String, String)> = (0..photos)
        .map(|i| (format!("l-{i}"), format!("https://img.example/{i}.jpg")))
        .collect();
    let ids: Vec<i64> = app
        .ledger
        .register_photos(account.id, &registrations)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let logo = app
        .ledger
        .add_logo(account.id, "Logo", "https://img.example/logo.png")
        .await
        .unwrap();
    app.ledger
        .apply_changes(account.id, &apply(ids.clone(), "showroom", Some(logo.id), "all".into()))
        .await
        .unwrap();
    (account.id, ids)
}

/// An account with `purchases` invoices and `charges` more charge entries.
async fn billing_account(app: &TestApp, purchases: usize, charges: usize) -> i64 {
    let account = app
        .ledger
        .create_account("Billing", PlanCode::ProfessionalPlus, 20, None)
        .await
        .unwrap();
    for i in 0..purchases {
        app.ledger
            .purchase_pack(account.id, "pro-small", &format!("buy-{i}"))
            .await
            .unwrap();
    }
    let photo = app
        .ledger
        .register_photos(account.id, &[("l".into(), "https://img.example/p.jpg".into())])
        .await
        .unwrap()[0]
        .id;
    for i in 0..charges {
        let background = if i % 2 == 0 { "showroom" } else { "city-street" };
        app.ledger
            .apply_changes(account.id, &apply(vec![photo], background, None, format!("apply-{i}")))
            .await
            .unwrap();
    }
    account.id
}

/// What `run` answers, and the statements it took.
async fn counted<T>(counter: &AtomicUsize, run: impl Future<Output = T>) -> (T, usize) {
    let before = counter.load(Ordering::SeqCst);
    let answer = run.await;
    (answer, counter.load(Ordering::SeqCst) - before)
}

/// The edit `photo_id` shows now.
async fn current_edit(app: &TestApp, photo_id: i64) -> i64 {
    entity::photo::Entity::find_by_id(photo_id)
        .one(app.ledger.db())
        .await
        .unwrap()
        .and_then(|p| p.current_edit_id)
        .expect("the photo shows an edit")
}

/// The statements `operation` runs for `account_id`.
async fn statements_of(app: &TestApp, counter: &AtomicUsize, account_id: i64, operation: &str) -> usize {
    let token = app.member(account_id);
    let before = counter.load(Ordering::SeqCst);
    app.op(&token, operation, json!({})).await;
    counter.load(Ordering::SeqCst) - before
}

on_both_databases! {
    async fn studio_photos_runs_as_many_statements_for_50_photos_as_for_2(db) {
        let (app, counter) = counted_app(&db).await;
        let (big, _) = studio_account(&app, 50).await;
        let (small, _) = studio_account(&app, 2).await;

        let for_big = statements_of(&app, &counter, big, "StudioPhotos").await;
        let for_small = statements_of(&app, &counter, small, "StudioPhotos").await;

        assert_eq!(for_big, for_small);
        assert!(for_big <= 10, "{for_big} statements");
    }

    async fn an_apply_reads_nothing_after_its_transaction(db) {
        let (app, counter) = counted_app(&db).await;
        // Two accounts of 10 photos, each photo showing an edit with a logo.
        let (by_api, api_photos) = studio_account(&app, 10).await;
        let (by_ledger, ledger_photos) = studio_account(&app, 10).await;
        let variables = json!({"input": {
            "photoIds": api_photos.iter().map(|id| app.gid(Kind::Photo, id)).collect::<Vec<_>>(),
            "backgroundId": app.gid(Kind::Background, "city-street"),
            "idempotencyKey": "again",
        }});

        let before = counter.load(Ordering::SeqCst);
        app.ledger
            .apply_changes(by_ledger, &apply(ledger_photos, "city-street", None, "again".into()))
            .await
            .unwrap();
        let in_the_ledger = counter.load(Ordering::SeqCst) - before;
        let token = app.member(by_api);
        let before = counter.load(Ordering::SeqCst);
        let answer = app.op(&token, "ApplyChanges", variables).await;
        let through_the_api = counter.load(Ordering::SeqCst) - before;

        assert_eq!(answer["applyChanges"]["creditsCharged"], 10);
        assert_eq!(answer["applyChanges"]["edits"][9]["photo"]["id"], app.gid(Kind::Photo, api_photos[9]));
        assert_eq!(through_the_api, in_the_ledger, "the answer is built from what the transaction wrote");
    }

    async fn a_revert_reads_nothing_after_its_transaction(db) {
        let (app, counter) = counted_app(&db).await;
        let (by_api, api_photos) = studio_account(&app, 10).await;
        let (by_ledger, ledger_photos) = studio_account(&app, 10).await;
        let photo_ids: Vec<String> = api_photos.iter().map(|id| app.gid(Kind::Photo, id)).collect();
        let token = app.member(by_api);

        let (_, in_the_ledger) = counted(&counter, app.ledger.revert_photos(by_ledger, &ledger_photos)).await;
        let (answer, through_the_api) =
            counted(&counter, app.op(&token, "RevertPhotos", json!({"photoIds": photo_ids}))).await;

        let payload = &answer["revertPhotos"];
        assert_eq!(payload["photos"][9]["id"], app.gid(Kind::Photo, api_photos[9]));
        assert_eq!(payload["photos"][9]["currentEdit"], Value::Null);
        let account = app.ledger.account(by_api).await.unwrap().unwrap();
        assert_eq!(payload["balance"]["available"], app.ledger.balance(&account).await.unwrap().available);
        assert_eq!(through_the_api, in_the_ledger, "the answer is built from what the transaction wrote");
    }

    async fn a_report_reads_nothing_after_its_transaction(db) {
        let (app, counter) = counted_app(&db).await;
        let (by_api, api_photos) = studio_account(&app, 2).await;
        let (by_ledger, ledger_photos) = studio_account(&app, 2).await;
        let shown = current_edit(&app, api_photos[1]).await;
        let variables = json!({"photoId": app.gid(Kind::Photo, api_photos[1]), "reason": "Logo blurred"});
        let token = app.member(by_api);

        let report = app.ledger.report_faulty_photo(by_ledger, ledger_photos[1], Some("Logo blurred"));
        let (_, in_the_ledger) = counted(&counter, report).await;
        let (answer, through_the_api) = counted(&counter, app.op(&token, "ReportFaultyPhoto", variables)).await;

        let payload = &answer["reportFaultyPhoto"];
        assert_eq!(payload["report"]["reason"], "Logo blurred");
        assert_eq!(payload["report"]["edit"]["id"], app.gid(Kind::PhotoEdit, shown));
        let account = app.ledger.account(by_api).await.unwrap().unwrap();
        assert_eq!(payload["balance"]["available"], app.ledger.balance(&account).await.unwrap().available);
        assert_eq!(through_the_api, in_the_ledger, "the answer is built from what the transaction wrote");
    }

    async fn a_purchase_reads_nothing_after_its_transaction(db) {
        let (app, counter) = counted_app(&db).await;
        let by_api = app.ledger.create_account("By API", PlanCode::ProfessionalPlus, 5, None).await.unwrap().id;
        let by_ledger = app.ledger.create_account("By ledger", PlanCode::ProfessionalPlus, 5, None).await.unwrap().id;
        // The contract's BuyPack, and the invoice's lines and the lot's pack besides.
        let document = "mutation Buy($input: PurchasePackInput!) { purchasePack(input: $input) { \
            invoice { id number subtotal { amountCents currency } vatPercent tax { amountCents } \
                total { amountCents currency } seller { name } buyer { name address vatId } \
                lines { description quantity unitPrice { amountCents } amount { amountCents currency } } } \
            lot { id granted remaining purchasedAt expiresAt pack { id name } } \
            balance { available purchased { remaining lots { id remaining } } } \
            userErrors { code message field } } }";
        let variables = json!({"input": {"packId": app.gid(Kind::CreditPack, "pro-small"), "idempotencyKey": "buy"}});
        let token = app.member(by_api);

        let (_, in_the_ledger) = counted(&counter, app.ledger.purchase_pack(by_ledger, "pro-small", "buy")).await;
        let (answer, through_the_api) = counted(&counter, app.query(&token, document, variables.clone())).await;
        let replayed = app.query(&token, document, variables).await;

        let payload = &answer["data"]["purchasePack"];
        assert_eq!(payload["userErrors"], json!([]), "{answer}");
        assert_eq!(payload["invoice"]["number"], "INV-2026-000002");
        assert_eq!(payload["invoice"]["lines"].as_array().map(Vec::len), Some(1));
        assert_eq!(payload["invoice"]["lines"][0]["amount"], payload["invoice"]["subtotal"]);
        assert_eq!(payload["invoice"]["buyer"], json!({"name": "By API", "address": null, "vatId": null}));
        assert_eq!(payload["lot"]["pack"]["id"], app.gid(Kind::CreditPack, "pro-small"));
        assert_eq!(payload["lot"]["granted"], payload["lot"]["remaining"]);
        assert_eq!(payload["balance"]["purchased"]["lots"][0]["id"], payload["lot"]["id"]);
        assert_eq!(payload["balance"]["purchased"]["remaining"], payload["lot"]["granted"]);
        assert_eq!(replayed, answer, "a replay reads the first purchase again");
        assert_eq!(through_the_api, in_the_ledger, "the answer is built from what the transaction wrote");
    }

    async fn a_page_of_photos_reads_a_page_of_each_ones_edits_and_reports_in_as_many_statements_for_20_as_for_2(db) {
        let (app, counter) = counted_app(&db).await;
        let (big, big_photos) = studio_account(&app, 20).await;
        let (small, small_photos) = studio_account(&app, 2).await;
        for (account, photo) in big_photos.iter().map(|p| (big, *p)).chain(small_photos.iter().map(|p| (small, *p))) {
            app.ledger.report_faulty_photo(account, photo, Some("Blurred")).await.unwrap();
        }
        let document = "{ viewer { account { photos(first: 20) { edges { node { \
            edits(first: 5) { id } reports(first: 5) { id } } } } } } }";
        let statements = |account: i64| {
            let (app, counter) = (&app, &counter);
            async move {
                let before = counter.load(Ordering::SeqCst);
                let body = app.query(&app.member(account), document, json!({})).await;
                let edges = body["data"]["viewer"]["account"]["photos"]["edges"].clone();
                let read = counter.load(Ordering::SeqCst) - before;
                (read, edges)
            }
        };

        let (for_big, big_edges) = statements(big).await;
        let (for_small, _) = statements(small).await;

        assert_eq!(big_edges.as_array().map(Vec::len), Some(20), "{big_edges}");
        assert_eq!(big_edges[19]["node"]["edits"].as_array().map(Vec::len), Some(1));
        assert_eq!(big_edges[19]["node"]["reports"].as_array().map(Vec::len), Some(1));
        // One statement per loader, whatever the page's size: an N+1 would add 36. A
        // loader gathers its keys for 1 ms; a thread starved longer than that in the
        // middle of resolving its fields (seen with four builds on two cores, and in
        // CI with the small page: 7 statements against 5) splits its batch in two, so
        // each of the two loaders may take one statement more in either read.
        assert!(for_big.abs_diff(for_small) <= 2, "{for_big} statements for 20 photos, {for_small} for 2");
    }

    async fn billing_page_runs_as_many_statements_for_200_entries_and_20_invoices_as_for_a_few(db) {
        let (app, counter) = counted_app(&db).await;
        // 1 monthly grant + 20 purchase grants + 179 charges = 200 ledger entries.
        let big = billing_account(&app, 20, 179).await;
        let small = billing_account(&app, 1, 2).await;
        assert_eq!(app.ledger.entries(big).await.unwrap().len(), 200);

        let for_big = statements_of(&app, &counter, big, "BillingPage").await;
        let for_small = statements_of(&app, &counter, small, "BillingPage").await;

        assert_eq!(for_big, for_small);
        assert!(for_big <= 10, "{for_big} statements");
    }

    async fn a_monthly_reset_reads_as_many_statements_for_32_accounts_as_for_2_and_writes_their_rows(db) {
        let (app, counter) = counted_app(&db).await;
        let open = |n: usize| {
            let ledger = app.ledger.clone();
            async move {
                let mut resets = Vec::new();
                for i in 0..n {
                    let account = ledger
                        .create_account(&format!("Reset {i}"), PlanCode::ProfessionalPlus, 5, None)
                        .await
                        .unwrap();
                    resets.push(account.next_reset_at);
                }
                resets
            }
        };
        // The statements of the reset of every account due at `reset`, once what came
        // due before it (warnings of the lots ending with the cycle) is written.
        let reset_statements = |reset: chrono::DateTime<chrono::Utc>| {
            let ledger = app.ledger.clone();
            let counter = &counter;
            async move {
                ledger.set_clock(reset - chrono::Duration::seconds(1)).await.unwrap();
                let (pass, statements) = counted(counter, ledger.set_clock(reset)).await;
                pass.unwrap();
                statements
            }
        };
        let first_reset = open(2).await[0];
        let for_2 = reset_statements(first_reset).await;
        // Accounts opened in the next cycle reset with the first two.
        let second_reset = open(30).await[0];
        assert!(second_reset > first_reset);
        let for_32 = reset_statements(second_reset).await;

        // Each account more writes its 5 rows: the monthly lot's expiry (the lot's
        // update and its entry), the account's new cycle, the new lot and its grant.
        // Reading the accounts, their lots and their renders to give up on, and telling
        // the instances, takes the same statements for 32 as for 2.
        assert_eq!(for_32 - for_2, 30 * 5, "{for_32} statements for 32 accounts, {for_2} for 2");
    }
}
