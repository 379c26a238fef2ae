//! The GraphQL schema of the contract vendored in `contract/`, and the executor that
//! gives every request its own loaders, request id, tracing span and alias limit.
//! Tour: [`types`] (objects, by area), [`query`], [`mutation`], [`subscription`],
//! [`loaders`] (batched nested reads), [`context`] (what a resolver takes from the
//! request), [`errors`] (every top-level error and its code), [`inspect`] (what a
//! document asks for, read before it runs), [`documents`] (parsed documents kept, and
//! what validating them found).
//! Every request passes [`crate::trusted::admit`] first, over HTTP and WebSocket alike.
use std::any::TypeId;
use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response, SDLExportOptions, Schema, SchemaBuilder};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use tracing::Instrument;

pub mod context;
pub mod documents;
pub mod errors;
pub mod inspect;
pub mod loaders;
pub mod mutation;
mod outcome;
pub mod query;
pub mod quote;
pub mod subscription;
pub mod types;

use documents::Documents;
use errors::{ErrorCode, RequestId};
use inspect::shape;
pub use inspect::{MAX_ALIASES, MAX_NESTING, MAX_SELECTIONS, MAX_TOKENS};
use mutation::Mutation;
use query::Query;
use subscription::{Event, Subscription};

use crate::auth::Viewer;
use crate::config::TrustedDocuments;
use crate::ids::IdCodec;
use crate::ledger::Ledger;
use crate::live::Hub;
use crate::metrics::Metrics;
use crate::reads::Reads;
use crate::telemetry::{self, RemoteParent};
use crate::trusted::{self, Refusal};

/// The schema type of the service.
pub type StudioSchema = Schema<Query, Mutation, Subscription>;

/// Deepest selection a query may nest (GraphiQL's introspection query needs 13).
pub const MAX_DEPTH: usize = 16;
/// Most fields a query may resolve, lists counted at the page size asked for.
pub const MAX_COMPLEXITY: usize = 2_000;

/// The schema's types and limits, without data: what tests validate documents with.
pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation::default(), Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(documents::KeptValidation)
}

/// The schema over `ledger`, ids signed by `ids`, `balanceChanged` served from `hub`;
/// introspection only when `public`. The hub is started by whoever runs the instance,
/// so building a schema spawns nothing.
pub fn schema(ledger: Ledger, ids: IdCodec, hub: Hub, public: bool) -> StudioSchema {
    let reads = Reads::new(ledger.db().clone());
    let builder = builder().data(ledger).data(reads).data(ids).data(hub);
    if public {
        builder.finish()
    } else {
        // A private schema answers a misspelt field or argument without "Did you
        // mean ...": those suggestions would spell out the schema one guess at a time.
        builder.disable_introspection().disable_suggestions().finish()
    }
}

/// The schema's SDL, fields and enum items sorted: what `schema.graphql` holds.
pub fn sdl() -> String {
    Schema::build(Query, Mutation::default(), Subscription)
        .finish()
        .sdl_with_options(
            SDLExportOptions::new()
                .sorted_fields()
                .sorted_arguments()
                .sorted_enum_items(),
        )
}

/// Runs requests on the schema, each with fresh loaders, a request id and a span
/// named after its operation (a child of the request's `traceparent`).
#[derive(Clone)]
pub struct Api {
    schema: StudioSchema,
    /// What each request's loaders read through.
    reads: Reads,
    documents: Arc<Documents>,
    /// Whether members are held to the trusted documents.
    trusted: TrustedDocuments,
    /// Where each request's outcome is counted.
    metrics: Metrics,
}

/// A request's span, and the operation it names (none for an anonymous one).
struct Traced {
    span: tracing::Span,
    operation: Option<String>,
}

impl Traced {
    /// The span of `request`'s `operation`, a child of its `traceparent` if it has one.
    fn new(request: &Request, operation: Option<String>, request_id: &str) -> Traced {
        let name = operation.as_deref().unwrap_or("anonymous");
        let span = tracing::info_span!(
            telemetry::OPERATION_SPAN,
            otel.name = name,
            operation = name,
            request_id = %request_id,
            trace_id = tracing::field::Empty,
        );
        telemetry::adopt(
            &span,
            request
                .data
                .get(&TypeId::of::<RemoteParent>())
                .and_then(|p| p.downcast_ref()),
        );
        Traced { span, operation }
    }
}

impl Api {
    pub fn new(schema: StudioSchema, ledger: Ledger) -> Self {
        // Split now, so that the first request does not pay for it.
        trusted::documents();
        Api {
            schema,
            reads: Reads::new(ledger.db().clone()),
            documents: Arc::default(),
            trusted: ledger.config().trusted_documents,
            metrics: ledger.metrics().clone(),
        }
    }

    /// The type of the operation `request` would run (its persisted-query hash
    /// followed), read through the document cache so that running it next parses
    /// nothing again.
    pub fn operation_type(&self, request: &Request) -> Option<OperationType> {
        let kept = self
            .documents
            .get(trusted::text(request), request.operation_name.as_deref())?;
        kept.parsed.inspection.operation.as_ref().map(|(_, ty)| *ty)
    }

    /// Adds what belongs to this one request, sent by the viewer in its data or in
    /// `session` (a WebSocket's); refuses a document that is not trusted or has too
    /// many aliases. The request's span either way, so a refusal is logged in it too.
    fn prepare(&self, mut request: Request, session: Option<&Data>) -> (Result<Request, Box<Response>>, Traced) {
        let request_id = uuid::Uuid::new_v4().to_string();
        let role = viewer(&request.data)
            .or_else(|| session.and_then(viewer))
            .map(|v| v.role);
        if let Err(refused) = trusted::admit(self.trusted, role, &mut request) {
            // Refused before it is parsed: an untrusted document costs no parse.
            let traced = Traced::new(&request, request.operation_name.clone(), &request_id);
            return (Err(untrusted(&refused)), traced);
        }
        let kept = self.documents.get(&request.query, request.operation_name.as_deref());
        let inspection = kept.as_ref().map(|k| &k.parsed.inspection);
        let name = request.operation_name.clone().or_else(|| {
            inspection
                .as_ref()
                .and_then(|i| i.operation.as_ref())
                .and_then(|(name, _)| name.clone())
        });
        let traced = Traced::new(&request, name, &request_id);
        if kept.is_none()
            && let Some(message) = shape(&request.query).refusal()
        {
            return (Err(refusal(message)), traced);
        }
        if inspection.is_some_and(|i| i.aliases > MAX_ALIASES) {
            return (
                Err(refusal(format!("The document uses more than {MAX_ALIASES} aliases."))),
                traced,
            );
        }
        if inspection.is_some_and(|i| i.selections > MAX_SELECTIONS) {
            return (
                Err(refusal(format!(
                    "The document's fragments spread into more than {MAX_SELECTIONS} selections, or into themselves."
                ))),
                traced,
            );
        }
        let subscription = matches!(
            inspection.and_then(|i| i.operation.as_ref()),
            Some((_, OperationType::Subscription))
        );
        if subscription && inspection.is_some_and(|i| i.root_fragment) {
            return (
                Err(refusal(
                    "A subscription selects its field directly, not through a fragment.".into(),
                )),
                traced,
            );
        }
        if let Some(kept) = &kept {
            request = kept.hand_to(request);
        }
        request = request.data(RequestId(request_id));
        // A subscription lives as long as its socket, and `balanceChanged` reads through
        // the hub: loaders would only hold memory and cache what they read for as long.
        if !subscription {
            request = request.data(loaders::for_request(self.reads.clone()));
        }
        (Ok(request), traced)
    }
}

/// The viewer a request's or a session's data holds.
fn viewer(data: &Data) -> Option<&Viewer> {
    data.get(&TypeId::of::<Viewer>())?.downcast_ref()
}

/// A request [`trusted::admit`] refused, with its code.
fn untrusted(refusal: &Refusal) -> Box<Response> {
    let code = match refusal {
        Refusal::UnknownHash(_) => ErrorCode::PersistedQueryNotFound,
        Refusal::HashMismatch => ErrorCode::BadUserInput,
        Refusal::NotTrusted => ErrorCode::DocumentNotTrusted,
    };
    Box::new(errors::refused(code, refusal.message()))
}

/// A document refused before it runs, as `BAD_USER_INPUT`.
fn refusal(message: String) -> Box<Response> {
    Box::new(errors::refused(ErrorCode::BadUserInput, message))
}

impl Executor for Api {
    async fn execute(&self, request: Request) -> Response {
        let started = std::time::Instant::now();
        let (prepared, traced) = self.prepare(request, None);
        let response = match prepared {
            Ok(request) => errors::with_codes(self.schema.execute(request).instrument(traced.span.clone()).await),
            Err(refused) => *refused,
        };
        let operation = traced.operation.as_deref().unwrap_or_default();
        traced
            .span
            .in_scope(|| outcome::log(&response, started.elapsed(), &self.metrics, operation));
        response
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let session = session_data.unwrap_or_default();
        match self.prepare(request, Some(&session)) {
            (Ok(request), traced) => {
                traced.span.in_scope(|| tracing::info!("subscription started"));
                match self.source(&request, &session) {
                    Some(events) => self.per_event(request, session, events),
                    None => self
                        .schema
                        .execute_stream_with_session_data(request, session)
                        .map(errors::with_codes)
                        .boxed(),
                }
            }
            (Err(refused), _) => stream::once(async move { *refused }).boxed(),
        }
    }
}

impl Api {
    /// The events of a subscription whose root is one field with a source
    /// ([`subscription::source`]), for the account of the session's viewer.
    fn source(&self, request: &Request, session: &Data) -> Option<BoxStream<'static, Event>> {
        let kept = self.documents.get(&request.query, request.operation_name.as_deref())?;
        let inspection = &kept.parsed.inspection;
        if !matches!(inspection.operation, Some((_, OperationType::Subscription))) {
            return None;
        }
        let field = inspection.root_field.as_deref()?;
        subscription::source(self.schema.data::<Hub>()?, field, viewer(session)?.account_id?)
    }

    /// `request` executed once now to check it (its errors are its only answer), then
    /// once for each of `events`, prepared again each time: between events, all it
    /// holds is the events' source and the request's text.
    fn per_event(
        &self,
        request: Request,
        session: Arc<Data>,
        events: BoxStream<'static, Event>,
    ) -> BoxStream<'static, Response> {
        let (query, operation_name, variables) = (
            request.query.clone(),
            request.operation_name.clone(),
            request.variables.clone(),
        );
        let api = self.clone();
        let checked = async move {
            if let Some(refused) = api.execute_for(request, session.clone(), Event::Check).await {
                return stream::iter([refused]).boxed();
            }
            events
                .filter_map(move |event| {
                    let mut again = Request::new(query.clone()).variables(variables.clone());
                    again.operation_name = operation_name.clone();
                    let (api, session) = (api.clone(), session.clone());
                    Box::pin(async move {
                        match api.prepare(again, Some(&session)) {
                            (Ok(again), traced) => api.execute_for(again, session, event).instrument(traced.span).await,
                            (Err(refused), _) => Some(*refused),
                        }
                    }) as BoxFuture<'static, Option<Response>>
                })
                .boxed()
        };
        // Boxed, so that once checked the check's state is freed, not kept in the stream.
        stream::once(Box::pin(checked)).flatten().boxed()
    }

    /// The answer of `request` executed for `event`, if it gives one.
    async fn execute_for(&self, request: Request, session: Arc<Data>, event: Event) -> Option<Response> {
        let mut answers = self
            .schema
            .execute_stream_with_session_data(request.data(event), session);
        answers.next().await.map(errors::with_codes)
    }
}
