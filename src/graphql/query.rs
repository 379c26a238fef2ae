//! What clients read: the viewer and their account, the pack catalog, backgrounds, any
//! node by id, and (OPS) any account, the correction team's queue of reports and the
//! events for other systems.
use super::context::{account_user, ids, ledger, may_see, ops, reads, viewer};
use super::errors::OrInternal;
use super::quote::{QuoteApplyInput, QuoteApplyPayload, quote_apply};
use super::types::paging::{self, Page};
use super::types::{
    Account, Background, CreditPack, FaultyReport, FaultyReportConnection, FaultyReportEdge, Node, ReportStatus,
    WebhookEvent, WebhookEventConnection, WebhookEventEdge, WebhookStatus,
};
use crate::auth::Role;
use crate::ids::{IdCodec, Kind, List};
use crate::rules::catalog::{packs_for, smallest_first};
use async_graphql::{Context, ID, Object};

/// What clients read.
pub struct Query;

/// The signed-in user.
pub struct Viewer {
    inner: crate::auth::Viewer,
}

/// The signed-in user and the account they act for.
#[Object(name = "Viewer")]
impl Viewer {
    /// The user's id at the platform's identity provider (the token's `sub`).
    async fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    /// What the user may do: MEMBER acts for one account, OPS for the back office,
    /// RENDERER is the render service.
    async fn role(&self) -> Role {
        self.inner.role
    }

    /// Null for an OPS user without an account; FORBIDDEN for RENDERER.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Account>> {
        let Some(account_id) = account_user(ctx)?.account_id else {
            return Ok(None);
        };
        let account = ledger(ctx)?.account(account_id).await.or_internal(ctx)?;
        let ids = ids(ctx)?;
        Ok(account.map(|a| Account::new(ids, a)))
    }
}

/// What clients read.
#[Object]
impl Query {
    /// The signed-in user and their account. Requires a token.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        Ok(Viewer {
            inner: viewer(ctx)?.clone(),
        })
    }

    /// The packs the viewer's plan can buy, smallest first.
    async fn pack_catalog(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CreditPack>> {
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let config = ledger.config();
        let plan = match viewer(ctx)?.account_id {
            Some(id) => ledger.account(id).await.or_internal(ctx)?.map(|a| a.plan),
            None => None,
        };
        let packs: Vec<CreditPack> = match plan {
            Some(plan) => packs_for(&config.packs, plan)
                .map(|p| CreditPack::new(ids, config, p))
                .collect(),
            None => smallest_first(config.packs.iter())
                .map(|p| CreditPack::new(ids, config, p))
                .collect(),
        };
        Ok(packs)
    }

    /// Backgrounds the studio offers.
    async fn backgrounds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Background>> {
        let ids = ids(ctx)?;
        Ok(ledger(ctx)?
            .config()
            .backgrounds
            .iter()
            .map(|b| Background::configured(ids, b))
            .collect())
    }

    /// Any node the caller may see; null for ids of other accounts.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id as the API returns it.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let ids = ids(ctx)?;
        let Some((kind, key)) = ids.decode_any(&id) else {
            return Ok(None);
        };
        let config = ledger(ctx)?.config();
        match kind {
            Kind::Background => Ok(config
                .backgrounds
                .iter()
                .find(|b| b.id == key)
                .map(|b| Node::Background(Background::configured(ids, b)))),
            Kind::CreditPack => Ok(config
                .packs
                .iter()
                .find(|p| p.id == key)
                .map(|p| Node::CreditPack(CreditPack::new(ids, config, p)))),
            _ => match key.parse::<i64>() {
                Ok(key) => stored_node(ctx, ids, kind, key).await,
                Err(_) => Ok(None),
            },
        }
    }

    /// What "Apply changes" of this input would charge the viewer's account now: the
    /// credits, the photos that already have the look, the credits each bucket would
    /// give, what is available, and the refusal the apply would meet. Charges and
    /// writes nothing. For the viewer's own account: another account's photo or logo
    /// reads as not found, as in applyChanges.
    async fn quote_apply(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The photos and the look, as applyChanges takes them.")] input: QuoteApplyInput,
    ) -> async_graphql::Result<QuoteApplyPayload> {
        quote_apply(ctx, input).await
    }

    /// OPS only. The correction team's queue: every account's reports, oldest first, a
    /// page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn faulty_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the reports of this status (OPEN: the queue); every report when not given.")]
        status: Option<ReportStatus>,
        #[graphql(desc = "How many reports, 0 to 100 (else BAD_USER_INPUT); 20 when not given.")] first: Option<i32>,
        #[graphql(
            desc = "The `endCursor` (or an edge's `cursor`) of a page of this queue: only the reports after it. A cursor of another list is refused with BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<FaultyReportConnection> {
        ops(ctx)?;
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::ReportQueue, 0, first, after.as_deref())?;
        let (rows, has_next) = reads(ctx)?
            .report_queue(status.map(Into::into), page.window())
            .await
            .or_internal(ctx)?;
        Ok(FaultyReportConnection {
            page_info: page.info(ids, rows.iter().map(|r| r.id), has_next),
            edges: rows
                .into_iter()
                .map(|r| FaultyReportEdge {
                    cursor: page.cursor(ids, r.id),
                    node: FaultyReport::new(ids, r),
                })
                .collect(),
        })
    }

    /// OPS only.
    async fn account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Account>> {
        ops(ctx)?;
        let ids = ids(ctx)?;
        let Some(account_id) = ids.decode_i64(Kind::Account, &id) else {
            return Ok(None);
        };
        let account = ledger(ctx)?.account(account_id).await.or_internal(ctx)?;
        Ok(account.map(|a| Account::new(ids, a)))
    }

    /// OPS only: events for other systems, newest first.
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the events of this status; all when null.")] status: Option<WebhookStatus>,
        #[graphql(desc = "How many events, 0 to 100 (20 when null).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> async_graphql::Result<WebhookEventConnection> {
        ops(ctx)?;
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::WebhookEvents, 0, first, after.as_deref())?;
        let (rows, has_next) = reads(ctx)?
            .webhook_events(status.map(WebhookStatus::stored), page.window())
            .await
            .or_internal(ctx)?;
        Ok(WebhookEventConnection {
            page_info: page.info(ids, rows.iter().map(|e| e.id), has_next),
            edges: rows
                .into_iter()
                .map(|e| WebhookEventEdge {
                    cursor: page.cursor(ids, e.id),
                    node: WebhookEvent::new(ids, e),
                })
                .collect(),
        })
    }

    /// OPS only.
    async fn account_by_external_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The platform's own id of the account.")] external_id: String,
    ) -> async_graphql::Result<Option<Account>> {
        ops(ctx)?;
        let ids = ids(ctx)?;
        let account = ledger(ctx)?
            .account_by_external_id(&external_id)
            .await
            .or_internal(ctx)?;
        Ok(account.map(|a| Account::new(ids, a)))
    }
}

/// The stored record of `kind` and `key`, if the viewer may see its account.
async fn stored_node(ctx: &Context<'_>, ids: &IdCodec, kind: Kind, key: i64) -> async_graphql::Result<Option<Node>> {
    let viewer = account_user(ctx)?;
    let stored = reads(ctx)?.node(kind, key).await.or_internal(ctx)?;
    Ok(stored
        .filter(|s| may_see(viewer, s.account_id()))
        .map(|s| Node::stored(ids, s)))
}
