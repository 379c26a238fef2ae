//! What `GET /metrics` shows, in Prometheus text: one [`Metrics`] per service instance,
//! each with a registry of its own, so that several instances in one process (the
//! tests) keep their own counts. The code that sees an event records it here: the
//! executor's outcome of each request, the ledger's commit of what it wrote, the live
//! hub's subscribers, the WebSocket handler's sockets, the listener, the scheduler.
//! The pool's connections are read when scraped.
//!
//! Labels take a few known values only, so that no client can grow the series: an
//! operation is named only when it is one of the contract's ([`OPERATIONS`]), else
//! `other`; user-error codes are the service's own.
use std::sync::Arc;
use std::time::Duration;

use entity::enums::{Bucket, EntryKind};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use sea_orm::{DatabaseConnection, DbBackend};

/// The media type of [`Metrics::render`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The operation names of the contract (`contract/operations/`, and those of the
/// contract's `next/` the service grows into): the only names a series carries.
pub const OPERATIONS: &[&str] = &[
    "AddLogo",
    "ApplyChanges",
    "BillingPage",
    "BuyPack",
    "ClaimRenderJobs",
    "CompleteRender",
    "CreateAccount",
    "FailRender",
    "FailedWebhooks",
    "HeaderBalanceInitial",
    "HeaderBalanceLive",
    "OpenReports",
    "OpsAccount",
    "OpsAccountByExternalId",
    "PhotoHistory",
    "QuoteApply",
    "RedeliverWebhook",
    "RegisterPhotos",
    "ReportFaultyPhoto",
    "ResolveReport",
    "RevertPhotos",
    "SetClock",
    "StudioEditsLive",
    "StudioPhotos",
    "UpdateSubscription",
    "VoidInvoice",
];

/// The operation label of an ad-hoc, anonymous or unknown operation.
pub const OTHER_OPERATION: &str = "other";
/// The operation label of a request refused before any operation was read.
pub const NO_OPERATION: &str = "none";

/// How a GraphQL request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    /// Answered without errors.
    ok,
    /// A payload's `userErrors`: a business refusal.
    user_error,
    /// Top-level errors.
    error,
    /// Refused before any operation ran (no token, not JSON, too large).
    refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CreditLabels {
    movement: &'static str,
    bucket: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RenderLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PassLabels {
    outcome: &'static str,
}

/// The series of one service instance; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram>,
    user_errors: Family<CodeLabel, Counter>,
    credits: Family<CreditLabels, Counter>,
    subscribers: Gauge,
    sockets: Gauge,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    acquire: Histogram,
    listener_reconnects: Counter,
    scheduler_passes: Family<PassLabels, Counter>,
    scheduler_account_failures: Counter,
    render_jobs_queued: Counter,
    render_jobs_leased: Counter,
    render_jobs_finished: Family<RenderLabels, Counter>,
    render_job_age: Histogram,
    webhook_deliveries: Family<PassLabels, Counter>,
    webhook_backlog: Gauge,
    webhook_oldest_pending: Gauge,
    /// Read at each scrape for the pool's gauges.
    db: DatabaseConnection,
}

/// Seconds, from 1 ms to about 16 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// A fresh registry whose pool gauges read `db`'s pool.
    pub fn new(db: DatabaseConnection) -> Self {
        let mut registry = Registry::with_prefix("studio");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests over HTTP by operation (a contract operation's name, else other; none when refused before one was read) and outcome (ok, user_error, error, refused)",
            requests.clone(),
        );
        let latency = Family::<OperationLabel, Histogram>::new_with_constructor(latency_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "graphql_request_duration",
            "Time the executor took per GraphQL request, from the document's check to the answer, by operation",
            Unit::Seconds,
            latency.clone(),
        );
        let user_errors = Family::<CodeLabel, Counter>::default();
        registry.register(
            "user_errors",
            "Business refusals (userErrors) answered, by code; a request refused for two codes counts once for each",
            user_errors.clone(),
        );
        let credits = Family::<CreditLabels, Counter>::default();
        registry.register(
            "credits",
            "Credits moved by committed ledger entries, by movement (granted, charged, refunded, expired, adjusted) and bucket (launch_promotion, monthly, purchased)",
            credits.clone(),
        );
        let subscribers = Gauge::default();
        registry.register(
            "live_subscribers",
            "balanceChanged and editChanged subscriptions this instance serves now",
            subscribers.clone(),
        );
        let sockets = Gauge::default();
        registry.register("websockets_open", "GraphQL WebSockets open now", sockets.clone());
        let pool_in_use = Gauge::default();
        registry.register(
            "db_pool_connections_in_use",
            "Database pool connections lent out now",
            pool_in_use.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_connections_idle",
            "Database pool connections open and idle now",
            pool_idle.clone(),
        );
        let acquire = latency_buckets();
        registry.register_with_unit(
            "db_write_acquire",
            "Wait to begin a write transaction: a pooled connection and, on SQLite, the write lock",
            Unit::Seconds,
            acquire.clone(),
        );
        let listener_reconnects = Counter::default();
        registry.register(
            "live_listener_reconnects",
            "Times the PostgreSQL LISTEN connection was opened again after it was lost or could not be opened",
            listener_reconnects.clone(),
        );
        let scheduler_passes = Family::<PassLabels, Counter>::default();
        registry.register(
            "scheduler_passes",
            "Scheduler passes over due expiries and resets, by outcome (ok; accounts_failed: some accounts could not catch up; failed: the pass stopped)",
            scheduler_passes.clone(),
        );
        let scheduler_account_failures = Counter::default();
        registry.register(
            "scheduler_account_failures",
            "Accounts whose catch-up failed in a scheduler pass (each is tried again in the next)",
            scheduler_account_failures.clone(),
        );
        let render_jobs_queued = Counter::default();
        registry.register(
            "render_jobs_queued",
            "Render jobs queued, one per charged edit",
            render_jobs_queued.clone(),
        );
        let render_jobs_leased = Counter::default();
        registry.register(
            "render_jobs_leased",
            "Render jobs leased to a claimant (a job whose lease ran out counts again when claimed again)",
            render_jobs_leased.clone(),
        );
        let render_jobs_finished = Family::<RenderLabels, Counter>::default();
        registry.register(
            "render_jobs_finished",
            "Render jobs finished, by outcome (ready, failed, timed_out); refunds are credits{movement=\"refunded\"}",
            render_jobs_finished.clone(),
        );
        // From 1 s to about 9 h.
        let render_job_age = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        registry.register_with_unit(
            "render_job_age",
            "Time a render job spent in the queue, from its edit's charge to its result",
            Unit::Seconds,
            render_job_age.clone(),
        );
        let webhook_deliveries = Family::<PassLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Attempts to deliver an event to webhook_url, by outcome (delivered; retry: will be sent again; failed: given up after webhook_retry_hours)",
            webhook_deliveries.clone(),
        );
        let webhook_backlog = Gauge::default();
        registry.register(
            "webhook_backlog",
            "Events in the outbox not yet delivered (PENDING)",
            webhook_backlog.clone(),
        );
        let webhook_oldest_pending = Gauge::default();
        registry.register_with_unit(
            "webhook_oldest_pending_age",
            "Age of the oldest PENDING event, 0 when none waits",
            Unit::Seconds,
            webhook_oldest_pending.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            requests,
            latency,
            user_errors,
            credits,
            subscribers,
            sockets,
            pool_in_use,
            pool_idle,
            acquire,
            listener_reconnects,
            scheduler_passes,
            scheduler_account_failures,
            render_jobs_queued,
            render_jobs_leased,
            render_jobs_finished,
            render_job_age,
            webhook_deliveries,
            webhook_backlog,
            webhook_oldest_pending,
            db,
        }))
    }

    /// One GraphQL request answered by the executor, or refused before it.
    pub fn request(&self, operation: Option<&str>, outcome: Outcome, elapsed: Option<Duration>) {
        let operation = operation_label(operation);
        self.0
            .requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        if let Some(elapsed) = elapsed {
            self.0
                .latency
                .get_or_create(&OperationLabel { operation })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// A business refusal answered with `code` (one of the service's own codes).
    pub fn user_error(&self, code: &str) {
        self.0
            .user_errors
            .get_or_create(&CodeLabel { code: code.to_owned() })
            .inc();
    }

    /// A committed ledger entry of `kind` that moved `amount` credits of `bucket`.
    pub fn credits(&self, kind: EntryKind, bucket: Bucket, amount: i32) {
        let movement = match kind {
            EntryKind::Grant => "granted",
            EntryKind::Charge => "charged",
            EntryKind::Refund => "refunded",
            EntryKind::Expiry => "expired",
            EntryKind::Adjustment => "adjusted",
        };
        let bucket = match bucket {
            Bucket::LaunchPromotion => "launch_promotion",
            Bucket::Monthly => "monthly",
            Bucket::Purchased => "purchased",
        };
        self.0
            .credits
            .get_or_create(&CreditLabels { movement, bucket })
            .inc_by(u64::from(amount.unsigned_abs()));
    }

    /// Counts a subscriber for as long as the guard lives.
    pub fn subscriber(&self) -> Open {
        Open::new(&self.0.subscribers)
    }

    /// Counts an open WebSocket for as long as the guard lives.
    pub fn socket(&self) -> Open {
        Open::new(&self.0.sockets)
    }

    /// How long beginning a write transaction took.
    pub fn write_acquired(&self, waited: Duration) {
        self.0.acquire.observe(waited.as_secs_f64());
    }

    /// The LISTEN connection was opened again.
    pub fn listener_reconnected(&self) {
        self.0.listener_reconnects.inc();
    }

    /// A scheduler pass ended: `Some(n)` when it went through with `n` accounts that
    /// could not catch up, `None` when it stopped.
    pub fn scheduler_pass(&self, failed_accounts: Option<usize>) {
        let outcome = match failed_accounts {
            None => "failed",
            Some(0) => "ok",
            Some(n) => {
                self.0
                    .scheduler_account_failures
                    .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
                "accounts_failed"
            }
        };
        self.0.scheduler_passes.get_or_create(&PassLabels { outcome }).inc();
    }

    /// Render jobs queued by a committed apply.
    pub fn render_jobs_queued(&self, jobs: usize) {
        self.0
            .render_jobs_queued
            .inc_by(u64::try_from(jobs).unwrap_or(u64::MAX));
    }

    /// Render jobs leased by a committed claim.
    pub fn render_jobs_leased(&self, jobs: usize) {
        self.0
            .render_jobs_leased
            .inc_by(u64::try_from(jobs).unwrap_or(u64::MAX));
    }

    /// A committed render result (`ready`, `failed`, `timed_out`), `age` after its charge.
    pub fn render_finished(&self, outcome: &'static str, age: Duration) {
        self.0
            .render_jobs_finished
            .get_or_create(&RenderLabels { outcome })
            .inc();
        self.0.render_job_age.observe(age.as_secs_f64());
    }

    /// One attempt to deliver an event: `delivered`, `retry` or `failed`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.0.webhook_deliveries.get_or_create(&PassLabels { outcome }).inc();
    }

    /// The outbox's backlog, and how long its oldest event has waited.
    pub fn webhook_backlog(&self, pending: u64, oldest_age: Duration) {
        self.0.webhook_backlog.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.0
            .webhook_oldest_pending
            .set(i64::try_from(oldest_age.as_secs()).unwrap_or(i64::MAX));
    }

    /// Every series in Prometheus text, the pool's gauges read now.
    pub fn render(&self) -> String {
        let (size, idle) = match self.0.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.0.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Sqlite => {
                let pool = self.0.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        self.0.pool_idle.set(idle);
        self.0.pool_in_use.set((i64::from(size) - idle).max(0));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.0.registry);
        text
    }
}

/// The label of `operation`: its name when the contract has it, else [`OTHER_OPERATION`];
/// [`NO_OPERATION`] when none was read.
fn operation_label(operation: Option<&str>) -> &'static str {
    match operation {
        None => NO_OPERATION,
        Some(name) => OPERATIONS
            .iter()
            .find(|known| **known == name)
            .copied()
            .unwrap_or(OTHER_OPERATION),
    }
}

/// One more on a gauge for as long as it lives.
pub struct Open(Gauge);

impl Open {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Open(gauge.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contracts_operation_names_become_labels() {
        assert_eq!(operation_label(Some("ApplyChanges")), "ApplyChanges");
        assert_eq!(operation_label(Some("applyChanges")), "other");
        assert_eq!(operation_label(Some("x".repeat(1000).as_str())), "other");
        assert_eq!(operation_label(None), "none");
    }

    #[test]
    fn the_operation_names_are_sorted_and_unique() {
        assert!(OPERATIONS.windows(2).all(|w| w[0] < w[1]), "{OPERATIONS:?}");
    }
}
