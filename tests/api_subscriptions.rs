//! `balanceChanged` over a real WebSocket on both protocols: the current balance at
//! once, then one per committed change of the viewer's account; bad tokens closed 4403.
mod api_support;
mod common;

use std::time::Duration;

use api_support::ws::{assert_closed_with, connect, receive, send, serve};
use api_support::{TestApp, operation_document};
use entity::enums::PlanCode;
use serde_json::json;
use studio_bff::config::Config;

on_both_databases! {
    async fn a_subscriber_gets_the_balance_at_once_then_each_change_of_its_account_only(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let mine = app.ledger.create_account("Mine", PlanCode::Professional, 2).await.unwrap();
        let theirs = app.ledger.create_account("Theirs", PlanCode::Professional, 2).await.unwrap();
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

#[tokio::test]
async fn the_older_graphql_ws_protocol_is_served_too() {
    let db = common::TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let account = app.ledger.create_account("A", PlanCode::Professional, 2).await.unwrap();
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", app.member(account.id))}}),
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
    let db = common::TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;

    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}),
    )
    .await;
    assert_closed_with(&mut socket, 4403, "Forbidden").await;
}

#[tokio::test]
async fn a_connection_that_never_initialises_is_closed_with_4408() {
    let db = common::TestDb::sqlite().await;
    let limits = studio_bff::http::Limits {
        connection_init: Duration::from_millis(100),
        ..Default::default()
    };
    let app = TestApp::with(
        &db,
        Config::default(),
        studio_bff::clock::Clock::manual_at(api_support::utc(api_support::NOW)),
        limits,
    )
    .await;
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;

    assert_closed_with(&mut socket, 4408, "Connection initialisation timeout").await;
}

#[tokio::test]
async fn a_subscribe_before_connection_init_is_closed_with_4401() {
    let db = common::TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;

    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { balanceChanged { available } }"}}),
    )
    .await;
    assert_closed_with(&mut socket, 4401, "Unauthorized").await;
}
