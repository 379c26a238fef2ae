//! Telling the connections that outlive a request, the WebSockets, that the service is
//! stopping: each closes with 1001 (Going Away), so clients reconnect elsewhere at once
//! instead of seeing the connection dropped (1006) when the drain period ends.
use std::sync::Arc;

use tokio::sync::watch;

/// Says the service is stopping; cheap to clone.
#[derive(Clone)]
pub struct StopSignal(Arc<watch::Sender<bool>>);

/// Hears that the service is stopping.
#[derive(Clone)]
pub struct Stopping(watch::Receiver<bool>);

/// A signal and what hears it.
pub fn channel() -> (StopSignal, Stopping) {
    let (sender, receiver) = watch::channel(false);
    (StopSignal(Arc::new(sender)), Stopping(receiver))
}

impl StopSignal {
    /// Tells every [`Stopping`] of this signal, now and later.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Stopping {
    /// Resolves once the service is stopping; never, if its signal is gone unsent.
    pub async fn wait(&mut self) {
        if self.0.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
