//! Database faults (issue 6, part 2).
//!
//! - PostgreSQL stopped during a load of applies and started again: the service stays
//!   up, `/readyz` says not ready and then ready, a request the outage breaks fails
//!   with `UNAVAILABLE` and `retryable`, never half a batch, retrying it with its
//!   idempotency key acts once, and a subscriber's balance is right afterwards. This
//!   test runs a PostgreSQL cluster of its own (initdb in a temporary folder, on a free
//!   port) so that stopping it disturbs no other test; it runs in the PostgreSQL pass.
//! - A slow transaction holding one account (a row lock on PostgreSQL, the write lock
//!   on SQLite) while that account's requests pile up: they take only their share of
//!   the pool, and another account is still served.
#[path = "support/api_support/mod.rs"]
mod api_support;
#[path = "support/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use api_support::ws::{initialise, receive, send, serve};
use api_support::{TestApp, operation_document};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestDb;
use entity::enums::PlanCode;
use sea_orm::{ConnectionTrait, Database, DbBackend, EntityTrait, Statement, TransactionTrait};
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;

/// Photos per apply: a batch that must be charged whole or not at all.
const BATCH: usize = 3;
/// Most applies the outage test sends.
const APPLIES: usize = 400;
/// Concurrent clients of the outage test.
const CLIENTS: usize = 8;
/// How long PostgreSQL stays down: longer than the pool's 10 s acquire timeout, so
/// requests sent during the outage fail rather than wait it out.
const OUTAGE: Duration = Duration::from_secs(12);

/// A PostgreSQL cluster in a temporary folder, stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Initialises a cluster (trust authentication, user `postgres`) and starts it.
    fn start() -> Cluster {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        if running_as_root() {
            // PostgreSQL refuses to run as root; its own user owns the folder.
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        run(as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        cluster.up();
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let socket_dir = self.data.parent().expect("the cluster's folder");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            socket_dir.display()
        );
        run(as_postgres(&self.bin.join("pg_ctl"))
            .args(["-w", "-l"])
            .arg(self.data.parent().expect("the cluster's folder").join("log"))
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "start"]));
    }

    /// A fast shutdown: sessions are ended, as when an operator stops the server.
    fn down(&self) {
        run(as_postgres(&self.bin.join("pg_ctl"))
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .arg("stop"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .output();
    }
}

/// The folder of the newest installed PostgreSQL's programs.
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(root)
        .expect("PostgreSQL installed under /usr/lib/postgresql")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let newest = versions.last().expect("a PostgreSQL version");
    root.join(newest.to_string()).join("bin")
}

fn running_as_root() -> bool {
    let uid = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&uid.stdout).trim() == "0"
}

/// `program` run as the `postgres` user when the test runs as root.
fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// How one apply ended, as its client saw it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The payload, less the balance.
    Charged(Value),
    Unavailable,
}

async fn get(app: &TestApp, path: &str) -> StatusCode {
    app.send(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .0
}

/// Sends the apply of batch `n` (photos `n * BATCH ..`) with key `apply-n`.
async fn apply(app: &TestApp, token: &str, photos: &[String], n: usize) -> Outcome {
    let batch = &photos[n * BATCH..(n + 1) * BATCH];
    let body = app
        .op_response(
            token,
            "ApplyChanges",
            json!({"input": {
                "photoIds": batch,
                "backgroundId": app.gid(Kind::Background, "showroom"),
                "idempotencyKey": format!("apply-{n}"),
            }}),
        )
        .await;
    if body.get("errors").is_none() {
        let mut payload = body["data"]["applyChanges"].clone();
        assert_eq!(payload["userErrors"], json!([]), "apply {n}: {body}");
        assert_eq!(payload["creditsCharged"], BATCH, "apply {n}: {body}");
        // A replay answers what the apply did, and the balance as it is now.
        payload.as_object_mut().map(|p| p.remove("balance"));
        return Outcome::Charged(payload);
    }
    // The only failure allowed: the database is unavailable, say so, and nothing else.
    // The apply may have committed before its payload's fields failed to load: the
    // client cannot tell, and retries with the key.
    for error in body["errors"].as_array().expect("errors") {
        assert_eq!(error["extensions"]["code"], "UNAVAILABLE", "apply {n}: {body}");
        assert_eq!(error["extensions"]["retryable"], true, "{body}");
        assert!(error["extensions"]["requestId"].is_string(), "{body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("The database is unavailable; try again shortly."),
            "{body}"
        );
        for internal in ["sqlx", "SELECT", "INSERT", "connection", "Error"] {
            assert!(!message.contains(internal), "internal text in {body}");
        }
    }
    let charged = &body["data"]["applyChanges"]["creditsCharged"];
    assert!(charged.is_null() || *charged == BATCH, "half a batch in {body}");
    Outcome::Unavailable
}

/// Waits up to `within` for `/readyz` to answer `status`; how long it took.
async fn readyz_becomes(app: &TestApp, status: StatusCode, within: Duration) -> Duration {
    let start = Instant::now();
    while get(app, "/readyz").await != status {
        assert!(
            start.elapsed() < within,
            "/readyz did not answer {status} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set TEST_DATABASE_URL to run it on PostgreSQL")]
async fn postgres_stopped_during_load_then_started_loses_nothing_and_charges_nothing_twice() {
    let cluster = Cluster::start();
    let db = TestDb {
        url: cluster.url(),
        _dir: None,
    };
    let app = Arc::new(TestApp::start(&db, Config::default()).await);
    // Professional, 400 slots: 2,000 monthly credits, more than the applies can spend.
    let account = app
        .ledger
        .create_account("Autohaus Nord", PlanCode::Professional, 400, None)
        .await
        .expect("an account");
    let token = app.member(account.id);
    let mut photos = Vec::new();
    for _ in 0..BATCH {
        photos.extend(app.photos(account.id, APPLIES).await);
    }
    let photos = Arc::new(photos);
    let mut header = api_support::ws::connect(serve(&app).await, "graphql-transport-ws").await;
    initialise(&mut header, &token).await;
    send(
        &mut header,
        json!({"id": "1", "type": "subscribe", "payload": {
        "query": operation_document("HeaderBalanceLive"), "operationName": "HeaderBalanceLive"}}),
    )
    .await;
    assert_eq!(
        receive(&mut header).await["payload"]["data"]["balanceChanged"]["available"],
        2000
    );

    // The load: CLIENTS clients sending applies of fresh photos until told to stop.
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (app, token, photos, next, stop) =
                (app.clone(), token.clone(), photos.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= APPLIES {
                        break;
                    }
                    outcomes.push((n, apply(&app, &token, &photos, n).await));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.down();
    let stopped = Instant::now();
    let not_ready_after = readyz_becomes(&app, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(3)).await;
    assert_eq!(get(&app, "/healthz").await, StatusCode::OK, "the service stays up");
    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    cluster.up();
    let ready_after = readyz_becomes(&app, StatusCode::OK, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.extend(client.await.expect("a client"));
    }

    let failed: Vec<usize> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Unavailable)
        .map(|(n, _)| *n)
        .collect();
    let charged = outcomes.len() - failed.len();
    assert!(!failed.is_empty(), "the outage failed no request");
    assert!(charged > failed.len(), "too few applies succeeded: {charged}");

    // Retrying each failed apply with its key acts once; retrying a charged one
    // answers exactly as the first time.
    for &n in &failed {
        let retried = apply(&app, &token, &photos, n).await;
        assert!(
            matches!(retried, Outcome::Charged(_)),
            "retry of apply {n}: {retried:?}"
        );
        assert_eq!(
            apply(&app, &token, &photos, n).await,
            retried,
            "second retry of apply {n}"
        );
    }
    for (n, first) in outcomes.iter().filter(|(_, o)| *o != Outcome::Unavailable).take(20) {
        assert_eq!(&apply(&app, &token, &photos, *n).await, first, "replay of apply {n}");
    }

    // Every batch sent is charged whole, exactly once: one edit per photo of each
    // batch, and the balance down by exactly their number.
    let sent = outcomes.len();
    let edits = entity::edit::Entity::find()
        .all(app.ledger.db())
        .await
        .expect("the edits");
    let photo_ids: Vec<String> = edits.iter().map(|e| app.gid(Kind::Photo, e.photo_id)).collect();
    let mut unique = photo_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), photo_ids.len(), "a photo was charged twice");
    let expected: Vec<String> = {
        let mut batches: Vec<String> = photos[..sent * BATCH].to_vec();
        batches.sort();
        batches
    };
    assert_eq!(unique, expected, "each batch sent is charged whole");
    let available = 2000 - (sent * BATCH) as i64;
    let initial = app.op(&token, "HeaderBalanceInitial", json!({})).await;
    assert_eq!(initial["viewer"]["account"]["balance"]["available"], available);

    // The subscriber's last push is the balance now (keep-alive pings aside).
    let mut last = None;
    while let Ok(message) = tokio::time::timeout(Duration::from_secs(2), receive(&mut header)).await {
        if message["type"] == "next" {
            last = Some(message["payload"]["data"]["balanceChanged"]["available"].clone());
        }
    }
    assert_eq!(
        last,
        Some(json!(available)),
        "the header shows the balance after the outage"
    );
    println!(
        "outage: {sent} applies sent, {charged} charged during load, {} failed UNAVAILABLE and charged once on retry; \
         /readyz not ready {not_ready_after:?} after the stop, ready {ready_after:?} after the start",
        failed.len()
    );
}

/// What holds one account's requests: an outside transaction that locks the account's
/// row (PostgreSQL) or the whole database for writing (SQLite); released when dropped.
async fn hold_account(db: &TestDb, account_id: i64) -> sea_orm::DatabaseTransaction {
    let outside = Database::connect(&db.url).await.expect("an outside connection");
    if outside.get_database_backend() == DbBackend::Postgres {
        let txn = outside.begin().await.expect("a transaction");
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
            [account_id.into()],
        ))
        .await
        .expect("the row lock");
        txn
    } else {
        studio_bff::db::begin_write(&outside).await.expect("the write lock")
    }
}

on_both_databases! {
    async fn an_account_held_by_a_slow_transaction_takes_its_share_of_the_pool_and_no_more(db) {
        let app = Arc::new(TestApp::start(&db, Config::default()).await);
        let held = app.ledger.create_account("Held", PlanCode::Professional, 100, None).await.unwrap();
        let other = app.ledger.create_account("Other", PlanCode::Professional, 2, None).await.unwrap();
        let held_token = app.member(held.id);
        let photos = Arc::new(app.photos(held.id, 100 * BATCH).await);
        let other_photos = app.photos(other.id, 1).await;
        let postgres = app.ledger.db().get_database_backend() == DbBackend::Postgres;

        let slow = hold_account(&db, held.id).await;
        // Three times the pool's size (32 on PostgreSQL, 8 on SQLite) of the held
        // account's applies, all waiting on the lock.
        let piled: Vec<_> = (0..if postgres { 96 } else { 24 })
            .map(|n| {
                let (app, token, photos) = (app.clone(), held_token.clone(), photos.clone());
                tokio::spawn(async move { apply(&app, &token, &photos, n).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let start = Instant::now();
        let balance = app.op(&app.member(other.id), "HeaderBalanceInitial", json!({})).await;
        let read_in = start.elapsed();
        assert_eq!(balance["viewer"]["account"]["balance"]["available"], 10);
        assert!(read_in < Duration::from_secs(2), "the other account's read waited {read_in:?}");
        let mut served = format!("the other account's read in {read_in:?}");
        if postgres {
            // Writes of another account are served too (SQLite has one writer).
            let start = Instant::now();
            let applied = app.op(&app.member(other.id), "ApplyChanges", json!({"input": {
                "photoIds": other_photos,
                "backgroundId": app.gid(Kind::Background, "showroom"),
                "idempotencyKey": "other",
            }})).await;
            assert_eq!(applied["applyChanges"]["creditsCharged"], 1);
            assert!(start.elapsed() < Duration::from_secs(2), "the other account's apply waited {:?}", start.elapsed());
            served += &format!(", its apply in {:?}", start.elapsed());
        }

        drop(slow);
        for applied in piled {
            assert!(matches!(applied.await.expect("an apply"), Outcome::Charged(_)));
        }
        let after = app.op(&held_token, "HeaderBalanceInitial", json!({})).await;
        let expected = 500 - if postgres { 96 * BATCH } else { 24 * BATCH } as i64;
        assert_eq!(after["viewer"]["account"]["balance"]["available"], expected);
        println!("slow transaction ({}): {} applies of the held account waiting; {served}",
            if postgres { "PostgreSQL" } else { "SQLite" }, if postgres { 96 } else { 24 });
    }
}
