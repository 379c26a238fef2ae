//! A setting that must never be printed: the JWT secret, and the database URL, which
//! may carry a password (`postgres://user:password@host/db`, or `?password=`). It
//! prints and serializes as `[redacted]`; the value is read only through
//! [`Secret::expose`], so every place that uses it says so.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret prints as.
const REDACTED: &str = "[redacted]";

/// A string that `Debug`, `Display` and `Serialize` show as `[redacted]`.
///
/// Serializing is one-way: a `Config` holding a secret, serialized and read back, holds
/// `[redacted]`. The configuration serializes only its defaults, where both secrets
/// are `None`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (signing tokens, connecting).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Read as a plain string, exactly as the setting was before it was wrapped.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_and_serializes_redacted_and_reads_as_given() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").expect("a string");

        assert_eq!(
            format!("{secret:?} {secret} {secret:#?}"),
            "[redacted] [redacted] [redacted]"
        );
        assert_eq!(serde_json::to_string(&secret).expect("serializes"), "\"[redacted]\"");
        assert_eq!(secret.expose(), "hunter2");
    }
}
