use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub plan: PlanCode,
    pub listing_slots: i32,
    pub created_at: DateTimeUtc,
    /// Start of the cycle whose monthly lot is current.
    pub cycle_start: DateTimeUtc,
    /// When the next monthly reset is due: the scheduler's work list.
    pub next_reset_at: DateTimeUtc,
    /// Whether the launch promotion has been considered for this account.
    pub promotion_processed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
