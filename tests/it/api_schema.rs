//! The schema against the contract: `schema.graphql` is the generated SDL, and every
//! operation the clients send validates against it.
use std::path::{Path, PathBuf};

use async_graphql::async_trait::async_trait;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Request, Response, Value};
use std::sync::Arc;

/// Stops every request after validation: nothing resolves, so no data is needed (also
/// used by `trusted_documents`).
pub struct ValidateOnly;

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
        "schema.graphql differs from the code's SDL; run `UPDATE_SCHEMA=1 cargo test --test it api_schema` and review the diff"
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
    assert_eq!(files.len(), 5, "the contract has five operation files");
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
    assert_eq!(checked, 26, "operations validated");
}

/// Every type, field, argument, input field and enum value of the schema, named as
/// `Type`, `Type.field`, `Type.field(argument)` or `Enum.VALUE`, with whether it has a
/// description.
fn described_parts() -> Vec<(String, bool)> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(studio_bff::graphql::sdl()).expect("the SDL parses");
    let mut parts = Vec::new();
    let has = |d: &Option<async_graphql::Positioned<String>>| d.as_ref().is_some_and(|d| !d.node.trim().is_empty());
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        parts.push((name.clone(), has(&ty.description)));
        let fields = match &ty.kind {
            TypeKind::Object(o) => o.fields.clone(),
            TypeKind::Interface(i) => i.fields.clone(),
            _ => Vec::new(),
        };
        for field in fields {
            let field = field.node;
            let path = format!("{name}.{}", field.name.node);
            parts.push((path.clone(), has(&field.description)));
            for argument in field.arguments {
                parts.push((
                    format!("{path}({})", argument.node.name.node),
                    has(&argument.node.description),
                ));
            }
        }
        match ty.kind {
            TypeKind::InputObject(input) => {
                for field in input.fields {
                    parts.push((format!("{name}.{}", field.node.name.node), has(&field.node.description)));
                }
            }
            TypeKind::Enum(e) => {
                for value in e.values {
                    parts.push((
                        format!("{name}.{}", value.node.value.node),
                        has(&value.node.description),
                    ));
                }
            }
            _ => {}
        }
    }
    parts
}

#[test]
fn every_type_field_argument_input_field_and_enum_value_is_described() {
    let parts = described_parts();
    let missing: Vec<&str> = parts
        .iter()
        .filter(|(_, described)| !described)
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        parts.len() > 250,
        "the walk reaches the whole schema: {} parts",
        parts.len()
    );
    assert!(
        missing.is_empty(),
        "{} of {} parts have no description:\n{}",
        missing.len(),
        parts.len(),
        missing.join("\n")
    );
}
