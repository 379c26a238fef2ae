use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub pack_id: String,
    pub lot_id: i64,
    pub invoice_id: i64,
    pub purchased_at: DateTimeUtc,
    /// Who made it: the token's `sub`, and its role (`member`, `ops`, `renderer`).
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
