//! Accounts and what they hold: creation with the entitlement of the starting cycle,
//! plan and slot changes (increases at once, decreases at the next reset), photos and
//! logos.
use chrono::{DateTime, Utc};
use entity::enums::{EntryKind, PlanCode};
use entity::{account, logo, photo};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};

use super::Ledger;
use super::book::{Book, Entry, NewLot};
use super::events::grant_monthly;
use crate::db::{begin_write, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::cycle::BillingCalendar;
use crate::rules::entitlement::{MAX_LISTING_SLOTS, monthly_credits};
use crate::rules::text::{required_text, url};

/// Most photos registered in one call.
pub const MAX_PHOTOS_PER_REGISTRATION: usize = 500;

impl Ledger {
    /// Opens an account with the full entitlement of the cycle it starts in (and the
    /// launch promotion when created inside its window).
    #[tracing::instrument(skip(self))]
    pub async fn create_account(
        &self,
        name: &str,
        plan: PlanCode,
        listing_slots: i32,
    ) -> Result<account::Model, Error> {
        let name = required_text(name, &["name"])?;
        check_slots(listing_slots)?;
        retry_transient(|| async {
            let txn = begin_write(&self.db).await?;
            let now = self.now();
            let cycle = BillingCalendar::from_config(&self.config).cycle_containing(now);
            let account = account::ActiveModel {
                name: Set(name.clone()),
                plan: Set(plan),
                listing_slots: Set(listing_slots),
                created_at: Set(now),
                cycle_start: Set(cycle.start),
                next_reset_at: Set(cycle.end),
                promotion_processed: Set(false),
                promotions_considered: Set(String::new()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let mut book = Book::new_account(account);
            grant_monthly(&txn, &mut book, &self.config, cycle.start, now, "account").await?;
            self.catch_up(&txn, &mut book, now).await?;
            self.commit(txn, &book).await?;
            Ok(book.account)
        })
        .await
    }

    /// Changes the plan and slots. Increases raise the current monthly lot (and the
    /// promotion lot inside its window) by the difference at once; decreases wait for
    /// the next reset, and nothing granted is taken back.
    #[tracing::instrument(skip(self))]
    pub async fn update_subscription(
        &self,
        account_id: i64,
        plan: PlanCode,
        listing_slots: i32,
    ) -> Result<account::Model, Error> {
        check_slots(listing_slots)?;
        retry_transient(|| async {
            let txn = begin_write(&self.db).await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
            let mut account = book.account.clone().into_active_model();
            account.plan = Set(plan);
            account.listing_slots = Set(listing_slots);
            book.save_account(&txn, account).await?;
            self.top_up(&txn, &mut book, now).await?;
            self.commit(txn, &book).await?;
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
            "plan_change",
        );
        raise_to(txn, book, monthly, now).await?;
        for campaign in self.campaigns.iter().filter(|c| c.is_open(now)) {
            let promotion = NewLot::promotion(campaign, campaign.credits(plan, slots), "plan_change");
            raise_to(txn, book, promotion, now).await?;
        }
        Ok(())
    }

    /// Registers listing photos for an account.
    #[tracing::instrument(skip(self, photos), fields(count = photos.len()))]
    pub async fn register_photos(
        &self,
        account_id: i64,
        photos: &[(String, String)],
    ) -> Result<Vec<photo::Model>, Error> {
        if photos.is_empty() || photos.len() > MAX_PHOTOS_PER_REGISTRATION {
            return Err(Refusal::new(
                RefusalCode::InvalidInput,
                format!("Register 1 to {MAX_PHOTOS_PER_REGISTRATION} photos at a time."),
            )
            .at(&["photos"])
            .into());
        }
        let mut checked = Vec::with_capacity(photos.len());
        for (i, (listing_ref, original_url)) in photos.iter().enumerate() {
            let index = i.to_string();
            let listing_ref = required_text(listing_ref, &["photos", &index, "listingRef"])?;
            let original_url = url(original_url, &["photos", &index, "originalUrl"])?;
            checked.push((listing_ref, original_url));
        }
        retry_transient(|| async {
            let txn = begin_write(&self.db).await?;
            let (book, now) = self.open_book(&txn, account_id).await?;
            let mut stored = Vec::with_capacity(checked.len());
            for (listing_ref, original_url) in &checked {
                let photo = photo::ActiveModel {
                    account_id: Set(account_id),
                    listing_ref: Set(listing_ref.clone()),
                    original_url: Set(original_url.clone()),
                    created_at: Set(now),
                    current_edit_id: Set(None),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                stored.push(photo);
            }
            self.commit(txn, &book).await?;
            Ok(stored)
        })
        .await
    }

    /// Adds a logo to an account's library, refused once it holds `max_logos`. The
    /// count and the insert share one transaction that locks the account, so logos
    /// added at once cannot all see room for one more.
    #[tracing::instrument(skip(self))]
    pub async fn add_logo(&self, account_id: i64, name: &str, image_url: &str) -> Result<logo::Model, Error> {
        let name = required_text(name, &["name"])?;
        let image_url = url(image_url, &["imageUrl"])?;
        let max_logos = self.config.max_logos;
        retry_transient(|| async {
            let txn = begin_write(&self.db).await?;
            let (book, now) = self.open_book(&txn, account_id).await?;
            let held = logo::Entity::find()
                .filter(logo::Column::AccountId.eq(account_id))
                .count(&txn)
                .await?;
            if held >= u64::try_from(max_logos).unwrap_or(u64::MAX) {
                return Err(Refusal::new(
                    RefusalCode::TooManyLogos,
                    format!("An account holds at most {max_logos} logos."),
                )
                .into());
            }
            let logo = logo::ActiveModel {
                account_id: Set(account_id),
                name: Set(name.clone()),
                image_url: Set(image_url.clone()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            self.commit(txn, &book).await?;
            Ok(logo)
        })
        .await
    }
}

/// Raises the unexpired lot of `wanted.origin` to `wanted.credits`, or grants it if
/// the account never had one; never lowers a lot, never tops up an expired one, never
/// grants an origin twice (a campaign moved after its lots were granted keeps them).
async fn raise_to(
    txn: &impl ConnectionTrait,
    book: &mut Book,
    wanted: NewLot<'_>,
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
