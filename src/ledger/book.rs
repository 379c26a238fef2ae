//! An account's book inside one write transaction: the account row locked, its
//! unexpired lots in memory, and the only code that changes a lot. Every change is an
//! append-only ledger entry carrying the account's available balance after it.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::enums::{Bucket, EntryKind};
use entity::{account, ledger_entry, lot};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::actor::Actor;
use super::cause::Cause;
use crate::config::LAUNCH_CAMPAIGN;
use crate::db;
use crate::error::Error;
use crate::rules::entitlement::Campaign;
use crate::rules::lot_origin::LotOrigin;

/// A locked account and its unexpired lots.
pub struct Book {
    pub account: account::Model,
    /// Lots whose expiry is not yet written, so all that can still be spent.
    pub lots: Vec<lot::Model>,
    /// Whether this transaction changed what the account's balance shows.
    changed: bool,
    /// Who acts in this transaction; none for the clock's own.
    pub actor: Option<Actor>,
    /// The kind, bucket and amount of each entry this transaction wrote, counted in
    /// the metrics once it commits.
    written: Vec<(EntryKind, Bucket, i32)>,
    /// Render jobs this transaction queued, and the outcome (`ready`, `failed`,
    /// `timed_out`) and queue age of each it finished: counted once it commits.
    pub renders_queued: usize,
    pub renders_finished: Vec<(&'static str, chrono::Duration)>,
    /// The account's edit revision of this transaction, once it changed an edit.
    edit_revision: Option<i64>,
}

/// One change of a lot, as the ledger records it.
pub struct Entry {
    pub kind: EntryKind,
    /// Signed change of the lot's remaining credits.
    pub amount: i32,
    pub at: DateTime<Utc>,
    pub cause: Cause,
    pub description: String,
}

/// A new lot: what grants it and until when.
pub struct NewLot {
    pub bucket: Bucket,
    pub origin: LotOrigin,
    pub credits: i32,
    /// From when the lot counts; `None`: from its grant.
    pub valid_from: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub pack_id: Option<String>,
    pub cause: Cause,
    pub description: String,
}

impl NewLot {
    /// The monthly lot of the cycle `[cycle_start, resets_at)`.
    pub fn monthly(cycle_start: DateTime<Utc>, resets_at: DateTime<Utc>, credits: i32, cause: Cause) -> Self {
        NewLot {
            bucket: Bucket::Monthly,
            origin: LotOrigin::Cycle(cycle_start),
            credits,
            valid_from: None,
            expires_at: resets_at,
            pack_id: None,
            cause,
            description: format!("Monthly credits until {}", resets_at.format("%Y-%m-%d %H:%M UTC")),
        }
    }

    /// The lot of a promotion campaign: it counts from the campaign's start, whenever
    /// it was granted, and expires with the window.
    pub fn promotion(campaign: &Campaign, credits: i32, cause: Cause) -> Self {
        let description = if campaign.id == LAUNCH_CAMPAIGN {
            "Launch promotion".to_owned()
        } else {
            format!("Promotion {}", campaign.id)
        };
        NewLot {
            bucket: Bucket::LaunchPromotion,
            origin: LotOrigin::Promotion(campaign.id.clone()),
            credits,
            valid_from: Some(campaign.starts_at),
            expires_at: campaign.ends_at,
            pack_id: None,
            cause,
            description,
        }
    }
}

impl Book {
    /// Locks the account (a row lock on PostgreSQL; SQLite's IMMEDIATE transaction
    /// already holds the write lock) and loads its unexpired lots.
    pub async fn open(txn: &impl ConnectionTrait, account_id: i64) -> Result<Option<Book>, Error> {
        Ok(Book::open_many(txn, &[account_id], false).await?.pop())
    }

    /// [`Book::open`] of every account of `account_ids` there is, in two statements
    /// whatever their number (a catch-up of many accounts). The rows are locked in the
    /// order of their ids, so two transactions never wait for each other in a cycle.
    /// With `skip_locked`, an account another transaction holds is left out
    /// (PostgreSQL's `SKIP LOCKED`) instead of waited for.
    pub async fn open_many(
        txn: &impl ConnectionTrait,
        account_ids: &[i64],
        skip_locked: bool,
    ) -> Result<Vec<Book>, Error> {
        let accounts = account::Entity::find()
            .filter(account::Column::Id.is_in(account_ids.iter().copied()))
            .order_by_asc(account::Column::Id);
        let accounts = if skip_locked {
            accounts.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            accounts.lock_exclusive()
        }
        .all(txn)
        .await?;
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let mut lots: HashMap<i64, Vec<lot::Model>> = HashMap::with_capacity(accounts.len());
        for lot in lot::Entity::find()
            .filter(lot::Column::AccountId.is_in(accounts.iter().map(|a| a.id)))
            .filter(lot::Column::Expired.eq(false))
            .all(txn)
            .await?
        {
            lots.entry(lot.account_id).or_default().push(lot);
        }
        Ok(accounts
            .into_iter()
            .map(|account| {
                let lots = lots.remove(&account.id).unwrap_or_default();
                Book::loaded(account, lots)
            })
            .collect())
    }

    /// The book of `account` with its unexpired `lots`, before this transaction wrote
    /// anything.
    fn loaded(account: account::Model, lots: Vec<lot::Model>) -> Book {
        Book {
            account,
            lots,
            changed: false,
            actor: None,
            written: Vec::new(),
            renders_queued: 0,
            renders_finished: Vec::new(),
            edit_revision: None,
        }
    }

    /// The book of an account `actor` created in this transaction.
    pub fn new_account(account: account::Model, actor: Option<Actor>) -> Book {
        Book {
            changed: true,
            actor,
            ..Book::loaded(account, Vec::new())
        }
    }

    /// The stored columns of who acts, for a row this transaction writes.
    pub fn actor_columns(&self) -> (Option<String>, Option<String>) {
        Actor::columns(self.actor.as_ref())
    }

    /// Whether this transaction changed what the account's balance shows.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The kind, bucket and amount of each ledger entry written so far.
    pub fn written(&self) -> &[(EntryKind, Bucket, i32)] {
        &self.written
    }

    /// Writes a change of the account row (plan, slots, cycle).
    pub async fn save_account(
        &mut self,
        txn: &impl ConnectionTrait,
        account: account::ActiveModel,
    ) -> Result<(), Error> {
        self.account = account.update(txn).await?;
        self.changed = true;
        Ok(())
    }

    /// The revision an edit this transaction changes is stamped with: the account's
    /// count of edit changes, raised once per transaction. Live subscribers read the
    /// edits changed since the revision they last saw.
    pub async fn edit_revision(&mut self, txn: &impl ConnectionTrait) -> Result<i64, Error> {
        if let Some(revision) = self.edit_revision {
            return Ok(revision);
        }
        let revision = self.account.edit_revision + 1;
        account::Entity::update_many()
            .col_expr(account::Column::EditRevision, Expr::value(revision))
            .filter(account::Column::Id.eq(self.account.id))
            .exec(txn)
            .await?;
        self.account.edit_revision = revision;
        self.edit_revision = Some(revision);
        Ok(revision)
    }

    /// Whether this transaction changed an edit of the account.
    pub fn edits_changed(&self) -> bool {
        self.edit_revision.is_some()
    }

    /// Credits usable now: every unexpired lot's remaining credits.
    pub fn available(&self) -> i32 {
        self.lots.iter().map(|l| l.remaining).sum()
    }

    pub fn lot(&self, id: i64) -> Option<&lot::Model> {
        self.lots.iter().find(|l| l.id == id)
    }

    /// The unexpired lot granted by `origin`.
    pub fn lot_by_origin(&self, origin: &LotOrigin) -> Option<&lot::Model> {
        let origin = origin.to_string();
        self.lots.iter().find(|l| l.origin == origin)
    }

    /// Whether the account ever had a lot of `origin`, expired ones included.
    pub async fn had_lot(&self, txn: &impl ConnectionTrait, origin: &LotOrigin) -> Result<bool, Error> {
        Ok(db::by_key(
            lot::Entity::find()
                .filter(lot::Column::AccountId.eq(self.account.id))
                .filter(lot::Column::Origin.eq(origin.to_string())),
            txn,
        )
        .await?
        .is_some())
    }

    /// Creates a lot and writes its GRANT entry.
    pub async fn grant_new_lot(
        &mut self,
        txn: &impl ConnectionTrait,
        new: NewLot,
        at: DateTime<Utc>,
    ) -> Result<lot::Model, Error> {
        let lot = lot::ActiveModel {
            account_id: Set(self.account.id),
            bucket: Set(new.bucket),
            origin: Set(new.origin.to_string()),
            granted: Set(new.credits),
            remaining: Set(new.credits),
            valid_from: Set(new.valid_from.unwrap_or(at)),
            expires_at: Set(new.expires_at),
            expired: Set(false),
            created_at: Set(at),
            pack_id: Set(new.pack_id),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.lots.push(lot.clone());
        let grant = Entry {
            kind: EntryKind::Grant,
            amount: new.credits,
            at,
            cause: new.cause,
            description: new.description,
        };
        self.append(txn, &lot, grant).await?;
        Ok(lot)
    }

    /// Changes the lot's remaining credits by `amount` and writes the entry. A GRANT
    /// also raises what the lot was granted. The update is conditional, so a lot can
    /// never go below zero whatever happened around this transaction.
    pub async fn post(
        &mut self,
        txn: &impl ConnectionTrait,
        lot_id: i64,
        entry: Entry,
    ) -> Result<ledger_entry::Model, Error> {
        self.post_retiring(txn, lot_id, entry, false).await
    }

    /// [`Book::post`]; with `retire`, the same statement also marks the lot expired.
    async fn post_retiring(
        &mut self,
        txn: &impl ConnectionTrait,
        lot_id: i64,
        entry: Entry,
        retire: bool,
    ) -> Result<ledger_entry::Model, Error> {
        let amount = entry.amount;
        let granted_change = if entry.kind == EntryKind::Grant { amount } else { 0 };
        let mut update = lot::Entity::update_many()
            .col_expr(lot::Column::Remaining, Expr::col(lot::Column::Remaining).add(amount))
            .col_expr(
                lot::Column::Granted,
                Expr::col(lot::Column::Granted).add(granted_change),
            );
        if retire {
            update = update.col_expr(lot::Column::Expired, Expr::value(true));
        }
        let updated = update
            .filter(lot::Column::Id.eq(lot_id))
            .filter(Expr::col(lot::Column::Remaining).add(amount).gte(0))
            .exec(txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Internal(format!(
                "lot {lot_id} cannot take {amount}: it would go below zero"
            )));
        }
        let lot = self
            .lots
            .iter_mut()
            .find(|l| l.id == lot_id)
            .ok_or_else(|| Error::Internal(format!("lot {lot_id} is not an unexpired lot of the account")))?;
        lot.remaining += amount;
        lot.granted += granted_change;
        let lot = lot.clone();
        self.append(txn, &lot, entry).await
    }

    /// Writes the EXPIRY entry for what `lot_id` has left and retires the lot, in one
    /// update of the lot.
    pub async fn expire(&mut self, txn: &impl ConnectionTrait, lot_id: i64, at: DateTime<Utc>) -> Result<(), Error> {
        let Some(lot) = self.lot(lot_id).cloned() else {
            return Err(Error::Internal(format!(
                "lot {lot_id} is not an unexpired lot of the account"
            )));
        };
        if lot.remaining > 0 {
            let description = format!("{} credits expired", bucket_label(lot.bucket));
            let expiry = Entry {
                kind: EntryKind::Expiry,
                amount: -lot.remaining,
                at,
                cause: Cause::Expiry,
                description,
            };
            self.post_retiring(txn, lot_id, expiry, true).await?;
        } else {
            lot::Entity::update_many()
                .col_expr(lot::Column::Expired, Expr::value(true))
                .filter(lot::Column::Id.eq(lot_id))
                .exec(txn)
                .await?;
        }
        self.lots.retain(|l| l.id != lot_id);
        self.changed = true;
        Ok(())
    }

    /// Remembers that `credits.expiring` told of `lot_id` at `at`; false when it was
    /// told before (the account's lock makes that a safeguard, never the rule). Not a
    /// change the balance shows: the book is not marked changed.
    pub async fn mark_expiry_warned(
        &mut self,
        txn: &impl ConnectionTrait,
        lot_id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let updated = lot::Entity::update_many()
            .col_expr(lot::Column::ExpiryWarnedAt, Expr::value(at))
            .filter(lot::Column::Id.eq(lot_id))
            .filter(lot::Column::ExpiryWarnedAt.is_null())
            .exec(txn)
            .await?;
        if let Some(lot) = self.lots.iter_mut().find(|l| l.id == lot_id) {
            lot.expiry_warned_at = Some(at);
        }
        Ok(updated.rows_affected == 1)
    }

    /// Gives a credit back to a lot that has expired meanwhile: the REFUND is written
    /// and expires at the same instant, so no credit outlives its lot (rules §1).
    pub async fn refund_to_expired(
        &mut self,
        txn: &impl ConnectionTrait,
        lot: &lot::Model,
        refund: Entry,
    ) -> Result<(), Error> {
        let at = refund.at;
        let amount = refund.amount;
        // The lot counts in no balance, but the history's running sum takes the
        // refund in and the expiry out again.
        let balance = self.available();
        self.append_at(txn, lot, refund, balance + amount).await?;
        let expiry = Entry {
            kind: EntryKind::Expiry,
            amount: -amount,
            at,
            cause: Cause::Expiry,
            description: format!("{} credits expired", bucket_label(lot.bucket)),
        };
        self.append_at(txn, lot, expiry, balance).await?;
        Ok(())
    }

    async fn append(
        &mut self,
        txn: &impl ConnectionTrait,
        lot: &lot::Model,
        entry: Entry,
    ) -> Result<ledger_entry::Model, Error> {
        let balance_after = self.available();
        self.append_at(txn, lot, entry, balance_after).await
    }

    /// Writes `entry` showing `balance_after` as the account's balance after it.
    async fn append_at(
        &mut self,
        txn: &impl ConnectionTrait,
        lot: &lot::Model,
        entry: Entry,
        balance_after: i32,
    ) -> Result<ledger_entry::Model, Error> {
        self.changed = true;
        let actor = if entry.cause.is_the_clocks() {
            None
        } else {
            self.actor.as_ref()
        };
        let (actor_user_id, actor_role) = Actor::columns(actor);
        self.written.push((entry.kind, lot.bucket, entry.amount));
        Ok(ledger_entry::ActiveModel {
            account_id: Set(self.account.id),
            lot_id: Set(lot.id),
            kind: Set(entry.kind),
            bucket: Set(lot.bucket),
            amount: Set(entry.amount),
            balance_after: Set(balance_after),
            created_at: Set(entry.at),
            cause: Set(entry.cause.to_string()),
            description: Set(entry.description),
            actor_user_id: Set(actor_user_id),
            actor_role: Set(actor_role),
            ..Default::default()
        }
        .insert(txn)
        .await?)
    }
}

/// How a bucket is named in the history.
pub fn bucket_label(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::LaunchPromotion => "Launch promotion",
        Bucket::Monthly => "Monthly",
        Bucket::Purchased => "Purchased",
    }
}
