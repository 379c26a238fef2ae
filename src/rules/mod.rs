//! The credit rules that need no storage: billing cycles, what each plan is entitled
//! to, what granted a lot, the order credits are spent in, and what text a client may
//! send, and the VAT of an invoice. Unit tests drive them directly.
pub mod balance;
pub mod catalog;
pub mod cycle;
pub mod entitlement;
#[cfg(test)]
mod fixtures;
pub mod lot_origin;
pub mod pricing;
pub mod spending_order;
pub mod text;
pub mod vat;
pub mod webhook_events;
