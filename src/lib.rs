//! studio-bff: the credits of the AI Background Studio. A tour in reading order:
//! - [`app`]: the one way to start the service and stop it, for `main` and the tests alike;
//! - [`config`]: settings and the provisional values of the credit rules;
//! - [`secret`]: the settings that never print (the JWT secret, the database URL);
//! - [`clock`]: the one clock every rule reads;
//! - [`rules`]: the rules that need no storage (cycles, entitlements, spending order, balance);
//! - [`ledger`]: the operations on stored credits, one transaction each (the write side);
//! - [`reads`]: every other statement, the read side the API answers queries from;
//! - [`graphql`]: the schema clients use: it reads through `reads`, acts through `ledger`;
//! - [`db`]: connections, migrations, transactions and their retries;
//! - [`scheduler`]: expiry and resets when the clock passes them, with no request;
//! - [`preview`]: the built-in preview renderer of the embedded default, and its SVGs;
//! - [`limits`]: what the HTTP and WebSocket layers let through, from the configuration;
//! - [`ws`]: GraphQL over WebSocket, both protocols, one task and a few KiB per socket;
//! - [`live`]: the balance pushed to subscribers after every committed change, from any instance;
//! - [`gate`]: fair shares of the connection pool, so one account's slow requests cannot starve the rest;
//! - [`graphiql`]: GraphiQL's page and its pinned files, served from the binary; [`introspection`]:
//!   the documents that read only the schema, which a public schema answers without a token;
//! - [`origins`]: front ends on other origins, for CORS and the WebSocket's `Origin`;
//! - [`trusted`]: the contract's documents, the only ones a member runs under `enforce`;
//! - [`metrics`]: the series `/metrics` shows, one registry per instance; [`telemetry`]:
//!   logs, and traces over OTLP;
//! - [`error`]: what a client is told when something does not happen.
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod gate;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod introspection;
pub mod ledger;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod origins;
pub mod preview;
pub mod reads;
pub mod rules;
pub mod scheduler;
pub mod secret;
pub mod stopping;
pub mod telemetry;
pub mod trusted;
pub mod webhooks;
pub mod ws;

pub use error::Error;
