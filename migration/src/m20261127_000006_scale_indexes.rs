//! Indexes the figures at scale asked for (issue 16, `bench/run.sh --only scale`).
//!
//! The scheduler looks every second for lots with credits left that entered the
//! expiry warning window and were not told yet (`Ledger::process_due`). Through
//! `lots_pending_expiry` (expired, expires_at) it read every unexpired lot expiring
//! within the window and dropped those told already: in the last week of a cycle that
//! is every account's monthly lot, 75,000 rows a second at 100,000 accounts. This
//! index starts at the untold ones, so the look reads only what it returns. Additive
//! only: the previous release runs the same statements and PostgreSQL and SQLite pick
//! the index by themselves.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Lots {
    Table,
    Expired,
    ExpiryWarnedAt,
    ExpiresAt,
}

const UNWARNED: &str = "lots_unwarned_expiry";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(UNWARNED)
                .table(Lots::Table)
                .col(Lots::Expired)
                .col(Lots::ExpiryWarnedAt)
                .col(Lots::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(UNWARNED).table(Lots::Table).to_owned())
            .await
    }
}
