//! Promotions become campaigns: an account remembers which campaigns it has been
//! considered for, so each grants at most one lot. Additive: the previous release
//! neither reads nor writes the column, and its inserts take the default.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    PromotionsConsidered,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(string(Accounts::PromotionsConsidered).default(""))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .drop_column(Accounts::PromotionsConsidered)
                .to_owned(),
        )
        .await
    }
}
