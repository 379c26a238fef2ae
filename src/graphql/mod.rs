//! The GraphQL schema of the contract vendored in `contract/`, and the executor that
//! gives every request its own loaders, request id, tracing span and alias limit.
//! Tour: [`types`] (objects), [`query`], [`mutation`], [`subscription`], [`pages`]
//! (keyset pages), [`loaders`] (batched nested reads), [`context`] (what a resolver
//! takes from the request, and the error codes).
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Data, Executor, Request, Response, SDLExportOptions, Schema, SchemaBuilder, ServerError};
use async_graphql::{Name, Positioned};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tracing::Instrument;

pub mod context;
pub mod documents;
pub mod loaders;
pub mod mutation;
mod outcome;
pub mod pages;
pub mod query;
pub mod subscription;
pub mod types;

use context::RequestId;
use documents::Documents;
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
/// Deepest nesting of brackets (`{`, `[`, `(`) outside strings and comments, checked
/// before the document is parsed: the parser recurses once per level and, past what the
/// thread's stack holds, answers with its own text rather than a limit.
pub const MAX_NESTING: usize = 64;
/// Most tokens a document may hold, counted before it is parsed: the parser takes about
/// 400 bytes a token, so a 256 KiB body of short names would cost 50 MB. GraphiQL's
/// introspection query has about 200 tokens, the contract's largest file 340.
pub const MAX_TOKENS: usize = 5_000;
/// Most selections a document may make with every fragment spread where it is used.
/// async-graphql checks depth and complexity on that expansion, which a few fragments
/// spreading each other twice make exponential: 30 of them, a billion selections.
pub const MAX_SELECTIONS: usize = 10_000;

/// The schema's types and limits, without data: what tests validate documents with.
pub fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation, Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema over `ledger`, ids signed by `ids`, `balanceChanged` served from `hub`;
/// introspection only when `public`. The hub is started by whoever runs the instance,
/// so building a schema spawns nothing.
pub fn schema(ledger: Ledger, ids: IdCodec, hub: Hub, public: bool) -> StudioSchema {
    let builder = builder().data(ledger).data(ids).data(hub);
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
    /// Selections of all operations with every fragment spread where it is used
    /// (saturating); `usize::MAX` when a fragment spreads itself, directly or not.
    pub selections: usize,
}

/// A document and what it asks for.
pub struct Parsed {
    pub document: ExecutableDocument,
    pub inspection: Inspection,
}

/// Parses and inspects `query`; `None` when its [`Shape`] is over the limits, and then
/// it is not parsed, or when it does not parse (execution then reports why).
pub fn parse_inspected(query: &str, operation_name: Option<&str>) -> Option<Parsed> {
    if shape(query).refusal().is_some() {
        return None;
    }
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
    let mut expansion = Expansion {
        fragments: &document.fragments,
        sizes: HashMap::new(),
        open: HashSet::new(),
    };
    let selections = document
        .operations
        .iter()
        .map(|(_, op)| expansion.selections(&op.node.selection_set.node, 0))
        .fold(0, usize::saturating_add);
    Some(Parsed {
        inspection: Inspection {
            operation,
            aliases,
            selections,
        },
        document,
    })
}

/// What a document's text shows before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The deepest nesting of brackets outside strings and comments.
    pub nesting: usize,
    /// Punctuators, names, numbers and strings.
    pub tokens: usize,
}

impl Shape {
    /// Why a document of this shape is refused unparsed, if it is.
    pub fn refusal(&self) -> Option<String> {
        if self.nesting > MAX_NESTING {
            Some(format!("The document nests deeper than {MAX_NESTING} brackets."))
        } else if self.tokens > MAX_TOKENS {
            Some(format!("The document holds more than {MAX_TOKENS} tokens."))
        } else {
            None
        }
    }
}

/// Reads `query` the way the GraphQL lexer does, without parsing: one pass, no
/// allocation, whatever the text.
pub fn shape(query: &str) -> Shape {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0_usize, 0_usize);
    let mut shape = Shape { nesting: 0, tokens: 0 };
    while let Some(&byte) = bytes.get(i) {
        i += 1;
        if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b',' | b'#') {
            shape.tokens += 1;
        }
        match byte {
            b'#' => {
                while bytes.get(i).is_some_and(|b| !matches!(b, b'\n' | b'\r')) {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"") => {
                i += 2;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
            }
            b'"' => {
                while let Some(&b) = bytes.get(i) {
                    match b {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        // A string ends with its line; the parser stops at it.
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                shape.nesting = shape.nesting.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            // A name or a number: the rest of it is the same token.
            _ if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'+' | b'.') || !byte.is_ascii() => {
                while bytes.get(i).is_some_and(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.') || !b.is_ascii()
                }) {
                    i += 1;
                }
            }
            _ => {}
        }
    }
    shape
}

/// Counts selections with fragments spread where they are used, each fragment counted
/// once and remembered, so the count costs one walk of the document however often its
/// fragments spread each other.
struct Expansion<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    sizes: HashMap<&'a str, usize>,
    /// Fragments being counted: spreading one of them again is a cycle.
    open: HashSet<&'a str>,
}

impl<'a> Expansion<'a> {
    /// The selections of `set` and below, `depth` levels down; past [`MAX_NESTING`]
    /// levels (fragments included) as many as a cycle, which bounds the recursion.
    fn selections(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
        if depth > MAX_NESTING {
            return usize::MAX;
        }
        set.items.iter().fold(0, |total: usize, item| {
            let below = match &item.node {
                Selection::Field(field) => self.selections(&field.node.selection_set.node, depth + 1),
                Selection::InlineFragment(fragment) => self.selections(&fragment.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node, depth + 1),
            };
            total.saturating_add(1).saturating_add(below)
        })
    }

    /// The selections of fragment `name`; an unknown fragment counts none (validation
    /// refuses it), one that spreads itself `usize::MAX`.
    fn fragment(&mut self, name: &'a str, depth: usize) -> usize {
        if let Some(&size) = self.sizes.get(name) {
            return size;
        }
        let Some(fragment) = self.fragments.get(name) else {
            return 0;
        };
        if !self.open.insert(name) {
            return usize::MAX;
        }
        let size = self.selections(&fragment.node.selection_set.node, depth);
        self.open.remove(name);
        self.sizes.insert(name, size);
        size
    }
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
    documents: Arc<Documents>,
}

impl Api {
    pub fn new(schema: StudioSchema, ledger: Ledger) -> Self {
        Api {
            schema,
            ledger,
            documents: Arc::default(),
        }
    }

    /// The type of the operation `query` would run, read through the document cache so
    /// that running it next parses nothing again.
    pub fn operation_type(&self, query: &str, operation_name: Option<&str>) -> Option<OperationType> {
        let parsed = self.documents.get(query, operation_name)?;
        parsed.inspection.operation.as_ref().map(|(_, ty)| *ty)
    }

    /// Adds what belongs to this one request; refuses a document with too many aliases.
    /// The request's span either way, so a refusal is logged in it too.
    fn prepare(&self, mut request: Request) -> Result<(Request, tracing::Span), (Box<Response>, tracing::Span)> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let parsed = self.documents.get(&request.query, request.operation_name.as_deref());
        let inspection = parsed.as_ref().map(|p| &p.inspection);
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
        if parsed.is_none()
            && let Some(message) = shape(&request.query).refusal()
        {
            return Err((refusal(message), span));
        }
        if inspection.is_some_and(|i| i.aliases > MAX_ALIASES) {
            return Err((
                refusal(format!("The document uses more than {MAX_ALIASES} aliases.")),
                span,
            ));
        }
        if inspection.is_some_and(|i| i.selections > MAX_SELECTIONS) {
            return Err((
                refusal(format!(
                    "The document's fragments spread into more than {MAX_SELECTIONS} selections, or into themselves."
                )),
                span,
            ));
        }
        let subscription = matches!(
            inspection.and_then(|i| i.operation.as_ref()),
            Some((_, OperationType::Subscription))
        );
        if let Some(parsed) = &parsed {
            request.set_parsed_query(parsed.document.clone());
        }
        request = request.data(RequestId(request_id));
        // A subscription lives as long as its socket, and `balanceChanged` reads through
        // the hub: loaders would only hold memory and cache what they read for as long.
        if !subscription {
            request = request.data(loaders::for_request(self.ledger.db().clone()));
        }
        Ok((request, span))
    }
}

/// A document refused before it runs, as `BAD_USER_INPUT`.
fn refusal(message: String) -> Box<Response> {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    error.extensions = Some(extensions);
    Box::new(Response::from_errors(vec![error]))
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
        let started = std::time::Instant::now();
        let (response, span) = match self.prepare(request) {
            Ok((request, span)) => (coded(self.schema.execute(request).instrument(span.clone()).await), span),
            Err((refused, span)) => (*refused, span),
        };
        span.in_scope(|| outcome::log(&response, started.elapsed()));
        response
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
            Err((refused, _)) => futures_util::stream::once(async move { *refused }).boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(query: &str, operation_name: Option<&str>) -> Option<Inspection> {
        parse_inspected(query, operation_name).map(|parsed| parsed.inspection)
    }

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

    #[test]
    fn the_shape_counts_brackets_and_tokens_outside_strings_and_comments() {
        let nesting = |query: &str| shape(query).nesting;
        let tokens = |query: &str| shape(query).tokens;

        assert_eq!(nesting("{ a(x: [{ b: 1 }]) { c } }"), 4);
        assert_eq!(nesting("{ a(x: \"{{{{\\\"{{\") # {{{{\n }"), 2);
        assert_eq!(nesting("{ a(x: \"\"\"{{ \\\"\"\" {{\n{{\"\"\") }"), 2);
        assert_eq!(nesting("{ a(x: \"unterminated\n{{{"), 5);
        assert_eq!(nesting(&"{a".repeat(100_000)), 100_000);
        assert_eq!(nesting("}}}{"), 1);
        assert_eq!(
            tokens("query Q($n: Int = -1.5e3) { a: viewer(x: \"s { t }\", y: [1, 2]) { role } } # c d e"),
            29
        );
        assert_eq!(tokens(&"{ a }".repeat(1_000)), 3_000);
        assert_eq!(shape("{ a b }").refusal(), None);
        assert!(shape(&"a ".repeat(MAX_TOKENS + 1)).refusal().is_some());
    }

    #[test]
    fn selections_count_each_fragment_where_it_is_spread_and_a_cycle_as_too_many() {
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..40 {
            bomb.push_str(&format!(
                " fragment F{i} on Query {{ ...F{next} ...F{next} }}",
                next = i + 1
            ));
        }
        bomb.push_str(" fragment F40 on Query { __typename }");

        let plain = inspect(
            "{ viewer { role } ...V } fragment V on Query { viewer { userId } }",
            None,
        );
        let exploded = inspect(&bomb, None).expect("parses");
        let cycle = inspect(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            None,
        );

        assert_eq!(plain.map(|i| i.selections), Some(5));
        assert!(exploded.selections > MAX_SELECTIONS, "{}", exploded.selections);
        assert_eq!(cycle.map(|i| i.selections), Some(usize::MAX));
    }
}
