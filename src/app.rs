//! Starting and stopping the service, the one way `main` and the tests both use.
//!
//! [`App::build`] checks the secrets and the token settings, binds the port (first, so a port in use
//! stops the start before the database is touched), connects and migrates (or, with
//! `migrate_on_start = false`, checks that nothing is left to migrate), builds the
//! [`Ledger`], catches up on the expiries and resets that fell due while the service
//! was down, starts the live balances ([`Hub`]) and the [`scheduler`], listens, and
//! builds the router. [`App::run_until`] serves until a future resolves, lets requests
//! in flight finish for up to [`DRAIN`], stops the scheduler and returns.
//!
//! The port is bound before migrating but listened on only at the end of `build`:
//! while the database migrates and catches up, which may take a while, a client is
//! refused as before the service started, rather than left waiting in the backlog.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sea_orm::DbErr;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::config::{Config, RendererKind};
use crate::db::{self, DEFAULT_DATABASE_URL};
use crate::demo;
use crate::http::{self, AppState};
use crate::ledger::Ledger;
use crate::live::Hub;
use crate::preview;
use crate::scheduler;
use crate::secret::Secret;
use crate::stopping::StopSignal;
use crate::webhooks;

/// How long requests in flight may take to finish once shutdown begins; WebSockets
/// still open after that are dropped.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Connections waiting to be accepted, as `TcpListener::bind` has it.
const BACKLOG: u32 = 1024;

/// A started service: the port bound and listened on, the database migrated, the
/// live balances and the scheduler running; requests are served once
/// [`App::run_until`] is called.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `/metrics` on a port of its own, when `metrics_addr` is set.
    metrics_listener: Option<TcpListener>,
    ledger: Ledger,
    hub: Hub,
    auth: Auth,
    router: Router,
    /// Tells the router's open WebSockets that the service is stopping.
    stop: StopSignal,
    scheduler: AbortOnDrop,
    /// The built-in preview renderer, when `renderer` is `builtin`.
    renderer: Option<AbortOnDrop>,
    /// The webhook worker, when `webhook_url` is set.
    webhooks: Option<AbortOnDrop>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No usable secret or way to check tokens.
    #[error("{0}")]
    Secret(String),
    #[error("cannot listen on {addr}: {}", listen_failure(.error))]
    Listen { addr: SocketAddr, error: io::Error },
    #[error("cannot open the database: {0}")]
    Database(DbErr),
    /// `migrate_on_start` is false and the database lacks these migrations.
    #[error(
        "the database is not up to date ({} to apply: {}): run `studio-bff migrate` with the same configuration first, or set migrate_on_start = true",
        .0.len(),
        .0.join(", ")
    )]
    NotMigrated(Vec<String>),
    #[error("cannot start the ledger: {0}")]
    Ledger(crate::Error),
}

/// A task stopped when dropped (the scheduler, `/metrics` on its own port), so an
/// `App` dropped without running (a start that failed after `build`, a test that
/// ended) leaves no task behind.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl App {
    /// Starts the service `config` describes, on the clock it names.
    pub async fn build(config: Config) -> Result<App, StartError> {
        let clock = Clock::new(config.clock);
        Self::build_with(config, clock).await
    }

    /// Starts the service `config` describes on `clock`, which replaces `config.clock`
    /// (tests start a manual clock at a fixed instant). `config` is used as given:
    /// [`Config::load`] validates a loaded one.
    pub async fn build_with(config: Config, clock: Clock) -> Result<App, StartError> {
        let keys = demo::keys(&config).map_err(StartError::Secret)?;
        let auth = Auth::configured(&config, &keys).map_err(StartError::Secret)?;
        let addr = config.addr;
        let listen_failed = |error| StartError::Listen { addr, error };
        let socket = bind(addr).map_err(listen_failed)?;
        let metrics_socket = match config.metrics_addr {
            Some(addr) => Some((addr, bind(addr).map_err(|error| StartError::Listen { addr, error })?)),
            None => None,
        };

        let url = config
            .database_url
            .as_ref()
            .map_or(DEFAULT_DATABASE_URL, Secret::expose)
            .to_owned();
        let pool_size = config.database_pool_size.unwrap_or_else(|| db::default_pool_size(&url));
        let connection = if config.migrate_on_start {
            db::connect_and_migrate_pool(&url, pool_size)
                .await
                .map_err(StartError::Database)?
        } else {
            let connection = db::connect_pool(&url, pool_size).await.map_err(StartError::Database)?;
            let pending = db::pending_migrations(&connection)
                .await
                .map_err(StartError::Database)?;
            if !pending.is_empty() {
                return Err(StartError::NotMigrated(pending));
            }
            connection
        };
        let ledger = Ledger::new(connection, Arc::new(config), clock)
            .await
            .map_err(StartError::Ledger)?;
        let caught_up = ledger.process_due().await.map_err(StartError::Ledger)?;
        tracing::info!(
            accounts = caught_up.changed.len(),
            failed = caught_up.failed.len(),
            "caught up on expiries and resets"
        );
        let hub = Hub::start(ledger.clone());
        let scheduler = AbortOnDrop(scheduler::spawn(ledger.clone()));
        let webhooks = webhooks::spawn(ledger.clone()).map(AbortOnDrop);
        let (router, stop) = router(&ledger, &hub, &auth, None);

        let listener = socket.listen(BACKLOG).map_err(listen_failed)?;
        let local_addr = listener.local_addr().map_err(listen_failed)?;
        let metrics_listener = match metrics_socket {
            Some((addr, socket)) => Some(
                socket
                    .listen(BACKLOG)
                    .map_err(|error| StartError::Listen { addr, error })?,
            ),
            None => None,
        };
        let renderer = (ledger.config().renderer() == RendererKind::Builtin).then(|| {
            // An address for every interface is reached on loopback from this machine.
            let host = if local_addr.ip().is_unspecified() {
                format!("127.0.0.1:{}", local_addr.port())
            } else {
                local_addr.to_string()
            };
            AbortOnDrop(preview::spawn(
                ledger.clone(),
                auth.ids().clone(),
                format!("http://{host}"),
            ))
        });
        Ok(App {
            listener,
            local_addr,
            metrics_listener,
            ledger,
            hub,
            auth,
            router,
            stop,
            scheduler,
            renderer,
            webhooks,
        })
    }

    /// Opens GraphiQL with `token` in its headers (the embedded default's demo
    /// member), so its first query runs at once.
    pub fn with_graphiql_token(mut self, token: String) -> App {
        (self.router, self.stop) = router(&self.ledger, &self.hub, &self.auth, Some(token));
        self
    }

    /// The address listened on: the configured one, its port chosen by the system
    /// when the configuration said 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Where `/metrics` is served when `metrics_addr` gives it a port of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The live balances the subscriptions are served from.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Checks tokens as configured, and mints them with the configured secret.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The routes and layers that [`App::run_until`] serves, to drive them without a
    /// socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish for up to
    /// [`DRAIN`], stops the scheduler and the built-in renderer, and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let App {
            listener,
            local_addr,
            metrics_listener,
            ledger,
            router,
            stop,
            scheduler,
            renderer,
            webhooks,
            ..
        } = self;
        tracing::info!(addr = %local_addr, "listening");
        // Stopped with the service: a scrape is short, and nothing waits for one.
        let metrics_server = metrics_listener.map(|listener| {
            tracing::info!(addr = ?listener.local_addr().ok(), "serving /metrics");
            let app = http::metrics_app(ledger.metrics().clone());
            AbortOnDrop(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "/metrics stopped");
                }
            }))
        });
        // The WebSockets hear it too and close with 1001, rather than being dropped
        // when the drain period ends.
        let stopping = async move {
            shutdown.await;
            stop.stop();
        };
        let served = http::serve(listener, router, stopping, DRAIN).await;
        drop(scheduler);
        drop(renderer);
        drop(webhooks);
        drop(metrics_server);
        served
    }
}

/// The router, and what tells its WebSockets that the service is stopping.
fn router(ledger: &Ledger, hub: &Hub, auth: &Auth, graphiql_token: Option<String>) -> (Router, StopSignal) {
    let limits = ledger.config().limits();
    let state = AppState::new(ledger.clone(), hub.clone(), auth.clone(), graphiql_token, limits);
    let stop = state.stop_signal();
    (http::app(state), stop)
}

/// A socket bound to `addr` and not yet listening: a port in use is refused here.
/// Address reuse as `TcpListener::bind` sets it, so a restart need not wait out the
/// previous process's connections in TIME_WAIT.
fn bind(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// What went wrong with the port, in words; the system's own for the rare cases.
fn listen_failure(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => "address in use".into(),
        io::ErrorKind::AddrNotAvailable => "not an address of this machine".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}
