//! What every mutation shares: the `userErrors` a refusal becomes, the input ids the
//! ledger acts on, and the viewer's own account and balance.
use std::str::FromStr;

use async_graphql::{Context, ID, SimpleObject};

use crate::error::{Error, Refusal, RefusalCode};
use crate::graphql::context::{account_user, ledger};
use crate::graphql::errors::{OrInternal, forbidden, internal, unauthenticated};
use crate::graphql::types::{Balance, balance_of};
use crate::ids::{IdCodec, Kind};

/// A business rule refused the request; nothing was changed.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// Which rule refused; stable, for code to branch on.
    pub code: RefusalCode,
    /// What happened, in English, for a person; may change wording between releases.
    pub message: String,
    /// Path to the offending input field, e.g. ["input", "photoIds", "2"].
    pub field: Option<Vec<String>>,
}

impl From<Refusal> for UserError {
    fn from(r: Refusal) -> Self {
        UserError {
            code: r.code,
            message: r.message,
            field: r.field,
        }
    }
}

/// The value of a ledger operation, or the refusal its payload reports; a fault is
/// logged and becomes an `INTERNAL` error.
pub fn settle<T>(ctx: &Context<'_>, result: Result<T, Error>) -> async_graphql::Result<Result<T, UserError>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(Error::Refused(refusal)) => Ok(Err(refusal.into())),
        Err(fault) => Err(internal(ctx, fault)),
    }
}

/// An input id that a ledger operation takes: the kind it must be, and the refusal for
/// one that does not decode to that kind (forged, malformed, or another kind's), which
/// reads exactly like the refusal for an id of nothing.
#[derive(Debug, Clone, Copy)]
pub struct InputId {
    kind: Kind,
    refusal: RefusalCode,
    message: &'static str,
}

impl InputId {
    pub const ACCOUNT: InputId = InputId::new(Kind::Account, RefusalCode::AccountNotFound, "No such account.");
    pub const PHOTO: InputId = InputId::new(Kind::Photo, RefusalCode::PhotoNotFound, "No such photo.");
    pub const LOGO: InputId = InputId::new(Kind::Logo, RefusalCode::LogoNotFound, "No such logo.");
    pub const BACKGROUND: InputId =
        InputId::new(Kind::Background, RefusalCode::BackgroundNotFound, "No such background.");
    pub const REPORT: InputId = InputId::new(Kind::FaultyReport, RefusalCode::ReportNotFound, "No such report.");
    pub const EVENT: InputId = InputId::new(Kind::WebhookEvent, RefusalCode::EventNotFound, "No such event.");
    pub const INVOICE: InputId = InputId::new(Kind::Invoice, RefusalCode::InvoiceNotFound, "No such invoice.");
    pub const PACK: InputId = InputId::new(
        Kind::CreditPack,
        RefusalCode::PackNotAvailable,
        "This pack is not offered to the account's plan.",
    );

    const fn new(kind: Kind, refusal: RefusalCode, message: &'static str) -> Self {
        InputId { kind, refusal, message }
    }

    /// The key `id` names (a number or a configured id), or the refusal naming the
    /// input field at `path`.
    pub fn key<K: FromStr>(self, ids: &IdCodec, id: &ID, path: &[&str]) -> Result<K, Error> {
        ids.decode(self.kind, id)
            .and_then(|key| key.parse().ok())
            .ok_or_else(|| Refusal::new(self.refusal, self.message).at(path).into())
    }

    /// The keys of a list of ids at `field`, in order; the first that does not decode
    /// is refused, naming its index.
    pub fn keys<K: FromStr>(self, ids: &IdCodec, list: &[ID], field: &str) -> Result<Vec<K>, Error> {
        list.iter()
            .enumerate()
            .map(|(i, id)| self.key(ids, id, &[field, &i.to_string()]))
            .collect()
    }
}

/// The id of the account the signed-in user acts for, as the token says. Whether it
/// is stored is the ledger's to say: its transaction refuses a missing account.
pub fn own_account_id(ctx: &Context<'_>) -> async_graphql::Result<i64> {
    account_user(ctx)?
        .account_id
        .ok_or_else(|| forbidden("This user acts for no account."))
}

/// The account's balance as it is now, for an answer that has none from a
/// transaction (a refusal, or a replay); a token for no stored account is refused.
pub async fn balance_now(ctx: &Context<'_>, account_id: i64) -> async_graphql::Result<Balance> {
    let account = ledger(ctx)?
        .account(account_id)
        .await
        .or_internal(ctx)?
        .ok_or_else(unauthenticated)?;
    balance_of(ctx, &account).await
}
