//! The HTTP side: one keep-alive HTTP/1 connection per client, a small pool for setup
//! and drivers, and the closed-loop load generator. Every response is read to the end
//! and parsed: a status other than 200, a body that is not JSON, or a body with an
//! `errors` key is a failure, whatever the status said.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use crate::{Result, bail};

/// One client's connection; it connects on first use and again after it broke.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid Host"),
            sender: None,
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request (a JSON body) and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&HeaderValue>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("connected above");
        if let Err(e) = sender.ready().await {
            self.sender = None;
            return Err(e.into());
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(bearer) = bearer {
            request = request.header(AUTHORIZATION, bearer.clone());
        }
        let request = request.body(Full::new(body))?;
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                Ok((status, body))
            }
            Err(e) => {
                self.sender = None;
                Err(e.into())
            }
        }
    }
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a valid header value")
}

/// The JSON body of a GraphQL request.
pub fn graphql_body(document: &str, operation: &str, variables: Value) -> Bytes {
    Bytes::from(serde_json::json!({"query": document, "operationName": operation, "variables": variables}).to_string())
}

/// Why a GraphQL answer is a failure, if it is: not 200, not JSON, or `errors`.
pub fn judge(status: StatusCode, body: &[u8]) -> std::result::Result<Value, String> {
    if status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", status.as_u16(), snippet(body)));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e}): {}", snippet(body)))?;
    if let Some(errors) = value.get("errors") {
        let first = errors
            .get(0)
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        return Err(format!("errors: {first}"));
    }
    Ok(value)
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

/// A few connections shared by many tasks (setup, drivers): a task takes one, sends,
/// and gives it back.
pub struct Pool {
    tx: mpsc::Sender<Conn>,
    rx: Mutex<mpsc::Receiver<Conn>>,
}

impl Pool {
    pub fn new(addr: SocketAddr, size: usize) -> Self {
        let (tx, rx) = mpsc::channel(size);
        for _ in 0..size {
            tx.try_send(Conn::new(addr)).expect("room for every connection");
        }
        Pool { tx, rx: Mutex::new(rx) }
    }

    /// Sends `body` to `POST /graphql` as `bearer`; the raw answer.
    pub async fn send(&self, bearer: &HeaderValue, body: Bytes) -> Result<(StatusCode, Bytes)> {
        self.send_timed(bearer, body).await.1
    }

    /// As [`Pool::send`], with the instant the request left (a connection was free).
    pub async fn send_timed(&self, bearer: &HeaderValue, body: Bytes) -> (Instant, Result<(StatusCode, Bytes)>) {
        let mut conn = self.rx.lock().await.recv().await.expect("the pool owns its sender");
        let sent = Instant::now();
        let result = conn.send(Method::POST, "/graphql", Some(bearer), body).await;
        self.tx.send(conn).await.expect("the pool owns its receiver");
        (sent, result)
    }

    /// Runs one GraphQL operation that must succeed; its answer.
    pub async fn graphql(
        &self,
        bearer: &HeaderValue,
        document: &str,
        operation: &str,
        variables: Value,
    ) -> Result<Value> {
        let (status, body) = self.send(bearer, graphql_body(document, operation, variables)).await?;
        match judge(status, &body) {
            Ok(value) => Ok(value),
            Err(e) => bail!("{operation}: {e}"),
        }
    }
}

/// How a load run is bounded: each client stops at the deadline or after
/// `max_requests` measured requests, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub connections: usize,
    /// Requests sent before the measurement starts (failures still count).
    pub warmup: Duration,
    pub duration: Duration,
    pub max_requests: u64,
}

/// What a good answer was worth.
pub enum Verdict {
    /// Done; `units` is what the scenario counts (a request, or photos charged).
    Done(u64),
    /// A business refusal (`userErrors`), with its code.
    Refused(String),
}

/// What the clients send and how an answer without `errors` is judged.
pub trait Workload: Send + Sync + 'static {
    /// The bearer and body of request `seq` of client `client`.
    fn request(&self, client: usize, seq: u64) -> (HeaderValue, Bytes);
    /// Judges a 200 JSON answer without `errors`.
    fn check(&self, answer: &Value) -> std::result::Result<Verdict, String>;
}

/// Latencies in microseconds.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// The counts of one run (or of several merged).
pub struct Tally {
    pub ok: u64,
    pub refused: u64,
    pub failed: u64,
    pub units: u64,
    pub refusals: BTreeMap<String, u64>,
    /// The first few distinct failure messages, with how often each came.
    pub failures: BTreeMap<String, u64>,
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            ok: 0,
            refused: 0,
            failed: 0,
            units: 0,
            refusals: BTreeMap::new(),
            failures: BTreeMap::new(),
            latency: histogram(),
        }
    }
}

impl Tally {
    pub fn fail(&mut self, message: String) {
        self.failed += 1;
        let message: String = message.chars().take(160).collect();
        if self.failures.len() < 8 || self.failures.contains_key(&message) {
            *self.failures.entry(message).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.failed += other.failed;
        self.units += other.units;
        for (code, n) in &other.refusals {
            *self.refusals.entry(code.clone()).or_default() += n;
        }
        for (message, n) in &other.failures {
            if self.failures.len() < 8 || self.failures.contains_key(message) {
                *self.failures.entry(message.clone()).or_default() += n;
            }
        }
        self.latency.add(&other.latency).expect("same histogram bounds");
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        self.latency.mean() / 1000.0
    }

    /// The failures as one line.
    pub fn failure_text(&self) -> String {
        self.failures
            .iter()
            .map(|(m, n)| format!("{n} × {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn refusal_text(&self) -> String {
        if self.refusals.is_empty() {
            return "none".into();
        }
        self.refusals
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One load run: its counts and how long its measured part lasted.
pub struct Run {
    pub tally: Tally,
    pub elapsed: Duration,
}

impl Run {
    /// Good answers (not refused) per second.
    pub fn per_second(&self) -> f64 {
        self.tally.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Units (e.g. charged photos) per second.
    pub fn units_per_second(&self) -> f64 {
        self.tally.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Drives `addr` with `spec.connections` closed-loop clients running `work`.
pub async fn load(addr: SocketAddr, spec: Spec, work: Arc<dyn Workload>) -> Result<Run> {
    let begin = Instant::now();
    let measure_from = begin + spec.warmup;
    let end = measure_from + spec.duration;
    let clients: Vec<_> = (0..spec.connections)
        .map(|client| {
            let work = work.clone();
            tokio::spawn(run_client(addr, client, spec.max_requests, measure_from, end, work))
        })
        .collect();
    let mut tally = Tally::default();
    let mut last = measure_from;
    for client in clients {
        let (t, finished) = client.await?;
        tally.merge(&t);
        last = last.max(finished);
    }
    Ok(Run {
        tally,
        elapsed: last.duration_since(measure_from),
    })
}

async fn run_client(
    addr: SocketAddr,
    client: usize,
    max_requests: u64,
    measure_from: Instant,
    end: Instant,
    work: Arc<dyn Workload>,
) -> (Tally, Instant) {
    let mut conn = Conn::new(addr);
    let mut tally = Tally::default();
    let mut last = measure_from;
    let mut measured = 0;
    let mut seq = 0;
    while measured < max_requests {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let (bearer, body) = work.request(client, seq);
        seq += 1;
        let answer = conn.send(Method::POST, "/graphql", Some(&bearer), body).await;
        let received = Instant::now();
        let transport_failed = answer.is_err();
        let verdict = match answer {
            Err(e) => Err(format!("transport: {e}")),
            Ok((status, body)) => judge(status, &body).and_then(|value| work.check(&value)),
        };
        let counted = sent >= measure_from;
        if counted {
            measured += 1;
            last = received;
        }
        match verdict {
            Err(message) => {
                tally.fail(message);
                if transport_failed {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            Ok(_) if !counted => {}
            Ok(Verdict::Done(units)) => {
                tally.ok += 1;
                tally.units += units;
                tally.latency.saturating_record(micros(received - sent));
            }
            Ok(Verdict::Refused(code)) => {
                tally.refused += 1;
                *tally.refusals.entry(code).or_default() += 1;
                tally.latency.saturating_record(micros(received - sent));
            }
        }
    }
    (tally, last)
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
