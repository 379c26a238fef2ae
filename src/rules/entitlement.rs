//! What each plan is granted: monthly credits per cycle, and the promotion campaigns.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use entity::account;
use entity::enums::PlanCode;

use crate::config::{Config, LAUNCH_CAMPAIGN};

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

/// A promotion campaign: one lot per account, granted at the campaign's start to the
/// accounts that exist then, or when an account is created inside the window, and
/// expiring at the window's end whatever the join date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: String,
    pub starts_at: DateTime<Utc>,
    /// The end of the window, exclusive: `[starts_at, ends_at)`.
    pub ends_at: DateTime<Utc>,
    credits_per_slot: BTreeMap<PlanCode, i32>,
}

impl Campaign {
    /// Credits of this campaign for a plan and slot count.
    pub fn credits(&self, plan: PlanCode, listing_slots: i32) -> i32 {
        self.credits_per_slot.get(&plan).map_or(0, |c| c * listing_slots)
    }

    /// When an account created at `created_at` receives its lot: at the start for
    /// accounts that exist then, at creation inside the window, never after it.
    pub fn grant_at(&self, created_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let at = created_at.max(self.starts_at);
        (at < self.ends_at).then_some(at)
    }

    /// Whether the window is open at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// Whether `campaign` has been considered for `account`: its lot granted, or nothing
/// found to grant. The first release marked its one promotion, `launch`, in
/// `promotion_processed`, and its instances may still do so during a rollout.
pub fn considered(account: &account::Model, campaign: &str) -> bool {
    (campaign == LAUNCH_CAMPAIGN && account.promotion_processed)
        || account.promotions_considered.split(',').any(|c| c == campaign)
}

/// The next campaign of `campaigns` due for `account` by `now`: when, and its index;
/// at one instant the earlier campaign in the configuration first.
pub fn next_promotion(
    campaigns: &[Campaign],
    account: &account::Model,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, usize)> {
    campaigns
        .iter()
        .enumerate()
        .filter(|(_, c)| !considered(account, &c.id))
        .filter_map(|(i, c)| c.grant_at(account.created_at).map(|at| (at, i)))
        .filter(|(at, _)| *at <= now)
        .min()
}

/// Every configured campaign: `launch` (from `launch_at`, `launch_promotion_days` and
/// the plans' `promotion_credits_per_slot`) first, then `[[promotions]]` in order.
pub fn campaigns(config: &Config) -> Vec<Campaign> {
    let launch = config.launch_at.map(|starts_at| Campaign {
        id: LAUNCH_CAMPAIGN.to_owned(),
        starts_at,
        ends_at: starts_at + Duration::days(i64::from(config.launch_promotion_days)),
        credits_per_slot: config
            .plans
            .iter()
            .map(|(plan, p)| (*plan, p.promotion_credits_per_slot))
            .collect(),
    });
    let others = config.promotions.iter().map(|p| Campaign {
        id: p.id.clone(),
        starts_at: p.starts_at,
        ends_at: p.starts_at + Duration::days(i64::from(p.days)),
        credits_per_slot: p.credits_per_slot.clone(),
    });
    launch.into_iter().chain(others).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromotionSettings;

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
        let config = Config {
            launch_at: Some(utc("2026-12-01T00:00:00Z")),
            ..Config::default()
        };
        let launch = &campaigns(&config)[0];
        assert_eq!(launch.id, "launch");
        assert_eq!(launch.credits(PlanCode::ProfessionalPlus, 50), 500);
        assert_eq!(launch.credits(PlanCode::Professional, 50), 0);
        assert_eq!(launch.credits(PlanCode::Basic, 50), 0);
        assert_eq!(launch.credits(PlanCode::Premium, 50), 0);
    }

    #[test]
    fn no_launch_at_and_no_promotions_configure_no_campaign() {
        assert_eq!(campaigns(&Config::default()), vec![]);
    }

    #[test]
    fn a_later_phase_is_a_campaign_of_its_own_after_launch() {
        let config = Config {
            launch_at: Some(utc("2026-12-01T00:00:00Z")),
            promotions: vec![PromotionSettings {
                id: "phase-2".into(),
                starts_at: utc("2027-03-01T00:00:00Z"),
                days: 14,
                credits_per_slot: BTreeMap::from([(PlanCode::Professional, 4), (PlanCode::Basic, 2)]),
            }],
            ..Config::default()
        };
        let all = campaigns(&config);
        assert_eq!(
            all.iter()
                .map(|c| (c.id.as_str(), c.starts_at, c.ends_at))
                .collect::<Vec<_>>(),
            vec![
                ("launch", utc("2026-12-01T00:00:00Z"), utc("2026-12-29T00:00:00Z")),
                ("phase-2", utc("2027-03-01T00:00:00Z"), utc("2027-03-15T00:00:00Z")),
            ]
        );
        let phase = &all[1];
        assert_eq!(phase.credits(PlanCode::Professional, 10), 40);
        assert_eq!(phase.credits(PlanCode::Basic, 10), 20);
        assert_eq!(phase.credits(PlanCode::ProfessionalPlus, 10), 0);
        assert!(!phase.is_open(utc("2027-02-28T23:59:59Z")));
        assert!(phase.is_open(utc("2027-03-01T00:00:00Z")));
        assert!(!phase.is_open(utc("2027-03-15T00:00:00Z")));
    }

    #[test]
    fn a_campaign_is_granted_at_its_start_or_at_creation_inside_the_window() {
        let config = Config {
            launch_at: Some(utc("2026-12-01T00:00:00Z")),
            ..Config::default()
        };
        let launch = &campaigns(&config)[0];
        assert_eq!(
            launch.grant_at(utc("2026-11-01T00:00:00Z")),
            Some(utc("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            launch.grant_at(utc("2026-12-22T08:00:00Z")),
            Some(utc("2026-12-22T08:00:00Z"))
        );
        assert_eq!(
            launch.grant_at(utc("2026-12-28T23:59:59Z")),
            Some(utc("2026-12-28T23:59:59Z"))
        );
        assert_eq!(launch.grant_at(utc("2026-12-29T00:00:00Z")), None);
    }
}
