//! The credit ledger's tables. The database holds the invariants it can: no lot below
//! zero, one idempotency record per (account, key), one lot per (account, origin) so a
//! cycle or the promotion is granted once, gapless invoice numbers unique per year.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Name,
    Plan,
    ListingSlots,
    CreatedAt,
    CycleStart,
    NextResetAt,
    PromotionProcessed,
}
#[derive(DeriveIden)]
enum Lots {
    Table,
    Id,
    AccountId,
    Bucket,
    Origin,
    Granted,
    Remaining,
    ValidFrom,
    ExpiresAt,
    Expired,
    CreatedAt,
    PackId,
}
#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    AccountId,
    LotId,
    Kind,
    Bucket,
    Amount,
    BalanceAfter,
    CreatedAt,
    Cause,
    Description,
}
#[derive(DeriveIden)]
enum Backgrounds {
    Table,
    Id,
    Name,
    PreviewUrl,
}
#[derive(DeriveIden)]
enum Packs {
    Table,
    Id,
    Name,
    Credits,
    DiscountPercent,
    PriceCents,
    Currency,
}
#[derive(DeriveIden)]
enum Logos {
    Table,
    Id,
    AccountId,
    Name,
    ImageUrl,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
    AccountId,
    ListingRef,
    OriginalUrl,
    CreatedAt,
    CurrentEditId,
}
#[derive(DeriveIden)]
enum Edits {
    Table,
    Id,
    AccountId,
    PhotoId,
    BackgroundId,
    LogoId,
    LogoPosition,
    CreditsCharged,
    LotId,
    PaidFrom,
    AppliedAt,
    RevertedAt,
}
#[derive(DeriveIden)]
enum FaultyReports {
    Table,
    Id,
    AccountId,
    PhotoId,
    EditId,
    Reason,
    ReportedAt,
}
#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    AccountId,
    Number,
    Year,
    Sequence,
    IssuedAt,
    TotalCents,
    Currency,
}
#[derive(DeriveIden)]
enum InvoiceLines {
    Table,
    Id,
    InvoiceId,
    Description,
    Quantity,
    UnitPriceCents,
    AmountCents,
}
#[derive(DeriveIden)]
enum InvoiceSequences {
    Table,
    Year,
    LastSequence,
}
#[derive(DeriveIden)]
enum Purchases {
    Table,
    Id,
    AccountId,
    PackId,
    LotId,
    InvoiceId,
    PurchasedAt,
}
#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    Id,
    AccountId,
    Key,
    RequestHash,
    Response,
    CreatedAt,
}

fn fk<T: IntoIden, U: IntoIden>(from: (T, U), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(big_pk_auto(Accounts::Id))
                .col(string(Accounts::Name))
                .col(string(Accounts::Plan))
                .col(integer(Accounts::ListingSlots).check(Expr::col(Accounts::ListingSlots).gte(0)))
                .col(timestamp_with_time_zone(Accounts::CreatedAt))
                .col(timestamp_with_time_zone(Accounts::CycleStart))
                .col(timestamp_with_time_zone(Accounts::NextResetAt))
                .col(boolean(Accounts::PromotionProcessed))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("accounts_next_reset_at")
                .table(Accounts::Table)
                .col(Accounts::NextResetAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Backgrounds::Table)
                .col(string(Backgrounds::Id).primary_key())
                .col(string(Backgrounds::Name))
                .col(string(Backgrounds::PreviewUrl))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Packs::Table)
                .col(string(Packs::Id).primary_key())
                .col(string(Packs::Name))
                .col(integer(Packs::Credits).check(Expr::col(Packs::Credits).gt(0)))
                .col(integer(Packs::DiscountPercent))
                .col(big_integer(Packs::PriceCents).check(Expr::col(Packs::PriceCents).gte(0)))
                .col(string(Packs::Currency))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Lots::Table)
                .col(big_pk_auto(Lots::Id))
                .col(big_integer(Lots::AccountId))
                .col(string(Lots::Bucket))
                .col(string(Lots::Origin))
                .col(integer(Lots::Granted).check(Expr::col(Lots::Granted).gte(0)))
                .col(integer(Lots::Remaining).check(Expr::col(Lots::Remaining).gte(0)))
                .col(timestamp_with_time_zone(Lots::ValidFrom))
                .col(timestamp_with_time_zone(Lots::ExpiresAt))
                .col(boolean(Lots::Expired))
                .col(timestamp_with_time_zone(Lots::CreatedAt))
                .col(string_null(Lots::PackId))
                .foreign_key(&mut fk((Lots::Table, Lots::AccountId), (Accounts::Table, Accounts::Id)))
                .foreign_key(&mut fk((Lots::Table, Lots::PackId), (Packs::Table, Packs::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("lots_one_per_origin")
                .table(Lots::Table)
                .col(Lots::AccountId)
                .col(Lots::Origin)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("lots_pending_expiry")
                .table(Lots::Table)
                .col(Lots::Expired)
                .col(Lots::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerEntries::Table)
                .col(big_pk_auto(LedgerEntries::Id))
                .col(big_integer(LedgerEntries::AccountId))
                .col(big_integer(LedgerEntries::LotId))
                .col(string(LedgerEntries::Kind))
                .col(string(LedgerEntries::Bucket))
                .col(integer(LedgerEntries::Amount))
                .col(integer(LedgerEntries::BalanceAfter).check(Expr::col(LedgerEntries::BalanceAfter).gte(0)))
                .col(timestamp_with_time_zone(LedgerEntries::CreatedAt))
                .col(string(LedgerEntries::Cause))
                .col(string(LedgerEntries::Description))
                .foreign_key(&mut fk(
                    (LedgerEntries::Table, LedgerEntries::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .foreign_key(&mut fk(
                    (LedgerEntries::Table, LedgerEntries::LotId),
                    (Lots::Table, Lots::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ledger_by_account")
                .table(LedgerEntries::Table)
                .col(LedgerEntries::AccountId)
                .col(LedgerEntries::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ledger_by_lot")
                .table(LedgerEntries::Table)
                .col(LedgerEntries::LotId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Logos::Table)
                .col(big_pk_auto(Logos::Id))
                .col(big_integer(Logos::AccountId))
                .col(string(Logos::Name))
                .col(string(Logos::ImageUrl))
                .col(timestamp_with_time_zone(Logos::CreatedAt))
                .foreign_key(&mut fk(
                    (Logos::Table, Logos::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("logos_by_account")
                .table(Logos::Table)
                .col(Logos::AccountId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Photos::Table)
                .col(big_pk_auto(Photos::Id))
                .col(big_integer(Photos::AccountId))
                .col(string(Photos::ListingRef))
                .col(string(Photos::OriginalUrl))
                .col(timestamp_with_time_zone(Photos::CreatedAt))
                .col(big_integer_null(Photos::CurrentEditId))
                .foreign_key(&mut fk(
                    (Photos::Table, Photos::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("photos_by_account")
                .table(Photos::Table)
                .col(Photos::AccountId)
                .col(Photos::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Edits::Table)
                .col(big_pk_auto(Edits::Id))
                .col(big_integer(Edits::AccountId))
                .col(big_integer(Edits::PhotoId))
                .col(string(Edits::BackgroundId))
                .col(big_integer_null(Edits::LogoId))
                .col(string_null(Edits::LogoPosition))
                .col(integer(Edits::CreditsCharged))
                .col(big_integer(Edits::LotId))
                .col(string(Edits::PaidFrom))
                .col(timestamp_with_time_zone(Edits::AppliedAt))
                .col(timestamp_with_time_zone_null(Edits::RevertedAt))
                .foreign_key(&mut fk(
                    (Edits::Table, Edits::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .foreign_key(&mut fk((Edits::Table, Edits::PhotoId), (Photos::Table, Photos::Id)))
                .foreign_key(&mut fk(
                    (Edits::Table, Edits::BackgroundId),
                    (Backgrounds::Table, Backgrounds::Id),
                ))
                .foreign_key(&mut fk((Edits::Table, Edits::LogoId), (Logos::Table, Logos::Id)))
                .foreign_key(&mut fk((Edits::Table, Edits::LotId), (Lots::Table, Lots::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("edits_by_photo")
                .table(Edits::Table)
                .col(Edits::PhotoId)
                .col(Edits::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(FaultyReports::Table)
                .col(big_pk_auto(FaultyReports::Id))
                .col(big_integer(FaultyReports::AccountId))
                .col(big_integer(FaultyReports::PhotoId))
                .col(big_integer(FaultyReports::EditId))
                .col(text_null(FaultyReports::Reason))
                .col(timestamp_with_time_zone(FaultyReports::ReportedAt))
                .foreign_key(&mut fk(
                    (FaultyReports::Table, FaultyReports::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .foreign_key(&mut fk(
                    (FaultyReports::Table, FaultyReports::PhotoId),
                    (Photos::Table, Photos::Id),
                ))
                .foreign_key(&mut fk(
                    (FaultyReports::Table, FaultyReports::EditId),
                    (Edits::Table, Edits::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("reports_by_photo")
                .table(FaultyReports::Table)
                .col(FaultyReports::PhotoId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(InvoiceSequences::Table)
                .col(integer(InvoiceSequences::Year).primary_key())
                .col(integer(InvoiceSequences::LastSequence))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Invoices::Table)
                .col(big_pk_auto(Invoices::Id))
                .col(big_integer(Invoices::AccountId))
                .col(string_uniq(Invoices::Number))
                .col(integer(Invoices::Year))
                .col(integer(Invoices::Sequence))
                .col(timestamp_with_time_zone(Invoices::IssuedAt))
                .col(big_integer(Invoices::TotalCents))
                .col(string(Invoices::Currency))
                .foreign_key(&mut fk(
                    (Invoices::Table, Invoices::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("invoices_year_sequence")
                .table(Invoices::Table)
                .col(Invoices::Year)
                .col(Invoices::Sequence)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("invoices_by_account")
                .table(Invoices::Table)
                .col(Invoices::AccountId)
                .col(Invoices::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(InvoiceLines::Table)
                .col(big_pk_auto(InvoiceLines::Id))
                .col(big_integer(InvoiceLines::InvoiceId))
                .col(string(InvoiceLines::Description))
                .col(integer(InvoiceLines::Quantity))
                .col(big_integer(InvoiceLines::UnitPriceCents))
                .col(big_integer(InvoiceLines::AmountCents))
                .foreign_key(&mut fk(
                    (InvoiceLines::Table, InvoiceLines::InvoiceId),
                    (Invoices::Table, Invoices::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("invoice_lines_by_invoice")
                .table(InvoiceLines::Table)
                .col(InvoiceLines::InvoiceId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Purchases::Table)
                .col(big_pk_auto(Purchases::Id))
                .col(big_integer(Purchases::AccountId))
                .col(string(Purchases::PackId))
                .col(big_integer(Purchases::LotId))
                .col(big_integer(Purchases::InvoiceId))
                .col(timestamp_with_time_zone(Purchases::PurchasedAt))
                .foreign_key(&mut fk(
                    (Purchases::Table, Purchases::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .foreign_key(&mut fk(
                    (Purchases::Table, Purchases::PackId),
                    (Packs::Table, Packs::Id),
                ))
                .foreign_key(&mut fk((Purchases::Table, Purchases::LotId), (Lots::Table, Lots::Id)))
                .foreign_key(&mut fk(
                    (Purchases::Table, Purchases::InvoiceId),
                    (Invoices::Table, Invoices::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyRecords::Table)
                .col(big_pk_auto(IdempotencyRecords::Id))
                .col(big_integer(IdempotencyRecords::AccountId))
                .col(string(IdempotencyRecords::Key))
                .col(string(IdempotencyRecords::RequestHash))
                .col(text(IdempotencyRecords::Response))
                .col(timestamp_with_time_zone(IdempotencyRecords::CreatedAt))
                .foreign_key(&mut fk(
                    (IdempotencyRecords::Table, IdempotencyRecords::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idempotency_one_per_account_key")
                .table(IdempotencyRecords::Table)
                .col(IdempotencyRecords::AccountId)
                .col(IdempotencyRecords::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idempotency_by_age")
                .table(IdempotencyRecords::Table)
                .col(IdempotencyRecords::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyRecords::Table.into_iden(),
            Purchases::Table.into_iden(),
            InvoiceLines::Table.into_iden(),
            Invoices::Table.into_iden(),
            InvoiceSequences::Table.into_iden(),
            FaultyReports::Table.into_iden(),
            Edits::Table.into_iden(),
            Photos::Table.into_iden(),
            Logos::Table.into_iden(),
            LedgerEntries::Table.into_iden(),
            Lots::Table.into_iden(),
            Packs::Table.into_iden(),
            Backgrounds::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
