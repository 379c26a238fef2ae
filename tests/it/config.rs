//! Configuration: defaults are the rules' provisional values; a TOML file named by
//! STUDIO_CONFIG overrides them, STUDIO_* variables override the file; anything
//! invalid stops the start with a message naming the key.
// figment's Jail runs each case in its own folder and environment; its closures must
// return figment's own (large) error type.
#![allow(clippy::result_large_err)]

use chrono_tz::Tz;
use entity::enums::PlanCode;
use figment::Jail;
use std::time::Duration;

use studio_bff::config::{ClockMode, Config};
use studio_bff::limits::Limits;

#[test]
fn defaults_are_the_provisional_values_of_the_rules() {
    Jail::expect_with(|_jail| {
        let config = Config::load().expect("the defaults are valid");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.clock, ClockMode::System);
        assert_eq!(config.launch_at, None);
        assert_eq!(config.launch_promotion_days, 28);
        assert_eq!(config.monthly_reset_day, 1);
        assert_eq!(config.billing_time_zone, Tz::UTC);
        assert_eq!(config.fair_use_cap, 2000);
        assert_eq!(config.professional_credits_per_slot, 5);
        assert_eq!(config.max_batch_photos, 100);
        assert_eq!(config.max_logos, 50);
        assert_eq!((config.expiry_warning_days, config.low_balance_threshold), (7, 10));
        assert_eq!(config.idempotency_retention_hours, 24);
        assert_eq!(config.plans[&PlanCode::ProfessionalPlus].promotion_credits_per_slot, 10);
        assert_eq!(config.limits(), Limits::default());
        assert_eq!(config.database_pool_size, None);
        Ok(())
    });
}

#[test]
fn the_environment_wins_over_the_file_which_wins_over_the_defaults() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            r#"
                monthly_reset_day = 15
                billing_time_zone = "Europe/Berlin"
                fair_use_cap = 1500

                [[backgrounds]]
                id = "beach"
                name = "Beach"
                preview_url = "https://cdn.example/beach.jpg"
            "#,
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        jail.set_env("STUDIO_MONTHLY_RESET_DAY", "20");
        jail.set_env("STUDIO_LAUNCH_AT", "2026-12-01T00:00:00Z");
        jail.set_env("STUDIO_MAX_LOGOS", "3");
        jail.set_env("DATABASE_URL", "postgres://db/studio");

        let config = Config::load().expect("valid");

        assert_eq!(config.monthly_reset_day, 20);
        assert_eq!(config.billing_time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(config.fair_use_cap, 1500);
        assert_eq!(
            config.launch_at.map(|t| t.to_rfc3339()),
            Some("2026-12-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(config.max_logos, 3);
        assert_eq!(
            config.database_url.as_ref().map(|url| url.expose()),
            Some("postgres://db/studio")
        );
        assert_eq!(
            config.backgrounds.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            vec!["beach"]
        );
        Ok(())
    });
}

#[test]
fn invalid_settings_stop_the_start_naming_the_key() {
    let cases = [
        ("STUDIO_MONTHLY_RESET_DAY", "32", "monthly_reset_day"),
        ("STUDIO_MONTHLY_RESET_DAY", "0", "monthly_reset_day"),
        ("STUDIO_BILLING_TIME_ZONE", "Mars/Olympus", "billing_time_zone"),
        ("STUDIO_FAIR_USE_CAP", "-1", "fair_use_cap"),
        ("STUDIO_MAX_BATCH_PHOTOS", "lots", "max_batch_photos"),
        ("STUDIO_LAUNCH_AT", "tomorrow", "launch_at"),
        ("STUDIO_CLOCK", "sundial", "clock"),
        ("STUDIO_CREDITS_PER_SLOT", "5", "credits_per_slot"),
    ];
    for (variable, value, key) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            let error = Config::load().expect_err("invalid").to_string();
            // An environment variable is named as written, in capitals.
            assert!(
                error.to_lowercase().contains(key),
                "{variable}={value}: {error:?} does not name {key}"
            );
            Ok(())
        });
    }
}

#[test]
fn metrics_addr_and_otlp_endpoint_are_checked_in_one_line() {
    for (variable, value, message) in [
        (
            "STUDIO_METRICS_ADDR",
            "9100",
            "configuration key `metrics_addr` = 9100 from STUDIO_METRICS_ADDR: must be an address and port such as 127.0.0.1:9100",
        ),
        (
            "STUDIO_METRICS_ADDR",
            "127.0.0.1:8000",
            "configuration key `metrics_addr`: must differ from addr (127.0.0.1:8000), not 127.0.0.1:8000",
        ),
        (
            "STUDIO_OTLP_ENDPOINT",
            "collector:4318",
            "configuration key `otlp_endpoint`: must be an OTLP/HTTP collector's http:// address such as http://127.0.0.1:4318, not \"collector:4318\"",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            assert_eq!(one_line_error(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_METRICS_ADDR", "0.0.0.0:9100");
        jail.set_env("STUDIO_OTLP_ENDPOINT", "http://otel-collector:4318");
        let config = Config::load().expect("valid");
        assert_eq!(config.metrics_addr, Some("0.0.0.0:9100".parse().unwrap()));
        assert_eq!(config.otlp_endpoint.as_deref(), Some("http://otel-collector:4318"));
        Ok(())
    });
}

#[test]
fn max_logos_outside_1_to_100_stops_the_start_naming_the_key() {
    for (value, message) in [
        ("0", "configuration key `max_logos`: must be 1 to 100, not 0"),
        ("101", "configuration key `max_logos`: must be 1 to 100, not 101"),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env("STUDIO_MAX_LOGOS", value);
            assert_eq!(Config::load().expect_err("invalid").to_string(), message);
            Ok(())
        });
    }
}

#[test]
fn the_warning_settings_out_of_range_stop_the_start_in_one_line() {
    for (variable, value, message) in [
        (
            "STUDIO_EXPIRY_WARNING_DAYS",
            "0",
            "configuration key `expiry_warning_days`: must be 1 to 366, not 0",
        ),
        (
            "STUDIO_EXPIRY_WARNING_DAYS",
            "367",
            "configuration key `expiry_warning_days`: must be 1 to 366, not 367",
        ),
        (
            "STUDIO_LOW_BALANCE_THRESHOLD",
            "-1",
            "configuration key `low_balance_threshold`: must be 0 to 1000000, not -1",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            assert_eq!(Config::load().expect_err("invalid").to_string(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_EXPIRY_WARNING_DAYS", "14");
        jail.set_env("STUDIO_LOW_BALANCE_THRESHOLD", "25");
        let config = Config::load().expect("valid");
        assert_eq!((config.expiry_warning_days, config.low_balance_threshold), (14, 25));
        Ok(())
    });
}

#[test]
fn a_pack_whose_discounted_price_is_not_whole_cents_is_refused() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            r#"
                [[packs]]
                id = "odd"
                name = "Odd"
                plans = ["BASIC"]
                credits = 3
                discount_percent = 33
            "#,
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        let error = Config::load().expect_err("invalid").to_string();
        assert_eq!(
            error,
            "configuration key `packs`: odd: the discounted price is not a whole number of cents"
        );
        Ok(())
    });
}

#[test]
fn the_secret_and_the_database_password_never_print() {
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_JWT_SECRET", "a secret that is long enough to sign tokens");
        jail.set_env("DATABASE_URL", "postgres://studio:pw-9f2c1e@db.internal/studio");
        jail.set_env(
            "STUDIO_LISTEN_DATABASE_URL",
            "postgres://studio:pw-77ab04@db-direct.internal/studio",
        );

        let config = Config::load().expect("valid");
        let printed = format!(
            "{config:?} {config:#?} {}",
            serde_json::to_string(&config).expect("serializes")
        );

        assert_eq!(
            config.jwt_secret.as_ref().map(|s| s.expose()),
            Some("a secret that is long enough to sign tokens")
        );
        assert_eq!(
            config.database_url.as_ref().map(|url| url.expose()),
            Some("postgres://studio:pw-9f2c1e@db.internal/studio")
        );
        assert_eq!(
            config.listen_database_url.as_ref().map(|url| url.expose()),
            Some("postgres://studio:pw-77ab04@db-direct.internal/studio")
        );
        for leak in [
            "a secret that is long enough",
            "pw-9f2c1e",
            "db.internal",
            "pw-77ab04",
            "db-direct",
        ] {
            assert!(!printed.contains(leak), "{leak:?} printed in {printed}");
        }
        assert!(printed.contains("jwt_secret: Some([redacted])"), "{printed}");
        Ok(())
    });
}

#[test]
fn the_listening_url_is_postgres_beside_a_postgres_database() {
    Jail::expect_with(|jail| {
        jail.set_env("DATABASE_URL", "postgres://pooler.internal:6432/studio");
        assert_eq!(Config::load().expect("valid").listen_database_url, None);
        jail.set_env("STUDIO_LISTEN_DATABASE_URL", "mysql://db.internal/studio");
        assert_eq!(
            one_line_error(),
            "configuration key `listen_database_url`: must be a postgres:// URL"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("DATABASE_URL", "sqlite://studio.sqlite?mode=rwc");
        jail.set_env("STUDIO_LISTEN_DATABASE_URL", "postgres://db.internal/studio");
        assert_eq!(
            one_line_error(),
            "configuration key `listen_database_url`: is for PostgreSQL only: database_url must be a postgres:// URL too"
        );
        Ok(())
    });
}

#[test]
fn the_limits_and_the_pool_size_come_from_the_file_and_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            r#"
                max_body_bytes = 4096
                request_timeout_ms = 5000
                max_batch_operations = 3
                max_requests_per_account = 2
                ws_init_timeout_ms = 2000
                ws_max_operations = 5
            "#,
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        jail.set_env("STUDIO_WS_KEEP_ALIVE_MS", "60000");
        jail.set_env("STUDIO_DATABASE_POOL_SIZE", "12");

        let config = Config::load().expect("valid");

        assert_eq!(
            config.limits(),
            Limits {
                body_bytes: 4096,
                timeout: Duration::from_secs(5),
                batch: 3,
                connection_init: Duration::from_secs(2),
                keep_alive: Duration::from_secs(60),
                subscriptions_per_connection: 5,
                requests_per_account: 2,
            }
        );
        assert_eq!(config.database_pool_size, Some(12));
        Ok(())
    });
}

#[test]
fn a_limit_or_a_pool_size_out_of_range_stops_the_start_naming_the_key() {
    let cases = [
        (
            "STUDIO_MAX_BODY_BYTES",
            "100",
            "max_body_bytes",
            "1024 to 16777216, not 100",
        ),
        (
            "STUDIO_REQUEST_TIMEOUT_MS",
            "0",
            "request_timeout_ms",
            "1000 to 600000, not 0",
        ),
        (
            "STUDIO_MAX_BATCH_OPERATIONS",
            "0",
            "max_batch_operations",
            "1 to 100, not 0",
        ),
        (
            "STUDIO_MAX_REQUESTS_PER_ACCOUNT",
            "0",
            "max_requests_per_account",
            "1 to 1000, not 0",
        ),
        (
            "STUDIO_WS_INIT_TIMEOUT_MS",
            "999",
            "ws_init_timeout_ms",
            "1000 to 300000, not 999",
        ),
        (
            "STUDIO_WS_KEEP_ALIVE_MS",
            "0",
            "ws_keep_alive_ms",
            "1000 to 3600000, not 0",
        ),
        (
            "STUDIO_WS_MAX_OPERATIONS",
            "1001",
            "ws_max_operations",
            "1 to 1000, not 1001",
        ),
        (
            "STUDIO_DATABASE_POOL_SIZE",
            "0",
            "database_pool_size",
            "1 to 1000, not 0",
        ),
    ];
    for (variable, value, key, range) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            assert_eq!(
                Config::load().expect_err("invalid").to_string(),
                format!("configuration key `{key}`: must be {range}")
            );
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_MAX_BODY_BYTES", "a lot");
        let error = Config::load().expect_err("invalid").to_string();
        assert!(error.to_lowercase().contains("max_body_bytes"), "{error}");
        Ok(())
    });
}

/// The error of `Config::load` in the jail, checked to be one line, the same printed
/// with `{:?}` (as a `main` returning it would).
fn one_line_error() -> String {
    let error = Config::load().expect_err("invalid");
    let line = error.to_string();
    assert!(!line.contains('\n'), "more than one line: {line}");
    assert_eq!(format!("{error:?}"), line);
    line
}

#[test]
fn an_unknown_key_is_named_with_its_value_and_the_nearest_known_key() {
    Jail::expect_with(|jail| {
        jail.create_file("studio.toml", "launchat = \"2026-12-01T00:00:00Z\"\n")?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            one_line_error(),
            "configuration: unknown key `launchat` = \"2026-12-01T00:00:00Z\" in studio.toml; did you mean `launch_at`?"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_MAX_LOGO", "3");
        assert_eq!(
            one_line_error(),
            "configuration: unknown key `max_logo` = 3 from STUDIO_MAX_LOGO; did you mean `max_logos` (STUDIO_MAX_LOGOS)?"
        );
        Ok(())
    });
    // Nothing near: the keys there are, so the line still says what is allowed.
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_COLOUR", "blue");
        let error = one_line_error();
        assert!(
            error.starts_with("configuration: unknown key `colour` = \"blue\" from STUDIO_COLOUR; the keys are `addr`, `database_url`,"),
            "{error}"
        );
        assert!(error.ends_with("`webhook_retry_hours`"), "{error}");
        Ok(())
    });
    // A key inside a table is named with its table.
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            r#"
                [[backgrounds]]
                id = "beach"
                name = "Beach"
                preview = "https://cdn.example/beach.jpg"
            "#,
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            one_line_error(),
            "configuration: unknown key `backgrounds[0].preview` = \"https://cdn.example/beach.jpg\" in studio.toml; did you mean `preview_url`?"
        );
        Ok(())
    });
}

#[test]
fn a_value_of_the_wrong_type_is_named_with_what_the_key_takes() {
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_MAX_BATCH_PHOTOS", "lots");
        assert_eq!(
            one_line_error(),
            "configuration key `max_batch_photos` = \"lots\" from STUDIO_MAX_BATCH_PHOTOS: must be a whole number, 0 or more"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("studio.toml", "public_schema = \"no\"\n")?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            one_line_error(),
            "configuration key `public_schema` = \"no\" in studio.toml: must be true or false"
        );
        Ok(())
    });
}

#[test]
fn an_invalid_value_is_named_with_what_is_allowed() {
    let cases = [
        (
            "STUDIO_CLOCK",
            "sundial",
            "configuration key `clock` = \"sundial\" from STUDIO_CLOCK: must be `system` or `manual`",
        ),
        (
            "STUDIO_LOG_FORMAT",
            "jsn",
            "configuration key `log_format` = \"jsn\" from STUDIO_LOG_FORMAT: must be `text` or `json`; did you mean `json`?",
        ),
        (
            "STUDIO_LAUNCH_AT",
            "tomorrow",
            "configuration key `launch_at` = \"tomorrow\" from STUDIO_LAUNCH_AT: must be an RFC 3339 instant such as 2026-12-01T00:00:00Z",
        ),
        (
            "STUDIO_BILLING_TIME_ZONE",
            "Mars/Olympus",
            "configuration key `billing_time_zone` = \"Mars/Olympus\" from STUDIO_BILLING_TIME_ZONE: must be an IANA time zone such as Europe/Berlin",
        ),
        (
            "STUDIO_MONTHLY_RESET_DAY",
            "-1",
            "configuration key `monthly_reset_day` = -1 from STUDIO_MONTHLY_RESET_DAY: must be a whole number, 0 or more",
        ),
    ];
    for (variable, value, message) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            assert_eq!(one_line_error(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            "[plans.GOLD]\nname = \"Gold\"\npromotion_credits_per_slot = 1\n",
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            one_line_error(),
            "configuration key `plans.GOLD` in studio.toml: `GOLD` must be one of `BASIC`, `PROFESSIONAL`, `PROFESSIONAL_PLUS`, `PREMIUM`"
        );
        Ok(())
    });
}

#[test]
fn a_misspelt_secret_is_never_printed() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            "jwt_secrte = \"a secret that is long enough to sign tokens\"\n",
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        assert_eq!(
            one_line_error(),
            "configuration: unknown key `jwt_secrte` = [redacted] in studio.toml; did you mean `jwt_secret`?"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_DATABASE_URL", "42");
        jail.set_env("STUDIO_JWT_SECRET", "1");
        // Both parse as numbers; neither is shown.
        let error = one_line_error();
        assert!(error.contains("= [redacted]"), "{error}");
        Ok(())
    });
}

#[test]
fn a_file_that_is_not_toml_is_said_in_one_line_with_the_place() {
    Jail::expect_with(|jail| {
        jail.create_file("studio.toml", "addr = 127.0.0.1:8000\n")?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        let error = one_line_error();
        assert!(error.starts_with("configuration file studio.toml: "), "{error}");
        assert!(error.contains("line 1"), "{error}");
        Ok(())
    });
}

#[test]
fn vat_percent_and_the_seller_are_checked_in_one_line_and_read_from_a_table() {
    for (variable, value, message) in [
        (
            "STUDIO_VAT_PERCENT",
            "101",
            "configuration key `vat_percent`: must be 0 to 100, not 101",
        ),
        (
            "STUDIO_VAT_PERCENT",
            "-1",
            "configuration key `vat_percent`: must be 0 to 100, not -1",
        ),
        (
            "STUDIO_SELLER",
            "{name=\" \"}",
            "configuration key `seller`: `name` must not be empty",
        ),
        (
            "STUDIO_SELLER",
            "{name=\"Studio GmbH\",vat_id=\"\"}",
            "configuration key `seller`: `vat_id` must not be empty",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.set_env(variable, value);
            assert_eq!(one_line_error(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.create_file(
            "studio.toml",
            "vat_percent = 7\n[seller]\nname = \"Studio GmbH\"\naddress = \"Hauptstraße 1, 10115 Berlin\"\n",
        )?;
        jail.set_env("STUDIO_CONFIG", "studio.toml");
        let config = Config::load().expect("valid");
        assert_eq!(config.vat_percent, 7);
        assert_eq!(
            (
                config.seller.name.as_str(),
                config.seller.address.as_deref(),
                config.seller.vat_id.as_deref()
            ),
            ("Studio GmbH", Some("Hauptstraße 1, 10115 Berlin"), None)
        );
        Ok(())
    });
}

#[test]
fn a_webhook_url_needs_a_usable_secret_and_retries_last_1_to_720_hours() {
    for (variables, message) in [
        (
            vec![("STUDIO_WEBHOOK_URL", "hooks.example")],
            "configuration key `webhook_url`: must be an http:// or https:// URL, not \"hooks.example\"",
        ),
        (
            vec![("STUDIO_WEBHOOK_URL", "https://hooks.example/studio")],
            "configuration key `webhook_secret`: is required with webhook_url",
        ),
        (
            vec![("STUDIO_WEBHOOK_SECRET", "short")],
            "configuration key `webhook_secret`: must be whsec_ and base64, or 24 characters or more",
        ),
        (
            vec![("STUDIO_LOW_BALANCE_THRESHOLD", "-1")],
            "configuration key `low_balance_threshold`: must be 0 to 1000000, not -1",
        ),
        (
            vec![("STUDIO_WEBHOOK_RETRY_HOURS", "0")],
            "configuration key `webhook_retry_hours`: must be 1 to 720, not 0",
        ),
    ] {
        Jail::expect_with(|jail| {
            for (variable, value) in &variables {
                jail.set_env(variable, value);
            }
            assert_eq!(one_line_error(), message);
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("STUDIO_WEBHOOK_URL", "https://hooks.example/studio");
        jail.set_env("STUDIO_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let config = Config::load().expect("valid");
        assert_eq!(config.webhook_url.as_deref(), Some("https://hooks.example/studio"));
        assert_eq!(config.webhook_retry_hours, 72);
        Ok(())
    });
}
