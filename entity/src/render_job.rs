use sea_orm::entity::prelude::*;

use crate::enums::EditStatus;

/// A charged edit's render: queued with the charge, leased to one claimant at a time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "render_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub edit_id: i64,
    pub account_id: i64,
    pub created_at: DateTimeUtc,
    /// How many times the job was claimed; a claim is named by the job and this number.
    pub attempt: i32,
    /// Until when the current claim holds it; none before the first claim.
    pub lease_expires_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// `READY` or `FAILED` once finished.
    pub outcome: Option<EditStatus>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
