//! What an operator meets before the API: `--version` and `--help`, the example
//! configuration, `studio-bff migrate` and `migrate_on_start`, and a `token` command
//! that never signs with a secret the service does not check.
// figment's Jail closures must return figment's own (large) error type.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use figment::Jail;
use figment::providers::{Format, Toml};
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use studio_bff::app::{App, StartError};
use studio_bff::auth::{Auth, Role};
use studio_bff::clock::Clock;
use studio_bff::config::Config;

use crate::api_support::{NOW, SECRET, utc};
use crate::logs::Binary;

const EXAMPLE: &str = include_str!("../../studio-bff.example.toml");

#[test]
fn version_names_the_commit_it_was_built_from() {
    let (status, stdout, _) = Binary::run(&["--version"], &[]);

    assert!(status.success());
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        });
    assert_eq!(
        stdout,
        format!("studio-bff {} (commit {commit})\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_names_the_configuration_file_and_the_environment_variables() {
    for args in [&["--help"][..], &["token", "--help"], &["migrate", "--help"]] {
        let (status, stdout, _) = Binary::run(args, &[]);

        assert!(status.success());
        for named in [
            "STUDIO_CONFIG=<file>",
            "STUDIO_<KEY>=<value>",
            "DATABASE_URL=<url>",
            "studio-bff.example.toml",
        ] {
            assert!(stdout.contains(named), "{args:?} does not name {named}:\n{stdout}");
        }
    }
}

/// `text` with the settings that have no default enabled: the lines that start with
/// `#` and no space.
fn enabled(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.is_empty() && !rest.starts_with([' ', '#']) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level keys of a configuration, serialized.
fn keys(config: &Config) -> BTreeSet<String> {
    let value = serde_json::to_value(config).expect("serializes");
    value.as_object().expect("a table").keys().cloned().collect()
}

#[test]
fn the_example_configuration_names_every_key_and_holds_the_defaults() {
    Jail::expect_with(|jail| {
        jail.create_file("as-is.toml", EXAMPLE)?;
        jail.create_file("enabled.toml", &enabled(EXAMPLE))?;

        jail.set_env("STUDIO_CONFIG", "as-is.toml");
        let as_is = Config::from_figment(Config::figment()).expect("the example loads");
        jail.set_env("STUDIO_CONFIG", "enabled.toml");
        let all = Config::from_figment(Config::figment()).expect("the example loads with every setting enabled");
        let written: BTreeSet<String> = figment::Figment::from(Toml::file_exact("enabled.toml"))
            .extract::<figment::value::Dict>()?
            .into_keys()
            .collect();

        let defaults = Config::default();
        assert_eq!(
            serde_json::to_value(&as_is).unwrap(),
            serde_json::to_value(&defaults).unwrap(),
            "the example's values are not the defaults"
        );
        let missing: Vec<_> = keys(&defaults).difference(&written).cloned().collect();
        assert!(missing.is_empty(), "not in studio-bff.example.toml: {missing:?}");
        assert_eq!(written, keys(&all));
        assert!(all.database_url.is_some() && all.launch_at.is_some() && !all.promotions.is_empty());
        Ok(())
    });
}

#[tokio::test]
async fn the_token_command_signs_with_the_secret_the_service_checks_or_not_at_all() {
    let database = ("DATABASE_URL", "postgres://studio@db.internal/studio");
    let secret = ("STUDIO_JWT_SECRET", SECRET);

    // A database and no secret: the service checks STUDIO_JWT_SECRET, so no token.
    let (status, stdout, stderr) = Binary::run(&["token", "--role", "ops"], &[database]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("Error: refusing to sign with the development secret: a database is configured"),
        "{stderr}"
    );

    // The same secret as the service: a token the service accepts, and nothing else said.
    let (status, stdout, stderr) = Binary::run(&["token", "--role", "ops"], &[database, secret]);
    assert!(status.success(), "{stderr}");
    assert_eq!(stderr, "");
    let viewer = Auth::new(SECRET)
        .verify_bearer(Some(&format!("Bearer {}", stdout.trim())))
        .await
        .expect("the service's secret verifies it");
    assert_eq!(viewer.role, Role::Ops);

    // Nothing configured: the development secret, for the embedded default, said so.
    let (status, stdout, stderr) = Binary::run(&["token", "--role", "ops"], &[]);
    assert!(status.success(), "{stderr}");
    assert!(!stdout.trim().is_empty());
    assert!(
        stderr.starts_with("note: signed with the development secret"),
        "{stderr}"
    );

    // Only the provider's keys: the service takes no HS256 token, so none is signed.
    let jwks = ("STUDIO_JWT_JWKS_URL", "https://id.example/jwks.json");
    let id_secret = ("STUDIO_ID_SECRET", SECRET);
    let (status, stdout, stderr) = Binary::run(&["token", "--role", "ops"], &[database, jwks, id_secret]);
    assert_eq!((status.code(), stdout.as_str()), (Some(1), ""));
    assert!(
        stderr.starts_with("Error: refusing to sign: no STUDIO_JWT_SECRET is configured"),
        "{stderr}"
    );
}

on_both_databases! {
    async fn with_migrate_on_start_false_the_service_starts_only_once_studio_bff_migrate_ran(db) {
        let config = || Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(db.url.as_str().into()),
            listen_database_url: db.listen_database_url(),
            jwt_secret: Some(SECRET.into()),
            migrate_on_start: false,
            ..Config::default()
        };
        let env = [("DATABASE_URL", db.url.as_str())];
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();

        let refused = App::build_with(config(), Clock::manual_at(utc(NOW))).await.err().expect("refused");
        let (first, first_out, first_err) = Binary::run(&["migrate"], &env);
        let (again, again_out, _) = Binary::run(&["migrate"], &env);
        let started = App::build_with(config(), Clock::manual_at(utc(NOW))).await;

        assert!(matches!(refused, StartError::NotMigrated(_)), "{refused}");
        assert_eq!(
            refused.to_string(),
            format!(
                "the database is not up to date ({} to apply: {}): run `studio-bff migrate` with the \
                 same configuration first, or set migrate_on_start = true",
                names.len(),
                names.join(", ")
            )
        );
        assert!(first.success(), "{first_err}");
        assert_eq!(first_out, format!("applied {} migrations: {}\n", names.len(), names.join(", ")));
        assert!(again.success());
        assert_eq!(again_out, "the database is up to date\n");
        let app = started.expect("starts on the migrated database");
        assert!(app.ledger().create_account("A", entity::enums::PlanCode::Basic, 1, None).await.is_ok());
    }
}

on_both_databases! {
    async fn this_release_serves_on_a_database_a_newer_release_migrated_but_not_one_migrated_out_of_order(db) {
        let config = |migrate_on_start| Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(db.url.as_str().into()),
            listen_database_url: db.listen_database_url(),
            jwt_secret: Some(SECRET.into()),
            migrate_on_start,
            ..Config::default()
        };
        let env = [("DATABASE_URL", db.url.as_str())];
        let connection = studio_bff::db::connect_and_migrate(&db.url).await.expect("migrated");
        let later = "m20991231_000001_a_later_release";
        connection
            .execute_unprepared(&format!("INSERT INTO seaql_migrations (version, applied_at) VALUES ('{later}', 0)"))
            .await
            .expect("a newer release's migration");

        for migrate_on_start in [true, false] {
            let app = App::build_with(config(migrate_on_start), Clock::manual_at(utc(NOW))).await;
            let app = app.unwrap_or_else(|e| panic!("migrate_on_start = {migrate_on_start}: {e}"));
            assert!(app.ledger().create_account("A", entity::enums::PlanCode::Basic, 1, None).await.is_ok());
        }
        let (status, stdout, stderr) = Binary::run(&["migrate"], &env);
        assert!(status.success(), "{stderr}");
        assert_eq!(stdout, "the database is up to date\n");

        let ours = Migrator::migrations().last().expect("a migration").name().to_owned();
        connection
            .execute_unprepared(&format!("DELETE FROM seaql_migrations WHERE version = '{ours}'"))
            .await
            .expect("one of ours forgotten");
        for migrate_on_start in [true, false] {
            let refused = App::build_with(config(migrate_on_start), Clock::manual_at(utc(NOW))).await.err().expect("refused");
            assert!(
                refused
                    .to_string()
                    .contains(&format!("the database has migrations of a newer release ({later}) but not {ours} of this one")),
                "{refused}"
            );
        }
    }
}
