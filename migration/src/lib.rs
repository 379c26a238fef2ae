//! Schema migrations, run by the service at start (and by `cargo run -p migration`).
pub use sea_orm_migration::prelude::*;
/// The table of applied migrations, which the service reads to tell a newer release's.
pub use sea_orm_migration::seaql_migrations;

mod m20261124_000001_create_ledger;
mod m20261127_000001_promotion_campaigns;
mod m20261127_000002_accounts_and_actors;
mod m20261127_000003_renders;
mod m20261127_000004_invoices_and_events;
mod m20261127_000005_expiry_warnings;
mod m20261127_000006_due_indexes;

/// Every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_ledger::Migration),
            Box::new(m20261127_000001_promotion_campaigns::Migration),
            Box::new(m20261127_000002_accounts_and_actors::Migration),
            Box::new(m20261127_000003_renders::Migration),
            Box::new(m20261127_000004_invoices_and_events::Migration),
            Box::new(m20261127_000005_expiry_warnings::Migration),
            Box::new(m20261127_000006_due_indexes::Migration),
        ]
    }
}
