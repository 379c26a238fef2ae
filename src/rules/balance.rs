//! What the dealer sees: the available total and its breakdown by bucket, computed
//! from the account's lots as of one instant.
use chrono::{DateTime, Utc};
use entity::enums::{Bucket, PlanCode};
use entity::{account, lot};

use super::lot_origin::LotOrigin;
use super::spending_order::spending_key;

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
    /// Purchased lots in spending order.
    pub purchased: Vec<lot::Model>,
    pub fair_use: Option<FairUse>,
    pub next_expiry: Option<NextExpiry>,
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

/// The next credits to expire: how many, when, and from which bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextExpiry {
    pub credits: i32,
    pub at: DateTime<Utc>,
    pub bucket: Bucket,
}

/// The breakdown of `account` from its `lots` (any of them; expired ones are left out).
pub fn breakdown(account: &account::Model, lots: &[lot::Model], fair_use_cap: i32, as_of: DateTime<Utc>) -> Breakdown {
    let mut usable: Vec<&lot::Model> = lots
        .iter()
        .filter(|l| l.account_id == account.id && !l.expired && l.valid_from <= as_of && as_of < l.expires_at)
        .collect();
    usable.sort_by_key(|l| spending_key(l));
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
        .filter(|l| l.bucket == Bucket::Purchased)
        .map(|l| (*l).clone())
        .collect();
    let next_expiry = usable
        .iter()
        .filter(|l| l.remaining > 0)
        .map(|l| l.expires_at)
        .min()
        .map(|at| {
            let expiring: Vec<&&lot::Model> = usable
                .iter()
                .filter(|l| l.remaining > 0 && l.expires_at == at)
                .collect();
            NextExpiry {
                credits: expiring.iter().map(|l| l.remaining).sum(),
                at,
                bucket: expiring[0].bucket,
            }
        });
    Breakdown {
        available: usable.iter().map(|l| l.remaining).sum(),
        unlimited: premium && monthly.used < fair_use_cap && monthly.remaining > 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{account, lot, utc};

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
            2000,
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
            2000,
            utc("2026-12-10T00:00:00Z"),
        );
        assert!(b.unlimited);
        assert_eq!(b.fair_use, Some(FairUse { used: 1999, cap: 2000 }));
        monthly.remaining = 0;
        let b = breakdown(
            &account(PlanCode::Premium),
            &[monthly],
            2000,
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
            2000,
            utc("2026-12-31T23:59:59.999999Z"),
        );
        let at_expiry = breakdown(
            &account(PlanCode::ProfessionalPlus),
            &lots,
            2000,
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
            2000,
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

        let b = breakdown(&premium, &[monthly(1001)], 2000, at);
        assert_eq!(
            (b.unlimited, b.fair_use),
            (true, Some(FairUse { used: 1999, cap: 2000 }))
        );

        let b = breakdown(&premium, &[monthly(1000)], 2000, at);
        assert_eq!((b.unlimited, b.available), (false, 1000));
        assert_eq!(b.fair_use, Some(FairUse { used: 2000, cap: 2000 }));
    }
}
