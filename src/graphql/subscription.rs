//! Live updates: the viewer's balance at once, then again after every committed change
//! of their account, and every change of their edits, on whichever instance it was made
//! ([`crate::live`]).
//!
//! As the GraphQL spec splits a subscription: each field has a source of events, the
//! hub's watch of the account ([`source`]), and the operation is executed once per event
//! ([`Event`], given by [`super::Api`]'s `execute_stream`). An idle subscriber then
//! holds its watch, a few dozen bytes, not async-graphql's running operation (about
//! 8 KiB). An operation whose root is not one such field, plainly (a directive on it,
//! several fields), runs as one stream, each field reading its own source.
use std::future::ready;
use std::sync::Arc;

use async_graphql::{Context, Subscription as SubscriptionRoot};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use super::context::{account_user, ids, ledger};
use super::errors::forbidden;
use super::types::{Balance, PhotoEdit};
use crate::live::Hub;
use crate::reads::EditRow;
use crate::rules::balance::Breakdown;

pub struct Subscription;

/// The event one execution of a subscription's operation is for.
#[derive(Clone)]
pub enum Event {
    /// The account's balance after a change (at first, as it is).
    Balance(Arc<Breakdown>),
    /// An edit that changed.
    Edit(Arc<EditRow>),
    /// None: the operation is executed to check it, and answers only if it fails.
    Check,
}

/// The events of the subscription field named `field` for `account_id`, from the
/// moment it is called; none for a name that is not a subscription field's.
pub fn source(hub: &Hub, field: &str, account_id: i64) -> Option<BoxStream<'static, Event>> {
    match field {
        "balanceChanged" => Some(
            stream::unfold(hub.watch(account_id), |mut watch| async move {
                Some((Event::Balance(watch.next().await?), watch))
            })
            .boxed(),
        ),
        "editChanged" => Some(
            stream::unfold(hub.watch_edits(account_id), |mut watch| async move {
                Some((Event::Edit(watch.next().await?), watch))
            })
            .boxed(),
        ),
        _ => None,
    }
}

/// The events the field `field` resolves: the one its operation is executed for, or
/// without one its own source, for as long as the operation runs.
fn events(ctx: &Context<'_>, field: &str, account_id: i64) -> async_graphql::Result<BoxStream<'static, Event>> {
    match ctx.data_opt::<Event>() {
        Some(event) => Ok(stream::iter([event.clone()]).boxed()),
        None => source(ctx.data::<Hub>()?, field, account_id).ok_or_else(|| format!("{field} has no source").into()),
    }
}

/// What the header watches live, over `/graphql/ws` (the token in `connection_init`).
#[SubscriptionRoot]
impl Subscription {
    /// The viewer's account balance: the current value at once, then every change.
    async fn balance_changed(&self, ctx: &Context<'_>) -> async_graphql::Result<BoxStream<'static, Balance>> {
        let account_id = account_user(ctx)?
            .account_id
            .ok_or_else(|| forbidden("This user acts for no account."))?;
        let ledger = ledger(ctx)?.clone();
        let ids = ids(ctx)?.clone();
        let balances = events(ctx, "balanceChanged", account_id)?.filter_map(move |event| {
            ready(match event {
                Event::Balance(breakdown) => Some(Balance::new(&ids, ledger.config(), (*breakdown).clone())),
                _ => None,
            })
        });
        Ok(balances.boxed())
    }

    /// Every status change of an edit of the viewer's account (its image and refund
    /// too): nothing at first, then each change as it is committed.
    async fn edit_changed(&self, ctx: &Context<'_>) -> async_graphql::Result<BoxStream<'static, PhotoEdit>> {
        let account_id = account_user(ctx)?
            .account_id
            .ok_or_else(|| forbidden("This user acts for no account."))?;
        let ids = ids(ctx)?.clone();
        let edits = events(ctx, "editChanged", account_id)?.filter_map(move |event| {
            ready(match event {
                Event::Edit(row) => Some(PhotoEdit::new(&ids, (*row).clone())),
                _ => None,
            })
        });
        Ok(edits.boxed())
    }
}
