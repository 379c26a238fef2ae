//! Invoices an accountant accepts and events other systems can rely on (rules §2 and
//! §6): an invoice keeps its net amount, VAT and the seller and buyer as they were when
//! it was issued; an account keeps the buyer's address and VAT id; a credit note voids
//! an invoice, numbered without gaps per calendar year; and the outbox holds each event
//! until a receiver took it. Additive only: the previous release keeps inserting
//! invoices and accounts without the new columns (nullable or defaulted), which read as an
//! invoice without VAT and a buyer with only a name.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    SubtotalCents,
    TaxCents,
    VatPercent,
    SellerName,
    SellerAddress,
    SellerVatId,
    BuyerName,
    BuyerAddress,
    BuyerVatId,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    BuyerAddress,
    BuyerVatId,
    CreditsLow,
}

#[derive(DeriveIden)]
enum CreditNotes {
    Table,
    Id,
    InvoiceId,
    AccountId,
    Number,
    Year,
    Sequence,
    IssuedAt,
    Reason,
    SubtotalCents,
    TaxCents,
    TotalCents,
    Currency,
    ActorUserId,
    ActorRole,
}

#[derive(DeriveIden)]
enum CreditNoteSequences {
    Table,
    Year,
    LastSequence,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    EventId,
    AccountId,
    EventType,
    Payload,
    OccurredAt,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    DeliveredAt,
}

const PENDING_INDEX: &str = "webhook_events_status_account";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let invoice_columns = [
            big_integer_null(Invoices::SubtotalCents),
            big_integer_null(Invoices::TaxCents),
            integer_null(Invoices::VatPercent),
            string_null(Invoices::SellerName),
            string_null(Invoices::SellerAddress),
            string_null(Invoices::SellerVatId),
            string_null(Invoices::BuyerName),
            string_null(Invoices::BuyerAddress),
            string_null(Invoices::BuyerVatId),
        ];
        for mut column in invoice_columns {
            m.alter_table(Table::alter().table(Invoices::Table).add_column(&mut column).to_owned())
                .await?;
        }
        // `credits_low`: whether the last event told of a balance below the threshold,
        // so that a crossing is told once; the previous release's accounts start false.
        for mut column in [
            string_null(Accounts::BuyerAddress),
            string_null(Accounts::BuyerVatId),
            boolean(Accounts::CreditsLow).default(false).to_owned(),
        ] {
            m.alter_table(Table::alter().table(Accounts::Table).add_column(&mut column).to_owned())
                .await?;
        }
        m.create_table(
            Table::create()
                .table(CreditNoteSequences::Table)
                .col(integer(CreditNoteSequences::Year).primary_key())
                .col(integer(CreditNoteSequences::LastSequence))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CreditNotes::Table)
                .col(big_pk_auto(CreditNotes::Id))
                // One credit note per invoice: a second void finds the first.
                .col(big_integer_uniq(CreditNotes::InvoiceId))
                .col(big_integer(CreditNotes::AccountId))
                .col(string_uniq(CreditNotes::Number))
                .col(integer(CreditNotes::Year))
                .col(integer(CreditNotes::Sequence))
                .col(timestamp_with_time_zone(CreditNotes::IssuedAt))
                .col(text(CreditNotes::Reason))
                .col(big_integer(CreditNotes::SubtotalCents))
                .col(big_integer(CreditNotes::TaxCents))
                .col(big_integer(CreditNotes::TotalCents))
                .col(string(CreditNotes::Currency))
                .col(string_null(CreditNotes::ActorUserId))
                .col(string_null(CreditNotes::ActorRole))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookEvents::Table)
                .col(big_pk_auto(WebhookEvents::Id))
                .col(string_uniq(WebhookEvents::EventId))
                .col(big_integer_null(WebhookEvents::AccountId))
                .col(string(WebhookEvents::EventType))
                .col(text(WebhookEvents::Payload))
                .col(timestamp_with_time_zone(WebhookEvents::OccurredAt))
                .col(string(WebhookEvents::Status).default("PENDING"))
                .col(integer(WebhookEvents::Attempts).default(0))
                .col(timestamp_with_time_zone(WebhookEvents::NextAttemptAt))
                .col(timestamp_with_time_zone_null(WebhookEvents::LeaseUntil))
                .col(text_null(WebhookEvents::LastError))
                .col(timestamp_with_time_zone_null(WebhookEvents::DeliveredAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(PENDING_INDEX)
                .table(WebhookEvents::Table)
                .col(WebhookEvents::Status)
                .col(WebhookEvents::AccountId)
                .col(WebhookEvents::Id)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookEvents::Table.into_iden(),
            CreditNotes::Table.into_iden(),
            CreditNoteSequences::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [Accounts::BuyerAddress, Accounts::BuyerVatId, Accounts::CreditsLow] {
            m.alter_table(Table::alter().table(Accounts::Table).drop_column(column).to_owned())
                .await?;
        }
        for column in [
            Invoices::SubtotalCents,
            Invoices::TaxCents,
            Invoices::VatPercent,
            Invoices::SellerName,
            Invoices::SellerAddress,
            Invoices::SellerVatId,
            Invoices::BuyerName,
            Invoices::BuyerAddress,
            Invoices::BuyerVatId,
        ] {
            m.alter_table(Table::alter().table(Invoices::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
