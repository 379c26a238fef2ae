//! The studio's actions: apply a look to a batch of photos (all or nothing, one credit
//! per changed photo, free for a photo that already has the look, each charged edit
//! queued for rendering in the same transaction), revert, report.
use std::collections::{BTreeMap, HashMap, HashSet};

use entity::enums::{EditStatus, EntryKind, LogoPosition};
use entity::{account, edit, faulty_report, logo, lot, photo};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait, Set,
};
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::book::Entry;
use super::cause::Cause;
use super::idempotency::{IdempotencyKey, Opened, fingerprint, remember};
use super::outbox::{self, EventType};
use super::renders;
use crate::db::{self, retry_transient};
use crate::error::{Error, Refusal, RefusalCode};
use crate::rules::balance::{Breakdown, breakdown};
use crate::rules::pricing::{BatchPlan, Look, distinct_batch, plan_batch};
use crate::rules::text::optional_text;

/// A logo and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoPlacement {
    pub logo_id: i64,
    pub position: LogoPosition,
}

/// "Apply changes": one background (and optionally a logo) on a batch of photos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyRequest {
    pub photo_ids: Vec<i64>,
    pub background_id: String,
    pub logo: Option<LogoPlacement>,
    pub idempotency_key: String,
}

/// What an apply did; replayed as is to a retry with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    pub credits_charged: i32,
    /// The edits created, in the order of the batch.
    pub edit_ids: Vec<i64>,
    /// Photos that already had the look: not charged, nothing rendered.
    pub unchanged_photo_ids: Vec<i64>,
}

/// An apply as its transaction left things, so that its answer reads nothing after it.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: ApplyOutcome,
    /// What this call wrote; `None` when it replayed the first outcome of its key,
    /// whose photos and balance may have changed since and are read again.
    pub written: Option<Written>,
}

/// What an apply wrote, as of its commit.
#[derive(Debug, Clone)]
pub struct Written {
    /// The edits created, in the order of the batch.
    pub edits: Vec<edit::Model>,
    /// The batch's photos, each once, in the order of the batch, showing their looks.
    pub photos: Vec<photo::Model>,
    /// The account's balance after the charge.
    pub balance: Breakdown,
}

/// A revert as its transaction left things.
#[derive(Debug, Clone)]
pub struct Reverted {
    /// The batch's photos, each once, in the order of the batch, showing their originals.
    pub photos: Vec<photo::Model>,
    /// The account's balance as of the revert (which is free).
    pub balance: Breakdown,
}

/// A report as its transaction wrote it.
#[derive(Debug, Clone)]
pub struct Reported {
    pub report: faulty_report::Model,
    /// The edit the report names: the one its photo showed.
    pub edit: edit::Model,
    /// The account's balance as of the report (which is free).
    pub balance: Breakdown,
}

impl Ledger {
    /// Applies the look to every photo of the batch that does not have it yet, each
    /// paid by one lot in spending order; refuses the whole batch if it cannot pay.
    #[tracing::instrument(skip(self, request), fields(photos = request.photo_ids.len()))]
    pub async fn apply_changes(&self, account_id: i64, request: &ApplyRequest) -> Result<Applied, Error> {
        let key = IdempotencyKey::parse(&request.idempotency_key)?;
        let photo_ids = self.checked_batch(&request.photo_ids, &request.background_id)?;
        // The batch is a set: the same photos in another order, or repeated, are the
        // same input.
        let mut as_set = photo_ids.clone();
        as_set.sort_unstable();
        let fingerprint = fingerprint(
            "applyChanges",
            &ApplyRequest {
                photo_ids: as_set,
                ..request.clone()
            },
        )?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = match self.open_idempotent(&txn, account_id, &key, &fingerprint).await? {
                Opened::Replay(first) => {
                    return Ok(Applied {
                        outcome: first,
                        written: None,
                    });
                }
                Opened::Fresh(book, now) => (*book, now),
            };
            let wanted = Look {
                background_id: request.background_id.clone(),
                logo: request.logo.map(|l| (l.logo_id, l.position)),
            };
            let (plan, mut photos) =
                plan_look(&txn, &book.account, &book.lots, &request.photo_ids, &photo_ids, &wanted).await?;

            let mut edits = Vec::with_capacity(plan.charged.len());
            let (actor_user_id, actor_role) = book.actor_columns();
            let mut paid_per_lot: BTreeMap<i64, i32> = BTreeMap::new();
            for (photo_id, lot_id) in &plan.charged {
                let paid_from = book
                    .lot(*lot_id)
                    .map(|l| l.bucket)
                    .ok_or_else(|| Error::Internal(format!("payer lot {lot_id} vanished")))?;
                let edit = edit::ActiveModel {
                    account_id: Set(account_id),
                    photo_id: Set(*photo_id),
                    background_id: Set(wanted.background_id.clone()),
                    logo_id: Set(wanted.logo.map(|(id, _)| id)),
                    logo_position: Set(wanted.logo.map(|(_, position)| position)),
                    credits_charged: Set(1),
                    lot_id: Set(*lot_id),
                    paid_from: Set(paid_from),
                    applied_at: Set(now),
                    reverted_at: Set(None),
                    actor_user_id: Set(actor_user_id.clone()),
                    actor_role: Set(actor_role.clone()),
                    status: Set(EditStatus::Rendering),
                    image_url: Set(None),
                    failure_reason: Set(None),
                    refunded_at: Set(None),
                    revision: Set(book.edit_revision(&txn).await?),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                renders::queue(&txn, &mut book, &edit).await?;
                set_current_edit(&txn, *photo_id, Some(edit.id)).await?;
                if let Some((photo, _)) = photos.get_mut(photo_id) {
                    photo.current_edit_id = Some(edit.id);
                }
                edits.push(edit);
                *paid_per_lot.entry(*lot_id).or_default() += 1;
            }
            for (lot_id, credits) in paid_per_lot {
                let description = format!("Apply changes: {credits} photo{}", if credits == 1 { "" } else { "s" });
                let charge = Entry {
                    kind: EntryKind::Charge,
                    amount: -credits,
                    at: now,
                    cause: Cause::Apply(key.as_str().to_owned()),
                    description,
                };
                book.post(&txn, lot_id, charge).await?;
            }
            let outcome = ApplyOutcome {
                credits_charged: i32::try_from(edits.len()).unwrap_or(i32::MAX),
                edit_ids: edits.iter().map(|e| e.id).collect(),
                unchanged_photo_ids: plan.unchanged,
            };
            remember(&txn, account_id, &key, fingerprint.clone(), &outcome, now).await?;
            self.commit(txn, &mut book).await?;
            let written = Written {
                edits,
                photos: photo_ids
                    .iter()
                    .filter_map(|id| photos.remove(id))
                    .map(|(p, _)| p)
                    .collect(),
                balance: breakdown(&book.account, &book.lots, &self.config, now),
            };
            Ok(Applied {
                outcome,
                written: Some(written),
            })
        })
        .await
    }

    /// Shows the original again on each photo; free, and a no-op for a photo without
    /// an edit. Returns the photos, each once.
    #[tracing::instrument(skip(self))]
    pub async fn revert_photos(&self, account_id: i64, photo_ids: &[i64]) -> Result<Reverted, Error> {
        let distinct = distinct_batch(photo_ids, self.config.max_batch_photos)?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
            let mut photos = owned_photos(&txn, account_id, photo_ids).await?;
            let edit_ids: Vec<i64> = photos.values().filter_map(|(p, _)| p.current_edit_id).collect();
            if !edit_ids.is_empty() {
                edit::Entity::update_many()
                    .col_expr(edit::Column::RevertedAt, Expr::value(now))
                    .filter(edit::Column::Id.is_in(edit_ids))
                    .exec(&txn)
                    .await?;
                photo::Entity::update_many()
                    .col_expr(photo::Column::CurrentEditId, Expr::value(Option::<i64>::None))
                    .filter(photo::Column::Id.is_in(distinct.clone()))
                    .exec(&txn)
                    .await?;
            }
            self.commit(txn, &mut book).await?;
            Ok(Reverted {
                photos: distinct
                    .iter()
                    .filter_map(|id| photos.remove(id))
                    .map(|(photo, _)| photo::Model {
                        current_edit_id: None,
                        ..photo
                    })
                    .collect(),
                balance: breakdown(&book.account, &book.lots, &self.config, now),
            })
        })
        .await
    }

    /// Reports the edit a photo shows as faulty; free, any number of times.
    #[tracing::instrument(skip(self, reason))]
    pub async fn report_faulty_photo(
        &self,
        account_id: i64,
        photo_id: i64,
        reason: Option<&str>,
    ) -> Result<Reported, Error> {
        let reason = optional_text(reason, &["reason"])?;
        retry_transient(|| async {
            let txn = self.begin().await?;
            let (mut book, now) = self.open_book(&txn, account_id).await?;
            let photo = photo::Entity::find_by_id(photo_id)
                .join(JoinType::LeftJoin, photo::Relation::CurrentEdit.def())
                .select_also(edit::Entity)
                .filter(photo::Column::AccountId.eq(account_id))
                .one(&txn)
                .await?;
            let Some((_, shown)) = photo else {
                return Err(Refusal::new(RefusalCode::PhotoNotFound, "No such photo.")
                    .at(&["photoId"])
                    .into());
            };
            let Some(edit) = shown else {
                return Err(Refusal::new(
                    RefusalCode::PhotoNotEdited,
                    "Only a photo with an applied edit can be reported.",
                )
                .at(&["photoId"])
                .into());
            };
            let (actor_user_id, actor_role) = book.actor_columns();
            let report = faulty_report::ActiveModel {
                account_id: Set(account_id),
                photo_id: Set(photo_id),
                edit_id: Set(edit.id),
                reason: Set(reason.clone()),
                reported_at: Set(now),
                actor_user_id: Set(actor_user_id),
                actor_role: Set(actor_role),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let opened = outbox::report_opened(&report);
            outbox::record(&txn, &book.account, EventType::ReportOpened, now, opened).await?;
            self.commit(txn, &mut book).await?;
            Ok(Reported {
                report,
                edit,
                balance: breakdown(&book.account, &book.lots, &self.config, now),
            })
        })
        .await
    }
}

impl Ledger {
    /// The batch's distinct photos, once its size and its background are checked: the
    /// refusals an apply meets before it reads anything.
    pub(super) fn checked_batch(&self, photo_ids: &[i64], background_id: &str) -> Result<Vec<i64>, Error> {
        let distinct = distinct_batch(photo_ids, self.config.max_batch_photos)?;
        if !self.config.backgrounds.iter().any(|b| b.id == background_id) {
            return Err(Refusal::new(RefusalCode::BackgroundNotFound, "No such background.")
                .at(&["backgroundId"])
                .into());
        }
        Ok(distinct)
    }
}

/// Plans `wanted` on the account's photos `photo_ids` (as given; `batch`: each once)
/// with its usable `lots`, refused as an apply is: LOGO_NOT_FOUND, PHOTO_NOT_FOUND,
/// then what the lots cannot pay. Returns the plan and the photos read, each with the
/// edit it shows.
pub(super) async fn plan_look(
    conn: &impl ConnectionTrait,
    account: &account::Model,
    lots: &[lot::Model],
    photo_ids: &[i64],
    batch: &[i64],
    wanted: &Look,
) -> Result<(BatchPlan, HashMap<i64, (photo::Model, Option<edit::Model>)>), Error> {
    if let Some((logo_id, _)) = wanted.logo {
        let owned = db::by_key(
            logo::Entity::find_by_id(logo_id).filter(logo::Column::AccountId.eq(account.id)),
            conn,
        )
        .await?;
        if owned.is_none() {
            return Err(Refusal::new(RefusalCode::LogoNotFound, "No such logo.")
                .at(&["logo", "logoId"])
                .into());
        }
    }
    let photos = owned_photos(conn, account.id, photo_ids).await?;
    let shown: Vec<(i64, Option<Look>)> = batch
        .iter()
        .map(|id| (*id, photos.get(id).and_then(|(_, shown)| shown.as_ref()).map(look_of)))
        .collect();
    let plan = plan_batch(&shown, wanted, account, lots)?;
    Ok((plan, photos))
}

/// The account's photos among `photo_ids`, each with the edit it shows, in one
/// statement; a photo of another account is refused exactly like one that does not
/// exist, naming the first such index.
async fn owned_photos(
    txn: &impl ConnectionTrait,
    account_id: i64,
    photo_ids: &[i64],
) -> Result<HashMap<i64, (photo::Model, Option<edit::Model>)>, Error> {
    let found: HashMap<i64, (photo::Model, Option<edit::Model>)> = photo::Entity::find()
        .join(JoinType::LeftJoin, photo::Relation::CurrentEdit.def())
        .select_also(edit::Entity)
        .filter(photo::Column::AccountId.eq(account_id))
        .filter(photo::Column::Id.is_in(photo_ids.iter().copied().collect::<HashSet<_>>()))
        .all(txn)
        .await?
        .into_iter()
        .map(|(p, e)| (p.id, (p, e)))
        .collect();
    if let Some(index) = photo_ids.iter().position(|id| !found.contains_key(id)) {
        return Err(Refusal::new(RefusalCode::PhotoNotFound, "No such photo.")
            .at(&["photoIds", &index.to_string()])
            .into());
    }
    Ok(found)
}

/// The look `edit` gives its photo.
fn look_of(edit: &edit::Model) -> Look {
    Look {
        background_id: edit.background_id.clone(),
        logo: edit.logo_id.zip(edit.logo_position),
    }
}

async fn set_current_edit(txn: &impl ConnectionTrait, photo_id: i64, edit_id: Option<i64>) -> Result<(), Error> {
    photo::Entity::update_many()
        .col_expr(photo::Column::CurrentEditId, Expr::value(edit_id))
        .filter(photo::Column::Id.eq(photo_id))
        .exec(txn)
        .await?;
    Ok(())
}
