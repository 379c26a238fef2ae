//! The `studio-bff` binary: `studio-bff` serves the API; `studio-bff token` mints a
//! token with the configured secret; `studio-bff migrate` brings the database's schema
//! up to date and exits.
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use studio_bff::app::App;
use studio_bff::auth::{Auth, Role, parse_ttl};
use studio_bff::config::{Config, LogFormat};
use studio_bff::db::{self, DEFAULT_DATABASE_URL};
use studio_bff::ids::Kind;
use studio_bff::secret::Secret;
use studio_bff::{demo, http, telemetry};

/// The service allocates a few hundred small blocks per request on two or more worker
/// threads; glibc's arenas serialize a block freed on another thread than allocated it
/// (futex contention in the profile of bench/RESULTS.md), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version and the commit it was built from (`build.rs`).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("GIT_COMMIT"), ")");

/// Where the settings come from, under each command's `--help`.
const CONFIGURATION: &str = "\
Configuration (the later wins):
  defaults               every key and its default: studio-bff.example.toml
  STUDIO_CONFIG=<file>   a TOML file of keys, e.g. STUDIO_CONFIG=studio-bff.toml
  STUDIO_<KEY>=<value>   any top-level key, e.g. STUDIO_ADDR=0.0.0.0:8000,
                         STUDIO_JWT_SECRET=<32+ characters>, STUDIO_LOG_FORMAT=json
  DATABASE_URL=<url>     postgres://user:password@host:5432/db, or sqlite://<file>?mode=rwc
With no database configured: the embedded default, a SQLite file studio-bff.sqlite in the
working folder, a demo account and a development secret. Logs go to stderr; RUST_LOG
filters them (e.g. RUST_LOG=info,studio_bff=debug).";

#[derive(Parser)]
#[command(
    version = VERSION,
    about = "The GraphQL backend of the AI Background Studio's credits",
    after_help = CONFIGURATION
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Mints a token signed with the configured secret.
    #[command(after_help = CONFIGURATION)]
    Token {
        /// The account's GraphQL id (or its number); required for a member.
        #[arg(long)]
        account: Option<String>,
        #[arg(long, value_enum, default_value_t = RoleArg::Member)]
        role: RoleArg,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        /// The user's id (the `sub` claim).
        #[arg(long, default_value = "cli-user")]
        user: String,
    },
    /// Brings the configured database's schema up to date and exits.
    ///
    /// The step to run before starting a service with migrate_on_start = false.
    #[command(after_help = CONFIGURATION)]
    Migrate,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Member,
    Ops,
    Renderer,
}

/// Set once logs are JSON lines: a failure is then logged as one too, so that stderr
/// holds nothing a log collector cannot parse.
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Any failure is printed as a sentence (a configuration key, a port in use, ...) and
/// the process exits with 1.
#[tokio::main]
async fn main() -> ExitCode {
    // The logging, once installed: kept until a failure is logged, as its lines are
    // written by a thread of their own that flushes when this is dropped.
    let mut telemetry = None;
    match run(Cli::parse(), &mut telemetry).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if JSON_LOGS.load(Ordering::Relaxed) {
                tracing::error!(error = %e, "cannot go on");
            } else {
                // The lines logged before it leave first.
                drop(telemetry.take());
                eprintln!("Error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, telemetry: &mut Option<telemetry::Telemetry>) -> Result<(), Box<dyn std::error::Error>> {
    let config = demo::with_demo_launch(Config::load()?, chrono::Utc::now());
    match cli.command {
        Some(Command::Token {
            account,
            role,
            ttl,
            user,
        }) => {
            let auth = Auth::configured(&config, &token_keys(&config)?)?;
            let role = match role {
                RoleArg::Member => Role::Member,
                RoleArg::Ops => Role::Ops,
                RoleArg::Renderer => Role::Renderer,
            };
            let account_id = match account {
                None => None,
                Some(id) => Some(
                    id.parse::<i64>()
                        .ok()
                        .or_else(|| auth.ids().decode_i64(Kind::Account, &id))
                        .ok_or("--account is neither an account id nor an account number")?,
                ),
            };
            if role == Role::Member && account_id.is_none() {
                return Err("a member token needs --account".into());
            }
            println!("{}", auth.mint(&user, role, account_id, ttl)?);
            Ok(())
        }
        Some(Command::Migrate) => {
            let url = config
                .database_url
                .as_ref()
                .map_or(DEFAULT_DATABASE_URL, Secret::expose);
            let applied = db::migrate_database(url)
                .await
                .map_err(|e| format!("cannot migrate the database: {e}"))?;
            if applied.is_empty() {
                println!("the database is up to date");
            } else {
                println!("applied {} migrations: {}", applied.len(), applied.join(", "));
            }
            Ok(())
        }
        None => serve(config, telemetry).await,
    }
}

/// The secrets the service checks tokens and ids with. With a database configured
/// that is `STUDIO_JWT_SECRET` and nothing else: a token signed with the development
/// secret would be answered `UNAUTHENTICATED`, and with only the provider's JWKS
/// configured the service accepts no token this command could sign. Without one (the
/// embedded default), the development secret, and a note on stderr saying which
/// services accept it.
fn token_keys(config: &Config) -> Result<demo::Keys, String> {
    match demo::keys(config) {
        Ok(keys) if keys.jwt_secret.is_none() => Err("refusing to sign: no STUDIO_JWT_SECRET is configured, so \
             the service accepts only its identity provider's tokens (jwt_jwks_url); get one there"
            .into()),
        Ok(keys) => {
            if config.jwt_secret.is_none() {
                eprintln!(
                    "note: signed with the development secret, which only the embedded default \
                     accepts (no DATABASE_URL); for a configured service, run this with its \
                     STUDIO_JWT_SECRET and DATABASE_URL (or STUDIO_CONFIG)"
                );
            }
            Ok(keys)
        }
        Err(_) if config.jwt_secret.is_none() && config.jwt_jwks_url.is_none() => {
            Err("refusing to sign with the development secret: \
             a database is configured (DATABASE_URL or database_url), and the service checks \
             tokens with its own STUDIO_JWT_SECRET; run `studio-bff token` with the same \
             STUDIO_JWT_SECRET (or STUDIO_CONFIG) as the service"
                .into())
        }
        Err(e) => Err(e),
    }
}

async fn serve(config: Config, telemetry: &mut Option<telemetry::Telemetry>) -> Result<(), Box<dyn std::error::Error>> {
    *telemetry = Some(init_logging(&config)?);
    let embedded = demo::is_embedded_default(&config);
    let launch_at = config.launch_at;
    let backend = match config.database_url.as_ref().map(Secret::expose) {
        Some(url) if url.starts_with("postgres") => "PostgreSQL",
        _ => "SQLite",
    };
    let graphiql = if config.public_schema {
        " (GraphiQL in a browser)"
    } else {
        ""
    };
    let mut app = App::build(config).await?;
    if embedded {
        let account = demo::seed(app.ledger()).await?;
        let day = Duration::from_secs(24 * 3600);
        let member = app.auth().mint("demo-member", Role::Member, Some(account.id), day)?;
        let ops = app.auth().mint("demo-ops", Role::Ops, None, day)?;
        let addr = app.local_addr();
        println!("studio-bff (embedded default: SQLite, development secret)");
        println!("  GraphiQL:     http://{addr}/graphql");
        println!("  member token: {member}");
        println!("  ops token:    {ops}");
        if let Some(launch_at) = launch_at {
            println!("  launch promotion window opens at {launch_at} (set STUDIO_LAUNCH_AT to change)");
        }
        app = app.with_graphiql_token(member);
    } else {
        // No token: it would be signed with the real secret and land in a log.
        println!("studio-bff on {backend}");
        println!("  GraphQL: http://{}/graphql{graphiql}", app.local_addr());
        println!(
            "  tokens:  studio-bff token --role ops   or   studio-bff token --account <account id>,\n           \
             run with this service's STUDIO_JWT_SECRET and DATABASE_URL (or STUDIO_CONFIG)"
        );
    }
    Ok(app.run_until(http::shutdown_signal()).await?)
}

/// Logs go to stderr, the banner and tokens to stdout: with `log_format = "json"`,
/// stderr holds JSON lines and nothing else. Traces leave for `otlp_endpoint` when set.
fn init_logging(config: &Config) -> Result<telemetry::Telemetry, String> {
    // Colours only for a person at a terminal: a file or a log collector gets plain text.
    let colours = std::io::stderr().is_terminal();
    let telemetry = telemetry::init(config.log_format, colours, config.otlp_endpoint.as_deref())?;
    if config.log_format == LogFormat::Json {
        JSON_LOGS.store(true, Ordering::Relaxed);
    }
    Ok(telemetry)
}
