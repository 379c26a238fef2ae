//! `balanceChanged` over a real WebSocket on both protocols: the current balance at
//! once, then one per committed change of the viewer's account; bad tokens closed 4403.
mod api_support;
mod common;

use std::time::Duration;

use api_support::{TestApp, operation_document};
use entity::enums::PlanCode;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ledger::ApplyRequest;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Serves `app` on a free port until the test ends; its address.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let router = app.router.clone();
    tokio::spawn(studio_bff::http::serve(
        listener,
        router,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    addr
}

async fn connect(addr: std::net::SocketAddr, protocol: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().expect("a header"));
    tokio_tungstenite::connect_async(request).await.expect("a WebSocket").0
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

/// The next JSON message; fails after five seconds.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

/// Waits up to 5 s for the server to close the socket, and checks the close code.
async fn assert_closed_with(socket: &mut Socket, code: u16) {
    let closed = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("an answer");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), code),
        other => panic!("expected a close frame with {code}, got {other:?}"),
    }
}

async fn charge_one(app: &TestApp, account_id: i64, key: &str) {
    let photo = app
        .ledger
        .register_photos(account_id, &[("l".into(), "https://img.example/p.jpg".into())])
        .await
        .unwrap()[0]
        .id;
    app.ledger
        .apply_changes(
            account_id,
            &ApplyRequest {
                photo_ids: vec![photo],
                background_id: "showroom".into(),
                logo: None,
                idempotency_key: key.into(),
            },
        )
        .await
        .unwrap();
}

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
        charge_one(&app, theirs.id, "theirs").await;
        charge_one(&app, mine.id, "mine").await;
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
    assert_closed_with(&mut socket, 4403).await;
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

    assert_closed_with(&mut socket, 4408).await;
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
    assert_closed_with(&mut socket, 4401).await;
}
