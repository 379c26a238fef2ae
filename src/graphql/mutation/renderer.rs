//! The render service's mutations, for the RENDERER role only: claim jobs for a lease,
//! report each one's result (rules §1 "Renders").
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject};

use super::common::{UserError, settle};
use crate::error::{Error, Refusal, RefusalCode};
use crate::graphql::context::{acting_ledger, ids, renderer};
use crate::graphql::types::{Background, DateTime, Logo, LogoPosition, PhotoEdit};
use crate::ids::{IdCodec, Kind};
use crate::ledger::{Claim, ClaimedJob, RenderResult};

/// How many jobs to claim.
#[derive(InputObject)]
pub struct ClaimRenderJobsInput {
    /// 1 to 100.
    pub max: i32,
}

/// A rendered edit.
#[derive(InputObject)]
pub struct CompleteRenderInput {
    /// The job as `claimRenderJobs` answered it.
    pub job_id: ID,
    /// Where the rendered image is, an http(s) URL.
    pub image_url: String,
}

/// A render that failed.
#[derive(InputObject)]
pub struct FailRenderInput {
    /// The job as `claimRenderJobs` answered it.
    pub job_id: ID,
    /// Why it failed, 1 to 2,048 printable characters; shown to the dealer.
    pub reason: String,
}

/// An edit to render, leased to the claimant until `leaseExpiresAt`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RenderJob {
    /// This claim of the job: a result sent with it after the lease passed to another
    /// claimant is refused with JOB_LEASE_EXPIRED.
    pub id: ID,
    /// Until when the job is this claimant's; then it is offered again.
    pub lease_expires_at: DateTime,
    /// The edit to render.
    pub edit: PhotoEdit,
    /// The photo's original image.
    pub original_url: String,
    /// The logo to place; null when the edit has none.
    pub logo: Option<Logo>,
    /// Where the logo goes; null when the edit has none.
    pub logo_position: Option<LogoPosition>,
}

#[ComplexObject]
impl RenderJob {
    /// The background to put behind the photo.
    async fn background(&self, ctx: &Context<'_>) -> async_graphql::Result<Background> {
        self.edit.background(ctx).await
    }
}

impl RenderJob {
    fn new(ids: &IdCodec, job: ClaimedJob) -> Self {
        RenderJob {
            id: ID(ids.encode(Kind::RenderJob, format!("{}.{}", job.claim.job_id, job.claim.attempt))),
            lease_expires_at: job.lease_expires_at.into(),
            original_url: job.photo.original_url,
            logo: job.logo.map(|l| Logo::new(ids, l)),
            logo_position: job.edit.logo_position.map(LogoPosition::from),
            edit: PhotoEdit::new(ids, job.edit),
        }
    }
}

/// The claim a job id names; one that does not decode is refused like a missing job.
fn claim_of(ids: &IdCodec, id: &ID) -> Result<Claim, Error> {
    ids.decode(Kind::RenderJob, id)
        .and_then(|key| {
            let (job, attempt) = key.split_once('.')?;
            Some(Claim {
                job_id: job.parse().ok()?,
                attempt: attempt.parse().ok()?,
            })
        })
        .ok_or_else(|| {
            Refusal::new(RefusalCode::JobNotFound, "No such render job.")
                .at(&["jobId"])
                .into()
        })
}

/// The jobs claimed.
#[derive(SimpleObject)]
pub struct ClaimRenderJobsPayload {
    /// The jobs leased, oldest first; empty when none waits or when refused.
    pub jobs: Vec<RenderJob>,
    /// Why the claim was refused (INVALID_INPUT); empty when done.
    pub user_errors: Vec<UserError>,
}

/// The edit as a render result left it.
#[derive(SimpleObject)]
pub struct RenderResultPayload {
    /// The edit, READY or FAILED; the first result again for a result sent twice.
    pub edit: Option<PhotoEdit>,
    /// Why the result was refused (JOB_NOT_FOUND, JOB_LEASE_EXPIRED, INVALID_INPUT);
    /// empty when recorded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct RendererMutation;

#[Object]
impl RendererMutation {
    /// RENDERER only. Leases up to `max` waiting jobs, oldest first, for
    /// `render_lease_seconds`; no two claimants ever hold the same job.
    async fn claim_render_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many jobs to claim.")] input: ClaimRenderJobsInput,
    ) -> async_graphql::Result<ClaimRenderJobsPayload> {
        renderer(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        Ok(match settle(ctx, ledger.claim_render_jobs(input.max).await)? {
            Ok(jobs) => ClaimRenderJobsPayload {
                jobs: jobs.into_iter().map(|j| RenderJob::new(ids, j)).collect(),
                user_errors: vec![],
            },
            Err(refusal) => ClaimRenderJobsPayload {
                jobs: vec![],
                user_errors: vec![refusal],
            },
        })
    }

    /// RENDERER only. The edit is READY with the image; sent again, answers the first result.
    async fn complete_render(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job and its image.")] input: CompleteRenderInput,
    ) -> async_graphql::Result<RenderResultPayload> {
        let result = RenderResult::Ready {
            image_url: input.image_url,
        };
        finish(ctx, &input.job_id, result).await
    }

    /// RENDERER only. The edit is FAILED and its credit goes back to the lot that paid
    /// (once); sent again, answers the first result.
    async fn fail_render(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job and why it failed.")] input: FailRenderInput,
    ) -> async_graphql::Result<RenderResultPayload> {
        let result = RenderResult::Failed { reason: input.reason };
        finish(ctx, &input.job_id, result).await
    }
}

async fn finish(ctx: &Context<'_>, job_id: &ID, result: RenderResult) -> async_graphql::Result<RenderResultPayload> {
    renderer(ctx)?;
    let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
    let outcome = async { ledger.finish_render(claim_of(ids, job_id)?, &result).await }.await;
    Ok(match settle(ctx, outcome)? {
        Ok(edit) => RenderResultPayload {
            edit: Some(PhotoEdit::new(ids, edit)),
            user_errors: vec![],
        },
        Err(refusal) => RenderResultPayload {
            edit: None,
            user_errors: vec![refusal],
        },
    })
}
