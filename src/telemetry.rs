//! Logs and traces. Logs go to stderr as text or JSON lines, written in batches by a
//! thread of their own so that no request waits on the terminal or the collector reading
//! it (none is dropped: a full buffer makes the writers wait, [`batches`]); with
//! `otlp_endpoint` set, the spans of GraphQL operations and write transactions also
//! leave over OTLP (http/protobuf) to a collector.
//!
//! A request's W3C `traceparent` (and `tracestate`) is the parent of its operation's
//! span ([`RemoteParent`], [`adopt`]), and the span's `trace_id` field carries the trace
//! into every log line written inside it, in both formats, with or without export.
use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

mod batches;

/// The span of one GraphQL operation (named after the operation for the collector).
pub const OPERATION_SPAN: &str = "graphql";
/// The span of one attempt at a write transaction, from BEGIN to COMMIT.
pub const WRITE_SPAN: &str = "write transaction";
/// The service's name as collectors show it.
const SERVICE_NAME: &str = "studio-bff";

/// The trace context a request came with, from its `traceparent` header.
#[derive(Clone)]
pub struct RemoteParent(opentelemetry::Context);

impl RemoteParent {
    /// The context of a valid `traceparent` in `headers`; none without one, or for one
    /// that does not parse (the operation then starts a trace of its own).
    pub fn from_headers(headers: &HeaderMap) -> Option<RemoteParent> {
        let context = TraceContextPropagator::new().extract(&Headers(headers));
        context
            .span()
            .span_context()
            .is_valid()
            .then_some(RemoteParent(context))
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Makes `span` (just created, with an empty `trace_id` field) a child of `parent`, and
/// records the trace it belongs to in `trace_id`: the exported trace's, else the
/// parent's, else none.
pub fn adopt(span: &Span, parent: Option<&RemoteParent>) {
    if let Some(parent) = parent {
        // Refused only when no OpenTelemetry layer is installed: nothing is exported.
        let _ = span.set_parent(parent.0.clone());
    }
    let exported = span.context().span().span_context().trace_id();
    let trace_id = Some(exported)
        .filter(|id| *id != TraceId::INVALID)
        .or_else(|| parent.map(|p| p.0.span().span_context().trace_id()));
    if let Some(trace_id) = trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// The layer that exports the spans of [`OPERATION_SPAN`] and [`WRITE_SPAN`] through
/// `provider`, with the INFO and higher events inside them; the scheduler's passes and
/// the rest stay in the logs.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_filter(filter_fn(|meta| {
            if meta.is_span() {
                meta.name() == OPERATION_SPAN || meta.name() == WRITE_SPAN
            } else {
                *meta.level() <= tracing::Level::INFO
            }
        }))
}

/// A provider that batches spans to the OTLP/HTTP endpoint `endpoint` (the collector's
/// base, such as `http://127.0.0.1:4318`; `/v1/traces` is added).
pub fn otlp_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|e| format!("cannot export traces to {endpoint}: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(SERVICE_NAME)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The installed logging and, with an OTLP endpoint, the exporter; flushes the spans
/// and the log lines still buffered when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Dropped after the provider's shutdown, so that its warning is written too.
    _logs: batches::Guard,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "traces still buffered could not be exported");
        }
    }
}

/// Installs the process's logging: `format` lines on stderr, filtered by `RUST_LOG`
/// (`info` when unset), and with `otlp_endpoint` the trace export. `colours` only for
/// a person at a terminal.
pub fn init(format: LogFormat, colours: bool, otlp_endpoint: Option<&str>) -> Result<Telemetry, String> {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let provider = otlp_endpoint.map(otlp_provider).transpose()?;
    let traces = provider.as_ref().map(layer);
    let (stderr, logs_guard) = batches::spawn(std::io::stderr(), batches::FULL)
        .map_err(|e| format!("cannot start the thread that writes the logs: {e}"))?;
    let logs = tracing_subscriber::fmt::layer().with_writer(stderr);
    let logs = match format {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Text => logs.with_ansi(colours).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .init();
    Ok(Telemetry {
        provider,
        _logs: logs_guard,
    })
}
