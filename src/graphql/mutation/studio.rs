//! The studio's mutations: apply a look to a batch of photos, revert, report, and add
//! a logo to the library.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::common::{InputId, UserError, balance_now, own_account_id, settle};
use crate::error::Error;
use crate::graphql::context::{acting_ledger, ids, ledger, reads, store};
use crate::graphql::errors::{OrInternal, unauthenticated};
use crate::graphql::loaders::{EditKey, PhotoKey};
use crate::graphql::types::{Balance, FaultyReport, Logo, LogoPosition, Photo, PhotoEdit};
use crate::ids::IdCodec;
use crate::ledger::{Applied, ApplyRequest, LogoPlacement, QuoteRequest};
use crate::reads::AccountRow;

/// A logo of the account's library and the corner it goes in.
#[derive(InputObject)]
pub struct LogoPlacementInput {
    /// A logo of the viewer's account (another account's is refused as LOGO_NOT_FOUND).
    pub logo_id: ID,
    /// The corner of the photo the logo is placed in.
    pub position: LogoPosition,
}

/// One look for a batch of photos.
#[derive(InputObject)]
pub struct ApplyChangesInput {
    /// The photos, 1 to `max_batch_photos` distinct ones (100 by default), all of the
    /// viewer's account; the same photo twice counts once.
    pub photo_ids: Vec<ID>,
    /// One of `backgrounds`; required: a logo cannot be applied on its own.
    pub background_id: ID,
    /// The logo to place at the same time, for no extra credit; null for none.
    pub logo: Option<LogoPlacementInput>,
    /// 1 to 128 printable characters, made by the client and scoped to the account.
    /// Sent again with the same input (the photos compared as a set: order and repeats
    /// do not matter) within `idempotency_retention_hours`, it answers the first
    /// outcome and charges nothing more; with another input it is refused with
    /// IDEMPOTENCY_KEY_REUSED. A refusal is not remembered: the key may be sent again.
    pub idempotency_key: String,
}

/// The result of "Apply changes".
#[derive(SimpleObject)]
pub struct ApplyChangesPayload {
    /// Credits this apply charged: one per photo whose look changed; 0 when refused.
    pub credits_charged: i32,
    /// The edits created by this apply.
    pub edits: Vec<PhotoEdit>,
    /// Photos that already had the requested look: not charged.
    pub unchanged: Vec<Photo>,
    /// The balance now: after this apply, or as it is when a retry of the same key
    /// replays the first outcome; also when the apply was refused.
    pub balance: Balance,
    /// Why the whole batch was refused (e.g. INSUFFICIENT_CREDITS with the credits
    /// needed and available, FAIR_USE_CAP_REACHED, PHOTO_NOT_FOUND naming the index);
    /// empty when it was applied or replayed.
    pub user_errors: Vec<UserError>,
}

/// The photos to show with their originals again.
#[derive(InputObject)]
pub struct RevertPhotosInput {
    /// Photos of the viewer's account, 1 to `max_batch_photos` distinct ones; a photo
    /// without an edit is left as it is.
    pub photo_ids: Vec<ID>,
}

/// The result of a revert, which is free.
#[derive(SimpleObject)]
pub struct RevertPhotosPayload {
    /// The photos, each once, now showing their originals (`currentEdit` null).
    pub photos: Vec<Photo>,
    /// The balance now: a revert charges nothing and gives nothing back.
    pub balance: Balance,
    /// Why the revert was refused (e.g. PHOTO_NOT_FOUND, EMPTY_BATCH); empty when done.
    pub user_errors: Vec<UserError>,
}

/// The photo whose edited image came out wrong.
#[derive(InputObject)]
pub struct ReportFaultyPhotoInput {
    /// A photo of the viewer's account that shows an applied edit.
    pub photo_id: ID,
    /// What is wrong, up to 2,048 printable characters; null or blank for none.
    pub reason: Option<String>,
}

/// The result of a report, which is free.
#[derive(SimpleObject)]
pub struct ReportFaultyPhotoPayload {
    /// The report, naming the edit the photo showed; null when refused.
    pub report: Option<FaultyReport>,
    /// The balance now: a report charges nothing.
    pub balance: Balance,
    /// Why the report was refused (PHOTO_NOT_FOUND, PHOTO_NOT_EDITED, INVALID_INPUT);
    /// empty when it was made.
    pub user_errors: Vec<UserError>,
}

/// A logo to add to the account's library.
#[derive(InputObject)]
pub struct AddLogoInput {
    /// The name the studio shows, 1 to 2,048 printable characters.
    pub name: String,
    /// Where the logo's image is, an http(s) URL.
    pub image_url: String,
}

/// The result of adding a logo.
#[derive(SimpleObject)]
pub struct AddLogoPayload {
    /// The logo added; null when refused.
    pub logo: Option<Logo>,
    /// Why the logo was refused (TOO_MANY_LOGOS past `max_logos`, INVALID_INPUT);
    /// empty when it was added.
    pub user_errors: Vec<UserError>,
}

/// The ledger's keys of an apply's photos, background and logo, decoded in the
/// apply's order (the logo first), so that a quote meets the refusal the apply would.
pub fn decode_look(
    ids: &IdCodec,
    photo_ids: &[ID],
    background_id: &ID,
    logo: Option<&LogoPlacementInput>,
) -> Result<QuoteRequest, Error> {
    let logo = match logo {
        Some(l) => Some(LogoPlacement {
            logo_id: InputId::LOGO.key(ids, &l.logo_id, &["logo", "logoId"])?,
            position: l.position.into(),
        }),
        None => None,
    };
    Ok(QuoteRequest {
        photo_ids: InputId::PHOTO.keys(ids, photo_ids, "photoIds")?,
        background_id: InputId::BACKGROUND.key(ids, background_id, &["backgroundId"])?,
        logo,
    })
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
        #[graphql(desc = "The photos, the look and the idempotency key.")] input: ApplyChangesInput,
    ) -> async_graphql::Result<ApplyChangesPayload> {
        // The transaction reads the account anyway; one that is not stored is refused
        // (as `balance_now` shows) without a read before it.
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let look = decode_look(ids, &input.photo_ids, &input.background_id, input.logo.as_ref())?;
            let request = ApplyRequest {
                photo_ids: look.photo_ids,
                background_id: look.background_id,
                logo: look.logo,
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
        #[graphql(desc = "The photos to revert.")] input: RevertPhotosInput,
    ) -> async_graphql::Result<RevertPhotosPayload> {
        // A missing account is refused by the transaction, and then by `balance_now`
        // as before, without a read ahead of it.
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
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
        #[graphql(desc = "The photo and what is wrong with it.")] input: ReportFaultyPhotoInput,
    ) -> async_graphql::Result<ReportFaultyPhotoPayload> {
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
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
    async fn add_logo(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The logo's name and image.")] input: AddLogoInput,
    ) -> async_graphql::Result<AddLogoPayload> {
        let account = own_account(ctx).await?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
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
