//! Nothing a member does makes one answer grow without bound (issue 17): an account
//! holds at most `max_logos` logos, a photo's edits and reports come a page at a time,
//! and the complexity limit counts every such list at the most it can hold; on SQLite
//! and PostgreSQL.

use crate::api_support::{TestApp, error_code};
use entity::enums::PlanCode;
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::ledger::ApplyRequest;

const EDITS_PAGE: &str = "query EditsPage($photoId: ID!, $first: Int, $after: String) { node(id: $photoId) { \
    ... on Photo { edits(first: $first, after: $after) { id cursor } } } }";
const REPORTS_PAGE: &str = "query ReportsPage($photoId: ID!, $first: Int, $after: String) { node(id: $photoId) { \
    ... on Photo { reports(first: $first, after: $after) { id cursor } } } }";

/// A photo of a premium account, edited `edits` times and then reported `reports`
/// times: the account's id, the photo's global id, and the global ids of its edits and
/// of its reports, oldest first.
async fn photo_with_history(app: &TestApp, edits: usize, reports: usize) -> (i64, String, Vec<String>, Vec<String>) {
    let account = app
        .ledger
        .create_account("Studio", PlanCode::Premium, 1, None)
        .await
        .unwrap();
    let (photo, edit_ids) = edited_photo(app, account.id, edits).await;
    let mut report_ids = Vec::with_capacity(reports);
    for i in 0..reports {
        let report = app
            .ledger
            .report_faulty_photo(account.id, photo, Some(&format!("Report {i}")))
            .await
            .unwrap();
        report_ids.push(app.gid(Kind::FaultyReport, report.report.id));
    }
    (account.id, app.gid(Kind::Photo, photo), edit_ids, report_ids)
}

/// A new photo of `account_id` edited `edits` times, each time with the other
/// background: its id and the global ids of its edits, oldest first.
async fn edited_photo(app: &TestApp, account_id: i64, edits: usize) -> (i64, Vec<String>) {
    let photo = app
        .ledger
        .register_photos(account_id, &[("l".into(), "https://img.example/p.jpg".into())])
        .await
        .unwrap()[0]
        .id;
    let mut ids = Vec::with_capacity(edits);
    for i in 0..edits {
        let request = ApplyRequest {
            photo_ids: vec![photo],
            background_id: if i % 2 == 0 { "showroom" } else { "city-street" }.into(),
            logo: None,
            idempotency_key: format!("photo-{photo}-edit-{i}"),
        };
        let applied = app.ledger.apply_changes(account_id, &request).await.unwrap();
        let written = applied.written.expect("a first apply writes");
        ids.push(app.gid(Kind::PhotoEdit, written.edits[0].id));
    }
    (photo, ids)
}

/// The ids of a JSON list of records.
fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Walks the photo's `list` five at a time with `document`, from the newest, until a
/// page comes back short: the size of each page and every id in the order read.
async fn walk_by_five(
    app: &TestApp,
    token: &str,
    document: &str,
    list: &str,
    photo: &str,
) -> (Vec<usize>, Vec<String>) {
    let (mut sizes, mut walked, mut after) = (vec![], vec![], Value::Null);
    loop {
        let body = app
            .query(token, document, json!({"photoId": photo, "first": 5, "after": after}))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let page = body["data"]["node"][list].clone();
        let ids = ids_of(&page);
        sizes.push(ids.len());
        walked.extend(ids);
        if sizes.last() != Some(&5) {
            return (sizes, walked);
        }
        after = page[4]["cursor"].clone();
    }
}

fn newest_first(ids: &[String]) -> Vec<String> {
    ids.iter().rev().cloned().collect()
}

on_both_databases! {
    async fn photo_history_answers_the_20_newest_of_25_reports_and_pages_of_5_after_a_cursor_walk_them_all(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let (account, photo, _, reports) = photo_with_history(&app, 1, 25).await;
        let token = app.member(account);

        let history = app.op(&token, "PhotoHistory", json!({"photoId": photo})).await;
        let (sizes, walked) = walk_by_five(&app, &token, REPORTS_PAGE, "reports", &photo).await;

        assert_eq!(ids_of(&history["node"]["reports"]), newest_first(&reports)[..20]);
        assert_eq!(history["node"]["reports"][0]["reason"], "Report 24");
        assert_eq!(sizes, [5, 5, 5, 5, 5, 0]);
        assert_eq!(walked, newest_first(&reports));
    }

    async fn photo_history_answers_the_20_newest_of_25_edits_and_pages_of_5_after_a_cursor_walk_them_all(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let (account, photo, edits, _) = photo_with_history(&app, 25, 0).await;
        let token = app.member(account);

        let history = app.op(&token, "PhotoHistory", json!({"photoId": photo})).await;
        let (sizes, walked) = walk_by_five(&app, &token, EDITS_PAGE, "edits", &photo).await;

        assert_eq!(ids_of(&history["node"]["edits"]), newest_first(&edits)[..20]);
        assert_eq!(sizes, [5, 5, 5, 5, 5, 0]);
        assert_eq!(walked, newest_first(&edits));
    }

    async fn each_photo_of_a_list_answers_its_own_newest_edits_however_many_another_has(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Studio", PlanCode::Premium, 1, None).await.unwrap();
        let (_, busy) = edited_photo(&app, account.id, 25).await;
        let (_, quiet) = edited_photo(&app, account.id, 3).await;
        let document = "{ viewer { account { photos(first: 2) { edges { node { edits(first: 5) { id } } } } } } }";

        let body = app.query(&app.member(account.id), document, json!({})).await;

        let edges = &body["data"]["viewer"]["account"]["photos"]["edges"];
        assert_eq!(ids_of(&edges[0]["node"]["edits"]), newest_first(&busy)[..5], "{body}");
        assert_eq!(ids_of(&edges[1]["node"]["edits"]), newest_first(&quiet));
    }

    async fn a_page_of_edits_or_reports_beyond_100_or_after_another_lists_cursor_is_refused_as_bad_input(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let (account, photo, edits, _) = photo_with_history(&app, 1, 1).await;
        let token = app.member(account);
        let first_page = app.query(&token, EDITS_PAGE, json!({"photoId": photo})).await;
        let edit_cursor = first_page["data"]["node"]["edits"][0]["cursor"].clone();
        assert_eq!(ids_of(&first_page["data"]["node"]["edits"]), edits, "{first_page}");

        let too_many = app.query(&token, EDITS_PAGE, json!({"photoId": photo, "first": 101})).await;
        let negative = app.query(&token, REPORTS_PAGE, json!({"photoId": photo, "first": -1})).await;
        let foreign = app.query(&token, REPORTS_PAGE, json!({"photoId": photo, "after": edit_cursor})).await;

        for (body, message) in [
            (&too_many, "`first` must be 0 to 100."),
            (&negative, "`first` must be 0 to 100."),
            (&foreign, "`after` is not a cursor of this list."),
        ] {
            assert_eq!(error_code(body), "BAD_USER_INPUT");
            assert_eq!(body["errors"][0]["message"], message);
        }
    }

    async fn sixty_concurrent_logos_on_one_account_through_two_instances_leave_exactly_50(db) {
        let one = TestApp::start(&db, Config::default()).await;
        let two = TestApp::start(&db, Config::default()).await;
        let account = one.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let token = one.member(account.id);
        let add = |app: &'static str, i: usize| json!({"name": format!("{app} {i}"), "imageUrl": "https://img.example/l.png"});

        let answers = futures::future::join_all((0..60).map(|i| {
            let (app, name) = if i % 2 == 0 { (&one, "one") } else { (&two, "two") };
            let (token, variables) = (token.clone(), add(name, i));
            async move { app.op(&token, "AddLogo", variables).await["addLogo"].clone() }
        }))
        .await;

        let added = answers.iter().filter(|a| a["logo"].is_object()).count();
        let refused: Vec<_> = answers.iter().filter(|a| a["logo"].is_null()).map(|a| a["userErrors"][0]["code"].clone()).collect();
        assert_eq!(added, 50);
        assert_eq!(refused, vec![json!("TOO_MANY_LOGOS"); 10]);
        assert_eq!(one.stored_logos(account.id).await.len(), 50);
    }

    async fn a_configured_max_logos_of_3_accepts_3_refuses_the_4th_and_lists_3(db) {
        let app = TestApp::start(&db, Config { max_logos: 3, ..Config::default() }).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        let token = app.member(account.id);

        let mut answers = vec![];
        for name in ["L1", "L2", "L3", "L4"] {
            let variables = json!({"name": name, "imageUrl": "https://img.example/l.png"});
            answers.push(app.op(&token, "AddLogo", variables).await["addLogo"].clone());
        }
        let studio = app.op(&token, "StudioPhotos", json!({})).await;

        assert!(answers[..3].iter().all(|a| a["userErrors"] == json!([])), "{answers:?}");
        assert_eq!(answers[3]["userErrors"], json!([
            {"code": "TOO_MANY_LOGOS", "message": "An account holds at most 3 logos.", "field": null},
        ]));
        let names: Vec<&Value> = studio["viewer"]["account"]["logos"].as_array().unwrap().iter().map(|l| &l["name"]).collect();
        assert_eq!(names, [&json!("L1"), &json!("L2"), &json!("L3")]);
        assert_eq!(app.stored_logos(account.id).await, ["L1", "L2", "L3"]);
    }

    async fn an_account_holding_more_logos_than_max_logos_lists_only_its_oldest_max_logos(db) {
        let roomy = TestApp::start(&db, Config { max_logos: 5, ..Config::default() }).await;
        let account = roomy.ledger.create_account("A", PlanCode::Professional, 1, None).await.unwrap();
        for i in 1..=5 {
            roomy.ledger.add_logo(account.id, &format!("L{i}"), "https://img.example/l.png").await.unwrap();
        }
        let strict = TestApp::start(&db, Config { max_logos: 3, ..Config::default() }).await;

        let studio = strict.op(&strict.member(account.id), "StudioPhotos", json!({})).await;

        let names: Vec<&Value> = studio["viewer"]["account"]["logos"].as_array().unwrap().iter().map(|l| &l["name"]).collect();
        assert_eq!(names, [&json!("L1"), &json!("L2"), &json!("L3")]);
    }

    /// A document's validation is kept for the variables it came with
    /// (`graphql/documents.rs`); sent with other variables it is validated against them.
    async fn a_document_validated_without_variables_is_checked_again_with_them(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let (account, photo, edits, _) = photo_with_history(&app, 1, 0).await;
        let token = app.member(account);
        // Without `first`, 20 photos of 31 each: within the complexity limit; 100 are over it.
        let photos = "query Photos($first: Int) { viewer { account { photos(first: $first) { edges { node { \
            id edits(first: 30) { id } } } } } } }";

        let without = app.query(&token, photos, json!({})).await;
        let again = app.query(&token, photos, json!({})).await;
        let hundred = app.query(&token, photos, json!({"first": 100})).await;
        let after = app.query(&token, photos, json!({})).await;

        assert!(without.get("errors").is_none(), "{without}");
        let edges = &without["data"]["viewer"]["account"]["photos"]["edges"];
        assert_eq!(edges[0]["node"]["id"], photo, "{without}");
        assert_eq!(ids_of(&edges[0]["node"]["edits"]), edits, "{without}");
        assert_eq!(again, without);
        assert_eq!(hundred["errors"][0]["message"], "Query is too complex.", "{hundred}");
        assert!(hundred.get("data").is_none_or(Value::is_null), "{hundred}");
        assert_eq!(after, without);
    }

    async fn a_document_nesting_100_edits_and_100_reports_in_100_photos_is_too_complex_while_the_contract_runs(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let (account, photo, edits, reports) = photo_with_history(&app, 2, 2).await;
        app.ledger.add_logo(account, "Logo", "https://img.example/l.png").await.unwrap();
        let token = app.member(account);
        let nested = "{ viewer { account { photos(first: 100) { edges { node { \
            edits(first: 100) { id } reports(first: 100) { id } } } } } } }";

        let refused = app.query(&token, nested, json!({})).await;
        let studio = app.op(&token, "StudioPhotos", json!({})).await;
        let history = app.op(&token, "PhotoHistory", json!({"photoId": photo})).await;

        assert_eq!(refused["errors"][0]["message"], "Query is too complex.", "{refused}");
        assert!(refused.get("data").is_none_or(Value::is_null), "{refused}");
        assert_eq!(studio["viewer"]["account"]["logos"][0]["name"], "Logo");
        assert_eq!(studio["viewer"]["account"]["photos"]["edges"][0]["node"]["id"], photo);
        assert_eq!(ids_of(&history["node"]["edits"]), newest_first(&edits));
        assert_eq!(ids_of(&history["node"]["reports"]), newest_first(&reports));
    }
}
