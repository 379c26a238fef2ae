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
/// refuses to start without `STUDIO_JWT_SECRET`.
pub const DEV_JWT_SECRET: &str = "studio-bff development secret: never use in production";

/// The demo account's name, by which a restart finds it again.
pub const DEMO_ACCOUNT: &str = "Demo Autohaus";

/// Whether `config` is the embedded default: no database configured.
pub fn is_embedded_default(config: &Config) -> bool {
    config.database_url.is_none()
}

/// The secret to sign tokens with, or why the service cannot start.
pub fn jwt_secret(config: &Config) -> Result<Secret, String> {
    match &config.jwt_secret {
        Some(secret) if secret.expose().len() >= 32 => Ok(secret.clone()),
        Some(_) => Err("STUDIO_JWT_SECRET must be at least 32 characters".into()),
        None if is_embedded_default(config) => Ok(Secret::new(DEV_JWT_SECRET)),
        None => Err("STUDIO_JWT_SECRET is required when a database is configured".into()),
    }
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
