//! The auditor of the ledger: for every account it recomputes each lot and the balance
//! from the ledger entries alone and compares them with what the ledger stores and
//! answers. No lot is negative, every lot's entries sum to its remaining and its grants
//! to its granted, every entry's `balance_after` is the running sum of the account's
//! entries, the ADJUSTMENT of a credit note (a voided invoice) takes back all its lot
//! held and nothing after it touches that lot, and the balance the service answers is
//! the one the entries give.
use std::collections::BTreeMap;

use entity::enums::EntryKind;
use studio_bff::ledger::{Cause, Ledger};
use studio_bff::rules::balance::breakdown;

/// Recomputes every lot and balance of `account_ids` from the entries; how many things
/// it compared, and how many differed from what the ledger stores and answers (each
/// difference printed).
pub async fn audit(ledger: &Ledger, account_ids: &[i64]) -> (usize, usize) {
    let mut differences = 0;
    let mut checks = 0;
    let mut differ = |what: String| {
        eprintln!("difference: {what}");
        differences += 1;
    };
    for account_id in account_ids {
        let account = ledger.account(*account_id).await.unwrap().expect("the account");
        // What the service answers; the read writes any due event first.
        let answered = ledger.balance(&account).await.unwrap();
        let account = ledger.account(*account_id).await.unwrap().expect("the account");
        let entries = ledger.entries(*account_id).await.unwrap();
        let lots = ledger.lots(*account_id).await.unwrap();

        let mut remaining: BTreeMap<i64, i32> = BTreeMap::new();
        let mut granted: BTreeMap<i64, i32> = BTreeMap::new();
        let mut running = 0;
        let mut taken_back = std::collections::BTreeSet::new();
        for entry in &entries {
            if taken_back.contains(&entry.lot_id) {
                differ(format!("entry {}: its lot was taken back by a credit note", entry.id));
            }
            *remaining.entry(entry.lot_id).or_default() += entry.amount;
            let voided = matches!(entry.cause.parse::<Cause>(), Ok(Cause::CreditNote(_)));
            if entry.kind == EntryKind::Adjustment && voided {
                checks += 1;
                taken_back.insert(entry.lot_id);
                if remaining[&entry.lot_id] != 0 || entry.amount >= 0 {
                    differ(format!(
                        "entry {}: a credit note's ADJUSTMENT of {} left its lot at {}",
                        entry.id, entry.amount, remaining[&entry.lot_id]
                    ));
                }
            }
            if entry.kind == EntryKind::Grant {
                *granted.entry(entry.lot_id).or_default() += entry.amount;
            }
            running += entry.amount;
            checks += 1;
            if entry.balance_after != running {
                differ(format!(
                    "entry {}: balance_after {} but the entries sum to {running}",
                    entry.id, entry.balance_after
                ));
            }
        }
        for lot in &lots {
            checks += 3;
            if lot.remaining < 0 {
                differ(format!("lot {} is negative: {}", lot.id, lot.remaining));
            }
            if remaining.get(&lot.id).copied().unwrap_or(0) != lot.remaining {
                differ(format!(
                    "lot {}: remaining {} but its entries sum to {:?}",
                    lot.id,
                    lot.remaining,
                    remaining.get(&lot.id)
                ));
            }
            if granted.get(&lot.id).copied().unwrap_or(0) != lot.granted {
                differ(format!(
                    "lot {}: granted {} but its grants sum to {:?}",
                    lot.id,
                    lot.granted,
                    granted.get(&lot.id)
                ));
            }
        }
        // The balance recomputed from the lots as the entries left them.
        let recomputed_lots: Vec<_> = lots
            .iter()
            .map(|l| entity::lot::Model {
                remaining: remaining.get(&l.id).copied().unwrap_or(0),
                ..l.clone()
            })
            .collect();
        let recomputed = breakdown(&account, &recomputed_lots, ledger.config(), answered.as_of);
        checks += 2;
        if recomputed != answered {
            differ(format!(
                "account {account_id}: answered {answered:?}, recomputed {recomputed:?}"
            ));
        }
        if answered.available != running {
            differ(format!(
                "account {account_id}: available {} but the ledger sums to {running}",
                answered.available
            ));
        }
    }
    (checks, differences)
}
