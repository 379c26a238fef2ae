//! What clients change. Each resolver decodes its ids, calls one ledger operation and
//! turns a business refusal into `userErrors`; only faults become top-level errors.
use super::context::{ids, ledger, ops, reads, store, viewer};
use super::errors::{OrInternal, forbidden, internal, unauthenticated};
use super::loaders::{EditKey, LinesOfInvoice, PhotoKey};
use super::types::{
    Account, Balance, DateTime, FaultyReport, Invoice, Logo, LogoPosition, Photo, PhotoEdit, PlanCode, PurchasedLot,
    balance_of,
};
use crate::error::{Error, Refusal, RefusalCode};
use crate::ids::{IdCodec, Kind};
use crate::ledger::{Applied, ApplyRequest, LogoPlacement, Purchased};
use crate::reads::AccountRow;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

/// A business rule refused the request; nothing was changed.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    pub code: RefusalCode,
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
fn settle<T>(ctx: &Context<'_>, result: Result<T, Error>) -> async_graphql::Result<Result<T, UserError>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(Error::Refused(refusal)) => Ok(Err(refusal.into())),
        Err(fault) => Err(internal(ctx, fault)),
    }
}

/// The numeric key of an input id of `kind`; an id that does not decode is refused
/// with `code` exactly like an id of nothing.
fn key_of(ids: &IdCodec, kind: Kind, id: &ID, code: RefusalCode, what: &str, path: &[&str]) -> Result<i64, Error> {
    ids.decode_i64(kind, id)
        .ok_or_else(|| Refusal::new(code, format!("No such {what}.")).at(path).into())
}

/// The id of the account the signed-in user acts for, as the token says.
fn own_account_id(ctx: &Context<'_>) -> async_graphql::Result<i64> {
    viewer(ctx)?
        .account_id
        .ok_or_else(|| forbidden("This user acts for no account."))
}

/// The account the signed-in user acts for; a token for no stored account is refused.
async fn own_account(ctx: &Context<'_>) -> async_graphql::Result<AccountRow> {
    ledger(ctx)?
        .account(own_account_id(ctx)?)
        .await
        .or_internal(ctx)?
        .ok_or_else(unauthenticated)
}

/// The account's balance after an operation.
async fn balance_now(ctx: &Context<'_>, account_id: i64) -> async_graphql::Result<Balance> {
    let account = ledger(ctx)?
        .account(account_id)
        .await
        .or_internal(ctx)?
        .ok_or_else(unauthenticated)?;
    balance_of(ctx, &account).await
}

pub struct Mutation;

#[derive(InputObject)]
pub struct LogoPlacementInput {
    pub logo_id: ID,
    pub position: LogoPosition,
}

#[derive(InputObject)]
pub struct ApplyChangesInput {
    pub photo_ids: Vec<ID>,
    pub background_id: ID,
    pub logo: Option<LogoPlacementInput>,
    /// 1 to 128 printable characters, made by the client and scoped to the account.
    /// Sent again with the same input (the photos compared as a set: order and repeats
    /// do not matter) within `idempotency_retention_hours`, it answers the first
    /// outcome and charges nothing more; with another input it is refused with
    /// IDEMPOTENCY_KEY_REUSED. A refusal is not remembered: the key may be sent again.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct ApplyChangesPayload {
    pub credits_charged: i32,
    /// The edits created by this apply.
    pub edits: Vec<PhotoEdit>,
    /// Photos that already had the requested look: not charged.
    pub unchanged: Vec<Photo>,
    /// The balance now: after this apply, or as it is when a retry of the same key
    /// replays the first outcome; also when the apply was refused.
    pub balance: Balance,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct RevertPhotosInput {
    pub photo_ids: Vec<ID>,
}

#[derive(SimpleObject)]
pub struct RevertPhotosPayload {
    pub photos: Vec<Photo>,
    pub balance: Balance,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct ReportFaultyPhotoInput {
    pub photo_id: ID,
    pub reason: Option<String>,
}

#[derive(SimpleObject)]
pub struct ReportFaultyPhotoPayload {
    pub report: Option<FaultyReport>,
    pub balance: Balance,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct PurchasePackInput {
    pub pack_id: ID,
    /// 1 to 128 printable characters, scoped to the account: sent again with the same
    /// pack within `idempotency_retention_hours`, it answers the first invoice and lot
    /// and bills nothing more. A refusal is not remembered.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct PurchasePackPayload {
    pub invoice: Option<Invoice>,
    pub lot: Option<PurchasedLot>,
    /// The balance now: after this purchase, or as it is when a retry replays it.
    pub balance: Balance,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct AddLogoInput {
    pub name: String,
    pub image_url: String,
}

#[derive(SimpleObject)]
pub struct AddLogoPayload {
    pub logo: Option<Logo>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct CreateAccountInput {
    pub name: String,
    pub plan: PlanCode,
    pub listing_slots: i32,
}

#[derive(InputObject)]
pub struct UpdateSubscriptionInput {
    pub account_id: ID,
    pub plan: PlanCode,
    pub listing_slots: i32,
}

#[derive(SimpleObject)]
pub struct AccountPayload {
    pub account: Option<Account>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct PhotoRegistration {
    pub listing_ref: String,
    pub original_url: String,
}

#[derive(InputObject)]
pub struct RegisterPhotosInput {
    pub account_id: ID,
    pub photos: Vec<PhotoRegistration>,
}

#[derive(SimpleObject)]
pub struct RegisterPhotosPayload {
    pub photos: Vec<Photo>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct SetClockInput {
    pub now: DateTime,
}

#[derive(SimpleObject)]
pub struct SetClockPayload {
    pub now: Option<DateTime>,
    pub user_errors: Vec<UserError>,
}

/// Decodes the ids of a batch of photos; the first foreign or malformed one is refused.
fn photo_keys(ids: &IdCodec, photo_ids: &[ID]) -> Result<Vec<i64>, Error> {
    photo_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            key_of(
                ids,
                Kind::Photo,
                id,
                RefusalCode::PhotoNotFound,
                "photo",
                &["photoIds", &i.to_string()],
            )
        })
        .collect()
}

#[Object]
impl Mutation {
    /// Applies a background (and optionally a logo) to a batch of photos: one credit
    /// per photo whose look changes, all or nothing.
    async fn apply_changes(
        &self,
        ctx: &Context<'_>,
        input: ApplyChangesInput,
    ) -> async_graphql::Result<ApplyChangesPayload> {
        // The transaction reads the account anyway; one that is not stored is refused
        // (as `balance_now` shows) without a read before it.
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let request = || -> Result<ApplyRequest, Error> {
            let logo = input
                .logo
                .as_ref()
                .map(|l| {
                    key_of(
                        ids,
                        Kind::Logo,
                        &l.logo_id,
                        RefusalCode::LogoNotFound,
                        "logo",
                        &["logo", "logoId"],
                    )
                    .map(|logo_id| LogoPlacement {
                        logo_id,
                        position: l.position.into(),
                    })
                })
                .transpose()?;
            Ok(ApplyRequest {
                photo_ids: photo_keys(ids, &input.photo_ids)?,
                background_id: ids.decode(Kind::Background, &input.background_id).ok_or_else(|| {
                    Refusal::new(RefusalCode::BackgroundNotFound, "No such background.").at(&["backgroundId"])
                })?,
                logo,
                idempotency_key: input.idempotency_key.clone(),
            })
        };
        let outcome = match request() {
            Ok(request) => ledger.apply_changes(account_id, &request).await,
            Err(refused) => Err(refused),
        };
        let applied = match settle(ctx, outcome)? {
            Ok(applied) => applied,
            Err(refusal) => {
                return Ok(ApplyChangesPayload {
                    credits_charged: 0,
                    edits: vec![],
                    unchanged: vec![],
                    balance: balance_now(ctx, account_id).await?,
                    user_errors: vec![refusal],
                });
            }
        };
        // The answer is built from what the transaction wrote; only a replay (or a
        // refusal) reads afterwards.
        let Applied { outcome, written } = applied;
        let (edits, unchanged, balance) = match written {
            Some(written) => {
                // The edits' photos, for `edits { photo }`, without reading them again.
                let loaders = store(ctx)?;
                loaders
                    .feed_many(written.photos.iter().map(|p| (PhotoKey(p.id), p.clone())))
                    .await;
                let unchanged = outcome
                    .unchanged_photo_ids
                    .iter()
                    .filter_map(|id| written.photos.iter().find(|p| p.id == *id))
                    .map(|p| Photo::new(ids, p.clone()))
                    .collect();
                let edits = written.edits.into_iter().map(|e| PhotoEdit::new(ids, e)).collect();
                (edits, unchanged, Balance::new(ids, ledger.config(), written.balance))
            }
            None => {
                let reads = reads(ctx)?;
                let edits = reads.edits_in_order(&outcome.edit_ids).await.or_internal(ctx)?;
                let unchanged = reads
                    .photos_of_account(account_id, &outcome.unchanged_photo_ids)
                    .await
                    .or_internal(ctx)?;
                (
                    edits.into_iter().map(|e| PhotoEdit::new(ids, e)).collect(),
                    unchanged.into_iter().map(|p| Photo::new(ids, p)).collect(),
                    balance_now(ctx, account_id).await?,
                )
            }
        };
        Ok(ApplyChangesPayload {
            credits_charged: outcome.credits_charged,
            edits,
            unchanged,
            balance,
            user_errors: vec![],
        })
    }

    /// Shows the originals again; free, and a no-op for a photo without an edit.
    async fn revert_photos(
        &self,
        ctx: &Context<'_>,
        input: RevertPhotosInput,
    ) -> async_graphql::Result<RevertPhotosPayload> {
        // A missing account is refused by the transaction, and then by `balance_now`
        // as before, without a read ahead of it.
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = match photo_keys(ids, &input.photo_ids) {
            Ok(keys) => ledger.revert_photos(account_id, &keys).await,
            Err(refused) => Err(refused),
        };
        Ok(match settle(ctx, outcome)? {
            Ok(reverted) => RevertPhotosPayload {
                photos: reverted.photos.into_iter().map(|p| Photo::new(ids, p)).collect(),
                balance: Balance::new(ids, ledger.config(), reverted.balance),
                user_errors: vec![],
            },
            Err(refusal) => RevertPhotosPayload {
                photos: vec![],
                balance: balance_now(ctx, account_id).await?,
                user_errors: vec![refusal],
            },
        })
    }

    /// Reports the edit a photo shows as faulty; free, any number of times.
    async fn report_faulty_photo(
        &self,
        ctx: &Context<'_>,
        input: ReportFaultyPhotoInput,
    ) -> async_graphql::Result<ReportFaultyPhotoPayload> {
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = match key_of(
            ids,
            Kind::Photo,
            &input.photo_id,
            RefusalCode::PhotoNotFound,
            "photo",
            &["photoId"],
        ) {
            Ok(photo_id) => {
                ledger
                    .report_faulty_photo(account_id, photo_id, input.reason.as_deref())
                    .await
            }
            Err(refused) => Err(refused),
        };
        Ok(match settle(ctx, outcome)? {
            Ok(reported) => {
                // The edit it names, for `report { edit }`, without reading it again.
                store(ctx)?.feed_one(EditKey(reported.edit.id), reported.edit).await;
                ReportFaultyPhotoPayload {
                    report: Some(FaultyReport::new(ids, reported.report)),
                    balance: Balance::new(ids, ledger.config(), reported.balance),
                    user_errors: vec![],
                }
            }
            Err(refusal) => ReportFaultyPhotoPayload {
                report: None,
                balance: balance_now(ctx, account_id).await?,
                user_errors: vec![refusal],
            },
        })
    }

    /// Buys one pack of the plan's catalog, billed by invoice.
    async fn purchase_pack(
        &self,
        ctx: &Context<'_>,
        input: PurchasePackInput,
    ) -> async_graphql::Result<PurchasePackPayload> {
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = match ids.decode(Kind::CreditPack, &input.pack_id) {
            Some(pack_id) => ledger.purchase_pack(account_id, &pack_id, &input.idempotency_key).await,
            None => Err(Refusal::new(
                RefusalCode::PackNotAvailable,
                "This pack is not offered to the account's plan.",
            )
            .at(&["packId"])
            .into()),
        };
        let purchased = match settle(ctx, outcome)? {
            Ok(purchased) => purchased,
            Err(refusal) => {
                return Ok(PurchasePackPayload {
                    invoice: None,
                    lot: None,
                    balance: balance_now(ctx, account_id).await?,
                    user_errors: vec![refusal],
                });
            }
        };
        let Purchased { outcome, written } = purchased;
        let (invoice, lot, balance) = match written {
            Some(receipt) => {
                // The invoice's lines, for `invoice { lines }`, without reading them again.
                store(ctx)?
                    .feed_one(LinesOfInvoice(receipt.invoice.id), receipt.lines)
                    .await;
                (
                    Some(Invoice::new(ids, receipt.invoice)),
                    Some(PurchasedLot::new(ids, ledger.config(), receipt.lot)),
                    Balance::new(ids, ledger.config(), receipt.balance),
                )
            }
            // A replay: the lot may have been spent from since, so it is read as it is now.
            None => {
                let reads = reads(ctx)?;
                let invoice = reads.invoice(outcome.invoice_id).await.or_internal(ctx)?;
                let lot = reads.lot(outcome.lot_id).await.or_internal(ctx)?;
                (
                    invoice.map(|i| Invoice::new(ids, i)),
                    lot.map(|l| PurchasedLot::new(ids, ledger.config(), l)),
                    balance_now(ctx, account_id).await?,
                )
            }
        };
        Ok(PurchasePackPayload {
            invoice,
            lot,
            balance,
            user_errors: vec![],
        })
    }

    /// Adds a logo to the account's library, which holds at most `max_logos` (50 unless
    /// configured); one more is refused with TOO_MANY_LOGOS.
    async fn add_logo(&self, ctx: &Context<'_>, input: AddLogoInput) -> async_graphql::Result<AddLogoPayload> {
        let account = own_account(ctx).await?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = ledger.add_logo(account.id, &input.name, &input.image_url).await;
        Ok(match settle(ctx, outcome)? {
            Ok(logo) => AddLogoPayload {
                logo: Some(Logo::new(ids, logo)),
                user_errors: vec![],
            },
            Err(refusal) => AddLogoPayload {
                logo: None,
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only.
    async fn create_account(
        &self,
        ctx: &Context<'_>,
        input: CreateAccountInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = ledger
            .create_account(&input.name, input.plan.into(), input.listing_slots)
            .await;
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn update_subscription(
        &self,
        ctx: &Context<'_>,
        input: UpdateSubscriptionInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = match account_key(ids, &input.account_id) {
            Ok(account_id) => {
                ledger
                    .update_subscription(account_id, input.plan.into(), input.listing_slots)
                    .await
            }
            Err(refused) => Err(refused),
        };
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn register_photos(
        &self,
        ctx: &Context<'_>,
        input: RegisterPhotosInput,
    ) -> async_graphql::Result<RegisterPhotosPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let registrations: Vec<(String, String)> = input
            .photos
            .into_iter()
            .map(|p| (p.listing_ref, p.original_url))
            .collect();
        let outcome = match account_key(ids, &input.account_id) {
            Ok(account_id) => ledger.register_photos(account_id, &registrations).await,
            Err(refused) => Err(refused),
        };
        Ok(match settle(ctx, outcome)? {
            Ok(photos) => RegisterPhotosPayload {
                photos: photos.into_iter().map(|p| Photo::new(ids, p)).collect(),
                user_errors: vec![],
            },
            Err(refusal) => RegisterPhotosPayload {
                photos: vec![],
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only; refused with CLOCK_NOT_MANUAL unless the server runs with STUDIO_CLOCK=manual.
    async fn set_clock(&self, ctx: &Context<'_>, input: SetClockInput) -> async_graphql::Result<SetClockPayload> {
        ops(ctx)?;
        let outcome = ledger(ctx)?.set_clock(input.now.0).await;
        Ok(match settle(ctx, outcome)? {
            Ok(now) => SetClockPayload {
                now: Some(now.into()),
                user_errors: vec![],
            },
            Err(refusal) => SetClockPayload {
                now: None,
                user_errors: vec![refusal],
            },
        })
    }
}

fn account_key(ids: &IdCodec, id: &ID) -> Result<i64, Error> {
    key_of(
        ids,
        Kind::Account,
        id,
        RefusalCode::AccountNotFound,
        "account",
        &["accountId"],
    )
}

fn account_payload(ids: &IdCodec, outcome: Result<AccountRow, UserError>) -> AccountPayload {
    match outcome {
        Ok(account) => AccountPayload {
            account: Some(Account::new(ids, account)),
            user_errors: vec![],
        },
        Err(refusal) => AccountPayload {
            account: None,
            user_errors: vec![refusal],
        },
    }
}
