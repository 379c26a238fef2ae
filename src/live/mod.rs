//! Live balances: which accounts this instance has subscribers for, and the current
//! balance of each, read again whenever a change of the account is committed on any
//! instance ([`crate::ledger::ChangeFeed`]). An account's balance is read once for all
//! its subscribers, and never twice at the same time; an idle subscriber holds only a
//! `watch` receiver: no connection, no task, no polling.
//!
//! When the feed may have missed changes (the PostgreSQL listener reconnected, or an
//! in-process listener lagged), every watched account is read again.
//!
//! The same feed drives the live edits ([`edits`]): an account's changed edits are
//! read and pushed to its `editChanged` subscribers.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

use crate::ledger::{ChangeFeed, Ledger};
use crate::rules::balance::Breakdown;

mod edits;
mod listen;

pub use edits::EditWatch;

/// Most balance reads in flight at once, so a burst of changes cannot take the pool.
const MAX_READS: usize = 8;
/// How long a failed read waits before it is tried again.
const READ_RETRY: Duration = Duration::from_secs(1);

/// The balances this instance pushes to its subscribers; cheap to clone. The task that
/// follows the change feed stops when the last clone is dropped.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    ledger: Ledger,
    watched: Mutex<HashMap<i64, Watched>>,
    /// Accounts whose edits are watched.
    edits: Mutex<HashMap<i64, edits::EditsWatched>>,
    reads: Semaphore,
    feed: Mutex<Option<JoinHandle<()>>>,
    /// Numbers each [`Watched`], so a read of an entry dropped and made again while
    /// it was in flight cannot publish into the new one.
    generations: AtomicU64,
}

/// An account with subscribers on this instance.
struct Watched {
    generation: u64,
    /// The latest balance read; `None` until the first read completes.
    balance: watch::Sender<Option<Arc<Breakdown>>>,
    /// A read is in flight.
    reading: bool,
    /// Read once more after the read in flight, which may predate a change.
    again: bool,
}

/// Why an account is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// A new watcher: read if there is no value yet.
    Watcher,
    /// A change of the account was committed, or changes may have been missed (the
    /// listener reconnected): read again, and push only what differs, so a read that
    /// sees a change twice (its NOTIFY arriving while a read was in flight) pushes it
    /// once.
    Changed,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(feed) = self.feed.get_mut().ok().and_then(Option::take) {
            feed.abort();
        }
    }
}

impl Hub {
    /// Starts following `ledger`'s change feed.
    pub fn start(ledger: Ledger) -> Hub {
        let feed = ledger.change_feed();
        let inner = Arc::new(Inner {
            ledger: ledger.clone(),
            watched: Mutex::new(HashMap::new()),
            edits: Mutex::new(HashMap::new()),
            reads: Semaphore::new(MAX_READS),
            feed: Mutex::new(None),
            generations: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&inner);
        let task = match feed {
            ChangeFeed::InProcess(receiver) => tokio::spawn(follow_in_process(weak, receiver)),
            ChangeFeed::Notify { channel } => tokio::spawn(listen::follow(weak, ledger, channel)),
        };
        *lock(&inner.feed) = Some(task);
        Hub { inner }
    }

    /// Watches `account_id`'s balance: the current value first, then each new one.
    pub fn watch(&self, account_id: i64) -> BalanceWatch {
        let mut watched = lock(&self.inner.watched);
        let mut receiver = match watched.get(&account_id) {
            Some(w) => w.balance.subscribe(),
            None => {
                let (balance, receiver) = watch::channel(None);
                watched.insert(
                    account_id,
                    Watched {
                        generation: self.inner.generations.fetch_add(1, Ordering::Relaxed),
                        balance,
                        reading: false,
                        again: false,
                    },
                );
                receiver
            }
        };
        // The value at hand, if any, is the subscriber's first.
        receiver.mark_changed();
        self.inner.request_read(&mut watched, account_id, Cause::Watcher);
        drop(watched);
        BalanceWatch {
            hub: self.inner.clone(),
            account_id,
            receiver,
            _counted: self.inner.ledger.metrics().subscriber(),
        }
    }

    /// How many accounts this instance has subscribers for.
    pub fn watched_accounts(&self) -> usize {
        lock(&self.inner.watched).len()
    }
}

impl Inner {
    /// A change of `account_id` was committed: read it again if anyone watches it.
    fn changed(self: &Arc<Self>, account_id: i64) {
        let mut watched = lock(&self.watched);
        self.request_read(&mut watched, account_id, Cause::Changed);
        drop(watched);
        let mut edits = lock(&self.edits);
        self.request_edits_read(&mut edits, account_id);
    }

    /// Changes may have been missed: read every watched account again.
    fn changed_all(self: &Arc<Self>) {
        let mut watched = lock(&self.watched);
        let accounts: Vec<i64> = watched.keys().copied().collect();
        for account_id in accounts {
            self.request_read(&mut watched, account_id, Cause::Changed);
        }
        drop(watched);
        let mut edits = lock(&self.edits);
        let accounts: Vec<i64> = edits.keys().copied().collect();
        for account_id in accounts {
            self.request_edits_read(&mut edits, account_id);
        }
    }

    /// Starts a read of `account_id`, or one more after the read in flight, which may
    /// predate the change. A new watcher of an account already read needs no read.
    fn request_read(self: &Arc<Self>, watched: &mut HashMap<i64, Watched>, account_id: i64, cause: Cause) {
        let Some(entry) = watched.get_mut(&account_id) else {
            return;
        };
        let needed = cause != Cause::Watcher || entry.balance.borrow().is_none();
        if entry.reading {
            entry.again |= needed;
        } else if needed {
            entry.reading = true;
            tokio::spawn(read(Arc::downgrade(self), account_id, entry.generation));
        }
    }
}

/// Reads `account_id`'s balance and publishes it, again while changes arrived during
/// the read, and again after a failure; stops when nobody watches the account.
async fn read(hub: Weak<Inner>, account_id: i64, generation: u64) {
    loop {
        let Some(inner) = hub.upgrade() else { return };
        if lock(&inner.watched)
            .get(&account_id)
            .is_none_or(|entry| entry.generation != generation)
        {
            return;
        }
        let result = match inner.reads.acquire().await {
            Ok(_permit) => current(&inner.ledger, account_id).await,
            Err(_) => return,
        };
        let failed = {
            let mut watched = lock(&inner.watched);
            let Some(entry) = watched.get_mut(&account_id).filter(|e| e.generation == generation) else {
                return;
            };
            match result {
                Ok(balance) => {
                    if differs(entry.balance.borrow().as_deref(), &balance) {
                        entry.balance.send_replace(Some(Arc::new(balance)));
                    }
                    if !std::mem::take(&mut entry.again) {
                        entry.reading = false;
                        return;
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!(account_id, error = %e, "reading a live balance failed; trying again");
                    true
                }
            }
        };
        drop(inner);
        if failed {
            tokio::time::sleep(READ_RETRY).await;
        }
    }
}

/// Whether `new` shows the dealer something `old` did not (the instant aside).
fn differs(old: Option<&Breakdown>, new: &Breakdown) -> bool {
    old.is_none_or(|old| {
        let at_same_instant = Breakdown {
            as_of: new.as_of,
            ..old.clone()
        };
        at_same_instant != *new
    })
}

async fn current(ledger: &Ledger, account_id: i64) -> Result<Breakdown, crate::Error> {
    let account = ledger
        .account(account_id)
        .await?
        .ok_or_else(|| crate::Error::Internal(format!("account {account_id} vanished")))?;
    ledger.balance(&account).await
}

/// SQLite: the ledger's in-process messages.
async fn follow_in_process(hub: Weak<Inner>, mut changes: broadcast::Receiver<i64>) {
    loop {
        let received = changes.recv().await;
        let Some(inner) = hub.upgrade() else { return };
        match received {
            Ok(account_id) => inner.changed(account_id),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the live balance fell behind; reading every watched account again"
                );
                inner.changed_all();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One subscriber's view of an account's balance; stops watching when dropped.
pub struct BalanceWatch {
    hub: Arc<Inner>,
    account_id: i64,
    receiver: watch::Receiver<Option<Arc<Breakdown>>>,
    /// Counts this subscriber in the metrics while it lives.
    _counted: crate::metrics::Open,
}

impl BalanceWatch {
    /// The next balance to show: at first the current one, then each newer one. `None`
    /// only when the hub is gone.
    pub async fn next(&mut self) -> Option<Arc<Breakdown>> {
        loop {
            self.receiver.changed().await.ok()?;
            if let Some(balance) = self.receiver.borrow_and_update().clone() {
                return Some(balance);
            }
        }
    }
}

impl Drop for BalanceWatch {
    fn drop(&mut self) {
        let mut watched = lock(&self.hub.watched);
        // This watch's receiver is still alive here: it is the last when the count is 1.
        if watched
            .get(&self.account_id)
            .is_some_and(|w| w.balance.receiver_count() <= 1)
        {
            watched.remove(&self.account_id);
        }
    }
}

/// The lock of a map no code panics while holding; a poisoned one is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
