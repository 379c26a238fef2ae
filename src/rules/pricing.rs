//! What an apply costs (rules §1 and §3): one credit per photo whose look changes,
//! nothing for a photo that already shows the look, the same photo twice counted once,
//! every chargeable photo paid by one lot in spending order, and the whole batch
//! refused when the lots cannot pay it.
use std::collections::HashSet;

use entity::enums::{Bucket, LogoPosition, PlanCode};
use entity::{account, lot};

use super::spending_order::allocate;
use crate::error::{Refusal, RefusalCode};

/// What an apply puts on a photo: a background, and optionally a logo at a corner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    pub background_id: String,
    pub logo: Option<(i64, LogoPosition)>,
}

/// How an apply of one look to a batch would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Photos that already show the look: free, nothing rendered.
    pub unchanged: Vec<i64>,
    /// Photos to change, each with the lot that pays its credit, in batch order.
    pub charged: Vec<(i64, i64)>,
}

/// The batch's photos, each once, in the order given; refused when empty or holding
/// more than `max` distinct photos.
pub fn distinct_batch(photo_ids: &[i64], max: usize) -> Result<Vec<i64>, Refusal> {
    let mut seen = HashSet::new();
    let distinct: Vec<i64> = photo_ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if distinct.is_empty() {
        return Err(Refusal::new(RefusalCode::EmptyBatch, "Select at least one photo.").at(&["photoIds"]));
    }
    if distinct.len() > max {
        return Err(Refusal::new(
            RefusalCode::BatchTooLarge,
            format!("A batch holds at most {max} photos; this one has {}.", distinct.len()),
        )
        .at(&["photoIds"]));
    }
    Ok(distinct)
}

/// Plans `wanted` on `batch` (distinct photos, each with the look it shows now) for
/// an account holding the usable `lots`; refused when the lots cannot pay.
pub fn plan_batch(
    batch: &[(i64, Option<Look>)],
    wanted: &Look,
    account: &account::Model,
    lots: &[lot::Model],
) -> Result<BatchPlan, Refusal> {
    let (unchanged, chargeable): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, shown)| shown.as_ref() == Some(wanted));
    let Some(payers) = allocate(lots, chargeable.len()) else {
        return Err(cannot_pay(account, lots, chargeable.len()));
    };
    Ok(BatchPlan {
        unchanged: unchanged.into_iter().map(|(id, _)| *id).collect(),
        charged: chargeable.into_iter().map(|(id, _)| *id).zip(payers).collect(),
    })
}

/// Why an account with `lots` cannot pay `needed` credits: premium whose fair-use cap
/// is used up with nothing else left meets FAIR_USE_CAP_REACHED, everyone else
/// INSUFFICIENT_CREDITS with what is needed and what is available.
fn cannot_pay(account: &account::Model, lots: &[lot::Model], needed: usize) -> Refusal {
    let available: i32 = lots.iter().map(|l| l.remaining).sum();
    let cap_used_up =
        account.plan == PlanCode::Premium && !lots.iter().any(|l| l.bucket == Bucket::Monthly && l.remaining > 0);
    if cap_used_up && available == 0 {
        return Refusal::new(
            RefusalCode::FairUseCapReached,
            format!(
                "The fair-use cap of this cycle is used up; this batch needs {needed} credits and 0 are available."
            ),
        );
    }
    Refusal::new(
        RefusalCode::InsufficientCredits,
        format!("This batch needs {needed} credits and {available} are available."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, account};

    fn lot(id: i64, bucket: Bucket, remaining: i32, expires_at: &str) -> lot::Model {
        fixtures::lot(id, bucket, remaining, remaining, "2026-12-01T00:00:00Z", expires_at)
    }

    fn look(background: &str, logo: Option<(i64, LogoPosition)>) -> Look {
        Look {
            background_id: background.into(),
            logo,
        }
    }

    #[test]
    fn a_batch_is_its_distinct_photos_in_order_within_the_limit() {
        assert_eq!(distinct_batch(&[3, 1, 3, 2, 1], 3), Ok(vec![3, 1, 2]));
        let codes = [distinct_batch(&[], 3), distinct_batch(&[1, 2, 3, 4], 3)].map(|r| r.map_err(|e| e.code));
        assert_eq!(codes, [Err(RefusalCode::EmptyBatch), Err(RefusalCode::BatchTooLarge)]);
    }

    #[test]
    fn each_changed_photo_costs_one_credit_and_the_same_look_is_free() {
        let showroom = look("showroom", None);
        let with_logo = look("showroom", Some((7, LogoPosition::TopLeft)));
        let moved_logo = look("showroom", Some((7, LogoPosition::BottomRight)));
        let batch = [
            (1, None),
            (2, Some(showroom.clone())),
            (3, Some(moved_logo)),
            (4, Some(with_logo.clone())),
        ];
        let lots = [lot(10, Bucket::Monthly, 5, "2027-01-01T00:00:00Z")];

        let plan = plan_batch(&batch, &with_logo, &account(PlanCode::Professional), &lots);

        assert_eq!(
            plan,
            Ok(BatchPlan {
                unchanged: vec![4],
                charged: vec![(1, 10), (2, 10), (3, 10)],
            })
        );
    }

    #[test]
    fn a_batch_draws_from_several_lots_in_spending_order() {
        let lots = [
            lot(20, Bucket::Purchased, 5, "2027-06-01T00:00:00Z"),
            lot(10, Bucket::Monthly, 1, "2027-01-01T00:00:00Z"),
            lot(30, Bucket::LaunchPromotion, 1, "2026-12-29T00:00:00Z"),
        ];
        let batch = [(1, None), (2, None), (3, None)];

        let plan = plan_batch(&batch, &look("showroom", None), &account(PlanCode::Professional), &lots);

        assert_eq!(plan.map(|p| p.charged), Ok(vec![(1, 30), (2, 10), (3, 20)]));
    }

    #[test]
    fn a_batch_the_lots_cannot_pay_is_refused_whole_with_what_it_needs() {
        let lots = [lot(10, Bucket::Monthly, 2, "2027-01-01T00:00:00Z")];
        let batch = [(1, None), (2, None), (3, None)];

        let refused = plan_batch(&batch, &look("showroom", None), &account(PlanCode::Professional), &lots);

        assert_eq!(
            refused,
            Err(Refusal::new(
                RefusalCode::InsufficientCredits,
                "This batch needs 3 credits and 2 are available."
            ))
        );
    }

    #[test]
    fn premium_with_its_cap_used_up_and_nothing_else_meets_the_fair_use_cap() {
        let used_up = [lot(10, Bucket::Monthly, 0, "2027-01-01T00:00:00Z")];
        let with_a_pack_left = [
            lot(10, Bucket::Monthly, 0, "2027-01-01T00:00:00Z"),
            lot(20, Bucket::Purchased, 1, "2027-06-01T00:00:00Z"),
        ];
        let batch = [(1, None), (2, None)];
        let code = |lots: &[lot::Model], plan| {
            plan_batch(&batch, &look("showroom", None), &account(plan), lots).map_err(|r| r.code)
        };

        assert_eq!(code(&used_up, PlanCode::Premium), Err(RefusalCode::FairUseCapReached));
        assert_eq!(
            code(&with_a_pack_left, PlanCode::Premium),
            Err(RefusalCode::InsufficientCredits)
        );
        assert_eq!(
            code(&used_up, PlanCode::Professional),
            Err(RefusalCode::InsufficientCredits)
        );
    }
}
