//! The accounts and lots the rules' unit tables are written with.
use chrono::{DateTime, Utc};
use entity::enums::{Bucket, PlanCode};
use entity::{account, lot};

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid instant")
}

/// Account 1 on `plan`, 50 slots, in the cycle of December 2026, considered for `launch`.
pub fn account(plan: PlanCode) -> account::Model {
    account::Model {
        id: 1,
        name: "Autohaus".into(),
        plan,
        listing_slots: 50,
        created_at: utc("2026-11-01T00:00:00Z"),
        cycle_start: utc("2026-12-01T00:00:00Z"),
        next_reset_at: utc("2027-01-01T00:00:00Z"),
        promotion_processed: true,
        promotions_considered: ",launch,".into(),
        external_id: None,
        subscription_sequence: None,
        edit_revision: 0,
        buyer_address: None,
        buyer_vat_id: None,
        credits_low: false,
    }
}

/// A lot of account 1, granted at `from` and usable until `to`.
pub fn lot(id: i64, bucket: Bucket, granted: i32, remaining: i32, from: &str, to: &str) -> lot::Model {
    lot::Model {
        id,
        account_id: 1,
        bucket,
        origin: format!("test:{id}"),
        granted,
        remaining,
        valid_from: utc(from),
        expires_at: utc(to),
        expired: false,
        created_at: utc(from),
        pack_id: None,
        expiry_warned_at: None,
    }
}
