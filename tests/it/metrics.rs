//! `GET /metrics`: after a known sequence of operations through the real router, the
//! exact counts; on the API's port only to an OPS token, on `metrics_addr` alone and
//! without one; and no series for a name the contract does not have.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use entity::enums::PlanCode;
use http_body_util::BodyExt;
use serde_json::json;
use studio_bff::app::App;
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::metrics::OPERATIONS;
use tower::ServiceExt;

use crate::api_support::{NOW, SECRET, TestApp, utc, ws};
use crate::common::TestDb;

/// `GET /metrics` on `router` with `token`: the status and the body.
async fn scrape(router: &axum::Router, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Each sample of a Prometheus text, `name{labels}` to its value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample: {line}"));
            (
                series.to_owned(),
                value.parse().unwrap_or_else(|_| panic!("a value: {line}")),
            )
        })
        .collect()
}

on_both_databases! {
    async fn the_metrics_count_exactly_the_requests_refusals_and_credits_of_a_known_sequence(db) {
        let app = TestApp::start(&db, Config::default()).await;
        // 10 monthly credits: 2 slots of 5.
        let account = app.ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let token = app.member(account.id);
        let photos = app.photos(account.id, 2).await;
        let showroom = app.gid(Kind::Background, "showroom");
        let small = app.gid(Kind::CreditPack, "pro-small");

        let applied = app.op(&token, "ApplyChanges", json!({"input": {
            "photoIds": photos, "backgroundId": showroom, "idempotencyKey": "k1",
        }})).await;
        let refused = app.op(&token, "ApplyChanges", json!({"input": {
            "photoIds": [], "backgroundId": showroom, "idempotencyKey": "k2",
        }})).await;
        let bought = app.op(&token, "BuyPack", json!({"packId": small, "idempotencyKey": "buy-1"})).await;
        let ad_hoc = app.post(Some(&token), json!({
            "query": "query Mine { viewer { account { name } } }", "operationName": "Mine",
        })).await;
        let anonymous = app.query(&token, "{ viewer { account { name } } }", json!({})).await;
        let (no_token, _) = app.post(None, json!({"query": "{ viewer { account { name } } }"})).await;
        let (status, text) = scrape(&app.router, Some(&app.ops())).await;

        assert_eq!(applied["applyChanges"]["creditsCharged"], 2);
        assert_eq!(refused["applyChanges"]["userErrors"][0]["code"], "EMPTY_BATCH");
        assert_eq!(bought["purchasePack"]["lot"]["granted"], 25);
        assert_eq!(ad_hoc.0, StatusCode::OK);
        assert!(anonymous.get("errors").is_none(), "{anonymous}");
        assert_eq!(no_token, StatusCode::UNAUTHORIZED);
        assert_eq!(status, StatusCode::OK, "{text}");
        let samples = samples(&text);
        let expected = [
            (r#"studio_graphql_requests_total{operation="ApplyChanges",outcome="ok"}"#, 1.0),
            (r#"studio_graphql_requests_total{operation="ApplyChanges",outcome="user_error"}"#, 1.0),
            (r#"studio_graphql_requests_total{operation="BuyPack",outcome="ok"}"#, 1.0),
            (r#"studio_graphql_requests_total{operation="other",outcome="ok"}"#, 2.0),
            (r#"studio_graphql_requests_total{operation="none",outcome="refused"}"#, 1.0),
            (r#"studio_graphql_request_duration_seconds_count{operation="ApplyChanges"}"#, 2.0),
            (r#"studio_graphql_request_duration_seconds_count{operation="BuyPack"}"#, 1.0),
            (r#"studio_graphql_request_duration_seconds_count{operation="other"}"#, 2.0),
            (r#"studio_user_errors_total{code="EMPTY_BATCH"}"#, 1.0),
            (r#"studio_credits_total{movement="granted",bucket="monthly"}"#, 10.0),
            (r#"studio_credits_total{movement="charged",bucket="monthly"}"#, 2.0),
            (r#"studio_credits_total{movement="granted",bucket="purchased"}"#, 25.0),
            ("studio_live_subscribers", 0.0),
            ("studio_websockets_open", 0.0),
            ("studio_live_listener_reconnects_total", 0.0),
        ];
        for (series, value) in expected {
            assert_eq!(samples.get(series), Some(&value), "{series} in:\n{text}");
        }
        let counted = |prefix: &str| samples.keys().filter(|s| s.starts_with(prefix)).cloned().collect::<Vec<_>>();
        assert_eq!(counted("studio_graphql_requests_total").len(), 5, "{text}");
        assert_eq!(counted("studio_user_errors_total").len(), 1, "{text}");
        assert_eq!(counted("studio_credits_total").len(), 3, "{text}");
        // Writes: the account, the photos, the apply and the purchase (the empty batch is
        // refused before a transaction begins).
        assert_eq!(samples.get("studio_db_write_acquire_seconds_count"), Some(&4.0), "{text}");
        let in_use = samples["studio_db_pool_connections_in_use"];
        let idle = samples["studio_db_pool_connections_idle"];
        // Background work (the hub, the render and webhook workers) may hold connections
        // at the scrape: only the pool's size is known, at least the one that answered.
        assert!(in_use >= 0.0 && idle >= 0.0 && in_use + idle >= 1.0, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    async fn live_subscribers_and_open_sockets_are_counted_while_they_last(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("Autohaus Süd", PlanCode::Professional, 1, None).await.unwrap();
        let hub = studio_bff::live::Hub::start(app.ledger.clone());
        let addr = ws::serve(&app).await;

        let watch = hub.watch(account.id);
        let second = hub.watch(account.id);
        let mut socket = ws::connect(addr, "graphql-transport-ws").await;
        ws::initialise(&mut socket, &app.member(account.id)).await;
        let (_, during) = scrape(&app.router, Some(&app.ops())).await;
        drop((watch, second));
        drop(socket);
        let after = eventually_closed(&app).await;

        assert_eq!(samples(&during).get("studio_live_subscribers"), Some(&2.0), "{during}");
        assert_eq!(samples(&during).get("studio_websockets_open"), Some(&1.0), "{during}");
        assert_eq!(samples(&after).get("studio_live_subscribers"), Some(&0.0), "{after}");
        assert_eq!(samples(&after).get("studio_websockets_open"), Some(&0.0), "{after}");
    }
}

/// The metrics once the server has seen the test's socket go (within 5 s).
async fn eventually_closed(app: &TestApp) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, text) = scrape(&app.router, Some(&app.ops())).await;
        if samples(&text).get("studio_websockets_open") == Some(&0.0) || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn on_the_apis_port_metrics_take_an_ops_token() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let account = app
        .ledger
        .create_account("Autohaus West", PlanCode::Basic, 1, None)
        .await
        .unwrap();

    let (none, _) = scrape(&app.router, None).await;
    let (member, _) = scrape(&app.router, Some(&app.member(account.id))).await;
    let (ops, text) = scrape(&app.router, Some(&app.ops())).await;

    assert_eq!(none, StatusCode::UNAUTHORIZED);
    assert_eq!(member, StatusCode::FORBIDDEN);
    assert_eq!(ops, StatusCode::OK);
    assert!(text.contains("# TYPE studio_db_pool_connections_idle gauge"), "{text}");
    // A scrape is not a GraphQL request: nothing was counted as refused.
    assert!(!text.contains(r#"outcome="refused""#), "{text}");
}

#[tokio::test]
async fn with_metrics_addr_metrics_are_served_there_alone_without_a_token() {
    let db = TestDb::sqlite().await;
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(db.url.as_str().into()),
        listen_database_url: db.listen_database_url(),
        jwt_secret: Some(SECRET.into()),
        ..Config::default()
    };
    let app = App::build_with(config, Clock::manual_at(utc(NOW))).await.unwrap();
    let metrics_addr = app.metrics_addr().expect("a metrics port");
    let api = TestApp::of(&app);
    let (on_api, _) = scrape(&api.router, Some(&api.ops())).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let answer = http_get(metrics_addr, "/metrics").await;
    let elsewhere = http_get(metrics_addr, "/graphql").await;

    assert_eq!(on_api, StatusCode::NOT_FOUND);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("application/openmetrics-text"), "{answer}");
    assert!(answer.contains("studio_db_pool_connections_idle"), "{answer}");
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}

/// A plain HTTP/1.1 GET of `path` on `addr`: the whole answer as text.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[test]
fn every_operation_of_the_contract_has_a_series_of_its_own() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/operations");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let mut words = line.split(|c: char| c.is_whitespace() || c == '(' || c == '{');
            if let (Some("query" | "mutation" | "subscription"), Some(name)) = (words.next(), words.next()) {
                names.push(name.to_owned());
            }
        }
    }

    assert!(names.len() >= 15, "{names:?}");
    let missing: Vec<_> = names.iter().filter(|n| !OPERATIONS.contains(&n.as_str())).collect();
    assert!(
        missing.is_empty(),
        "not in studio_bff::metrics::OPERATIONS: {missing:?}"
    );
}
