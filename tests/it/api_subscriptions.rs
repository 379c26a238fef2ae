//! `balanceChanged` over a real WebSocket on both protocols: the current balance at
//! once, then one per committed change of the viewer's account; bad tokens closed 4403.

use std::time::Duration;

use crate::api_support::ws::{Server, Socket, assert_closed_with, connect, initialise, receive, send, serve};
use crate::api_support::{TestApp, operation_document};
use entity::enums::PlanCode;
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::graphql::subscription::source;
use studio_bff::ids::Kind;
use studio_bff::live::Hub;

on_both_databases! {
    async fn a_subscriber_gets_the_balance_at_once_then_each_change_of_its_account_only(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 2, None).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 2, None).await.unwrap();
        let addr = serve(&app).await;
        let mut socket = connect(addr, "graphql-transport-ws").await;
        send(&mut socket, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", app.member(mine.id))}})).await;
        assert_eq!(receive(&mut socket).await["type"], "connection_ack");
        send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {
            "query": operation_document("HeaderBalanceLive"), "operationName": "HeaderBalanceLive"}})).await;

        let first = receive(&mut socket).await;
        app.charge_one(theirs.id, "theirs").await;
        app.charge_one(mine.id, "mine").await;
        let second = receive(&mut socket).await;

        assert_eq!(first["type"], "next");
        assert_eq!(first["payload"]["data"]["balanceChanged"]["available"], 10);
        assert_eq!(second["payload"]["data"]["balanceChanged"]["available"], 9);
        assert_eq!(second["payload"]["data"]["balanceChanged"]["unlimited"], false);
    }
}

on_both_databases! {
    async fn set_clock_across_a_reset_pushes_the_new_cycle(db) {
        let app = TestApp::start(&db, Config::default()).await;
        // Professional, 2 slots: 10 monthly credits; the cycle resets on 1 December.
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        app.charge_one(account.id, "before-the-reset").await;
        let mut socket = subscribe_header(&app, serve(&app).await, account.id).await;
        let before = receive(&mut socket).await;

        let moved = app.op(&app.ops(), "SetClock", json!({"now": "2026-12-01T00:00:05Z"})).await;
        let after = tokio::time::timeout(Duration::from_secs(2), receive(&mut socket)).await.expect("a push within 2 s");

        assert_eq!(moved["setClock"]["userErrors"], json!([]));
        assert_eq!(before["payload"]["data"]["balanceChanged"]["available"], 9);
        assert_eq!(after["payload"]["data"]["balanceChanged"]["available"], 10);
        assert_eq!(after["payload"]["data"]["balanceChanged"]["asOf"], "2026-12-01T00:00:05Z");
    }
}

on_both_databases! {
    async fn every_subscription_field_has_a_source_of_events_so_an_idle_subscriber_holds_only_that(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let hub = Hub::start(app.ledger.clone());
        let sdl = studio_bff::graphql::sdl();
        let block = sdl.split("type Subscription {").nth(1).expect("a Subscription type");
        let fields: Vec<&str> = block[..block.find("\n}").expect("its end")]
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(name, _)| name.split('(').next().unwrap_or(name))
            .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();

        assert_eq!(fields, ["balanceChanged", "editChanged"]);
        for field in fields {
            assert!(source(&hub, field, account.id).is_some(), "{field}");
        }
        assert!(source(&hub, "viewer", account.id).is_none());
    }
}

on_both_databases! {
    async fn a_subscription_field_under_a_directive_runs_as_one_stream_with_the_same_answers(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let mut socket = subscribed(&app, serve(&app).await, account.id, json!({"query": "subscription { balanceChanged @include(if: true) { available } }"})).await;

        let first = receive(&mut socket).await;
        app.charge_one(account.id, "one").await;
        let second = receive(&mut socket).await;

        assert_eq!(first["payload"]["data"]["balanceChanged"]["available"], 10);
        assert_eq!(second["payload"]["data"]["balanceChanged"]["available"], 9);
    }
}

on_both_databases! {
    async fn a_bad_selection_of_a_field_with_nothing_at_first_is_refused_at_once(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let mut socket = subscribed(&app, serve(&app).await, account.id, json!({"query": "subscription { editChanged { id nope } }"})).await;

        let refused = tokio::time::timeout(Duration::from_secs(2), receive(&mut socket)).await.expect("an answer with no edit changed");

        assert_eq!(refused["type"], "error");
        assert_eq!(refused["payload"][0]["message"], "Unknown field \"nope\" on type \"PhotoEdit\".");
    }
}

on_both_databases! {
    async fn a_subscription_rooted_in_a_fragment_is_refused_at_once(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.unwrap();
        let addr = serve(&app).await;
        let spread = json!({"query": "subscription { ...F } fragment F on Subscription { balanceChanged { available } }"});
        let inline = json!({"query": "subscription { ... on Subscription { balanceChanged { available } } }"});

        for payload in [spread, inline] {
            let mut socket = subscribed(&app, addr, account.id, payload).await;
            let refused = tokio::time::timeout(Duration::from_secs(2), receive(&mut socket)).await.expect("an answer at once");

            assert_eq!(refused["type"], "error");
            assert_eq!(refused["payload"][0]["message"], "A subscription selects its field directly, not through a fragment.");
            assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
    }
}

/// A graphql-transport-ws socket on `addr` subscribed to `HeaderBalanceLive` as a
/// member of `account_id`.
async fn subscribe_header(app: &TestApp, addr: std::net::SocketAddr, account_id: i64) -> Socket {
    let header = json!({"query": operation_document("HeaderBalanceLive"), "operationName": "HeaderBalanceLive"});
    subscribed(app, addr, account_id, header).await
}

/// A graphql-transport-ws socket on `addr`, as a member of `account_id`, that sent
/// `payload` as operation "1".
async fn subscribed(app: &TestApp, addr: std::net::SocketAddr, account_id: i64, payload: Value) -> Socket {
    let mut socket = connect(addr, "graphql-transport-ws").await;
    initialise(&mut socket, &app.member(account_id)).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": payload})).await;
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_a_charge_on_one_instance_reaches_the_header_on_another_within_a_second() {
    let db = crate::common::TestDb::postgres().await;
    let one = TestApp::start(&db, Config::default()).await;
    let other = TestApp::start(&db, Config::default()).await;
    let account = one
        .ledger
        .create_account("A", PlanCode::Professional, 4, None)
        .await
        .unwrap();
    let photos = other.photos(account.id, 3).await;
    let mut socket = subscribe_header(&one, serve(&one).await, account.id).await;
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["balanceChanged"]["available"],
        20
    );
    db.wait_for_listeners(2).await;

    let applied = other
        .op(
            &other.member(account.id),
            "ApplyChanges",
            json!({"input": {
        "photoIds": photos, "backgroundId": other.gid(Kind::Background, "showroom"),
        "idempotencyKey": "charge-on-the-other"}}),
        )
        .await;
    let pushed = tokio::time::timeout(Duration::from_secs(1), receive(&mut socket)).await;

    assert_eq!(applied["applyChanges"]["creditsCharged"], 3);
    let pushed = pushed.expect("the push within 1 s");
    assert_eq!(pushed["payload"]["data"]["balanceChanged"]["available"], 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_after_the_listening_connection_is_killed_the_header_is_right_within_two_seconds() {
    let db = crate::common::TestDb::postgres().await;
    let one = TestApp::start(&db, Config::default()).await;
    let other = TestApp::start(&db, Config::default()).await;
    let account = one
        .ledger
        .create_account("A", PlanCode::Professional, 4, None)
        .await
        .unwrap();
    let mut socket = subscribe_header(&one, serve(&one).await, account.id).await;
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["balanceChanged"]["available"],
        20
    );

    assert_eq!(db.kill_listeners().await, 2, "both instances' listening connections");
    other.charge_one(account.id, "while-nobody-listens").await;

    let right_at = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let left = right_at.saturating_duration_since(tokio::time::Instant::now());
        let pushed = tokio::time::timeout(left, receive(&mut socket))
            .await
            .expect("the right balance within 2 s");
        if pushed["payload"]["data"]["balanceChanged"]["available"] == 19 {
            break;
        }
    }
}

#[tokio::test]
async fn the_older_graphql_ws_protocol_is_served_too() {
    let server = Server::start().await;
    let mut socket = connect(server.addr, "graphql-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", server.member())}}),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");

    send(
        &mut socket,
        json!({"id": "1", "type": "start", "payload": {"query": "subscription { balanceChanged { available } }"}}),
    )
    .await;
    let first = receive(&mut socket).await;

    assert_eq!(first["type"], "data");
    assert_eq!(first["payload"]["data"]["balanceChanged"]["available"], 10);
}

#[tokio::test]
async fn a_connection_with_a_bad_token_is_closed_with_4403() {
    let server = Server::start().await;
    let mut socket = connect(server.addr, "graphql-transport-ws").await;

    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}),
    )
    .await;
    assert_closed_with(&mut socket, 4403, "Forbidden").await;
}

#[tokio::test]
async fn a_connection_that_never_initialises_is_closed_with_4408() {
    let server = Server::with(Config {
        ws_init_timeout_ms: 100,
        ..Config::default()
    })
    .await;
    let mut socket = connect(server.addr, "graphql-transport-ws").await;

    assert_closed_with(&mut socket, 4408, "Connection initialisation timeout").await;
}

#[tokio::test]
async fn a_subscribe_before_connection_init_is_closed_with_4401() {
    let server = Server::start().await;
    let mut socket = connect(server.addr, "graphql-transport-ws").await;

    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { balanceChanged { available } }"}}),
    )
    .await;
    assert_closed_with(&mut socket, 4401, "Unauthorized").await;
}
