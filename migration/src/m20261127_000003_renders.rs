//! Renders and the correction team's answers (rules §1 "Renders", "Faulty reports").
//! Additive only, so the previous release keeps running while this one rolls out:
//! the new edit and report columns are nullable or defaulted, and `render_jobs` is a
//! table it never reads. An edit written before this migration (or by the previous
//! release) was never queued and stays `READY` without an image; a report stays `OPEN`.
//! An account counts the changes of its edits (`edit_revision`), and each edit keeps
//! the count of its last change (`revision`), so a live subscriber reads exactly the
//! edits changed since it last looked, after a lost connection too.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Edits {
    Table,
    Id,
    Revision,
    Status,
    ImageUrl,
    FailureReason,
    RefundedAt,
}

#[derive(DeriveIden)]
enum FaultyReports {
    Table,
    Status,
    ResolutionKind,
    ResolutionNote,
    ResolvedAt,
    ResolvedByUserId,
    ResolvedByRole,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    EditRevision,
}

/// One job per charged edit: queued with the charge, leased to one claimant at a
/// time, finished once.
#[derive(DeriveIden)]
enum RenderJobs {
    Table,
    Id,
    EditId,
    AccountId,
    CreatedAt,
    /// How many times the job was claimed; a claim's id carries it, so a result sent
    /// under an earlier claim is told its lease passed on.
    Attempt,
    LeaseExpiresAt,
    FinishedAt,
    /// `READY` or `FAILED` once finished.
    Outcome,
}

const EDIT_UNIQUE: &str = "render_jobs_edit_unique";
const QUEUE_INDEX: &str = "render_jobs_queue";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let edit_columns = [
            string(Edits::Status).default("READY").to_owned(),
            text_null(Edits::ImageUrl),
            text_null(Edits::FailureReason),
            timestamp_with_time_zone_null(Edits::RefundedAt),
            big_integer(Edits::Revision).default(0).to_owned(),
        ];
        for mut column in edit_columns {
            m.alter_table(Table::alter().table(Edits::Table).add_column(&mut column).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(big_integer(Accounts::EditRevision).default(0))
                .to_owned(),
        )
        .await?;
        let report_columns = [
            string(FaultyReports::Status).default("OPEN").to_owned(),
            string_null(FaultyReports::ResolutionKind),
            text_null(FaultyReports::ResolutionNote),
            timestamp_with_time_zone_null(FaultyReports::ResolvedAt),
            string_null(FaultyReports::ResolvedByUserId),
            string_null(FaultyReports::ResolvedByRole),
        ];
        for mut column in report_columns {
            m.alter_table(
                Table::alter()
                    .table(FaultyReports::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(RenderJobs::Table)
                .col(big_pk_auto(RenderJobs::Id))
                .col(big_integer(RenderJobs::EditId))
                .col(big_integer(RenderJobs::AccountId))
                .col(timestamp_with_time_zone(RenderJobs::CreatedAt))
                .col(integer(RenderJobs::Attempt).default(0))
                .col(timestamp_with_time_zone_null(RenderJobs::LeaseExpiresAt))
                .col(timestamp_with_time_zone_null(RenderJobs::FinishedAt))
                .col(string_null(RenderJobs::Outcome))
                .foreign_key(
                    &mut ForeignKey::create()
                        .from(RenderJobs::Table, RenderJobs::EditId)
                        .to(Edits::Table, Edits::Id)
                        .to_owned(),
                )
                .foreign_key(
                    &mut ForeignKey::create()
                        .from(RenderJobs::Table, RenderJobs::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(EDIT_UNIQUE)
                .table(RenderJobs::Table)
                .col(RenderJobs::EditId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(QUEUE_INDEX)
                .table(RenderJobs::Table)
                .col(RenderJobs::FinishedAt)
                .col(RenderJobs::Id)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RenderJobs::Table).to_owned()).await?;
        for column in [
            FaultyReports::Status,
            FaultyReports::ResolutionKind,
            FaultyReports::ResolutionNote,
            FaultyReports::ResolvedAt,
            FaultyReports::ResolvedByUserId,
            FaultyReports::ResolvedByRole,
        ] {
            m.alter_table(
                Table::alter()
                    .table(FaultyReports::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .drop_column(Accounts::EditRevision)
                .to_owned(),
        )
        .await?;
        for column in [
            Edits::Status,
            Edits::ImageUrl,
            Edits::FailureReason,
            Edits::RefundedAt,
            Edits::Revision,
        ] {
            m.alter_table(Table::alter().table(Edits::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
