//! An account's credits as the header and the billing page show them.
use async_graphql::{Context, ID, SimpleObject};

use super::billing::CreditPack;
use super::scalars::{CreditBucket, DateTime};
use crate::config::Config;
use crate::graphql::context::{ids, ledger};
use crate::graphql::errors::OrInternal;
use crate::ids::{IdCodec, Kind};
use crate::reads::{AccountRow, LotRow};
use crate::rules::balance::{Breakdown, NextExpiry, PromotionPart};

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
    /// The current cycle's monthly credits; granted 0 when the plan includes none
    /// (BASIC).
    pub monthly: MonthlyBalance,
    /// The credits of bought packs, and each unexpired lot.
    pub purchased: PurchasedBalance,
    /// Premium only.
    pub fair_use: Option<FairUse>,
    /// The earliest upcoming expiry of remaining credits; null when nothing remains.
    pub next_expiry: Option<CreditExpiry>,
    /// The credits that expire within `expiry_warning_days` (7 unless configured), all
    /// such lots together, with the first such instant (`at`) and that lot's bucket;
    /// null when none. Pushed live when a lot enters the window.
    pub expiring_soon: Option<CreditExpiry>,
    /// The available balance is below `low_balance_threshold` (10 unless configured);
    /// never while premium is unlimited (under its fair-use cap).
    pub low: bool,
    /// The instant this balance was computed for (UTC).
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
            next_expiry: b.next_expiry.map(CreditExpiry::from),
            expiring_soon: b.expiring_soon.map(CreditExpiry::from),
            low: b.low,
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
    /// Credits granted for this cycle, increases of plan or slots within it included;
    /// PREMIUM's is its fair-use cap. 0 when the plan includes none.
    pub granted: i32,
    /// Credits of this cycle spent so far: `granted` minus `remaining`.
    pub used: i32,
    /// Credits of this cycle left to spend; they expire at `resetsAt` (no carry-over).
    pub remaining: i32,
    /// When this cycle began (UTC): 00:00 of the reset day in the billing time zone.
    pub cycle_start: DateTime,
    /// When this cycle ends (UTC): the remaining monthly credits expire and the next
    /// cycle's are granted at this instant.
    pub resets_at: DateTime,
}

/// Purchased credits, lot by lot in spending order.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedBalance {
    /// Credits left in all unexpired purchased lots together.
    pub remaining: i32,
    /// Every unexpired purchased lot with credits left, in spending order: the one that
    /// expires first first, then the older purchase. A used-up lot is not listed: its
    /// purchase and charges are in the ledger, its invoice among the invoices.
    pub lots: Vec<PurchasedLot>,
}

/// The lot one pack purchase granted.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedLot {
    /// The lot's global id (opaque). A lot is not a node: `node(id:)` answers null for it.
    pub id: ID,
    /// Credits the purchase granted: the pack's credits.
    pub granted: i32,
    /// Credits of this lot not yet spent.
    pub remaining: i32,
    /// When the pack was bought (UTC).
    pub purchased_at: DateTime,
    /// The purchase instant plus 12 calendar months (UTC; 29 February plus 12 months is
    /// 28 February). The lot is usable while now is before this instant.
    pub expires_at: DateTime,
    /// The pack as the catalog has it now (the price paid is on the invoice); null when
    /// the pack is no longer configured.
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
    /// Monthly credits used in the current cycle.
    pub used: i32,
    /// The monthly credits premium may use in a cycle (`fair_use_cap`): it is unlimited
    /// while `used` is below this and credits remain.
    pub cap: i32,
}

/// Credits that expire: the next ones (`nextExpiry`), or those within the warning
/// window (`expiringSoon`).
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditExpiry {
    /// How many credits expire: in `nextExpiry`, every lot that expires at `at`
    /// together; in `expiringSoon`, every lot that expires within the window.
    pub credits: i32,
    /// When the first of them expire (UTC); they can be spent until just before it.
    pub at: DateTime,
    /// The bucket of the credits expiring at `at`; when lots of several buckets expire
    /// at that same instant, the first of them in spending order.
    pub bucket: CreditBucket,
}

impl From<NextExpiry> for CreditExpiry {
    fn from(n: NextExpiry) -> Self {
        CreditExpiry {
            credits: n.credits,
            at: n.at.into(),
            bucket: n.bucket.into(),
        }
    }
}
