use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub year: i32,
    pub sequence: i32,
    pub issued_at: DateTimeUtc,
    /// Gross: `subtotal_cents + tax_cents`.
    pub total_cents: i64,
    pub currency: String,
    /// Net; none on an invoice of the first release, which billed no VAT (its total is
    /// net).
    pub subtotal_cents: Option<i64>,
    pub tax_cents: Option<i64>,
    pub vat_percent: Option<i32>,
    /// The seller as configured when the invoice was issued.
    pub seller_name: Option<String>,
    pub seller_address: Option<String>,
    pub seller_vat_id: Option<String>,
    /// The buyer as the account read when the invoice was issued.
    pub buyer_name: Option<String>,
    pub buyer_address: Option<String>,
    pub buyer_vat_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
