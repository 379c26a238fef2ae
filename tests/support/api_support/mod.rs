//! Test support for the API: the real router over a fresh database, tokens, global
//! ids, and the contract's operations sent by name.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use studio_bff::app::App;
use studio_bff::auth::{Auth, Role};
use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::db::connect_and_migrate;
use studio_bff::http::{AppState, app};
use studio_bff::ids::Kind;
use studio_bff::ledger::Ledger;
use studio_bff::limits::Limits;
use studio_bff::live::Hub;
use tower::ServiceExt;

use crate::common::TestDb;

pub mod jwks;
pub mod receiver;
pub mod service;
pub mod ws;

use jwks::Signer;

/// The secret every test app signs with.
pub const SECRET: &str = "a test secret that is long enough to sign tokens";

/// An ops token signed with [`SECRET`] that expired a minute ago.
pub fn expired_token() -> String {
    let claims = studio_bff::auth::Claims {
        sub: "ops-1".into(),
        account_id: None,
        role: Role::Ops,
        exp: Utc::now().timestamp() - 60,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token")
}

/// The instant test clocks start at.
pub const NOW: &str = "2026-11-24T10:00:00Z";

/// The router of a service over one fresh database.
pub struct TestApp {
    pub router: Router,
    pub ledger: Ledger,
    pub auth: Auth,
    /// Signs the tokens of [`TestApp::member`] and its kind.
    pub signer: Signer,
}

/// `config` with the listener of a test database through the pooler on PostgreSQL
/// itself ([`crate::common::listen_url`]), unless it names one.
fn listening(db: &TestDb, config: Config) -> Config {
    Config {
        listen_database_url: config.listen_database_url.or(db.listen_database_url()),
        ..config
    }
}

impl TestApp {
    /// The app over `db` with `config`, its manual clock at [`NOW`].
    pub async fn start(db: &TestDb, config: Config) -> TestApp {
        Self::with(db, config, Clock::manual_at(utc(NOW)), Limits::default()).await
    }

    pub async fn with(db: &TestDb, config: Config, clock: Clock, limits: Limits) -> TestApp {
        let conn = connect_and_migrate(&db.url).await.expect("connect and migrate");
        Self::over(conn, listening(db, config), clock, limits).await
    }

    /// The app over an open connection (one a test may be counting statements on).
    pub async fn over(conn: sea_orm::DatabaseConnection, config: Config, clock: Clock, limits: Limits) -> TestApp {
        Self::checking(
            conn,
            config,
            clock,
            limits,
            Auth::new(SECRET),
            Signer::Secret(SECRET.into()),
        )
        .await
    }

    /// The app over `db` with `config`, checking tokens with `auth`; its own tokens
    /// signed by `signer`.
    pub async fn with_identity(db: &TestDb, config: Config, auth: Auth, signer: Signer) -> TestApp {
        let conn = connect_and_migrate(&db.url).await.expect("connect and migrate");
        Self::checking(
            conn,
            listening(db, config),
            Clock::manual_at(utc(NOW)),
            Limits::default(),
            auth,
            signer,
        )
        .await
    }

    async fn checking(
        conn: sea_orm::DatabaseConnection,
        config: Config,
        clock: Clock,
        limits: Limits,
        auth: Auth,
        signer: Signer,
    ) -> TestApp {
        let ledger = Ledger::new(conn, Arc::new(config), clock).await.expect("a ledger");
        let hub = Hub::start(ledger.clone());
        let router = app(AppState::new(ledger.clone(), hub, auth.clone(), None, limits));
        TestApp {
            router,
            ledger,
            auth,
            signer,
        }
    }

    /// The router, ledger and tokens of a started service (its secret must be
    /// [`SECRET`]).
    pub fn of(app: &App) -> TestApp {
        TestApp {
            router: app.router(),
            ledger: app.ledger().clone(),
            auth: app.auth().clone(),
            signer: Signer::Secret(SECRET.into()),
        }
    }

    /// A token for `user` as `role` of `account_id`, valid for an hour.
    pub fn token(&self, user: &str, role: Role, account_id: Option<i64>) -> String {
        self.signer.sign(&studio_bff::auth::Claims {
            sub: user.into(),
            account_id: account_id.map(|id| self.gid(Kind::Account, id)),
            role,
            exp: Utc::now().timestamp() + 3600,
        })
    }

    pub fn member(&self, account_id: i64) -> String {
        self.token("user-1", Role::Member, Some(account_id))
    }

    pub fn ops(&self) -> String {
        self.token("ops-1", Role::Ops, None)
    }

    pub fn renderer(&self) -> String {
        self.token("render-1", Role::Renderer, None)
    }

    /// The global id of a record.
    pub fn gid(&self, kind: Kind, key: impl std::fmt::Display) -> String {
        self.auth.ids().encode(kind, key)
    }

    /// Sends `request` through the whole router.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    /// POSTs a JSON body to /graphql with `token`.
    pub async fn post(&self, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(body.to_string())).expect("a request"))
            .await
    }

    /// Runs `query` with `variables` as `token`; returns the whole response.
    pub async fn query(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post(Some(token), json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Runs the contract operation `name` with `variables` as `token`; returns `data`,
    /// failing on any top-level error.
    pub async fn op(&self, token: &str, name: &str, variables: Value) -> Value {
        let body = self.op_response(token, name, variables).await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        body["data"].clone()
    }

    /// Runs the contract operation `name`; returns the whole response.
    pub async fn op_response(&self, token: &str, name: &str, variables: Value) -> Value {
        let document = operation_document(name);
        let (status, body) = self
            .post(
                Some(token),
                json!({ "query": document, "operationName": name, "variables": variables }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        body
    }

    /// Spends one credit of `account_id` on a new photo: a committed balance change.
    pub async fn charge_one(&self, account_id: i64, key: &str) {
        crate::common::apply_new_photos(&self.ledger, account_id, 1, key).await;
    }

    /// Registers `n` photos for `account_id`; their global ids.
    pub async fn photos(&self, account_id: i64, n: usize) -> Vec<String> {
        let registrations: Vec<(String, String)> = (0..n)
            .map(|i| (format!("listing-{i}"), format!("https://img.example/{i}.jpg")))
            .collect();
        self.ledger
            .register_photos(account_id, &registrations)
            .await
            .expect("register photos")
            .into_iter()
            .map(|p| self.gid(Kind::Photo, p.id))
            .collect()
    }

    /// The names of the logos stored for `account_id`, oldest first: read from the
    /// database, since the API answers at most `max_logos` of them.
    pub async fn stored_logos(&self, account_id: i64) -> Vec<String> {
        entity::logo::Entity::find()
            .filter(entity::logo::Column::AccountId.eq(account_id))
            .order_by_asc(entity::logo::Column::Id)
            .all(self.ledger.db())
            .await
            .expect("the stored logos")
            .into_iter()
            .map(|l| l.name)
            .collect()
    }
}

/// The contract file that defines operation `name`.
pub fn operation_document(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/operations");
    for entry in std::fs::read_dir(&dir).expect("the contract's operations") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a file");
        let defines = ["query", "mutation", "subscription"]
            .iter()
            .any(|kind| text.contains(&format!("{kind} {name}(")) || text.contains(&format!("{kind} {name} {{")));
        if defines {
            return text;
        }
    }
    panic!("no contract operation named {name}");
}

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid instant")
}

/// The `extensions.code` of the first top-level error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The codes of a payload's `userErrors`.
pub fn user_error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors in {payload}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}
