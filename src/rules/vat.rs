//! The VAT of an invoice (rules §2): prices are net, the tax is `vat_percent` of the
//! net total rounded half up to the cent, and the gross total is net plus tax. Integer
//! cents throughout, so no amount is ever off by a rounding of floats.

/// An invoice's amounts, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amounts {
    /// Net.
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    /// Gross: subtotal + tax.
    pub total_cents: i64,
}

impl Amounts {
    /// The net `subtotal_cents` with `vat_percent` on top.
    pub fn with_vat(subtotal_cents: i64, vat_percent: i32) -> Amounts {
        // Half up: a half cent (…50 in hundredths of a cent) goes to the next cent.
        let tax_cents = (subtotal_cents * i64::from(vat_percent) + 50).div_euclid(100);
        Amounts {
            subtotal_cents,
            tax_cents,
            total_cents: subtotal_cents + tax_cents,
        }
    }

    /// The same amounts with the sign turned: what a credit note gives back.
    pub fn negated(self) -> Amounts {
        Amounts {
            subtotal_cents: -self.subtotal_cents,
            tax_cents: -self.tax_cents,
            total_cents: -self.total_cents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_pack_of_the_catalog_bills_19_percent_vat_rounded_half_up_to_the_cent() {
        let config = Config::default();
        let billed: Vec<(String, Amounts)> = config
            .packs
            .iter()
            .map(|p| {
                let net = p.price_cents(config.credit_price_cents);
                (p.id.clone(), Amounts::with_vat(net, config.vat_percent))
            })
            .collect();
        let expected = [
            ("pro-small", 1250, 238, 1488),
            ("pro-medium", 2375, 451, 2826),
            ("pro-large", 4500, 855, 5355),
            ("basic-small", 5000, 950, 5950),
            ("basic-medium", 11250, 2138, 13388),
            ("basic-large", 20000, 3800, 23800),
        ]
        .map(|(id, subtotal_cents, tax_cents, total_cents)| {
            (
                id.to_owned(),
                Amounts {
                    subtotal_cents,
                    tax_cents,
                    total_cents,
                },
            )
        });
        assert_eq!(billed, expected);
    }

    #[test]
    fn a_half_cent_rounds_up_and_less_than_half_rounds_down() {
        assert_eq!(Amounts::with_vat(250, 19).tax_cents, 48); // 47.5
        assert_eq!(Amounts::with_vat(249, 19).tax_cents, 47); // 47.31
        assert_eq!(Amounts::with_vat(1000, 0).tax_cents, 0);
    }

    #[test]
    fn a_credit_note_negates_every_amount() {
        let negated = Amounts::with_vat(1250, 19).negated();
        assert_eq!(
            negated,
            Amounts {
                subtotal_cents: -1250,
                tax_cents: -238,
                total_cents: -1488,
            }
        );
    }
}
