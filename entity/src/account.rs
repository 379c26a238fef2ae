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
    /// Whether the campaign `launch` has been considered for this account (the first
    /// release's one promotion; kept in step for it).
    pub promotion_processed: bool,
    /// The promotion campaigns considered for this account, each once, as
    /// `,<id>,<id>,`: a campaign grants at most one lot per account.
    pub promotions_considered: String,
    /// The platform's own id of the account (1–64 printable characters), unique.
    pub external_id: Option<String>,
    /// The platform's sequence of the last subscription update applied.
    pub subscription_sequence: Option<i64>,
    /// How many times the account's edits changed; see `edit::Model::revision`.
    pub edit_revision: i64,
    /// The buyer's postal address on invoices, as the platform sends it.
    pub buyer_address: Option<String>,
    /// The buyer's VAT id on invoices, as the platform sends it.
    pub buyer_vat_id: Option<String>,
    /// Whether the balance was below `low_balance_threshold` when last told
    /// (`credits.low`, then `credits.recovered`): each crossing is told once.
    pub credits_low: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
