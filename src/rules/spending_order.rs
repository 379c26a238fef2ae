//! The order credits are spent in: launch promotion, then monthly, then purchased lots
//! by earliest expiry; ties by creation, then id, so the order is deterministic.
use chrono::{DateTime, Utc};
use entity::enums::Bucket;
use entity::lot;

/// The key lots are spent in ascending order of.
pub fn spending_key(lot: &lot::Model) -> (Bucket, DateTime<Utc>, DateTime<Utc>, i64) {
    (lot.bucket, lot.expires_at, lot.created_at, lot.id)
}

/// Which lot pays for each of `photos` photos, one lot per photo, or `None` when the
/// usable lots hold fewer credits than that. `lots` are those usable now, in any order.
pub fn allocate(lots: &[lot::Model], photos: usize) -> Option<Vec<i64>> {
    let mut ordered: Vec<&lot::Model> = lots.iter().filter(|l| l.remaining > 0).collect();
    ordered.sort_by_key(|l| spending_key(l));
    let payers: Vec<i64> = ordered
        .into_iter()
        .flat_map(|l| std::iter::repeat_n(l.id, usize::try_from(l.remaining).unwrap_or(0)))
        .take(photos)
        .collect();
    (payers.len() == photos).then_some(payers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures;

    fn lot(id: i64, bucket: Bucket, remaining: i32, expires_at: &str, created_at: &str) -> lot::Model {
        fixtures::lot(id, bucket, remaining, remaining, created_at, expires_at)
    }

    #[test]
    fn promotion_is_spent_before_monthly_before_purchased() {
        let lots = [
            lot(1, Bucket::Purchased, 5, "2027-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            lot(2, Bucket::Monthly, 2, "2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            lot(
                3,
                Bucket::LaunchPromotion,
                1,
                "2026-12-29T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ),
        ];
        assert_eq!(allocate(&lots, 5), Some(vec![3, 2, 2, 1, 1]));
    }

    #[test]
    fn purchased_lots_expiring_first_are_spent_first_then_the_older_purchase() {
        let lots = [
            lot(7, Bucket::Purchased, 1, "2027-06-01T00:00:00Z", "2026-06-01T00:00:00Z"),
            lot(8, Bucket::Purchased, 1, "2027-03-01T00:00:00Z", "2026-03-01T00:00:00Z"),
            lot(9, Bucket::Purchased, 1, "2027-03-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            lot(4, Bucket::Purchased, 1, "2027-03-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ];
        assert_eq!(allocate(&lots, 4), Some(vec![4, 9, 8, 7]));
    }

    #[test]
    fn a_batch_larger_than_the_credits_is_not_allocated_at_all() {
        let lots = [lot(
            1,
            Bucket::Monthly,
            2,
            "2026-12-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        )];
        assert_eq!(allocate(&lots, 3), None);
        assert_eq!(allocate(&lots, 0), Some(vec![]));
    }

    #[test]
    fn empty_lots_pay_for_nothing() {
        let lots = [
            lot(
                1,
                Bucket::LaunchPromotion,
                0,
                "2026-12-29T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ),
            lot(2, Bucket::Monthly, 1, "2027-01-01T00:00:00Z", "2026-12-01T00:00:00Z"),
        ];
        assert_eq!(allocate(&lots, 1), Some(vec![2]));
    }
}
