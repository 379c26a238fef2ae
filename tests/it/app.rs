//! Starting the service the one way `main` does (`App`): a port in use stops the start
//! before the database is touched, the configured limits and pool size are the ones
//! served, and `run_until` serves until its future resolves, then returns.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use studio_bff::app::{App, StartError};
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_support::{NOW, SECRET, TestApp, utc, ws};
use crate::common::TestDb;

/// `config` on `db`, signing with [`SECRET`], on a free loopback port.
fn on(db: &TestDb, config: Config) -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(db.url.as_str().into()),
        listen_database_url: db.listen_database_url(),
        jwt_secret: Some(SECRET.into()),
        ..config
    }
}

async fn start(db: &TestDb, config: Config) -> App {
    App::build_with(on(db, config), Clock::manual_at(utc(NOW)))
        .await
        .expect("the service starts")
}

#[tokio::test]
async fn a_port_in_use_stops_the_start_naming_the_address_before_the_database_is_touched() {
    let db = TestDb::sqlite().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();

    let refused = App::build(Config {
        addr,
        ..on(&db, Config::default())
    })
    .await;

    let error = refused.err().expect("the start is refused");
    assert!(matches!(error, StartError::Listen { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("cannot listen on {addr}: address in use"));
    let file = db._dir.as_ref().unwrap().path().join("test.sqlite");
    assert!(!file.exists(), "the database was opened before the port was bound");
}

#[tokio::test]
async fn a_smaller_configured_body_limit_refuses_a_body_the_default_accepts() {
    let (small_db, default_db) = (TestDb::sqlite().await, TestDb::sqlite().await);
    let small = TestApp::of(
        &start(
            &small_db,
            Config {
                max_body_bytes: 4096,
                ..Config::default()
            },
        )
        .await,
    );
    let default = TestApp::of(&start(&default_db, Config::default()).await);
    let padding = "#".repeat(8 * 1024);
    let body = json!({"query": format!("{{ viewer {{ role }} }}\n{padding}")});

    let (refused, answer) = small.post(Some(&small.ops()), body.clone()).await;
    let (accepted, _) = default.post(Some(&default.ops()), body).await;

    assert_eq!(refused, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["errors"][0]["message"], "The body is larger than 4096 bytes.");
    assert_eq!(accepted, StatusCode::OK);
}

#[tokio::test]
async fn a_smaller_configured_batch_cap_refuses_a_batch_the_default_accepts() {
    let (small_db, default_db) = (TestDb::sqlite().await, TestDb::sqlite().await);
    let small = TestApp::of(
        &start(
            &small_db,
            Config {
                max_batch_operations: 2,
                ..Config::default()
            },
        )
        .await,
    );
    let default = TestApp::of(&start(&default_db, Config::default()).await);
    let query = json!({"query": "{ viewer { role } }"});
    let batch = json!([query, query, query]);

    let (refused, answer) = small.post(Some(&small.ops()), batch.clone()).await;
    let (accepted, _) = default.post(Some(&default.ops()), batch).await;

    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert_eq!(answer["errors"][0]["message"], "A batch holds 1 to 2 operations.");
    assert_eq!(accepted, StatusCode::OK);
}

on_both_databases! {
    async fn the_pool_holds_the_configured_number_of_connections_or_the_backend_default(db) {
        let configured = start(&db, Config { database_pool_size: Some(3), ..Config::default() }).await;
        let default = start(&db, Config::default()).await;
        let size = |app: &App| {
            let db = app.ledger().db();
            match db.get_database_backend() {
                sea_orm::DbBackend::Sqlite => db.get_sqlite_connection_pool().options().get_max_connections(),
                _ => db.get_postgres_connection_pool().options().get_max_connections(),
            }
        };

        let expected_default = if db.url.starts_with("sqlite:") { 8 } else { 32 };
        assert_eq!((size(&configured), size(&default)), (3, expected_default));
    }
}

#[tokio::test]
async fn run_until_serves_until_the_future_resolves_then_returns_and_frees_the_port() {
    let db = TestDb::sqlite().await;
    let app = start(&db, Config::default()).await;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let ready = get(addr, "/readyz").await;
    stop.send(()).unwrap();
    let returned = tokio::time::timeout(Duration::from_secs(5), running).await;

    assert!(ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready"), "{ready}");
    returned
        .expect("returned within 5 s")
        .unwrap()
        .expect("served without error");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after run_until returned"
    );
}

#[tokio::test]
async fn stopping_closes_open_websockets_with_1001_on_both_protocols_and_returns_before_the_drain_ends() {
    let db = TestDb::sqlite().await;
    let app = start(&db, Config::default()).await;
    let addr = app.local_addr();
    let account = app
        .ledger()
        .create_account("A", entity::enums::PlanCode::Professional, 2, None)
        .await
        .unwrap();
    let token = TestApp::of(&app).member(account.id);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let mut sockets = Vec::new();
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut socket = ws::connect(addr, protocol).await;
        ws::initialise(&mut socket, &token).await;
        sockets.push(socket);
    }

    let stopping_at = std::time::Instant::now();
    stop.send(()).unwrap();

    for socket in &mut sockets {
        ws::assert_closed_with(socket, 1001, "The server is shutting down").await;
    }
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("returned within 5 s, before the 10 s drain")
        .unwrap()
        .expect("served without error");
    assert!(stopping_at.elapsed() < Duration::from_secs(5));
}

/// The whole answer to `GET path` on its own connection.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("a connection");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("an answer");
    answer
}
