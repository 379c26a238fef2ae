//! The `studio-bff` binary: configuration, telemetry, the ledger and its scheduler.
use std::sync::Arc;

use studio_bff::clock::Clock;
use studio_bff::config::Config;
use studio_bff::db::{DEFAULT_DATABASE_URL, connect_and_migrate};
use studio_bff::ledger::Ledger;
use studio_bff::scheduler;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = Arc::new(Config::load()?);
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let db = connect_and_migrate(&url).await?;
    let ledger = Ledger::new(db, config.clone(), Clock::new(config.clock)).await?;
    let caught_up = ledger.process_due().await?;
    tracing::info!(accounts = caught_up.len(), "caught up on expiries and resets");
    let scheduler = scheduler::spawn(ledger);
    tokio::signal::ctrl_c().await?;
    scheduler.abort();
    Ok(())
}
