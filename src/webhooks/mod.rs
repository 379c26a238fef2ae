//! Delivers the outbox's events (rules §6) to `webhook_url`, signed as the Standard
//! Webhooks specification says: `webhook-id` (the event's id, which never changes),
//! `webhook-timestamp` (seconds since the epoch) and `webhook-signature`, `v1,` and the
//! base64 HMAC-SHA256 of `id.timestamp.body` with `webhook_secret`. Each instance runs
//! one worker: it claims due events from the ledger under a lease (one in flight per
//! account, in order), sends several accounts' events at once so that a slow receiver
//! stalls no one else, and retries with growing delays and jitter until a 2xx answer
//! or `webhook_retry_hours` have passed, when the event is FAILED. A redirect is never
//! followed.
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entity::webhook_event;
use reqwest::{Client, Url, redirect};
use tokio::task::{JoinHandle, JoinSet};

use crate::ledger::{Attempt, Ledger};

pub mod signature;

use signature::{signature, signing_key};

/// How often the worker looks for due events when it has sent every one it found.
const TICK: StdDuration = StdDuration::from_millis(200);
/// How long a receiver may take to answer.
const SEND_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// How long a claimed event stays this instance's: longer than a send may take, so a
/// live instance never loses it, and short enough that an instance killed mid-send
/// lets another send it again soon.
const LEASE_SECONDS: i64 = 60;
/// Events of different accounts in flight at once from one instance.
const MAX_IN_FLIGHT: usize = 16;

/// How long to wait after the `attempts`-th failed attempt: 10 s doubling up to an
/// hour, each up to a quarter longer by `jitter` (0 to 1), so that receivers coming
/// back are not met by every instance at once.
pub fn retry_delay(attempts: i32, jitter: f64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(12);
    let base_ms = (10_000_i64 << doublings).min(3_600_000);
    let jittered = base_ms as f64 * (1.0 + jitter.clamp(0.0, 1.0) / 4.0);
    Duration::milliseconds(jittered as i64)
}

/// Where and how this instance sends events.
#[derive(Clone)]
struct Sender {
    client: Client,
    url: Url,
    key: Vec<u8>,
    retry_for: Duration,
}

/// Starts the worker when `webhook_url` is configured; abort the handle to stop it (an
/// event in flight keeps its lease and is sent again once the lease runs out).
pub fn spawn(ledger: Ledger) -> Option<JoinHandle<()>> {
    let config = ledger.config();
    let url: Url = config.webhook_url.as_deref()?.parse().ok()?;
    let key = signing_key(config.webhook_secret.as_ref()?.expose())?;
    let client = Client::builder()
        .timeout(SEND_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(redirect::Policy::none())
        .build();
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client: no events will be sent");
            return None;
        }
    };
    let sender = Sender {
        client,
        url,
        key,
        retry_for: Duration::hours(i64::from(config.webhook_retry_hours)),
    };
    Some(tokio::spawn(run(ledger, sender)))
}

async fn run(ledger: Ledger, sender: Sender) {
    let mut in_flight = JoinSet::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether the last claims stopped at MAX_IN_FLIGHT rather than at an empty outbox:
    // then a finished send claims the next event at once instead of at the next tick.
    let mut more_due = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => report_backlog(&ledger).await,
            Some(_) = in_flight.join_next(), if more_due => {}
        }
        while in_flight.try_join_next().is_some() {}
        more_due = loop {
            if in_flight.len() == MAX_IN_FLIGHT {
                break true;
            }
            match ledger.claim_webhook_event(Duration::seconds(LEASE_SECONDS)).await {
                Ok(Some(event)) => {
                    in_flight.spawn(send_and_settle(ledger.clone(), sender.clone(), event));
                }
                Ok(None) => break false,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a webhook event failed; will try again");
                    break false;
                }
            }
        };
    }
}

/// Sets the outbox's backlog metrics: the events pending and the oldest one's age.
async fn report_backlog(ledger: &Ledger) {
    match ledger.webhook_backlog().await {
        Ok((pending, oldest)) => {
            let age = oldest.map_or(Duration::zero(), |at| ledger.now() - at);
            ledger
                .metrics()
                .webhook_backlog(pending, age.to_std().unwrap_or_default());
        }
        Err(e) => tracing::warn!(error = %e, "reading the webhook backlog failed"),
    }
}

/// Sends one claimed event and records how it went.
async fn send_and_settle(ledger: Ledger, sender: Sender, event: webhook_event::Model) {
    let now = ledger.now();
    let attempt = match send(&sender, &event, now).await {
        Ok(()) => Attempt::Delivered,
        Err(error) => {
            let jitter = (uuid::Uuid::new_v4().as_u128() % 1_000) as f64 / 1_000.0;
            let retry_at = now + retry_delay(event.attempts + 1, jitter);
            let gives_up = retry_at - event.occurred_at > sender.retry_for;
            Attempt::Failed {
                error,
                retry_at: (!gives_up).then_some(retry_at),
            }
        }
    };
    let outcome = match &attempt {
        Attempt::Delivered => "delivered",
        Attempt::Failed { retry_at: Some(_), .. } => "retry",
        Attempt::Failed { retry_at: None, .. } => "failed",
    };
    match ledger.settle_webhook_event(event.id, attempt).await {
        Ok(()) => ledger.metrics().webhook_delivery(outcome),
        // The lease runs out and the event is sent again: at least once.
        Err(e) => tracing::warn!(error = %e, event = %event.event_id, "recording a webhook attempt failed"),
    }
}

/// Posts `event` to the receiver; the reason when it did not answer 2xx.
async fn send(sender: &Sender, event: &webhook_event::Model, now: DateTime<Utc>) -> Result<(), String> {
    let timestamp = now.timestamp();
    let response = sender
        .client
        .post(sender.url.clone())
        .header("content-type", "application/json")
        .header("webhook-id", &event.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&sender.key, &event.event_id, timestamp, &event.payload),
        )
        .body(event.payload.clone())
        .send()
        .await
        .map_err(|e| format!("not sent: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_10_seconds_up_to_an_hour_and_jitter_adds_up_to_a_quarter() {
        let seconds: Vec<i64> = (1..=11).map(|n| retry_delay(n, 0.0).num_seconds()).collect();
        assert_eq!(seconds, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(retry_delay(1, 1.0).num_milliseconds(), 12_500);
        assert_eq!(retry_delay(100, 0.5).num_seconds(), 4050);
    }
}
