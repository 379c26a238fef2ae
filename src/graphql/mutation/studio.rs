//! The studio's mutations: apply a look to a batch of photos, revert, report, and add
//! a logo to the library.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::common::{InputId, UserError, balance_now, own_account_id, settle};
use crate::graphql::context::{ids, ledger, reads, store};
use crate::graphql::errors::{OrInternal, unauthenticated};
use crate::graphql::loaders::{EditKey, PhotoKey};
use crate::graphql::types::{Balance, FaultyReport, Logo, LogoPosition, Photo, PhotoEdit};
use crate::ledger::{Applied, ApplyRequest, LogoPlacement};
use crate::reads::AccountRow;

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
pub struct AddLogoInput {
    pub name: String,
    pub image_url: String,
}

#[derive(SimpleObject)]
pub struct AddLogoPayload {
    pub logo: Option<Logo>,
    pub user_errors: Vec<UserError>,
}

/// The account the signed-in user acts for; a token for no stored account is refused.
/// Only addLogo reads it ahead of its transaction: its payload has no balance to
/// refuse a missing account with afterwards.
async fn own_account(ctx: &Context<'_>) -> async_graphql::Result<AccountRow> {
    ledger(ctx)?
        .account(own_account_id(ctx)?)
        .await
        .or_internal(ctx)?
        .ok_or_else(unauthenticated)
}

#[derive(Default)]
pub struct StudioMutation;

#[Object]
impl StudioMutation {
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
        let outcome = async {
            let logo = match &input.logo {
                Some(l) => Some(LogoPlacement {
                    logo_id: InputId::LOGO.key(ids, &l.logo_id, &["logo", "logoId"])?,
                    position: l.position.into(),
                }),
                None => None,
            };
            let request = ApplyRequest {
                photo_ids: InputId::PHOTO.keys(ids, &input.photo_ids, "photoIds")?,
                background_id: InputId::BACKGROUND.key(ids, &input.background_id, &["backgroundId"])?,
                logo,
                idempotency_key: input.idempotency_key.clone(),
            };
            ledger.apply_changes(account_id, &request).await
        }
        .await;
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
        let outcome = async {
            let keys = InputId::PHOTO.keys(ids, &input.photo_ids, "photoIds")?;
            ledger.revert_photos(account_id, &keys).await
        }
        .await;
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
        let outcome = async {
            let photo_id = InputId::PHOTO.key(ids, &input.photo_id, &["photoId"])?;
            ledger
                .report_faulty_photo(account_id, photo_id, input.reason.as_deref())
                .await
        }
        .await;
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
}
