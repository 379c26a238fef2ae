//! Schema migrations, run by the service at start (and by `cargo run -p migration`).
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_ledger;

/// Every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261124_000001_create_ledger::Migration)]
    }
}
