//! The studio: photos, the edits applied to them and reports about those, the
//! backgrounds and logos an edit shows.
use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};

use super::actor::Actor;
use super::paging::{self, Page, PageInfo};
use super::scalars::{CreditBucket, DateTime};
use crate::config::BackgroundSettings;
use crate::graphql::context::{ids, ledger, reads, store};
use crate::graphql::errors::OrInternal;
use crate::graphql::loaders::{BackgroundKey, EditKey, EditsOfPhoto, Loaders, LogoKey, PhotoKey, ReportsOfPhoto};
use crate::ids::{IdCodec, Kind, List};
use crate::reads::{BackgroundRow, EditRow, LogoRow, PhotoRow, ReportRow};

/// Where a logo sits on a photo.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::LogoPosition")]
pub enum LogoPosition {
    /// The photo's top left corner.
    TopLeft,
    /// The photo's top right corner.
    TopRight,
    /// The photo's bottom left corner.
    BottomLeft,
    /// The photo's bottom right corner.
    BottomRight,
}

/// Where an edit's render stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::EditStatus")]
pub enum EditStatus {
    /// Charged and queued: the render service has not answered yet.
    Rendering,
    /// Rendered: `imageUrl` is the finished image.
    Ready,
    /// The render failed (`failureReason`); the edit's credit went back.
    Failed,
}

/// Where a faulty report stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::reads::ReportStatus")]
pub enum ReportStatus {
    /// Waiting for the correction team.
    Open,
    /// A corrected image replaced the edit's image.
    Corrected,
    /// The edit's credit went back.
    Refunded,
    /// Rejected, with a note for the dealer.
    Rejected,
}

/// How the correction team resolves a report.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportResolutionKind {
    /// A corrected image (`imageUrl`) replaces the edit's image; free.
    Corrected,
    /// The edit's credit goes back, as for a failed render; at most once per edit.
    Refunded,
    /// Nothing changes; `note` tells the dealer why.
    Rejected,
}

/// The correction team's answer to a report.
#[derive(SimpleObject, Debug, Clone)]
pub struct ReportResolution {
    /// How it was resolved.
    pub kind: ReportResolutionKind,
    /// The team's note for the dealer; null when none was given.
    pub note: Option<String>,
    /// When it was resolved (UTC).
    pub resolved_at: DateTime,
    /// Who resolved it.
    pub resolved_by: Option<Actor>,
}

/// A background the studio offers.
#[derive(SimpleObject, Debug, Clone)]
pub struct Background {
    /// The background's global id, to pass as `backgroundId` to `applyChanges`.
    pub id: ID,
    /// The background's display name.
    pub name: String,
    /// The URL of a preview image of the background.
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

    /// A background of the configuration.
    pub fn configured(ids: &IdCodec, settings: &BackgroundSettings) -> Self {
        Background {
            id: ID(ids.encode(Kind::Background, &settings.id)),
            name: settings.name.clone(),
            preview_url: settings.preview_url.clone(),
        }
    }
}

/// A logo in the account's library.
#[derive(SimpleObject, Debug, Clone)]
pub struct Logo {
    /// The logo's global id, to pass as `logo.logoId` to `applyChanges`.
    pub id: ID,
    /// The logo's name, as it was added.
    pub name: String,
    /// The URL of the logo's image, as it was added.
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
    /// The photo's global id.
    pub id: ID,
    /// The platform's reference of the listing the photo belongs to, as registered.
    pub listing_ref: String,
    /// The URL of the original, unedited image.
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
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
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
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
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
    /// The edit's global id.
    pub id: ID,
    /// Where the logo sits; null when the edit has no logo.
    pub logo_position: Option<LogoPosition>,
    /// Credits this edit cost: always 1. Applying the look a photo already has makes no
    /// edit and costs nothing.
    pub credits_charged: i32,
    /// The bucket whose lot paid for this edit.
    pub paid_from: CreditBucket,
    /// When the look was applied (UTC).
    pub applied_at: DateTime,
    /// When the photo was reverted to its original while it showed this edit (UTC);
    /// null if it never was (an edit replaced by another apply stays null).
    pub reverted_at: Option<DateTime>,
    /// Who applied it.
    pub applied_by: Option<Actor>,
    /// RENDERING until the render service answers, then READY or FAILED.
    pub status: EditStatus,
    /// The rendered image; null until READY.
    pub image_url: Option<String>,
    /// Why the render failed ("timed out" when the render service never answered);
    /// null unless FAILED.
    pub failure_reason: Option<String>,
    /// When the edit's credit went back (failed render or refunded report).
    pub refunded_at: Option<DateTime>,
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
            applied_by: Actor::stored(model.actor_user_id.as_deref(), model.actor_role.as_deref()),
            status: model.status.into(),
            image_url: model.image_url.clone(),
            failure_reason: model.failure_reason.clone(),
            refunded_at: model.refunded_at.map(DateTime),
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

    /// The photo the edit was applied to.
    async fn photo(&self, ctx: &Context<'_>) -> async_graphql::Result<Photo> {
        // A subscription (`editChanged`) has no loaders: it reads afresh each event.
        let photo = match ctx.data_opt::<Loaders>() {
            Some(store) => store.load_one(PhotoKey(self.model.photo_id)).await,
            None => reads(ctx)?
                .photos_by_id([self.model.photo_id])
                .await
                .map(|rows| rows.into_iter().next())
                .map_err(std::sync::Arc::new),
        };
        let photo = photo
            .or_internal(ctx)?
            .ok_or_else(|| format!("photo {} of edit {} is missing", self.model.photo_id, self.model.id))
            .or_internal(ctx)?;
        Ok(Photo::new(ids(ctx)?, photo))
    }

    /// The background the edit applied, answered even if the studio no longer offers it.
    pub(crate) async fn background(&self, ctx: &Context<'_>) -> async_graphql::Result<Background> {
        let ids = ids(ctx)?;
        let configured = ledger(ctx)?
            .config()
            .backgrounds
            .iter()
            .find(|b| b.id == self.model.background_id);
        if let Some(settings) = configured {
            return Ok(Background::configured(ids, settings));
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

    /// The logo the edit placed; null when the edit has no logo.
    async fn logo(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Logo>> {
        let Some(logo_id) = self.model.logo_id else {
            return Ok(None);
        };
        let logo = match ctx.data_opt::<Loaders>() {
            Some(store) => store.load_one(LogoKey(logo_id)).await,
            None => reads(ctx)?
                .logos_by_id([logo_id])
                .await
                .map(|rows| rows.into_iter().next())
                .map_err(std::sync::Arc::new),
        };
        let ids = ids(ctx)?;
        Ok(logo.or_internal(ctx)?.map(|l| Logo::new(ids, l)))
    }
}

/// A report that an edited photo came out wrong.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct FaultyReport {
    /// The report's global id.
    pub id: ID,
    /// What the dealer said is wrong; null when no reason was given.
    pub reason: Option<String>,
    /// When the report was made (UTC).
    pub reported_at: DateTime,
    /// Who reported it.
    pub reported_by: Option<Actor>,
    /// OPEN until the correction team resolves it.
    pub status: ReportStatus,
    /// The correction team's answer; null while OPEN.
    pub resolution: Option<ReportResolution>,
    #[graphql(skip)]
    pub model: ReportRow,
}

impl FaultyReport {
    pub fn new(ids: &IdCodec, model: ReportRow) -> Self {
        FaultyReport {
            id: ID(ids.encode(Kind::FaultyReport, model.id)),
            reason: model.reason.clone(),
            reported_at: model.reported_at.into(),
            reported_by: Actor::stored(model.actor_user_id.as_deref(), model.actor_role.as_deref()),
            status: model.status.into(),
            resolution: resolution_of(&model),
            model,
        }
    }
}

/// The resolution stored on `report`; none while it is open.
fn resolution_of(report: &ReportRow) -> Option<ReportResolution> {
    let kind = match report.resolution_kind? {
        crate::reads::ReportStatus::Open => return None,
        crate::reads::ReportStatus::Corrected => ReportResolutionKind::Corrected,
        crate::reads::ReportStatus::Refunded => ReportResolutionKind::Refunded,
        crate::reads::ReportStatus::Rejected => ReportResolutionKind::Rejected,
    };
    Some(ReportResolution {
        kind,
        note: report.resolution_note.clone(),
        resolved_at: report.resolved_at?.into(),
        resolved_by: Actor::stored(
            report.resolved_by_user_id.as_deref(),
            report.resolved_by_role.as_deref(),
        ),
    })
}

/// A page of the correction team's queue, oldest first.
#[derive(SimpleObject)]
pub struct FaultyReportConnection {
    /// The reports of this page, oldest first.
    pub edges: Vec<FaultyReportEdge>,
    /// Whether more reports follow, and the cursors to ask for them.
    pub page_info: PageInfo,
}

/// A report in a page of the queue, with its cursor.
#[derive(SimpleObject)]
pub struct FaultyReportEdge {
    /// This report's place in the queue: as `after`, it asks for the reports after it.
    pub cursor: String,
    /// The report.
    pub node: FaultyReport,
}

#[ComplexObject]
impl FaultyReport {
    /// Where this report stands in its photo's `reports`: as `after`, it asks for the older ones.
    async fn cursor(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(ids(ctx)?.cursor(List::Reports, self.model.photo_id, self.model.id))
    }

    /// The edit the report is about: the one the photo showed when it was reported.
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

/// A page of the account's photos, oldest first.
#[derive(SimpleObject)]
pub struct PhotoConnection {
    /// The photos of this page, oldest first.
    pub edges: Vec<PhotoEdge>,
    /// Whether more photos follow, and the cursors to ask for them.
    pub page_info: PageInfo,
    /// Every photo of the account.
    pub total_count: i64,
}

/// A photo in a page of photos, with its cursor.
#[derive(SimpleObject)]
pub struct PhotoEdge {
    /// This photo's place in the account's photos: as `after`, it asks for the photos
    /// registered after it.
    pub cursor: String,
    /// The photo.
    pub node: Photo,
}
