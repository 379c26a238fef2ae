//! Which code touches storage. The ledger (`src/ledger/`) writes and the read side
//! (`src/reads/`) reads; the API (`src/graphql/`) asks them and names neither sea-orm
//! nor the entities, so a statement cannot creep back into a resolver.

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
