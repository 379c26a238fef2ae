//! Runs what the clock makes due (expiry, monthly resets, the launch promotion, lots
//! entering the expiry warning window) without waiting for a request. Every instance
//! runs it: each account is processed under its lock, and a tick leaves an account
//! another instance holds to it (`Ledger::process_due_shared`), so the instances split
//! a burst of due accounts and none finds anything left to do after another.
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::ledger::Ledger;

/// How often the scheduler looks for due work.
const TICK: Duration = Duration::from_secs(1);

/// Starts the scheduler; abort the handle to stop it (a transaction it was in rolls back).
pub fn spawn(ledger: Ledger) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let pass = ledger.process_due_shared().await;
            ledger
                .metrics()
                .scheduler_pass(pass.as_ref().ok().map(|pass| pass.failed.len()));
            match pass {
                Ok(pass) if !pass.failed.is_empty() => {
                    tracing::warn!(
                        failed = pass.failed.len(),
                        "some accounts could not catch up; will try again"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "processing due expiries and resets failed; will try again"),
            }
        }
    })
}
