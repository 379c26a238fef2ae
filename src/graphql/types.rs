//! The schema's object types: thin wrappers over stored rows and the balance rules,
//! each resolving nested records through the request's loaders.
use super::context::{ids, ledger, reads, store};
use super::errors::OrInternal;
use super::loaders::{
    BackgroundKey, EditKey, EditsOfPhoto, LinesOfInvoice, LogoKey, PhotoKey, ReportsOfPhoto, prime_current_edits,
    prime_invoice_lines,
};
use super::pages::{self, Page};
use crate::config::{Config, MAX_LOGOS_CEILING, PackSettings};
use crate::ids::{IdCodec, Kind, List};
use crate::reads::{
    AccountRow, BackgroundRow, EditRow, InvoiceLineRow, InvoiceRow, LedgerEntryRow, LogoRow, LotRow, PhotoRow,
    ReportRow, Stored,
};
use crate::rules::balance::{Breakdown, PromotionPart};
use crate::rules::entitlement::monthly_credits;
use async_graphql::{ComplexObject, Context, Enum, ID, Object, Scalar, ScalarType, SimpleObject};
use chrono::{SecondsFormat, Utc};

/// RFC 3339 instant, always rendered in UTC, e.g. 2026-11-24T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| async_graphql::InputValueError::custom("expected an RFC 3339 instant")),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

/// A subscription plan.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::PlanCode")]
pub enum PlanCode {
    Basic,
    Professional,
    ProfessionalPlus,
    Premium,
}

/// The three kinds of credit lots, in the order credits are spent.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::Bucket")]
pub enum CreditBucket {
    LaunchPromotion,
    Monthly,
    Purchased,
}

/// What a ledger entry did to its lot.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::EntryKind")]
pub enum LedgerEntryKind {
    Grant,
    Charge,
    Refund,
    Expiry,
    Adjustment,
}

/// Where a logo sits on a photo.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::LogoPosition")]
pub enum LogoPosition {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// An amount of money in the smallest unit of its currency.
#[derive(SimpleObject, Debug, Clone)]
pub struct Money {
    pub amount_cents: i64,
    pub currency: String,
}

/// A subscription plan as the account has it.
#[derive(SimpleObject, Debug, Clone)]
pub struct Plan {
    pub code: PlanCode,
    pub name: String,
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
    async fn id(&self) -> &ID {
        &self.id
    }

    async fn name(&self) -> &str {
        &self.model.name
    }

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

    async fn listing_slots(&self) -> i32 {
        self.model.listing_slots
    }

    async fn balance(&self, ctx: &Context<'_>) -> async_graphql::Result<Balance> {
        balance_of(ctx, &self.model).await
    }

    #[graphql(complexity = "pages::cost(first, child_complexity)")]
    async fn photos(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
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

    /// Newest first.
    #[graphql(complexity = "pages::cost(first, child_complexity)")]
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
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

    /// Newest first.
    #[graphql(complexity = "pages::cost(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<InvoiceConnection> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Invoices, self.model.id, first, after.as_deref())?;
        let (rows, has_next) = reads(ctx)?
            .invoices(self.model.id, page.window())
            .await
            .or_internal(ctx)?;
        if ctx.look_ahead().field("edges").field("node").field("lines").exists() {
            let invoice_ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
            prime_invoice_lines(store(ctx)?, &invoice_ids).await.or_internal(ctx)?;
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

/// The balance of `account` now.
pub async fn balance_of(ctx: &Context<'_>, account: &AccountRow) -> async_graphql::Result<Balance> {
    let ledger = ledger(ctx)?;
    let breakdown = ledger.balance(account).await.or_internal(ctx)?;
    Ok(Balance::new(ids(ctx)?, ledger.config(), breakdown))
}

/// An account's credits: the available total and its breakdown by bucket.
#[derive(SimpleObject, Debug, Clone)]
pub struct Balance {
    /// Credits usable now: the sum of the remaining credits of all unexpired lots.
    pub available: i32,
    /// True for premium while it has used less than its fair-use cap this cycle and
    /// has monthly credits left.
    pub unlimited: bool,
    /// Null when the account has no unexpired promotion lot; else the one that expires
    /// first (the first to be spent).
    pub launch_promotion: Option<PromotionBalance>,
    /// Every unexpired promotion lot, one per campaign, the one that expires first
    /// first: the order they are spent in.
    pub promotions: Vec<PromotionBalance>,
    pub monthly: MonthlyBalance,
    pub purchased: PurchasedBalance,
    /// Premium only.
    pub fair_use: Option<FairUse>,
    /// The earliest upcoming expiry of remaining credits; null when nothing remains.
    pub next_expiry: Option<CreditExpiry>,
    pub as_of: DateTime,
}

impl Balance {
    pub fn new(ids: &IdCodec, config: &Config, b: Breakdown) -> Self {
        Balance {
            available: b.available,
            unlimited: b.unlimited,
            launch_promotion: b.launch_promotion.map(PromotionBalance::from),
            promotions: b.promotions.into_iter().map(PromotionBalance::from).collect(),
            monthly: MonthlyBalance {
                granted: b.monthly.granted,
                used: b.monthly.used,
                remaining: b.monthly.remaining,
                cycle_start: b.monthly.cycle_start.into(),
                resets_at: b.monthly.resets_at.into(),
            },
            purchased: PurchasedBalance {
                remaining: b.purchased_remaining,
                lots: b
                    .purchased
                    .into_iter()
                    .map(|l| PurchasedLot::new(ids, config, l))
                    .collect(),
            },
            fair_use: b.fair_use.map(|f| FairUse {
                used: f.used,
                cap: f.cap,
            }),
            next_expiry: b.next_expiry.map(|n| CreditExpiry {
                credits: n.credits,
                at: n.at.into(),
                bucket: n.bucket.into(),
            }),
            as_of: b.as_of.into(),
        }
    }
}

/// The lot of one promotion campaign.
#[derive(SimpleObject, Debug, Clone)]
pub struct PromotionBalance {
    /// The campaign's id, e.g. `launch`.
    pub campaign: String,
    /// Credits the campaign granted this account (top-ups within the window included).
    pub granted: i32,
    /// Credits left to spend until `expiresAt`.
    pub remaining: i32,
    /// The campaign's start (UTC), not the account's join date: the window is the
    /// campaign's.
    pub starts_at: DateTime,
    /// The campaign's end (UTC, exclusive): the lot expires then, whatever the join date.
    pub expires_at: DateTime,
}

impl From<PromotionPart> for PromotionBalance {
    fn from(p: PromotionPart) -> Self {
        PromotionBalance {
            campaign: p.campaign,
            granted: p.granted,
            remaining: p.remaining,
            starts_at: p.starts_at.into(),
            expires_at: p.expires_at.into(),
        }
    }
}

/// The current cycle's monthly credits.
#[derive(SimpleObject, Debug, Clone)]
pub struct MonthlyBalance {
    pub granted: i32,
    pub used: i32,
    pub remaining: i32,
    pub cycle_start: DateTime,
    pub resets_at: DateTime,
}

/// Purchased credits, lot by lot in spending order.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedBalance {
    pub remaining: i32,
    pub lots: Vec<PurchasedLot>,
}

/// The lot one pack purchase granted.
#[derive(SimpleObject, Debug, Clone)]
pub struct PurchasedLot {
    pub id: ID,
    pub granted: i32,
    pub remaining: i32,
    pub purchased_at: DateTime,
    pub expires_at: DateTime,
    pub pack: Option<CreditPack>,
}

impl PurchasedLot {
    pub fn new(ids: &IdCodec, config: &Config, lot: LotRow) -> Self {
        PurchasedLot {
            id: ID(ids.encode(Kind::PurchasedLot, lot.id)),
            granted: lot.granted,
            remaining: lot.remaining,
            purchased_at: lot.valid_from.into(),
            expires_at: lot.expires_at.into(),
            pack: lot
                .pack_id
                .as_deref()
                .and_then(|id| config.packs.iter().find(|p| p.id == id))
                .map(|p| CreditPack::new(ids, config, p)),
        }
    }
}

/// Premium's use of its fair-use cap in the current cycle.
#[derive(SimpleObject, Debug, Clone)]
pub struct FairUse {
    pub used: i32,
    pub cap: i32,
}

/// The next credits to expire.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditExpiry {
    pub credits: i32,
    pub at: DateTime,
    pub bucket: CreditBucket,
}

/// An extra pack of credits, at its final price.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreditPack {
    pub id: ID,
    pub name: String,
    pub credits: i32,
    pub price: Money,
    pub discount_percent: i32,
}

impl CreditPack {
    pub fn new(ids: &IdCodec, config: &Config, pack: &PackSettings) -> Self {
        CreditPack {
            id: ID(ids.encode(Kind::CreditPack, &pack.id)),
            name: pack.name.clone(),
            credits: pack.credits,
            price: Money {
                amount_cents: config.pack_price_cents(pack),
                currency: config.currency.clone(),
            },
            discount_percent: pack.discount_percent,
        }
    }
}

/// A background the studio offers.
#[derive(SimpleObject, Debug, Clone)]
pub struct Background {
    pub id: ID,
    pub name: String,
    pub preview_url: String,
}

impl Background {
    pub fn new(ids: &IdCodec, model: BackgroundRow) -> Self {
        Background {
            id: ID(ids.encode(Kind::Background, &model.id)),
            name: model.name,
            preview_url: model.preview_url,
        }
    }
}

/// A logo in the account's library.
#[derive(SimpleObject, Debug, Clone)]
pub struct Logo {
    pub id: ID,
    pub name: String,
    pub image_url: String,
}

impl Logo {
    pub fn new(ids: &IdCodec, model: LogoRow) -> Self {
        Logo {
            id: ID(ids.encode(Kind::Logo, model.id)),
            name: model.name,
            image_url: model.image_url,
        }
    }
}

/// A listing photo and the looks applied to it.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Photo {
    pub id: ID,
    pub listing_ref: String,
    pub original_url: String,
    #[graphql(skip)]
    pub model: PhotoRow,
}

impl Photo {
    pub fn new(ids: &IdCodec, model: PhotoRow) -> Self {
        Photo {
            id: ID(ids.encode(Kind::Photo, model.id)),
            listing_ref: model.listing_ref.clone(),
            original_url: model.original_url.clone(),
            model,
        }
    }
}

#[ComplexObject]
impl Photo {
    /// Null while the photo shows its original.
    async fn current_edit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PhotoEdit>> {
        let Some(edit_id) = self.model.current_edit_id else {
            return Ok(None);
        };
        let edit = store(ctx)?.load_one(EditKey(edit_id)).await.or_internal(ctx)?;
        let ids = ids(ctx)?;
        Ok(edit.map(|e| PhotoEdit::new(ids, e)))
    }

    /// Newest first, a page at a time: to walk on, pass the last edit's `cursor` as `after`;
    /// fewer than `first` edits means there are no more.
    #[graphql(complexity = "pages::cost(first, child_complexity)")]
    async fn edits(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many edits, 0 to 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "An edit's `cursor`: only the edits older than it.")] after: Option<String>,
    ) -> async_graphql::Result<Vec<PhotoEdit>> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Edits, self.model.id, first, after.as_deref())?;
        let edits = store(ctx)?
            .load_one(EditsOfPhoto(page.of_photo()))
            .await
            .or_internal(ctx)?
            .unwrap_or_default();
        Ok(edits.into_iter().map(|e| PhotoEdit::new(ids, e)).collect())
    }

    /// Newest first, a page at a time: to walk on, pass the last report's `cursor` as
    /// `after`; fewer than `first` reports means there are no more.
    #[graphql(complexity = "pages::cost(first, child_complexity)")]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many reports, 0 to 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "A report's `cursor`: only the reports older than it.")] after: Option<String>,
    ) -> async_graphql::Result<Vec<FaultyReport>> {
        let ids = ids(ctx)?;
        let page = Page::parse(ids, List::Reports, self.model.id, first, after.as_deref())?;
        let reports = store(ctx)?
            .load_one(ReportsOfPhoto(page.of_photo()))
            .await
            .or_internal(ctx)?
            .unwrap_or_default();
        Ok(reports.into_iter().map(|r| FaultyReport::new(ids, r)).collect())
    }
}

/// One apply of a look to a photo, and what it cost.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct PhotoEdit {
    pub id: ID,
    pub logo_position: Option<LogoPosition>,
    pub credits_charged: i32,
    /// The bucket whose lot paid for this edit.
    pub paid_from: CreditBucket,
    pub applied_at: DateTime,
    pub reverted_at: Option<DateTime>,
    #[graphql(skip)]
    pub model: EditRow,
}

impl PhotoEdit {
    pub fn new(ids: &IdCodec, model: EditRow) -> Self {
        PhotoEdit {
            id: ID(ids.encode(Kind::PhotoEdit, model.id)),
            logo_position: model.logo_position.map(LogoPosition::from),
            credits_charged: model.credits_charged,
            paid_from: model.paid_from.into(),
            applied_at: model.applied_at.into(),
            reverted_at: model.reverted_at.map(DateTime),
            model,
        }
    }
}

#[ComplexObject]
impl PhotoEdit {
    /// Where this edit stands in its photo's `edits`: as `after`, it asks for the older ones.
    async fn cursor(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(ids(ctx)?.cursor(List::Edits, self.model.photo_id, self.model.id))
    }

    async fn photo(&self, ctx: &Context<'_>) -> async_graphql::Result<Photo> {
        let photo = store(ctx)?
            .load_one(PhotoKey(self.model.photo_id))
            .await
            .or_internal(ctx)?
            .ok_or_else(|| format!("photo {} of edit {} is missing", self.model.photo_id, self.model.id))
            .or_internal(ctx)?;
        Ok(Photo::new(ids(ctx)?, photo))
    }

    async fn background(&self, ctx: &Context<'_>) -> async_graphql::Result<Background> {
        let ids = ids(ctx)?;
        let configured = ledger(ctx)?
            .config()
            .backgrounds
            .iter()
            .find(|b| b.id == self.model.background_id);
        if let Some(b) = configured {
            return Ok(Background {
                id: ID(ids.encode(Kind::Background, &b.id)),
                name: b.name.clone(),
                preview_url: b.preview_url.clone(),
            });
        }
        // A background since removed from the configuration is still stored.
        let background = store(ctx)?
            .load_one(BackgroundKey(self.model.background_id.clone()))
            .await
            .or_internal(ctx)?
            .ok_or_else(|| format!("background {} is missing", self.model.background_id))
            .or_internal(ctx)?;
        Ok(Background::new(ids, background))
    }

    async fn logo(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Logo>> {
        let Some(logo_id) = self.model.logo_id else {
            return Ok(None);
        };
        let logo = store(ctx)?.load_one(LogoKey(logo_id)).await.or_internal(ctx)?;
        let ids = ids(ctx)?;
        Ok(logo.map(|l| Logo::new(ids, l)))
    }
}

/// A report that an edited photo came out wrong.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct FaultyReport {
    pub id: ID,
    pub reason: Option<String>,
    pub reported_at: DateTime,
    #[graphql(skip)]
    pub model: ReportRow,
}

impl FaultyReport {
    pub fn new(ids: &IdCodec, model: ReportRow) -> Self {
        FaultyReport {
            id: ID(ids.encode(Kind::FaultyReport, model.id)),
            reason: model.reason.clone(),
            reported_at: model.reported_at.into(),
            model,
        }
    }
}

#[ComplexObject]
impl FaultyReport {
    /// Where this report stands in its photo's `reports`: as `after`, it asks for the older ones.
    async fn cursor(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(ids(ctx)?.cursor(List::Reports, self.model.photo_id, self.model.id))
    }

    async fn edit(&self, ctx: &Context<'_>) -> async_graphql::Result<PhotoEdit> {
        let edit = store(ctx)?
            .load_one(EditKey(self.model.edit_id))
            .await
            .or_internal(ctx)?
            .ok_or_else(|| format!("edit {} of report {} is missing", self.model.edit_id, self.model.id))
            .or_internal(ctx)?;
        Ok(PhotoEdit::new(ids(ctx)?, edit))
    }
}

/// One movement of credits.
#[derive(SimpleObject, Debug, Clone)]
pub struct LedgerEntry {
    pub id: ID,
    pub kind: LedgerEntryKind,
    pub bucket: CreditBucket,
    /// Signed: + for GRANT and REFUND, - for CHARGE and EXPIRY.
    pub amount: i32,
    /// The account's available credits right after this entry.
    pub balance_after: i32,
    pub created_at: DateTime,
    pub description: String,
}

impl LedgerEntry {
    pub fn new(ids: &IdCodec, model: LedgerEntryRow) -> Self {
        LedgerEntry {
            id: ID(ids.encode(Kind::LedgerEntry, model.id)),
            kind: model.kind.into(),
            bucket: model.bucket.into(),
            amount: model.amount,
            balance_after: model.balance_after,
            created_at: model.created_at.into(),
            description: model.description,
        }
    }
}

/// An invoice for a pack purchase.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Invoice {
    pub id: ID,
    pub number: String,
    pub issued_at: DateTime,
    pub total: Money,
    #[graphql(skip)]
    pub invoice_id: i64,
}

impl Invoice {
    pub fn new(ids: &IdCodec, model: InvoiceRow) -> Self {
        Invoice {
            id: ID(ids.encode(Kind::Invoice, model.id)),
            number: model.number,
            issued_at: model.issued_at.into(),
            total: Money {
                amount_cents: model.total_cents,
                currency: model.currency,
            },
            invoice_id: model.id,
        }
    }
}

#[ComplexObject]
impl Invoice {
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLine>> {
        let currency = self.total.currency.clone();
        let lines = store(ctx)?
            .load_one(LinesOfInvoice(self.invoice_id))
            .await
            .or_internal(ctx)?
            .unwrap_or_default();
        Ok(lines
            .into_iter()
            .map(|l: InvoiceLineRow| InvoiceLine {
                description: l.description,
                quantity: l.quantity,
                unit_price: Money {
                    amount_cents: l.unit_price_cents,
                    currency: currency.clone(),
                },
                amount: Money {
                    amount_cents: l.amount_cents,
                    currency: currency.clone(),
                },
            })
            .collect())
    }
}

/// One line of an invoice.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub amount: Money,
}

/// A page of a list.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// A page of the account's photos, oldest first.
#[derive(SimpleObject)]
pub struct PhotoConnection {
    pub edges: Vec<PhotoEdge>,
    pub page_info: PageInfo,
    /// Every photo of the account.
    pub total_count: i64,
}

#[derive(SimpleObject)]
pub struct PhotoEdge {
    pub cursor: String,
    pub node: Photo,
}

/// A page of the account's ledger, newest first.
#[derive(SimpleObject)]
pub struct LedgerEntryConnection {
    pub edges: Vec<LedgerEntryEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct LedgerEntryEdge {
    pub cursor: String,
    pub node: LedgerEntry,
}

/// A page of the account's invoices, newest first.
#[derive(SimpleObject)]
pub struct InvoiceConnection {
    pub edges: Vec<InvoiceEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct InvoiceEdge {
    pub cursor: String,
    pub node: Invoice,
}

/// Anything with a global id.
#[derive(async_graphql::Interface)]
#[graphql(field(name = "id", ty = "&ID"))]
pub enum Node {
    Account(Account),
    Background(Background),
    CreditPack(CreditPack),
    FaultyReport(FaultyReport),
    Invoice(Invoice),
    LedgerEntry(LedgerEntry),
    Logo(Logo),
    Photo(Photo),
    PhotoEdit(PhotoEdit),
}

impl Node {
    /// The node of a stored record.
    pub fn stored(ids: &IdCodec, stored: Stored) -> Node {
        match stored {
            Stored::Account(a) => Node::Account(Account::new(ids, a)),
            Stored::Photo(p) => Node::Photo(Photo::new(ids, p)),
            Stored::Edit(e) => Node::PhotoEdit(PhotoEdit::new(ids, e)),
            Stored::Report(r) => Node::FaultyReport(FaultyReport::new(ids, r)),
            Stored::Logo(l) => Node::Logo(Logo::new(ids, l)),
            Stored::LedgerEntry(e) => Node::LedgerEntry(LedgerEntry::new(ids, e)),
            Stored::Invoice(i) => Node::Invoice(Invoice::new(ids, i)),
        }
    }
}
