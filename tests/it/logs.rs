//! What the service logs: one line per request at INFO (operation, outcome, latency,
//! request id); logs on stderr and the banner on stdout, so `log_format = "json"`
//! gives a log collector nothing but JSON lines; and a migration that says nothing
//! when nothing is wrong.
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use entity::enums::PlanCode;
use serde_json::json;
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::api_support::TestApp;
use crate::common::TestDb;

/// The fields of a span or an event, as `name=value ` pairs.
#[derive(Default)]
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

/// Records every `answered` and `refused` event of the service, with the fields of the
/// span it was logged in.
struct Answers(Arc<Mutex<Vec<String>>>);

impl<S> tracing_subscriber::Layer<S> for Answers
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("studio_bff") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if !fields.0.starts_with("message=answered ") && !fields.0.starts_with("message=refused ") {
            return;
        }
        let span = ctx.event_span(event).map(|span| {
            let extensions = span.extensions();
            let own = extensions.get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
            format!("{}{{{}}} ", span.name(), own.trim_end())
        });
        let line = format!(
            "{} {}{}",
            event.metadata().level(),
            span.unwrap_or_default(),
            fields.0.trim_end()
        );
        self.0.lock().expect("not poisoned").push(line);
    }
}

#[tokio::test]
async fn each_request_is_one_info_line_with_its_operation_outcome_latency_and_request_id() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Answers(lines.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let account = app.ledger.create_account("A", PlanCode::Professional, 1).await.unwrap();
    let member = app.member(account.id);
    // Other tests of this binary may have met these callsites first, with no
    // subscriber: their interest was cached as "never" then.
    tracing::callsite::rebuild_interest_cache();

    app.op(&member, "HeaderBalanceInitial", json!({})).await;
    let basic_pack = app.gid(Kind::CreditPack, "basic-small");
    app.op(
        &member,
        "BuyPack",
        json!({"packId": basic_pack, "idempotencyKey": "k1"}),
    )
    .await;
    app.query(&member, "{ nope }", json!({})).await;
    let aliases: String = (0..20).map(|i| format!("a{i}: viewer {{ role }} ")).collect();
    app.query(&member, &format!("query Aliased {{ {aliases} }}"), json!({}))
        .await;
    let (status, _) = app.post(None, json!({"query": "{ viewer { role } }"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let lines = lines.lock().expect("not poisoned").clone();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let expected = [
        (r#"operation="HeaderBalanceInitial""#, r#"outcome="ok""#),
        (
            r#"operation="BuyPack""#,
            r#"outcome="user_error" codes="PACK_NOT_AVAILABLE""#,
        ),
        (r#"operation="anonymous""#, r#"outcome="error" codes="BAD_USER_INPUT""#),
        (r#"operation="Aliased""#, r#"outcome="error" codes="BAD_USER_INPUT""#),
    ];
    for (line, (operation, outcome)) in lines.iter().zip(expected) {
        assert!(line.starts_with("INFO graphql{"), "{line}");
        assert!(line.contains(operation), "{line}");
        assert!(line.contains("request_id="), "{line}");
        assert!(
            line.contains(&format!("message=answered {outcome} latency_ms=")),
            "{line}"
        );
    }
    // Refused before any operation ran: no operation, no request id, but the outcome.
    assert!(
        lines[4].ends_with(r#"message=refused outcome="error" codes="UNAUTHENTICATED" status=401"#),
        "{}",
        lines[4]
    );
}
