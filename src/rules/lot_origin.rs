//! What granted a lot, stored as its `origin`: an account holds one lot per origin, so
//! a cycle, a campaign or a purchase grants at most once. One `Display` writes it and
//! one `FromStr` reads it.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::config::LAUNCH_CAMPAIGN;

/// What granted a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LotOrigin {
    /// The monthly credits of the cycle that starts at this instant.
    Cycle(DateTime<Utc>),
    /// The promotion campaign with this id.
    Promotion(String),
    /// The purchase billed by the invoice with this number.
    Purchase(String),
}

impl fmt::Display for LotOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LotOrigin::Cycle(start) => write!(f, "cycle:{}", start.to_rfc3339()),
            // The first release had one promotion and called its lot `promotion`.
            LotOrigin::Promotion(campaign) if campaign == LAUNCH_CAMPAIGN => f.write_str("promotion"),
            LotOrigin::Promotion(campaign) => write!(f, "promotion:{campaign}"),
            LotOrigin::Purchase(invoice) => write!(f, "purchase:{invoice}"),
        }
    }
}

/// An origin that no release wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lot origin {0:?}")]
pub struct UnknownOrigin(String);

impl FromStr for LotOrigin {
    type Err = UnknownOrigin;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownOrigin(s.to_owned());
        match s.split_once(':') {
            None if s == "promotion" => Ok(LotOrigin::Promotion(LAUNCH_CAMPAIGN.to_owned())),
            Some(("cycle", start)) => DateTime::parse_from_rfc3339(start)
                .map(|t| LotOrigin::Cycle(t.with_timezone(&Utc)))
                .map_err(|_| unknown()),
            Some(("promotion", campaign)) if !campaign.is_empty() => Ok(LotOrigin::Promotion(campaign.to_owned())),
            Some(("purchase", invoice)) if !invoice.is_empty() => Ok(LotOrigin::Purchase(invoice.to_owned())),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_reads_back_as_written() {
        let origins = [
            LotOrigin::Cycle("2026-12-01T00:00:00Z".parse().expect("instant")),
            LotOrigin::Promotion("launch".into()),
            LotOrigin::Promotion("phase-2".into()),
            LotOrigin::Purchase("INV-2026-000001".into()),
        ];
        for origin in origins {
            assert_eq!(origin.to_string().parse::<LotOrigin>(), Ok(origin));
        }
    }

    #[test]
    fn the_first_releases_origins_keep_their_text() {
        let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("instant");
        assert_eq!(LotOrigin::Cycle(start).to_string(), "cycle:2026-12-01T00:00:00+00:00");
        assert_eq!(LotOrigin::Promotion("launch".into()).to_string(), "promotion");
        assert_eq!(
            LotOrigin::Purchase("INV-2026-000001".into()).to_string(),
            "purchase:INV-2026-000001"
        );
    }

    #[test]
    fn an_origin_no_release_wrote_is_refused() {
        for text in ["", "cycle:yesterday", "promotion:", "gift:7", "purchase:"] {
            assert!(text.parse::<LotOrigin>().is_err(), "{text:?}");
        }
    }
}
