use sea_orm::entity::prelude::*;

/// The credit note that voided an invoice: its amounts negated.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub invoice_id: i64,
    pub account_id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub year: i32,
    pub sequence: i32,
    pub issued_at: DateTimeUtc,
    pub reason: String,
    /// Negative, as are the tax and the total.
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub currency: String,
    /// Who issued it: the token's `sub`, and its role.
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
