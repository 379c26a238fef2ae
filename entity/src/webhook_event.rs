use sea_orm::entity::prelude::*;

/// An event for other systems in the outbox, written in the transaction of its change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// The outbox's order: per account, events are delivered by increasing id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The `webhook-id` a receiver deduplicates by; never changes.
    #[sea_orm(unique)]
    pub event_id: String,
    pub account_id: Option<i64>,
    /// `invoice.issued`, `credits.low`, ...
    pub event_type: String,
    /// The JSON body as sent.
    pub payload: String,
    pub occurred_at: DateTimeUtc,
    /// `PENDING`, `DELIVERED` or `FAILED`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Until when one instance holds it in flight.
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
