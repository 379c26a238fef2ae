//! Accounts: creation with the entitlement of the cycle it starts in, and plan and
//! slot changes (increases at once, decreases at the next reset; the lots of open
//! promotion campaigns follow).
use chrono::{DateTime, Utc};
use entity::account;
use entity::enums::{EntryKind, PlanCode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TryInsertResult};

use super::Ledger;
use super::book::{Book, Entry, NewLot};
use super::cause::Cause;
use super::events::grant_monthly;
use crate::db::{self, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::cycle::BillingCalendar;
use crate::rules::entitlement::{MAX_LISTING_SLOTS, monthly_credits};
use crate::rules::text::{exact_text, optional_text, required_text};

/// Longest `externalId`, in characters (rules §4).
pub(super) const MAX_EXTERNAL_ID_CHARS: usize = 64;

/// The buyer's details on the account's invoices, as the platform sends them; the
/// buyer's name is the account's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buyer {
    pub address: Option<String>,
    pub vat_id: Option<String>,
}

impl Ledger {
    /// Opens an account without buyer details: [`Ledger::create_account_for`].
    pub async fn create_account(
        &self,
        name: &str,
        plan: PlanCode,
        listing_slots: i32,
        external_id: Option<&str>,
    ) -> Result<account::Model, Error> {
        self.create_account_for(name, plan, listing_slots, external_id, &Buyer::default())
            .await
    }

    /// Opens an account with the full entitlement of the cycle it starts in (and the
    /// launch promotion when created inside its window). With an `external_id` that
    /// names an account already, answers that account and grants nothing again when
    /// plan and slots are the same, and refuses with ACCOUNT_EXISTS when they differ:
    /// the platform may send its request again (rules §4).
    #[tracing::instrument(skip(self))]
    pub async fn create_account_for(
        &self,
        name: &str,
        plan: PlanCode,
        listing_slots: i32,
        external_id: Option<&str>,
        buyer: &Buyer,
    ) -> Result<account::Model, Error> {
        let name = required_text(name, &["name"])?;
        let buyer_address = optional_text(buyer.address.as_deref(), &["buyer", "address"])?;
        let buyer_vat_id = optional_text(buyer.vat_id.as_deref(), &["buyer", "vatId"])?;
        check_slots(listing_slots)?;
        let external_id = external_id
            .map(|id| exact_text(id, MAX_EXTERNAL_ID_CHARS, &["externalId"]))
            .transpose()?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let now = self.now();
            let cycle = BillingCalendar::from_config(&self.config).cycle_containing(now);
            let row = account::ActiveModel {
                name: Set(name.clone()),
                plan: Set(plan),
                listing_slots: Set(listing_slots),
                created_at: Set(now),
                cycle_start: Set(cycle.start),
                next_reset_at: Set(cycle.end),
                promotion_processed: Set(false),
                promotions_considered: Set(String::new()),
                external_id: Set(external_id.clone()),
                buyer_address: Set(buyer_address.clone()),
                buyer_vat_id: Set(buyer_vat_id.clone()),
                ..Default::default()
            };
            // A second instance creating the same external id at once waits for the
            // first to commit, then inserts nothing and finds its account.
            let inserted = account::Entity::insert(row)
                .on_conflict_do_nothing_on([account::Column::ExternalId])
                .exec(&txn)
                .await?;
            let account = match (inserted, &external_id) {
                (TryInsertResult::Inserted(inserted), _) => {
                    db::by_key(account::Entity::find_by_id(inserted.last_insert_id), &txn)
                        .await?
                        .ok_or_else(|| Error::Internal("the account inserted is not there".into()))?
                }
                (_, Some(external_id)) => {
                    let existing = db::by_key(
                        account::Entity::find().filter(account::Column::ExternalId.eq(external_id.as_str())),
                        &txn,
                    )
                    .await?
                    .ok_or_else(|| Error::Internal(format!("account {external_id:?} conflicted but is not there")))?;
                    return same_subscription(existing, plan, listing_slots);
                }
                (_, None) => {
                    return Err(Error::Internal(
                        "an account without external id was not inserted".into(),
                    ));
                }
            };
            let mut book = Book::new_account(account, self.actor.clone());
            grant_monthly(&txn, &mut book, &self.config, cycle.start, now, Cause::AccountOpened).await?;
            // A new account has no render to give up on.
            self.catch_up(&txn, &mut book, Vec::new(), now).await?;
            self.commit(txn, &mut book).await?;
            Ok(book.account)
        })
        .await
    }

    /// Changes the plan and slots. Increases raise the current monthly lot (and the
    /// promotion lot inside its window) by the difference at once; decreases wait for
    /// the next reset, and nothing granted is taken back. With the platform's
    /// `sequence`, an update that is not newer than the last one applied changes
    /// nothing and is refused with STALE_UPDATE, so a late message never undoes a
    /// newer one; without it, the update applies and the last sequence stays.
    #[tracing::instrument(skip(self))]
    pub async fn update_subscription(
        &self,
        account_id: i64,
        plan: PlanCode,
        listing_slots: i32,
        sequence: Option<i64>,
    ) -> Result<account::Model, Error> {
        check_slots(listing_slots)?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
            if let (Some(sequence), Some(last)) = (sequence, book.account.subscription_sequence)
                && sequence <= last
            {
                return Err(Refusal::new(
                    RefusalCode::StaleUpdate,
                    format!("Sequence {sequence} is not above {last}, the last update applied."),
                )
                .at(&["sequence"])
                .into());
            }
            let mut account = book.account.clone().into_active_model();
            account.plan = Set(plan);
            account.listing_slots = Set(listing_slots);
            if sequence.is_some() {
                account.subscription_sequence = Set(sequence);
            }
            book.save_account(&txn, account).await?;
            self.top_up(&txn, &mut book, now).await?;
            self.commit(txn, &mut book).await?;
            Ok(book.account)
        })
        .await
    }

    /// Raises the current monthly lot, and the lot of every campaign whose window is
    /// open, to what the plan now grants.
    async fn top_up(&self, txn: &impl ConnectionTrait, book: &mut Book, now: DateTime<Utc>) -> Result<(), Error> {
        let (plan, slots) = (book.account.plan, book.account.listing_slots);
        let monthly = NewLot::monthly(
            book.account.cycle_start,
            book.account.next_reset_at,
            monthly_credits(&self.config, plan, slots),
            Cause::PlanChange,
        );
        raise_to(txn, book, monthly, now).await?;
        for campaign in self.campaigns.iter().filter(|c| c.is_open(now)) {
            let promotion = NewLot::promotion(campaign, campaign.credits(plan, slots), Cause::PlanChange);
            raise_to(txn, book, promotion, now).await?;
        }
        Ok(())
    }
}

/// Raises the unexpired lot of `wanted.origin` to `wanted.credits`, or grants it if
/// the account never had one; never lowers a lot, never tops up an expired one, never
/// grants an origin twice (a campaign moved after its lots were granted keeps them).
async fn raise_to(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    wanted: NewLot,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some((lot_id, granted)) = book.lot_by_origin(&wanted.origin).map(|l| (l.id, l.granted)) {
        if wanted.credits > granted {
            let description = format!("{} (plan change)", wanted.description);
            let top_up = Entry {
                kind: EntryKind::Grant,
                amount: wanted.credits - granted,
                at: now,
                cause: wanted.cause,
                description,
            };
            book.post(txn, lot_id, top_up).await?;
        }
        return Ok(());
    }
    if wanted.credits > 0 && !book.had_lot(txn, &wanted.origin).await? {
        book.grant_new_lot(txn, wanted, now).await?;
    }
    Ok(())
}

/// The existing account of a repeated `createAccount`, when it asked for the same
/// subscription.
fn same_subscription(existing: account::Model, plan: PlanCode, listing_slots: i32) -> Result<account::Model, Error> {
    if existing.plan == plan && existing.listing_slots == listing_slots {
        Ok(existing)
    } else {
        Err(Refusal::new(
            RefusalCode::AccountExists,
            "An account with this externalId exists with another plan or slot count.",
        )
        .at(&["externalId"])
        .into())
    }
}

fn check_slots(listing_slots: i32) -> Result<(), Refusal> {
    if (0..=MAX_LISTING_SLOTS).contains(&listing_slots) {
        Ok(())
    } else {
        Err(Refusal::new(
            RefusalCode::InvalidInput,
            format!("Listing slots must be 0 to {MAX_LISTING_SLOTS}."),
        )
        .at(&["listingSlots"]))
    }
}
