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
// The one list of them: GraphQL answers it as the enum `UserErrorCode`, the variants'
// doc comments its descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[graphql(name = "UserErrorCode")]
pub enum RefusalCode {
    /// The batch needs more credits than are available; the message says how many of each.
    InsufficientCredits,
    /// Premium's fair-use cap for this cycle is used up and nothing else is left.
    FairUseCapReached,
    /// No photo was selected.
    EmptyBatch,
    /// More distinct photos than `max_batch_photos`.
    BatchTooLarge,
    /// No such photo on the viewer's account.
    PhotoNotFound,
    /// No such background.
    BackgroundNotFound,
    /// No such logo on the viewer's account.
    LogoNotFound,
    /// Only a photo that shows an edit can be reported.
    PhotoNotEdited,
    /// The pack is not in the catalog of the account's plan.
    PackNotAvailable,
    /// The idempotency key was used with a different request.
    IdempotencyKeyReused,
    /// An input value breaks a rule; `field` names it.
    InvalidInput,
    /// No such account.
    AccountNotFound,
    /// The clock can only be set when the server runs with STUDIO_CLOCK=manual.
    ClockNotManual,
    /// The account's logo library already holds `max_logos` logos; nothing was added.
    /// `field` is null: the library is full, whatever the input.
    TooManyLogos,
    /// An account with this `externalId` exists with another plan or slot count;
    /// nothing changed.
    AccountExists,
    /// The update's `sequence` is not above the last one applied to the account;
    /// nothing changed.
    StaleUpdate,
    /// No such render job.
    JobNotFound,
    /// The job's lease ran out and another claimant holds it now; this result was
    /// not recorded.
    JobLeaseExpired,
    /// No such faulty report.
    ReportNotFound,
    /// The report was resolved another way before; nothing changed.
    ReportAlreadyResolved,
    /// The edit's credit went back before (a failed render or another report); an
    /// edit is refunded at most once, and nothing changed.
    AlreadyRefunded,
    /// No such invoice.
    InvoiceNotFound,
    /// Some of the pack's credits were spent (or have expired): the invoice cannot be
    /// voided; nothing changed.
    PackPartlyUsed,
    /// No such event for other systems.
    EventNotFound,
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
