//! What the dealer sees: the available total and its breakdown by bucket, computed
//! from the account's lots as of one instant, with its warnings (credits expiring
//! soon, a low balance).
use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::{Bucket, PlanCode};
use entity::{account, lot};

use super::lot_origin::LotOrigin;
use super::spending_order::spending_key;
use crate::config::Config;

/// The balance of an account at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    /// Credits usable now: the remaining credits of every unexpired lot.
    pub available: i32,
    /// Premium while it has used less than its fair-use cap this cycle and has monthly
    /// credits left.
    pub unlimited: bool,
    /// The unexpired promotion lot that expires first.
    pub launch_promotion: Option<PromotionPart>,
    /// Every unexpired promotion lot, in spending order (the one that expires first first).
    pub promotions: Vec<PromotionPart>,
    pub monthly: MonthlyPart,
    pub purchased_remaining: i32,
    /// Purchased lots with credits left, in spending order ([`shown_purchased`]).
    pub purchased: Vec<lot::Model>,
    pub fair_use: Option<FairUse>,
    pub next_expiry: Option<NextExpiry>,
    /// The credits that expire within the warning window ([`expiring_soon`]).
    pub expiring_soon: Option<NextExpiry>,
    /// The available balance is below the threshold ([`is_low`]).
    pub low: bool,
    pub as_of: DateTime<Utc>,
}

/// A promotion campaign's lot as the billing page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionPart {
    /// The campaign's id.
    pub campaign: String,
    pub granted: i32,
    pub remaining: i32,
    /// The campaign's start, not the account's join date.
    pub starts_at: DateTime<Utc>,
    /// The campaign's end.
    pub expires_at: DateTime<Utc>,
}

/// The current cycle's monthly credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyPart {
    pub granted: i32,
    pub used: i32,
    pub remaining: i32,
    pub cycle_start: DateTime<Utc>,
    pub resets_at: DateTime<Utc>,
}

/// Premium's use of its cap in the current cycle: the monthly credits used of the
/// configured `fair_use_cap`. A lot granted larger before the account moved to premium
/// keeps what it holds (decreases wait for the reset), but the cap shown is the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairUse {
    pub used: i32,
    pub cap: i32,
}

/// Credits that expire: how many, when, and from which bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextExpiry {
    pub credits: i32,
    pub at: DateTime<Utc>,
    pub bucket: Bucket,
}

/// The breakdown of `account` from its `lots` (any of them; expired ones are left out),
/// with `config`'s fair-use cap and warnings.
pub fn breakdown(account: &account::Model, lots: &[lot::Model], config: &Config, as_of: DateTime<Utc>) -> Breakdown {
    let fair_use_cap = config.fair_use_cap;
    let usable: Vec<&lot::Model> = usable_in_spending_order(lots, as_of)
        .into_iter()
        .filter(|l| l.account_id == account.id)
        .collect();
    let first_of = |bucket| usable.iter().find(|l| l.bucket == bucket).copied();

    let monthly_lot = first_of(Bucket::Monthly);
    let monthly = MonthlyPart {
        granted: monthly_lot.map_or(0, |l| l.granted),
        used: monthly_lot.map_or(0, |l| l.granted - l.remaining),
        remaining: monthly_lot.map_or(0, |l| l.remaining),
        cycle_start: account.cycle_start,
        resets_at: account.next_reset_at,
    };
    let premium = account.plan == PlanCode::Premium;
    let promotions: Vec<PromotionPart> = usable
        .iter()
        .filter(|l| l.bucket == Bucket::LaunchPromotion)
        .map(|l| PromotionPart {
            campaign: match l.origin.parse() {
                Ok(LotOrigin::Promotion(campaign)) => campaign,
                _ => l.origin.clone(),
            },
            granted: l.granted,
            remaining: l.remaining,
            starts_at: l.valid_from,
            expires_at: l.expires_at,
        })
        .collect();
    let purchased: Vec<lot::Model> = usable
        .iter()
        .filter(|l| shown_purchased(l))
        .map(|l| (*l).clone())
        .collect();
    let next_expiry = usable
        .iter()
        .filter(|l| l.remaining > 0)
        .map(|l| l.expires_at)
        .min()
        .and_then(|at| expiring_by(&usable, at));
    let available = usable.iter().map(|l| l.remaining).sum();
    let unlimited = premium && monthly.used < fair_use_cap && monthly.remaining > 0;
    Breakdown {
        available,
        unlimited,
        expiring_soon: expiring_by(&usable, as_of + config.expiry_warning()),
        low: is_low(available, unlimited, config.low_balance_threshold),
        launch_promotion: promotions.first().cloned(),
        promotions,
        purchased_remaining: purchased.iter().map(|l| l.remaining).sum(),
        purchased,
        fair_use: premium.then_some(FairUse {
            used: monthly.used,
            cap: fair_use_cap,
        }),
        next_expiry,
        monthly,
        as_of,
    }
}

/// The credits of the usable `lots` (in spending order) that expire at or before
/// `deadline`, all together, with the first such instant and, of the lots expiring
/// then, the first one's bucket; none when no remaining credit expires by then.
fn expiring_by(usable: &[&lot::Model], deadline: DateTime<Utc>) -> Option<NextExpiry> {
    let expiring: Vec<&lot::Model> = usable
        .iter()
        .copied()
        .filter(|l| l.remaining > 0 && l.expires_at <= deadline)
        .collect();
    let at = expiring.iter().map(|l| l.expires_at).min()?;
    let first = expiring.iter().find(|l| l.expires_at == at)?;
    Some(NextExpiry {
        credits: expiring.iter().map(|l| l.remaining).sum(),
        at,
        bucket: first.bucket,
    })
}

/// The credits of the usable `lots` that expire within `window` of `as_of` (at or
/// before `as_of + window`), and the first such instant: the balance's `expiringSoon`.
pub fn expiring_soon(lots: &[lot::Model], as_of: DateTime<Utc>, window: TimeDelta) -> Option<NextExpiry> {
    expiring_by(&usable_in_spending_order(lots, as_of), as_of + window)
}

/// Whether the billing page lists `lot` among the purchased lots: a purchased lot with
/// credits left. A used-up pack has nothing left to expire; its purchase and its
/// charges stay in the history and its invoice among the invoices, so an account that
/// bought thousands of packs does not send them all with every balance.
pub fn shown_purchased(lot: &lot::Model) -> bool {
    lot.bucket == Bucket::Purchased && lot.remaining > 0
}

/// The lots usable at `as_of` (counted from their start, not yet expired), in
/// spending order.
fn usable_in_spending_order(lots: &[lot::Model], as_of: DateTime<Utc>) -> Vec<&lot::Model> {
    let mut usable: Vec<&lot::Model> = lots
        .iter()
        .filter(|l| !l.expired && l.valid_from <= as_of && as_of < l.expires_at)
        .collect();
    usable.sort_by_key(|l| spending_key(l));
    usable
}

/// When `lot` enters the warning window of `window` before its expiry: from then on
/// its remaining credits are expiring soon.
pub fn enters_warning_window_at(lot: &lot::Model, window: TimeDelta) -> DateTime<Utc> {
    lot.expires_at - window
}

/// Whether an `available` balance is low: below `threshold`, and never while the
/// account is `unlimited` (premium under its fair-use cap).
pub fn is_low(available: i32, unlimited: bool, threshold: i32) -> bool {
    !unlimited && available < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{account, lot, utc};

    fn config() -> Config {
        Config::default()
    }

    #[test]
    fn the_breakdown_sums_unexpired_lots_and_names_the_next_expiry() {
        let lots = [
            lot(
                1,
                Bucket::LaunchPromotion,
                500,
                120,
                "2026-12-01T00:00:00Z",
                "2026-12-29T00:00:00Z",
            ),
            lot(
                2,
                Bucket::Monthly,
                500,
                500,
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            lot(
                3,
                Bucket::Purchased,
                25,
                25,
                "2026-06-10T09:00:00Z",
                "2027-06-10T09:00:00Z",
            ),
            lot(
                4,
                Bucket::Monthly,
                500,
                3,
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ),
        ];
        let b = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2026-12-10T12:00:00Z"),
        );
        assert_eq!(b.available, 645);
        assert!(!b.unlimited);
        assert_eq!(b.launch_promotion.map(|p| (p.granted, p.remaining)), Some((500, 120)));
        assert_eq!((b.monthly.granted, b.monthly.used, b.monthly.remaining), (500, 0, 500));
        assert_eq!(b.purchased_remaining, 25);
        assert_eq!(b.fair_use, None);
        assert_eq!(
            b.next_expiry,
            Some(NextExpiry {
                credits: 120,
                at: utc("2026-12-29T00:00:00Z"),
                bucket: Bucket::LaunchPromotion
            })
        );
    }

    #[test]
    fn the_billing_page_lists_the_purchased_lots_with_credits_left_in_spending_order() {
        // Three packs bought: one used up (not listed), one with 7 left that expires
        // first, one untouched.
        let lots = [
            lot(
                1,
                Bucket::Purchased,
                25,
                0,
                "2026-02-01T10:00:00Z",
                "2027-02-01T10:00:00Z",
            ),
            lot(
                2,
                Bucket::Purchased,
                100,
                100,
                "2026-06-01T10:00:00Z",
                "2027-06-01T10:00:00Z",
            ),
            lot(
                3,
                Bucket::Purchased,
                25,
                7,
                "2026-03-01T10:00:00Z",
                "2027-03-01T10:00:00Z",
            ),
        ];
        let b = breakdown(&account(PlanCode::Basic), &lots, &config(), utc("2026-12-10T12:00:00Z"));
        let listed: Vec<(i64, i32)> = b.purchased.iter().map(|l| (l.id, l.remaining)).collect();
        assert_eq!(listed, [(3, 7), (2, 100)]);
        assert_eq!(b.purchased_remaining, 107);
        assert_eq!(b.available, 107);
    }

    #[test]
    fn expiring_soon_sums_every_credit_expiring_within_the_window_from_the_first_instant() {
        // At 2026-12-22 12:00 the window of 7 days reaches 2026-12-29 12:00: the
        // promotion (120, 29 Dec 00:00) and a pack (25, 29 Dec 12:00 exactly) are in
        // it, the monthly lot (500, 1 Jan) and a used-up pack are not counted.
        let lots = [
            lot(
                1,
                Bucket::LaunchPromotion,
                500,
                120,
                "2026-12-01T00:00:00Z",
                "2026-12-29T00:00:00Z",
            ),
            lot(
                2,
                Bucket::Monthly,
                500,
                500,
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            lot(
                3,
                Bucket::Purchased,
                25,
                25,
                "2025-12-29T12:00:00Z",
                "2026-12-29T12:00:00Z",
            ),
            lot(
                4,
                Bucket::Purchased,
                25,
                0,
                "2025-12-24T00:00:00Z",
                "2026-12-24T00:00:00Z",
            ),
        ];
        let b = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2026-12-22T12:00:00Z"),
        );
        let soon = Some(NextExpiry {
            credits: 145,
            at: utc("2026-12-29T00:00:00Z"),
            bucket: Bucket::LaunchPromotion,
        });
        assert_eq!(b.expiring_soon, soon);
        assert_eq!(
            expiring_soon(&lots, utc("2026-12-22T12:00:00Z"), TimeDelta::days(7)),
            soon
        );
        let a_moment_earlier = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2026-12-22T11:59:59Z"),
        );
        assert_eq!(
            a_moment_earlier.expiring_soon.map(|e| (e.credits, e.at)),
            Some((120, utc("2026-12-29T00:00:00Z")))
        );
        let long_before = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2026-12-21T23:59:59Z"),
        );
        assert_eq!(long_before.expiring_soon, None);
    }

    #[test]
    fn a_lot_enters_the_warning_window_the_window_before_its_expiry() {
        let pack = lot(
            3,
            Bucket::Purchased,
            25,
            25,
            "2025-12-29T12:00:00Z",
            "2026-12-29T12:00:00Z",
        );
        assert_eq!(
            enters_warning_window_at(&pack, TimeDelta::days(7)),
            utc("2026-12-22T12:00:00Z")
        );
    }

    #[test]
    fn the_balance_is_low_below_the_threshold_but_never_for_premium_under_its_cap() {
        let at = utc("2026-12-10T00:00:00Z");
        let monthly = |plan, granted, remaining| {
            let lots = [lot(
                2,
                Bucket::Monthly,
                granted,
                remaining,
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            )];
            breakdown(&account(plan), &lots, &config(), at).low
        };
        assert_eq!(
            [
                monthly(PlanCode::Professional, 250, 9),
                monthly(PlanCode::Professional, 250, 10),
                monthly(PlanCode::Premium, 2000, 3),
                monthly(PlanCode::Premium, 2000, 0),
            ],
            [true, false, false, true]
        );
        assert_eq!(
            [is_low(0, false, 0), is_low(9, false, 10), is_low(9, true, 10)],
            [false, true, false]
        );
    }

    #[test]
    fn premium_is_unlimited_until_its_cap_is_used_up() {
        let mut monthly = lot(
            2,
            Bucket::Monthly,
            2000,
            1,
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        );
        let b = breakdown(
            &account(PlanCode::Premium),
            std::slice::from_ref(&monthly),
            &config(),
            utc("2026-12-10T00:00:00Z"),
        );
        assert!(b.unlimited);
        assert_eq!(b.fair_use, Some(FairUse { used: 1999, cap: 2000 }));
        monthly.remaining = 0;
        let b = breakdown(
            &account(PlanCode::Premium),
            &[monthly],
            &config(),
            utc("2026-12-10T00:00:00Z"),
        );
        assert!(!b.unlimited);
        assert_eq!(b.fair_use, Some(FairUse { used: 2000, cap: 2000 }));
        assert_eq!(b.next_expiry, None);
    }

    #[test]
    fn a_lot_is_usable_until_the_instant_it_expires() {
        let lots = [lot(
            2,
            Bucket::Monthly,
            500,
            7,
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )];
        let just_before = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2026-12-31T23:59:59.999999Z"),
        );
        let at_expiry = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            &config(),
            utc("2027-01-01T00:00:00Z"),
        );
        assert_eq!((just_before.available, at_expiry.available), (7, 0));
    }

    #[test]
    fn every_promotion_lot_is_listed_and_the_first_to_expire_is_the_launch_promotion() {
        let mut launch = lot(
            1,
            Bucket::LaunchPromotion,
            500,
            400,
            "2026-12-01T00:00:00Z",
            "2026-12-29T00:00:00Z",
        );
        launch.origin = "promotion".into();
        let mut phase = lot(
            2,
            Bucket::LaunchPromotion,
            40,
            40,
            "2026-12-10T00:00:00Z",
            "2026-12-24T00:00:00Z",
        );
        phase.origin = "promotion:phase-2".into();
        let b = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &[launch, phase],
            &config(),
            utc("2026-12-12T00:00:00Z"),
        );
        let listed: Vec<_> = b
            .promotions
            .iter()
            .map(|p| (p.campaign.as_str(), p.remaining, p.starts_at, p.expires_at))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("phase-2", 40, utc("2026-12-10T00:00:00Z"), utc("2026-12-24T00:00:00Z")),
                ("launch", 400, utc("2026-12-01T00:00:00Z"), utc("2026-12-29T00:00:00Z")),
            ]
        );
        assert_eq!(b.launch_promotion.map(|p| p.campaign), Some("phase-2".to_owned()));
        assert_eq!(b.available, 440);
    }

    #[test]
    fn premium_shows_the_configured_cap_even_with_a_larger_lot_from_its_former_plan() {
        // Moved to premium mid-cycle from a 3,000-credit PROFESSIONAL_PLUS lot: the lot
        // keeps its credits until the reset, but past 2,000 used it is no longer unlimited.
        let monthly = |remaining| {
            lot(
                2,
                Bucket::Monthly,
                3000,
                remaining,
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            )
        };
        let at = utc("2026-12-10T00:00:00Z");
        let premium = account(PlanCode::Premium);

        let b = breakdown(&premium, &[monthly(1001)], &config(), at);
        assert_eq!(
            (b.unlimited, b.fair_use),
            (true, Some(FairUse { used: 1999, cap: 2000 }))
        );

        let b = breakdown(&premium, &[monthly(1000)], &config(), at);
        assert_eq!((b.unlimited, b.available), (false, 1000));
        assert_eq!(b.fair_use, Some(FairUse { used: 2000, cap: 2000 }));
    }
}
