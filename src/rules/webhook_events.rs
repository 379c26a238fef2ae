//! When the balance events fire (rules §6): `credits.low` when the available balance
//! falls below `low_balance_threshold`, `credits.recovered` when it rises back to it
//! or above, each once per crossing, never for premium under its cap (it shows
//! "unlimited"): a crossing is a change of the balance's own `low` (rules §5,
//! [`super::balance::is_low`]), so the header and the events never disagree.
//! `credits.expiring` once per lot, when it enters the warning window with credits
//! left ([`expiring_due_at`]).
use chrono::{DateTime, TimeDelta, Utc};
use entity::lot;

use super::balance::{Breakdown, enters_warning_window_at};

/// A crossing of the threshold to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    Low,
    Recovered,
}

/// The crossing to tell for a balance that was told `was_low` and is `balance` now.
pub fn crossing(was_low: bool, balance: &Breakdown) -> Option<Crossing> {
    match (was_low, balance.low) {
        (false, true) => Some(Crossing::Low),
        (true, false) => Some(Crossing::Recovered),
        _ => None,
    }
}

/// When `credits.expiring` is due for `lot`, with a warning window of `window`: when
/// it enters the window, or when it was granted (or became usable) if that was inside
/// the window already. None once told, and for a lot with no credits left or expired:
/// a lot used up before its window never fires.
pub fn expiring_due_at(lot: &lot::Model, window: TimeDelta) -> Option<DateTime<Utc>> {
    if lot.expired || lot.remaining <= 0 || lot.expiry_warned_at.is_some() {
        return None;
    }
    let at = enters_warning_window_at(lot, window)
        .max(lot.created_at)
        .max(lot.valid_from);
    (at < lot.expires_at).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::rules::balance::breakdown;
    use crate::rules::fixtures::{self, account, utc};
    use entity::enums::{Bucket, PlanCode};
    use fixtures::utc as at;

    fn balance(plan: PlanCode, bucket: Bucket, remaining: i32) -> Breakdown {
        let lots = [fixtures::lot(
            10,
            bucket,
            2000,
            remaining,
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )];
        breakdown(&account(plan), &lots, &Config::default(), utc("2026-12-10T00:00:00Z"))
    }

    #[test]
    fn each_crossing_of_the_threshold_is_told_once_and_a_stay_on_one_side_never() {
        let below = balance(PlanCode::Professional, Bucket::Monthly, 9);
        let at = balance(PlanCode::Professional, Bucket::Monthly, 10);
        assert_eq!(crossing(false, &below), Some(Crossing::Low));
        assert_eq!(crossing(true, &below), None);
        assert_eq!(crossing(true, &at), Some(Crossing::Recovered));
        assert_eq!(crossing(false, &at), None);
    }

    #[test]
    fn premium_under_its_cap_is_never_low_and_is_once_the_cap_is_used_up() {
        let under_cap = balance(PlanCode::Premium, Bucket::Monthly, 3);
        let used_up = balance(PlanCode::Premium, Bucket::Monthly, 0);
        assert!(!under_cap.low);
        assert!(used_up.low);
    }

    #[test]
    fn a_lot_is_due_to_be_told_expiring_when_it_enters_the_window_or_when_granted_inside_it() {
        let week = TimeDelta::days(7);
        let pack = fixtures::lot(
            3,
            Bucket::Purchased,
            25,
            25,
            "2025-12-29T12:00:00Z",
            "2026-12-29T12:00:00Z",
        );
        // Granted on 24 November, a week before the reset: inside the window already.
        let monthly = fixtures::lot(
            4,
            Bucket::Monthly,
            10,
            10,
            "2026-11-24T10:00:00Z",
            "2026-12-01T00:00:00Z",
        );
        assert_eq!(expiring_due_at(&pack, week), Some(at("2026-12-22T12:00:00Z")));
        assert_eq!(expiring_due_at(&monthly, week), Some(at("2026-11-24T10:00:00Z")));
    }

    #[test]
    fn a_lot_told_used_up_or_expired_is_never_due() {
        let week = TimeDelta::days(7);
        let lot = |remaining, expired, warned: Option<&str>| lot::Model {
            expired,
            expiry_warned_at: warned.map(at),
            ..fixtures::lot(
                3,
                Bucket::Purchased,
                25,
                remaining,
                "2025-12-29T12:00:00Z",
                "2026-12-29T12:00:00Z",
            )
        };
        assert_eq!(
            expiring_due_at(&lot(25, false, Some("2026-12-22T12:00:00Z")), week),
            None
        );
        assert_eq!(expiring_due_at(&lot(0, false, None), week), None);
        assert_eq!(expiring_due_at(&lot(25, true, None), week), None);
    }
}
