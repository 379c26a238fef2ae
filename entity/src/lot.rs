use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub bucket: Bucket,
    /// What granted it: `cycle:<start>`, `promotion` or `purchase:<key>`; unique per account.
    pub origin: String,
    /// Everything ever granted to the lot (first grant and top-ups).
    pub granted: i32,
    pub remaining: i32,
    pub valid_from: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// Whether its expiry has been written to the ledger.
    pub expired: bool,
    pub created_at: DateTimeUtc,
    pub pack_id: Option<String>,
    /// When `credits.expiring` told that it entered the warning window; once per lot.
    pub expiry_warned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
