//! Every top-level error the API answers with, wherever it is built: in a resolver, on
//! a document refused before it runs, on the HTTP layer, on a WebSocket. Each carries
//! `extensions.code`, one of [`ErrorCode`]. Business refusals are not errors: they are
//! `userErrors` in a mutation's payload, coded with [`crate::error::RefusalCode`].
use std::fmt::{self, Display};

use async_graphql::{Context, Error, ErrorExtensionValues, ErrorExtensions, Response, ServerError};

use crate::db;

/// The codes of top-level errors (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No token, or one that is invalid or expired.
    Unauthenticated,
    /// The token is valid but may not do this.
    Forbidden,
    /// The request is not one the API takes: a body, document or argument refused.
    BadUserInput,
    /// The service failed; the message holds only a request id.
    Internal,
    /// The database could not be reached: the request may be sent again.
    Unavailable,
    /// A WebSocket already runs as many operations as it may.
    TooManySubscriptions,
    /// A persisted-query hash sent without text names no trusted document.
    PersistedQueryNotFound,
    /// Under `trusted_documents = "enforce"`, a member sent a document that is not
    /// one of the contract's.
    DocumentNotTrusted,
}

impl ErrorCode {
    /// The code as clients read it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::DocumentNotTrusted => "DOCUMENT_NOT_TRUSTED",
        }
    }
}

impl Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request without a valid token is told, on every path.
pub const TOKEN_REQUIRED: &str = "A valid bearer token is required.";

/// The id of one GraphQL request, logged with every fault and shown to the client.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A resolver's top-level error with `extensions.code`.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

pub fn unauthenticated() -> Error {
    coded(ErrorCode::Unauthenticated, TOKEN_REQUIRED)
}

pub fn forbidden(message: &str) -> Error {
    coded(ErrorCode::Forbidden, message)
}

pub fn bad_input(message: impl Into<String>) -> Error {
    coded(ErrorCode::BadUserInput, message)
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

impl Fault for crate::Error {
    fn retryable(&self) -> bool {
        db::retryable(self)
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
        return coded(ErrorCode::Unavailable, message).extend_with(move |_, e| {
            e.set("retryable", true);
            e.set("requestId", request_id.clone());
        });
    }
    tracing::error!(request_id = %request_id, error = %fault, "request failed");
    let message = format!("The service failed; request id {request_id}.");
    coded(ErrorCode::Internal, message).extend_with(move |_, e| e.set("requestId", request_id.clone()))
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

/// A top-level error built outside a resolver.
pub fn server_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    error.extensions = Some(extensions);
    error
}

/// A whole answer of one error and no data: a request refused before anything runs.
pub fn refused(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::from_errors(vec![server_error(code, message)])
}

/// Gives every error without a code `BAD_USER_INPUT`: the resolvers code their own
/// errors, so the rest are async-graphql's parse, validation and limit errors.
pub fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", ErrorCode::BadUserInput.as_str());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_built_outside_a_resolver_carries_its_code() {
        let body = serde_json::to_value(refused(ErrorCode::TooManySubscriptions, "Too many.")).expect("json");

        assert_eq!(body["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
        assert_eq!(body["errors"][0]["message"], "Too many.");
        assert_eq!(ErrorCode::Unavailable.to_string(), "UNAVAILABLE");
    }
}
