//! Every operation of the contract, through the real HTTP stack, on SQLite and
//! PostgreSQL, with the values `../shared/spec/credit-rules.md` gives.

use crate::api_support::{NOW, TestApp, error_code, utc};
use entity::enums::PlanCode;
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;

/// The viewer's page of `list` (`photos`, `ledger` or `invoices`): the whole response.
async fn page(app: &TestApp, token: &str, list: &str, first: i32, after: Value) -> Value {
    let query = format!(
        "query($first: Int, $after: String) {{ viewer {{ account {{ {list}(first: $first, after: $after) {{ \
         edges {{ node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}"
    );
    app.query(token, &query, json!({"first": first, "after": after})).await
}

on_both_databases! {
    async fn a_retried_apply_answers_its_first_edits_and_the_balance_now(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Ost", PlanCode::Professional, 2, None).await.unwrap();
        let token = app.member(account.id);
        let photos = app.photos(account.id, 3).await;
        let apply = |photos: &[&String], background: &str, key: &str| json!({"input": {
            "photoIds": photos,
            "backgroundId": app.gid(Kind::Background, background),
            "idempotencyKey": key,
        }});

        let first = app.op(&token, "ApplyChanges", apply(&[&photos[0], &photos[1]], "showroom", "k1")).await;
        let other = app.op(&token, "ApplyChanges", apply(&[&photos[2]], "city-street", "k2")).await;
        let retried = app.op(&token, "ApplyChanges", apply(&[&photos[0], &photos[1]], "showroom", "k1")).await;

        let (first, retried) = (&first["applyChanges"], &retried["applyChanges"]);
        assert_eq!(first["creditsCharged"], 2);
        assert_eq!(first["balance"]["available"], 8);
        assert_eq!(first["edits"][0]["photo"]["id"], photos[0]);
        assert_eq!(first["edits"][1]["photo"]["id"], photos[1]);
        assert_eq!(other["applyChanges"]["balance"]["available"], 7);
        assert_eq!(retried["creditsCharged"], 2);
        assert_eq!(retried["edits"], first["edits"]);
        assert_eq!(retried["unchanged"], json!([]));
        assert_eq!(retried["balance"]["available"], 7, "the balance now, not the first answer's");
        assert_eq!(retried["userErrors"], json!([]));
    }

    async fn the_studio_applies_a_look_lists_photos_reverts_and_reports(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let token = app.member(account.id);
        let photos = app.photos(account.id, 3).await;
        let logo = app.op(&token, "AddLogo", json!({"name": "Logo", "imageUrl": "https://img.example/logo.png"})).await;
        let logo_id = logo["addLogo"]["logo"]["id"].as_str().unwrap().to_owned();
        assert_eq!(logo["addLogo"]["logo"]["name"], "Logo");
        let showroom = app.gid(Kind::Background, "showroom");
        let input = |key: &str| json!({"input": {
            "photoIds": [photos[0], photos[1]],
            "backgroundId": showroom,
            "logo": {"logoId": logo_id, "position": "TOP_LEFT"},
            "idempotencyKey": key,
        }});

        let applied = app.op(&token, "ApplyChanges", input("k1")).await["applyChanges"].clone();
        let again = app.op(&token, "ApplyChanges", input("k2")).await["applyChanges"].clone();

        assert_eq!(applied["creditsCharged"], 2);
        assert_eq!(applied["userErrors"], json!([]));
        assert_eq!(applied["balance"], json!({"available": 8, "unlimited": false, "fairUse": null}));
        let edit = &applied["edits"][0];
        assert_eq!(edit["photo"]["id"], photos[0]);
        assert_eq!(edit["background"]["id"], showroom);
        assert_eq!(edit["logo"]["id"], logo_id);
        assert_eq!(edit["logoPosition"], "TOP_LEFT");
        assert_eq!(edit["paidFrom"], "MONTHLY");
        assert_eq!(edit["creditsCharged"], 1);
        assert_eq!(edit["appliedAt"], "2026-11-24T10:00:00Z");
        assert_eq!(again["creditsCharged"], 0);
        assert_eq!(again["unchanged"], json!([{"id": photos[0]}, {"id": photos[1]}]));
        assert_eq!(again["balance"]["available"], 8);

        let studio = app.op(&token, "StudioPhotos", json!({})).await;
        let account_data = &studio["viewer"]["account"];
        assert_eq!(account_data["id"], app.gid(Kind::Account, account.id));
        assert_eq!(account_data["balance"], json!({"available": 8, "unlimited": false}));
        assert_eq!(account_data["logos"][0]["name"], "Logo");
        assert_eq!(account_data["photos"]["totalCount"], 3);
        let edges = account_data["photos"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 3);
        assert_eq!(edges[0]["node"]["id"], photos[0]);
        assert_eq!(edges[0]["node"]["currentEdit"]["background"]["name"], "Showroom");
        assert_eq!(edges[0]["node"]["currentEdit"]["logo"]["id"], logo_id);
        assert_eq!(edges[2]["node"]["currentEdit"], json!(null));
        assert_eq!(account_data["photos"]["pageInfo"]["hasNextPage"], false);
        assert_eq!(studio["backgrounds"].as_array().unwrap().len(), 4);
        assert_eq!(studio["backgrounds"][0]["name"], "Studio white");

        let first_page = app.op(&token, "StudioPhotos", json!({"first": 2})).await;
        let page_info = &first_page["viewer"]["account"]["photos"]["pageInfo"];
        assert_eq!(page_info["hasNextPage"], true);
        let next = app.op(&token, "StudioPhotos", json!({"first": 2, "after": page_info["endCursor"]})).await;
        let next_edges = &next["viewer"]["account"]["photos"]["edges"];
        assert_eq!(next_edges.as_array().unwrap().len(), 1);
        assert_eq!(next_edges[0]["node"]["id"], photos[2]);

        let reverted = app.op(&token, "RevertPhotos", json!({"photoIds": [photos[0]]})).await["revertPhotos"].clone();
        assert_eq!(reverted["photos"], json!([{"id": photos[0], "currentEdit": null}]));
        assert_eq!(reverted["balance"]["available"], 8);

        let reported = app.op(&token, "ReportFaultyPhoto", json!({"photoId": photos[1], "reason": "Logo blurred"})).await["reportFaultyPhoto"].clone();
        assert_eq!(reported["report"]["reason"], "Logo blurred");
        assert_eq!(reported["report"]["reportedAt"], NOW);
        assert_eq!(reported["report"]["edit"]["id"], applied["edits"][1]["id"]);
        assert_eq!(reported["balance"]["available"], 8);

        let history = app.op(&token, "PhotoHistory", json!({"photoId": photos[1]})).await["node"].clone();
        assert_eq!(history["id"], photos[1]);
        assert_eq!(history["edits"].as_array().unwrap().len(), 1);
        assert_eq!(history["edits"][0]["id"], applied["edits"][1]["id"]);
        assert_eq!(history["edits"][0]["revertedAt"], json!(null));
        assert_eq!(history["reports"][0]["edit"]["id"], applied["edits"][1]["id"]);
    }

    async fn the_billing_page_shows_every_bucket_the_history_invoices_and_the_catalog(db) {
        let config = Config { launch_at: Some(utc("2026-11-20T00:00:00Z")), ..Config::default() };
        let app = TestApp::start(&db, config).await;
        let account = app.ledger.create_account("Autohaus Nord", PlanCode::ProfessionalPlus, 2, None).await.unwrap();
        let token = app.member(account.id);
        let small = app.gid(Kind::CreditPack, "pro-small");

        let bought = app.op(&token, "BuyPack", json!({"packId": small, "idempotencyKey": "buy-1"})).await["purchasePack"].clone();
        let retried = app.op(&token, "BuyPack", json!({"packId": small, "idempotencyKey": "buy-1"})).await["purchasePack"].clone();

        assert_eq!(bought["userErrors"], json!([]));
        assert_eq!(bought["invoice"]["number"], "INV-2026-000001");
        assert_eq!(bought["invoice"]["subtotal"], json!({"amountCents": 1250, "currency": "EUR"}));
        assert_eq!(bought["invoice"]["tax"], json!({"amountCents": 238, "currency": "EUR"}));
        assert_eq!(bought["invoice"]["total"], json!({"amountCents": 1488, "currency": "EUR"}));
        assert_eq!(bought["lot"]["granted"], 25);
        assert_eq!(bought["lot"]["remaining"], 25);
        assert_eq!(bought["lot"]["purchasedAt"], NOW);
        assert_eq!(bought["lot"]["expiresAt"], "2027-11-24T10:00:00Z");
        assert_eq!(bought["balance"], json!({"available": 65, "purchased": {"remaining": 25}}));
        assert_eq!(retried["invoice"]["number"], "INV-2026-000001");
        assert_eq!(retried["balance"]["available"], 65);

        let page = app.op(&token, "BillingPage", json!({})).await;
        let viewer = &page["viewer"];
        assert_eq!(viewer["userId"], "user-1");
        assert_eq!(viewer["role"], "MEMBER");
        let acc = &viewer["account"];
        assert_eq!(acc["listingSlots"], 2);
        assert_eq!(acc["plan"], json!({"code": "PROFESSIONAL_PLUS", "name": "Professional Plus", "unlimited": false, "monthlyCredits": 20}));
        let balance = &acc["balance"];
        assert_eq!(balance["available"], 65);
        assert_eq!(balance["unlimited"], false);
        // The window is the campaign's: it started before this account joined.
        assert_eq!(balance["launchPromotion"], json!({"granted": 20, "remaining": 20, "startsAt": "2026-11-20T00:00:00Z", "expiresAt": "2026-12-18T00:00:00Z"}));
        assert_eq!(balance["monthly"], json!({"granted": 20, "used": 0, "remaining": 20, "cycleStart": "2026-11-01T00:00:00Z", "resetsAt": "2026-12-01T00:00:00Z"}));
        assert_eq!(balance["purchased"]["remaining"], 25);
        assert_eq!(balance["purchased"]["lots"][0]["pack"], json!({"id": small, "name": "Small pack"}));
        assert_eq!(balance["fairUse"], json!(null));
        assert_eq!(balance["nextExpiry"], json!({"credits": 20, "at": "2026-12-01T00:00:00Z", "bucket": "MONTHLY"}));
        assert_eq!(balance["asOf"], NOW);
        let entries: Vec<_> = acc["ledger"]["edges"].as_array().unwrap().iter()
            .map(|e| (e["node"]["kind"].clone(), e["node"]["bucket"].clone(), e["node"]["amount"].clone(), e["node"]["balanceAfter"].clone()))
            .collect();
        assert_eq!(entries, vec![
            (json!("GRANT"), json!("PURCHASED"), json!(25), json!(65)),
            (json!("GRANT"), json!("LAUNCH_PROMOTION"), json!(20), json!(40)),
            (json!("GRANT"), json!("MONTHLY"), json!(20), json!(20)),
        ]);
        let invoice = &acc["invoices"]["edges"][0]["node"];
        assert_eq!(invoice["number"], "INV-2026-000001");
        assert_eq!((&invoice["vatPercent"], &invoice["total"]["amountCents"]), (&json!(19), &json!(1488)));
        assert_eq!(invoice["buyer"], json!({"name": "Autohaus Nord", "address": null, "vatId": null}));
        assert_eq!(invoice["creditNote"], json!(null));
        assert_eq!(invoice["lines"], json!([{
            "description": "Small pack (25 credits, 0 % off)",
            "quantity": 1,
            "unitPrice": {"amountCents": 1250, "currency": "EUR"},
            "amount": {"amountCents": 1250, "currency": "EUR"},
        }]));
        let catalog: Vec<_> = page["packCatalog"].as_array().unwrap().iter()
            .map(|p| (p["credits"].clone(), p["discountPercent"].clone(), p["price"]["amountCents"].clone()))
            .collect();
        assert_eq!(catalog, vec![(json!(25), json!(0), json!(1250)), (json!(50), json!(5), json!(2375)), (json!(100), json!(10), json!(4500))]);

        let first = app.op(&token, "BillingPage", json!({"historyFirst": 2})).await;
        let info = &first["viewer"]["account"]["ledger"]["pageInfo"];
        assert_eq!(info["hasNextPage"], true);
        let rest = app.op(&token, "BillingPage", json!({"historyFirst": 2, "historyAfter": info["endCursor"]})).await;
        let rest_ledger = &rest["viewer"]["account"]["ledger"];
        assert_eq!(rest_ledger["edges"].as_array().unwrap().len(), 1);
        assert_eq!(rest_ledger["edges"][0]["node"]["bucket"], "MONTHLY");
        assert_eq!(rest_ledger["pageInfo"]["hasNextPage"], false);
    }

    async fn the_header_shows_the_available_total_or_unlimited_for_premium(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let pro = app.ledger.create_account("Pro", PlanCode::Professional, 2, None).await.unwrap();
        let premium = app.ledger.create_account("Premium", PlanCode::Premium, 2, None).await.unwrap();

        let pro_header = app.op(&app.member(pro.id), "HeaderBalanceInitial", json!({})).await;
        let premium_header = app.op(&app.member(premium.id), "HeaderBalanceInitial", json!({})).await;

        assert_eq!(pro_header["viewer"]["account"]["balance"], json!({"available": 10, "unlimited": false, "fairUse": null, "low": false, "expiringSoon": {"credits": 10, "at": "2026-12-01T00:00:00Z"}, "asOf": NOW}));
        assert_eq!(premium_header["viewer"]["account"]["balance"], json!({"available": 2000, "unlimited": true, "fairUse": {"used": 0, "cap": 2000}, "low": false, "expiringSoon": {"credits": 2000, "at": "2026-12-01T00:00:00Z"}, "asOf": NOW}));
    }

    async fn the_back_office_creates_changes_registers_and_moves_the_clock(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();

        let created = app.op(&ops, "CreateAccount", json!({"name": "Autohaus Süd", "plan": "PROFESSIONAL", "listingSlots": 4})).await["createAccount"].clone();
        let account_id = created["account"]["id"].as_str().unwrap().to_owned();
        let updated = app.op(&ops, "UpdateSubscription", json!({"accountId": account_id, "plan": "PROFESSIONAL_PLUS", "listingSlots": 4})).await["updateSubscription"].clone();
        let registered = app.op(&ops, "RegisterPhotos", json!({"accountId": account_id, "photos": [
            {"listingRef": "car-1", "originalUrl": "https://img.example/car-1.jpg"},
            {"listingRef": "car-2", "originalUrl": "https://img.example/car-2.jpg"},
        ]})).await["registerPhotos"].clone();
        let before = app.op(&ops, "OpsAccount", json!({"id": account_id})).await["account"].clone();
        let moved = app.op(&ops, "SetClock", json!({"now": "2026-12-01T00:00:00Z"})).await["setClock"].clone();
        let after = app.op(&ops, "OpsAccount", json!({"id": account_id})).await["account"].clone();

        assert_eq!(created["userErrors"], json!([]));
        assert_eq!(created["account"]["name"], "Autohaus Süd");
        assert_eq!(created["account"]["listingSlots"], 4);
        assert_eq!(created["account"]["plan"]["code"], "PROFESSIONAL");
        assert_eq!(created["account"]["balance"]["available"], 20);
        assert_eq!(updated["account"]["plan"]["code"], "PROFESSIONAL_PLUS");
        assert_eq!(updated["account"]["balance"]["available"], 40);
        assert_eq!(registered["userErrors"], json!([]));
        assert_eq!(registered["photos"][1]["listingRef"], "car-2");
        assert_eq!(registered["photos"][1]["originalUrl"], "https://img.example/car-2.jpg");
        assert_eq!(before["name"], "Autohaus Süd");
        assert_eq!(before["balance"]["monthly"], json!({"granted": 40, "used": 0, "remaining": 40, "resetsAt": "2026-12-01T00:00:00Z"}));
        assert_eq!(moved, json!({"now": "2026-12-01T00:00:00Z", "userErrors": []}));
        assert_eq!(after["balance"]["monthly"], json!({"granted": 40, "used": 0, "remaining": 40, "resetsAt": "2027-01-01T00:00:00Z"}));
    }

    async fn a_member_sees_another_accounts_records_as_missing_and_no_ops_field(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 2, None).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 2, None).await.unwrap();
        let token = app.member(mine.id);
        let their_photo = app.photos(theirs.id, 1).await.remove(0);

        let node = app.op(&token, "PhotoHistory", json!({"photoId": their_photo})).await;
        let account = app.op_response(&token, "OpsAccount", json!({"id": app.gid(Kind::Account, theirs.id)})).await;
        let create = app.op_response(&token, "CreateAccount", json!({"name": "X", "plan": "BASIC", "listingSlots": 1})).await;
        let own_node = app.query(&token, "query($id: ID!) { node(id: $id) { id } }", json!({"id": app.gid(Kind::Account, mine.id)})).await;

        assert_eq!(node["node"], json!(null));
        assert_eq!(error_code(&account), "FORBIDDEN");
        assert_eq!(account["data"]["account"], json!(null));
        assert_eq!(error_code(&create), "FORBIDDEN");
        assert_eq!(own_node["data"]["node"]["id"], app.gid(Kind::Account, mine.id));
    }

    async fn ops_sees_any_account_and_its_nodes(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Any", PlanCode::Basic, 1, None).await.unwrap();
        let photo = app.photos(account.id, 1).await.remove(0);

        let node = app.op(&app.ops(), "PhotoHistory", json!({"photoId": photo})).await;
        let viewer = app.query(&app.ops(), "{ viewer { role account { id } } }", json!({})).await;

        assert_eq!(node["node"]["id"], photo);
        assert_eq!(viewer["data"]["viewer"], json!({"role": "OPS", "account": null}));
    }

    async fn a_cursor_of_another_accounts_list_is_refused_exactly_like_a_forged_one(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let a = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let b = app.ledger.create_account("B", PlanCode::Professional, 2, None).await.unwrap();
        // Interleaved, so that either account's positions fall inside the other's lists.
        for n in 0..2 {
            for account in [a.id, b.id] {
                app.photos(account, 1).await;
                app.ledger.purchase_pack(account, "pro-small", &format!("buy-{n}")).await.unwrap();
            }
        }
        let (token_a, token_b) = (app.member(a.id), app.member(b.id));

        for list in ["photos", "ledger", "invoices"] {
            let first_of_a = page(&app, &token_a, list, 1, Value::Null).await;
            let info = &first_of_a["data"]["viewer"]["account"][list]["pageInfo"];
            assert_eq!(info["hasNextPage"], true, "{list}: {first_of_a}");
            let cursor = info["endCursor"].as_str().expect("an end cursor").to_owned();
            let last = if cursor.ends_with('A') { 'B' } else { 'A' };
            let forged = format!("{}{last}", &cursor[..cursor.len() - 1]);

            let foreign = page(&app, &token_b, list, 1, json!(cursor)).await;
            let tampered = page(&app, &token_b, list, 1, json!(forged)).await;
            let next_of_a = page(&app, &token_a, list, 1, json!(cursor)).await;
            let all_of_a = page(&app, &token_a, list, 100, Value::Null).await;

            assert_eq!(error_code(&foreign), "BAD_USER_INPUT", "{list}: {foreign}");
            assert_eq!(foreign["errors"][0]["message"], "`after` is not a cursor of this list.", "{list}");
            assert_eq!(foreign, tampered, "{list}");
            assert!(next_of_a.get("errors").is_none(), "{list}: {next_of_a}");
            assert_eq!(
                next_of_a["data"]["viewer"]["account"][list]["edges"][0],
                all_of_a["data"]["viewer"]["account"][list]["edges"][1],
                "{list}: A's own cursor pages to A's second item"
            );
        }
    }
}
