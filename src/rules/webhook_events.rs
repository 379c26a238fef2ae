//! When the balance events fire (rules §6): `credits.low` when the available balance
//! falls below `low_balance_threshold`, `credits.recovered` when it rises back to it
//! or above, each once per crossing, never for premium under its cap (it shows
//! "unlimited"): a crossing is a change of the balance's own `low` (rules §5,
//! [`super::balance::is_low`]), so the header and the events never disagree.
use super::balance::Breakdown;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::rules::balance::breakdown;
    use crate::rules::fixtures::{self, account, utc};
    use entity::enums::{Bucket, PlanCode};

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
}
