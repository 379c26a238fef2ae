//! The embedded default's demo account and secret.

use crate::common::{TestDb, utc};
use chrono::{DurationRound, TimeDelta};
use entity::enums::PlanCode;
use studio_bff::config::Config;
use studio_bff::demo;

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

    assert_eq!(
        demo::jwt_secret(&embedded).as_ref().map(|s| s.expose()),
        Ok(demo::DEV_JWT_SECRET)
    );
    assert!(demo::jwt_secret(&with_database).is_err());
    assert!(demo::jwt_secret(&short_secret).is_err());
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
