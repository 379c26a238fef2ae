//! The correction team's answer to a faulty report (rules §1 "Faulty reports"):
//! CORRECTED replaces the edit's image (free), REFUNDED gives its credit back as a
//! failed render does (at most once per edit), REJECTED carries a note for the dealer.
//! Resolving again the same way answers the report as it is; another way is refused.
//! A resolution tells the correction team's systems with `report.resolved`, in its
//! own transaction; answering a repeated one tells nothing again.
use entity::enums::{EditStatus, ReportStatus};
use entity::{edit, faulty_report};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};

use super::Ledger;
use super::cause::Cause;
use super::outbox::{self, EventType};
use crate::db::{self, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::text::{optional_text, url};

/// How the correction team resolves a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A corrected image replaces the edit's image.
    Corrected { image_url: String },
    /// The edit's credit goes back.
    Refunded,
    /// Nothing changes; the note tells the dealer why.
    Rejected,
}

/// A report as its resolution left it, with its edit.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub report: faulty_report::Model,
    pub edit: edit::Model,
}

impl Resolution {
    fn status(&self) -> ReportStatus {
        match self {
            Resolution::Corrected { .. } => ReportStatus::Corrected,
            Resolution::Refunded => ReportStatus::Refunded,
            Resolution::Rejected => ReportStatus::Rejected,
        }
    }
}

/// Whether the correction team replaced the image of the edit `edit_id`: its image then
/// wins over a render that finishes later.
pub(super) async fn was_corrected(txn: &impl ConnectionTrait, edit_id: i64) -> Result<bool, Error> {
    let corrected = faulty_report::Entity::find()
        .filter(faulty_report::Column::EditId.eq(edit_id))
        .filter(faulty_report::Column::Status.eq(ReportStatus::Corrected))
        .count(txn)
        .await?;
    Ok(corrected > 0)
}

impl Ledger {
    /// Resolves the report `report_id` with `resolution` and an optional `note` (which
    /// REJECTED requires).
    #[tracing::instrument(skip(self, note))]
    pub async fn resolve_report(
        &self,
        report_id: i64,
        resolution: &Resolution,
        note: Option<&str>,
    ) -> Result<Resolved, Error> {
        let note = optional_text(note, &["note"])?;
        let resolution = match resolution {
            Resolution::Corrected { image_url } => Resolution::Corrected {
                image_url: url(image_url, &["imageUrl"])?,
            },
            other => other.clone(),
        };
        if resolution == Resolution::Rejected && note.is_none() {
            return Err(
                Refusal::new(RefusalCode::InvalidInput, "A rejection needs a note for the dealer.")
                    .at(&["note"])
                    .into(),
            );
        }
        let not_found = || Refusal::new(RefusalCode::ReportNotFound, "No such report.").at(&["reportId"]);
        // The account first, then the report: the order every writer locks them in.
        let Some(report) = db::by_key(faulty_report::Entity::find_by_id(report_id), &self.db).await? else {
            return Err(not_found().into());
        };
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, report.account_id).await?;
            let report = db::by_key(faulty_report::Entity::find_by_id(report_id).lock_exclusive(), &txn)
                .await?
                .ok_or_else(not_found)?;
            let edit = db::by_key(edit::Entity::find_by_id(report.edit_id), &txn)
                .await?
                .ok_or_else(|| Error::Internal(format!("report {report_id} names no edit")))?;
            if report.status != ReportStatus::Open {
                if report.status != resolution.status() {
                    return Err(Refusal::new(
                        RefusalCode::ReportAlreadyResolved,
                        "This report was resolved another way; nothing changed.",
                    )
                    .at(&["kind"])
                    .into());
                }
                self.commit(txn, &mut book).await?;
                return Ok(Resolved { report, edit });
            }
            let edit = match &resolution {
                Resolution::Corrected { image_url } => {
                    let mut corrected = edit.into_active_model();
                    corrected.image_url = Set(Some(image_url.clone()));
                    corrected.status = Set(EditStatus::Ready);
                    corrected.revision = Set(book.edit_revision(&txn).await?);
                    corrected.update(&txn).await?
                }
                Resolution::Refunded => {
                    if !self
                        .refund(&txn, &mut book, &edit, Cause::Report(report_id), now)
                        .await?
                    {
                        return Err(Refusal::new(
                            RefusalCode::AlreadyRefunded,
                            "This edit's credit went back before; nothing changed.",
                        )
                        .at(&["kind"])
                        .into());
                    }
                    let mut refunded = edit.into_active_model();
                    refunded.refunded_at = Set(Some(now));
                    refunded.revision = Set(book.edit_revision(&txn).await?);
                    refunded.update(&txn).await?
                }
                Resolution::Rejected => edit,
            };
            let (user_id, role) = book.actor_columns();
            let mut resolved = report.into_active_model();
            resolved.status = Set(resolution.status());
            resolved.resolution_kind = Set(Some(resolution.status()));
            resolved.resolution_note = Set(note.clone());
            resolved.resolved_at = Set(Some(now));
            resolved.resolved_by_user_id = Set(user_id);
            resolved.resolved_by_role = Set(role);
            let report = resolved.update(&txn).await?;
            let data = outbox::report_resolved(&report);
            outbox::record(&txn, &book.account, EventType::ReportResolved, now, data).await?;
            self.commit(txn, &mut book).await?;
            Ok(Resolved { report, edit })
        })
        .await
    }
}
