//! Parsed documents kept by their text, and what validating them found. The clients
//! send the same few operations of the contract over and over, so each is parsed and
//! inspected once per instance instead of twice per request (profiling
//! HeaderBalanceInitial showed parsing as the largest cost of the service's own; see
//! bench/profiling.md), and validated once for each set of variables it comes with:
//! validation reads nothing but the document, the operation's name, the variables and
//! the schema.
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{Request, ServerError, ValidationResult};
use lru::LruCache;

use super::inspect::{Parsed, parse_inspected};

/// Most documents kept; the least recently used goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");
/// Longest document kept, in bytes: the contract's operations are well under it, and
/// the cache stays under a few MiB whatever clients send.
const MAX_KEPT_LEN: usize = 8 * 1024;

/// Documents by their text and the operation name sent with them.
type Kept = LruCache<(String, Option<String>), Arc<Document>>;

/// A document as parsed and inspected, and what validating it found.
pub struct Document {
    pub parsed: Parsed,
    validated: Validations,
}

impl Document {
    /// `request`, which runs this document, handed it parsed, and with what validating
    /// it finds kept ([`Keep`]) unless its variables are too long to keep.
    pub fn hand_to(self: &Arc<Self>, mut request: Request) -> Request {
        request.set_parsed_query(self.parsed.document.clone());
        match Keep::for_request(self, &request) {
            Some(keep) => request.data(keep),
            None => request,
        }
    }
}

/// The cache; one per schema, shared by every request.
pub struct Documents {
    kept: Mutex<Kept>,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            kept: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl Documents {
    /// `query` parsed and inspected for `operation_name`, from the cache or now; `None`
    /// when it does not parse or its shape is refused ([`parse_inspected`]).
    pub fn get(&self, query: &str, operation_name: Option<&str>) -> Option<Arc<Document>> {
        let key = (query.to_owned(), operation_name.map(str::to_owned));
        if let Some(kept) = self.lock().get(&key) {
            return Some(Arc::clone(kept));
        }
        // Parsed outside the lock: other requests are not held up by a big document.
        let document = Arc::new(Document {
            parsed: parse_inspected(query, operation_name)?,
            validated: Validations::default(),
        });
        if query.len() <= MAX_KEPT_LEN {
            self.lock().put(key, Arc::clone(&document));
        }
        Some(document)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Most sets of variables whose validation is kept per document; the least recently
/// used goes first. A page's cursor changes with every page, the first page's
/// variables (or none) come again and again.
const VALIDATIONS_PER_DOCUMENT: NonZeroUsize = NonZeroUsize::new(16).expect("not zero");
/// Longest variables, as JSON, whose validation is kept: a set of ids or an apply's
/// input is validated each time, and the cache stays small whatever clients send.
const MAX_KEPT_VARIABLES_LEN: usize = 1024;

/// What async-graphql's validation found for one document, by the variables it was
/// sent with (as JSON): validation reads them (a variable's value against its
/// argument's type, the complexity of `first: $n`).
struct Validations(Mutex<LruCache<String, ValidationResult>>);

impl Default for Validations {
    fn default() -> Self {
        Validations(Mutex::new(LruCache::new(VALIDATIONS_PER_DOCUMENT)))
    }
}

impl Validations {
    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, ValidationResult>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// In a request's data: the kept document it runs and its variables, whose validation
/// [`KeptValidation`] keeps.
struct Keep {
    document: Arc<Document>,
    variables: String,
}

impl Keep {
    /// For `request`, which runs `document`, unless its variables are too long to keep.
    fn for_request(document: &Arc<Document>, request: &Request) -> Option<Keep> {
        let variables = serde_json::to_string(&request.variables).ok()?;
        (variables.len() <= MAX_KEPT_VARIABLES_LEN).then(|| Keep {
            document: Arc::clone(document),
            variables,
        })
    }
}

/// The schema's extension that validates a request holding a [`Keep`] once per
/// document and variables: the first such request is validated, and what it found
/// (complexity, depth) answers the next ones. A refusal is never kept: each such
/// request is validated again, and refused with async-graphql's own errors.
pub struct KeptValidation;

impl ExtensionFactory for KeptValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(KeptValidation)
    }
}

#[async_trait::async_trait]
impl Extension for KeptValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(keep) = ctx.data_opt::<Keep>() else {
            return next.run(ctx).await;
        };
        if let Some(kept) = keep.document.validated.lock().get(&keep.variables) {
            return Ok(*kept);
        }
        let found = next.run(ctx).await?;
        keep.document.validated.lock().put(keep.variables.clone(), found);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::Variables;
    use async_graphql::parser::types::OperationType;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_answered_for_its_operation() {
        let documents = Documents::default();
        let text =
            "query A { viewer { role } } mutation B { addLogo(input: {name: \"x\", imageUrl: \"y\"}) { logo { id } } }";

        let first = documents.get(text, Some("A")).expect("parses");
        let again = documents.get(text, Some("A")).expect("parses");
        let other = documents.get(text, Some("B")).expect("parses");

        assert!(Arc::ptr_eq(&first, &again), "the second request reuses the first parse");
        assert_eq!(
            first.parsed.inspection.operation,
            Some((Some("A".into()), OperationType::Query))
        );
        assert_eq!(
            other.parsed.inspection.operation,
            Some((Some("B".into()), OperationType::Mutation))
        );
        assert!(documents.get("{ not graphql", None).is_none());
    }

    /// Counts the validations that reach it, placed after [`KeptValidation`].
    struct CountValidations(Arc<AtomicUsize>);

    impl ExtensionFactory for CountValidations {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(CountValidations(Arc::clone(&self.0)))
        }
    }

    #[async_trait::async_trait]
    impl Extension for CountValidations {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<ValidationResult, Vec<ServerError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            next.run(ctx).await
        }
    }

    #[tokio::test]
    async fn a_document_is_validated_once_for_each_set_of_variables_and_a_refusal_each_time() {
        let validated = Arc::new(AtomicUsize::new(0));
        let schema = crate::graphql::builder()
            .extension(CountValidations(Arc::clone(&validated)))
            .finish();
        let documents = Documents::default();
        let run = |query: &str, variables: serde_json::Value| {
            let request = Request::new(query).variables(Variables::from_json(variables));
            let kept = documents.get(query, None).expect("parses");
            schema.execute(kept.hand_to(request))
        };
        let errors =
            |response: async_graphql::Response| response.errors.into_iter().map(|e| e.message).collect::<Vec<_>>();
        let count = || validated.load(Ordering::SeqCst);

        let plain = "{ __typename }";
        assert_eq!(errors(run(plain, json!({})).await), [""; 0]);
        assert_eq!(errors(run(plain, json!({})).await), [""; 0]);
        assert_eq!(count(), 1, "the second request reuses the first's validation");

        // Validated, then refused in execution: this schema holds no ledger to read.
        let node = "query Q($id: ID!) { node(id: $id) { __typename } }";
        run(node, json!({"id": "a"})).await;
        run(node, json!({"id": "b"})).await;
        run(node, json!({"id": "a"})).await;
        assert_eq!(count(), 3, "validated once for each set of variables");
        let long = "x".repeat(MAX_KEPT_VARIABLES_LEN);
        run(node, json!({ "id": long })).await;
        run(node, json!({ "id": long })).await;
        assert_eq!(count(), 5, "variables too long to keep are validated each time");

        let unknown = "{ nope }";
        let first = errors(run(unknown, json!({})).await);
        let again = errors(run(unknown, json!({})).await);
        assert_eq!(first, [r#"Unknown field "nope" on type "Query". Did you mean "node"?"#]);
        assert_eq!(again, first, "a refusal is not kept");
        assert_eq!(count(), 7);
    }

    #[test]
    fn big_documents_are_not_kept() {
        let documents = Documents::default();
        let big = format!("{{ viewer {{ role }} }} # {}", "x".repeat(MAX_KEPT_LEN));

        let first = documents.get(&big, None).expect("parses");
        let again = documents.get(&big, None).expect("parses");

        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(documents.lock().len(), 0);
    }
}
