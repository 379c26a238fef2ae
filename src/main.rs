//! The `studio-bff` binary: `studio-bff` serves the API; `studio-bff token` mints a
//! token with the configured secret.
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use studio_bff::auth::{Auth, Role, parse_ttl};
use studio_bff::clock::Clock;
use studio_bff::config::{Config, LogFormat};
use studio_bff::db::{DEFAULT_DATABASE_URL, connect_and_migrate_pool, default_pool_size};
use studio_bff::http::{self, AppState};
use studio_bff::ids::Kind;
use studio_bff::ledger::Ledger;
use studio_bff::live::Hub;
use studio_bff::{demo, scheduler};

/// The service allocates a few hundred small blocks per request on two or more worker
/// threads; glibc's arenas serialize a block freed on another thread than allocated it
/// (futex contention in the profile of bench/RESULTS.md), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long in-flight requests may take to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(version, about = "The GraphQL backend of the AI Background Studio's credits")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Mints a token signed with the configured secret.
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
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Member,
    Ops,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let config = demo::with_demo_launch(Config::load()?, chrono::Utc::now());
    let auth = Auth::new(demo::jwt_secret(&config)?.expose());
    match cli.command {
        Some(Command::Token {
            account,
            role,
            ttl,
            user,
        }) => {
            let role = match role {
                RoleArg::Member => Role::Member,
                RoleArg::Ops => Role::Ops,
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
        None => serve(config, auth).await,
    }
}

async fn serve(config: Config, auth: Auth) -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
        // Colours only for a person at a terminal: a file or a log collector gets plain text.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .init(),
    }
    let embedded = demo::is_embedded_default(&config);
    let url = config
        .database_url
        .as_ref()
        .map_or(DEFAULT_DATABASE_URL, |url| url.expose())
        .to_owned();
    let config = Arc::new(config);
    let pool_size = config.database_pool_size.unwrap_or_else(|| default_pool_size(&url));
    let db = connect_and_migrate_pool(&url, pool_size).await?;
    let ledger = Ledger::new(db, config.clone(), Clock::new(config.clock)).await?;
    let caught_up = ledger.process_due().await?;
    tracing::info!(
        accounts = caught_up.changed.len(),
        failed = caught_up.failed.len(),
        "caught up on expiries and resets"
    );

    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let graphiql_token = if embedded {
        let account = demo::seed(&ledger).await?;
        let day = Duration::from_secs(24 * 3600);
        let member = auth.mint("demo-member", Role::Member, Some(account.id), day)?;
        let ops = auth.mint("demo-ops", Role::Ops, None, day)?;
        println!("studio-bff (embedded default: SQLite, development secret)");
        println!("  GraphiQL:     http://{addr}/graphql");
        println!("  member token: {member}");
        println!("  ops token:    {ops}");
        if let Some(launch_at) = config.launch_at {
            println!("  launch promotion window opens at {launch_at} (set STUDIO_LAUNCH_AT to change)");
        }
        Some(member)
    } else {
        None
    };
    let scheduler = scheduler::spawn(ledger.clone());
    let app = http::app(AppState::new(
        ledger.clone(),
        Hub::start(ledger),
        auth,
        graphiql_token,
        config.limits(),
    ));
    tracing::info!(%addr, "listening");
    let served = http::serve(listener, app, http::shutdown_signal(), DRAIN).await;
    scheduler.abort();
    Ok(served?)
}
