//! Reading an account's state without changing it.
use entity::enums::Bucket;
use entity::{account, edit, ledger_entry, lot};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::Ledger;
use super::accounts::MAX_EXTERNAL_ID_CHARS;
use super::events::Claim;
use crate::db;
use crate::error::Error;
use crate::rules::balance::{Breakdown, breakdown};
use crate::rules::text::is_printable;

impl Ledger {
    pub async fn account(&self, account_id: i64) -> Result<Option<account::Model>, Error> {
        Ok(db::by_key(account::Entity::find_by_id(account_id), &self.db).await?)
    }

    /// The account the platform names `external_id`, if any; none for a text no
    /// account can have (PostgreSQL would refuse a NUL in it).
    pub async fn account_by_external_id(&self, external_id: &str) -> Result<Option<account::Model>, Error> {
        if !is_printable(external_id, MAX_EXTERNAL_ID_CHARS) {
            return Ok(None);
        }
        Ok(db::by_key(
            account::Entity::find().filter(account::Column::ExternalId.eq(external_id)),
            &self.db,
        )
        .await?)
    }

    /// The account's balance and breakdown now. When the clock has passed an expiry,
    /// a reset or the promotion that the scheduler has not written yet, it is written
    /// first, so no read shows a state between the two.
    pub async fn balance(&self, account: &account::Model) -> Result<Breakdown, Error> {
        let now = self.now();
        let lots = self.lots_for_reads(account.id).await?;
        if !self.is_due(account, &lots, now) {
            return Ok(breakdown(account, &lots, &self.config, now));
        }
        self.catch_up_chunk(&[account.id], now, Claim::Wait).await?;
        let account = self
            .account(account.id)
            .await?
            .ok_or_else(|| Error::Internal(format!("account {} vanished", account.id)))?;
        let lots = self.lots_for_reads(account.id).await?;
        Ok(breakdown(&account, &lots, &self.config, now))
    }

    /// Lots whose expiry is not yet written, but the used-up purchased ones: no read
    /// needs them (a balance does not list them,
    /// [`crate::rules::balance::shown_purchased`], and a quote cannot spend them) and
    /// the expiry of one changes nothing a read shows (the scheduler writes it), so an
    /// account that bought thousands of packs reads only those with credits left.
    pub(super) async fn lots_for_reads(&self, account_id: i64) -> Result<Vec<lot::Model>, Error> {
        Ok(lot::Entity::find()
            .filter(lot::Column::AccountId.eq(account_id))
            .filter(lot::Column::Expired.eq(false))
            .filter(
                Condition::any()
                    .add(lot::Column::Bucket.ne(Bucket::Purchased))
                    .add(lot::Column::Remaining.gt(0)),
            )
            .all(&self.db)
            .await?)
    }

    /// Every lot the account ever had, oldest first.
    pub async fn lots(&self, account_id: i64) -> Result<Vec<lot::Model>, Error> {
        Ok(lot::Entity::find()
            .filter(lot::Column::AccountId.eq(account_id))
            .order_by_asc(lot::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The account's whole ledger, oldest entry first.
    pub async fn entries(&self, account_id: i64) -> Result<Vec<ledger_entry::Model>, Error> {
        Ok(ledger_entry::Entity::find()
            .filter(ledger_entry::Column::AccountId.eq(account_id))
            .order_by_asc(ledger_entry::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The account's edits changed after revision `since`, in the order they changed,
    /// and the account's revision now; `since` none: no edit, only the revision.
    pub async fn edits_changed_since(
        &self,
        account_id: i64,
        since: Option<i64>,
    ) -> Result<(Vec<edit::Model>, i64), Error> {
        let revision = db::by_key(account::Entity::find_by_id(account_id), &self.db)
            .await?
            .map_or(0, |a| a.edit_revision);
        let Some(since) = since else {
            return Ok((Vec::new(), revision));
        };
        let edits = edit::Entity::find()
            .filter(edit::Column::AccountId.eq(account_id))
            .filter(edit::Column::Revision.gt(since))
            .filter(edit::Column::Revision.lte(revision))
            .order_by_asc(edit::Column::Revision)
            .order_by_asc(edit::Column::Id)
            .all(&self.db)
            .await?;
        Ok((edits, revision))
    }
}
