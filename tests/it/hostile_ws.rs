//! Hostile frames on `/graphql/ws`, written byte by byte on a real loopback socket: a
//! frame announced and half sent, frames and messages over the 64 KiB cap, a message
//! fragmented and never finished, invalid UTF-8 in a text frame, binary and malformed
//! control frames, huge subscription documents, 10,000 subscribes in a row. Each is
//! closed or answered with the protocol's error within a bound, nothing panics, and a
//! fresh socket on the same server works afterwards. Independent of storage: SQLite.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::api_support::ws::{Server, connect, initialise, receive, send};
use crate::hostile::{BINARY, CONTINUATION, ServerFrame, TEXT, frame, frame_header, ws_closed, ws_open, ws_read};
use serde_json::{Value, json};
use studio_bff::config::Config;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

const MODERN: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";
const BALANCE: &str = "subscription { balanceChanged { available } }";
/// Longest the server may take to close a socket it must refuse, or to answer.
const PATIENCE: Duration = Duration::from_secs(5);

/// Panics anywhere in the process since the first call; a panic in a socket's task is
/// otherwise swallowed by the runtime.
fn panics() -> usize {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            COUNT.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
    COUNT.load(Ordering::SeqCst)
}

/// The shared WebSocket test server (one member account of 10 credits), with panics
/// counted from its start.
async fn server(config: Config) -> Server {
    panics();
    Server::with(config).await
}

/// A raw socket past `connection_init`, as the member.
async fn raw_member(server: &Server, protocol: &str) -> TcpStream {
    let mut stream = ws_open(server.addr, protocol).await;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", server.member())}});
    send_raw(&mut stream, &init).await;
    assert_eq!(message(&mut stream).await, json!({"type": "connection_ack"}));
    stream
}

/// A fresh socket on the same server runs a query and a subscription, and nothing
/// panicked: the hostile socket hurt no one else.
async fn assert_still_serving(server: &Server) {
    let mut socket = connect(server.addr, MODERN).await;
    initialise(&mut socket, &server.member()).await;
    send(
        &mut socket,
        json!({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { role } }"}}),
    )
    .await;
    let answer = receive(&mut socket).await;
    assert_eq!(answer["payload"]["data"]["viewer"]["role"], "MEMBER", "{answer}");
    send(
        &mut socket,
        json!({"id": "b", "type": "subscribe", "payload": {"query": BALANCE}}),
    )
    .await;
    let mut balance = receive(&mut socket).await;
    while balance["id"] != "b" {
        balance = receive(&mut socket).await;
    }
    assert_eq!(balance["type"], "next", "{balance}");
    assert_eq!(panics(), 0, "a panic in the process");
}

async fn send_raw(stream: &mut TcpStream, message: &Value) {
    stream
        .write_all(&frame(TEXT, true, message.to_string().as_bytes()))
        .await
        .expect("sent");
}

/// The next JSON message other than a keep-alive; fails after [`PATIENCE`].
async fn message(stream: &mut (impl AsyncRead + Unpin)) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_read(stream, left).await {
            Some(ServerFrame::Text(text)) => {
                let message: Value = serde_json::from_str(&text).expect("JSON");
                if !matches!(message["type"].as_str(), Some("ping" | "ka")) {
                    return message;
                }
            }
            Some(ServerFrame::Other(_)) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Waits for a keep-alive (`ping`, or `ka` on the older protocol).
async fn keep_alive(stream: &mut TcpStream) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_read(stream, left).await {
            Some(ServerFrame::Text(text)) if text.contains("\"ping\"") || text.contains("\"ka\"") => return,
            Some(ServerFrame::Text(_) | ServerFrame::Other(_)) => {}
            other => panic!("expected a keep-alive, got {other:?}"),
        }
    }
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": query}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_announced_and_half_sent_before_the_ack_is_closed_when_initialisation_is_due() {
    let server = server(Config {
        ws_init_timeout_ms: 500,
        ..Config::default()
    })
    .await;
    let mut stream = ws_open(server.addr, MODERN).await;
    let opened = Instant::now();

    stream
        .write_all(&frame_header(TEXT, true, 60 * 1024))
        .await
        .expect("sent");
    stream.write_all(&vec![b'x'; 30 * 1024]).await.expect("sent");

    assert_eq!(ws_closed(&mut stream, PATIENCE).await, Some(4408));
    assert!(opened.elapsed() < Duration::from_secs(3), "{:?}", opened.elapsed());
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_frame_after_the_ack_stalls_only_its_own_reading() {
    let server = server(Config {
        ws_keep_alive_ms: 200,
        ..Config::default()
    })
    .await;
    let mut stream = raw_member(&server, MODERN).await;
    send_raw(&mut stream, &subscribe("b", BALANCE)).await;
    assert_eq!(
        message(&mut stream).await["payload"]["data"]["balanceChanged"]["available"],
        10
    );

    stream
        .write_all(&frame_header(TEXT, true, 60 * 1024))
        .await
        .expect("sent");
    stream.write_all(&vec![b'x'; 30 * 1024]).await.expect("sent");

    // The socket still gets keep-alives and its subscription's results.
    keep_alive(&mut stream).await;
    server.app.charge_one(server.account, "half-sent").await;
    let next = message(&mut stream).await;
    assert_eq!(next["payload"]["data"]["balanceChanged"]["available"], 9, "{next}");
    drop(stream);
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_and_messages_over_the_64_kib_cap_close_the_socket_unread() {
    let server = server(Config::default()).await;
    let announcements = [64 * 1024 + 1, 1 << 30, u64::MAX >> 1];

    for length in announcements {
        let mut stream = raw_member(&server, MODERN).await;
        let started = Instant::now();
        stream.write_all(&frame_header(TEXT, true, length)).await.expect("sent");
        // Whatever follows is never read: the header alone is refused.
        let _ = stream.write_all(&vec![b'x'; 1024]).await;

        let code = ws_closed(&mut stream, PATIENCE).await;
        assert_eq!(code, Some(1009), "{length}: closed with {code:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{length}: {:?}",
            started.elapsed()
        );
    }

    // Fragments each under the cap, together over it.
    let mut stream = raw_member(&server, MODERN).await;
    let part = vec![b' '; 30 * 1024];
    let mut fragments = frame(TEXT, false, &part);
    fragments.extend(frame(CONTINUATION, false, &part));
    fragments.extend(frame(CONTINUATION, true, &part));
    let _ = stream.write_all(&fragments).await;
    let code = ws_closed(&mut stream, PATIENCE).await;
    assert_eq!(code, Some(1009), "fragments: closed with {code:?}");

    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_fragmented_and_never_finished_stalls_nothing_and_a_new_one_closes_it() {
    let server = server(Config {
        ws_keep_alive_ms: 200,
        ..Config::default()
    })
    .await;
    let mut stream = raw_member(&server, MODERN).await;
    let subscribe = subscribe("1", BALANCE).to_string();
    let (first, _) = subscribe.as_bytes().split_at(10);

    stream.write_all(&frame(TEXT, false, first)).await.expect("sent");
    keep_alive(&mut stream).await;
    // A new text frame while a fragmented message is open breaks the protocol.
    stream
        .write_all(&frame(TEXT, true, b"{\"type\":\"ping\"}"))
        .await
        .expect("sent");

    let code = ws_closed(&mut stream, PATIENCE).await;
    assert!(matches!(code, None | Some(1002)), "closed with {code:?}");
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_text_frame_closes_the_socket_on_both_protocols() {
    let server = server(Config::default()).await;
    let payloads: [&[u8]; 3] = [
        &[0xff, 0xfe, b'{'],
        b"{\"type\":\"ping\",\"payload\":{\"a\":\"\xc0\x80\"}}",
        b"{\"type\":\"ping\xed\xa0\x80\"}",
    ];

    for protocol in [MODERN, LEGACY] {
        for payload in payloads {
            let mut stream = raw_member(&server, protocol).await;

            stream.write_all(&frame(TEXT, true, payload)).await.expect("sent");

            let code = ws_closed(&mut stream, PATIENCE).await;
            assert!(matches!(code, None | Some(1007)), "{protocol}: closed with {code:?}");
        }
    }
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_malformed_control_frames_close_the_socket() {
    let server = server(Config::default()).await;

    for protocol in [MODERN, LEGACY] {
        let mut stream = raw_member(&server, protocol).await;
        stream
            .write_all(&frame(BINARY, true, b"{\"type\":\"ping\"}"))
            .await
            .expect("sent");
        assert_eq!(ws_closed(&mut stream, PATIENCE).await, Some(4400), "{protocol}");
    }
    let malformed: [(&str, Vec<u8>); 5] = [
        ("a ping over 125 bytes", frame(0x9, true, &[b'p'; 126])),
        ("a fragmented ping", frame(0x9, false, b"p")),
        ("a reserved opcode", frame(0x3, true, b"x")),
        (
            "a continuation with nothing to continue",
            frame(CONTINUATION, true, b"x"),
        ),
        ("an unmasked frame", {
            let mut unmasked = vec![0x81, 5];
            unmasked.extend_from_slice(b"hello");
            unmasked
        }),
    ];
    for (what, bytes) in malformed {
        let mut stream = raw_member(&server, MODERN).await;

        let _ = stream.write_all(&bytes).await;

        let code = ws_closed(&mut stream, PATIENCE).await;
        assert!(matches!(code, None | Some(1002)), "{what}: closed with {code:?}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_subscription_documents_get_an_error_and_the_socket_goes_on() {
    let server = server(Config::default()).await;
    let mut stream = raw_member(&server, MODERN).await;
    let aliases: String = (0..3_000)
        .map(|i| format!("a{i}: balanceChanged {{ available }} "))
        .collect();
    let mut bomb = String::from("subscription { ...F0 }");
    for level in 0..40 {
        bomb.push_str(&format!(
            " fragment F{level} on Subscription {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    bomb.push_str(" fragment F40 on Subscription { balanceChanged { available } }");
    let documents = [
        ("nesting", "{a".repeat(30_000)),
        (
            "aliases",
            format!("subscription {{ {aliases} }}")[..60_000].to_owned() + " }",
        ),
        ("fragment bomb", bomb),
        (
            "a string",
            format!(
                "subscription {{ balanceChanged(x: \"{}\") {{ available }} }}",
                "x".repeat(60_000)
            ),
        ),
    ];

    for (n, (what, document)) in documents.iter().enumerate() {
        let id = n.to_string();
        send_raw(&mut stream, &subscribe(&id, document)).await;

        let answer = message(&mut stream).await;
        assert_eq!(
            (answer["type"].as_str(), answer["id"].as_str()),
            (Some("error"), Some(id.as_str())),
            "{what}: {answer}"
        );
        assert_eq!(
            answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what}: {answer}"
        );
    }
    send_raw(&mut stream, &json!({"type": "ping"})).await;
    assert_eq!(message(&mut stream).await, json!({"type": "pong"}));

    // One byte over the cap: refused by the transport, unread.
    send_raw(&mut stream, &subscribe("big", &"{a".repeat(33_000))).await;
    let code = ws_closed(&mut stream, PATIENCE).await;
    assert_eq!(code, Some(1009), "closed with {code:?}");
    assert_still_serving(&server).await;
}

/// Sends `messages` in one write and reads what comes back until `done` says so or the
/// server closes; every message received, and the close code if it closed.
async fn flood(stream: TcpStream, messages: Vec<Value>, done: impl Fn(&[Value]) -> bool) -> (Vec<Value>, Option<u16>) {
    let (mut reader, mut writer) = stream.into_split();
    let mut bytes = Vec::new();
    for message in &messages {
        bytes.extend(frame(TEXT, true, message.to_string().as_bytes()));
    }
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&bytes).await;
        writer
    });
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let closed = loop {
        assert!(
            Instant::now() < deadline,
            "no end within 60 s: {} messages",
            received.len()
        );
        match ws_read(&mut reader, PATIENCE).await {
            Some(ServerFrame::Text(text)) => {
                received.push(serde_json::from_str(&text).expect("JSON"));
                if done(&received) {
                    break None;
                }
            }
            Some(ServerFrame::Close(code)) => break code,
            Some(ServerFrame::Ended) => break None,
            Some(ServerFrame::Other(_)) => {}
            None => panic!("nothing within {PATIENCE:?} after {} messages", received.len()),
        }
    };
    drop(writing.await);
    (received, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscribes_in_a_row_run_32_and_refuse_the_rest_one_by_one() {
    let server = server(Config::default()).await;
    let stream = raw_member(&server, MODERN).await;
    let subscribes: Vec<Value> = (0..10_000).map(|i| subscribe(&i.to_string(), BALANCE)).collect();
    let started = Instant::now();

    let (received, closed) = flood(stream, subscribes, |received| received.len() == 10_000).await;

    let count = |kind: &str| received.iter().filter(|m| m["type"] == kind).count();
    assert_eq!(closed, None);
    assert_eq!((count("next"), count("error")), (32, 9_968));
    assert!(
        received
            .iter()
            .filter(|m| m["type"] == "error")
            .all(|m| m["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS")
    );
    println!("10,000 subscribes answered in {:?}", started.elapsed());
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscribes_with_one_id_close_the_socket_at_the_second() {
    let server = server(Config::default()).await;

    for (protocol, start) in [(MODERN, "subscribe"), (LEGACY, "start")] {
        let stream = raw_member(&server, protocol).await;
        let subscribes = vec![json!({"id": "same", "type": start, "payload": {"query": BALANCE}}); 10_000];

        let (received, closed) = flood(stream, subscribes, |_| false).await;

        assert_eq!(closed, Some(4409), "{protocol}");
        assert!(received.len() <= 1, "{protocol}: {received:?}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pings_are_each_answered_and_the_socket_goes_on() {
    let server = server(Config::default()).await;
    let stream = raw_member(&server, MODERN).await;
    let pings = vec![json!({"type": "ping", "payload": {"n": "x".repeat(100)}}); 10_000];

    let (received, closed) = flood(stream, pings, |received| received.len() == 10_000).await;

    assert_eq!(closed, None);
    assert!(received.iter().all(|m| m["type"] == "pong"));
    assert_still_serving(&server).await;
}
