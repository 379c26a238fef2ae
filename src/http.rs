//! The one HTTP port: `POST /graphql` (JSON only), `GET /graphql` (GraphiQL, or a
//! query, never a mutation), `GET /graphql/ws` (subscriptions), `/healthz`, `/readyz`,
//! and `/metrics` unless `metrics_addr` gives it a port of its own ([`metrics_app`]);
//! with a body limit, a request timeout, a batch cap, CORS for the configured origins
//! and graceful shutdown.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::limit::{RequestBodyLimitLayer, ResponseBody as LimitedBody};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Auth, Role, Viewer};
use crate::gate::Gate;
use crate::graphql::errors::{self, ErrorCode};
use crate::graphql::{self, Api};
use crate::introspection;
use crate::ledger::Ledger;
use crate::limits::Limits;
use crate::live::Hub;
use crate::metrics::{self, Metrics, Outcome};
use crate::origins::{self, Origins};
use crate::preview;
use crate::stopping::{self, StopSignal, Stopping};
use crate::telemetry::RemoteParent;
use crate::ws;

/// Longest `/readyz` waits for the database's answer.
const READY_WITHIN: Duration = Duration::from_secs(1);

/// Everything a handler needs.
pub struct AppState {
    api: Api,
    ledger: Ledger,
    auth: Auth,
    public_schema: bool,
    graphiql_token: Option<String>,
    limits: Limits,
    gate: Gate,
    /// The front ends' origins (`cors_origins`).
    origins: Origins,
    /// Tells the open WebSockets that the service is stopping.
    stop: StopSignal,
    stopping: Stopping,
}

impl AppState {
    /// The state of a service over `ledger` checking tokens with `auth`, its live
    /// balances from `hub`. GraphiQL and introspection are served when the
    /// configuration says the schema is public; `graphiql_token` is put in GraphiQL's
    /// headers.
    pub fn new(ledger: Ledger, hub: Hub, auth: Auth, graphiql_token: Option<String>, limits: Limits) -> Self {
        let public_schema = ledger.config().public_schema;
        let schema = graphql::schema(ledger.clone(), auth.ids().clone(), hub, public_schema);
        let (stop, stopping) = stopping::channel();
        let origins = Origins::new(&ledger.config().cors_origins);
        AppState {
            api: Api::new(schema, ledger.clone()),
            ledger,
            auth,
            public_schema,
            graphiql_token,
            limits,
            gate: Gate::new(limits.requests_per_account),
            origins,
            stop,
            stopping,
        }
    }

    /// What tells this state's open WebSockets that the service is stopping: each then
    /// closes with 1001.
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }
}

/// The service's routes and layers.
pub fn app(state: AppState) -> Router {
    let limits = state.limits;
    let cors = state.origins.cors();
    let metrics = state.ledger.metrics().clone();
    let mut routes = Router::new()
        .route(
            "/graphql",
            get(graphql_get).post(graphql_post).layer(
                ServiceBuilder::new()
                    .map_response(origins::only_for_allowed)
                    .layer(cors),
            ),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphiql/{name}", get(graphiql_asset))
        .route("/previews/{file}", get(preview_svg))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if state.ledger.config().metrics_addr.is_none() {
        routes = routes.route("/metrics", get(metrics_for_ops));
    }
    // One stack, outermost first, laid on the routes at once: each `Router::layer` boxes
    // every route again, and a request clones and polls every box.
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .map_response(move |response| count_refused(&metrics, response))
        .map_response(move |response: Response<LimitedBody<Body>>| {
            too_large_as_graphql(&limits, response.map(Body::new))
        })
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ));
    routes.with_state(Arc::new(state)).layer(stack)
}

/// `/metrics` alone, without a token: what `metrics_addr` serves.
pub fn metrics_app(metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(metrics): State<Metrics>| async move { scrape(&metrics) }),
        )
        .with_state(metrics)
}

/// Every series in Prometheus text.
fn scrape(metrics: &Metrics) -> Response {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics.render()).into_response()
}

/// `/metrics` on the API's port takes an OPS token, as every path there but the health
/// checks and GraphiQL's page; a refusal is plain, not a GraphQL answer.
async fn metrics_for_ops(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match state.auth.verify_bearer(authorization).await {
        Ok(viewer) if viewer.role == Role::Ops => scrape(state.ledger.metrics()),
        Ok(_) => (StatusCode::FORBIDDEN, "/metrics takes an OPS token\n").into_response(),
        Err(_) => (StatusCode::UNAUTHORIZED, "/metrics takes an OPS token\n").into_response(),
    }
}

/// Marks an answer refused before any operation ran, for [`count_refused`].
#[derive(Clone, Copy)]
struct Refused;

/// Counts the requests [`error_response`] refused, as the executor counts the rest.
fn count_refused(metrics: &Metrics, response: Response) -> Response {
    if response.extensions().get::<Refused>().is_some() {
        metrics.request(None, Outcome::refused, None);
    }
    response
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
fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    // A request refused before any operation ran: logged as the executor logs the rest.
    tracing::info!(
        outcome = "error",
        codes = code.as_str(),
        status = status.as_u16(),
        "refused"
    );
    let mut response = (status, Json(errors::refused(code, message))).into_response();
    response.extensions_mut().insert(Refused);
    response
}

/// How many items `body` holds when it is a JSON array, counted without building them.
fn items_in_array(body: &[u8]) -> Option<usize> {
    // Most bodies are one request, an object: serde would build an error to say so.
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'[') {
        return None;
    }
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = usize;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an array")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while items.next_element::<serde::de::IgnoredAny>()?.is_some() {
                count += 1;
            }
            Ok(count)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let count = serde::Deserializer::deserialize_seq(&mut deserializer, Count).ok()?;
    deserializer.end().ok()?;
    Some(count)
}

/// The answer to a body over the limit, read no further than the limit.
fn too_large(limits: &Limits) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BadUserInput,
        &format!("The body is larger than {} bytes.", limits.body_bytes),
    )
}

/// The body limit answers a declared length over it before any handler, in plain text;
/// this gives that answer the GraphQL shape of every other refusal.
fn too_large_as_graphql(limits: &Limits, response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(response.headers()) {
        return too_large(limits);
    }
    response
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Box<Response>> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.auth.verify_bearer(authorization).await.map_err(|e| {
        tracing::debug!(error = %e, "token refused");
        Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            errors::TOKEN_REQUIRED,
        ))
    })
}

/// Who sends a request.
enum Caller {
    /// The viewer of a valid token.
    Viewer(Viewer),
    /// No `Authorization` header at all, on a public schema. Such a request runs only if
    /// all it reads is the schema ([`reads_only_schema`]), so that GraphiQL's docs and
    /// completion load before a token is pasted; anything else gets this refusal. It
    /// takes no turn of the [`Gate`]: it has no account and uses no connection.
    Nobody(Box<Response>),
}

/// Who sends a request with `headers`: a token, when there is one, must be valid.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
    match authenticate(state, headers).await {
        Ok(viewer) => Ok(Caller::Viewer(viewer)),
        Err(refused) if state.public_schema && !headers.contains_key(header::AUTHORIZATION) => {
            Ok(Caller::Nobody(refused))
        }
        Err(refused) => Err(refused),
    }
}

/// Whether `request` only introspects ([`introspection::only_introspection`]).
fn reads_only_schema(request: &async_graphql::Request) -> bool {
    introspection::only_introspection(&request.query, request.operation_name.as_deref())
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

async fn graphql_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&state.limits),
        Err(rejection) => {
            tracing::debug!(error = %rejection, "request body refused");
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "The body could not be read.",
            );
        }
    };
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            "POST /graphql takes application/json only.",
        );
    }
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    // Counted before any request is built: async-graphql would build all 10,000 of a
    // small-operation batch, about 1 KiB each, before its length could be checked.
    let batch_size = items_in_array(&body);
    if batch_size.is_some_and(|n| !(1..=state.limits.batch).contains(&n)) {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            &format!("A batch holds 1 to {} operations.", state.limits.batch),
        );
    }
    // Read as what the count found: serde would take an array such as `["{ a }"]` for
    // one request's fields in order, and an untagged `BatchRequest` buffers every value
    // before it tries its variants.
    let batch = match batch_size {
        Some(_) => serde_json::from_slice(&body).ok().map(BatchRequest::Batch),
        None => serde_json::from_slice(&body).ok().map(BatchRequest::Single),
    };
    let Some(batch) = batch else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "The body is not a GraphQL request in JSON.",
        );
    };
    let batch = match RemoteParent::from_headers(&headers) {
        Some(parent) => batch.data(parent),
        None => batch,
    };
    let viewer = match caller {
        Caller::Viewer(viewer) => viewer,
        Caller::Nobody(_) if batch.iter().all(reads_only_schema) => {
            return GraphQLResponse::from(state.api.execute_batch(batch).await).into_response();
        }
        Caller::Nobody(refused) => return *refused,
    };
    let _turn = state.gate.enter_for(&viewer).await;
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
                ErrorCode::BadUserInput,
                "The query string is not a GraphQL request.",
            );
        }
    };
    let operation = state.api.operation_type(&request);
    if matches!(operation, Some(OperationType::Mutation | OperationType::Subscription)) {
        let mut refused = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadUserInput,
            "GET runs queries only; send mutations with POST.",
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return refused;
    }
    let request = match RemoteParent::from_headers(&headers) {
        Some(parent) => request.data(parent),
        None => request,
    };
    let viewer = match caller(&state, &headers).await {
        Ok(Caller::Viewer(viewer)) => viewer,
        Ok(Caller::Nobody(_)) if reads_only_schema(&request) => {
            return GraphQLResponse::from(state.api.execute(request).await).into_response();
        }
        Ok(Caller::Nobody(refused)) | Err(refused) => return *refused,
    };
    let _turn = state.gate.enter_for(&viewer).await;
    GraphQLResponse::from(state.api.execute(request.data(viewer)).await).into_response()
}

/// GraphiQL's page, from the binary ([`crate::graphiql`]); none when the schema is
/// private.
fn graphiql(state: &AppState) -> Response {
    if !state.public_schema {
        return StatusCode::NOT_FOUND.into_response();
    }
    crate::graphiql::page(state.graphiql_token.as_deref())
}

/// A file of GraphiQL's page; none when the schema is private, as the page.
async fn graphiql_asset(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    if !state.public_schema {
        return StatusCode::NOT_FOUND.into_response();
    }
    crate::graphiql::asset(&name)
}

/// `GraphQLProtocol` refuses an upgrade that offers neither protocol; the one spoken is
/// the one echoed in the handshake (see [`ws::negotiated`]). A browser page of an origin
/// that is neither ours nor configured is refused before the upgrade.
async fn graphql_ws(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    _offered: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.origins.allows_socket(&headers) {
        return error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This origin may not open a WebSocket here.",
        );
    }
    let upgrade = ws::sized(upgrade).protocols(ALL_WEBSOCKET_PROTOCOLS);
    let Some(protocol) = ws::negotiated(&upgrade) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    upgrade.on_upgrade(move |socket| async move {
        let _open = state.ledger.metrics().socket();
        let stopping = state.stopping.clone();
        ws::serve(socket, protocol, &state.api, &state.auth, &state.limits, stopping).await;
    })
}

/// A built-in preview, `/previews/<edit id>.svg`: no token, as an image a browser opens
/// needs none, and the edit's id is signed, so no one finds a preview by counting. The
/// SVG may only show images, never run anything.
async fn preview_svg(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let Some(edit_id) = file.strip_suffix(".svg") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match preview::preview(&state.ledger, state.auth.ids(), edit_id).await {
        Ok(Some(svg)) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            svg,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a preview could not be read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers a ping within [`READY_WITHIN`], so a load balancer
/// asking during an outage is told at once rather than after the pool's timeout.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match tokio::time::timeout(READY_WITHIN, state.ledger.db().ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!("database did not answer a ping within {READY_WITHIN:?}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
