//! sea-orm entities of the credit ledger, one module per table, and the enums the
//! tables store as text.
pub mod account;
pub mod background;
pub mod credit_note;
pub mod credit_note_sequence;
pub mod edit;
pub mod enums;
pub mod faulty_report;
pub mod idempotency_record;
pub mod invoice;
pub mod invoice_line;
pub mod invoice_sequence;
pub mod ledger_entry;
pub mod logo;
pub mod lot;
pub mod pack;
pub mod photo;
pub mod purchase;
pub mod render_job;
pub mod webhook_event;
