//! The GraphQL schema of the contract in `../shared/contract/`, and the executor that
//! gives every request its own loaders, request id, tracing span and alias limit.
//! Tour: [`types`] (objects), [`query`], [`mutation`], [`subscription`], [`pages`]
//! (keyset pages), [`loaders`] (batched nested reads), [`context`] (what a resolver
//! takes from the request, and the error codes).
use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection, SelectionSet};
use async_graphql::{Data, Executor, Request, Response, SDLExportOptions, Schema, SchemaBuilder, ServerError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tracing::Instrument;

pub mod context;
pub mod loaders;
pub mod mutation;
pub mod pages;
pub mod query;
pub mod subscription;
pub mod types;

use context::RequestId;
use mutation::Mutation;
use query::Query;
use subscription::Subscription;

use crate::ids::IdCodec;
use crate::ledger::Ledger;
use crate::live::Hub;

/// The schema type of the service.
pub type StudioSchema = Schema<Query, Mutation, Subscription>;

/// Deepest selection a query may nest (GraphiQL's introspection query needs 13).
pub const MAX_DEPTH: usize = 16;
/// Most fields a query may resolve, lists counted at the page size asked for.
pub const MAX_COMPLEXITY: usize = 2_000;
/// Most aliases in one document: aliases multiply work without raising depth.
pub const MAX_ALIASES: usize = 16;

/// The schema's types and limits, without data: what tests validate documents with.
pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation, Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema over `ledger`, ids signed by `ids`; introspection only when `public`.
/// Starts the instance's live balances ([`Hub`]), so it needs a Tokio runtime.
pub fn schema(ledger: Ledger, ids: IdCodec, public: bool) -> StudioSchema {
    let hub = Hub::start(ledger.clone());
    let builder = builder().data(ledger).data(ids).data(hub);
    if public {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL, fields and enum items sorted: what `schema.graphql` holds.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

/// What a document asks for, read before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The operation that would run: its name and type.
    pub operation: Option<(Option<String>, OperationType)>,
    pub aliases: usize,
}

/// Reads `query`; `None` when it does not parse (execution then reports why).
pub fn inspect(query: &str, operation_name: Option<&str>) -> Option<Inspection> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    let operation = match &document.operations {
        DocumentOperations::Single(op) => Some((None, op.node.ty)),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(n, op)| (Some(n.to_string()), op.node.ty)),
            None if ops.len() == 1 => ops.iter().next().map(|(n, op)| (Some(n.to_string()), op.node.ty)),
            None => None,
        },
    };
    let aliases = document
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .chain(
            document
                .fragments
                .values()
                .map(|f| count_aliases(&f.node.selection_set.node)),
        )
        .sum();
    Some(Inspection { operation, aliases })
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Runs requests on the schema, each with fresh loaders, a request id and a span
/// named after its operation.
#[derive(Clone)]
pub struct Api {
    schema: StudioSchema,
    ledger: Ledger,
}

impl Api {
    pub fn new(schema: StudioSchema, ledger: Ledger) -> Self {
        Api { schema, ledger }
    }

    /// Adds what belongs to this one request; refuses a document with too many aliases.
    fn prepare(&self, request: Request) -> Result<(Request, tracing::Span), Box<Response>> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let inspection = inspect(&request.query, request.operation_name.as_deref());
        let name = request.operation_name.clone().or_else(|| {
            inspection
                .as_ref()
                .and_then(|i| i.operation.as_ref())
                .and_then(|(name, _)| name.clone())
        });
        let span = tracing::info_span!(
            "graphql",
            operation = name.as_deref().unwrap_or("anonymous"),
            request_id = %request_id,
        );
        if inspection.is_some_and(|i| i.aliases > MAX_ALIASES) {
            let mut error = ServerError::new(format!("The document uses more than {MAX_ALIASES} aliases."), None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", "BAD_USER_INPUT");
            error.extensions = Some(extensions);
            return Err(Box::new(Response::from_errors(vec![error])));
        }
        let loaders = loaders::for_request(self.ledger.db().clone());
        let request = request.data(RequestId(request_id)).data(loaders);
        Ok((request, span))
    }
}

/// Gives every error without a code `BAD_USER_INPUT`: the resolvers code their own
/// errors, so the rest are async-graphql's parse, validation and limit errors.
fn coded(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    response
}

impl Executor for Api {
    async fn execute(&self, request: Request) -> Response {
        match self.prepare(request) {
            Ok((request, span)) => coded(self.schema.execute(request).instrument(span).await),
            Err(refused) => *refused,
        }
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        match self.prepare(request) {
            Ok((request, span)) => {
                span.in_scope(|| tracing::info!("subscription started"));
                self.schema
                    .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                    .map(coded)
                    .boxed()
            }
            Err(refused) => futures_util::stream::once(async move { *refused }).boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspection_names_the_operation_that_would_run_and_counts_aliases() {
        let document = "query A { a: viewer { role } } mutation B { addLogo(input: {name: \"x\", imageUrl: \"y\"}) { b: logo { id } } } fragment F on Viewer { c: role }";

        let chosen = inspect(document, Some("B")).expect("parses");
        let ambiguous = inspect(document, None).expect("parses");

        assert_eq!(chosen.operation, Some((Some("B".into()), OperationType::Mutation)));
        assert_eq!(chosen.aliases, 3);
        assert_eq!(ambiguous.operation, None);
        assert_eq!(
            inspect("{ viewer { role } }", None).and_then(|i| i.operation),
            Some((None, OperationType::Query))
        );
        assert_eq!(inspect("{ not graphql", None), None);
    }
}
