//! The `Node` interface: anything with a global id.
use async_graphql::ID;

use super::account::Account;
use super::billing::{CreditNote, CreditPack, Invoice, LedgerEntry};
use super::photos::{Background, FaultyReport, Logo, Photo, PhotoEdit};
use crate::ids::IdCodec;
use crate::reads::Stored;

/// Anything with a global id.
#[derive(async_graphql::Interface)]
#[graphql(field(
    name = "id",
    ty = "&ID",
    desc = "The object's global id: opaque and signed, to pass back as it is. `node(id:)` finds the object again; a forged id or one of another account answers null, like a missing record."
))]
pub enum Node {
    Account(Account),
    Background(Background),
    CreditNote(CreditNote),
    CreditPack(CreditPack),
    FaultyReport(FaultyReport),
    Invoice(Invoice),
    LedgerEntry(LedgerEntry),
    Logo(Logo),
    Photo(Photo),
    PhotoEdit(PhotoEdit),
}

impl Node {
    /// The node of a stored record.
    pub fn stored(ids: &IdCodec, stored: Stored) -> Node {
        match stored {
            Stored::Account(a) => Node::Account(Account::new(ids, a)),
            Stored::Photo(p) => Node::Photo(Photo::new(ids, p)),
            Stored::Edit(e) => Node::PhotoEdit(PhotoEdit::new(ids, e)),
            Stored::Report(r) => Node::FaultyReport(FaultyReport::new(ids, r)),
            Stored::Logo(l) => Node::Logo(Logo::new(ids, l)),
            Stored::LedgerEntry(e) => Node::LedgerEntry(LedgerEntry::new(ids, e)),
            Stored::Invoice(i) => Node::Invoice(Invoice::new(ids, i)),
            Stored::CreditNote(n) => Node::CreditNote(CreditNote::new(ids, n)),
        }
    }
}
