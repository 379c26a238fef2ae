//! The schema's scalar, and the enum every area shows: the bucket credits come from.
use async_graphql::{Enum, Scalar, ScalarType};
use chrono::{SecondsFormat, Utc};

/// RFC 3339 instant, always rendered in UTC, e.g. 2026-11-24T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant as an RFC 3339 string, always answered in UTC, e.g. 2026-11-24T00:00:00Z.
/// An input with another offset is accepted and read as the same instant in UTC.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| async_graphql::InputValueError::custom("expected an RFC 3339 instant")),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

/// The three kinds of credit lots, in the order credits are spent.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::Bucket")]
pub enum CreditBucket {
    /// Credits of a promotion campaign (the launch promotion or a later one): spent
    /// first, and they expire at the campaign's end.
    LaunchPromotion,
    /// The plan's included credits of the current cycle: spent after promotion credits;
    /// they do not carry over but expire at the monthly reset.
    Monthly,
    /// Credits of a bought pack: spent last, the lot that expires first first; valid 12
    /// calendar months from the purchase.
    Purchased,
}
