//! The service's one error type. A business refusal is a [`Refusal`]: the caller sees
//! its code and message, and nothing was changed. Database and internal faults are
//! logged in full and shown to no client.
use sea_orm::DbErr;
use serde::{Deserialize, Serialize};

/// Why an operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule refused the request; the client sees the refusal.
    #[error("{0}")]
    Refused(Refusal),
    /// The database failed; the client sees only that the service failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// An invariant did not hold; the client sees only that the service failed.
    #[error("internal: {0}")]
    Internal(String),
}

/// The contract's codes for business refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalCode {
    InsufficientCredits,
    FairUseCapReached,
    EmptyBatch,
    BatchTooLarge,
    PhotoNotFound,
    BackgroundNotFound,
    LogoNotFound,
    PhotoNotEdited,
    PackNotAvailable,
    IdempotencyKeyReused,
    InvalidInput,
    AccountNotFound,
    ClockNotManual,
    TooManyLogos,
}

/// A business refusal: what the client is told, and which input field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
    /// Path to the offending input field, e.g. `["input", "photoIds", "2"]`.
    pub field: Option<Vec<String>>,
}

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the input field at fault, as a path below `input`.
    pub fn at(mut self, path: &[&str]) -> Self {
        let mut field = vec!["input".to_owned()];
        field.extend(path.iter().map(|p| (*p).to_owned()));
        self.field = Some(field);
        self
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Error::Refused(refusal)
    }
}

/// Shorthand for refusing with `code`.
pub fn refuse<T>(code: RefusalCode, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Refused(Refusal::new(code, message)))
}
