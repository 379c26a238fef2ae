//! Idempotency: a client-made key, scoped to the account, makes a retried apply or
//! purchase return the first answer instead of acting twice. The record is written in
//! the same transaction as the charge, so it exists exactly when the charge does.
use chrono::{DateTime, Duration, Utc};
use entity::idempotency_record;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::Ledger;
use super::book::Book;
use crate::db;
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::text::exact_text;

/// Longest key a client may send, in characters.
const MAX_KEY_CHARS: usize = 128;

/// A validated idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 128 printable characters, compared exactly as sent.
    pub fn parse(key: &str) -> Result<Self, Refusal> {
        exact_text(key, MAX_KEY_CHARS, &["idempotencyKey"]).map(IdempotencyKey)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fingerprint of an operation and its whole input.
pub fn fingerprint(operation: &str, input: &impl Serialize) -> Result<String, Error> {
    let json = serde_json::to_vec(input).map_err(|e| Error::Internal(format!("input not serializable: {e}")))?;
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(&json);
    Ok(hex::encode(hasher.finalize()))
}

/// An account opened for an idempotent operation.
pub enum Opened<T> {
    /// The key is new (or forgotten): here is the locked account to act on, and the
    /// instant read once its lock was held.
    Fresh(Box<Book>, DateTime<Utc>),
    /// The key already acted: here is its first answer, to give again.
    Replay(T),
}

impl Ledger {
    /// Locks the account and returns its book, or the first answer `key` was given.
    pub(super) async fn open_idempotent<T: DeserializeOwned>(
        &self,
        txn: &DatabaseTransaction,
        account_id: i64,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Opened<T>, Error> {
        let (book, now) = self.open_book(txn, account_id).await?;
        let retention = self.config.idempotency_retention();
        Ok(
            match first_answer(txn, account_id, key, fingerprint, retention, now).await? {
                Some(first) => Opened::Replay(first),
                None => Opened::Fresh(Box::new(book), now),
            },
        )
    }
}

/// The first answer given to `key`, if it was used within the retention period with
/// the same input; a refusal if it was used with another input.
async fn first_answer<T: DeserializeOwned>(
    txn: &impl ConnectionTrait,
    account_id: i64,
    key: &IdempotencyKey,
    fingerprint: &str,
    retention: Duration,
    now: DateTime<Utc>,
) -> Result<Option<T>, Error> {
    let Some(record) = db::by_key(
        idempotency_record::Entity::find()
            .filter(idempotency_record::Column::AccountId.eq(account_id))
            .filter(idempotency_record::Column::Key.eq(key.as_str())),
        txn,
    )
    .await?
    else {
        return Ok(None);
    };
    if record.created_at + retention <= now {
        idempotency_record::Entity::delete_by_id(record.id).exec(txn).await?;
        return Ok(None);
    }
    if record.request_hash != fingerprint {
        return Err(Refusal::new(
            RefusalCode::IdempotencyKeyReused,
            "This idempotency key was already used with a different request; nothing was done.",
        )
        .at(&["idempotencyKey"])
        .into());
    }
    serde_json::from_str(&record.response).map(Some).map_err(|e| {
        Error::Internal(format!(
            "stored answer of idempotency record {} unreadable: {e}",
            record.id
        ))
    })
}

/// Records `answer` as the first answer to `key`.
pub async fn remember(
    txn: &impl ConnectionTrait,
    account_id: i64,
    key: &IdempotencyKey,
    fingerprint: String,
    answer: &impl Serialize,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let response =
        serde_json::to_string(answer).map_err(|e| Error::Internal(format!("answer not serializable: {e}")))?;
    idempotency_record::ActiveModel {
        account_id: Set(account_id),
        key: Set(key.as_str().to_owned()),
        request_hash: Set(fingerprint),
        response: Set(response),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Forgets records older than the retention period.
pub async fn purge(db: &impl ConnectionTrait, retention: Duration, now: DateTime<Utc>) -> Result<u64, Error> {
    let deleted = idempotency_record::Entity::delete_many()
        .filter(idempotency_record::Column::CreatedAt.lte(now - retention))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
