//! The one log line of each request the executor answers, at INFO inside the request's
//! `graphql` span (which names the operation and the request id): how it ended and how
//! long it took. The same outcome is counted in the metrics here.
//!
//! ```text
//! INFO graphql{otel.name="BuyPack" operation="BuyPack" request_id=5f0c… trace_id=4bf9…}: studio_bff::graphql::outcome: answered outcome="user_error" codes="PACK_NOT_AVAILABLE" latency_ms=4.1
//! ```
use std::collections::BTreeSet;
use std::time::Duration;

use async_graphql::{EnumType, Response, Value};

use crate::error::RefusalCode;
use crate::metrics::{Metrics, Outcome};

/// How a request ended: `ok`, `user_error` (a payload's `userErrors`, with their
/// codes) or `error` (top-level errors, with their `extensions.code`); logged, and
/// counted in `metrics` under `operation` ("" for an anonymous one).
pub(super) fn log(response: &Response, elapsed: Duration, metrics: &Metrics, operation: &str) {
    // Tenths of a millisecond: most reads answer in less than one.
    let latency_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    let errors: BTreeSet<&str> = response
        .errors
        .iter()
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(text)
                .unwrap_or("UNKNOWN")
        })
        .collect();
    let count = |outcome| metrics.request(Some(operation), outcome, Some(elapsed));
    if !errors.is_empty() {
        count(Outcome::error);
        let codes = errors.into_iter().collect::<Vec<_>>().join(",");
        tracing::info!(outcome = "error", codes, latency_ms, "answered");
        return;
    }
    let refused = user_error_codes(&response.data);
    if refused.is_empty() {
        count(Outcome::ok);
        tracing::info!(outcome = "ok", latency_ms, "answered");
    } else {
        count(Outcome::user_error);
        for code in &refused {
            metrics.user_error(counted_code(code));
        }
        let codes = refused.into_iter().collect::<Vec<_>>().join(",");
        tracing::info!(outcome = "user_error", codes, latency_ms, "answered");
    }
}

/// `code` when it is one of the service's refusal codes, else `UNKNOWN`: a client that
/// aliases another field as `code` must not add series.
fn counted_code(code: &str) -> &str {
    if RefusalCode::items().iter().any(|item| item.name == code) {
        code
    } else {
        "UNKNOWN"
    }
}

/// The codes of the `userErrors` of every payload in `data` (a mutation's top-level
/// fields); `UNKNOWN` for a refusal whose code the client did not select.
fn user_error_codes(data: &Value) -> BTreeSet<&str> {
    let Value::Object(fields) = data else {
        return BTreeSet::new();
    };
    fields
        .values()
        .filter_map(|payload| match payload {
            Value::Object(payload) => match payload.get("userErrors") {
                Some(Value::List(errors)) => Some(errors),
                _ => None,
            },
            _ => None,
        })
        .flatten()
        .map(|error| match error {
            Value::Object(error) => error.get("code").and_then(text).unwrap_or("UNKNOWN"),
            _ => "UNKNOWN",
        })
        .collect()
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Enum(name) => Some(name.as_str()),
        _ => None,
    }
}
