//! A WebSocket client of the real router on a loopback port: JSON messages out and
//! in, and how the server closed.
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use entity::enums::PlanCode;
use studio_bff::app::App;
use studio_bff::clock::Clock;
use studio_bff::config::Config;

use super::{NOW, SECRET, TestApp, utc};
use crate::common::TestDb;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for anything from the server.
const PATIENCE: Duration = Duration::from_secs(5);

/// Serves the router of a [`TestApp`] built by hand (one the test also drives without
/// a socket) on a free port until the test ends; its address. A whole service, started
/// the way `main` starts it, is a [`Server`].
pub async fn serve(app: &TestApp) -> SocketAddr {
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

/// The service started as `main` starts it ([`App::build_with`]), on a free port, over
/// a fresh SQLite database, its manual clock at [`NOW`], with one member account of 10
/// credits; served until the test ends.
pub struct Server {
    pub app: TestApp,
    pub addr: SocketAddr,
    pub account: i64,
    _db: TestDb,
}

impl Server {
    pub async fn start() -> Server {
        Self::with(Config::default()).await
    }

    /// The service with `config`'s settings (limits, say); its database, secret and
    /// address are the test's.
    pub async fn with(config: Config) -> Server {
        let db = TestDb::sqlite().await;
        let config = Config {
            addr: "127.0.0.1:0".parse().expect("an address"),
            database_url: Some(db.url.as_str().into()),
            jwt_secret: Some(SECRET.into()),
            ..config
        };
        let started = App::build_with(config, Clock::manual_at(utc(NOW)))
            .await
            .expect("the service starts");
        let app = TestApp::of(&started);
        let addr = started.local_addr();
        tokio::spawn(started.run_until(std::future::pending()));
        let account = app
            .ledger
            .create_account("A", PlanCode::Professional, 2, None)
            .await
            .expect("an account")
            .id;
        Server {
            app,
            addr,
            account,
            _db: db,
        }
    }

    /// A token of the account's member.
    pub fn member(&self) -> String {
        self.app.member(self.account)
    }

    /// A socket past `connection_init`, as the account's member.
    pub async fn member_socket(&self, protocol: &str) -> Socket {
        let mut socket = connect(self.addr, protocol).await;
        initialise(&mut socket, &self.member()).await;
        socket
    }
}

/// A WebSocket to `/graphql/ws` offering `protocol`.
pub async fn connect(addr: SocketAddr, protocol: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().expect("a header"));
    tokio_tungstenite::connect_async(request).await.expect("a WebSocket").0
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

/// Sends `connection_init` with `token` and expects the ack.
pub async fn initialise(socket: &mut Socket, token: &str) {
    send(
        socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(receive(socket).await, json!({"type": "connection_ack"}));
}

/// The next JSON message; fails after five seconds or on a close.
pub async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed while a message was expected: {frame:?}"),
            _ => {}
        }
    }
}

/// Waits for the server to close the socket and checks its code and reason, and that
/// no message came before the close.
pub async fn assert_closed_with(socket: &mut Socket, code: u16, reason: &str) {
    let mut messages = Vec::new();
    let frame = loop {
        let next = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the server closes within 5 s");
        match next {
            Some(Ok(Message::Text(text))) => messages.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame with {code}, got {other:?}"),
        }
    };
    let frame = frame.unwrap_or_else(|| panic!("expected a close frame with {code}, got one without a code"));
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str(), messages),
        (code, reason, Vec::<String>::new())
    );
}
