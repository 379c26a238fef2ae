//! SIGTERM to the real binary: a subscriber's socket is closed with 1001, a request in
//! flight is answered, a new connection is refused, and the process exits with 0
//! within the drain bound.
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use studio_bff::app::DRAIN;
use studio_bff::auth::{Auth, Role};
use studio_bff::ids::Kind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api_support::service::{Reply, post_graphql};
use crate::api_support::{SECRET, operation_document, ws};
use crate::common::TestDb;
use crate::logs::Binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_finishes_the_request_in_flight_refuses_new_ones_and_exits_0() {
    let db = TestDb::sqlite().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("STUDIO_JWT_SECRET", SECRET),
        ("RUST_LOG", "info"),
    ];
    let mut service = Binary::start(&env).await;
    let addr: std::net::SocketAddr = service.addr.parse().unwrap();
    let auth = Auth::new(SECRET);
    let ops = auth.mint("ops-1", Role::Ops, None, Duration::from_secs(600)).unwrap();
    let created = post_graphql(
        &service.addr,
        Some(&ops),
        &json!({
            "query": operation_document("CreateAccount"),
            "operationName": "CreateAccount",
            "variables": {"name": "Autohaus Nord", "plan": "PROFESSIONAL", "listingSlots": 2},
        }),
    )
    .await;
    let Reply::Answered(_, created) = created else {
        panic!("{created:?}")
    };
    let account_id = created["data"]["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let account = auth.ids().decode_i64(Kind::Account, &account_id).unwrap();
    let member = auth
        .mint("user-1", Role::Member, Some(account), Duration::from_secs(600))
        .unwrap();
    let mut socket = ws::connect(addr, "graphql-transport-ws").await;
    ws::initialise(&mut socket, &member).await;
    ws::send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": operation_document("HeaderBalanceLive"), "operationName": "HeaderBalanceLive"}}),
    )
    .await;
    let first = ws::receive(&mut socket).await;
    assert_eq!(first["type"], "next", "{first}");
    // A request in flight: its headers and half its body sent, the rest after SIGTERM.
    let body = json!({"query": "query Who { viewer { role } }"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {ops}\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    );
    in_flight.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    service.terminate();

    ws::assert_closed_with(&mut socket, 1001, "The server is shutting down").await;
    let refused = loop {
        match TcpStream::connect(addr).await {
            Err(e) => break e,
            Ok(_) if signalled.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(_) => panic!("a new connection still accepted 5 s after SIGTERM"),
        }
    };
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    in_flight.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), in_flight.read_to_string(&mut answer))
        .await
        .expect("answered within 5 s")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json_body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(json_body, json!({"data": {"viewer": {"role": "OPS"}}}));
    let status = tokio::task::block_in_place(|| service.exited_within(DRAIN + Duration::from_secs(2)))
        .unwrap_or_else(|| panic!("still running after the drain bound:\n{}", service.stderr()));
    assert_eq!(status.code(), Some(0), "{}", service.stderr());
    assert!(
        signalled.elapsed() < DRAIN,
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );
}
