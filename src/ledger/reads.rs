//! Reading an account's state without changing it.
use entity::{account, ledger_entry, lot};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Ledger;
use crate::error::Error;
use crate::rules::balance::{Breakdown, breakdown};

impl Ledger {
    pub async fn account(&self, account_id: i64) -> Result<Option<account::Model>, Error> {
        Ok(account::Entity::find_by_id(account_id).one(&self.db).await?)
    }

    /// The account's balance and breakdown now.
    pub async fn balance(&self, account: &account::Model) -> Result<Breakdown, Error> {
        let now = self.now();
        let lots = lot::Entity::find()
            .filter(lot::Column::AccountId.eq(account.id))
            .filter(lot::Column::Expired.eq(false))
            .filter(lot::Column::ExpiresAt.gt(now))
            .all(&self.db)
            .await?;
        Ok(breakdown(account, &lots, self.config.fair_use_cap, now))
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
}
