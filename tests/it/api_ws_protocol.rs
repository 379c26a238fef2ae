//! The GraphQL-over-WebSocket protocols at `/graphql/ws` as a client sees them, on a
//! real socket: every close code, keep-alive, the per-connection cap, token expiry, and
//! the messages of each operation. Independent of storage, so SQLite only.

use std::time::{Duration, Instant};

use crate::api_support::expired_token;
use crate::api_support::ws::{Server, assert_closed_with, connect, initialise, receive, send};
use futures_util::SinkExt;
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Role};
use studio_bff::config::Config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const MODERN: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";
const BALANCE: &str = "subscription { balanceChanged { available } }";

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": query}})
}

/// Sends `connection_init` with `payload`, then at once a subscribe, and expects 4403
/// with nothing sent before it.
async fn assert_init_refused(protocol: &str, payload: Value) {
    let server = Server::start().await;
    let mut socket = connect(server.addr, protocol).await;
    let start = if protocol == MODERN { "subscribe" } else { "start" };

    send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
    send(
        &mut socket,
        json!({"id": "1", "type": start, "payload": {"query": BALANCE}}),
    )
    .await;

    assert_closed_with(&mut socket, 4403, "Forbidden").await;
}

/// Opens a fresh socket, sends `message`, and expects 4400 with `reason`.
async fn assert_refused_as_invalid(server: &Server, protocol: &str, message: Message, reason: &str) {
    let mut socket = server.member_socket(protocol).await;
    socket.send(message).await.expect("sent");
    assert_closed_with(&mut socket, 4400, reason).await;
}

fn text(value: &str) -> Message {
    Message::Text(value.into())
}

#[tokio::test]
async fn a_socket_without_connection_init_is_closed_with_4408_once_the_limit_passes() {
    let server = Server::with(Config {
        ws_init_timeout_ms: 200,
        ..Config::default()
    })
    .await;
    let opened = Instant::now();
    let mut socket = connect(server.addr, MODERN).await;

    assert_closed_with(&mut socket, 4408, "Connection initialisation timeout").await;
    assert!(opened.elapsed() >= millis(200), "closed after {:?}", opened.elapsed());
}

#[tokio::test]
async fn a_connection_init_without_a_token_is_closed_with_4403_and_nothing_else_is_sent() {
    assert_init_refused(MODERN, json!({})).await;
    assert_init_refused(MODERN, Value::Null).await;
    assert_init_refused(MODERN, json!({"authorization": "Basic dXNlcjpwYXNz"})).await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_closed_with_4403_and_nothing_else_is_sent() {
    let foreign = Auth::new("another secret of enough length, really")
        .mint("user-1", Role::Ops, None, Duration::from_secs(60))
        .expect("a token");

    assert_init_refused(MODERN, json!({"authorization": format!("Bearer {foreign}")})).await;
}

#[tokio::test]
async fn an_expired_token_is_closed_with_4403_and_nothing_else_is_sent() {
    let expired = expired_token();

    assert_init_refused(MODERN, json!({"Authorization": format!("Bearer {expired}")})).await;
}

#[tokio::test]
async fn the_older_protocol_closes_a_bad_token_with_4403_and_sends_nothing_else() {
    assert_init_refused(LEGACY, json!({"authorization": "Bearer not-a-token"})).await;
}

#[tokio::test]
async fn a_subscribe_before_the_ack_is_closed_with_4401_on_both_protocols() {
    let server = Server::start().await;
    let mut modern = connect(server.addr, MODERN).await;
    let mut legacy = connect(server.addr, LEGACY).await;

    send(&mut modern, subscribe("1", BALANCE)).await;
    send(
        &mut legacy,
        json!({"id": "1", "type": "start", "payload": {"query": BALANCE}}),
    )
    .await;

    assert_closed_with(&mut modern, 4401, "Unauthorized").await;
    assert_closed_with(&mut legacy, 4401, "Unauthorized").await;
}

#[tokio::test]
async fn a_second_connection_init_is_closed_with_4429() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;

    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", server.app.member(server.account))}}),
    )
    .await;

    assert_closed_with(&mut socket, 4429, "Too many initialisation requests").await;
}

#[tokio::test]
async fn a_subscribe_with_an_id_already_running_is_closed_with_4409() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;
    send(&mut socket, subscribe("1", BALANCE)).await;
    assert_eq!(receive(&mut socket).await["type"], "next");

    send(&mut socket, subscribe("1", BALANCE)).await;

    assert_closed_with(&mut socket, 4409, "Subscriber for 1 already exists").await;
}

#[tokio::test]
async fn a_message_that_is_not_json_is_closed_with_4400() {
    let server = Server::start().await;

    assert_refused_as_invalid(&server, MODERN, text("{not json"), "Invalid message").await;
    assert_refused_as_invalid(&server, MODERN, text("[1, 2]"), "Invalid message").await;
}

#[tokio::test]
async fn an_unknown_message_type_is_closed_with_4400() {
    let server = Server::start().await;
    let legacy_start = json!({"id": "1", "type": "start", "payload": {"query": BALANCE}}).to_string();

    assert_refused_as_invalid(&server, MODERN, text(r#"{"type": "hello"}"#), "Unknown message type").await;
    assert_refused_as_invalid(&server, MODERN, text(&legacy_start), "Unknown message type").await;
}

#[tokio::test]
async fn a_binary_frame_is_closed_with_4400() {
    let server = Server::start().await;

    assert_refused_as_invalid(
        &server,
        MODERN,
        Message::Binary(vec![1, 2, 3].into()),
        "Binary messages are not supported",
    )
    .await;
}

#[tokio::test]
async fn a_subscribe_without_a_proper_id_or_request_is_closed_with_4400() {
    let server = Server::start().await;
    let cases = [
        (
            json!({"type": "subscribe", "payload": {"query": BALANCE}}),
            "The message has no id",
        ),
        (
            json!({"id": 7, "type": "subscribe", "payload": {"query": BALANCE}}),
            "Invalid message",
        ),
        (
            json!({"id": "1", "type": "subscribe"}),
            "The payload is not a GraphQL request",
        ),
        (
            json!({"id": "1", "type": "subscribe", "payload": "query"}),
            "Invalid message",
        ),
        (
            json!({"id": "1", "type": "subscribe", "payload": {"variables": {}}}),
            "The payload is not a GraphQL request",
        ),
        (
            json!({"id": "1", "type": "subscribe", "payload": {"query": 3}}),
            "The payload is not a GraphQL request",
        ),
    ];

    for (message, reason) in cases {
        assert_refused_as_invalid(&server, MODERN, text(&message.to_string()), reason).await;
    }
}

#[tokio::test]
async fn the_older_protocol_closes_invalid_messages_with_4400() {
    let server = Server::start().await;

    assert_refused_as_invalid(&server, LEGACY, text("{not json"), "Invalid message").await;
    assert_refused_as_invalid(
        &server,
        LEGACY,
        text(&subscribe("1", BALANCE).to_string()),
        "Unknown message type",
    )
    .await;
}

#[tokio::test]
async fn a_subscribe_beyond_the_cap_gets_too_many_subscriptions_and_the_others_go_on() {
    let server = Server::with(Config {
        ws_max_operations: 2,
        ..Config::default()
    })
    .await;
    let mut socket = server.member_socket(MODERN).await;
    send(&mut socket, subscribe("1", BALANCE)).await;
    send(&mut socket, subscribe("2", BALANCE)).await;
    let mut first = [receive(&mut socket).await, receive(&mut socket).await].map(|m| m["id"].clone());
    first.sort_by_key(|id| id.to_string());
    assert_eq!(first, [json!("1"), json!("2")]);

    send(&mut socket, subscribe("3", BALANCE)).await;
    let refused = receive(&mut socket).await;
    server.app.charge_one(server.account, "one").await;
    let after = [receive(&mut socket).await, receive(&mut socket).await];

    assert_eq!(
        refused,
        json!({"type": "error", "id": "3", "payload": [{
            "message": "A connection runs at most 2 operations at once.",
            "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"}
        }]})
    );
    assert!(
        after.contains(&json!({"type": "next", "id": "1", "payload": {"data": {"balanceChanged": {"available": 9}}}})),
        "{after:?}"
    );
}

#[tokio::test]
async fn the_server_sends_keep_alive_pings_on_both_protocols() {
    let server = Server::with(Config {
        ws_keep_alive_ms: 200,
        ..Config::default()
    })
    .await;
    let opened = Instant::now();
    let mut modern = server.member_socket(MODERN).await;
    let mut legacy = server.member_socket(LEGACY).await;

    let pings = [receive(&mut modern).await, receive(&mut modern).await];
    let keep_alive = receive(&mut legacy).await;

    assert_eq!(pings, [json!({"type": "ping"}), json!({"type": "ping"})]);
    assert_eq!(keep_alive, json!({"type": "ka"}));
    assert!(
        opened.elapsed() >= millis(400),
        "two pings after {:?}",
        opened.elapsed()
    );
}

#[tokio::test]
async fn a_client_ping_is_answered_with_pong_and_a_client_pong_with_nothing() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;

    send(&mut socket, json!({"type": "pong", "payload": {"late": true}})).await;
    send(&mut socket, json!({"type": "ping", "payload": {"n": 1}})).await;
    let with_payload = receive(&mut socket).await;
    send(&mut socket, json!({"type": "ping"})).await;
    let without = receive(&mut socket).await;

    assert_eq!(with_payload, json!({"type": "pong", "payload": {"n": 1}}));
    assert_eq!(without, json!({"type": "pong"}));
}

/// The largest message a client may send, in bytes.
const MESSAGE_LIMIT: usize = 64 * 1024;

/// `message` with a `pad` of spaces in its payload that makes its JSON text exactly
/// `bytes` long.
fn padded(mut message: Value, bytes: usize) -> Message {
    message["payload"]["pad"] = json!("");
    let pad = bytes - message.to_string().len();
    message["payload"]["pad"] = json!(" ".repeat(pad));
    let text = message.to_string();
    assert_eq!(text.len(), bytes);
    Message::Text(text.into())
}

#[tokio::test]
async fn a_message_one_byte_over_64_kib_is_closed_with_1009_on_both_protocols() {
    let server = Server::start().await;

    for protocol in [MODERN, LEGACY] {
        let mut socket = server.member_socket(protocol).await;

        socket
            .send(padded(json!({"type": "ping", "payload": {}}), MESSAGE_LIMIT + 1))
            .await
            .expect("sent");

        assert_closed_with(&mut socket, 1009, "Messages are limited to 65536 bytes").await;
    }
}

#[tokio::test]
async fn a_message_of_exactly_64_kib_is_read_on_both_protocols() {
    let server = Server::start().await;
    let bearer = format!("Bearer {}", server.member());

    for protocol in [MODERN, LEGACY] {
        let mut socket = connect(server.addr, protocol).await;

        let init = json!({"type": "connection_init", "payload": {"authorization": bearer}});
        socket.send(padded(init, MESSAGE_LIMIT)).await.expect("sent");

        assert_eq!(
            receive(&mut socket).await,
            json!({"type": "connection_ack"}),
            "{protocol}"
        );
    }
}

#[tokio::test]
async fn the_socket_is_closed_with_4403_when_its_token_expires() {
    let server = Server::start().await;
    let minted = Instant::now();
    let token = server
        .app
        .auth
        .mint("user-1", Role::Member, Some(server.account), Duration::from_secs(2))
        .expect("a token");
    let mut socket = connect(server.addr, MODERN).await;
    initialise(&mut socket, &token).await;
    send(&mut socket, subscribe("1", BALANCE)).await;
    assert_eq!(receive(&mut socket).await["type"], "next");

    assert_closed_with(&mut socket, 4403, "Forbidden: token expired").await;
    // `exp` is in whole seconds: a 2 s token lives between 1 and 2 s.
    assert!(minted.elapsed() >= Duration::from_secs(1), "{:?}", minted.elapsed());
}

#[tokio::test]
async fn complete_ends_a_subscription_and_its_id_may_be_used_again() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;
    send(&mut socket, subscribe("1", BALANCE)).await;
    send(&mut socket, subscribe("2", BALANCE)).await;
    receive(&mut socket).await;
    receive(&mut socket).await;

    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    server.app.charge_one(server.account, "one").await;
    let after_charge = receive(&mut socket).await;
    send(&mut socket, json!({"type": "ping"})).await;
    let pong = receive(&mut socket).await;
    send(&mut socket, subscribe("1", BALANCE)).await;
    let again = receive(&mut socket).await;

    assert_eq!(
        after_charge,
        json!({"type": "next", "id": "2", "payload": {"data": {"balanceChanged": {"available": 9}}}})
    );
    assert_eq!(pong, json!({"type": "pong"}));
    assert_eq!(
        again,
        json!({"type": "next", "id": "1", "payload": {"data": {"balanceChanged": {"available": 9}}}})
    );
}

#[tokio::test]
async fn a_query_over_the_socket_gets_next_then_complete_and_its_id_is_free_again() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;
    let mut answers = Vec::new();

    for _ in 0..2 {
        send(&mut socket, subscribe("q", "{ viewer { userId } }")).await;
        answers.push(receive(&mut socket).await);
        answers.push(receive(&mut socket).await);
    }

    let once = [
        json!({"type": "next", "id": "q", "payload": {"data": {"viewer": {"userId": "user-1"}}}}),
        json!({"type": "complete", "id": "q"}),
    ];
    assert_eq!(answers, [once.clone(), once].concat());
}

#[tokio::test]
async fn an_invalid_document_gets_error_and_no_complete() {
    let server = Server::start().await;
    let mut socket = server.member_socket(MODERN).await;

    send(&mut socket, subscribe("bad", "subscription { noSuchField }")).await;
    let error = receive(&mut socket).await;
    send(&mut socket, json!({"type": "ping"})).await;
    let next = receive(&mut socket).await;

    assert_eq!(
        (&error["type"], &error["id"], &error["payload"][0]["extensions"]["code"]),
        (&json!("error"), &json!("bad"), &json!("BAD_USER_INPUT"))
    );
    assert_eq!(error["payload"].as_array().map(Vec::len), Some(1), "{error}");
    assert_eq!(next, json!({"type": "pong"}));
}

#[tokio::test]
async fn the_older_protocol_sends_data_error_and_complete_and_stops_on_stop() {
    let server = Server::start().await;
    let mut socket = server.member_socket(LEGACY).await;
    let start = |id: &str, query: &str| json!({"id": id, "type": "start", "payload": {"query": query}});

    send(&mut socket, start("q", "{ viewer { userId } }")).await;
    let query = [receive(&mut socket).await, receive(&mut socket).await];
    send(&mut socket, start("bad", "subscription { noSuchField }")).await;
    let error = receive(&mut socket).await;
    send(&mut socket, start("s", BALANCE)).await;
    let first = receive(&mut socket).await;
    send(&mut socket, json!({"id": "s", "type": "stop"})).await;
    send(&mut socket, start("s", BALANCE)).await;
    let restarted = receive(&mut socket).await;

    assert_eq!(
        query,
        [
            json!({"type": "data", "id": "q", "payload": {"data": {"viewer": {"userId": "user-1"}}}}),
            json!({"type": "complete", "id": "q"}),
        ]
    );
    assert_eq!((&error["type"], &error["id"]), (&json!("error"), &json!("bad")));
    assert_eq!(
        [first, restarted],
        [
            json!({"type": "data", "id": "s", "payload": {"data": {"balanceChanged": {"available": 10}}}}),
            json!({"type": "data", "id": "s", "payload": {"data": {"balanceChanged": {"available": 10}}}}),
        ]
    );
}

#[tokio::test]
async fn connection_terminate_closes_the_older_protocol_normally() {
    let server = Server::start().await;
    let mut socket = server.member_socket(LEGACY).await;

    send(&mut socket, json!({"type": "connection_terminate"})).await;

    assert_closed_with(&mut socket, 1000, "").await;
}

#[tokio::test]
async fn a_client_offering_both_protocols_is_answered_in_the_one_the_handshake_names() {
    let server = Server::start().await;
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-ws, graphql-transport-ws".parse().expect("a header"),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("a WebSocket");
    initialise(&mut socket, &server.app.member(server.account)).await;

    send(&mut socket, subscribe("1", BALANCE)).await;
    let first = receive(&mut socket).await;

    assert_eq!(response.headers()["sec-websocket-protocol"], MODERN);
    assert_eq!(first["type"], "next");
}
