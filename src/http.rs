//! The one HTTP port: `POST /graphql` (JSON only), `GET /graphql` (GraphiQL, or a
//! query, never a mutation), `GET /graphql/ws` (subscriptions), `/healthz`, `/readyz`;
//! with a body limit, a request timeout, a batch cap and graceful shutdown.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Data, Executor, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Auth, Viewer};
use crate::graphql::{self, Api};
use crate::ledger::Ledger;

/// What the HTTP layer lets through.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Longest a request may take before it is answered 408.
    pub timeout: Duration,
    /// Most operations in one batched request.
    pub batch: usize,
    /// Longest a WebSocket may wait before sending `connection_init`.
    pub connection_init: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 256 * 1024,
            timeout: Duration::from_secs(30),
            batch: 10,
            connection_init: Duration::from_secs(10),
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    api: Api,
    ledger: Ledger,
    auth: Auth,
    public_schema: bool,
    graphiql_token: Option<String>,
    limits: Limits,
}

impl AppState {
    /// The state of a service over `ledger` checking tokens with `auth`. GraphiQL and
    /// introspection are served when the configuration says the schema is public;
    /// `graphiql_token` is put in GraphiQL's headers.
    pub fn new(ledger: Ledger, auth: Auth, graphiql_token: Option<String>, limits: Limits) -> Self {
        let public_schema = ledger.config().public_schema;
        let schema = graphql::schema(ledger.clone(), auth.ids().clone(), public_schema);
        AppState {
            api: Api::new(schema, ledger.clone()),
            ledger,
            auth,
            public_schema,
            graphiql_token,
            limits,
        }
    }
}

/// The service's routes and layers.
pub fn app(state: AppState) -> Router {
    let limits = state.limits;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(state))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .layer(TraceLayer::new_for_http())
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight
/// finish for up to `drain`; WebSockets still open after that are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        _ = stopping_rx => match tokio::time::timeout(drain, server).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!("connections still open after the drain period; closing them");
                Ok(())
            }
        },
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// A GraphQL-shaped error answer with `extensions.code`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    let body = async_graphql::Response::from_errors(vec![error]);
    (status, Json(body)).into_response()
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Box<Response>> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.auth.verify_bearer(authorization).map_err(|e| {
        tracing::debug!(error = %e, "token refused");
        Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "A valid bearer token is required.",
        ))
    })
}

/// Whether the request says its body is JSON: the guard against cross-site form posts.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.eq_ignore_ascii_case("application/graphql-response+json")
        })
}

async fn graphql_post(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "POST /graphql takes application/json only.",
        );
    }
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "The body is not a GraphQL request in JSON.",
            );
        }
    };
    if let BatchRequest::Batch(requests) = &batch
        && !(1..=state.limits.batch).contains(&requests.len())
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("A batch holds 1 to {} operations.", state.limits.batch),
        );
    }
    GraphQLResponse::from(state.api.execute_batch(batch.data(viewer)).await).into_response()
}

async fn graphql_get(State(state): State<Arc<AppState>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return graphiql(&state);
    };
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "The query string is not a GraphQL request.",
            );
        }
    };
    let operation = graphql::inspect(&request.query, request.operation_name.as_deref())
        .and_then(|i| i.operation)
        .map(|(_, ty)| ty);
    if matches!(operation, Some(OperationType::Mutation | OperationType::Subscription)) {
        let mut refused = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "GET runs queries only; send mutations with POST.",
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return refused;
    }
    let viewer = match authenticate(&state, &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    GraphQLResponse::from(state.api.execute(request.data(viewer)).await).into_response()
}

fn graphiql(state: &AppState) -> Response {
    if !state.public_schema {
        return StatusCode::NOT_FOUND.into_response();
    }
    let bearer = state.graphiql_token.as_ref().map(|t| format!("Bearer {t}"));
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql/ws")
        .title("Studio BFF");
    if let Some(bearer) = &bearer {
        page = page
            .header("Authorization", bearer)
            .ws_connection_param("authorization", bearer);
    }
    Html(page.finish()).into_response()
}

async fn graphql_ws(
    State(state): State<Arc<AppState>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol))
}

/// graphql-transport-ws close codes.
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// Checks the token of `connection_init` before anything else happens on the socket.
async fn serve_socket(state: Arc<AppState>, socket: WebSocket, protocol: GraphQLProtocol) {
    let (mut sink, mut stream) = socket.split();
    let first = tokio::time::timeout(state.limits.connection_init, async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                return Some(text);
            }
        }
        None
    })
    .await;
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    let init = match first {
        Err(_) => {
            let _ = sink
                .send(close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout"))
                .await;
            return;
        }
        Ok(None) => return,
        Ok(Some(text)) => text,
    };
    let payload: serde_json::Value = serde_json::from_str(init.as_str()).unwrap_or_default();
    if payload.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        let _ = sink.send(close(CLOSE_UNAUTHORIZED, "Unauthorized")).await;
        return;
    }
    let authorization = payload
        .get("payload")
        .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
        .and_then(|a| a.as_str());
    let viewer = match state.auth.verify_bearer(authorization) {
        Ok(viewer) => viewer,
        Err(e) => {
            tracing::debug!(error = %e, "WebSocket token refused");
            let _ = sink.send(close(CLOSE_FORBIDDEN, "Forbidden")).await;
            return;
        }
    };
    let replayed = futures_util::stream::once(async move { Ok(Message::Text(init)) }).chain(stream);
    GraphQLWebSocket::new_with_pair(sink, replayed, state.api.clone(), protocol)
        .on_connection_init(move |_| async move {
            let mut data = Data::default();
            data.insert(viewer);
            Ok(data)
        })
        .serve()
        .await;
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.ledger.db().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
