//! A dealer's account: its plan, and the lists it holds (photos, logos, ledger,
//! invoices), each a page read through the read side.
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::balance::{Balance, balance_of};
use super::billing::{Invoice, InvoiceConnection, InvoiceEdge, LedgerEntry, LedgerEntryConnection, LedgerEntryEdge};
use super::paging::{self, Page};
use super::photos::{Logo, Photo, PhotoConnection, PhotoEdge};
use crate::config::MAX_LOGOS_CEILING;
use crate::graphql::context::{ids, ledger, reads, store};
use crate::graphql::errors::OrInternal;
use crate::graphql::loaders::{prime_credit_notes, prime_current_edits, prime_invoice_lines};
use crate::ids::{IdCodec, Kind, List};
use crate::reads::AccountRow;
use crate::rules::entitlement::monthly_credits;

/// A subscription plan.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::PlanCode")]
pub enum PlanCode {
    /// No monthly credits: extra packs are the way in.
    Basic,
    /// Monthly credits per listing slot (`professional_credits_per_slot`, 5 unless
    /// configured).
    Professional,
    /// Monthly credits per listing slot (`professional_plus_credits_per_slot`, 10
    /// unless configured).
    ProfessionalPlus,
    /// Unlimited monthly credits under a fair-use cap per cycle (`fair_use_cap`).
    Premium,
}

/// A subscription plan as the account has it.
#[derive(SimpleObject, Debug, Clone)]
pub struct Plan {
    /// Which plan it is.
    pub code: PlanCode,
    /// The plan's display name, as configured.
    pub name: String,
    /// True for PREMIUM, whose monthly credits are unlimited under a fair-use cap;
    /// whether they are unlimited right now is `Balance.unlimited`.
    pub unlimited: bool,
    /// Monthly credits at the account's current slots; null when unlimited.
    pub monthly_credits: Option<i32>,
}

/// A dealer's account (see the GraphQL description on its resolvers).
pub struct Account {
    id: ID,
    model: AccountRow,
}

impl Account {
    pub fn new(ids: &IdCodec, model: AccountRow) -> Self {
        Account {
            id: ID(ids.encode(Kind::Account, model.id)),
            model,
        }
    }
}

/// A dealer's subscription: its plan, credits, photos, logos, history and invoices.
#[Object]
impl Account {
    /// The account's global id: opaque and signed, to pass back as it is.
    pub async fn id(&self) -> &ID {
        &self.id
    }

    /// The platform's own id of the account; null when it was created without one.
    async fn external_id(&self) -> Option<&str> {
        self.model.external_id.as_deref()
    }

    /// The dealer's display name, as the account was created with.
    async fn name(&self) -> &str {
        &self.model.name
    }

    /// The plan the account subscribes to now, and the monthly credits it includes.
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<Plan> {
        let config = ledger(ctx)?.config();
        let unlimited = PlanCode::from(self.model.plan) == PlanCode::Premium;
        Ok(Plan {
            code: self.model.plan.into(),
            name: config
                .plans
                .get(&self.model.plan)
                .map_or_else(|| format!("{:?}", self.model.plan), |p| p.name.clone()),
            unlimited,
            monthly_credits: (!unlimited).then(|| monthly_credits(config, self.model.plan, self.model.listing_slots)),
        })
    }

    /// The listing slots of the subscription: PROFESSIONAL_PLUS and PROFESSIONAL get
    /// their monthly credits per slot (`plan.monthlyCredits`).
    async fn listing_slots(&self) -> i32 {
        self.model.listing_slots
    }

    /// The account's credits now: the available total and its breakdown by bucket, as
    /// the `balanceChanged` subscription also sends it.
    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Balance> {
        balance_of(ctx, &self.model).await
    }

    /// The account's photos, oldest first (in the order they were registered), a page
    /// at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn photos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many photos, 0 to 100 (else BAD_USER_INPUT); 20 when not given.")] first: Option<i32>,
        #[graphql(
            desc = "The `endCursor` (or an edge's `cursor`) of a page of this account's photos: only the photos after it. A cursor of another list or of another account's list is refused with BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<PhotoConnection> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Photos, self.model.id, first, after.as_deref())?;
        let (rows, has_next, total) = reads(ctx)?
            .photos(self.model.id, page.window())
            .await
            .or_internal(ctx)?;
        let current_edit = ctx.look_ahead().field("edges").field("node").field("currentEdit");
        if current_edit.exists() {
            let with_logos = current_edit.field("logo").exists();
            prime_current_edits(store(ctx)?, &rows, with_logos)
                .await
                .or_internal(ctx)?;
        }
        Ok(PhotoConnection {
            page_info: page.info(ids, rows.iter().map(|p| p.id), has_next),
            edges: rows
                .into_iter()
                .map(|p| PhotoEdge {
                    cursor: page.cursor(ids, p.id),
                    node: Photo::new(ids, p),
                })
                .collect(),
            total_count: total,
        })
    }

    /// Oldest first; at most `max_logos` (50 unless configured, never more than 100).
    #[graphql(complexity = "MAX_LOGOS_CEILING.saturating_mul(child_complexity).saturating_add(1)")]
    async fn logos(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Logo>> {
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let max = u64::try_from(ledger.config().max_logos).unwrap_or(u64::MAX);
        let rows = reads(ctx)?.logos(self.model.id, max).await.or_internal(ctx)?;
        Ok(rows.into_iter().map(|l| Logo::new(ids, l)).collect())
    }

    /// Every movement of the account's credits (grants, charges, refunds, expiries,
    /// adjustments), newest first, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries, 0 to 100 (else BAD_USER_INPUT); 20 when not given.")] first: Option<i32>,
        #[graphql(
            desc = "The `endCursor` (or an edge's `cursor`) of a page of this account's ledger: only the entries older than it. A cursor of another list or of another account's list is refused with BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<LedgerEntryConnection> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Ledger, self.model.id, first, after.as_deref())?;
        let (rows, has_next) = reads(ctx)?
            .ledger(self.model.id, page.window())
            .await
            .or_internal(ctx)?;
        Ok(LedgerEntryConnection {
            page_info: page.info(ids, rows.iter().map(|e| e.id), has_next),
            edges: rows
                .into_iter()
                .map(|e| LedgerEntryEdge {
                    cursor: page.cursor(ids, e.id),
                    node: LedgerEntry::new(ids, e),
                })
                .collect(),
        })
    }

    /// The account's invoices, one per pack purchase, newest first, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many invoices, 0 to 100 (else BAD_USER_INPUT); 20 when not given.")] first: Option<i32>,
        #[graphql(
            desc = "The `endCursor` (or an edge's `cursor`) of a page of this account's invoices: only the invoices older than it. A cursor of another list or of another account's list is refused with BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<InvoiceConnection> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Invoices, self.model.id, first, after.as_deref())?;
        let (rows, has_next) = reads(ctx)?
            .invoices(self.model.id, page.window())
            .await
            .or_internal(ctx)?;
        let node = ctx.look_ahead().field("edges").field("node");
        let invoice_ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
        if node.field("lines").exists() {
            prime_invoice_lines(store(ctx)?, &invoice_ids).await.or_internal(ctx)?;
        }
        if node.field("creditNote").exists() {
            prime_credit_notes(store(ctx)?, &invoice_ids).await.or_internal(ctx)?;
        }
        Ok(InvoiceConnection {
            page_info: page.info(ids, rows.iter().map(|i| i.id), has_next),
            edges: rows
                .into_iter()
                .map(|i| InvoiceEdge {
                    cursor: page.cursor(ids, i.id),
                    node: Invoice::new(ids, i),
                })
                .collect(),
        })
    }
}
