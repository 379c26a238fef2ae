//! What a resolver takes from the request: the ledger, the viewer, the id codec, the
//! loaders; and how it turns failures into the contract's top-level error codes.
use std::fmt::Display;

use async_graphql::{Context, Error, ErrorExtensions};
use sea_orm::DbErr;

use super::loaders::Loaders;
use crate::auth::{Role, Viewer};
use crate::db;
use crate::ids::IdCodec;
use crate::ledger::Ledger;

/// The id of one GraphQL request, logged with every fault and shown to the client.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A top-level error with `extensions.code`.
pub fn coded(code: &str, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn unauthenticated() -> Error {
    coded("UNAUTHENTICATED", "A valid bearer token is required.")
}

pub fn forbidden(message: &str) -> Error {
    coded("FORBIDDEN", message)
}

pub fn bad_input(message: impl Into<String>) -> Error {
    coded("BAD_USER_INPUT", message)
}

/// A failure of the service rather than of the request: logged in full, shown to the
/// client only as `INTERNAL`, or as `UNAVAILABLE` when a later try may succeed.
pub trait Fault: Display {
    /// The database could not be reached or stayed busy: the request changed nothing
    /// and may be sent again (with the same idempotency key, for a mutation).
    fn retryable(&self) -> bool {
        false
    }
}

impl Fault for DbErr {
    fn retryable(&self) -> bool {
        db::is_unavailable(self) || db::is_transient(self)
    }
}

impl Fault for crate::Error {
    fn retryable(&self) -> bool {
        matches!(self, crate::Error::Db(e) if e.retryable())
    }
}

impl<F: Fault> Fault for std::sync::Arc<F> {
    fn retryable(&self) -> bool {
        F::retryable(self)
    }
}

impl Fault for String {}

impl Fault for &str {}

/// Logs `fault` with the request id; the client sees only the id, and whether to retry.
pub fn internal(ctx: &Context<'_>, fault: impl Fault) -> Error {
    let request_id = ctx
        .data_opt::<RequestId>()
        .map_or_else(|| "unknown".to_owned(), |id| id.0.clone());
    if fault.retryable() {
        tracing::warn!(request_id = %request_id, error = %fault, "database unavailable");
        let message = format!("The database is unavailable; try again shortly. Request id {request_id}.");
        return coded("UNAVAILABLE", message).extend_with(move |_, e| {
            e.set("retryable", true);
            e.set("requestId", request_id.clone());
        });
    }
    tracing::error!(request_id = %request_id, error = %fault, "request failed");
    let message = format!("The service failed; request id {request_id}.");
    coded("INTERNAL", message).extend_with(move |_, e| e.set("requestId", request_id.clone()))
}

/// Turns a service fault into an `INTERNAL` or `UNAVAILABLE` error that hides its text.
pub trait OrInternal<T> {
    fn or_internal(self, ctx: &Context<'_>) -> async_graphql::Result<T>;
}

impl<T, E: Fault> OrInternal<T> for Result<T, E> {
    fn or_internal(self, ctx: &Context<'_>) -> async_graphql::Result<T> {
        self.map_err(|e| internal(ctx, e))
    }
}

pub fn ledger<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Ledger> {
    ctx.data::<Ledger>()
        .map_err(|_| internal(ctx, "the ledger is missing from the schema"))
}

pub fn ids<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a IdCodec> {
    ctx.data::<IdCodec>()
        .map_err(|_| internal(ctx, "the id codec is missing from the schema"))
}

pub fn store<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| internal(ctx, "the request's loaders are missing"))
}

pub fn viewer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    ctx.data::<Viewer>().map_err(|_| unauthenticated())
}

/// The viewer, who must be an OPS user.
pub fn ops<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    if viewer.role == Role::Ops {
        Ok(viewer)
    } else {
        Err(forbidden("This field is for OPS users only."))
    }
}

/// Whether the viewer may see a record of `account_id`: OPS sees every account, a
/// member only their own.
pub fn may_see(viewer: &Viewer, account_id: i64) -> bool {
    viewer.role == Role::Ops || viewer.account_id == Some(account_id)
}
