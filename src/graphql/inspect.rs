//! What a document asks for, read before it runs: its shape (nesting and tokens,
//! counted by a lexer that does not parse), the operation it would run, its aliases,
//! and its selections with every fragment spread where it is used. The limits on each
//! are here; depth and complexity are async-graphql's, set on the schema.
use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

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

/// What a document asks for, read before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The operation that would run: its name and type.
    pub operation: Option<(Option<String>, OperationType)>,
    /// The name of the operation's one root field, when it selects that field alone,
    /// plainly: no fragment and no directive.
    pub root_field: Option<String>,
    /// Whether the operation's root selection holds a fragment, spread or inline.
    /// async-graphql runs only the plain fields at a subscription's root: a subscription
    /// rooted in a fragment would run nothing and never answer.
    pub root_fragment: bool,
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
    let chosen = match &document.operations {
        DocumentOperations::Single(op) => Some((None, op)),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(n, op)| (Some(n), op)),
            None if ops.len() == 1 => ops.iter().next().map(|(n, op)| (Some(n), op)),
            None => None,
        },
    };
    let operation = chosen.map(|(name, op)| (name.map(Name::to_string), op.node.ty));
    let root_field = chosen.and_then(|(_, op)| only_field(&op.node.selection_set.node));
    let root_fragment = chosen.is_some_and(|(_, op)| {
        op.node
            .selection_set
            .node
            .items
            .iter()
            .any(|item| !matches!(item.node, Selection::Field(_)))
    });
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
            root_field,
            root_fragment,
            aliases,
            selections,
        },
        document,
    })
}

/// The name of the one field `set` selects, when it selects one field, plainly.
fn only_field(set: &SelectionSet) -> Option<String> {
    match set.items.as_slice() {
        [item] => match &item.node {
            Selection::Field(field) if field.node.directives.is_empty() => Some(field.node.name.node.to_string()),
            _ => None,
        },
        _ => None,
    }
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
    let mut depth = 0_usize;
    let mut shape = Shape { nesting: 0, tokens: 0 };
    for (_, byte) in lexemes(query, 0) {
        if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b',') {
            shape.tokens += 1;
        }
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                shape.nesting = shape.nesting.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    shape
}

/// The lexemes of `text` from byte `from`, as the GraphQL lexer sees them: each as
/// its first byte and the offset just after it. A string is one lexeme (`"`), a name
/// or a number is one (its first byte), a comment is none, any other byte is itself.
/// One pass, no allocation, whatever the text.
pub fn lexemes(text: &str, from: usize) -> impl Iterator<Item = (usize, u8)> + '_ {
    let bytes = text.as_bytes();
    let mut i = from;
    std::iter::from_fn(move || {
        loop {
            let byte = *bytes.get(i)?;
            i += 1;
            match byte {
                b'#' => {
                    while bytes.get(i).is_some_and(|b| !matches!(b, b'\n' | b'\r')) {
                        i += 1;
                    }
                    continue;
                }
                b'"' if bytes[i..].starts_with(b"\"\"") => {
                    i += 2;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                    }
                    i = (i + 3).min(bytes.len());
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
                    i = i.min(bytes.len());
                }
                // A name or a number: the rest of it is the same lexeme.
                _ if is_word(byte) => {
                    while bytes.get(i).copied().is_some_and(is_word) {
                        i += 1;
                    }
                }
                _ => {}
            }
            return Some((i, byte));
        }
    })
}

/// Whether `byte` belongs to a name or a number (or to text the lexer would refuse,
/// which counts as one lexeme with its neighbours).
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'+' | b'.') || !byte.is_ascii()
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
    fn the_root_field_is_named_only_when_the_operation_selects_it_alone_and_plainly() {
        let root = |query: &str, name: Option<&str>| parse_inspected(query, name).and_then(|p| p.inspection.root_field);

        assert_eq!(
            root("subscription { b: balanceChanged { available } }", None).as_deref(),
            Some("balanceChanged")
        );
        assert_eq!(
            root(
                "subscription A { editChanged { id } } subscription B { balanceChanged { asOf } }",
                Some("B")
            )
            .as_deref(),
            Some("balanceChanged")
        );
        assert_eq!(
            root("subscription { balanceChanged { asOf } editChanged { id } }", None),
            None
        );
        assert_eq!(
            root(
                "subscription { ...F } fragment F on Subscription { balanceChanged { asOf } }",
                None
            ),
            None
        );
        assert_eq!(
            root("subscription { balanceChanged @include(if: true) { asOf } }", None),
            None
        );
        assert_eq!(
            root(
                "subscription A { editChanged { id } } subscription B { balanceChanged { asOf } }",
                None
            ),
            None
        );
    }

    #[test]
    fn a_fragment_at_the_root_of_the_chosen_operation_is_seen() {
        let root_fragment = |query: &str, name: Option<&str>| inspect(query, name).map(|i| i.root_fragment);

        assert_eq!(
            root_fragment(
                "subscription { ...F } fragment F on Subscription { editChanged { id } }",
                None
            ),
            Some(true)
        );
        assert_eq!(
            root_fragment("subscription { ... @include(if: true) { editChanged { id } } }", None),
            Some(true)
        );
        assert_eq!(
            root_fragment(
                "subscription { editChanged { ...E } } fragment E on PhotoEdit { id }",
                None
            ),
            Some(false)
        );
        assert_eq!(
            root_fragment(
                "query A { ...Q } subscription B { editChanged { id } } fragment Q on Query { viewer { role } }",
                Some("B")
            ),
            Some(false)
        );
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
