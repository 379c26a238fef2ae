//! The embedded default's demo account and secret.

use crate::common::{TestDb, utc};
use chrono::{DurationRound, TimeDelta};
use entity::enums::PlanCode;
use studio_bff::config::Config;
use studio_bff::demo;
use studio_bff::secret::Secret;

#[tokio::test]
async fn the_demo_account_has_photos_a_logo_an_edit_and_credits_in_every_bucket() {
    let db = TestDb::sqlite().await;
    let now = utc("2026-11-24T10:00:00Z");
    let config = Config {
        launch_at: Some(now.duration_trunc(TimeDelta::days(1)).unwrap()),
        ..Config::default()
    };
    let ledger = db.ledger(config, now).await;

    let account = demo::seed(&ledger).await.unwrap();
    let again = demo::seed(&ledger).await.unwrap();

    assert_eq!(again.id, account.id);
    assert_eq!(account.plan, PlanCode::ProfessionalPlus);
    let balance = ledger.balance(&account).await.unwrap();
    // 20 slots: 200 monthly, 200 promotion (3 spent on the demo edit), 25 purchased.
    assert_eq!(
        balance.launch_promotion.map(|p| (p.granted, p.remaining)),
        Some((200, 197))
    );
    assert_eq!((balance.monthly.granted, balance.monthly.remaining), (200, 200));
    assert_eq!(balance.purchased_remaining, 25);
    assert_eq!(balance.available, 422);
}

#[test]
fn the_development_secret_serves_only_the_embedded_default() {
    let embedded = Config::default();
    let with_database = Config {
        database_url: Some("postgres://db/studio".into()),
        ..Config::default()
    };
    let short_secret = Config {
        jwt_secret: Some("short".into()),
        ..Config::default()
    };
    let dev = Secret::new(demo::DEV_JWT_SECRET);

    assert_eq!(
        demo::keys(&embedded),
        Ok(demo::Keys {
            jwt_secret: Some(dev.clone()),
            id_secret: dev
        })
    );
    assert_eq!(
        demo::keys(&with_database),
        Err(
            "STUDIO_JWT_SECRET or STUDIO_JWT_JWKS_URL is required when a database is configured: \
             tokens must be checked with something"
                .into()
        )
    );
    assert_eq!(
        demo::keys(&short_secret),
        Err("STUDIO_JWT_SECRET must be at least 32 characters".into())
    );
}

#[test]
fn a_database_with_only_the_providers_keys_needs_a_secret_for_ids() {
    let jwks_only = Config {
        database_url: Some("postgres://db/studio".into()),
        jwt_jwks_url: Some("https://id.example/.well-known/jwks.json".into()),
        ..Config::default()
    };
    let ids = "a secret of at least thirty-two characters for ids";
    let with_id_secret = Config {
        id_secret: Some(ids.into()),
        ..jwks_only.clone()
    };
    let both = Config {
        jwt_secret: Some("a secret of at least thirty-two characters for tokens".into()),
        ..jwks_only.clone()
    };

    assert_eq!(
        demo::keys(&jwks_only),
        Err(
            "STUDIO_ID_SECRET (or STUDIO_JWT_SECRET) is required when a database is configured: \
             it signs the global ids"
                .into()
        )
    );
    assert_eq!(
        demo::keys(&with_id_secret),
        Ok(demo::Keys {
            jwt_secret: None,
            id_secret: Secret::new(ids)
        })
    );
    assert_eq!(
        demo::keys(&both).map(|k| k.id_secret),
        Ok(Secret::new("a secret of at least thirty-two characters for tokens")),
        "without id_secret, ids keep being signed with jwt_secret"
    );
}

#[test]
fn the_demo_opens_a_launch_window_only_in_the_embedded_default_without_one() {
    let configured = utc("2026-12-01T00:00:00Z");
    let today = utc("2026-11-27T09:38:24Z");

    let embedded = demo::with_demo_launch(Config::default(), today);
    let kept = demo::with_demo_launch(
        Config {
            launch_at: Some(configured),
            ..Config::default()
        },
        today,
    );
    let elsewhere = demo::with_demo_launch(
        Config {
            database_url: Some("postgres://db".into()),
            ..Config::default()
        },
        today,
    );

    assert_eq!(embedded.launch_at, Some(utc("2026-11-27T00:00:00Z")));
    assert_eq!(kept.launch_at, Some(configured));
    assert_eq!(elsewhere.launch_at, None);
}
