//! An account's credits as the header and the billing page show them.
use async_graphql::{Context, ID, SimpleObject};

use super::billing::CreditPack;
use super::scalars::{CreditBucket, DateTime};
use crate::config::Config;
use crate::graphql::context::{ids, ledger};
use crate::graphql::errors::OrInternal;
use crate::ids::{IdCodec, Kind};
use crate::reads::{AccountRow, LotRow};
use crate::rules::balance::{Breakdown, PromotionPart};

/// The balance of `account` now.
pub async fn balance_of(ctx: &Context<'_>, account: &AccountRow) -> async_graphql::Result<Balance> {
    let ledger = ledger(ctx)?;
    let breakdown = ledger.balance(account).await.or_internal(ctx)?;
    Ok(Balance::new(ids(ctx)?, ledger.config(), breakdown))
}

/// An account's credits: the available total and its breakdown by bucket.
#[derive(SimpleObject, Debug, Clone)]
pub struct Balance {
    /// Credits usable now: the sum of the remaining credits of all unexpired lots.
    pub available: i32,
    /// True for premium while it has used less than its fair-use cap this cycle and
    /// has monthly credits left.
    pub unlimited: bool,
    /// Null when the account has no unexpired promotion lot; else the one that expires
    /// first (the first to be spent).
    pub launch_promotion: Option<PromotionBalance>,
    /// Every unexpired promotion lot, one per campaign, the one that expires first
    /// first: the order they are spent in.
    pub promotions: Vec<PromotionBalance>,
    pub monthly: MonthlyBalance,
    pub purchased: PurchasedBalance,
    /// Premium only.
    pub fair_use: Option<FairUse>,
    /// The earliest upcoming expiry of remaining credits; null when nothing remains.
    pub next_expiry: Option<CreditExpiry>,
    pub as_of: DateTime,
}

impl Balance {
    pub fn new(ids: &IdCodec, config: &Config, b: Breakdown) -> Self {
        Balance {
            available: b.available,
            unlimited: b.unlimited,
            launch_promotion: b.launch_promotion.map(PromotionBalance::from),
            promotions: b.promotions.into_iter().map(PromotionBalance::from).collect(),
            monthly: MonthlyBalance {
                granted: b.monthly.granted,
                used: b.monthly.used,
                remaining: b.monthly.remaining,
                cycle_start: b.monthly.cycle_start.into(),
                resets_at: b.monthly.resets_at.into(),
            },
            purchased: PurchasedBalance {
                remaining: b.purchased_remaining,
                lots: b
                    .purchased
                    .into_iter()
                    .map(|l| PurchasedLot::new(ids, config, l))
                    .collect(),
            },
            fair_use: b.fair_use.map(|f| FairUse {
                used: f.used,
                cap: f.cap,
            }),
            next_expiry: b.next_expiry.map(|n| CreditExpiry {
                credits: n.credits,
                at: n.at.into(),
                bucket: n.bucket.into(),
            }),
            as_of: b.as_of.into(),
        }
    }
}

/// The lot of one promotion campaign.
#[derive(SimpleObject, Debug, Clone)]
pub struct PromotionBalance {
    /// The campaign's id, e.g. `launch`.
    pub campaign: String,
    /// Credits the campaign granted this account (top-ups within the window included).
    pub granted: i32,
    /// Credits left to spend until `expiresAt`.
    pub remaining: i32,
    /// The campaign's start (UTC), not the account's join date: the window is the
    /// campaign's.
    pub starts_at: DateTime,
    /// The campaign's end (UTC, exclusive): the lot expires then, whatever the join date.
    pub expires_at: DateTime,
}

impl From<PromotionPart> for PromotionBalance {
    fn from(p: PromotionPart) -> Self {
        PromotionBalance {
            campaign: p.campaign,
            granted: p.granted,
            remaining: p.remaining,
            starts_at: p.starts_at.into(),
            expires_at: p.expires_at.into(),
        }
    }
}

/// The current cycle's monthly credits.
#[derive(SimpleObject, Debug, Clone)]
pub struct MonthlyBalance {
    pub granted: i32,
    pub used: i32,
    pub remaining: i32,
    pub cycle_start: DateTime,
    pub resets_at: DateTime,
}

/// Purchased credits, lot by lot in spending order.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedBalance {
    pub remaining: i32,
    pub lots: Vec<PurchasedLot>,
}

/// The lot one pack purchase granted.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedLot {
    pub id: ID,
    pub granted: i32,
    pub remaining: i32,
    pub purchased_at: DateTime,
    pub expires_at: DateTime,
    pub pack: Option<CreditPack>,
}

impl PurchasedLot {
    pub fn new(ids: &IdCodec, config: &Config, lot: LotRow) -> Self {
        PurchasedLot {
            id: ID(ids.encode(Kind::PurchasedLot, lot.id)),
            granted: lot.granted,
            remaining: lot.remaining,
            purchased_at: lot.valid_from.into(),
            expires_at: lot.expires_at.into(),
            pack: lot
                .pack_id
                .as_deref()
                .and_then(|id| config.packs.iter().find(|p| p.id == id))
                .map(|p| CreditPack::new(ids, config, p)),
        }
    }
}

/// Premium's use of its fair-use cap in the current cycle.
#[derive(SimpleObject, Debug, Clone)]
pub struct FairUse {
    pub used: i32,
    pub cap: i32,
}

/// The next credits to expire.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditExpiry {
    pub credits: i32,
    pub at: DateTime,
    pub bucket: CreditBucket,
}
