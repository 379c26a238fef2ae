//! The render service's operations of the contract (`renderer.graphql`) through the
//! real HTTP stack, on SQLite and PostgreSQL: the studio sees RENDERING, then READY
//! with the image or FAILED with its credit back.
use crate::api_support::TestApp;
use entity::enums::PlanCode;
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;

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
}
