//! 10,000 subscribers on one instance work: the real binary in a process of its own
//! (a process may hold 20,000 files here, and each socket is one on either side),
//! 10,000 WebSockets each subscribed to `balanceChanged` over 100 accounts; each gets
//! its account's balance, then, after one charge per account, the new one. Memory per
//! subscriber is measured by the benchmark harness, not here.
#[path = "support/api_support/mod.rs"]
mod api_support;
#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use api_support::service::Service;
use common::TestDb;
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Role};
use studio_bff::ids::Kind;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ACCOUNTS: usize = 100;
const SUBSCRIBERS_PER_ACCOUNT: usize = 100;
/// Sockets opened at once while connecting.
const CONNECTING: usize = 200;
/// Professional with 4 slots: 20 monthly credits.
const SLOTS: i32 = 4;

/// A graphql-transport-ws socket acknowledged with `token`.
async fn open(addr: &str, token: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("a header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("a WebSocket");
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

/// The next protocol message other than a keep-alive ping; fails after 30 s.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).expect("JSON");
            if message["type"] != "ping" {
                return message;
            }
        }
    }
}

/// Runs one operation over `socket` and returns its data.
async fn run(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Value {
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}),
    )
    .await;
    let message = receive(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(receive(socket).await["type"], "complete");
    message["payload"]["data"].clone()
}

/// A socket subscribed to `balanceChanged`, and the first balance it got.
async fn subscriber(addr: String, token: String) -> (Socket, i64) {
    let mut socket = open(&addr, &token).await;
    send(&mut socket, json!({"id": "balance", "type": "subscribe", "payload": {"query": "subscription { balanceChanged { available } }"}})).await;
    let first = available(&receive(&mut socket).await);
    (socket, first)
}

fn available(message: &Value) -> i64 {
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["balanceChanged"]["available"]
        .as_i64()
        .unwrap_or_else(|| panic!("a balance in {message}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_subscribers_get_their_balance_and_every_change() {
    let db = TestDb::sqlite().await;
    let service = Service::start(&db.url, &[]).await;
    let auth = Auth::new(api_support::SECRET);
    let ops_token = auth
        .mint("ops", Role::Ops, None, Duration::from_secs(3600))
        .expect("a token");
    let mut ops = open(&service.addr, &ops_token).await;

    // 100 accounts, each with one photo to charge later.
    let mut accounts = Vec::new();
    for i in 0..ACCOUNTS {
        let created = run(
            &mut ops,
            "create",
            "mutation($name: String!, $slots: Int!) { createAccount(input: {name: $name, plan: PROFESSIONAL, listingSlots: $slots}) { account { id } } }",
            json!({"name": format!("Dealer {i}"), "slots": SLOTS}),
        )
        .await;
        let account_gid = created["createAccount"]["account"]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let photos = run(
            &mut ops,
            "photos",
            "mutation($a: ID!) { registerPhotos(input: {accountId: $a, photos: [{listingRef: \"l\", originalUrl: \"https://img.example/p.jpg\"}]}) { photos { id } } }",
            json!({"a": account_gid}),
        )
        .await;
        let photo = photos["registerPhotos"]["photos"][0]["id"]
            .as_str()
            .expect("a photo")
            .to_owned();
        let account_number = auth
            .ids()
            .decode_i64(Kind::Account, &account_gid)
            .expect("an account id");
        let member = auth
            .mint("dealer", Role::Member, Some(account_number), Duration::from_secs(3600))
            .expect("a token");
        accounts.push((member, photo));
    }

    // 10,000 subscribers, 100 per account, opened 200 at a time.
    let mut subscribers: Vec<(usize, Socket)> = Vec::with_capacity(ACCOUNTS * SUBSCRIBERS_PER_ACCOUNT);
    let mut pending = FuturesUnordered::new();
    let mut to_open = (0..ACCOUNTS * SUBSCRIBERS_PER_ACCOUNT).map(|n| n % ACCOUNTS);
    loop {
        while pending.len() < CONNECTING {
            let Some(account) = to_open.next() else { break };
            let (addr, token) = (service.addr.clone(), accounts[account].0.clone());
            pending.push(async move { (account, subscriber(addr, token).await) });
        }
        let Some((account, (socket, first))) = pending.next().await else {
            break;
        };
        assert_eq!(first, 20, "subscriber of account {account}");
        subscribers.push((account, socket));
    }
    assert_eq!(subscribers.len(), 10_000);

    // One charge per account, over one member socket each.
    let background = auth.ids().encode(Kind::Background, "showroom");
    for (n, (member, photo)) in accounts.iter().enumerate() {
        let mut socket = open(&service.addr, member).await;
        let applied = run(
            &mut socket,
            "apply",
            "mutation($p: ID!, $b: ID!, $k: String!) { applyChanges(input: {photoIds: [$p], backgroundId: $b, idempotencyKey: $k}) { creditsCharged userErrors { code } } }",
            json!({"p": photo, "b": background, "k": format!("charge-{n:08}")}),
        )
        .await;
        assert_eq!(applied["applyChanges"]["creditsCharged"], 1, "{applied}");
    }

    // Every subscriber hears its account's new balance.
    let mut updates: FuturesUnordered<_> = subscribers
        .iter_mut()
        .map(|(_, socket)| async move { available(&receive(socket).await) })
        .collect();
    let mut heard = 0;
    while let Some(balance) = updates.next().await {
        assert_eq!(balance, 19);
        heard += 1;
    }
    assert_eq!(heard, 10_000);
}
