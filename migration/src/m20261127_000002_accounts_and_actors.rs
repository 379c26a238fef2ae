//! Accounts named by the platform's own id, subscription updates ordered by the
//! platform's sequence, and who made each change (rules §4). Additive only: every new
//! column is nullable, so the previous release, which neither reads nor writes them,
//! keeps inserting rows (with no actor) while this one rolls out; the unique index on
//! `external_id` lets any number of accounts have none.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    ExternalId,
    SubscriptionSequence,
}

#[derive(DeriveIden)]
enum Edits {
    Table,
}
#[derive(DeriveIden)]
enum FaultyReports {
    Table,
}
#[derive(DeriveIden)]
enum Purchases {
    Table,
}
#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
}

/// The two columns that name who made a row: the token's `sub` and its role.
#[derive(DeriveIden, Clone, Copy)]
enum Actor {
    ActorUserId,
    ActorRole,
}

const INDEX: &str = "accounts_external_id_unique";

/// The tables whose rows a person makes.
fn acted_tables() -> [DynIden; 4] {
    [
        Edits::Table.into_iden(),
        FaultyReports::Table.into_iden(),
        Purchases::Table.into_iden(),
        LedgerEntries::Table.into_iden(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let account_columns = [
            string_len_null(Accounts::ExternalId, 64),
            big_integer_null(Accounts::SubscriptionSequence),
        ];
        for mut column in account_columns {
            m.alter_table(Table::alter().table(Accounts::Table).add_column(&mut column).to_owned())
                .await?;
        }
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(Accounts::Table)
                .col(Accounts::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        for table in acted_tables() {
            for column in [Actor::ActorUserId, Actor::ActorRole] {
                m.alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in acted_tables() {
            for column in [Actor::ActorUserId, Actor::ActorRole] {
                m.alter_table(Table::alter().table(table.clone()).drop_column(column).to_owned())
                    .await?;
            }
        }
        m.drop_index(Index::drop().name(INDEX).table(Accounts::Table).to_owned())
            .await?;
        for column in [Accounts::ExternalId, Accounts::SubscriptionSequence] {
            m.alter_table(Table::alter().table(Accounts::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
