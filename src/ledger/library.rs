//! What an account holds for the studio: its listing photos, registered by the back
//! office, and its logos, at most `max_logos` of them.
use entity::{logo, photo};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use super::Ledger;
use crate::db::retry_transient;
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::text::{required_text, url};

/// Most photos registered in one call.
pub const MAX_PHOTOS_PER_REGISTRATION: usize = 500;

impl Ledger {
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
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
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
            self.commit(txn, &mut book).await?;
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
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
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
            self.commit(txn, &mut book).await?;
            Ok(logo)
        })
        .await
    }
}
