//! What an apply would cost now, asked before "Apply changes" is pressed: the same
//! checks and the same plan as the apply, and nothing written.
use chrono::{DateTime, Utc};
use entity::enums::Bucket;
use entity::{account, lot, photo};
use sea_orm::ConnectionTrait;

use super::Ledger;
use super::apply::{LogoPlacement, plan_look};
use crate::db::retry_transient;
use crate::error::{Error, Refusal, RefusalCode, refuse};
use crate::rules::balance::breakdown;
use crate::rules::pricing::Look;

/// An apply to price: its batch and look, without an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub photo_ids: Vec<i64>,
    pub background_id: String,
    pub logo: Option<LogoPlacement>,
}

/// What an apply of a [`QuoteRequest`] would meet now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Credits usable now.
    pub available: i32,
    /// What the apply would charge, or the refusal it would meet.
    pub priced: Result<Priced, Refusal>,
}

/// What an apply that goes through would charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub credits: i32,
    /// Photos that already have the look, in the order of the batch: free.
    pub unchanged: Vec<photo::Model>,
    /// The credits each bucket would give, in spending order.
    pub drawn_from: Vec<(Bucket, i32)>,
}

impl Ledger {
    /// Prices `request` for the account as the apply would now; a request whose ids
    /// did not decode (an error of the caller's) is refused with that error, and the
    /// quote still shows what is available. When the clock has
    /// made an expiry, a reset or a promotion due that is not written yet, it is
    /// applied in a transaction that is rolled back: the quote sees what the apply
    /// would, and writes nothing.
    #[tracing::instrument(skip(self, request))]
    pub async fn quote_apply(&self, account_id: i64, request: Result<QuoteRequest, Error>) -> Result<Quote, Error> {
        let request = match request {
            Ok(request) => Ok(request),
            Err(Error::Refused(refusal)) => Err(refusal),
            Err(fault) => return Err(fault),
        };
        let Some(account) = self.account(account_id).await? else {
            return refuse(RefusalCode::AccountNotFound, "No such account.");
        };
        let now = self.now();
        let lots = self.lots_for_reads(account_id).await?;
        if !self.is_due(&account, &lots, now) {
            return self.quote_on(self.db(), &account, &lots, now, request.as_ref()).await;
        }
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (book, now) = self.open_book(&txn, account_id).await?;
            let quote = self
                .quote_on(&txn, &book.account, &book.lots, now, request.as_ref())
                .await;
            txn.rollback().await?;
            quote
        })
        .await
    }

    /// The quote of `request` for `account` holding the usable `lots` at `now`.
    async fn quote_on(
        &self,
        conn: &impl ConnectionTrait,
        account: &account::Model,
        lots: &[lot::Model],
        now: DateTime<Utc>,
        request: Result<&QuoteRequest, &Refusal>,
    ) -> Result<Quote, Error> {
        let available = breakdown(account, lots, &self.config, now).available;
        let request = match request {
            Ok(request) => request,
            Err(refusal) => {
                return Ok(Quote {
                    available,
                    priced: Err(refusal.clone()),
                });
            }
        };
        let priced = match self.price(conn, account, lots, request).await {
            Ok(priced) => Ok(priced),
            Err(Error::Refused(refusal)) => Err(refusal),
            Err(fault) => return Err(fault),
        };
        Ok(Quote { available, priced })
    }

    async fn price(
        &self,
        conn: &impl ConnectionTrait,
        account: &account::Model,
        lots: &[lot::Model],
        request: &QuoteRequest,
    ) -> Result<Priced, Error> {
        let batch = self.checked_batch(&request.photo_ids, &request.background_id)?;
        let wanted = Look {
            background_id: request.background_id.clone(),
            logo: request.logo.map(|l| (l.logo_id, l.position)),
        };
        let (plan, mut photos) = plan_look(conn, account, lots, &request.photo_ids, &batch, &wanted).await?;
        let mut drawn_from: Vec<(Bucket, i32)> = Vec::new();
        for (_, lot_id) in &plan.charged {
            let bucket = lots
                .iter()
                .find(|l| l.id == *lot_id)
                .map(|l| l.bucket)
                .ok_or_else(|| Error::Internal(format!("payer lot {lot_id} vanished")))?;
            // Payers come in spending order, which is by bucket first.
            match drawn_from.last_mut() {
                Some((last, credits)) if *last == bucket => *credits += 1,
                _ => drawn_from.push((bucket, 1)),
            }
        }
        Ok(Priced {
            credits: drawn_from.iter().map(|(_, credits)| credits).sum(),
            unchanged: plan
                .unchanged
                .iter()
                .filter_map(|id| photos.remove(id))
                .map(|(photo, _)| photo)
                .collect(),
            drawn_from,
        })
    }
}
