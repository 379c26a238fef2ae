use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "edits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub photo_id: i64,
    pub background_id: String,
    pub logo_id: Option<i64>,
    pub logo_position: Option<LogoPosition>,
    pub credits_charged: i32,
    /// The lot that paid for this edit.
    pub lot_id: i64,
    pub paid_from: Bucket,
    pub applied_at: DateTimeUtc,
    pub reverted_at: Option<DateTimeUtc>,
    /// Who made it: the token's `sub`, and its role (`member`, `ops`, `renderer`).
    pub actor_user_id: Option<String>,
    pub actor_role: Option<String>,
    /// `RENDERING` until the render service answers, then `READY` or `FAILED`.
    pub status: EditStatus,
    /// The rendered image; set when `READY`, replaced by a correction.
    pub image_url: Option<String>,
    pub failure_reason: Option<String>,
    /// When the edit's credit went back; at most once.
    pub refunded_at: Option<DateTimeUtc>,
    /// The account's `edit_revision` as of this edit's last change.
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
