//! Parsed documents kept by their text. The clients send the same few operations of the
//! contract over and over, so each is parsed and inspected once per instance instead of
//! twice per request (profiling HeaderBalanceInitial showed parsing as the largest cost
//! of the service's own; see bench/RESULTS.md).
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

use super::inspect::{Parsed, parse_inspected};

/// Most documents kept; the least recently used goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");
/// Longest document kept, in bytes: the contract's operations are well under it, and
/// the cache stays under a few MiB whatever clients send.
const MAX_KEPT_LEN: usize = 8 * 1024;

/// Documents by their text and the operation name sent with them.
type Kept = LruCache<(String, Option<String>), Arc<Parsed>>;

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
    pub fn get(&self, query: &str, operation_name: Option<&str>) -> Option<Arc<Parsed>> {
        let key = (query.to_owned(), operation_name.map(str::to_owned));
        if let Some(kept) = self.lock().get(&key) {
            return Some(Arc::clone(kept));
        }
        // Parsed outside the lock: other requests are not held up by a big document.
        let parsed = Arc::new(parse_inspected(query, operation_name)?);
        if query.len() <= MAX_KEPT_LEN {
            self.lock().put(key, Arc::clone(&parsed));
        }
        Some(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::OperationType;

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
            first.inspection.operation,
            Some((Some("A".into()), OperationType::Query))
        );
        assert_eq!(
            other.inspection.operation,
            Some((Some("B".into()), OperationType::Mutation))
        );
        assert!(documents.get("{ not graphql", None).is_none());
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
