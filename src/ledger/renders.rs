//! The render queue (rules §1 "Renders"): a job per charged edit, claimed for a lease
//! by one claimant at a time, finished once. A failed render, and one the clock gives
//! up on, gives the edit's credit back to the lot that paid, at most once per edit.
use chrono::{DateTime, Utc};
use entity::enums::{EditStatus, EntryKind};
use entity::{edit, logo, lot, photo, render_job};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::Ledger;
use super::book::{Book, Entry};
use super::cause::Cause;
use super::corrections::was_corrected;
use crate::db::{self, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::text::{required_text, url};

/// The most jobs one claim may take.
pub const MAX_CLAIM: i32 = 100;

/// The reason a render the clock gave up on fails with.
pub const TIMED_OUT: &str = "timed out";

/// A claim of a job: the job and which of its claims, so that a result sent under a
/// claim whose lease passed on is told so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub job_id: i64,
    pub attempt: i32,
}

/// A job as its claimant gets it: what to render.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub claim: Claim,
    pub lease_expires_at: DateTime<Utc>,
    pub edit: edit::Model,
    pub photo: photo::Model,
    pub logo: Option<logo::Model>,
}

/// What a render service reports of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderResult {
    Ready { image_url: String },
    Failed { reason: String },
}

impl Ledger {
    /// Leases up to `max` waiting jobs (never finished, never claimed or with their
    /// lease run out), oldest first, for `render_lease_seconds`. Two claimants never
    /// get the same job: PostgreSQL skips rows another claim has locked, and SQLite
    /// has one writer at a time.
    #[tracing::instrument(skip(self))]
    pub async fn claim_render_jobs(&self, max: i32) -> Result<Vec<ClaimedJob>, Error> {
        if !(1..=MAX_CLAIM).contains(&max) {
            return Err(Refusal::new(
                RefusalCode::InvalidInput,
                format!("max must be 1 to {MAX_CLAIM}, not {max}."),
            )
            .at(&["max"])
            .into());
        }
        retry_transient(|| async {
            let txn = self.begin().await?;
            let now = self.now();
            let lease_ends = now + self.config.render_lease();
            let mut waiting = render_job::Entity::find()
                .filter(render_job::Column::FinishedAt.is_null())
                .filter(
                    render_job::Column::LeaseExpiresAt
                        .is_null()
                        .or(render_job::Column::LeaseExpiresAt.lte(now)),
                )
                // A job the clock is about to give up on is not offered again.
                .filter(render_job::Column::CreatedAt.gt(now - self.config.render_give_up()))
                .order_by_asc(render_job::Column::Id)
                .limit(u64::try_from(max).unwrap_or(1));
            if txn.get_database_backend() == DbBackend::Postgres {
                waiting = waiting.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            }
            let jobs = waiting.all(&txn).await?;
            if jobs.is_empty() {
                txn.commit().await?;
                return Ok(Vec::new());
            }
            let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
            render_job::Entity::update_many()
                .col_expr(
                    render_job::Column::Attempt,
                    Expr::col(render_job::Column::Attempt).add(1),
                )
                .col_expr(render_job::Column::LeaseExpiresAt, Expr::value(lease_ends))
                .filter(render_job::Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
            let mut claimed = Vec::with_capacity(jobs.len());
            for job in &jobs {
                let (edit, photo, logo) = what_to_render(&txn, job.edit_id).await?;
                claimed.push(ClaimedJob {
                    claim: Claim {
                        job_id: job.id,
                        attempt: job.attempt + 1,
                    },
                    lease_expires_at: lease_ends,
                    edit,
                    photo,
                    logo,
                });
            }
            txn.commit().await?;
            self.metrics.render_jobs_leased(claimed.len());
            Ok(claimed)
        })
        .await
    }

    /// Records the result of a claimed job: `READY` with the image, or `FAILED` with
    /// the reason and the credit given back. A result for a finished job answers the
    /// edit as it is and changes nothing; one sent under a claim whose lease passed to
    /// another claimant is refused with `JOB_LEASE_EXPIRED`. A `READY` result for an
    /// edit the correction team corrected meanwhile finishes the job and keeps their image.
    #[tracing::instrument(skip(self, result))]
    pub async fn finish_render(&self, claim: Claim, result: &RenderResult) -> Result<edit::Model, Error> {
        let result = match result {
            RenderResult::Ready { image_url } => RenderResult::Ready {
                image_url: url(image_url, &["imageUrl"])?,
            },
            RenderResult::Failed { reason } => RenderResult::Failed {
                reason: required_text(reason, &["reason"])?,
            },
        };
        let not_found = || Refusal::new(RefusalCode::JobNotFound, "No such render job.").at(&["jobId"]);
        // The account first, then the job: the order every writer locks them in.
        let Some(job) = db::by_key(render_job::Entity::find_by_id(claim.job_id), &self.db).await? else {
            return Err(not_found().into());
        };
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, job.account_id).await?;
            let job = db::by_key(render_job::Entity::find_by_id(claim.job_id).lock_exclusive(), &txn)
                .await?
                .ok_or_else(not_found)?;
            let edit = db::by_key(edit::Entity::find_by_id(job.edit_id), &txn)
                .await?
                .ok_or_else(|| Error::Internal(format!("render job {} names no edit", job.id)))?;
            if claim.attempt != job.attempt || claim.attempt == 0 {
                return Err(Refusal::new(
                    RefusalCode::JobLeaseExpired,
                    "The lease of this job ran out and it was claimed again; this result was not recorded.",
                )
                .at(&["jobId"])
                .into());
            }
            if job.finished_at.is_some() {
                // The first result stands, and the catch-up above may have written
                // nothing that needs the commit.
                self.commit(txn, &mut book).await?;
                return Ok(edit);
            }
            let edit = match &result {
                // The correction team's image stays: the render is only recorded as
                // finished.
                RenderResult::Ready { .. } if was_corrected(&txn, edit.id).await? => edit,
                RenderResult::Ready { image_url } => {
                    let mut ready = edit.into_active_model();
                    ready.status = Set(EditStatus::Ready);
                    ready.image_url = Set(Some(image_url.clone()));
                    ready.revision = Set(book.edit_revision(&txn).await?);
                    ready.update(&txn).await?
                }
                RenderResult::Failed { reason } => {
                    self.fail_edit(&txn, &mut book, edit, reason, Cause::Refund(job.edit_id), now)
                        .await?
                }
            };
            finish_job(&txn, job.id, edit.status, now).await?;
            book.renders_finished
                .push((outcome_label(edit.status), now - job.created_at));
            self.commit(txn, &mut book).await?;
            Ok(edit)
        })
        .await
    }

    /// Marks `edit` `FAILED` with `reason` and gives its credit back at `at`.
    pub(super) async fn fail_edit(
        &self,
        txn: &impl ConnectionTrait,
        book: &mut Book,
        edit: edit::Model,
        reason: &str,
        cause: Cause,
        at: DateTime<Utc>,
    ) -> Result<edit::Model, Error> {
        let refunded = self.refund(txn, book, &edit, cause, at).await?;
        let mut failed = edit.into_active_model();
        failed.status = Set(EditStatus::Failed);
        failed.failure_reason = Set(Some(reason.to_owned()));
        if refunded {
            failed.refunded_at = Set(Some(at));
        }
        failed.revision = Set(book.edit_revision(txn).await?);
        Ok(failed.update(txn).await?)
    }

    /// Gives the credit of `edit` back to the lot that paid, unless it went back
    /// before; whether it did now. A lot that has expired meanwhile takes the refund
    /// and expires it at the same instant.
    pub(super) async fn refund(
        &self,
        txn: &impl ConnectionTrait,
        book: &mut Book,
        edit: &edit::Model,
        cause: Cause,
        at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        if edit.refunded_at.is_some() {
            return Ok(false);
        }
        let description = match cause {
            Cause::GiveUp(_) => "Refund: a render timed out",
            Cause::Report(_) => "Refund: a faulty photo",
            _ => "Refund: a render failed",
        };
        let refund = Entry {
            kind: EntryKind::Refund,
            amount: edit.credits_charged,
            at,
            cause,
            description: description.to_owned(),
        };
        if book.lot(edit.lot_id).is_some() {
            book.post(txn, edit.lot_id, refund).await?;
        } else {
            let paid = db::by_key(lot::Entity::find_by_id(edit.lot_id), txn)
                .await?
                .ok_or_else(|| Error::Internal(format!("edit {} names no lot", edit.id)))?;
            book.refund_to_expired(txn, &paid, refund).await?;
        }
        Ok(true)
    }

    /// The unfinished jobs of `accounts` that the clock gives up on by `now`, oldest
    /// first: one statement for any number of accounts.
    pub(super) async fn overdue_jobs(
        &self,
        txn: &impl ConnectionTrait,
        accounts: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<render_job::Model>, Error> {
        Ok(render_job::Entity::find()
            .filter(render_job::Column::AccountId.is_in(accounts.iter().copied()))
            .filter(self.overdue(now))
            .order_by_asc(render_job::Column::CreatedAt)
            .order_by_asc(render_job::Column::Id)
            .all(txn)
            .await?)
    }

    /// Gives up on `job` at `at`: its edit fails "timed out" and its credit goes back.
    pub(super) async fn give_up(
        &self,
        txn: &impl ConnectionTrait,
        book: &mut Book,
        job: &render_job::Model,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let edit = db::by_key(edit::Entity::find_by_id(job.edit_id), txn)
            .await?
            .ok_or_else(|| Error::Internal(format!("render job {} names no edit", job.id)))?;
        self.fail_edit(txn, book, edit, TIMED_OUT, Cause::GiveUp(job.edit_id), at)
            .await?;
        finish_job(txn, job.id, EditStatus::Failed, at).await?;
        book.renders_finished.push(("timed_out", at - job.created_at));
        Ok(())
    }

    /// The accounts with a job the clock must give up on by `now`.
    pub(super) async fn accounts_with_overdue_jobs(&self, now: DateTime<Utc>) -> Result<Vec<i64>, Error> {
        Ok(render_job::Entity::find()
            .select_only()
            .column(render_job::Column::AccountId)
            .distinct()
            .filter(self.overdue(now))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?)
    }

    /// The jobs the clock gives up on by `now`: unfinished, and queued longer than
    /// `render_give_up` before it.
    fn overdue(&self, now: DateTime<Utc>) -> Condition {
        Condition::all()
            .add(render_job::Column::FinishedAt.is_null())
            .add(render_job::Column::CreatedAt.lte(now - self.config.render_give_up()))
    }
}

/// How a finished render is counted.
fn outcome_label(status: EditStatus) -> &'static str {
    match status {
        EditStatus::Ready => "ready",
        EditStatus::Failed | EditStatus::Rendering => "failed",
    }
}

/// Queues the render of a charged edit, in the apply's transaction.
pub(super) async fn queue(txn: &impl ConnectionTrait, book: &mut Book, edit: &edit::Model) -> Result<(), Error> {
    render_job::ActiveModel {
        edit_id: Set(edit.id),
        account_id: Set(edit.account_id),
        created_at: Set(edit.applied_at),
        attempt: Set(0),
        lease_expires_at: Set(None),
        finished_at: Set(None),
        outcome: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    book.renders_queued += 1;
    Ok(())
}

async fn finish_job(
    txn: &impl ConnectionTrait,
    job_id: i64,
    outcome: EditStatus,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    render_job::Entity::update_many()
        .col_expr(render_job::Column::FinishedAt, Expr::value(at))
        .col_expr(render_job::Column::Outcome, Expr::value(outcome))
        .filter(render_job::Column::Id.eq(job_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The edit of a job, its photo and its logo.
async fn what_to_render(
    txn: &impl ConnectionTrait,
    edit_id: i64,
) -> Result<(edit::Model, photo::Model, Option<logo::Model>), Error> {
    let edit = db::by_key(edit::Entity::find_by_id(edit_id), txn)
        .await?
        .ok_or_else(|| Error::Internal(format!("render job names no edit {edit_id}")))?;
    let photo = db::by_key(photo::Entity::find_by_id(edit.photo_id), txn)
        .await?
        .ok_or_else(|| Error::Internal(format!("edit {edit_id} names no photo")))?;
    let logo = match edit.logo_id {
        Some(id) => db::by_key(logo::Entity::find_by_id(id), txn).await?,
        None => None,
    };
    Ok((edit, photo, logo))
}
