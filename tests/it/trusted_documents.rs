//! Trusted documents (`trusted_documents`): the contract's operations split into one
//! document each and listed in `trusted-documents.json`; under `enforce` a member runs
//! them only, by text or by `extensions.persistedQuery.sha256Hash`, over HTTP and
//! WebSocket, while OPS sends anything; under `off` anything runs.
#![allow(clippy::result_large_err)]

use std::path::Path;

use async_graphql::Request;
use axum::body::Body;
use axum::http::StatusCode;
use entity::enums::PlanCode;
use figment::Jail;
use serde_json::{Value, json};
use studio_bff::config::Config;
use studio_bff::config::TrustedDocuments;
use studio_bff::trusted;

use crate::api_schema::ValidateOnly;
use crate::api_support::ws::{Server, connect, initialise, receive, send};
use crate::api_support::{TestApp, error_code};

const UNKNOWN_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn enforcing() -> Config {
    Config {
        trusted_documents: TrustedDocuments::Enforce,
        ..Config::default()
    }
}

/// The trusted document of the operation `name`.
fn document(name: &str) -> &'static trusted::TrustedDocument {
    trusted::documents()
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no trusted document {name}"))
}

fn by_hash(hash: &str) -> Value {
    json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}})
}

fn refusal(code: &str, message: &str) -> Value {
    json!({"data": null, "errors": [{"message": message, "extensions": {"code": code}}]})
}

const NOT_TRUSTED: &str =
    "Only the contract's documents run for this token; send one of trusted-documents.json, or its sha256Hash.";

#[test]
fn trusted_documents_json_is_the_manifest_of_the_contract() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("trusted-documents.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&trusted::manifest()).expect("JSON")
    );
    if std::env::var_os("UPDATE_TRUSTED_DOCUMENTS").is_some() {
        std::fs::write(&path, &generated).expect("write trusted-documents.json");
    }
    let committed = std::fs::read_to_string(&path).expect("trusted-documents.json at the repo root");
    assert!(
        committed == generated,
        "trusted-documents.json differs from contract/operations; run \
         `UPDATE_TRUSTED_DOCUMENTS=1 cargo test --test it trusted_documents` and review the diff"
    );
}

#[tokio::test]
async fn every_operation_of_every_contract_file_is_one_valid_trusted_document() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/operations");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("contract/operations")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".graphql"))
        .collect();
    on_disk.sort();
    let compiled: Vec<&str> = trusted::CONTRACT.iter().map(|(name, _)| *name).collect();
    assert_eq!(compiled, on_disk, "src/trusted.rs's CONTRACT lists every file");

    let schema = studio_bff::graphql::builder().extension(ValidateOnly).finish();
    let mut names = Vec::new();
    for (file, text) in trusted::CONTRACT {
        let parsed = async_graphql::parser::parse_query(text).expect("a contract file parses");
        let mut in_file: Vec<String> = parsed
            .operations
            .iter()
            .map(|(name, _)| name.expect("named").to_string())
            .collect();
        in_file.sort();
        let mut split: Vec<String> = trusted::split(text)
            .expect("splits")
            .into_iter()
            .map(|d| d.name)
            .collect();
        split.sort();
        assert_eq!(split, in_file, "{file}");
        names.extend(split);
    }
    for document in trusted::documents() {
        let response = schema.execute(Request::new(document.text.clone())).await;
        assert!(response.errors.is_empty(), "{}: {:?}", document.name, response.errors);
    }
    assert_eq!(trusted::documents().len(), names.len());
    assert_eq!(names.len(), 26);
}

#[test]
fn a_document_is_the_operation_and_its_fragments_as_written() {
    let header = document("HeaderBalanceInitial");

    assert_eq!(
        header.text,
        "fragment HeaderBalance on Balance {\n  available\n  unlimited\n  fairUse { used cap }\n  low\n  expiringSoon { credits at }\n  asOf\n}\n\n\
         query HeaderBalanceInitial {\n  viewer {\n    account {\n      id\n      balance { ...HeaderBalance }\n    }\n  }\n}\n"
    );
    assert_eq!(header.sha256, sha256_of(&header.text));
}

fn sha256_of(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

on_both_databases! {
    async fn under_enforce_a_member_runs_a_known_hash_and_a_known_text_only(db) {
        let app = TestApp::start(&db, enforcing()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.expect("an account").id;
        let member = app.member(account);
        let header = document("HeaderBalanceInitial");

        let (status, by_text) = app.post(Some(&member), json!({"query": header.text})).await;
        let (_, hashed) = app.post(Some(&member), by_hash(&header.sha256)).await;
        let (_, upper) = app.post(Some(&member), by_hash(&header.sha256.to_uppercase())).await;
        let (_, both) = app.post(Some(&member), json!({
            "query": header.text,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": header.sha256}},
        })).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(by_text["data"]["viewer"]["account"]["balance"]["available"], 10, "{by_text}");
        assert_eq!(hashed, by_text);
        assert_eq!(upper, by_text);
        assert_eq!(both, by_text);
    }

    async fn under_enforce_a_member_is_refused_an_unknown_hash_or_text(db) {
        let app = TestApp::start(&db, enforcing()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.expect("an account").id;
        let member = app.member(account);
        // The whole file is not a document: the operation and its fragment are.
        let whole_file = trusted::CONTRACT[1].1;

        let unknown_hash = app.post(Some(&member), by_hash(UNKNOWN_HASH)).await;
        let ad_hoc = app.post(Some(&member), json!({"query": "{ viewer { role } }"})).await;
        let file = app.post(Some(&member), json!({"query": whole_file, "operationName": "HeaderBalanceInitial"})).await;
        let mismatch = app.post(Some(&member), json!({
            "query": "{ viewer { role } }",
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document("HeaderBalanceInitial").sha256}},
        })).await;

        assert_eq!(unknown_hash, (StatusCode::OK, refusal(
            "PERSISTED_QUERY_NOT_FOUND",
            &format!("PersistedQueryNotFound: no trusted document has the SHA-256 {UNKNOWN_HASH}."),
        )));
        assert_eq!(ad_hoc, (StatusCode::OK, refusal("DOCUMENT_NOT_TRUSTED", NOT_TRUSTED)));
        assert_eq!(file, (StatusCode::OK, refusal("DOCUMENT_NOT_TRUSTED", NOT_TRUSTED)));
        assert_eq!(mismatch, (StatusCode::OK, refusal(
            "BAD_USER_INPUT",
            "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent.",
        )));
    }

    async fn under_enforce_ops_still_sends_its_own_documents(db) {
        let app = TestApp::start(&db, enforcing()).await;
        let ops = app.ops();

        let (status, body) = app.post(Some(&ops), json!({"query": "{ viewer { role } }"})).await;

        assert_eq!((status, body), (StatusCode::OK, json!({"data": {"viewer": {"role": "OPS"}}})));
    }

    async fn off_runs_anything_and_still_takes_a_known_hash(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let account = app.ledger.create_account("A", PlanCode::Professional, 2, None).await.expect("an account").id;
        let member = app.member(account);

        let ad_hoc = app.post(Some(&member), json!({"query": "{ viewer { role } }"})).await;
        let hashed = app.post(Some(&member), by_hash(&document("HeaderBalanceInitial").sha256)).await;
        let unknown = app.post(Some(&member), by_hash(UNKNOWN_HASH)).await;

        assert_eq!(ad_hoc, (StatusCode::OK, json!({"data": {"viewer": {"role": "MEMBER"}}})));
        assert_eq!(hashed.1["data"]["viewer"]["account"]["balance"]["available"], 10, "{}", hashed.1);
        assert_eq!(error_code(&unknown.1), "PERSISTED_QUERY_NOT_FOUND");
    }

    async fn a_get_with_the_hash_of_a_mutation_is_refused_as_any_mutation_over_get(db) {
        let app = TestApp::start(&db, Config::default()).await;
        let ops = app.ops();
        let extensions = by_hash(&document("SetClock").sha256)["extensions"].to_string();
        let uri = format!("/graphql?extensions={}", percent(&extensions));

        let request = axum::http::Request::get(uri)
            .header("authorization", format!("Bearer {ops}"))
            .body(Body::empty())
            .expect("a request");
        let (status, body) = app.send(request).await;

        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    }
}

/// `text` percent-encoded for a query string.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn under_enforce_a_member_s_socket_runs_a_known_hash_and_is_refused_other_text() {
    let server = Server::with(enforcing()).await;
    let mut socket = connect(server.addr, "graphql-transport-ws").await;
    initialise(&mut socket, &server.member()).await;
    let live = document("HeaderBalanceLive");

    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": by_hash(&live.sha256)}),
    )
    .await;
    let first = receive(&mut socket).await;
    send(
        &mut socket,
        json!({"id": "2", "type": "subscribe", "payload": {"query": "subscription { balanceChanged { available } }"}}),
    )
    .await;
    let refused = receive(&mut socket).await;

    assert_eq!(
        (
            first["id"].clone(),
            first["type"].clone(),
            first["payload"]["data"]["balanceChanged"]["available"].clone()
        ),
        (json!("1"), json!("next"), json!(10)),
        "{first}"
    );
    assert_eq!(
        refused,
        json!({"id": "2", "type": "error", "payload": [{"message": NOT_TRUSTED, "extensions": {"code": "DOCUMENT_NOT_TRUSTED"}}]})
    );
}

#[test]
fn trusted_documents_is_off_or_enforce() {
    Jail::expect_with(|jail| {
        assert_eq!(Config::load().expect("valid").trusted_documents, TrustedDocuments::Off);
        jail.set_env("STUDIO_TRUSTED_DOCUMENTS", "enforce");
        assert_eq!(
            Config::load().expect("valid").trusted_documents,
            TrustedDocuments::Enforce
        );
        jail.set_env("STUDIO_TRUSTED_DOCUMENTS", "on");
        assert_eq!(
            Config::load().expect_err("invalid").to_string(),
            "configuration key `trusted_documents` = \"on\" from STUDIO_TRUSTED_DOCUMENTS: must be `off` or `enforce`; did you mean `off`?"
        );
        Ok(())
    });
}
