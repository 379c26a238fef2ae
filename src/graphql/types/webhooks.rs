//! The events for other systems, as OPS sees them: what was sent, how often, and why
//! it failed.
use async_graphql::{Enum, ID, SimpleObject};

use super::paging::PageInfo;
use super::scalars::DateTime;
use crate::ids::{IdCodec, Kind};
use crate::ledger::{DELIVERED, FAILED, PENDING};
use crate::reads::WebhookEventRow;

/// Where an event's delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookStatus {
    /// Not yet answered 2xx; retried with growing delays.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after `webhook_retry_hours`; `redeliverWebhook` sends it again.
    Failed,
}

impl WebhookStatus {
    /// The status as the outbox stores it.
    pub fn stored(self) -> &'static str {
        match self {
            WebhookStatus::Pending => PENDING,
            WebhookStatus::Delivered => DELIVERED,
            WebhookStatus::Failed => FAILED,
        }
    }
}

/// An event for other systems (accounting, e-mail, the correction team).
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookEvent {
    /// The event's global id, for `redeliverWebhook`.
    pub id: ID,
    /// What it tells of, e.g. `invoice.issued`.
    #[graphql(name = "type")]
    pub event_type: String,
    /// When the change it tells of committed (UTC).
    pub occurred_at: DateTime,
    /// Attempts to deliver it so far.
    pub attempts: i32,
    /// Why the last attempt failed, e.g. "the receiver answered 503 Service
    /// Unavailable"; null when none failed.
    pub last_error: Option<String>,
    /// Where its delivery stands.
    pub status: WebhookStatus,
}

impl WebhookEvent {
    pub fn new(ids: &IdCodec, row: WebhookEventRow) -> Self {
        let status = [WebhookStatus::Pending, WebhookStatus::Delivered, WebhookStatus::Failed]
            .into_iter()
            .find(|s| s.stored() == row.status)
            .unwrap_or(WebhookStatus::Pending);
        WebhookEvent {
            id: ID(ids.encode(Kind::WebhookEvent, row.id)),
            event_type: row.event_type,
            occurred_at: row.occurred_at.into(),
            attempts: row.attempts,
            last_error: row.last_error,
            status,
        }
    }
}

/// A page of events, newest first.
#[derive(SimpleObject)]
pub struct WebhookEventConnection {
    /// The events of this page, newest first.
    pub edges: Vec<WebhookEventEdge>,
    /// Whether more events follow, and the cursors to ask for them.
    pub page_info: PageInfo,
}

/// An event in a page of events, with its cursor.
#[derive(SimpleObject)]
pub struct WebhookEventEdge {
    /// This event's place in the list: as `after`, it asks for the older ones.
    pub cursor: String,
    /// The event.
    pub node: WebhookEvent,
}
