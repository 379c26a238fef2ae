//! The one clock of the service. Every rule reads the time from here, so a manual clock
//! moves expiry and resets exactly as real time would.
use std::sync::{Arc, RwLock};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::config::ClockMode;

/// The service's time source; cheap to clone.
#[derive(Clone, Debug)]
pub struct Clock {
    manual: Option<Arc<RwLock<DateTime<Utc>>>>,
}

impl Clock {
    /// A clock of `mode`; a manual clock starts at the real time.
    pub fn new(mode: ClockMode) -> Self {
        match mode {
            ClockMode::System => Clock { manual: None },
            ClockMode::Manual => Self::manual_at(Utc::now()),
        }
    }

    /// A manual clock standing at `now`.
    pub fn manual_at(now: DateTime<Utc>) -> Self {
        Clock {
            manual: Some(Arc::new(RwLock::new(truncate(now)))),
        }
    }

    /// Now, to the microsecond: both databases store instants at that precision.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => truncate(Utc::now()),
            Some(now) => *now.read().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Moves a manual clock forward to `to`. Refused for a system clock and for a move
    /// back in time, which would replay expiries and resets out of order.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let manual = self.manual.as_ref().ok_or(ClockError::NotManual)?;
        let mut now = manual.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let to = truncate(to);
        if to < *now {
            return Err(ClockError::Backwards { now: *now });
        }
        *now = to;
        Ok(to)
    }
}

/// Why the clock cannot be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the clock is not manual: start the service with STUDIO_CLOCK=manual")]
    NotManual,
    #[error("the clock only moves forward; it stands at {now}")]
    Backwards { now: DateTime<Utc> },
}

fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
