//! Live updates: the viewer's balance at once, then again after every committed change
//! of their account, and every change of their edits, on whichever instance it was made
//! ([`crate::live`]).
use async_graphql::{Context, Subscription as SubscriptionRoot};
use futures_util::Stream;
use futures_util::stream;

use super::context::{account_user, ids, ledger};
use super::errors::forbidden;
use super::types::{Balance, PhotoEdit};
use crate::live::Hub;

pub struct Subscription;

/// What the header watches live, over `/graphql/ws` (the token in `connection_init`).
#[SubscriptionRoot]
impl Subscription {
    /// The viewer's account balance: the current value at once, then every change.
    async fn balance_changed(&self, ctx: &Context<'_>) -> async_graphql::Result<impl Stream<Item = Balance> + use<>> {
        let account_id = account_user(ctx)?
            .account_id
            .ok_or_else(|| forbidden("This user acts for no account."))?;
        let ledger = ledger(ctx)?.clone();
        let ids = ids(ctx)?.clone();
        let watch = ctx.data::<Hub>()?.watch(account_id);
        Ok(stream::unfold(watch, move |mut watch| {
            let (ledger, ids) = (ledger.clone(), ids.clone());
            async move {
                let breakdown = watch.next().await?;
                Some((Balance::new(&ids, ledger.config(), (*breakdown).clone()), watch))
            }
        }))
    }

    /// Every status change of an edit of the viewer's account (its image and refund
    /// too): nothing at first, then each change as it is committed.
    async fn edit_changed(&self, ctx: &Context<'_>) -> async_graphql::Result<impl Stream<Item = PhotoEdit> + use<>> {
        let account_id = account_user(ctx)?
            .account_id
            .ok_or_else(|| forbidden("This user acts for no account."))?;
        let ids = ids(ctx)?.clone();
        let watch = ctx.data::<Hub>()?.watch_edits(account_id);
        Ok(stream::unfold(watch, move |mut watch| {
            let ids = ids.clone();
            async move {
                let edit = watch.next().await?;
                Some((PhotoEdit::new(&ids, (*edit).clone()), watch))
            }
        }))
    }
}
