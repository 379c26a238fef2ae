//! The client operations the benchmarks send, read from the binding contract
//! (`contract/operations/*.graphql`): each operation with the fragments it
//! spreads, exactly as the front ends send it.
use std::collections::BTreeMap;
use std::path::Path;

use crate::{Result, bail};

/// The documents of the operations the harness uses, by operation name.
pub struct Operations {
    documents: BTreeMap<String, String>,
}

/// The operations the harness sends.
pub const USED: &[&str] = &[
    "HeaderBalanceInitial",
    "HeaderBalanceLive",
    "ApplyChanges",
    "BillingPage",
    "BuyPack",
    "CreateAccount",
    "RegisterPhotos",
];

impl Operations {
    /// Reads every `*.graphql` file of `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut definitions = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("the contract at {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "graphql") {
                definitions.extend(definitions_of(&std::fs::read_to_string(&path)?));
            }
        }
        let fragments: BTreeMap<String, String> = definitions
            .iter()
            .filter(|(kind, _, _)| kind == "fragment")
            .map(|(_, name, text)| (name.clone(), text.clone()))
            .collect();
        let mut documents = BTreeMap::new();
        for (kind, name, text) in &definitions {
            if kind == "fragment" {
                continue;
            }
            let mut needed: Vec<String> = Vec::new();
            let mut queue = spreads(text);
            while let Some(fragment) = queue.pop() {
                if needed.contains(&fragment) {
                    continue;
                }
                let Some(body) = fragments.get(&fragment) else {
                    bail!("the operation {name} spreads the unknown fragment {fragment}");
                };
                queue.extend(spreads(body));
                needed.push(fragment);
            }
            let mut document = text.clone();
            for fragment in needed {
                document.push_str("\n\n");
                document.push_str(&fragments[&fragment]);
            }
            documents.insert(name.clone(), document);
        }
        for name in USED {
            if !documents.contains_key(*name) {
                bail!("the contract in {} has no operation {name}", dir.display());
            }
        }
        Ok(Operations { documents })
    }

    /// The document of operation `name`.
    pub fn get(&self, name: &str) -> &str {
        &self.documents[name]
    }
}

/// The top-level definitions of a document: (keyword, name, text).
fn definitions_of(source: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut in_string = false;
    let mut in_comment = false;
    let bytes = source.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if in_comment {
            in_comment = c != b'\n';
            continue;
        }
        if in_string {
            in_string = c != b'"' || bytes[i - 1] == b'\\';
            continue;
        }
        match c {
            b'#' => in_comment = true,
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(s) = start.take()
                {
                    let text = source[s..=i].to_owned();
                    let mut words = text.split(|c: char| c.is_whitespace() || c == '(' || c == '{');
                    let keyword = words.next().unwrap_or_default().to_owned();
                    let name = words.find(|w| !w.is_empty()).unwrap_or_default().to_owned();
                    out.push((keyword, name, text));
                }
            }
            _ if depth == 0 && start.is_none() && c.is_ascii_alphabetic() => start = Some(i),
            _ => {}
        }
    }
    out
}

/// The fragments `text` spreads (`...Name`, not inline `... on Type`).
fn spreads(text: &str) -> Vec<String> {
    text.match_indices("...")
        .filter_map(|(i, _)| {
            let rest = text[i + 3..].trim_start();
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && name != "on").then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_comes_with_the_fragments_it_spreads() {
        let source = "# header\nfragment F on B { a ...G }\nfragment G on B { b }\nquery Q { x { ...F } }\nsubscription S { y { ... on B { c } } }\n";
        let defs = definitions_of(source);
        let names: Vec<_> = defs.iter().map(|(k, n, _)| format!("{k} {n}")).collect();
        assert_eq!(names, ["fragment F", "fragment G", "query Q", "subscription S"]);
        assert_eq!(spreads("query Q { x { ...F ... on B { c } } }"), ["F"]);
    }
}
