//! The HTTP port's guards: identity, methods, content types, limits, GraphiQL and
//! introspection, health; and no internal text in errors.

use std::time::Duration;

use crate::api_support::{NOW, SECRET, TestApp, error_code, expired_token, utc};
use crate::common::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use entity::enums::PlanCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use studio_bff::auth::Role;
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::limits::Limits;

async fn app() -> (TestApp, TestDb) {
    let db = TestDb::sqlite().await;
    (TestApp::start(&db, Config::default()).await, db)
}

fn encode_query(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(app: &TestApp, token: Option<&str>, query: &str) -> (StatusCode, Value) {
    let mut request = Request::get(format!("/graphql?query={}", encode_query(query)));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_request_without_a_token_is_unauthenticated() {
    let (app, _db) = app().await;

    let (status, body) = app.post(None, json!({"query": "{ viewer { userId } }"})).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_expired_or_foreign_token_is_unauthenticated() {
    let (app, _db) = app().await;
    let expired = expired_token();
    let foreign = studio_bff::auth::Auth::new("another secret of enough length, really")
        .mint("u", Role::Ops, None, Duration::from_secs(60))
        .unwrap();

    let (expired_status, expired_body) = app
        .post(Some(&expired), json!({"query": "{ viewer { userId } }"}))
        .await;
    let (foreign_status, foreign_body) = app
        .post(Some(&foreign), json!({"query": "{ viewer { userId } }"}))
        .await;

    assert_eq!(
        (expired_status, error_code(&expired_body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    assert_eq!(
        (foreign_status, error_code(&foreign_body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn a_query_over_get_runs() {
    let (app, _db) = app().await;

    let (status, body) = get(&app, Some(&app.ops()), "{ viewer { role } }").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["viewer"]["role"], "OPS");
}

#[tokio::test]
async fn a_mutation_over_get_is_answered_405_and_not_executed() {
    let (app, _db) = app().await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    let token = app.member(account.id);

    let (status, _) = get(
        &app,
        Some(&token),
        r#"mutation { addLogo(input: {name: "L", imageUrl: "https://img.example/l.png"}) { logo { id } } }"#,
    )
    .await;

    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let logos = app
        .query(&token, "{ viewer { account { logos { id } } } }", json!({}))
        .await;
    assert_eq!(logos["data"]["viewer"]["account"]["logos"], json!([]));
}

#[tokio::test]
async fn a_text_plain_or_form_post_is_refused() {
    let (app, _db) = app().await;
    let body = json!({"query": "{ viewer { role } }"}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.ops()))
            .body(Body::from(body.clone()))
            .unwrap();

        let (status, _) = app.send(request).await;

        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
    }
}

#[tokio::test]
async fn a_query_deeper_than_the_limit_is_refused() {
    let (app, _db) = app().await;
    // One edit a level, so that only the depth, not the complexity, is over its limit.
    let nested = "edits(first: 1) { photo { ".repeat(9);
    let closing = "} } ".repeat(9);
    let deep = format!("{{ node(id: \"x\") {{ ... on Photo {{ {nested} id {closing} }} }} }}");

    let body = app.query(&app.ops(), &deep, json!({})).await;

    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    assert_eq!(body["data"], json!(null));
}

#[tokio::test]
async fn a_document_with_too_many_aliases_is_refused() {
    let (app, _db) = app().await;
    let aliases: String = (0..17).map(|i| format!("a{i}: viewer {{ role }} ")).collect();

    let body = app.query(&app.ops(), &format!("{{ {aliases} }}"), json!({})).await;

    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
}

#[tokio::test]
async fn a_query_over_the_complexity_limit_is_refused() {
    let (app, _db) = app().await;
    let fields = "id listingRef originalUrl edits { id creditsCharged paidFrom appliedAt revertedAt logoPosition background { id name previewUrl } logo { id name imageUrl } }";
    let query =
        format!("{{ viewer {{ account {{ photos(first: 100) {{ edges {{ cursor node {{ {fields} }} }} }} }} }} }}");

    let body = app.query(&app.ops(), &query, json!({})).await;

    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("too complex"),
        "{body}"
    );
}

#[tokio::test]
async fn a_batch_over_the_cap_is_refused_and_one_within_runs() {
    let (app, _db) = app().await;
    let one = json!({"query": "{ viewer { role } }"});

    let (over, _) = app.post(Some(&app.ops()), Value::Array(vec![one.clone(); 11])).await;
    let (within, body) = app.post(Some(&app.ops()), Value::Array(vec![one; 2])).await;

    assert_eq!(over, StatusCode::BAD_REQUEST);
    assert_eq!(within, StatusCode::OK);
    assert_eq!(body[1]["data"]["viewer"]["role"], "OPS");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let (app, _db) = app().await;
    let padding = "#".repeat(300 * 1024);

    let (status, _) = app
        .post(
            Some(&app.ops()),
            json!({"query": format!("{{ viewer {{ role }} }}\n{padding}")}),
        )
        .await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_answered_408() {
    let db = TestDb::sqlite().await;
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let app = TestApp::with(&db, Config::default(), Clock::manual_at(utc(NOW)), limits).await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    // Another writer holds the database, so the mutation waits past the time limit.
    let other = studio_bff::db::connect_and_migrate(&db.url).await.unwrap();
    let blocker = studio_bff::db::begin_write(&other).await.unwrap();

    let (status, _) = app
        .post(
            Some(&app.member(account.id)),
            json!({"query": "mutation { addLogo(input: {name: \"L\", imageUrl: \"https://img.example/l.png\"}) { logo { id } } }"}),
        )
        .await;

    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    blocker.rollback().await.unwrap();
}

#[tokio::test]
async fn graphiql_and_introspection_are_served_when_the_schema_is_public() {
    let (app, _db) = app().await;

    let (status, page) = app.send(Request::get("/graphql").body(Body::empty()).unwrap()).await;
    let body = app
        .query(&app.ops(), "{ __schema { queryType { name } } }", json!({}))
        .await;

    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("/graphql/ws"));
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn graphiql_opens_with_the_configured_token_in_its_headers() {
    let db = TestDb::sqlite().await;
    let conn = studio_bff::db::connect_and_migrate(&db.url).await.unwrap();
    let ledger =
        studio_bff::ledger::Ledger::new(conn, std::sync::Arc::new(Config::default()), Clock::manual_at(utc(NOW)))
            .await
            .unwrap();
    let state = studio_bff::http::AppState::new(
        ledger.clone(),
        studio_bff::live::Hub::start(ledger),
        studio_bff::auth::Auth::new(SECRET),
        Some("the-demo-token".into()),
        Limits::default(),
    );
    let router = studio_bff::http::app(state);

    let response = tower::ServiceExt::oneshot(router, Request::get("/graphql").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let page = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();

    let page = String::from_utf8_lossy(&page);
    let settings = graphiql_settings(&page);
    let headers: Value = serde_json::from_str(settings["headers"].as_str().expect("headers")).unwrap();

    // In GraphiQL's Headers tab, where a person sees it, and nowhere else on the page.
    assert_eq!(headers, json!({"Authorization": "Bearer the-demo-token"}));
    assert_eq!(page.matches("the-demo-token").count(), 1, "{page}");
}

/// GETs `path` through `router`: the status, headers and body.
async fn fetch(router: &axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = tower::ServiceExt::oneshot(router.clone(), Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
    (parts.status, parts.headers, body.to_vec())
}

/// The settings GraphiQL's page hands its start script.
fn graphiql_settings(page: &str) -> Value {
    let open = r#"<script type="application/json" id="graphiql-settings">"#;
    let start = page.find(open).expect("the page holds its settings") + open.len();
    let end = start + page[start..].find("</script>").expect("the settings end");
    serde_json::from_str(&page[start..end]).expect("the settings are JSON")
}

fn header_text(headers: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn graphiql_loads_every_file_from_the_service_itself() {
    let (app, _db) = app().await;

    let (status, headers, page) = fetch(&app.router, "/graphql").await;
    let page = String::from_utf8(page).unwrap();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_text(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert!(!page.contains("//"), "the page names another host: {page}");
    let policy = header_text(&headers, header::CONTENT_SECURITY_POLICY);
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    let files: Vec<&str> = page
        .split("\"/graphiql/")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    for file in files {
        let (status, headers, body) = fetch(&app.router, &format!("/graphiql/{file}")).await;
        let content_type = if file.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        let cache = if file == "start.js" {
            "no-cache"
        } else {
            "public, max-age=31536000, immutable"
        };
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(header_text(&headers, header::CONTENT_TYPE), content_type, "{file}");
        assert_eq!(header_text(&headers, header::CACHE_CONTROL), cache, "{file}");
        assert!(body.len() > 1000, "{file}");
    }
    for unknown in ["/graphiql/graphiql.min.js", "/graphiql/..%2FCargo.toml", "/graphiql/"] {
        assert_eq!(fetch(&app.router, unknown).await.0, StatusCode::NOT_FOUND, "{unknown}");
    }
}

#[tokio::test]
async fn graphiql_without_a_preset_token_says_where_one_goes() {
    let (app, _db) = app().await;

    let (_, _, page) = fetch(&app.router, "/graphql").await;
    let settings = graphiql_settings(&String::from_utf8(page).unwrap());

    assert_eq!(settings["headers"], Value::Null);
    assert!(
        settings["defaultQuery"].as_str().unwrap().contains("Headers tab"),
        "{settings}"
    );
}

#[tokio::test]
async fn an_invalid_variable_is_bad_user_input() {
    let (app, _db) = app().await;

    let body = app
        .op_response(
            &app.ops(),
            "CreateAccount",
            json!({"name": "A", "plan": "GOLD", "listingSlots": 1}),
        )
        .await;

    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn graphiql_and_introspection_are_off_when_the_schema_is_not_public() {
    let db = TestDb::sqlite().await;
    let config = Config {
        public_schema: false,
        ..Config::default()
    };
    let app = TestApp::start(&db, config).await;

    let (status, _) = app.send(Request::get("/graphql").body(Body::empty()).unwrap()).await;
    let body = app
        .query(&app.ops(), "{ __schema { queryType { name } } }", json!({}))
        .await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["data"]["__schema"], json!(null));
    let (file_status, _) = app
        .send(Request::get("/graphiql/start.js").body(Body::empty()).unwrap())
        .await;
    assert_eq!(file_status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_private_schema_suggests_no_name_for_a_misspelt_field_and_a_public_one_does() {
    let misspelt = [
        ("{ viewr { userId } }", "viewer"),
        (
            "mutation { setClok(input: {now: \"2030-01-01T00:00:00Z\"}) { now } }",
            "setClock",
        ),
        (
            "mutation { purchasePak(input: {packId: \"p\", idempotencyKey: \"k\"}) { invoice { id } } }",
            "purchasePack",
        ),
    ];
    let mut messages = Vec::new();
    for public_schema in [false, true] {
        let db = TestDb::sqlite().await;
        let app = TestApp::start(
            &db,
            Config {
                public_schema,
                ..Config::default()
            },
        )
        .await;
        for (document, _) in misspelt {
            let (status, body) = app.post(Some(&app.ops()), json!({ "query": document })).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            let errors = body["errors"].as_array().expect("errors");
            messages.push(
                errors
                    .iter()
                    .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>(),
            );
        }
    }

    let (private, public) = messages.split_at(misspelt.len());
    for ((_, real), messages) in misspelt.iter().zip(private) {
        for message in messages {
            assert!(
                !message.contains("Did you mean") && !message.contains(real),
                "{message}"
            );
        }
    }
    assert_eq!(
        private,
        [
            vec![r#"Unknown field "viewr" on type "Query"."#.to_owned()],
            vec![r#"Unknown field "setClok" on type "Mutation"."#.to_owned()],
            vec![r#"Unknown field "purchasePak" on type "Mutation"."#.to_owned()],
        ]
    );
    assert_eq!(
        public,
        [
            vec![r#"Unknown field "viewr" on type "Query". Did you mean "viewer"?"#.to_owned()],
            vec![r#"Unknown field "setClok" on type "Mutation". Did you mean "setClock"?"#.to_owned()],
            vec![r#"Unknown field "purchasePak" on type "Mutation". Did you mean "purchasePack"?"#.to_owned()],
        ]
    );
}

#[tokio::test]
async fn a_bad_cursor_or_page_size_is_bad_user_input() {
    let (app, _db) = app().await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    let token = app.member(account.id);

    let cursor = app
        .query(
            &token,
            "{ viewer { account { ledger(after: \"nope\") { edges { cursor } } } } }",
            json!({}),
        )
        .await;
    let size = app
        .query(
            &token,
            "{ viewer { account { ledger(first: 101) { edges { cursor } } } } }",
            json!({}),
        )
        .await;
    let foreign = app.gid(Kind::Account, account.id);
    let wrong_list = app
        .query(
            &token,
            "query($a: String) { viewer { account { ledger(after: $a) { edges { cursor } } } } }",
            json!({"a": foreign}),
        )
        .await;

    assert_eq!(error_code(&cursor), "BAD_USER_INPUT");
    assert_eq!(error_code(&size), "BAD_USER_INPUT");
    assert_eq!(error_code(&wrong_list), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_database_fault_shows_the_client_only_a_request_id() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(&db, Config::default()).await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    // A fault that no retry cures (an unreachable database is `UNAVAILABLE`: db_faults.rs).
    app.ledger
        .db()
        .execute_unprepared("ALTER TABLE accounts RENAME TO accounts_gone")
        .await
        .unwrap();

    let body = app
        .query(&app.member(account.id), "{ viewer { account { name } } }", json!({}))
        .await;

    assert_eq!(error_code(&body), "INTERNAL");
    let message = body["errors"][0]["message"].as_str().unwrap();
    let request_id = body["errors"][0]["extensions"]["requestId"].as_str().unwrap();
    assert!(message.contains(request_id));
    assert!(
        !message.to_lowercase().contains("sql") && !message.contains("accounts"),
        "{message}"
    );
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let (app, _db) = app().await;

    let (health, _) = app.send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    let (ready, _) = app.send(Request::get("/readyz").body(Body::empty()).unwrap()).await;

    assert_eq!(health, StatusCode::OK);
    assert_eq!(ready, StatusCode::OK);
}

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`, with its deepest
/// type references), which the limits must let through.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

#[tokio::test]
async fn graphiqls_introspection_query_fits_the_limits() {
    let (app, _db) = app().await;

    let body = app.query(&app.ops(), INTROSPECTION, json!({})).await;

    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

/// Records the fields of every `graphql` span.
struct OperationSpans(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OperationSpans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() == "graphql" {
            let mut fields = Fields(String::new());
            attrs.record(&mut fields);
            self.0.lock().expect("not poisoned").push(fields.0);
        }
    }
}

#[tokio::test]
async fn each_operation_runs_in_a_span_named_after_it() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(OperationSpans(spans.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let (app, _db) = app().await;
    let account = app
        .ledger
        .create_account("A", PlanCode::Professional, 1, None)
        .await
        .unwrap();
    // Other tests of this binary may have met the span's callsite first, with no
    // subscriber: its interest was cached as "never" then.
    tracing::callsite::rebuild_interest_cache();

    app.op(&app.member(account.id), "HeaderBalanceInitial", json!({})).await;

    let recorded = spans.lock().expect("not poisoned").clone();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(
        recorded[0].contains("operation=\"HeaderBalanceInitial\""),
        "{recorded:?}"
    );
    assert!(recorded[0].contains("request_id="), "{recorded:?}");
}

#[tokio::test]
async fn introspection_without_a_token_is_answered_when_the_schema_is_public() {
    let (app, _db) = app().await;

    let (status, graphiqls) = app
        .post(
            None,
            json!({"query": INTROSPECTION, "operationName": "IntrospectionQuery"}),
        )
        .await;
    let (get_status, over_get) = get(&app, None, "{ __type(name: \"Viewer\") { name } __typename }").await;
    let (batch_status, batch) = app
        .post(
            None,
            json!([{"query": "{ __typename }"}, {"query": "{ __schema { queryType { name } } }"}]),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert!(graphiqls.get("errors").is_none(), "{graphiqls}");
    assert_eq!(graphiqls["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(
        (get_status, &over_get["data"]),
        (
            StatusCode::OK,
            &json!({"__type": {"name": "Viewer"}, "__typename": "Query"})
        )
    );
    assert_eq!(batch_status, StatusCode::OK);
    assert_eq!(batch[1]["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn introspection_without_a_token_is_refused_when_the_schema_is_private() {
    let db = TestDb::sqlite().await;
    let config = Config {
        public_schema: false,
        ..Config::default()
    };
    let app = TestApp::start(&db, config).await;

    let (status, body) = app
        .post(None, json!({"query": "{ __schema { queryType { name } } }"}))
        .await;
    let (get_status, over_get) = get(&app, None, "{ __typename }").await;

    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    assert_eq!(
        (get_status, error_code(&over_get)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn without_a_token_only_introspection_runs() {
    let (app, _db) = app().await;
    let forged = studio_bff::auth::Auth::new("another secret of enough length, really")
        .mint("u", Role::Ops, None, Duration::from_secs(60))
        .unwrap();
    let expired = expired_token();
    // 3^30 `__typename`s once spread: refused at once, not walked.
    let mut bomb = String::from("{ ...F0 }");
    for i in 0..30 {
        let next = i + 1;
        bomb.push_str(&format!(
            " fragment F{i} on Query {{ ...F{next} ...F{next} ...F{next} }}"
        ));
    }
    bomb.push_str(" fragment F30 on Query { __typename }");

    let refused_posts = [
        (None, json!({"query": "{ viewer { userId } }"})),
        (None, json!({"query": "{ __typename viewer { userId } }"})),
        (None, json!({"query": "{ viewer: __typename }"})),
        (
            None,
            json!({"query": "{ ...V } fragment V on Query { viewer { userId } }"}),
        ),
        (
            None,
            json!({"query": "query A { __typename } query B { viewer { userId } }", "operationName": "B"}),
        ),
        (None, json!({"query": "mutation { __typename }"})),
        (None, json!({ "query": bomb })),
        (
            None,
            json!([{"query": "{ __typename }"}, {"query": "{ viewer { userId } }"}]),
        ),
        // A token sent must be valid, even to read the schema.
        (Some(forged.as_str()), json!({"query": "{ __typename }"})),
        (Some(expired.as_str()), json!({"query": "{ __typename }"})),
    ];
    for (token, body) in refused_posts {
        let (status, answer) = app.post(token, body.clone()).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            "{body}: {answer}"
        );
    }
    let (status, answer) = get(&app, None, "{ viewer { userId } }").await;
    assert_eq!(
        (status, error_code(&answer)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
}
