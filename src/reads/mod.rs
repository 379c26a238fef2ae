//! The read side: every statement that answers a query and changes nothing, in one
//! place, over the ledger's connection pool. The write side is [`crate::ledger`]: its
//! operations run in transactions that lock the account, and return what they wrote
//! so that a mutation's answer reads nothing after it. The ledger keeps its own few
//! reads: `Ledger::balance`, which writes what the clock has made due before it
//! answers, and beside it `account`, `lots` and `entries`.
//!
//! What the API shows is read here, and only here outside the ledger:
//! - [`pages`]: keyset pages of an account's photos, ledger, invoices, and its logos,
//!   of the correction team's queue of reports, and of the events for other systems;
//! - [`batch`]: the batched statements behind the request's loaders (records by id,
//!   a page of each photo's edits and reports, each invoice's lines);
//! - [`nodes`]: any stored record by the kind and key of its global id.
//!
//! The rows are sea-orm's models, re-exported under the names below, so the API names
//! them without naming the storage crate.
use sea_orm::DatabaseConnection;

pub mod batch;
pub mod nodes;
pub mod pages;

pub use batch::PhotoWindow;
pub use nodes::Stored;
pub use pages::Window;

pub use entity::account::Model as AccountRow;
pub use entity::background::Model as BackgroundRow;
pub use entity::credit_note::Model as CreditNoteRow;
pub use entity::edit::Model as EditRow;
/// The stored vocabulary, for the API's enums to mirror.
pub use entity::enums::{Bucket, EditStatus, EntryKind, LogoPosition, PlanCode, ReportStatus};
pub use entity::faulty_report::Model as ReportRow;
pub use entity::invoice::Model as InvoiceRow;
pub use entity::invoice_line::Model as InvoiceLineRow;
pub use entity::ledger_entry::Model as LedgerEntryRow;
pub use entity::logo::Model as LogoRow;
pub use entity::lot::Model as LotRow;
pub use entity::photo::Model as PhotoRow;
pub use entity::webhook_event::Model as WebhookEventRow;

/// Reads over one database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Reads {
    db: DatabaseConnection,
}

impl Reads {
    pub fn new(db: DatabaseConnection) -> Self {
        Reads { db }
    }
}
