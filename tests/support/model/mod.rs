//! A reference model of the credit rules (`shared/spec/credit-rules.md`): plain
//! in-memory state and transitions, written from the rules. It reuses only the billing
//! calendar (cycles and calendar months) of `studio_bff::rules`; accounts, lots, the
//! ledger, photos, edits, reports, purchases, invoices, credit notes, idempotency and the clock are
//! carried out here again, so a property test can hold the stored ledger against it.
//!
//! Ids are indices in creation order (account 0, 1, ...; lot 0, 1, ...), so a test can
//! map them onto the database's ids by creation order.
//!
//! Where the rules leave a detail open, the model follows the ledger's convention:
//! - one batch's CHARGE entries come in the order the lots were created (not spending order);
//! - an increase raises a lot to the new entitlement when that exceeds what the lot was
//!   granted (after a decrease, a smaller increase adds nothing this cycle);
//! - `balance_after` is the running sum of the account's entries;
//! - an invoice's year is the calendar year in the billing time zone;
//! - a refused request is not remembered under its idempotency key;
//! - refusals are checked in the order: key, batch, background, account, idempotency,
//!   logo, photos, credits.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use entity::enums::{Bucket, EntryKind, LogoPosition, PlanCode};
use studio_bff::config::Config;
use studio_bff::error::RefusalCode;
use studio_bff::rules::cycle::BillingCalendar;

pub type AccountId = usize;
pub type LotId = usize;
pub type PhotoId = usize;
pub type LogoId = usize;
pub type EditId = usize;

/// Longest idempotency key, in characters.
const MAX_KEY_CHARS: usize = 128;
/// Most listing slots an account may book.
const MAX_LISTING_SLOTS: i32 = 10_000;
/// A purchased lot is valid for this many calendar months.
const PURCHASE_VALIDITY_MONTHS: u32 = 12;

/// A business refusal: its code and, for the refusals that must say how many credits a
/// batch needs and how many are available, the message saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: RefusalCode,
    pub message: Option<String>,
}

fn refuse<T>(code: RefusalCode) -> Result<T, Refused> {
    Err(Refused { code, message: None })
}

/// One dealer's subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub plan: PlanCode,
    pub listing_slots: i32,
    pub created_at: DateTime<Utc>,
    pub cycle_start: DateTime<Utc>,
    pub next_reset_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Account {
    view: AccountView,
    /// Whether the launch promotion has been granted or can no longer be.
    promotion_done: bool,
    idempotency: HashMap<String, Remembered>,
}

/// One grant of credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub account: AccountId,
    pub bucket: Bucket,
    pub origin: String,
    pub granted: i32,
    pub remaining: i32,
    pub valid_from: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
    pub created_at: DateTime<Utc>,
    pub pack_id: Option<String>,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub lot: LotId,
    pub kind: EntryKind,
    pub bucket: Bucket,
    pub amount: i32,
    pub balance_after: i32,
    pub created_at: DateTime<Utc>,
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub account: AccountId,
    pub current_edit: Option<EditId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub account: AccountId,
    pub photo: PhotoId,
    pub background: String,
    pub logo: Option<LogoId>,
    pub position: Option<LogoPosition>,
    pub credits_charged: i32,
    pub lot: LotId,
    pub paid_from: Bucket,
    pub applied_at: DateTime<Utc>,
    pub reverted_at: Option<DateTime<Utc>>,
    /// When its credit went back. Nothing renders in the model, so every edit is
    /// given up on `render_give_up_minutes` after its charge and refunded then.
    pub refunded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub account: AccountId,
    pub photo: PhotoId,
    pub edit: EditId,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub account: AccountId,
    pub number: String,
    pub year: i32,
    pub sequence: i32,
    pub issued_at: DateTime<Utc>,
    /// Net.
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    /// Gross: subtotal + tax.
    pub total_cents: i64,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
}

/// A credit note voiding an invoice: the invoice's amounts negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNote {
    pub invoice: usize,
    pub number: String,
    pub issued_at: DateTime<Utc>,
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub account: AccountId,
    pub pack_id: String,
    pub lot: LotId,
    pub invoice: usize,
    pub purchased_at: DateTime<Utc>,
}

/// "Apply changes": photos (duplicates allowed), a background, optionally a logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyInput {
    pub photos: Vec<PhotoId>,
    pub background: String,
    pub logo: Option<(LogoId, LogoPosition)>,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub credits_charged: i32,
    pub edits: Vec<EditId>,
    pub unchanged: Vec<PhotoId>,
}

/// What a purchase created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchased {
    pub purchase: usize,
    pub invoice: usize,
    pub lot: LotId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Apply(ApplyInput),
    Purchase(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Applied(Applied),
    Purchased(Purchased),
}

#[derive(Debug, Clone)]
struct Remembered {
    request: Request,
    answer: Answer,
    at: DateTime<Utc>,
}

/// The billing page's breakdown, lots named by model id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownView {
    pub available: i32,
    pub unlimited: bool,
    /// (granted, remaining, starts at, expires at)
    pub launch_promotion: Option<(i32, i32, DateTime<Utc>, DateTime<Utc>)>,
    pub monthly: MonthlyView,
    pub purchased_remaining: i32,
    /// Purchased lots in spending order.
    pub purchased: Vec<LotId>,
    /// (used, cap) for premium.
    pub fair_use: Option<(i32, i32)>,
    /// (credits, at, bucket of the first to be spent)
    pub next_expiry: Option<(i32, DateTime<Utc>, Bucket)>,
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyView {
    pub granted: i32,
    pub used: i32,
    pub remaining: i32,
    pub cycle_start: DateTime<Utc>,
    pub resets_at: DateTime<Utc>,
}

/// Events the clock alone makes due, in the order they apply at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A render given up on: at one instant before every other event.
    GiveUp(EditId),
    Expiry(LotId),
    Reset,
    Promotion,
}

/// The whole state of the rules.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: Config,
    calendar: BillingCalendar,
    pub now: DateTime<Utc>,
    accounts: Vec<Account>,
    pub lots: Vec<Lot>,
    /// Each account's ledger, oldest entry first.
    entries: Vec<Vec<Entry>>,
    pub photos: Vec<Photo>,
    pub logos: Vec<AccountId>,
    pub edits: Vec<Edit>,
    pub reports: Vec<Report>,
    pub purchases: Vec<Purchase>,
    pub invoices: Vec<Invoice>,
    invoice_sequences: BTreeMap<i32, i32>,
    pub credit_notes: Vec<CreditNote>,
    credit_note_sequences: BTreeMap<i32, i32>,
}

impl Model {
    pub fn new(config: Config, now: DateTime<Utc>) -> Self {
        Model {
            calendar: BillingCalendar::new(config.monthly_reset_day, config.billing_time_zone),
            config,
            now,
            accounts: Vec::new(),
            lots: Vec::new(),
            entries: Vec::new(),
            photos: Vec::new(),
            logos: Vec::new(),
            edits: Vec::new(),
            reports: Vec::new(),
            purchases: Vec::new(),
            invoices: Vec::new(),
            invoice_sequences: BTreeMap::new(),
            credit_notes: Vec::new(),
            credit_note_sequences: BTreeMap::new(),
        }
    }

    // ----- reading -----

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    pub fn account(&self, a: AccountId) -> &AccountView {
        &self.accounts[a].view
    }

    pub fn entries(&self, a: AccountId) -> &[Entry] {
        &self.entries[a]
    }

    /// The account's lots, oldest first.
    pub fn lots_of(&self, a: AccountId) -> Vec<LotId> {
        (0..self.lots.len()).filter(|id| self.lots[*id].account == a).collect()
    }

    pub fn photos_of(&self, a: AccountId) -> Vec<PhotoId> {
        (0..self.photos.len())
            .filter(|id| self.photos[*id].account == a)
            .collect()
    }

    pub fn logos_of(&self, a: AccountId) -> Vec<LogoId> {
        (0..self.logos.len()).filter(|id| self.logos[*id] == a).collect()
    }

    /// Lots whose expiry is not yet written, oldest first.
    fn live_lots(&self, a: AccountId) -> Vec<LotId> {
        (0..self.lots.len())
            .filter(|id| self.lots[*id].account == a && !self.lots[*id].expired)
            .collect()
    }

    /// Credits usable now: the remaining credits of every unexpired lot.
    pub fn available(&self, a: AccountId) -> i32 {
        self.live_lots(a).into_iter().map(|id| self.lots[id].remaining).sum()
    }

    /// Promotion, monthly, purchased; inside a bucket the earliest expiry, then the
    /// older lot, then the lower id.
    fn spending_rank(&self, id: LotId) -> (u8, DateTime<Utc>, DateTime<Utc>, LotId) {
        let lot = &self.lots[id];
        let bucket = match lot.bucket {
            Bucket::LaunchPromotion => 0,
            Bucket::Monthly => 1,
            Bucket::Purchased => 2,
        };
        (bucket, lot.expires_at, lot.created_at, id)
    }

    /// The account's usable lots in spending order.
    fn usable_in_spending_order(&self, a: AccountId) -> Vec<LotId> {
        let mut lots: Vec<LotId> = self
            .live_lots(a)
            .into_iter()
            .filter(|id| {
                let lot = &self.lots[*id];
                lot.valid_from <= self.now && self.now < lot.expires_at
            })
            .collect();
        lots.sort_by_key(|id| self.spending_rank(*id));
        lots
    }

    /// What the billing page shows now.
    pub fn breakdown(&self, a: AccountId) -> BreakdownView {
        let account = &self.accounts[a].view;
        let usable = self.usable_in_spending_order(a);
        let first_of = |bucket| usable.iter().copied().find(|id| self.lots[*id].bucket == bucket);
        let monthly_lot = first_of(Bucket::Monthly).map(|id| &self.lots[id]);
        let monthly = MonthlyView {
            granted: monthly_lot.map_or(0, |l| l.granted),
            used: monthly_lot.map_or(0, |l| l.granted - l.remaining),
            remaining: monthly_lot.map_or(0, |l| l.remaining),
            cycle_start: account.cycle_start,
            resets_at: account.next_reset_at,
        };
        let premium = account.plan == PlanCode::Premium;
        let purchased: Vec<LotId> = usable
            .iter()
            .copied()
            .filter(|id| self.lots[*id].bucket == Bucket::Purchased && self.lots[*id].remaining > 0)
            .collect();
        let next_expiry = usable
            .iter()
            .map(|id| &self.lots[*id])
            .filter(|l| l.remaining > 0)
            .map(|l| l.expires_at)
            .min()
            .map(|at| {
                let expiring: Vec<&Lot> = usable
                    .iter()
                    .map(|id| &self.lots[*id])
                    .filter(|l| l.remaining > 0 && l.expires_at == at)
                    .collect();
                (expiring.iter().map(|l| l.remaining).sum(), at, expiring[0].bucket)
            });
        BreakdownView {
            available: usable.iter().map(|id| self.lots[*id].remaining).sum(),
            unlimited: premium && monthly.used < self.config.fair_use_cap && monthly.remaining > 0,
            launch_promotion: first_of(Bucket::LaunchPromotion).map(|id| {
                let l = &self.lots[id];
                (l.granted, l.remaining, l.valid_from, l.expires_at)
            }),
            purchased_remaining: purchased.iter().map(|id| self.lots[*id].remaining).sum(),
            purchased,
            fair_use: premium.then_some((monthly.used, self.config.fair_use_cap)),
            next_expiry,
            monthly,
            as_of: self.now,
        }
    }

    // ----- entitlements (credit-rules.md §2) -----

    /// Credits one cycle grants.
    pub fn monthly_entitlement(&self, plan: PlanCode, slots: i32) -> i32 {
        match plan {
            PlanCode::Premium => self.config.fair_use_cap,
            PlanCode::ProfessionalPlus => slots * self.config.professional_plus_credits_per_slot,
            PlanCode::Professional => slots * self.config.professional_credits_per_slot,
            PlanCode::Basic => 0,
        }
    }

    /// Credits of the launch promotion.
    pub fn promotion_entitlement(&self, plan: PlanCode, slots: i32) -> i32 {
        self.config
            .plans
            .get(&plan)
            .map_or(0, |p| p.promotion_credits_per_slot * slots)
    }

    /// `[launch_at, launch_at + launch_promotion_days)`.
    pub fn promotion_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.config.launch_at.map(|start| {
            (
                start,
                start + Duration::days(i64::from(self.config.launch_promotion_days)),
            )
        })
    }

    /// At launch for an account that exists then, at creation inside the window.
    fn promotion_grant_at(&self, created_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = self.promotion_window()?;
        let at = created_at.max(start);
        (at < end).then_some(at)
    }

    fn retention(&self) -> Duration {
        Duration::hours(i64::from(self.config.idempotency_retention_hours))
    }

    // ----- the ledger -----

    /// Changes a lot by `amount` and writes its entry; a GRANT also raises `granted`.
    /// Any kind: REFUND (+) and ADJUSTMENT (±) change only what remains.
    pub fn post(&mut self, lot: LotId, kind: EntryKind, amount: i32, at: DateTime<Utc>, cause: &str) {
        let l = &mut self.lots[lot];
        l.remaining += amount;
        if kind == EntryKind::Grant {
            l.granted += amount;
        }
        assert!(l.remaining >= 0, "model: lot {lot} went below zero");
        let (account, bucket) = (l.account, l.bucket);
        let balance_after = self.available(account);
        self.entries[account].push(Entry {
            lot,
            kind,
            bucket,
            amount,
            balance_after,
            created_at: at,
            cause: cause.to_owned(),
        });
    }

    /// Gives the edit's credit back to the lot that paid; a lot expired meanwhile takes
    /// it and expires it at the same instant. `cause` names the edit by its model id
    /// (the test maps the stored causes onto it).
    fn refund(&mut self, edit: EditId, at: DateTime<Utc>, cause: &str) {
        let (lot, credits) = (self.edits[edit].lot, self.edits[edit].credits_charged);
        self.edits[edit].refunded_at = Some(at);
        if !self.lots[lot].expired {
            self.post(lot, EntryKind::Refund, credits, at, cause);
            return;
        }
        let (account, bucket) = (self.lots[lot].account, self.lots[lot].bucket);
        let balance = self.available(account);
        for (kind, amount, balance_after, cause) in [
            (EntryKind::Refund, credits, balance + credits, cause),
            (EntryKind::Expiry, -credits, balance, "expiry"),
        ] {
            self.entries[account].push(Entry {
                lot,
                kind,
                bucket,
                amount,
                balance_after,
                created_at: at,
                cause: cause.to_owned(),
            });
        }
    }

    /// A new lot of `credits`, valid from `at`, with its GRANT entry.
    #[allow(clippy::too_many_arguments)]
    fn grant_new_lot(
        &mut self,
        account: AccountId,
        bucket: Bucket,
        origin: String,
        credits: i32,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        pack_id: Option<String>,
        cause: &str,
    ) -> LotId {
        // A promotion lot counts from its campaign's start, whenever it was granted.
        let valid_from = match (bucket, self.promotion_window()) {
            (Bucket::LaunchPromotion, Some((start, _))) => start,
            _ => at,
        };
        self.lots.push(Lot {
            account,
            bucket,
            origin,
            granted: 0,
            remaining: 0,
            valid_from,
            expires_at,
            expired: false,
            created_at: at,
            pack_id,
        });
        let id = self.lots.len() - 1;
        self.post(id, EntryKind::Grant, credits, at, cause);
        id
    }

    fn cycle_origin(start: DateTime<Utc>) -> String {
        format!("cycle:{}", start.to_rfc3339())
    }

    /// The monthly lot of the cycle starting at `cycle_start`, if the plan includes credits.
    fn grant_monthly(&mut self, a: AccountId, at: DateTime<Utc>, cause: &str) {
        let view = &self.accounts[a].view;
        let credits = self.monthly_entitlement(view.plan, view.listing_slots);
        let (origin, end) = (Self::cycle_origin(view.cycle_start), view.next_reset_at);
        if credits > 0 {
            self.grant_new_lot(a, Bucket::Monthly, origin, credits, at, end, None, cause);
        }
    }

    /// Applies, in time order, what the clock made due for the account by `to`: at one
    /// instant expiries first (in spending order), then the reset, then the promotion.
    fn catch_up(&mut self, a: AccountId, to: DateTime<Utc>) {
        loop {
            let mut due: Vec<(DateTime<Utc>, Due)> = Vec::new();
            let give_up = Duration::minutes(i64::from(self.config.render_give_up_minutes));
            for (id, edit) in self.edits.iter().enumerate() {
                if edit.account == a && edit.refunded_at.is_none() && edit.applied_at + give_up <= to {
                    due.push((edit.applied_at + give_up, Due::GiveUp(id)));
                }
            }
            for id in self.live_lots(a) {
                if self.lots[id].expires_at <= to {
                    due.push((self.lots[id].expires_at, Due::Expiry(id)));
                }
            }
            let account = &self.accounts[a];
            if account.view.next_reset_at <= to {
                due.push((account.view.next_reset_at, Due::Reset));
            }
            if !account.promotion_done
                && let Some(at) = self.promotion_grant_at(account.view.created_at)
                && at <= to
            {
                due.push((at, Due::Promotion));
            }
            let Some((at, event)) = due.into_iter().min_by_key(|(at, event)| {
                let rank = match event {
                    Due::GiveUp(id) => (0, None, Some(*id)),
                    Due::Expiry(id) => (1, Some(self.spending_rank(*id)), None),
                    Due::Reset => (2, None, None),
                    Due::Promotion => (3, None, None),
                };
                (*at, rank)
            }) else {
                break;
            };
            match event {
                Due::GiveUp(id) => self.refund(id, at, &format!("give_up:{id}")),
                Due::Expiry(id) => {
                    let remaining = self.lots[id].remaining;
                    if remaining > 0 {
                        self.post(id, EntryKind::Expiry, -remaining, at, "expiry");
                    }
                    self.lots[id].expired = true;
                }
                Due::Reset => {
                    let view = &mut self.accounts[a].view;
                    view.cycle_start = at;
                    view.next_reset_at = self.calendar.cycle_containing(at).end;
                    self.grant_monthly(a, at, "reset");
                }
                Due::Promotion => {
                    let view = &self.accounts[a].view;
                    let credits = self.promotion_entitlement(view.plan, view.listing_slots);
                    let (_, end) = self.promotion_window().expect("a promotion window");
                    if credits > 0 {
                        self.grant_new_lot(
                            a,
                            Bucket::LaunchPromotion,
                            "promotion".into(),
                            credits,
                            at,
                            end,
                            None,
                            "promotion",
                        );
                    }
                    self.accounts[a].promotion_done = true;
                }
            }
        }
        let account = &self.accounts[a];
        if !account.promotion_done
            && self.config.launch_at.is_some()
            && self.promotion_grant_at(account.view.created_at).is_none()
        {
            self.accounts[a].promotion_done = true;
        }
    }

    fn existing(&self, account: Option<AccountId>) -> Result<AccountId, Refused> {
        match account {
            Some(a) if a < self.accounts.len() => Ok(a),
            _ => refuse(RefusalCode::AccountNotFound),
        }
    }

    // ----- operations -----

    /// Moves the clock forward (never back) and applies what it made due.
    pub fn set_clock(&mut self, to: DateTime<Utc>) -> Result<DateTime<Utc>, Refused> {
        if to < self.now {
            return refuse(RefusalCode::InvalidInput);
        }
        self.now = to;
        for a in 0..self.accounts.len() {
            self.catch_up(a, to);
        }
        Ok(to)
    }

    /// Opens an account with the full entitlement of the cycle it starts in, and the
    /// launch promotion when created inside its window.
    pub fn create_account(&mut self, plan: PlanCode, slots: i32) -> Result<AccountId, Refused> {
        if !(0..=MAX_LISTING_SLOTS).contains(&slots) {
            return refuse(RefusalCode::InvalidInput);
        }
        let now = self.now;
        let cycle = self.calendar.cycle_containing(now);
        self.accounts.push(Account {
            view: AccountView {
                plan,
                listing_slots: slots,
                created_at: now,
                cycle_start: cycle.start,
                next_reset_at: cycle.end,
            },
            promotion_done: false,
            idempotency: HashMap::new(),
        });
        self.entries.push(Vec::new());
        let a = self.accounts.len() - 1;
        self.grant_monthly(a, now, "account");
        self.catch_up(a, now);
        Ok(a)
    }

    /// Increases take effect at once (the current monthly lot, and the promotion lot
    /// inside its window, are raised to the new entitlement, or created); decreases
    /// wait for the next reset.
    pub fn update_subscription(
        &mut self,
        account: Option<AccountId>,
        plan: PlanCode,
        slots: i32,
    ) -> Result<AccountView, Refused> {
        if !(0..=MAX_LISTING_SLOTS).contains(&slots) {
            return refuse(RefusalCode::InvalidInput);
        }
        let a = self.existing(account)?;
        let now = self.now;
        let view = &mut self.accounts[a].view;
        view.plan = plan;
        view.listing_slots = slots;
        let (origin, end) = (Self::cycle_origin(view.cycle_start), view.next_reset_at);
        let monthly = self.monthly_entitlement(plan, slots);
        self.raise_to(a, Bucket::Monthly, origin, monthly, end);
        if let Some((_, window_end)) = self.promotion_window()
            && self.accounts[a].promotion_done
            && now < window_end
        {
            let promotion = self.promotion_entitlement(plan, slots);
            self.raise_to(a, Bucket::LaunchPromotion, "promotion".into(), promotion, window_end);
        }
        Ok(self.accounts[a].view.clone())
    }

    fn raise_to(&mut self, a: AccountId, bucket: Bucket, origin: String, credits: i32, expires_at: DateTime<Utc>) {
        let now = self.now;
        let current = self.live_lots(a).into_iter().find(|id| self.lots[*id].origin == origin);
        match current {
            Some(id) if credits > self.lots[id].granted => {
                let more = credits - self.lots[id].granted;
                self.post(id, EntryKind::Grant, more, now, "plan_change");
            }
            None if credits > 0 => {
                self.grant_new_lot(a, bucket, origin, credits, now, expires_at, None, "plan_change");
            }
            _ => {}
        }
    }

    pub fn register_photos(&mut self, account: Option<AccountId>, n: usize) -> Result<Vec<PhotoId>, Refused> {
        if n == 0 || n > 500 {
            return refuse(RefusalCode::InvalidInput);
        }
        let a = self.existing(account)?;
        let first = self.photos.len();
        self.photos.extend((0..n).map(|_| Photo {
            account: a,
            current_edit: None,
        }));
        Ok((first..first + n).collect())
    }

    pub fn add_logo(&mut self, account: Option<AccountId>) -> Result<LogoId, Refused> {
        let a = self.existing(account)?;
        if self.logos_of(a).len() >= self.config.max_logos {
            return refuse(RefusalCode::TooManyLogos);
        }
        self.logos.push(a);
        Ok(self.logos.len() - 1)
    }

    fn check_key(key: &str) -> Result<(), Refused> {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_KEY_CHARS || key.chars().any(char::is_control) {
            return refuse(RefusalCode::InvalidInput);
        }
        Ok(())
    }

    /// The first answer to `key` if it is remembered with the same request; refused if
    /// remembered with another request; `None` if not remembered (or forgotten).
    fn first_answer(&mut self, a: AccountId, key: &str, request: &Request) -> Result<Option<Answer>, Refused> {
        let retention = self.retention();
        let now = self.now;
        let records = &mut self.accounts[a].idempotency;
        match records.get(key) {
            None => Ok(None),
            Some(r) if r.at + retention <= now => {
                records.remove(key);
                Ok(None)
            }
            Some(r) if r.request == *request => Ok(Some(r.answer.clone())),
            Some(_) => refuse(RefusalCode::IdempotencyKeyReused),
        }
    }

    fn remember(&mut self, a: AccountId, key: &str, request: Request, answer: Answer) {
        let at = self.now;
        self.accounts[a]
            .idempotency
            .insert(key.to_owned(), Remembered { request, answer, at });
    }

    /// "Apply changes". Returns what it did and whether it acted (false: a replay).
    pub fn apply(
        &mut self,
        account: Option<AccountId>,
        input: &ApplyInput,
        key: &str,
    ) -> Result<(Applied, bool), Refused> {
        Self::check_key(key)?;
        let mut distinct: Vec<PhotoId> = Vec::new();
        for p in &input.photos {
            if !distinct.contains(p) {
                distinct.push(*p);
            }
        }
        if distinct.is_empty() {
            return refuse(RefusalCode::EmptyBatch);
        }
        if distinct.len() > self.config.max_batch_photos {
            return refuse(RefusalCode::BatchTooLarge);
        }
        if !self.config.backgrounds.iter().any(|b| b.id == input.background) {
            return refuse(RefusalCode::BackgroundNotFound);
        }
        let a = self.existing(account)?;
        // The batch is compared as a set: order and repeats do not make another input.
        let mut as_set = ApplyInput {
            photos: distinct.clone(),
            ..input.clone()
        };
        as_set.photos.sort_unstable();
        let request = Request::Apply(as_set);
        if let Some(answer) = self.first_answer(a, key, &request)? {
            let Answer::Applied(applied) = answer else {
                unreachable!("an apply request remembered a purchase")
            };
            return Ok((applied, false));
        }
        if let Some((logo, _)) = input.logo
            && self.logos.get(logo) != Some(&a)
        {
            return refuse(RefusalCode::LogoNotFound);
        }
        if input
            .photos
            .iter()
            .any(|p| self.photos.get(*p).map(|p| p.account) != Some(a))
        {
            return refuse(RefusalCode::PhotoNotFound);
        }
        let wanted = (
            input.background.clone(),
            input.logo.map(|l| l.0),
            input.logo.map(|l| l.1),
        );
        let (unchanged, chargeable): (Vec<PhotoId>, Vec<PhotoId>) = distinct.into_iter().partition(|p| {
            self.photos[*p].current_edit.is_some_and(|e| {
                let edit = &self.edits[e];
                (edit.background.clone(), edit.logo, edit.position) == wanted
            })
        });
        let needed = chargeable.len();
        let mut payers: Vec<LotId> = Vec::new();
        for id in self.usable_in_spending_order(a) {
            for _ in 0..self.lots[id].remaining {
                if payers.len() < needed {
                    payers.push(id);
                }
            }
        }
        if payers.len() < needed {
            let available = self.available(a);
            let premium = self.accounts[a].view.plan == PlanCode::Premium;
            let monthly_left = self
                .live_lots(a)
                .into_iter()
                .any(|id| self.lots[id].bucket == Bucket::Monthly && self.lots[id].remaining > 0);
            return Err(if premium && !monthly_left && available == 0 {
                Refused {
                    code: RefusalCode::FairUseCapReached,
                    message: Some(format!(
                        "The fair-use cap of this cycle is used up; this batch needs {needed} credits and 0 are available."
                    )),
                }
            } else {
                Refused {
                    code: RefusalCode::InsufficientCredits,
                    message: Some(format!(
                        "This batch needs {needed} credits and {available} are available."
                    )),
                }
            });
        }
        let now = self.now;
        let mut edits = Vec::new();
        let mut per_lot: BTreeMap<LotId, i32> = BTreeMap::new();
        for (photo, lot) in chargeable.iter().zip(&payers) {
            self.edits.push(Edit {
                account: a,
                photo: *photo,
                background: wanted.0.clone(),
                logo: wanted.1,
                position: wanted.2,
                credits_charged: 1,
                lot: *lot,
                paid_from: self.lots[*lot].bucket,
                applied_at: now,
                reverted_at: None,
                refunded_at: None,
            });
            let edit = self.edits.len() - 1;
            self.photos[*photo].current_edit = Some(edit);
            edits.push(edit);
            *per_lot.entry(*lot).or_default() += 1;
        }
        let cause = format!("apply:{key}");
        for (lot, credits) in per_lot {
            self.post(lot, EntryKind::Charge, -credits, now, &cause);
        }
        let applied = Applied {
            credits_charged: i32::try_from(edits.len()).expect("a small batch"),
            edits,
            unchanged,
        };
        self.remember(a, key, request, Answer::Applied(applied.clone()));
        Ok((applied, true))
    }

    /// Shows the original again; free; a no-op for a photo without an edit.
    pub fn revert(&mut self, account: Option<AccountId>, photos: &[PhotoId]) -> Result<Vec<PhotoId>, Refused> {
        let mut distinct: Vec<PhotoId> = Vec::new();
        for p in photos {
            if !distinct.contains(p) {
                distinct.push(*p);
            }
        }
        if distinct.is_empty() {
            return refuse(RefusalCode::EmptyBatch);
        }
        if distinct.len() > self.config.max_batch_photos {
            return refuse(RefusalCode::BatchTooLarge);
        }
        let a = self.existing(account)?;
        if photos.iter().any(|p| self.photos.get(*p).map(|p| p.account) != Some(a)) {
            return refuse(RefusalCode::PhotoNotFound);
        }
        let now = self.now;
        for p in &distinct {
            if let Some(edit) = self.photos[*p].current_edit.take() {
                self.edits[edit].reverted_at = Some(now);
            }
        }
        Ok(distinct)
    }

    /// Reports the edit a photo shows; free, any number of times.
    pub fn report(&mut self, account: Option<AccountId>, photo: PhotoId) -> Result<usize, Refused> {
        let a = self.existing(account)?;
        let Some(p) = self.photos.get(photo).filter(|p| p.account == a) else {
            return refuse(RefusalCode::PhotoNotFound);
        };
        let Some(edit) = p.current_edit else {
            return refuse(RefusalCode::PhotoNotEdited);
        };
        self.reports.push(Report {
            account: a,
            photo,
            edit,
            reported_at: self.now,
        });
        Ok(self.reports.len() - 1)
    }

    /// Buys a pack of the plan's catalog: a lot valid 12 calendar months and an
    /// invoice numbered without gaps per calendar year.
    pub fn purchase(
        &mut self,
        account: Option<AccountId>,
        pack_id: &str,
        key: &str,
    ) -> Result<(Purchased, bool), Refused> {
        Self::check_key(key)?;
        let a = self.existing(account)?;
        let request = Request::Purchase(pack_id.to_owned());
        if let Some(answer) = self.first_answer(a, key, &request)? {
            let Answer::Purchased(purchased) = answer else {
                unreachable!("a purchase request remembered an apply")
            };
            return Ok((purchased, false));
        }
        let plan = self.accounts[a].view.plan;
        let Some(pack) = self
            .config
            .packs
            .iter()
            .find(|p| p.id == pack_id && p.plans.contains(&plan))
            .cloned()
        else {
            return refuse(RefusalCode::PackNotAvailable);
        };
        let now = self.now;
        let price =
            i64::from(pack.credits) * self.config.credit_price_cents * i64::from(100 - pack.discount_percent) / 100;
        let year = now.with_timezone(&self.config.billing_time_zone).year();
        let sequence = {
            let last = self.invoice_sequences.entry(year).or_insert(0);
            *last += 1;
            *last
        };
        let number = format!("INV-{year}-{sequence:06}");
        // VAT on the net price, half a cent and more rounded up.
        let tax = (price * i64::from(self.config.vat_percent) + 50) / 100;
        self.invoices.push(Invoice {
            account: a,
            number: number.clone(),
            year,
            sequence,
            issued_at: now,
            subtotal_cents: price,
            tax_cents: tax,
            total_cents: price + tax,
            currency: self.config.currency.clone(),
            lines: vec![InvoiceLine {
                quantity: 1,
                unit_price_cents: price,
                amount_cents: price,
            }],
        });
        let invoice = self.invoices.len() - 1;
        let origin = format!("purchase:{number}");
        let expires_at = self.calendar.add_months(now, PURCHASE_VALIDITY_MONTHS);
        let lot = self.grant_new_lot(
            a,
            Bucket::Purchased,
            origin.clone(),
            pack.credits,
            now,
            expires_at,
            Some(pack.id.clone()),
            &origin,
        );
        self.purchases.push(Purchase {
            account: a,
            pack_id: pack.id,
            lot,
            invoice,
            purchased_at: now,
        });
        let purchased = Purchased {
            purchase: self.purchases.len() - 1,
            invoice,
            lot,
        };
        self.remember(a, key, request, Answer::Purchased(purchased.clone()));
        Ok((purchased, true))
    }

    /// Voids an invoice with a credit note numbered without gaps per calendar year,
    /// taking its pack's credits back with an ADJUSTMENT; a pack with any credit spent
    /// (or expired) is refused, and a voided invoice answers its first credit note.
    pub fn void_invoice(&mut self, invoice: usize) -> Result<usize, Refused> {
        let Some(billed) = self.invoices.get(invoice).cloned() else {
            return refuse(RefusalCode::InvoiceNotFound);
        };
        if let Some(note) = self.credit_notes.iter().position(|n| n.invoice == invoice) {
            return Ok(note);
        }
        let lot = self
            .purchases
            .iter()
            .find(|p| p.invoice == invoice)
            .expect("every invoice has its purchase")
            .lot;
        let pack = &self.lots[lot];
        if pack.expired || pack.remaining != pack.granted {
            return refuse(RefusalCode::PackPartlyUsed);
        }
        let now = self.now;
        let year = now.with_timezone(&self.config.billing_time_zone).year();
        let sequence = {
            let last = self.credit_note_sequences.entry(year).or_insert(0);
            *last += 1;
            *last
        };
        let number = format!("CN-{year}-{sequence:06}");
        let remaining = pack.remaining;
        self.post(
            lot,
            EntryKind::Adjustment,
            -remaining,
            now,
            &format!("credit_note:{number}"),
        );
        self.credit_notes.push(CreditNote {
            invoice,
            number,
            issued_at: now,
            subtotal_cents: -billed.subtotal_cents,
            tax_cents: -billed.tax_cents,
            total_cents: -billed.total_cents,
        });
        Ok(self.credit_notes.len() - 1)
    }

    /// The next instant something is due for any account after now, if any.
    pub fn next_event(&self) -> Option<DateTime<Utc>> {
        let mut instants = Vec::new();
        for (a, account) in self.accounts.iter().enumerate() {
            instants.push(account.view.next_reset_at);
            for id in self.live_lots(a) {
                instants.push(self.lots[id].expires_at);
            }
        }
        let give_up = Duration::minutes(i64::from(self.config.render_give_up_minutes));
        instants.extend(
            self.edits
                .iter()
                .filter(|e| e.refunded_at.is_none())
                .map(|e| e.applied_at + give_up),
        );
        if let Some((start, end)) = self.promotion_window() {
            instants.extend([start, end]);
        }
        instants.into_iter().filter(|t| *t > self.now).min()
    }

    /// Checks the model's own books: per lot, entries sum to remaining, GRANT entries to
    /// granted, remaining >= 0; per account, balance_after is the running sum.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (id, lot) in self.lots.iter().enumerate() {
            let entries: Vec<&Entry> = self.entries[lot.account].iter().filter(|e| e.lot == id).collect();
            let sum: i32 = entries.iter().map(|e| e.amount).sum();
            let granted: i32 = entries
                .iter()
                .filter(|e| e.kind == EntryKind::Grant)
                .map(|e| e.amount)
                .sum();
            if (sum, granted) != (lot.remaining, lot.granted) || lot.remaining < 0 {
                return Err(format!("model lot {id} does not add up: {lot:?}"));
            }
        }
        for (a, entries) in self.entries.iter().enumerate() {
            let mut running = 0;
            for e in entries {
                running += e.amount;
                if e.balance_after != running {
                    return Err(format!("model account {a}: balance_after of {e:?}"));
                }
            }
        }
        Ok(())
    }
}
