//! The layout of `src/`. Which code touches storage: the ledger (`src/ledger/`) writes
//! and the read side (`src/reads/`) reads; the API (`src/graphql/`) asks them and names
//! neither sea-orm nor the entities, so a statement cannot creep back into a resolver.
//! And no two files import each other, directly or around a circle; a module's own
//! children do not count against it (a `mod.rs` declares and re-exports them, and
//! they use what it defines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, depth first.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_file_of_the_api_mentions_sea_orm_or_the_entities() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql");
    let files = rust_files(&api);
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            if line.contains("entity::") || line.contains("sea_orm") {
                offences.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
            }
        }
    }

    assert!(files.len() >= 10, "src/graphql/ holds the API: {files:?}");
    assert!(
        offences.is_empty(),
        "the API reads through crate::reads and writes through crate::ledger:\n{}",
        offences.join("\n")
    );
}

/// Every file of `src/` but the binary's `main.rs` (a crate of its own), by its module
/// path (`[]` for `lib.rs`).
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .filter(|file| file != &src.join("main.rs"))
        .map(|file| {
            let relative = file.strip_prefix(&src).expect("a file of src/").with_extension("");
            let mut module: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|last| last == "mod" || last == "lib") {
                module.pop();
            }
            (module, file)
        })
        .collect()
}

/// The paths a file names from `crate::` or `super::`, braces expanded, each as the
/// module path it starts from and the segments that follow.
fn named_paths(source: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let ident = |i: usize| bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Bytes, not `str` slices: `i` may fall inside a character of a comment's text.
        let starts = |word: &[u8]| {
            bytes[i..].starts_with(word) && (i == 0 || !(ident(i - 1) || bytes[i - 1] == b'$' || bytes[i - 1] == b':'))
        };
        let base: Option<(Vec<String>, usize)> = if starts(b"crate::") {
            Some((Vec::new(), i + 7))
        } else if starts(b"super::") {
            let mut parent = module.to_vec();
            parent.pop();
            let mut j = i + 7;
            while bytes[j..].starts_with(b"super::") {
                parent.pop();
                j += 7;
            }
            Some((parent, j))
        } else {
            None
        };
        let Some((base, at)) = base else {
            i += 1;
            continue;
        };
        let (paths, end) = parse_tree(&code, at);
        for p in paths {
            let mut full = base.clone();
            full.extend(p);
            found.push(full);
        }
        i = end.max(i + 1);
    }
    found
}

/// Parses `a::b::{c, d::e}` at `at`: the paths it names, and where it ends.
fn parse_tree(code: &str, mut at: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let mut prefix = Vec::new();
    loop {
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        if bytes.get(at) == Some(&b'{') {
            let mut paths = Vec::new();
            at += 1;
            loop {
                while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace() || *b == b',') {
                    at += 1;
                }
                match bytes.get(at) {
                    None => return (paths, at),
                    Some(b'}') => return (paths, at + 1),
                    _ => {}
                }
                let (inner, end) = parse_tree(code, at);
                for p in inner {
                    let mut full = prefix.clone();
                    full.extend(p);
                    paths.push(full);
                }
                if end == at {
                    at += 1;
                } else {
                    at = end;
                }
            }
        }
        let start = at;
        while bytes.get(at).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            at += 1;
        }
        if start == at {
            return (vec![prefix], at);
        }
        prefix.push(code[start..at].to_owned());
        if bytes[at..].starts_with(b"::") {
            at += 2;
        } else {
            return (vec![prefix], at);
        }
    }
}

#[test]
fn no_files_of_src_import_each_other_around_a_circle() {
    let modules = modules();
    let mut edges: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let source = std::fs::read_to_string(file).expect("a source file");
        // A file's unit tests (`mod tests { use super::*; }`) name the file itself.
        let source = source.split("#[cfg(test)]").next().unwrap_or_default();
        for path in named_paths(source, module) {
            // The longest prefix of the path that is a file of src/.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find_map(|p| modules.get_key_value(&p).map(|(k, _)| k));
            let Some(target) = target else { continue };
            let own_child = target.len() > module.len() && target.starts_with(module);
            if target != module && !own_child {
                edges.entry(module).or_default().insert(target);
            }
        }
    }
    assert!(edges.len() > 20, "the walk sees the imports: {}", edges.len());
    // Depth-first search; a node met again while still open closes a circle.
    fn visit<'a>(
        node: &'a Vec<String>,
        edges: &BTreeMap<&'a Vec<String>, BTreeSet<&'a Vec<String>>>,
        open: &mut Vec<&'a Vec<String>>,
        done: &mut BTreeSet<&'a Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = open.iter().position(|n| *n == node) {
            let names: Vec<String> = open[at..]
                .iter()
                .chain([&node])
                .map(|m| if m.is_empty() { "lib".into() } else { m.join("::") })
                .collect();
            circles.push(names.join(" -> "));
            return;
        }
        open.push(node);
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, open, done, circles);
        }
        open.pop();
        done.insert(node);
    }
    let (mut open, mut done, mut circles) = (Vec::new(), BTreeSet::new(), Vec::new());
    for node in modules.keys() {
        visit(node, &edges, &mut open, &mut done, &mut circles);
    }
    assert!(
        circles.is_empty(),
        "import circles among the files of src/:\n{}",
        circles.join("\n")
    );
}
