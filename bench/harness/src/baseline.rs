//! The baselines: servers without GraphQL, run as a child process of their own (as the
//! service is) by `studio-bench baseline ...`.
//!
//! - `header`: answers HeaderBalanceInitial's JSON for the bearer's account with the
//!   statements the service runs for it (the account row, then its unexpired lots; the
//!   harness checks from PostgreSQL's statement log that both run the same SQL), through
//!   sqlx with a pool of the service's size (32), and the service's own balance rules.
//! - `typename`: a bare axum JSON handler answering `{"data":{"__typename":"Query"}}`.
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use entity::enums::{Bucket, PlanCode};
use entity::{account, lot};
use sea_orm::ActiveEnum;
use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sea_orm::sqlx::{self, Row};
use serde_json::{Value, json};
use studio_bff::auth::Auth;
use studio_bff::config::Config;
use studio_bff::ids::Kind;
use studio_bff::rules::balance::breakdown;
use studio_bff::rules::entitlement::{Campaign, campaigns, next_promotion};

use crate::{Result, bail};

/// The service's PostgreSQL pool size (`studio_bff::db::connect_and_migrate`).
pub const POOL_SIZE: u32 = 32;

/// What the service runs for `viewer { account }` (`Ledger::account`: a read by its key,
/// `studio_bff::db::by_key`, without a LIMIT).
pub const ACCOUNT_SQL: &str = r#"SELECT "accounts"."id", "accounts"."name", "accounts"."plan", "accounts"."listing_slots", "accounts"."created_at", "accounts"."cycle_start", "accounts"."next_reset_at", "accounts"."promotion_processed", "accounts"."promotions_considered", "accounts"."external_id", "accounts"."subscription_sequence", "accounts"."edit_revision", "accounts"."buyer_address", "accounts"."buyer_vat_id", "accounts"."credits_low" FROM "accounts" WHERE "accounts"."id" = $1"#;

/// What the service runs for `balance` (`Ledger::balance`: the unexpired lots but the
/// used-up purchased ones).
pub const LOTS_SQL: &str = r#"SELECT "lots"."id", "lots"."account_id", "lots"."bucket", "lots"."origin", "lots"."granted", "lots"."remaining", "lots"."valid_from", "lots"."expires_at", "lots"."expired", "lots"."created_at", "lots"."pack_id", "lots"."expiry_warned_at" FROM "lots" WHERE "lots"."account_id" = $1 AND "lots"."expired" = $2 AND ("lots"."bucket" <> $3 OR "lots"."remaining" > $4)"#;

struct HeaderState {
    auth: Auth,
    pool: PgPool,
    config: Config,
    /// Read once from `config`, as the service's ledger does.
    campaigns: Vec<Campaign>,
}

/// `studio-bench baseline --kind header|typename --addr A [--database-url U] [--secret S]`
pub async fn main(args: &[String]) -> Result<()> {
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let kind = arg("--kind").ok_or("--kind header|typename")?;
    let addr = arg("--addr").ok_or("--addr")?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let app = match kind.as_str() {
        "typename" => Router::new()
            .route("/graphql", post(typename))
            .route("/readyz", get(|| async { "ready" })),
        "header" => {
            let url = arg("--database-url").ok_or("--database-url")?;
            let secret = arg("--secret").ok_or("--secret")?;
            let pool = PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(Duration::from_secs(10))
                .connect(&url)
                .await?;
            let config = Config::default();
            let state = Arc::new(HeaderState {
                auth: Auth::new(&secret),
                pool,
                campaigns: campaigns(&config),
                config,
            });
            Router::new()
                .route("/graphql", post(header_balance))
                .route("/readyz", get(|| async { "ready" }))
                .with_state(state)
        }
        other => bail!("no baseline {other:?}"),
    };
    axum::serve(listener, app).await?;
    Ok(())
}

async fn typename(_body: Bytes) -> Json<Value> {
    Json(json!({"data": {"__typename": "Query"}}))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errors": [{"message": message}]}))).into_response()
}

/// HeaderBalanceInitial's answer for the bearer's account, without GraphQL.
async fn header_balance(State(state): State<Arc<HeaderState>>, headers: HeaderMap, _body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Ok(viewer) = state.auth.verify_bearer(authorization).await else {
        return error(StatusCode::UNAUTHORIZED, "A valid bearer token is required.");
    };
    let Some(account_id) = viewer.account_id else {
        return Json(json!({"data": {"viewer": {"account": null}}})).into_response();
    };
    match balance_json(&state, account_id).await {
        Ok(data) => Json(json!({"data": {"viewer": {"account": data}}})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn balance_json(state: &HeaderState, account_id: i64) -> Result<Value> {
    let Some(row) = sqlx::query(ACCOUNT_SQL)
        .bind(account_id)
        .fetch_optional(&state.pool)
        .await?
    else {
        return Ok(Value::Null);
    };
    let account = account_of(&row)?;
    let lots = sqlx::query(LOTS_SQL)
        .bind(account_id)
        .bind(false)
        .bind(Bucket::Purchased.to_value())
        .bind(0_i32)
        .fetch_all(&state.pool)
        .await?
        .iter()
        .map(lot_of)
        .collect::<Result<Vec<_>>>()?;
    let now = Utc::now();
    if is_due(&account, &lots, &state.campaigns, now) {
        // The service would write the due expiry or reset first; the benchmark's
        // accounts never have one, so the baseline need not.
        bail!("account {account_id} has a due event: the baseline does not write");
    }
    let b = breakdown(&account, &lots, &state.config, now);
    Ok(json!({
        "id": state.auth.ids().encode(Kind::Account, account.id),
        "balance": {
            "available": b.available,
            "unlimited": b.unlimited,
            "fairUse": b.fair_use.map(|f| json!({"used": f.used, "cap": f.cap})),
            "low": b.low,
            "expiringSoon": b.expiring_soon.map(|e| json!({
                "credits": e.credits,
                "at": e.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            })),
            "asOf": b.as_of.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }))
}

/// The service's `is_due` (private to its ledger): an expiry, a reset or the
/// promotion campaign the clock has made due.
fn is_due(account: &account::Model, lots: &[lot::Model], campaigns: &[Campaign], now: chrono::DateTime<Utc>) -> bool {
    lots.iter().any(|l| l.expires_at <= now)
        || account.next_reset_at <= now
        || next_promotion(campaigns, account, now).is_some()
}

fn account_of(row: &PgRow) -> Result<account::Model> {
    let plan: String = row.try_get("plan")?;
    Ok(account::Model {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        plan: PlanCode::try_from_value(&plan)?,
        listing_slots: row.try_get("listing_slots")?,
        created_at: row.try_get("created_at")?,
        cycle_start: row.try_get("cycle_start")?,
        next_reset_at: row.try_get("next_reset_at")?,
        promotion_processed: row.try_get("promotion_processed")?,
        promotions_considered: row.try_get("promotions_considered")?,
        external_id: row.try_get("external_id")?,
        subscription_sequence: row.try_get("subscription_sequence")?,
        edit_revision: row.try_get("edit_revision")?,
        buyer_address: row.try_get("buyer_address")?,
        buyer_vat_id: row.try_get("buyer_vat_id")?,
        credits_low: row.try_get("credits_low")?,
    })
}

fn lot_of(row: &PgRow) -> Result<lot::Model> {
    let bucket: String = row.try_get("bucket")?;
    Ok(lot::Model {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        bucket: Bucket::try_from_value(&bucket)?,
        origin: row.try_get("origin")?,
        granted: row.try_get("granted")?,
        remaining: row.try_get("remaining")?,
        valid_from: row.try_get("valid_from")?,
        expires_at: row.try_get("expires_at")?,
        expired: row.try_get("expired")?,
        created_at: row.try_get("created_at")?,
        pack_id: row.try_get("pack_id")?,
        expiry_warned_at: row.try_get("expiry_warned_at")?,
    })
}
