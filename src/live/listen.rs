//! PostgreSQL: LISTEN on the ledger's channel over a connection of the instance's own,
//! never the pool's (a pooler in transaction mode does not carry a LISTEN).
//! NOTIFY keeps nothing for a listener that was away, so after every connection,
//! the first one included, all watched accounts are read again.
use std::sync::Weak;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::Inner;
use crate::ledger::Ledger;

/// How the listening connection shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "studio-bff listener";
/// The first wait before connecting again; it doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// Longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Follows the channel for as long as the hub lives, connecting again whenever the
/// connection drops or PostgreSQL restarts. The connection goes to
/// `listen_database_url` when it is set (PostgreSQL itself, when the pool goes through
/// a pooler in transaction mode), else where the pool's connections go.
pub(super) async fn follow(hub: Weak<Inner>, ledger: Ledger, channel: String) {
    let options = match &ledger.config().listen_database_url {
        // The configuration checked that it parses.
        Some(url) => match url.expose().parse::<PgConnectOptions>() {
            Ok(options) => options,
            Err(e) => {
                tracing::error!(error = %e, "listen_database_url is not a PostgreSQL URL; no balance changes are followed");
                return;
            }
        },
        None => ledger.db().get_postgres_connection_pool().connect_options().as_ref().clone(),
    }
    .application_name(APPLICATION_NAME);
    let metrics = ledger.metrics().clone();
    drop(ledger);
    let mut retry = RETRY_MIN;
    // Every attempt but the first follows a lost connection or a failed attempt.
    let mut again = false;
    loop {
        match listen(&options, &channel).await {
            Ok(mut listener) => {
                tracing::info!(channel, "listening for balance changes");
                if again {
                    metrics.listener_reconnected();
                }
                retry = RETRY_MIN;
                let Some(inner) = hub.upgrade() else { return };
                inner.changed_all();
                drop(inner);
                let lost = loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            let Some(inner) = hub.upgrade() else { return };
                            match notification.payload().parse::<i64>() {
                                Ok(account_id) => inner.changed(account_id),
                                Err(_) => tracing::warn!(
                                    payload = notification.payload(),
                                    "a notification that names no account"
                                ),
                            }
                        }
                        Ok(None) => break "connection closed".to_owned(),
                        Err(e) => break e.to_string(),
                    }
                };
                tracing::warn!(reason = %lost, "the listening connection was lost; connecting again");
            }
            Err(e) => tracing::warn!(error = %e, ?retry, "cannot listen for balance changes; trying again"),
        }
        if hub.strong_count() == 0 {
            return;
        }
        again = true;
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// A listener on `channel` over a new connection, which it closes when dropped.
async fn listen(options: &PgConnectOptions, channel: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection ends `try_recv` with `None` at once: this loop reconnects.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}
