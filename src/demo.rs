//! The embedded default's demo: a development secret, and one account seeded through
//! the ledger's own operations so it holds photos, a logo, an edit and credits in every
//! bucket (monthly, a purchased pack, the launch promotion).
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::config::Config;
use crate::error::Error;
use crate::ledger::{ApplyRequest, Ledger};
use crate::reads::{AccountRow, PlanCode, Reads};
use crate::secret::Secret;

/// The JWT secret of the embedded default, and only of it: anywhere else the service
/// refuses to start without `STUDIO_JWT_SECRET` or `STUDIO_JWT_JWKS_URL`.
pub const DEV_JWT_SECRET: &str = "studio-bff development secret: never use in production";

/// The demo account's name, by which a restart finds it again.
pub const DEMO_ACCOUNT: &str = "Demo Autohaus";

/// Whether `config` is the embedded default: no database configured.
pub fn is_embedded_default(config: &Config) -> bool {
    config.database_url.is_none()
}

/// The secrets a service uses, as [`keys`] chose them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Signs and checks HS256 tokens; none: HS256 tokens are refused.
    pub jwt_secret: Option<Secret>,
    /// Signs global ids and cursors.
    pub id_secret: Secret,
}

/// Shortest secret accepted, in characters.
const MIN_SECRET_CHARS: usize = 32;

/// The secrets of `config`, or why the service cannot start. The embedded default
/// falls back to the development secret for both. With a database, tokens need a way
/// to be checked (`jwt_secret` for HS256, `jwt_jwks_url` for the provider's RS256 and
/// ES256), and global ids a secret of their own: `id_secret`, else `jwt_secret`. Ids
/// outlive tokens (clients store them), so a service moving to the provider's tokens
/// keeps its old `jwt_secret` as `id_secret`.
pub fn keys(config: &Config) -> Result<Keys, String> {
    for (name, secret) in [
        ("STUDIO_JWT_SECRET", &config.jwt_secret),
        ("STUDIO_ID_SECRET", &config.id_secret),
    ] {
        if secret.as_ref().is_some_and(|s| s.expose().len() < MIN_SECRET_CHARS) {
            return Err(format!("{name} must be at least {MIN_SECRET_CHARS} characters"));
        }
    }
    let jwt_secret = match &config.jwt_secret {
        None if is_embedded_default(config) => Some(Secret::new(DEV_JWT_SECRET)),
        None if config.jwt_jwks_url.is_none() => {
            return Err(
                "STUDIO_JWT_SECRET or STUDIO_JWT_JWKS_URL is required when a database is configured: \
                 tokens must be checked with something"
                    .into(),
            );
        }
        configured => configured.clone(),
    };
    let id_secret = match (&config.id_secret, &jwt_secret) {
        (Some(secret), _) | (None, Some(secret)) => secret.clone(),
        (None, None) => {
            return Err(
                "STUDIO_ID_SECRET (or STUDIO_JWT_SECRET) is required when a database is configured: \
                 it signs the global ids"
                    .into(),
            );
        }
    };
    Ok(Keys { jwt_secret, id_secret })
}

/// In the embedded default without a configured launch, opens the launch promotion
/// window at the start of `today` (UTC) so the demo shows every bucket. A restart on
/// another day moves the window; lots already granted keep theirs.
pub fn with_demo_launch(mut config: Config, today: DateTime<Utc>) -> Config {
    if is_embedded_default(&config) && config.launch_at.is_none() {
        config.launch_at = today.duration_trunc(TimeDelta::days(1)).ok();
    }
    config
}

/// The demo account, created and filled on the first start.
pub async fn seed(ledger: &Ledger) -> Result<AccountRow, Error> {
    if let Some(existing) = Reads::new(ledger.db().clone()).account_named(DEMO_ACCOUNT).await? {
        return Ok(existing);
    }
    let account = ledger
        .create_account(DEMO_ACCOUNT, PlanCode::ProfessionalPlus, 20, None)
        .await?;
    let registrations: Vec<(String, String)> = (1..=12)
        .map(|i| {
            (
                format!("listing-{i:03}"),
                format!("https://img.studio.example/demo/car-{i:03}.jpg"),
            )
        })
        .collect();
    let photos = ledger.register_photos(account.id, &registrations).await?;
    ledger
        .add_logo(
            account.id,
            "Demo Autohaus logo",
            "https://img.studio.example/demo/logo.png",
        )
        .await?;
    ledger.purchase_pack(account.id, "pro-small", "demo-seed-pack").await?;
    let first_three = photos.iter().take(3).map(|p| p.id).collect();
    ledger
        .apply_changes(
            account.id,
            &ApplyRequest {
                photo_ids: first_three,
                background_id: ledger
                    .config()
                    .backgrounds
                    .first()
                    .map(|b| b.id.clone())
                    .unwrap_or_default(),
                logo: None,
                idempotency_key: "demo-seed-apply".into(),
            },
        )
        .await?;
    Ok(account)
}
