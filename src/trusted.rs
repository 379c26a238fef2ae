//! Trusted documents: the contract's operations, compiled in, each known by the SHA-256
//! of its text. With `trusted_documents = "enforce"` a MEMBER token runs nothing else,
//! so whoever holds a member's token (a script on a dealer's page, say) cannot send a
//! query of their own: no probing of the schema, no costly query built to hurt. OPS and
//! RENDERER tokens, the platform's own systems, may still send any document. Under
//! either setting, any caller may send a document's hash alone, Apollo style
//! (`extensions.persistedQuery.sha256Hash` and no `query`), and the hash selects the
//! text.
//!
//! A document is one operation of a file of `contract/operations/` and the fragments
//! it spreads, directly or through other fragments: each definition exactly as written
//! in the file (from its first keyword to its closing brace, comments inside it kept),
//! in the order of the file, separated by one blank line, with one newline at the end.
//! Its hash is the SHA-256 of that text in UTF-8, in lowercase hex. `trusted-documents.json`
//! lists them all (Apollo's persisted query manifest), and a test keeps it current.
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use async_graphql::Request;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Pos, Value};
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::config::TrustedDocuments;
use crate::graphql::inspect::lexemes;

/// The files of `contract/operations/`, compiled in; a test checks that none is
/// missing from this list.
pub const CONTRACT: [(&str, &str); 5] = [
    (
        "billing.graphql",
        include_str!("../contract/operations/billing.graphql"),
    ),
    ("header.graphql", include_str!("../contract/operations/header.graphql")),
    ("ops.graphql", include_str!("../contract/operations/ops.graphql")),
    (
        "renderer.graphql",
        include_str!("../contract/operations/renderer.graphql"),
    ),
    ("studio.graphql", include_str!("../contract/operations/studio.graphql")),
];

/// One operation of the contract, as clients send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDocument {
    /// The operation's name.
    pub name: String,
    pub kind: OperationType,
    /// The text that is hashed and run.
    pub text: String,
    /// The SHA-256 of `text`, lowercase hex.
    pub sha256: String,
}

/// Every trusted document, by file (in [`CONTRACT`]'s order) and then as in the file.
pub fn documents() -> &'static [TrustedDocument] {
    &TRUSTED.documents
}

/// Apollo's persisted query manifest of the trusted documents: what clients and their
/// build tools take the hashes from (`trusted-documents.json` holds it).
pub fn manifest() -> serde_json::Value {
    let operations: Vec<serde_json::Value> = documents()
        .iter()
        .map(|document| {
            serde_json::json!({
                "id": document.sha256,
                "name": document.name,
                "type": kind_name(document.kind),
                "body": document.text,
            })
        })
        .collect();
    serde_json::json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": operations,
    })
}

/// Why a request was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A hash sent without text names no trusted document (`PERSISTED_QUERY_NOT_FOUND`).
    UnknownHash(String),
    /// A hash sent with text is not that text's (`BAD_USER_INPUT`).
    HashMismatch,
    /// The text is no trusted document's, and the caller is held to them
    /// (`DOCUMENT_NOT_TRUSTED`).
    NotTrusted,
}

impl Refusal {
    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Refusal::UnknownHash(hash) => format!("PersistedQueryNotFound: no trusted document has the SHA-256 {hash}."),
            Refusal::HashMismatch => "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent.".into(),
            Refusal::NotTrusted => {
                "Only the contract's documents run for this token; send one of trusted-documents.json, or its sha256Hash."
                    .into()
            }
        }
    }
}

/// Lets `request`, sent by a caller of `role` (none: no token), run under `mode`, or
/// says why not. A persisted-query hash sent without text puts its document's text in
/// the request.
pub fn admit(mode: TrustedDocuments, role: Option<Role>, request: &mut Request) -> Result<(), Refusal> {
    if let Some(hash) = persisted_hash(request) {
        if request.query.is_empty() {
            let document = TRUSTED
                .by_hash(hash)
                .ok_or_else(|| Refusal::UnknownHash(hash.to_owned()))?;
            request.query = document.text.clone();
            return Ok(());
        }
        if !hash.eq_ignore_ascii_case(&sha256_hex(&request.query)) {
            return Err(Refusal::HashMismatch);
        }
    }
    let held = mode == TrustedDocuments::Enforce && role == Some(Role::Member);
    if held && !TRUSTED.by_text.contains_key(request.query.as_str()) {
        return Err(Refusal::NotTrusted);
    }
    Ok(())
}

/// The text `request` would run: its own, or the one its persisted-query hash names.
pub fn text(request: &Request) -> &str {
    match persisted_hash(request) {
        Some(hash) if request.query.is_empty() => TRUSTED.by_hash(hash).map_or("", |document| document.text.as_str()),
        _ => &request.query,
    }
}

/// `extensions.persistedQuery.sha256Hash`, when the request carries it.
fn persisted_hash(request: &Request) -> Option<&str> {
    let Some(Value::Object(persisted)) = request.extensions.get("persistedQuery") else {
        return None;
    };
    match persisted.get("sha256Hash") {
        Some(Value::String(hash)) => Some(hash),
        _ => None,
    }
}

/// The documents, and the same by hash and by text.
struct Trusted {
    documents: Vec<TrustedDocument>,
    by_hash: HashMap<String, usize>,
    by_text: HashMap<String, usize>,
}

impl Trusted {
    fn by_hash(&self, hash: &str) -> Option<&TrustedDocument> {
        self.by_hash
            .get(hash.to_ascii_lowercase().as_str())
            .map(|&i| &self.documents[i])
    }
}

static TRUSTED: LazyLock<Trusted> = LazyLock::new(|| {
    let documents: Vec<TrustedDocument> = CONTRACT
        .iter()
        .flat_map(|(file, text)| {
            // Compiled in: a file that does not split fails every build's tests
            // (tests/it/trusted_documents.rs), never a request.
            split(text).unwrap_or_else(|problem| panic!("contract/operations/{file}: {problem}"))
        })
        .collect();
    let by_hash = documents
        .iter()
        .enumerate()
        .map(|(i, d)| (d.sha256.clone(), i))
        .collect();
    let by_text = documents.iter().enumerate().map(|(i, d)| (d.text.clone(), i)).collect();
    Trusted {
        documents,
        by_hash,
        by_text,
    }
});

/// The documents of one file of operations: one per operation (see the module's doc).
pub fn split(file: &str) -> Result<Vec<TrustedDocument>, String> {
    let parsed = async_graphql::parser::parse_query(file).map_err(|e| e.to_string())?;
    let operations: Vec<(String, OperationType, Pos, &SelectionSet)> = match &parsed.operations {
        DocumentOperations::Single(_) => return Err("an operation has no name".into()),
        DocumentOperations::Multiple(operations) => operations
            .iter()
            .map(|(name, op)| (name.to_string(), op.node.ty, op.pos, &op.node.selection_set.node))
            .collect(),
    };
    let mut documents = Vec::new();
    for (name, kind, pos, selection_set) in operations {
        let mut used = BTreeSet::new();
        spreads(&parsed, selection_set, &mut used)?;
        let start = offset(file, pos)?;
        let mut starts = vec![start];
        for fragment in &used {
            let definition = &parsed.fragments[fragment.as_str()];
            starts.push(offset(file, definition.pos)?);
        }
        starts.sort_unstable();
        let parts = starts
            .into_iter()
            .map(|start| Ok(&file[start..end_of_definition(file, start)?]))
            .collect::<Result<Vec<&str>, String>>()?;
        let text = format!("{}\n", parts.join("\n\n"));
        documents.push((start, name, kind, text));
    }
    documents.sort_by_key(|(start, ..)| *start);
    Ok(documents
        .into_iter()
        .map(|(_, name, kind, text)| TrustedDocument {
            sha256: sha256_hex(&text),
            name,
            kind,
            text,
        })
        .collect())
}

/// The fragments `set` spreads, directly or through fragments and inline fragments.
fn spreads(document: &ExecutableDocument, set: &SelectionSet, used: &mut BTreeSet<String>) -> Result<(), String> {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => spreads(document, &field.node.selection_set.node, used)?,
            Selection::InlineFragment(fragment) => spreads(document, &fragment.node.selection_set.node, used)?,
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                let definition = document
                    .fragments
                    .get(name.as_str())
                    .ok_or_else(|| format!("the fragment {name} is not defined"))?;
                if used.insert(name) {
                    spreads(document, &definition.node.selection_set.node, used)?;
                }
            }
        }
    }
    Ok(())
}

/// The byte offset of the parser's `pos` (1-based line, and column in characters).
fn offset(file: &str, pos: Pos) -> Result<usize, String> {
    let line_start = if pos.line <= 1 {
        0
    } else {
        file.match_indices('\n')
            .nth(pos.line - 2)
            .map(|(i, _)| i + 1)
            .ok_or_else(|| format!("no line {}", pos.line))?
    };
    file[line_start..]
        .char_indices()
        .nth(pos.column.saturating_sub(1))
        .map(|(i, _)| line_start + i)
        .ok_or_else(|| format!("no column {} on line {}", pos.column, pos.line))
}

/// Where the definition that starts at `start` ends: just after the `}` that closes
/// its brackets, strings and comments skipped.
fn end_of_definition(file: &str, start: usize) -> Result<usize, String> {
    let mut depth = 0_usize;
    for (end, byte) in lexemes(file, start) {
        match byte {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && byte == b'}' {
                    return Ok(end);
                }
            }
            _ => {}
        }
    }
    Err(format!("the definition at byte {start} does not end"))
}

fn kind_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# A file.\n\nfragment A on Balance { available ...B }\n\nquery One($x: In = {a: \"}\"}) {\n  # a } in a comment\n  viewer { balance { ...A } }\n}\n\nfragment B on Balance { unlimited }\nfragment Unused on Balance { asOf }\n\nmutation Two { m(s: \"\"\"{ \\\"\"\" }\"\"\") { ok } }\n";

    #[test]
    fn an_operation_takes_the_fragments_it_spreads_in_the_order_of_the_file() {
        let documents = split(FILE).expect("splits");

        let texts: Vec<(&str, &str)> = documents.iter().map(|d| (d.name.as_str(), d.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (
                    "One",
                    "fragment A on Balance { available ...B }\n\nquery One($x: In = {a: \"}\"}) {\n  # a } in a comment\n  viewer { balance { ...A } }\n}\n\nfragment B on Balance { unlimited }\n"
                ),
                ("Two", "mutation Two { m(s: \"\"\"{ \\\"\"\" }\"\"\") { ok } }\n"),
            ]
        );
        assert_eq!(
            documents[1].sha256,
            sha256_hex("mutation Two { m(s: \"\"\"{ \\\"\"\" }\"\"\") { ok } }\n")
        );
        assert_eq!(documents[0].kind, OperationType::Query);
    }

    #[test]
    fn the_hash_of_a_text_is_its_sha256_in_lowercase_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
