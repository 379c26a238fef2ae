//! Live edits: every change of an edit of a watched account (its status, its image,
//! its refund), pushed to the account's `editChanged` subscribers on this instance. The
//! same committed-change feed as balances drives it; each watched account remembers
//! the edit revision it last published, so one read after a change, or after the
//! feed may have missed some (a listener reconnect), publishes exactly the edits
//! changed since, each once. A new subscriber first gets nothing.
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tokio::sync::broadcast;

use super::{Hub, Inner, READ_RETRY, lock};
use crate::reads::EditRow;

/// How many edit changes a slow subscriber may fall behind before it skips some.
const EDIT_BUFFER: usize = 1024;

/// An account with `editChanged` subscribers on this instance.
pub(super) struct EditsWatched {
    generation: u64,
    sender: broadcast::Sender<Arc<EditRow>>,
    /// The account's edit revision published up to; none until the first read.
    seen: Option<i64>,
    reading: bool,
    again: bool,
}

impl Hub {
    /// Watches the changes of `account_id`'s edits from now on.
    pub fn watch_edits(&self, account_id: i64) -> EditWatch {
        let mut watched = lock(&self.inner.edits);
        let receiver = match watched.get(&account_id) {
            Some(w) => w.sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(EDIT_BUFFER);
                watched.insert(
                    account_id,
                    EditsWatched {
                        generation: self.inner.generations.fetch_add(1, Ordering::Relaxed),
                        sender,
                        seen: None,
                        reading: false,
                        again: false,
                    },
                );
                // The revision to publish from.
                self.inner.request_edits_read(&mut watched, account_id);
                receiver
            }
        };
        drop(watched);
        EditWatch {
            hub: self.inner.clone(),
            account_id,
            receiver,
            _counted: self.inner.ledger.metrics().subscriber(),
        }
    }
}

impl Inner {
    /// Reads the account's changed edits if anyone watches them, or once more after
    /// the read in flight.
    pub(super) fn request_edits_read(self: &Arc<Self>, watched: &mut HashMap<i64, EditsWatched>, account_id: i64) {
        let Some(entry) = watched.get_mut(&account_id) else {
            return;
        };
        if entry.reading {
            entry.again = true;
        } else {
            entry.reading = true;
            tokio::spawn(read_edits(Arc::downgrade(self), account_id, entry.generation));
        }
    }
}

/// Publishes the edits of `account_id` changed since the revision last published,
/// again while changes arrived during the read, and again after a failure.
async fn read_edits(hub: Weak<Inner>, account_id: i64, generation: u64) {
    loop {
        let Some(inner) = hub.upgrade() else { return };
        let seen = match lock(&inner.edits).get(&account_id) {
            Some(entry) if entry.generation == generation => entry.seen,
            _ => return,
        };
        let result = match inner.reads.acquire().await {
            Ok(_permit) => inner.ledger.edits_changed_since(account_id, seen).await,
            Err(_) => return,
        };
        let failed = {
            let mut watched = lock(&inner.edits);
            let Some(entry) = watched.get_mut(&account_id).filter(|e| e.generation == generation) else {
                return;
            };
            match result {
                Ok((edits, revision)) => {
                    for edit in edits {
                        // No receiver is not an error: the last one just left.
                        let _ = entry.sender.send(Arc::new(edit));
                    }
                    entry.seen = Some(revision.max(seen.unwrap_or(0)));
                    if !std::mem::take(&mut entry.again) {
                        entry.reading = false;
                        return;
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!(account_id, error = %e, "reading live edits failed; trying again");
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

/// One subscriber's view of an account's edit changes; stops watching when dropped.
pub struct EditWatch {
    hub: Arc<Inner>,
    account_id: i64,
    receiver: broadcast::Receiver<Arc<EditRow>>,
    /// Counts this subscriber in the metrics while it lives.
    _counted: crate::metrics::Open,
}

impl EditWatch {
    /// The next changed edit, as it is after the change. A subscriber that fell more
    /// than [`EDIT_BUFFER`] changes behind skips to the oldest it still can see.
    /// `None` only when the hub is gone.
    pub async fn next(&mut self) -> Option<Arc<EditRow>> {
        loop {
            match self.receiver.recv().await {
                Ok(edit) => return Some(edit),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live edits subscriber fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for EditWatch {
    fn drop(&mut self) {
        let mut watched = lock(&self.hub.edits);
        // This watch's receiver is still alive here: it is the last when the count is 1.
        if watched
            .get(&self.account_id)
            .is_some_and(|w| w.sender.receiver_count() <= 1)
        {
            watched.remove(&self.account_id);
        }
    }
}
