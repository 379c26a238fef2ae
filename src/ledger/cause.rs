//! Why a ledger entry was written, stored as its `cause`: one `Display` writes it and
//! one `FromStr` reads it, so the history's causes have one spelling.
use std::fmt;
use std::str::FromStr;

/// Why a ledger entry was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The account was opened with the credits of the cycle it starts in.
    AccountOpened,
    /// A monthly reset granted the new cycle's credits.
    Reset,
    /// A plan or slot increase topped a lot up.
    PlanChange,
    /// A lot reached its expiry with credits left.
    Expiry,
    /// A promotion campaign granted its lot.
    Promotion,
    /// An apply, named by its idempotency key.
    Apply(String),
    /// A purchase, named by its invoice number.
    Purchase(String),
    /// A failed render gave back the credit of this edit.
    Refund(i64),
    /// The render of this edit was given up ("timed out") and its credit given back.
    GiveUp(i64),
    /// The correction team refunded the edit of this faulty report.
    Report(i64),
    /// A credit note that voided a purchase's invoice, named by its number: the
    /// ADJUSTMENT that takes the pack's credits back.
    CreditNote(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::AccountOpened => f.write_str("account"),
            Cause::Reset => f.write_str("reset"),
            Cause::PlanChange => f.write_str("plan_change"),
            Cause::Expiry => f.write_str("expiry"),
            Cause::Promotion => f.write_str("promotion"),
            Cause::Apply(key) => write!(f, "apply:{key}"),
            Cause::Purchase(invoice) => write!(f, "purchase:{invoice}"),
            Cause::Refund(edit) => write!(f, "refund:{edit}"),
            Cause::GiveUp(edit) => write!(f, "give_up:{edit}"),
            Cause::Report(report) => write!(f, "report:{report}"),
            Cause::CreditNote(number) => write!(f, "credit_note:{number}"),
        }
    }
}

impl Cause {
    /// Whether the clock wrote the entry, not a person: it then records no actor.
    pub fn is_the_clocks(&self) -> bool {
        matches!(self, Cause::Reset | Cause::Expiry | Cause::Promotion | Cause::GiveUp(_))
    }
}

/// A cause no release wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ledger cause {0:?}")]
pub struct UnknownCause(String);

impl FromStr for Cause {
    type Err = UnknownCause;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.split_once(':') {
            None if s == "account" => Cause::AccountOpened,
            None if s == "reset" => Cause::Reset,
            None if s == "plan_change" => Cause::PlanChange,
            None if s == "expiry" => Cause::Expiry,
            None if s == "promotion" => Cause::Promotion,
            Some(("apply", key)) if !key.is_empty() => Cause::Apply(key.to_owned()),
            Some(("purchase", invoice)) if !invoice.is_empty() => Cause::Purchase(invoice.to_owned()),
            Some(("refund", edit)) => Cause::Refund(edit.parse().map_err(|_| UnknownCause(s.to_owned()))?),
            Some(("give_up", edit)) => Cause::GiveUp(edit.parse().map_err(|_| UnknownCause(s.to_owned()))?),
            Some(("report", report)) => Cause::Report(report.parse().map_err(|_| UnknownCause(s.to_owned()))?),
            Some(("credit_note", number)) if !number.is_empty() => Cause::CreditNote(number.to_owned()),
            _ => return Err(UnknownCause(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_reads_back_as_written_with_the_first_releases_spelling() {
        let causes = [
            (Cause::AccountOpened, "account"),
            (Cause::Reset, "reset"),
            (Cause::PlanChange, "plan_change"),
            (Cause::Expiry, "expiry"),
            (Cause::Promotion, "promotion"),
            (Cause::Apply("key:with:colons".into()), "apply:key:with:colons"),
            (Cause::Purchase("INV-2026-000001".into()), "purchase:INV-2026-000001"),
            (Cause::Refund(17), "refund:17"),
            (Cause::GiveUp(18), "give_up:18"),
            (Cause::Report(19), "report:19"),
            (Cause::CreditNote("CN-2026-000001".into()), "credit_note:CN-2026-000001"),
        ];
        for (cause, text) in causes {
            assert_eq!(cause.to_string(), text);
            assert_eq!(text.parse::<Cause>(), Ok(cause));
        }
        assert!("gift".parse::<Cause>().is_err());
        assert!("apply:".parse::<Cause>().is_err());
        assert!("refund:x".parse::<Cause>().is_err());
    }
}
