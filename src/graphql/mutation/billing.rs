//! The billing page's mutation: buy a pack.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::common::{InputId, UserError, balance_now, own_account_id, settle};
use crate::graphql::context::{acting_ledger, ids, reads, store};
use crate::graphql::errors::OrInternal;
use crate::graphql::loaders::LinesOfInvoice;
use crate::graphql::types::{Balance, Invoice, PurchasedLot};
use crate::ledger::Purchased;

/// Which pack to buy, and the key that makes a retry safe.
#[derive(InputObject)]
pub struct PurchasePackInput {
    /// A pack of `packCatalog`, which lists the packs of the viewer's plan; another
    /// plan's pack is refused with PACK_NOT_AVAILABLE.
    pub pack_id: ID,
    /// 1 to 128 printable characters, scoped to the account: sent again with the same
    /// pack within `idempotency_retention_hours`, it answers the first invoice and lot
    /// and bills nothing more. A refusal is not remembered.
    pub idempotency_key: String,
}

/// The result of buying a pack.
#[derive(SimpleObject)]
pub struct PurchasePackPayload {
    /// The invoice billing the purchase; null when refused.
    pub invoice: Option<Invoice>,
    /// The purchased lot, valid for 12 calendar months; null when refused.
    pub lot: Option<PurchasedLot>,
    /// The balance now: after this purchase, or as it is when a retry replays it.
    pub balance: Balance,
    /// Why the purchase was refused (PACK_NOT_AVAILABLE, IDEMPOTENCY_KEY_REUSED,
    /// INVALID_INPUT); empty when it was made or replayed.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Buys one pack of the plan's catalog, billed by invoice.
    async fn purchase_pack(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pack and the idempotency key.")] input: PurchasePackInput,
    ) -> async_graphql::Result<PurchasePackPayload> {
        let account_id = own_account_id(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let pack_id: String = InputId::PACK.key(ids, &input.pack_id, &["packId"])?;
            ledger.purchase_pack(account_id, &pack_id, &input.idempotency_key).await
        }
        .await;
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
}
