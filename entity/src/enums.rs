//! The vocabulary of the rules, stored as text so both databases read the same.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A subscription plan.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanCode {
    #[sea_orm(string_value = "BASIC")]
    Basic,
    #[sea_orm(string_value = "PROFESSIONAL")]
    Professional,
    #[sea_orm(string_value = "PROFESSIONAL_PLUS")]
    ProfessionalPlus,
    #[sea_orm(string_value = "PREMIUM")]
    Premium,
}

/// The three kinds of lots, in the order credits are spent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Bucket {
    #[sea_orm(string_value = "LAUNCH_PROMOTION")]
    LaunchPromotion,
    #[sea_orm(string_value = "MONTHLY")]
    Monthly,
    #[sea_orm(string_value = "PURCHASED")]
    Purchased,
}

/// What a ledger entry did to its lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryKind {
    #[sea_orm(string_value = "GRANT")]
    Grant,
    #[sea_orm(string_value = "CHARGE")]
    Charge,
    #[sea_orm(string_value = "REFUND")]
    Refund,
    #[sea_orm(string_value = "EXPIRY")]
    Expiry,
    #[sea_orm(string_value = "ADJUSTMENT")]
    Adjustment,
}

/// Where a logo sits on a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogoPosition {
    #[sea_orm(string_value = "TOP_LEFT")]
    TopLeft,
    #[sea_orm(string_value = "TOP_RIGHT")]
    TopRight,
    #[sea_orm(string_value = "BOTTOM_LEFT")]
    BottomLeft,
    #[sea_orm(string_value = "BOTTOM_RIGHT")]
    BottomRight,
}

/// Where an edit's render stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EditStatus {
    #[sea_orm(string_value = "RENDERING")]
    Rendering,
    #[sea_orm(string_value = "READY")]
    Ready,
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

/// Where a faulty report stands: open, or the correction team's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "CORRECTED")]
    Corrected,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}
