//! The credit rules that need no storage: billing cycles, what each plan is entitled
//! to, and the order credits are spent in. Unit tests drive them directly.
pub mod balance;
pub mod cycle;
pub mod entitlement;
pub mod spending_order;
