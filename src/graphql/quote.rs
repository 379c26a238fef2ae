//! `quoteApply`: what "Apply changes" would charge now, asked before the button is
//! pressed. It decodes the input as the apply does and asks the ledger's quote, which
//! checks and plans as the apply does, so both meet the same refusal; it charges and
//! writes nothing.
use async_graphql::{Context, ID, InputObject, SimpleObject};

use super::context::{ids, ledger};
use super::errors::unauthenticated;
use super::mutation::common::{UserError, own_account_id, settle};
use super::mutation::studio::{LogoPlacementInput, decode_look};
use super::types::{CreditBucket, Photo};

/// An apply to price: the photos and the look, as `applyChanges` takes them, without an
/// idempotency key.
#[derive(InputObject)]
pub struct QuoteApplyInput {
    /// The photos, 1 to `max_batch_photos` distinct ones, all of the viewer's account;
    /// the same photo twice counts once.
    pub photo_ids: Vec<ID>,
    /// One of `backgrounds`.
    pub background_id: ID,
    /// The logo to place at the same time; null for none.
    pub logo: Option<LogoPlacementInput>,
}

/// What an apply of the input would meet now; nothing is charged or written.
#[derive(SimpleObject)]
pub struct QuoteApplyPayload {
    /// Credits the apply would charge now: one per photo whose look would change; 0
    /// when it would be refused.
    pub credits: i32,
    /// Photos that already have the look: free, not rendered again. Empty when the
    /// apply would be refused.
    pub unchanged: Vec<Photo>,
    /// How many credits each bucket would give, in spending order (launch promotion,
    /// monthly, purchased); a bucket that would give none is left out.
    pub drawn_from: Vec<BucketDraw>,
    /// Credits usable now.
    pub available: i32,
    /// The refusal the apply would meet now, with the apply's code, message and field
    /// (e.g. INSUFFICIENT_CREDITS, PHOTO_NOT_FOUND naming the index); empty when it
    /// would go through.
    pub user_errors: Vec<UserError>,
}

/// The credits one bucket would give.
#[derive(SimpleObject)]
pub struct BucketDraw {
    /// The bucket the credits would come from.
    pub bucket: CreditBucket,
    /// How many credits it would give.
    pub credits: i32,
}

/// The quote of `input` for the viewer's own account.
pub async fn quote_apply(ctx: &Context<'_>, input: QuoteApplyInput) -> async_graphql::Result<QuoteApplyPayload> {
    let account_id = own_account_id(ctx)?;
    let ids = ids(ctx)?;
    let ledger = ledger(ctx)?;
    // An input that does not decode is refused as the apply refuses it, and the quote
    // still shows what is available.
    let request = decode_look(ids, &input.photo_ids, &input.background_id, input.logo.as_ref());
    let quote = match settle(ctx, ledger.quote_apply(account_id, request).await)? {
        Ok(quote) => quote,
        // A token for no stored account, refused as the apply's answer refuses it.
        Err(_) => return Err(unauthenticated()),
    };
    Ok(match quote.priced {
        Ok(priced) => QuoteApplyPayload {
            credits: priced.credits,
            unchanged: priced.unchanged.into_iter().map(|p| Photo::new(ids, p)).collect(),
            drawn_from: priced
                .drawn_from
                .into_iter()
                .map(|(bucket, credits)| BucketDraw {
                    bucket: bucket.into(),
                    credits,
                })
                .collect(),
            available: quote.available,
            user_errors: vec![],
        },
        Err(refusal) => QuoteApplyPayload {
            credits: 0,
            unchanged: vec![],
            drawn_from: vec![],
            available: quote.available,
            user_errors: vec![refusal.into()],
        },
    })
}
