//! What the HTTP and WebSocket layers let through: body size, request time, batch
//! size, the WebSocket's timers and operation cap, and each account's share of the
//! connection pool. The values come from the configuration (`Config::limits`); the
//! defaults are [`Limits::default`]. A module of its own so that `http` and `ws`, which
//! both read them, need not import each other.
use std::time::Duration;

/// What the HTTP layer lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Longest a request may take before it is answered 408.
    pub timeout: Duration,
    /// Most operations in one batched request.
    pub batch: usize,
    /// Longest a WebSocket may wait before sending `connection_init`.
    pub connection_init: Duration,
    /// How often an idle WebSocket is pinged, so proxies keep it open; above zero.
    pub keep_alive: Duration,
    /// Most operations one WebSocket may run at once.
    pub subscriptions_per_connection: usize,
    /// Most HTTP requests of one account served at once; the rest wait their turn
    /// ([`crate::gate::Gate`]), so one account cannot take the whole connection pool.
    pub requests_per_account: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 256 * 1024,
            timeout: Duration::from_secs(30),
            batch: 10,
            connection_init: Duration::from_secs(10),
            keep_alive: Duration::from_secs(15),
            subscriptions_per_connection: 32,
            requests_per_account: 4,
        }
    }
}
