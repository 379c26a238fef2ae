//! Which documents only ask about the schema. On a public schema such a document runs
//! without a token, so that GraphiQL's docs and completion load before a token is
//! pasted; everything else still needs one (see `http.rs`).
use std::collections::HashSet;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};

use crate::graphql::inspect::parse_inspected;
use crate::graphql::{MAX_ALIASES, MAX_SELECTIONS};

/// The root fields that read the schema and nothing else.
const SCHEMA_FIELDS: [&str; 3] = ["__schema", "__type", "__typename"];

/// Whether the operation `query` would run for `operation_name` is a query whose root
/// selects nothing but `__schema`, `__type` and `__typename`, none of them under an
/// alias (so an answer's `data` names only those fields), fragments included. Below
/// those fields there are only the schema's own types, never a resolver of the
/// service. A document that does not parse, is over the limits, or names no single
/// operation is not one.
pub fn only_introspection(query: &str, operation_name: Option<&str>) -> bool {
    let Some(parsed) = parse_inspected(query, operation_name) else {
        return false;
    };
    // Refused before it runs in any case; and the walk below follows every spread, so a
    // few fragments spreading each other three times would make it exponential. Within
    // the limit it visits at most that many selections.
    if parsed.inspection.selections > MAX_SELECTIONS || parsed.inspection.aliases > MAX_ALIASES {
        return false;
    }
    let document = &parsed.document;
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Single(_), Some(_)) => return false,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return false,
        },
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => match operations.values().next() {
            Some(operation) => operation,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    operation.node.ty == OperationType::Query
        && selects_only_schema(document, &operation.node.selection_set.node, &mut HashSet::new())
}

/// Whether every field `set` selects at its own level, through inline fragments and
/// spreads, is an unaliased schema field; `spread` holds the fragments being walked, so
/// a fragment spreading itself ends the walk (validation refuses it anyway).
fn selects_only_schema<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    spread: &mut HashSet<&'a str>,
) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field.node.alias.is_none() && SCHEMA_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) => selects_only_schema(document, &fragment.node.selection_set.node, spread),
        Selection::FragmentSpread(fragment) => {
            let name = fragment.node.fragment_name.node.as_str();
            let Some(definition) = document.fragments.get(name) else {
                return false;
            };
            if !spread.insert(name) {
                return false;
            }
            let only = selects_only_schema(document, &definition.node.selection_set.node, spread);
            spread.remove(name);
            only
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_of_schema_fields_only_is_introspection() {
        for (query, operation_name) in [
            ("{ __schema { queryType { name } } }", None),
            ("{ __typename }", None),
            ("{ __type(name: \"Viewer\") { fields { name } } __typename }", None),
            ("query IntrospectionQuery { __schema { types { name } } }", None),
            ("query A { __typename } query B { viewer { role } }", Some("A")),
            (
                "{ ...S } fragment S on Query { ... on Query { __schema { description } } }",
                None,
            ),
            ("{ __typename @include(if: true) }", None),
        ] {
            assert!(only_introspection(query, operation_name), "{query}");
        }
    }

    /// 40 fragments each spreading the next three times: 3^40 `__typename`s expanded.
    fn fragment_bomb() -> String {
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..40 {
            let next = i + 1;
            bomb.push_str(&format!(
                " fragment F{i} on Query {{ ...F{next} ...F{next} ...F{next} }}"
            ));
        }
        bomb.push_str(" fragment F40 on Query { __typename }");
        bomb
    }

    #[test]
    fn anything_else_is_not() {
        for (query, operation_name) in [
            ("{ viewer { role } }", None),
            ("{ __typename viewer { role } }", None),
            ("{ __schema { description } backgrounds { id } }", None),
            ("{ viewer: __typename }", None),
            ("{ a: __schema { description } }", None),
            ("{ ...S } fragment S on Query { viewer { role } }", None),
            ("{ ... on Query { viewer { role } } }", None),
            ("{ ...Missing }", None),
            (
                "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
                None,
            ),
            ("mutation { __typename }", None),
            ("subscription { __typename }", None),
            ("query A { __typename } query B { viewer { role } }", Some("B")),
            ("query A { __typename } query B { __typename }", None),
            ("query A { __typename }", Some("C")),
            ("{ __typename }", Some("A")),
            ("{ __typename", None),
            ("", None),
            (&fragment_bomb(), None),
        ] {
            assert!(!only_introspection(query, operation_name), "{query}");
        }
    }
}
