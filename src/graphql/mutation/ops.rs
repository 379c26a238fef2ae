//! The back office's mutations, for OPS users only: accounts, their subscription and
//! photos, the correction team's answer to a faulty report, voiding invoices, sending
//! an event again, and the manual clock.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::common::{InputId, UserError, settle};
use crate::graphql::context::{acting_ledger, ids, ledger, ops};
use crate::graphql::types::{
    Account, CreditNote, DateTime, FaultyReport, Photo, PlanCode, ReportResolutionKind, WebhookEvent,
};
use crate::ids::IdCodec;
use crate::ledger::{Buyer, Resolution};
use crate::reads::AccountRow;

/// A dealer's subscription to open.
#[derive(InputObject)]
pub struct CreateAccountInput {
    /// The dealer's name, 1 to 2,048 printable characters.
    pub name: String,
    /// The plan, which sets the monthly credits and the pack catalog.
    pub plan: PlanCode,
    /// Listing slots booked, 0 to 10,000; monthly credits are slots × the plan's
    /// credits per slot (premium: the fair-use cap).
    pub listing_slots: i32,
    /// The platform's own id of the account, 1 to 64 printable characters, unique. Sent
    /// again with the same plan and slots, it answers the account it made and grants
    /// nothing again; with others, ACCOUNT_EXISTS.
    pub external_id: Option<String>,
    /// The buyer's details on the account's invoices, as the platform has them; the
    /// buyer's name is the account's `name`.
    pub buyer: Option<BuyerInput>,
}

/// The buyer's details on invoices, as the platform sends them.
#[derive(InputObject)]
pub struct BuyerInput {
    /// The postal address, up to 2,048 printable characters.
    pub address: Option<String>,
    /// The VAT identification number, e.g. DE123456789.
    pub vat_id: Option<String>,
}

/// An invoice to void, and why.
#[derive(InputObject)]
pub struct VoidInvoiceInput {
    /// The invoice to void.
    pub invoice_id: ID,
    /// Why it is voided, 1 to 2,048 printable characters; printed on the credit note.
    pub reason: String,
}

/// The result of voiding an invoice.
#[derive(SimpleObject)]
pub struct VoidInvoicePayload {
    /// The credit note that voids the invoice (the first one again when it was voided
    /// before); null when refused.
    pub credit_note: Option<CreditNote>,
    /// Why it was refused (INVOICE_NOT_FOUND, PACK_PARTLY_USED, INVALID_INPUT);
    /// nothing changed. Empty when done.
    pub user_errors: Vec<UserError>,
}

/// An event to send again.
#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    /// The event, as `webhookEvents` lists it.
    pub event_id: ID,
}

/// The result of sending an event again.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    /// The event, PENDING again (a pending one as it was); null when refused.
    pub event: Option<WebhookEvent>,
    /// Why it was refused (EVENT_NOT_FOUND); empty when done.
    pub user_errors: Vec<UserError>,
}

/// A new plan or slot count for an account.
#[derive(InputObject)]
pub struct UpdateSubscriptionInput {
    /// The account to change.
    pub account_id: ID,
    /// The new plan.
    pub plan: PlanCode,
    /// The new listing slots, 0 to 10,000. An increase tops up the current monthly
    /// lot (and open promotion lots) at once; a decrease waits for the next reset.
    pub listing_slots: i32,
    /// The platform's increasing sequence per account: an update whose sequence is not
    /// above the last one applied changes nothing and is refused with STALE_UPDATE.
    pub sequence: Option<i64>,
}

/// The result of opening or changing an account.
#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account as it is now; null when refused.
    pub account: Option<Account>,
    /// Why it was refused (ACCOUNT_NOT_FOUND, ACCOUNT_EXISTS, STALE_UPDATE,
    /// INVALID_INPUT); empty when done.
    pub user_errors: Vec<UserError>,
}

/// One listing photo to register.
#[derive(InputObject)]
pub struct PhotoRegistration {
    /// The platform's reference of the listing the photo belongs to.
    pub listing_ref: String,
    /// Where the original image is, an http(s) URL.
    pub original_url: String,
}

/// Listing photos for an account's studio.
#[derive(InputObject)]
pub struct RegisterPhotosInput {
    /// The account the photos belong to.
    pub account_id: ID,
    /// 1 to 500 photos.
    pub photos: Vec<PhotoRegistration>,
}

/// The result of registering photos.
#[derive(SimpleObject)]
pub struct RegisterPhotosPayload {
    /// The photos registered, in the order given; empty when refused.
    pub photos: Vec<Photo>,
    /// Why the registration was refused (ACCOUNT_NOT_FOUND, INVALID_INPUT naming the
    /// photo's index); empty when done.
    pub user_errors: Vec<UserError>,
}

/// The correction team's answer to a report.
#[derive(InputObject)]
pub struct ResolveReportInput {
    /// The report to resolve.
    pub report_id: ID,
    /// How to resolve it.
    pub kind: ReportResolutionKind,
    /// The corrected image, an http(s) URL. Required for CORRECTED.
    pub image_url: Option<String>,
    /// A note for the dealer, up to 2,048 printable characters. Required for REJECTED.
    pub note: Option<String>,
}

/// The result of resolving a report.
#[derive(SimpleObject)]
pub struct ResolveReportPayload {
    /// The report as resolved; null when refused.
    pub report: Option<FaultyReport>,
    /// Why it was refused (REPORT_NOT_FOUND, REPORT_ALREADY_RESOLVED, ALREADY_REFUNDED,
    /// INVALID_INPUT); empty when done.
    pub user_errors: Vec<UserError>,
}

/// Where to move a manual clock.
#[derive(InputObject)]
pub struct SetClockInput {
    /// The new time (UTC), never before the current one.
    pub now: DateTime,
}

/// The result of moving the clock.
#[derive(SimpleObject)]
pub struct SetClockPayload {
    /// The clock's time now, after the expiries and resets it made due were written;
    /// null when refused.
    pub now: Option<DateTime>,
    /// Why it was refused (CLOCK_NOT_MANUAL, INVALID_INPUT for a time in the past).
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
        #[graphql(desc = "The account's name, plan and slots.")] input: CreateAccountInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let buyer = input
            .buyer
            .map(|b| Buyer {
                address: b.address,
                vat_id: b.vat_id,
            })
            .unwrap_or_default();
        let outcome = ledger
            .create_account_for(
                &input.name,
                input.plan.into(),
                input.listing_slots,
                input.external_id.as_deref(),
                &buyer,
            )
            .await;
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn update_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account and its new plan and slots.")] input: UpdateSubscriptionInput,
    ) -> async_graphql::Result<AccountPayload> {
        ops(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let account_id = InputId::ACCOUNT.key(ids, &input.account_id, &["accountId"])?;
            ledger
                .update_subscription(account_id, input.plan.into(), input.listing_slots, input.sequence)
                .await
        }
        .await;
        Ok(account_payload(ids, settle(ctx, outcome)?))
    }

    /// OPS only.
    async fn register_photos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account and its photos.")] input: RegisterPhotosInput,
    ) -> async_graphql::Result<RegisterPhotosPayload> {
        ops(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
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

    /// OPS only. Resolves a faulty report; the same resolution again answers the report
    /// as it is, another is refused with REPORT_ALREADY_RESOLVED.
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report and its resolution.")] input: ResolveReportInput,
    ) -> async_graphql::Result<ResolveReportPayload> {
        ops(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let report_id = InputId::REPORT.key(ids, &input.report_id, &["reportId"])?;
            let resolution = match input.kind {
                ReportResolutionKind::Corrected => Resolution::Corrected {
                    image_url: input.image_url.clone().unwrap_or_default(),
                },
                ReportResolutionKind::Refunded => Resolution::Refunded,
                ReportResolutionKind::Rejected => Resolution::Rejected,
            };
            ledger
                .resolve_report(report_id, &resolution, input.note.as_deref())
                .await
        }
        .await;
        Ok(match settle(ctx, outcome)? {
            Ok(resolved) => ResolveReportPayload {
                report: Some(FaultyReport::new(ids, resolved.report)),
                user_errors: vec![],
            },
            Err(refusal) => ResolveReportPayload {
                report: None,
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only: voids a purchase's invoice with a credit note and takes the pack's
    /// credits back, when none of them were spent.
    async fn void_invoice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice and the reason.")] input: VoidInvoiceInput,
    ) -> async_graphql::Result<VoidInvoicePayload> {
        ops(ctx)?;
        let (ledger, ids) = (acting_ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let invoice_id = InputId::INVOICE.key(ids, &input.invoice_id, &["invoiceId"])?;
            ledger.void_invoice(invoice_id, &input.reason).await
        }
        .await;
        Ok(match settle(ctx, outcome)? {
            Ok(note) => VoidInvoicePayload {
                credit_note: Some(CreditNote::new(ids, note)),
                user_errors: vec![],
            },
            Err(refusal) => VoidInvoicePayload {
                credit_note: None,
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only: sends a FAILED (or DELIVERED) event again, with the same id, as the
    /// next of its account.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event to send again.")] input: RedeliverWebhookInput,
    ) -> async_graphql::Result<RedeliverWebhookPayload> {
        ops(ctx)?;
        let (ledger, ids) = (ledger(ctx)?, ids(ctx)?);
        let outcome = async {
            let event_id = InputId::EVENT.key(ids, &input.event_id, &["eventId"])?;
            ledger.redeliver_webhook_event(event_id).await
        }
        .await;
        Ok(match settle(ctx, outcome)? {
            Ok(event) => RedeliverWebhookPayload {
                event: Some(WebhookEvent::new(ids, event)),
                user_errors: vec![],
            },
            Err(refusal) => RedeliverWebhookPayload {
                event: None,
                user_errors: vec![refusal],
            },
        })
    }

    /// OPS only; refused with CLOCK_NOT_MANUAL unless the server runs with STUDIO_CLOCK=manual.
    async fn set_clock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The time to move the clock to.")] input: SetClockInput,
    ) -> async_graphql::Result<SetClockPayload> {
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
