//! The pack catalog (rules §2, "Extra packs"): which packs a plan can buy, smallest
//! first, and a pack's final price, `credits × base price × (100 − discount) / 100`
//! in whole cents. The price shown is final: nothing else is ever taken off it.
use entity::enums::PlanCode;
use serde::{Deserialize, Serialize};

/// One size of extra pack, sold to the plans listed (`[[packs]]` in the configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSettings {
    pub id: String,
    pub name: String,
    pub plans: Vec<PlanCode>,
    pub credits: i32,
    pub discount_percent: i32,
}

impl PackSettings {
    /// The price in cents at `credit_price_cents` a credit, the pack's discount taken
    /// off; `None` when it does not come out in whole cents (refused at start).
    pub fn exact_price_cents(&self, credit_price_cents: i64) -> Option<i64> {
        let hundredths = i64::from(self.credits) * credit_price_cents * i64::from(100 - self.discount_percent);
        (hundredths % 100 == 0).then_some(hundredths / 100)
    }

    /// The price in cents at `credit_price_cents` a credit, the pack's discount taken
    /// off; the configuration was checked to make it whole.
    pub fn price_cents(&self, credit_price_cents: i64) -> i64 {
        i64::from(self.credits) * credit_price_cents * i64::from(100 - self.discount_percent) / 100
    }
}

/// The packs `plan` can buy, smallest first (then by id).
pub fn packs_for(packs: &[PackSettings], plan: PlanCode) -> impl Iterator<Item = &PackSettings> {
    smallest_first(packs.iter().filter(move |p| p.plans.contains(&plan)))
}

/// `packs` in the catalog's order: smallest first, then by id.
pub fn smallest_first<'a>(packs: impl Iterator<Item = &'a PackSettings>) -> impl Iterator<Item = &'a PackSettings> {
    let mut ordered: Vec<&PackSettings> = packs.collect();
    ordered.sort_by_key(|p| (p.credits, p.id.as_str()));
    ordered.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(id: &str, plans: &[PlanCode], credits: i32, discount_percent: i32) -> PackSettings {
        PackSettings {
            id: id.into(),
            name: id.into(),
            plans: plans.to_vec(),
            credits,
            discount_percent,
        }
    }

    #[test]
    fn the_provisional_catalog_costs_what_the_rules_say_at_fifty_cents_a_credit() {
        let pro = [PlanCode::ProfessionalPlus, PlanCode::Professional];
        let table = [
            (pack("pro-small", &pro, 25, 0), 1250),
            (pack("pro-medium", &pro, 50, 5), 2375),
            (pack("pro-large", &pro, 100, 10), 4500),
            (pack("basic-small", &[PlanCode::Basic], 100, 0), 5000),
            (pack("basic-medium", &[PlanCode::Basic], 250, 10), 11250),
            (pack("basic-large", &[PlanCode::Basic], 500, 20), 20000),
        ];
        for (pack, cents) in table {
            assert_eq!(pack.exact_price_cents(50), Some(cents), "{}", pack.id);
            assert_eq!(pack.price_cents(50), cents, "{}", pack.id);
        }
    }

    #[test]
    fn a_price_that_is_not_whole_cents_has_no_exact_price() {
        assert_eq!(pack("odd", &[PlanCode::Basic], 3, 5).exact_price_cents(7), None);
        assert_eq!(pack("even", &[PlanCode::Basic], 20, 5).exact_price_cents(7), Some(133));
    }

    #[test]
    fn a_plan_sees_its_own_packs_smallest_first() {
        let packs = [
            pack("b", &[PlanCode::Basic], 500, 20),
            pack("p-large", &[PlanCode::Professional], 100, 10),
            pack("a", &[PlanCode::Basic], 100, 0),
            pack("p-small", &[PlanCode::Professional, PlanCode::ProfessionalPlus], 25, 0),
        ];
        let ids = |plan| packs_for(&packs, plan).map(|p| p.id.as_str()).collect::<Vec<_>>();
        assert_eq!(ids(PlanCode::Basic), ["a", "b"]);
        assert_eq!(ids(PlanCode::Professional), ["p-small", "p-large"]);
        assert_eq!(ids(PlanCode::ProfessionalPlus), ["p-small"]);
        assert_eq!(ids(PlanCode::Premium), Vec::<&str>::new());
    }
}
