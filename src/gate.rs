//! Fair shares of the connection pool: at most a few requests of one account run at
//! once on an instance, and the rest wait their turn without holding a connection. So
//! an account whose requests are slow (a long transaction holds its row, a huge page)
//! can take only its share of the pool, and every other account is still served.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Viewer;

/// Turns of the accounts that have requests running or waiting; cheap to clone.
#[derive(Clone)]
pub struct Gate {
    per_account: usize,
    accounts: Arc<Mutex<HashMap<i64, Arc<Semaphore>>>>,
}

/// A request's turn; the next request of the account may start when it is dropped.
pub struct Turn {
    account_id: i64,
    permit: Option<OwnedSemaphorePermit>,
    gate: Gate,
}

impl Gate {
    /// A gate letting `per_account` requests of one account run at once (at least one).
    pub fn new(per_account: usize) -> Gate {
        Gate {
            per_account: per_account.max(1),
            accounts: Arc::default(),
        }
    }

    /// Waits for a turn of `account_id`'s requests.
    pub async fn enter(&self, account_id: i64) -> Turn {
        let turns = Arc::clone(
            self.lock()
                .entry(account_id)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_account))),
        );
        // The semaphore is never closed, so acquiring fails never.
        let permit = turns.acquire_owned().await.ok();
        Turn {
            account_id,
            permit,
            gate: self.clone(),
        }
    }

    /// Waits for a turn of the viewer's account; OPS users acting for no account
    /// need none.
    pub async fn enter_for(&self, viewer: &Viewer) -> Option<Turn> {
        match viewer.account_id {
            Some(account_id) => Some(self.enter(account_id).await),
            None => None,
        }
    }

    /// Accounts with requests running or waiting.
    pub fn accounts(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Semaphore>>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut accounts = self.gate.lock();
        // Only the map holds the semaphore: no request of the account runs or waits
        // (a waiter holds a clone, and clones are taken under this lock).
        if accounts
            .get(&self.account_id)
            .is_some_and(|turns| Arc::strong_count(turns) == 1)
        {
            accounts.remove(&self.account_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_account_gets_its_share_and_others_are_let_through() {
        let gate = Gate::new(2);
        let first = gate.enter(1).await;
        let _second = gate.enter(1).await;
        let third = tokio::time::timeout(Duration::from_millis(50), gate.enter(1)).await;
        assert!(third.is_err(), "a third request of account 1 waits");
        let other = tokio::time::timeout(Duration::from_millis(50), gate.enter(2)).await;
        assert!(other.is_ok(), "account 2 is let through");
        drop(other);
        assert_eq!(gate.accounts(), 1, "account 2's entry is gone with its last turn");
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter(1).await.account_id }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert_eq!(
            waiting.await.expect("the waiter ran"),
            1,
            "a freed turn goes to the waiter"
        );
    }

    #[tokio::test]
    async fn the_last_turn_forgets_the_account() {
        let gate = Gate::new(1);
        drop(gate.enter(7).await);
        assert_eq!(gate.accounts(), 0);
    }
}
