use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub listing_ref: String,
    pub original_url: String,
    pub created_at: DateTimeUtc,
    pub current_edit_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The edit the photo shows now.
    #[sea_orm(
        belongs_to = "super::edit::Entity",
        from = "Column::CurrentEditId",
        to = "super::edit::Column::Id"
    )]
    CurrentEdit,
}

impl ActiveModelBehavior for ActiveModel {}
