//! Traces: an operation's span is a child of the request's W3C `traceparent`, each write
//! transaction a child of its operation, and the log lines written inside carry the
//! trace id, as text and as JSON. The spans are read from the SDK's in-memory
//! exporter; tracing's subscriber is set for this thread only, on a current-thread
//! runtime. In a binary of its own, one test at a time: tracing caches per call site
//! whether any subscriber wants it, and the hundreds of tests of `tests/it` emitting
//! spans on other threads while a scoped subscriber comes and goes made that cache,
//! now and then, lose a span.
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use entity::enums::PlanCode;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::telemetry;
use tracing_subscriber::layer::SubscriberExt;

#[path = "support/api_support/mod.rs"]
mod api_support;
#[path = "support/common/mod.rs"]
mod common;

use crate::api_support::{TestApp, operation_document};
use crate::common::TestDb;

/// The tests of this binary, one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// Runs one `ApplyChanges` of a new account's photo with `traceparent`, on a fresh
/// SQLite database and a current-thread runtime, under whatever subscriber is set; the
/// database is closed when it returns.
fn apply_with_traceparent(traceparent: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = TestDb::sqlite().await;
        let app = TestApp::start(&db, Config::default()).await;
        let account = app
            .ledger
            .create_account("Autohaus Nord", PlanCode::Professional, 2, None)
            .await
            .unwrap();
        let photos = app.photos(account.id, 1).await;
        let body = json!({
            "query": operation_document("ApplyChanges"),
            "operationName": "ApplyChanges",
            "variables": {"input": {
                "photoIds": photos,
                "backgroundId": app.gid(Kind::Background, "showroom"),
                "idempotencyKey": "k1",
            }},
        });
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.member(account.id)))
            .header("traceparent", traceparent)
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body) = app.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // SQLite's worker threads hold the span of the statement they last ran until
        // their next command: closing the pool is that next command, so every span
        // has ended before the exporter is read.
        app.ledger.db().close_by_ref().await.unwrap();
        body
    })
}

#[test]
fn an_apply_is_a_child_of_its_traceparent_and_its_write_transaction_a_child_of_the_apply() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(telemetry::layer(&provider));
    let body = {
        let _scoped = tracing::subscriber::set_default(subscriber);
        apply_with_traceparent(&format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
    };
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();

    assert_eq!(body["data"]["applyChanges"]["creditsCharged"], 1, "{body}");
    let applies: Vec<_> = spans.iter().filter(|s| s.name == "ApplyChanges").collect();
    assert_eq!(applies.len(), 1, "{spans:#?}");
    let apply = applies[0];
    assert_eq!(apply.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(apply.parent_span_id.to_string(), PARENT_SPAN_ID);
    let writes: Vec<_> = spans
        .iter()
        .filter(|s| s.name == telemetry::WRITE_SPAN && s.parent_span_id == apply.span_context.span_id())
        .collect();
    // One write transaction; a busy SQLite may make it try again, each try a span.
    assert!(!writes.is_empty(), "{spans:#?}");
    assert!(writes.iter().all(|w| w.span_context.trace_id().to_string() == TRACE_ID));
    // The account and its photos were written outside any request: traces of their own.
    let others: Vec<_> = spans
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() != TRACE_ID)
        .collect();
    assert!(others.len() >= 2, "{spans:#?}");
    assert!(others.iter().all(|s| s.name == telemetry::WRITE_SPAN), "{spans:#?}");
}

/// A writer into a shared buffer, for a `fmt` layer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn the_log_lines_of_an_operation_carry_the_trace_id_as_text_and_as_json_without_export() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (text, json_logs) = (Captured::default(), Captured::default());
    let writer = |captured: &Captured| {
        let captured = captured.clone();
        move || captured.clone()
    };
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer(&text)),
        )
        .with(tracing_subscriber::fmt::layer().json().with_writer(writer(&json_logs)));
    {
        let _scoped = tracing::subscriber::set_default(subscriber);
        apply_with_traceparent(&format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"));
    }

    let text = text.text();
    let answered = text
        .lines()
        .find(|l| l.contains("answered"))
        .unwrap_or_else(|| panic!("no request line: {text}"));
    assert!(answered.contains(&format!("trace_id={TRACE_ID}")), "{answered}");
    let json_logs = json_logs.text();
    let answered: Value = json_logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["fields"]["message"] == "answered")
        .unwrap_or_else(|| panic!("no request line: {json_logs}"));
    assert_eq!(answered["span"]["trace_id"], TRACE_ID, "{answered}");
    assert_eq!(answered["span"]["operation"], "ApplyChanges", "{answered}");
}
