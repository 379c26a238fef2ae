//! The render service's operations of the contract (`renderer.graphql`) through the
//! real HTTP stack, on SQLite and PostgreSQL: the studio sees RENDERING, then READY
//! with the image or FAILED with its credit back.
use crate::api_support::ws::{connect, initialise, receive, send, serve};
use crate::api_support::{TestApp, operation_document};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use entity::enums::PlanCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use studio_bff::app::App;
use studio_bff::clock::Clock;
use studio_bff::config::{Config, RendererKind};
use studio_bff::ids::Kind;
use tower::ServiceExt;

/// The current edit of each of the viewer's photos, as StudioPhotos shows them.
async fn current_edits(app: &TestApp, token: &str) -> Vec<Value> {
    let studio = app.op(token, "StudioPhotos", json!({})).await;
    studio["viewer"]["account"]["photos"]["edges"]
        .as_array()
        .expect("photos")
        .iter()
        .map(|edge| edge["node"]["currentEdit"].clone())
        .collect()
}

on_both_databases! {
    async fn studio_edits_live_pushes_rendering_then_ready_over_the_websocket(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Live", PlanCode::Professional, 2, None).await.unwrap();
        let addr = serve(&app).await;
        let mut socket = connect(addr, "graphql-transport-ws").await;
        initialise(&mut socket, &app.member(account.id)).await;
        send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {
            "query": operation_document("StudioEditsLive"), "operationName": "StudioEditsLive"}})).await;
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), receive(&mut socket)).await;
        assert!(quiet.is_err(), "a subscriber first gets nothing: {quiet:?}");

        app.charge_one(account.id, "live").await;
        let rendering = receive(&mut socket).await;
        let job = app.op(&app.renderer(), "ClaimRenderJobs", json!({"max": 1})).await["claimRenderJobs"]["jobs"][0].clone();
        app.op(&app.renderer(), "CompleteRender", json!({"jobId": job["id"], "imageUrl": "https://cdn.example/live.png"})).await;
        let ready = receive(&mut socket).await;

        let edit = &rendering["payload"]["data"]["editChanged"];
        assert_eq!(rendering["type"], "next");
        assert_eq!(edit["status"], "RENDERING");
        assert_eq!(edit["id"], job["edit"]["id"]);
        assert_eq!(ready["payload"]["data"]["editChanged"], json!({
            "id": edit["id"], "status": "READY", "imageUrl": "https://cdn.example/live.png",
            "failureReason": null, "refundedAt": null, "photo": {"id": edit["photo"]["id"]},
        }));
    }
}

on_both_databases! {
    async fn the_studio_sees_rendering_then_ready_or_failed_with_its_credit_back(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Süd", PlanCode::Professional, 2, None).await.unwrap();
        let (member, renderer) = (app.member(account.id), app.renderer());
        let photos = app.photos(account.id, 2).await;
        let applied = app.op(&member, "ApplyChanges", json!({"input": {
            "photoIds": photos,
            "backgroundId": app.gid(Kind::Background, "showroom"),
            "idempotencyKey": "k1",
        }})).await;
        let edits = &applied["applyChanges"]["edits"];
        assert_eq!(edits[0]["status"], "RENDERING");
        let rendering = current_edits(&app, &member).await;
        assert_eq!((rendering[0]["status"].clone(), rendering[0]["imageUrl"].clone()), (json!("RENDERING"), Value::Null));

        let claimed = app.op(&renderer, "ClaimRenderJobs", json!({"max": 10})).await["claimRenderJobs"].clone();
        let jobs = claimed["jobs"].as_array().expect("jobs").clone();
        assert_eq!(claimed["userErrors"], json!([]));
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0]["edit"]["id"], edits[0]["id"]);
        assert_eq!(jobs[0]["originalUrl"], "https://img.example/0.jpg");
        assert_eq!(jobs[0]["background"]["id"], app.gid(Kind::Background, "showroom"));
        assert_eq!(jobs[0]["logo"], Value::Null);
        let complete = json!({"jobId": jobs[0]["id"], "imageUrl": "https://cdn.example/r/1.png"});
        let done = app.op(&renderer, "CompleteRender", complete.clone()).await["completeRender"].clone();
        let again = app.op(&renderer, "CompleteRender", complete).await["completeRender"].clone();
        let failed = app.op(&renderer, "FailRender", json!({"jobId": jobs[1]["id"], "reason": "model crashed"})).await["failRender"].clone();

        assert_eq!(done, json!({"edit": {"id": edits[0]["id"], "status": "READY", "imageUrl": "https://cdn.example/r/1.png"}, "userErrors": []}));
        assert_eq!(again, done);
        assert_eq!(failed["edit"]["status"], "FAILED");
        assert_eq!(failed["edit"]["failureReason"], "model crashed");
        assert!(failed["edit"]["refundedAt"].is_string(), "{failed}");
        let shown = current_edits(&app, &member).await;
        assert_eq!(shown[0]["status"], "READY");
        assert_eq!(shown[0]["imageUrl"], "https://cdn.example/r/1.png");
        assert_eq!(shown[1]["status"], "FAILED");
        let balance = app.op(&member, "HeaderBalanceInitial", json!({})).await;
        assert_eq!(balance["viewer"]["account"]["balance"]["available"], 9, "one charged, one given back");
    }

    async fn a_job_id_that_is_not_a_claim_is_refused_like_a_missing_job(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let renderer = app.renderer();
        for job_id in [app.gid(Kind::RenderJob, "999.1"), app.gid(Kind::RenderJob, "7"), app.gid(Kind::PhotoEdit, 1), "garbage".to_owned()] {
            let answer = app.op(&renderer, "FailRender", json!({"jobId": job_id, "reason": "x"})).await;
            assert_eq!(answer["failRender"], json!({"edit": null, "userErrors": [{
                "code": "JOB_NOT_FOUND", "message": "No such render job.", "field": ["input", "jobId"],
            }]}), "{job_id}");
        }
    }

    async fn the_correction_team_works_the_open_reports_oldest_first(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus West", PlanCode::Professional, 2, None).await.unwrap();
        let (member, ops) = (app.member(account.id), app.ops());
        let photos = app.photos(account.id, 3).await;
        app.op(&member, "ApplyChanges", json!({"input": {
            "photoIds": photos,
            "backgroundId": app.gid(Kind::Background, "showroom"),
            "idempotencyKey": "k1",
        }})).await;
        let mut reports = Vec::new();
        for photo in &photos {
            let reported = app.op(&member, "ReportFaultyPhoto", json!({"photoId": photo, "reason": "logo cut off"})).await;
            assert_eq!(reported["reportFaultyPhoto"]["report"]["status"], "OPEN");
            reports.push(reported["reportFaultyPhoto"]["report"]["id"].clone());
        }

        let first = app.op(&ops, "OpenReports", json!({"first": 2})).await["faultyReports"].clone();
        let rest = app.op(&ops, "OpenReports", json!({"first": 2, "after": first["pageInfo"]["endCursor"]})).await["faultyReports"].clone();
        let corrected = app.op(&ops, "ResolveReport", json!({
            "reportId": reports[0], "kind": "CORRECTED", "imageUrl": "https://cdn.example/fixed.png",
        })).await["resolveReport"].clone();
        let rejected = app.op(&ops, "ResolveReport", json!({
            "reportId": reports[1], "kind": "REJECTED", "note": "The logo is as uploaded.",
        })).await["resolveReport"].clone();
        let refunded = app.op(&ops, "ResolveReport", json!({"reportId": reports[2], "kind": "REFUNDED"})).await["resolveReport"].clone();
        let changed_mind = app.op(&ops, "ResolveReport", json!({"reportId": reports[2], "kind": "REJECTED", "note": "no"})).await["resolveReport"].clone();
        let open_after = app.op(&ops, "OpenReports", json!({})).await["faultyReports"].clone();

        let ids = |page: &Value| page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first), reports[..2].to_vec());
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        assert_eq!(ids(&rest), reports[2..].to_vec());
        assert_eq!(rest["pageInfo"]["hasNextPage"], false);
        assert_eq!(first["edges"][0]["node"]["edit"]["photo"]["originalUrl"], "https://img.example/0.jpg");
        assert_eq!(corrected["report"]["status"], "CORRECTED");
        assert_eq!(corrected["report"]["resolution"]["kind"], "CORRECTED");
        assert_eq!(corrected["report"]["edit"]["imageUrl"], "https://cdn.example/fixed.png");
        assert_eq!(rejected["report"]["resolution"]["note"], "The logo is as uploaded.");
        assert_eq!(refunded["report"]["status"], "REFUNDED");
        assert!(refunded["report"]["edit"]["refundedAt"].is_string(), "{refunded}");
        assert_eq!(changed_mind["userErrors"][0]["code"], "REPORT_ALREADY_RESOLVED");
        assert_eq!(open_after["edges"], json!([]));
        let balance = app.op(&member, "HeaderBalanceInitial", json!({})).await;
        assert_eq!(balance["viewer"]["account"]["balance"]["available"], 8, "three charged, one refunded");
        let history = app.op(&member, "PhotoHistory", json!({"photoId": photos[1]})).await;
        assert_eq!(history["node"]["reports"][0]["status"], "REJECTED");
    }
}

/// The embedded default's loop with the built-in renderer: apply, RENDERING, then
/// READY with a preview the service serves itself, layering what the edit shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_renderer_finishes_an_apply_with_a_preview_it_serves() {
    let db = crate::common::TestDb::sqlite().await;
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(db.url.as_str().into()),
        listen_database_url: db.listen_database_url(),
        jwt_secret: Some(crate::api_support::SECRET.into()),
        renderer: Some(RendererKind::Builtin),
        ..Config::default()
    };
    let started = App::build_with(
        config,
        Clock::manual_at(crate::api_support::utc(crate::api_support::NOW)),
    )
    .await
    .expect("the service starts");
    let app = TestApp::of(&started);
    let account = app
        .ledger
        .create_account("Autohaus Mitte", PlanCode::Professional, 2, None)
        .await
        .unwrap();
    let member = app.member(account.id);
    let photos = app.photos(account.id, 1).await;
    let logo = app
        .ledger
        .add_logo(account.id, "Logo", "https://img.example/logo.png?a=1&b=2")
        .await
        .unwrap();
    let applied = app
        .op(
            &member,
            "ApplyChanges",
            json!({"input": {
                "photoIds": photos,
                "backgroundId": app.gid(Kind::Background, "showroom"),
                "logo": {"logoId": app.gid(Kind::Logo, logo.id), "position": "TOP_RIGHT"},
                "idempotencyKey": "k1",
            }}),
        )
        .await;
    assert_eq!(applied["applyChanges"]["edits"][0]["status"], "RENDERING");

    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = current_edits(&app, &member).await[0].clone();
        if shown["status"] == "READY" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(shown["status"], "READY", "within 5 s");
    let edit_id = applied["applyChanges"]["edits"][0]["id"].as_str().unwrap();
    let expected = format!("http://{}/previews/{edit_id}.svg", started.local_addr());
    assert_eq!(shown["imageUrl"], expected);
    let request = |path: String| Request::get(path).body(Body::empty()).unwrap();
    let response = app
        .router
        .clone()
        .oneshot(request(format!("/previews/{edit_id}.svg")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(
        response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let svg = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        svg.contains(r#"href="https://cdn.studio.example/backgrounds/showroom.jpg""#),
        "{svg}"
    );
    assert!(svg.contains(r#"href="https://img.example/0.jpg""#), "{svg}");
    assert!(
        svg.contains(r#"href="https://img.example/logo.png?a=1&amp;b=2" x="928" y="32""#),
        "{svg}"
    );
    let forged = app
        .router
        .clone()
        .oneshot(request(format!("/previews/{}.svg", app.gid(Kind::Photo, 1))))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let history = app.ledger.entries(account.id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind == entity::enums::EntryKind::Refund)
            .count(),
        0
    );
}
