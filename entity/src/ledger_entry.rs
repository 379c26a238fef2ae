use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub lot_id: i64,
    pub kind: EntryKind,
    pub bucket: Bucket,
    /// Signed change of the lot's remaining credits.
    pub amount: i32,
    /// The account's available credits right after this entry.
    pub balance_after: i32,
    pub created_at: DateTimeUtc,
    /// What caused it, e.g. `apply:<key>`, `reset:<cycle>`, `purchase:<id>`.
    pub cause: String,
    pub description: String,
    /// Who made it; none where the clock did: the token's `sub`, and its role (`member`, `ops`, `renderer`).
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
