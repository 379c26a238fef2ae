use crate::enums::ReportStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "faulty_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub photo_id: i64,
    pub edit_id: i64,
    pub reason: Option<String>,
    pub reported_at: DateTimeUtc,
    /// Who made it: the token's `sub`, and its role (`member`, `ops`, `renderer`).
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
    /// `OPEN` until the correction team resolves it.
    pub status: ReportStatus,
    pub resolution_kind: Option<ReportStatus>,
    /// The note for the dealer of a `REJECTED` report.
    pub resolution_note: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    /// Who resolved it: the token's `sub`, and its role.
    pub resolved_by_user_id: Option<String>,
    pub resolved_by_role: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
