//! The schema against the contract: `schema.graphql` is the generated SDL, and every
//! operation the clients send validates against it.
use std::path::{Path, PathBuf};

use async_graphql::async_trait::async_trait;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Request, Response, Value};
use std::sync::Arc;

/// Stops every request after validation: nothing resolves, so no data is needed.
struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_trait]
impl Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::new(Value::Null)
    }
}

fn operations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/operations")
}

#[test]
fn schema_graphql_is_the_sdl_the_code_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let generated = studio_bff::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema.graphql");
    }
    let committed = std::fs::read_to_string(&path).expect("schema.graphql at the repo root");
    assert!(
        committed == generated,
        "schema.graphql differs from the code's SDL; run `UPDATE_SCHEMA=1 cargo test --test api_schema` and review the diff"
    );
}

#[tokio::test]
async fn every_contract_operation_validates_against_the_schema() {
    let schema = studio_bff::graphql::builder().extension(ValidateOnly).finish();
    let unknown = schema.execute("{ viewer { noSuchField } }").await;
    assert_eq!(unknown.errors.len(), 1, "validation runs: {:?}", unknown.errors);
    let mut files: Vec<PathBuf> = std::fs::read_dir(operations_dir())
        .expect("contract/operations")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "the contract has four operation files");
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("an operation file");
        let document = async_graphql::parser::parse_query(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        for (name, _) in document.operations.iter() {
            let name = name.expect("contract operations are named").to_string();
            let response = schema
                .execute(Request::new(text.clone()).operation_name(name.clone()))
                .await;
            assert!(
                response.errors.is_empty(),
                "{} / {name}: {:?}",
                file.display(),
                response.errors
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 15, "operations validated");
}
