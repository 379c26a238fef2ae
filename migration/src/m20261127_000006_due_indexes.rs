//! Indexes for the scheduler's pages of due work (`Ledger::process_due`), so that a
//! pass reads each page from an index in its own order, and a pass with nothing due
//! reads nothing: accounts by their next reset, accounts by creation (a campaign
//! considers those created before its window ended), those the launch promotion has
//! not considered yet, unexpired lots by expiry, and those not yet told of it, and
//! unfinished render jobs by age and by account (the give-up look, which every apply's
//! catch-up also runs for its account: through `render_jobs_queue` it read every
//! unfinished job of every account, 46,840 rows for one apply in the scale bench).
//! Partial indexes hold only the rows still to be done. Additive only: the previous
//! release reads none of them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index, by name, and its definition.
const INDEXES: [(&str, &str); 7] = [
    ("accounts_due_reset", "accounts (next_reset_at, id)"),
    ("accounts_by_creation", "accounts (created_at, id)"),
    (
        "accounts_launch_pending",
        "accounts (created_at, id) WHERE NOT promotion_processed",
    ),
    ("lots_due_expiry", "lots (expires_at, id) WHERE NOT expired"),
    (
        "lots_due_warning",
        "lots (expires_at, id) WHERE NOT expired AND expiry_warned_at IS NULL",
    ),
    (
        "render_jobs_unfinished_by_age",
        "render_jobs (created_at, account_id) WHERE finished_at IS NULL",
    ),
    (
        "render_jobs_unfinished_by_account",
        "render_jobs (account_id, created_at, id) WHERE finished_at IS NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // sea-query's index statements have no WHERE: the same SQL runs on SQLite and
        // PostgreSQL.
        for (name, definition) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("CREATE INDEX {name} ON {definition}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX {name}"))
                .await?;
        }
        Ok(())
    }
}
