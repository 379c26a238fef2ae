//! The back office's mutations, for OPS users only: accounts, their subscription and
//! photos, and the manual clock.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::common::{InputId, UserError, settle};
use crate::graphql::context::{ids, ledger, ops};
use crate::graphql::types::{Account, DateTime, Photo, PlanCode};
use crate::ids::IdCodec;
use crate::reads::AccountRow;

#[derive(InputObject)]
pub struct CreateAccountInput {
    pub name: String,
    pub plan: PlanCode,
    pub listing_slots: i32,
}

#[derive(InputObject)]
pub struct UpdateSubscriptionInput {
    pub account_id: ID,
    pub plan: PlanCode,
    pub listing_slots: i32,
}

#[derive(SimpleObject)]
pub struct AccountPayload {
    pub account: Option<Account>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct PhotoRegistration {
    pub listing_ref: String,
    pub original_url: String,
}

#[derive(InputObject)]
pub struct RegisterPhotosInput {
    pub account_id: ID,
    pub photos: Vec<PhotoRegistration>,
}

#[derive(SimpleObject)]
pub struct RegisterPhotosPayload {
    pub photos: Vec<Photo>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct SetClockInput {
    pub now: DateTime,
}

#[derive(SimpleObject)]
pub struct SetClockPayload {
    pub now: Option<DateTime>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct OpsMutation;

#[Object]
impl OpsMutation {
    /// OPS only.
    async fn create_account(
        &self,
        ctx: &Context<'_>,
        input: CreateAccountInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = ledger
            .create_account(&input.name, input.plan.into(), input.listing_slots)
            .await;
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn update_subscription(
        &self,
        ctx: &Context<'_>,
        input: UpdateSubscriptionInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let account_id = InputId::ACCOUNT.key(ids, &input.account_id, &["accountId"])?;
            ledger
                .update_subscription(account_id, input.plan.into(), input.listing_slots)
                .await
        }
        .await;
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn register_photos(
        &self,
        ctx: &Context<'_>,
        input: RegisterPhotosInput,
    ) -> async_graphql::Result<RegisterPhotosPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let registrations: Vec<(String, String)> = input
            .photos
            .into_iter()
            .map(|p| (p.listing_ref, p.original_url))
            .collect();
        let outcome = async {
            let account_id = InputId::ACCOUNT.key(ids, &input.account_id, &["accountId"])?;
            ledger.register_photos(account_id, &registrations).await
        }
        .await;
        Ok(match settle(ctx, outcome)? {
            Ok(photos) => RegisterPhotosPayload {
                photos: photos.into_iter().map(|p| Photo::new(ids, p)).collect(),
                user_errors: vec![],
            },
            Err(refusal) => RegisterPhotosPayload {
                photos: vec![],
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only; refused with CLOCK_NOT_MANUAL unless the server runs with STUDIO_CLOCK=manual.
    async fn set_clock(&self, ctx: &Context<'_>, input: SetClockInput) -> async_graphql::Result<SetClockPayload> {
        ops(ctx)?;
        let outcome = ledger(ctx)?.set_clock(input.now.0).await;
        Ok(match settle(ctx, outcome)? {
            Ok(now) => SetClockPayload {
                now: Some(now.into()),
                user_errors: vec![],
            },
            Err(refusal) => SetClockPayload {
                now: None,
                user_errors: vec![refusal],
            },
        })
    }
}

fn account_payload(ids: &IdCodec, outcome: Result<AccountRow, UserError>) -> AccountPayload {
    match outcome {
        Ok(account) => AccountPayload {
            account: Some(Account::new(ids, account)),
            user_errors: vec![],
        },
        Err(refusal) => AccountPayload {
            account: None,
            user_errors: vec![refusal],
        },
    }
}
