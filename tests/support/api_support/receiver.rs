//! A webhook receiver on loopback, as a receiving system would run one: it checks every
//! request's Standard Webhooks signature with the shared secret (a request whose
//! signature does not verify fails the test), keeps what arrived, and can be told to
//! be down, slow, to redirect or to hold requests open, for one account or all.
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One event as it arrived.
#[derive(Debug, Clone)]
pub struct Arrived {
    pub id: String,
    pub event_type: String,
    pub account_id: i64,
    pub body: Value,
}

/// How the receiver answers an account's events.
#[derive(Debug, Clone, Default)]
pub enum Mood {
    #[default]
    Up,
    /// 503 to everything.
    Down,
    /// Answers 200 after this long.
    Slow(Duration),
    /// 307 to this URL.
    Redirect(String),
    /// Never answers: the request stays open until its sender goes away.
    Hold,
}

#[derive(Default)]
struct Inner {
    arrived: Vec<Arrived>,
    /// The id of every request whose signature verified, answered or not, in order.
    received: Vec<String>,
    /// Signatures that did not verify: must stay empty.
    forged: Vec<String>,
    mood: Mood,
    /// Accounts the mood applies to; empty: every account.
    moody_accounts: BTreeSet<i64>,
    /// Requests being answered now, per account.
    in_flight: std::collections::BTreeMap<i64, usize>,
    /// Ids that arrived while another event of their account was in flight.
    overlapping: Vec<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    key: Arc<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// A receiver on a free loopback port checking signatures with `secret` (plain text
    /// used as its bytes, as the service does for a secret without `whsec_`).
    pub async fn start(secret: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let receiver = Receiver {
            url: format!("http://{}/hooks", listener.local_addr().expect("an address")),
            key: Arc::new(secret.as_bytes().to_vec()),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// Answers the events of `accounts` (all when empty) as `mood` says.
    pub fn set(&self, mood: Mood, accounts: &[i64]) {
        let mut inner = self.inner.lock().expect("the receiver");
        inner.mood = mood;
        inner.moody_accounts = accounts.iter().copied().collect();
    }

    /// What arrived and was answered 2xx, in order of arrival.
    pub fn delivered(&self) -> Vec<Arrived> {
        self.inner.lock().expect("the receiver").arrived.clone()
    }

    /// The id of every request whose signature verified, answered or not (held ones
    /// too), in order of arrival.
    pub fn received(&self) -> Vec<String> {
        self.inner.lock().expect("the receiver").received.clone()
    }

    /// Events that arrived while another of their account was being answered.
    pub fn overlapping(&self) -> Vec<String> {
        self.inner.lock().expect("the receiver").overlapping.clone()
    }

    /// Requests whose signature did not verify.
    pub fn forged(&self) -> Vec<String> {
        self.inner.lock().expect("the receiver").forged.clone()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (id, timestamp, signature) = (text("webhook-id"), text("webhook-timestamp"), text("webhook-signature"));
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut mac = Hmac::<Sha256>::new_from_slice(&receiver.key).expect("any key");
    mac.update(format!("{id}.{timestamp}.{body_text}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    // The header may carry several space-separated signatures; one must match.
    if !signature.split(' ').any(|s| s == expected) {
        receiver.inner.lock().expect("the receiver").forged.push(id);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let parsed: Value = serde_json::from_str(&body_text).expect("a JSON body");
    let account_id = parsed["data"]["account"]["id"].as_i64().expect("the account's id");
    let mood = {
        let mut inner = receiver.inner.lock().expect("the receiver");
        inner.received.push(id.clone());
        let in_flight = inner.in_flight.entry(account_id).or_default();
        *in_flight += 1;
        if *in_flight > 1 {
            inner.overlapping.push(id.clone());
        }
        let applies = inner.moody_accounts.is_empty() || inner.moody_accounts.contains(&account_id);
        if applies { inner.mood.clone() } else { Mood::Up }
    };
    let answer = answer(&receiver, mood, id, account_id, parsed).await;
    if let Some(n) = receiver
        .inner
        .lock()
        .expect("the receiver")
        .in_flight
        .get_mut(&account_id)
    {
        *n -= 1;
    }
    answer
}

/// The answer `mood` gives; a 2xx records the event.
async fn answer(receiver: &Receiver, mood: Mood, id: String, account_id: i64, parsed: Value) -> Response {
    match mood {
        Mood::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mood::Redirect(to) => return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response(),
        Mood::Slow(pause) => tokio::time::sleep(pause).await,
        Mood::Hold => std::future::pending().await,
        Mood::Up => {}
    }
    assert_eq!(parsed["id"], Value::String(id.clone()), "the body names the webhook-id");
    receiver.inner.lock().expect("the receiver").arrived.push(Arrived {
        id,
        event_type: parsed["type"].as_str().unwrap_or("").to_owned(),
        account_id,
        body: parsed,
    });
    StatusCode::NO_CONTENT.into_response()
}
