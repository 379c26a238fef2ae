//! The schema's object types, by area, each a thin wrapper over a stored row or the
//! balance rules that resolves nested records through the request's loaders:
//! [`scalars`] (`DateTime`, the credit bucket), [`paging`] (pages and their cursors),
//! [`account`], [`actor`] (who made a change), [`balance`], [`photos`] (the studio), [`billing`] (packs, invoices,
//! the ledger, credit notes), [`webhooks`] (the events for other systems, for OPS) and
//! [`node`] (anything with a global id).
pub mod account;
pub mod actor;
pub mod balance;
pub mod billing;
pub mod node;
pub mod paging;
pub mod photos;
pub mod scalars;
pub mod webhooks;

pub use account::{Account, Plan, PlanCode};
pub use actor::Actor;
pub use balance::{
    Balance, CreditExpiry, FairUse, MonthlyBalance, PromotionBalance, PurchasedBalance, PurchasedLot, balance_of,
};
pub use billing::{
    CreditNote, CreditPack, Invoice, InvoiceConnection, InvoiceEdge, InvoiceLine, LedgerEntry, LedgerEntryConnection,
    LedgerEntryEdge, LedgerEntryKind, Money,
};
pub use node::Node;
pub use paging::{Page, PageInfo};
pub use photos::{
    Background, EditStatus, FaultyReport, FaultyReportConnection, FaultyReportEdge, Logo, LogoPosition, Photo,
    PhotoConnection, PhotoEdge, PhotoEdit, ReportResolutionKind, ReportStatus,
};
pub use scalars::{CreditBucket, DateTime};
pub use webhooks::{WebhookEvent, WebhookEventConnection, WebhookEventEdge, WebhookStatus};
