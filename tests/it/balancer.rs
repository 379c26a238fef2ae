//! Three instances behind one loopback balancer answer a script of contract operations
//! exactly as one instance alone does on a second, identical database (issue 16): the
//! same accounts, charges, replays, quotes, purchases, invoices, billing page and
//! pushes. The balancer hands each TCP connection to the next instance in turn, as an
//! L4 balancer would, so every request (sent on a connection of its own) and every
//! WebSocket lands on another instance than the one before. Every instance's manual
//! clock stands at [`NOW`], so nothing has to be normalised.
//!
//! On PostgreSQL a `HeaderBalanceLive` socket on one instance is pushed the changes
//! made through the others (NOTIFY). SQLite serves one instance per file
//! (`src/ledger/announce.rs`): its instances share the database but not their pushes,
//! so there the script runs without the socket.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use tokio::net::{TcpListener, TcpStream};

use crate::api_support::service::{Reply, post_graphql};
use crate::api_support::ws::{Socket, connect, initialise, receive, send, serve};
use crate::api_support::{TestApp, operation_document};
use crate::common::TestDb;

/// A round-robin balancer on a loopback port in front of `instances`.
struct Balancer {
    addr: SocketAddr,
    /// The instance each accepted connection went to, in the order accepted.
    served: Arc<Mutex<Vec<usize>>>,
}

impl Balancer {
    /// Accepts connections until the test ends, each piped to the next instance.
    async fn start(instances: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let served = Arc::new(Mutex::new(Vec::new()));
        let log = served.clone();
        tokio::spawn(async move {
            for turn in 0.. {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let instance = turn % instances.len();
                log.lock().expect("the log").push(instance);
                let to = instances[instance];
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(to).await {
                        // Either side closing ends the pipe; how is no concern here.
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Balancer { addr, served }
    }

    /// The instance each connection went to, in the order accepted.
    fn served(&self) -> Vec<usize> {
        self.served.lock().expect("the log").clone()
    }
}

/// Where the script sends its requests and opens its socket: the balancer, or the
/// lone instance.
struct Target<'a> {
    addr: SocketAddr,
    app: &'a TestApp,
}

impl Target<'_> {
    /// Runs contract operation `name` as `token`: its `data`, or the test fails.
    async fn op(&self, token: &str, name: &str, variables: Value) -> Value {
        let body = json!({"query": operation_document(name), "operationName": name, "variables": variables});
        match post_graphql(&self.addr.to_string(), Some(token), &body).await {
            Reply::Answered(status, answer) if status == 200 && answer.get("errors").is_none() => {
                answer["data"].clone()
            }
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A `HeaderBalanceLive` subscription of `account`'s member.
    async fn subscribe(&self, account: i64) -> Socket {
        let mut socket = connect(self.addr, "graphql-transport-ws").await;
        initialise(&mut socket, &self.app.member(account)).await;
        send(
            &mut socket,
            json!({"id": "1", "type": "subscribe", "payload": {
                "query": operation_document("HeaderBalanceLive"), "operationName": "HeaderBalanceLive"}}),
        )
        .await;
        socket
    }
}

/// The first push `socket` receives that shows `available`, skipping any before it
/// (keep-alive pings, or a change pushed in steps).
async fn push_showing(socket: &mut Socket, available: &Value) -> Value {
    loop {
        let pushed = receive(socket).await;
        if &pushed["payload"]["data"]["balanceChanged"]["available"] == available {
            return pushed;
        }
    }
}

/// Runs the script against `target`: every answer and push, in order. With `live`, a
/// `HeaderBalanceLive` socket is opened after the photos are registered and each
/// change's push is part of the answers.
async fn script(target: &Target<'_>, live: bool) -> Vec<Value> {
    let mut answers = Vec::new();
    let ops = target.app.ops();
    let created = target
        .op(
            &ops,
            "CreateAccount",
            json!({"name": "Autohaus Nord", "plan": "PROFESSIONAL", "listingSlots": 2}),
        )
        .await;
    let account_gid = created["createAccount"]["account"]["id"]
        .as_str()
        .expect("an account id")
        .to_owned();
    let account = target
        .app
        .auth
        .ids()
        .decode_i64(Kind::Account, &account_gid)
        .expect("an account's id");
    answers.push(created);
    let other = target
        .op(
            &ops,
            "CreateAccount",
            json!({"name": "Autohaus Süd", "plan": "BASIC", "listingSlots": 1}),
        )
        .await;
    answers.push(other);
    let photos = (0..4)
        .map(|i| json!({"listingRef": format!("listing-{i}"), "originalUrl": format!("https://img.example/{i}.jpg")}))
        .collect::<Vec<_>>();
    let registered = target
        .op(
            &ops,
            "RegisterPhotos",
            json!({"accountId": account_gid, "photos": photos}),
        )
        .await;
    let photo_ids: Vec<Value> = registered["registerPhotos"]["photos"]
        .as_array()
        .expect("photos")
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    answers.push(registered);

    let member = target.app.member(account);
    let mut socket = None;
    if live {
        let mut subscribed = target.subscribe(account).await;
        answers.push(receive(&mut subscribed).await);
        socket = Some(subscribed);
    }
    // The push that shows a change's balance, when live.
    let mut pushed = async |available: &Value| match socket.as_mut() {
        Some(socket) => Some(push_showing(socket, available).await),
        None => None,
    };
    let showroom = target.app.gid(Kind::Background, "showroom");
    let apply = json!({"input": {"photoIds": &photo_ids[..2], "backgroundId": showroom, "idempotencyKey": "apply-1"}});

    let quote = json!({"input": {"photoIds": &photo_ids[..2], "backgroundId": showroom}});
    answers.push(target.op(&member, "QuoteApply", quote).await);
    let applied = target.op(&member, "ApplyChanges", apply.clone()).await;
    answers.extend(pushed(&applied["applyChanges"]["balance"]["available"]).await);
    answers.push(applied);
    // The same key again, through the next instance: the first answer, charged once.
    answers.push(target.op(&member, "ApplyChanges", apply).await);

    let pack = target.app.gid(Kind::CreditPack, "pro-small");
    let bought = target
        .op(&member, "BuyPack", json!({"packId": pack, "idempotencyKey": "buy-1"}))
        .await;
    answers.extend(pushed(&bought["purchasePack"]["balance"]["available"]).await);
    answers.push(bought);
    let second = target
        .op(
            &member,
            "ApplyChanges",
            json!({"input": {"photoIds": &photo_ids[2..], "backgroundId": showroom, "idempotencyKey": "apply-2"}}),
        )
        .await;
    answers.extend(pushed(&second["applyChanges"]["balance"]["available"]).await);
    answers.push(second);

    let quote_all = json!({"input": {"photoIds": photo_ids, "backgroundId": showroom}});
    answers.push(target.op(&member, "QuoteApply", quote_all).await);
    let first_page = target.op(&member, "BillingPage", json!({"historyFirst": 2})).await;
    let after = first_page["viewer"]["account"]["history"]["pageInfo"]["endCursor"].clone();
    answers.push(first_page);
    answers.push(
        target
            .op(
                &member,
                "BillingPage",
                json!({"historyFirst": 2, "historyAfter": after}),
            )
            .await,
    );
    answers.push(target.op(&member, "HeaderBalanceInitial", json!({})).await);
    answers.push(target.op(&ops, "OpsAccount", json!({"id": account_gid})).await);
    answers
}

/// The balancer's connections in the script's order on PostgreSQL: the socket is the
/// fourth, on instance 0.
const SOCKET: usize = 3;
/// The requests that change the balance (the first apply, the purchase, the second
/// apply): each through another instance than the socket's.
const CHANGES: [usize; 3] = [5, 7, 8];
/// The first apply and its repeat, with the same key.
const APPLY_AND_REPEAT: (usize, usize) = (5, 6);

on_both_databases! {
    async fn three_instances_behind_a_balancer_answer_as_one_instance_alone(db) {
        // SQLite pushes stay in their process (one instance per file): the socket is
        // PostgreSQL's part of the script.
        let live = !db.url.starts_with("sqlite:");
        let instances = [
            TestApp::start(&db, Config::default()).await,
            TestApp::start(&db, Config::default()).await,
            TestApp::start(&db, Config::default()).await,
        ];
        let mut addrs = Vec::new();
        for app in &instances {
            addrs.push(serve(app).await);
        }
        if live {
            db.wait_for_listeners(3).await;
        }
        let balancer = Balancer::start(addrs).await;
        let alone_db = if live { TestDb::postgres().await } else { TestDb::sqlite().await };
        let alone = TestApp::start(&alone_db, Config::default()).await;

        let through_balancer = script(&Target { addr: balancer.addr, app: &instances[0] }, live).await;
        let through_one = script(&Target { addr: serve(&alone).await, app: &alone }, live).await;

        assert_eq!(through_balancer.len(), if live { 17 } else { 13 });
        for (i, (balanced, one)) in through_balancer.iter().zip(&through_one).enumerate() {
            assert_eq!(balanced, one, "answer {i} through the balancer differs from the lone instance's");
        }
        assert_eq!(through_balancer.len(), through_one.len());
        let served = balancer.served();
        let connections = if live { 14 } else { 13 };
        assert_eq!(served, (0..connections).map(|i| i % 3).collect::<Vec<_>>(), "round robin, a connection per request");
        let (apply, repeat) = if live { APPLY_AND_REPEAT } else { (APPLY_AND_REPEAT.0 - 1, APPLY_AND_REPEAT.1 - 1) };
        assert_ne!(served[apply], served[repeat], "the repeated key lands on another instance");
        if live {
            for change in CHANGES {
                assert_ne!(served[change], served[SOCKET], "a change through another instance than the subscriber's");
            }
        }
    }
}
