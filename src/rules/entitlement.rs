//! What each plan is granted: monthly credits per cycle and the launch promotion.
use chrono::{DateTime, Utc};
use entity::enums::PlanCode;

use crate::config::Config;

/// Listing slots an account may book: keeps every product of slots and credits in range.
pub const MAX_LISTING_SLOTS: i32 = 10_000;

/// Credits granted for one cycle. Premium's lot holds the fair-use cap.
pub fn monthly_credits(config: &Config, plan: PlanCode, listing_slots: i32) -> i32 {
    match plan {
        PlanCode::Premium => config.fair_use_cap,
        PlanCode::ProfessionalPlus => listing_slots * config.professional_plus_credits_per_slot,
        PlanCode::Professional => listing_slots * config.professional_credits_per_slot,
        PlanCode::Basic => 0,
    }
}

/// Credits of the launch promotion for a plan and slot count.
pub fn promotion_credits(config: &Config, plan: PlanCode, listing_slots: i32) -> i32 {
    config
        .plans
        .get(&plan)
        .map_or(0, |p| p.promotion_credits_per_slot * listing_slots)
}

/// When an account created at `created_at` receives its promotion lot: at launch for
/// accounts that exist then, at creation inside the window, never after it.
pub fn promotion_grant_at(config: &Config, created_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (start, end) = config.promotion_window()?;
    let at = created_at.max(start);
    (at < end).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("a valid instant")
    }

    #[test]
    fn monthly_credits_follow_the_plan_and_the_slots() {
        let config = Config::default();
        assert_eq!(monthly_credits(&config, PlanCode::ProfessionalPlus, 50), 500);
        assert_eq!(monthly_credits(&config, PlanCode::Professional, 50), 250);
        assert_eq!(monthly_credits(&config, PlanCode::Basic, 50), 0);
        assert_eq!(monthly_credits(&config, PlanCode::Premium, 50), 2000);
    }

    #[test]
    fn only_professional_plus_has_a_launch_promotion_by_default() {
        let config = Config::default();
        assert_eq!(promotion_credits(&config, PlanCode::ProfessionalPlus, 50), 500);
        assert_eq!(promotion_credits(&config, PlanCode::Professional, 50), 0);
        assert_eq!(promotion_credits(&config, PlanCode::Basic, 50), 0);
        assert_eq!(promotion_credits(&config, PlanCode::Premium, 50), 0);
    }

    #[test]
    fn the_promotion_is_granted_at_launch_or_at_creation_inside_the_window() {
        let config = Config {
            launch_at: Some(utc("2026-12-01T00:00:00Z")),
            ..Config::default()
        };
        assert_eq!(
            promotion_grant_at(&config, utc("2026-11-01T00:00:00Z")),
            Some(utc("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            promotion_grant_at(&config, utc("2026-12-22T08:00:00Z")),
            Some(utc("2026-12-22T08:00:00Z"))
        );
        assert_eq!(
            promotion_grant_at(&config, utc("2026-12-28T23:59:59Z")),
            Some(utc("2026-12-28T23:59:59Z"))
        );
        assert_eq!(promotion_grant_at(&config, utc("2026-12-29T00:00:00Z")), None);
        assert_eq!(
            promotion_grant_at(&Config::default(), utc("2026-12-02T00:00:00Z")),
            None
        );
    }
}
