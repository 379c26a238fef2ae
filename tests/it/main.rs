//! The integration tests, gathered into one binary so that a build links once, not
//! once a file. The tests that run the service's binary under faults or at scale
//! (`crashes`, `db_faults`, `hostile_input`, `races_at_scale`, `subscribers_10k`)
//! keep binaries of their own, so they run alone as before. Shared support lives in
//! `tests/support/`.
#[macro_use]
#[path = "../support/common/mod.rs"]
mod common;
#[path = "../support/api_support/mod.rs"]
mod api_support;
#[path = "../support/hostile/mod.rs"]
mod hostile;
#[path = "../support/model/mod.rs"]
mod model;

mod access_matrix;
mod api_bounds;
mod api_demo;
mod api_http;
mod api_operations;
mod api_renders;
mod api_schema;
mod api_statements;
mod api_subscriptions;
mod api_user_errors;
mod api_ws_protocol;
mod app;
mod balancer;
mod config;
mod cors;
mod credits_expiring;
mod hostile_ws;
mod identity;
mod invoices;
mod layering;
mod ledger_model;
mod ledger_rules;
mod live;
mod live_edits;
mod logs;
mod metrics;
mod operator;
mod platform_accounts;
mod quote;
mod races;
mod renders;
mod scheduler;
mod shutdown;
mod trusted_documents;
mod warnings;
mod webhooks;
