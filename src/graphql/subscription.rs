//! Live updates: the viewer's balance at once, then again after every committed change
//! of their account.
use async_graphql::{Context, Subscription as SubscriptionRoot};
use futures_util::Stream;
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use super::context::{RequestId, forbidden, ids, internal_of, ledger, viewer};
use super::types::Balance;
use crate::ids::IdCodec;
use crate::ledger::Ledger;

pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The viewer's account balance: the current value at once, then every change.
    async fn balance_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Balance>> + use<>> {
        let account_id = viewer(ctx)?
            .account_id
            .ok_or_else(|| forbidden("This user acts for no account."))?;
        let ledger = ledger(ctx)?.clone();
        let ids = ids(ctx)?.clone();
        let request_id = ctx
            .data_opt::<RequestId>()
            .map_or_else(|| "unknown".to_owned(), |id| id.0.clone());
        // Listen before the first read, so a change between the two is not missed.
        let changes = ledger.subscribe_changes();
        let state = (ledger, ids, changes, request_id, true);
        Ok(stream::unfold(
            state,
            move |(ledger, ids, mut changes, request_id, first)| async move {
                if !first {
                    loop {
                        match changes.recv().await {
                            Ok(changed) if changed == account_id => break,
                            Ok(_) => {}
                            // Fell behind: the balance is state, so reading it again catches up.
                            Err(RecvError::Lagged(_)) => break,
                            Err(RecvError::Closed) => return None,
                        }
                    }
                }
                let balance = current(&ledger, &ids, account_id)
                    .await
                    .map_err(|fault| internal_of(&request_id, fault));
                Some((balance, (ledger, ids, changes, request_id, false)))
            },
        ))
    }
}

async fn current(ledger: &Ledger, ids: &IdCodec, account_id: i64) -> Result<Balance, crate::Error> {
    let account = ledger
        .account(account_id)
        .await?
        .ok_or_else(|| crate::Error::Internal(format!("account {account_id} vanished")))?;
    let breakdown = ledger.balance(&account).await?;
    Ok(Balance::new(ids, ledger.config(), breakdown))
}
