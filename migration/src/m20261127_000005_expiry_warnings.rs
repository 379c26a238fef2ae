//! `credits.expiring` once per lot (rules §6): a lot remembers when other systems were
//! told that it entered the warning window, so neither a second instance nor a later
//! pass tells it again. Additive only: the column is nullable, the previous release
//! never reads it, and a lot it granted meanwhile is told by this release's next pass.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Lots {
    Table,
    ExpiryWarnedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Lots::Table)
                .add_column(timestamp_with_time_zone_null(Lots::ExpiryWarnedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Lots::Table)
                .drop_column(Lots::ExpiryWarnedAt)
                .to_owned(),
        )
        .await
    }
}
