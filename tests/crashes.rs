//! Crashes: the real binary, in a process of its own, is killed with SIGKILL at a random
//! moment while several clients send applies and purchases over a few accounts, then
//! started again on the same database and port. After every restart:
//!
//! - every apply or purchase whose success reached its client is stored exactly once:
//!   one idempotency record whose first answer is the one the client got, its edits and
//!   charges, or its purchase, lot, invoice and grant; a refused one stored nothing;
//! - everything stored belongs to exactly one idempotency key the clients sent, invoice
//!   numbers have no gap, and the auditor (`common::audit`) finds no negative lot, no
//!   lot whose entries do not sum to its remaining, no wrong `balance_after`;
//! - every request the kill cut, sent again with its idempotency key, is answered: with
//!   its first answer if it had committed, else by acting once; sent a third time, it
//!   gets the same answer as the second;
//! - a few answered requests, sent again, get the same answer and change nothing.
//!
//! A "same answer" is the payload but for what later operations change: the balance
//! now, and a purchased lot's remaining credits. SQLite runs in WAL mode with
//! `synchronous=NORMAL`, which may lose the last transactions on an OS crash but never
//! on a process crash, which is what is tested here.
//!
//! The same rounds run again with a render service at work (`renders`), and a webhook
//! receiver is held mid-delivery while the service is killed (`webhooks`).
//!
//! `CRASH_ROUNDS` sets the rounds per database of every suite here: by default (CI) 20,
//! 10 with renders and 4 of webhooks. The long round, on both databases:
//!
//! ```sh
//! CRASH_ROUNDS=100 TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo test --release --test crashes -- --nocapture
//! ```
#[path = "support/api_support/mod.rs"]
mod api_support;
#[path = "support/common/mod.rs"]
mod common;
#[path = "crashes/renders.rs"]
mod renders;
#[path = "crashes/webhooks.rs"]
mod webhooks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use api_support::service::{Reply, Service, post_graphql};
use api_support::{SECRET, operation_document, user_error_codes};
use common::TestDb;
use common::audit::audit;
use entity::enums::{Bucket, EntryKind, PlanCode};
use entity::{edit, idempotency_record, invoice, ledger_entry, lot, purchase, render_job};
use hyper::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Role};
use studio_bff::clock::Clock;
use studio_bff::config::{ClockMode, Config};
use studio_bff::db::connect_and_migrate_pool;
use studio_bff::ids::Kind;
use studio_bff::ledger::{ApplyOutcome, Ledger, PurchaseOutcome};
use studio_bff::rules::catalog::packs_for;
use tokio::time::Instant;

/// Clients sending at once.
const CLIENTS: usize = 6;
/// The accounts: plan, GraphQL name, listing slots. Basic starts with no credits, so
/// its applies are refused until a purchase.
const ACCOUNTS: [(PlanCode, &str, i32); 4] = [
    (PlanCode::Professional, "PROFESSIONAL", 4),
    (PlanCode::Professional, "PROFESSIONAL", 2),
    (PlanCode::ProfessionalPlus, "PROFESSIONAL_PLUS", 2),
    (PlanCode::Basic, "BASIC", 0),
];
const PHOTOS_PER_ACCOUNT: usize = 12;
const BACKGROUNDS: [&str; 2] = ["showroom", "studio-white"];
/// Of the requests, the share that are purchases; the rest are applies.
const PURCHASE_SHARE: f64 = 0.25;
/// When the kill comes, in milliseconds after the clients start.
const KILL_AFTER_MS: RangeInclusive<u64> = 50..=600;
/// A client stops at the kill, and at the latest after this many requests or this long.
const MAX_REQUESTS_PER_CLIENT: usize = 5_000;
const ROUND_DEADLINE: Duration = Duration::from_secs(10);
/// Answered successes sent again in each round.
const ANSWERED_RETRIED_PER_ROUND: usize = 3;

/// The rounds per database: `CRASH_ROUNDS`, else `default`.
fn rounds(default: usize) -> usize {
    std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// One account of the load.
struct Account {
    id: i64,
    token: String,
    photos: Vec<String>,
    /// The global ids of the packs its plan offers.
    packs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Apply,
    Buy,
}

impl Op {
    /// The mutation's field in `data`.
    fn field(self) -> &'static str {
        match self {
            Op::Apply => "applyChanges",
            Op::Buy => "purchasePack",
        }
    }
}

/// What the clients send: the contract's documents and the backgrounds' global ids.
struct Load {
    apply_document: String,
    buy_document: String,
    backgrounds: Vec<String>,
}

/// One request as sent: enough to send it again.
#[derive(Debug, Clone)]
struct Sent {
    account: usize,
    op: Op,
    key: String,
    body: Value,
}

/// What reached the client.
#[derive(Debug, Clone)]
enum Outcome {
    /// A success, with its payload.
    Succeeded(Value),
    /// A business refusal, with its codes.
    Refused(Vec<String>),
    /// Sent, and cut by the kill before the answer arrived.
    InFlight,
    /// Anything else (a top-level error, another status): a violation.
    Unexpected(String),
}

/// The figures of one database's run.
#[derive(Default)]
struct Figures {
    rounds: usize,
    kills: usize,
    successes: usize,
    refusals: usize,
    in_flight: usize,
    /// In-flight requests that had committed before the kill.
    in_flight_committed: usize,
    answered_retried: usize,
    checks: usize,
    violations: usize,
}

/// Everything stored that the checks look at, read in one go after a restart.
struct Stored {
    /// Idempotency records by key (the keys are unique across accounts).
    records: HashMap<String, Vec<idempotency_record::Model>>,
    edits: Vec<edit::Model>,
    purchases: Vec<purchase::Model>,
    invoices: Vec<invoice::Model>,
    lots: Vec<lot::Model>,
    entries: Vec<ledger_entry::Model>,
    jobs: Vec<render_job::Model>,
}

/// One database's crash rounds: the service, the accounts, and everything the clients
/// were told.
struct Crashes {
    service: Service,
    /// A ledger over the same database, for the auditor and the lookups.
    ledger: Ledger,
    auth: Auth,
    accounts: Arc<Vec<Account>>,
    load: Arc<Load>,
    /// Every key sent, with its account's index and its operation.
    sent: HashMap<String, (usize, Op)>,
    /// The answer, as [`same`] compares it, of every success a client received.
    answers: HashMap<String, Value>,
    /// Keys refused and never sent again: nothing may ever be stored for them.
    refused: HashSet<String>,
    figures: Figures,
    /// The render service at work during the load, when the rounds have one.
    renderer: Option<renders::Renderer>,
    rng: StdRng,
}

impl Crashes {
    /// Starts the service on `db` and creates the accounts through the API; with a
    /// render service claiming and finishing jobs during the load when `renders`.
    async fn start(db: &TestDb, renders: bool) -> Crashes {
        let service = Service::start(&db.url, &[("STUDIO_RENDERER", "external")]).await;
        let auth = Auth::new(SECRET);
        let config = Config::default();
        let accounts = open_accounts(&service, &auth, &config).await;
        let ledger = ledger_on(db, config).await;
        let load = Arc::new(Load {
            apply_document: operation_document("ApplyChanges"),
            buy_document: operation_document("BuyPack"),
            backgrounds: BACKGROUNDS
                .iter()
                .map(|b| auth.ids().encode(Kind::Background, b))
                .collect(),
        });
        Crashes {
            service,
            ledger,
            accounts: Arc::new(accounts),
            load,
            sent: HashMap::new(),
            answers: HashMap::new(),
            refused: HashSet::new(),
            renderer: renders.then(|| renders::Renderer::new(&auth)),
            auth,
            figures: Figures::default(),
            rng: StdRng::seed_from_u64(rand::random()),
        }
    }

    /// Counts one check; a violation, printed, unless `ok`.
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.figures.checks += 1;
        if !ok {
            self.figures.violations += 1;
            eprintln!("violation: {}", what());
        }
    }

    /// One round: load, kill, restart, check.
    async fn round(&mut self, round: usize) {
        let (outcomes, results) = self.load_until_killed(round).await;
        self.figures.kills += 1;
        self.service.restart().await;
        self.figures.rounds += 1;

        // The state straight after the crash, before any retry could mend it.
        let stored = self.stored().await;
        let mut in_flight = Vec::new();
        let mut answered = Vec::new();
        for (sent, outcome) in outcomes {
            self.sent.insert(sent.key.clone(), (sent.account, sent.op));
            match outcome {
                Outcome::Succeeded(payload) => {
                    self.figures.successes += 1;
                    self.check_answer(&stored, &sent, &payload);
                    self.answers.insert(sent.key.clone(), same(&payload));
                    answered.push(sent);
                }
                Outcome::Refused(codes) => {
                    self.figures.refusals += 1;
                    self.check_refusal(&sent, &codes);
                    self.refused.insert(sent.key.clone());
                }
                Outcome::InFlight => in_flight.push(sent),
                Outcome::Unexpected(answer) => {
                    self.check(false, || {
                        format!("{}: neither a success nor a refusal: {answer}", sent.key)
                    });
                }
            }
        }

        for sent in in_flight {
            self.retry_in_flight(&stored, &sent).await;
        }
        self.retry_answered(answered).await;

        let stored = self.stored().await;
        self.check_everything_stored(&stored);
        if self.renderer.is_some() {
            self.check_renders(results).await;
        }
        let account_ids: Vec<i64> = self.accounts.iter().map(|a| a.id).collect();
        let (checks, differences) = audit(&self.ledger, &account_ids).await;
        self.figures.checks += checks;
        self.figures.violations += differences;
        assert_eq!(
            self.figures.violations,
            0,
            "round {round}: violations (printed above); the service's log:\n{}",
            self.service.log()
        );
    }

    /// Runs the clients (and the render service's, if any) until the kill, which comes
    /// at a random moment; what each request they sent became, and each render result.
    async fn load_until_killed(&mut self, round: usize) -> (Vec<(Sent, Outcome)>, Vec<renders::Run>) {
        let deadline = Instant::now() + ROUND_DEADLINE;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client(
                    self.service.addr.clone(),
                    self.accounts.clone(),
                    self.load.clone(),
                    format!("r{round}-c{c}"),
                    StdRng::seed_from_u64(self.rng.random()),
                    deadline,
                ))
            })
            .collect();
        let renderers: Vec<_> = match &self.renderer {
            Some(renderer) => (0..renders::CLIENTS)
                .map(|c| {
                    tokio::spawn(renderer.client(
                        self.service.addr.clone(),
                        format!("r{round}-r{c}"),
                        StdRng::seed_from_u64(self.rng.random()),
                        deadline,
                    ))
                })
                .collect(),
            None => Vec::new(),
        };
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(KILL_AFTER_MS))).await;
        self.service.kill();
        let mut outcomes = Vec::new();
        for client in clients {
            outcomes.extend(client.await.expect("a client ends without panicking"));
        }
        let mut runs = Vec::new();
        for renderer in renderers {
            runs.push(renderer.await.expect("a renderer ends without panicking"));
        }
        (outcomes, runs)
    }

    /// A request the kill cut, sent again twice: the first retry gets the stored first
    /// answer if the request had committed, else acts (or is refused); the second gets
    /// the same answer as the first.
    async fn retry_in_flight(&mut self, before: &Stored, sent: &Sent) {
        self.figures.in_flight += 1;
        let committed = before.records.contains_key(&sent.key);
        if committed {
            self.figures.in_flight_committed += 1;
        }
        let retried = self.send(sent).await;
        match &retried {
            Outcome::Succeeded(payload) => {
                if committed {
                    // The first answer, as stored before the retry.
                    self.check_answer(before, sent, payload);
                }
                self.answers.insert(sent.key.clone(), same(payload));
            }
            Outcome::Refused(codes) => {
                self.check(!committed, || {
                    format!(
                        "{}: committed before the kill, but its retry was refused: {codes:?}",
                        sent.key
                    )
                });
                self.check_refusal(sent, codes);
                self.refused.insert(sent.key.clone());
            }
            other => self.check(false, || format!("{}: retry after the restart: {other:?}", sent.key)),
        }
        let again = self.send(sent).await;
        let same_answer = match (&retried, &again) {
            (Outcome::Succeeded(a), Outcome::Succeeded(b)) => same(a) == same(b),
            (Outcome::Refused(a), Outcome::Refused(b)) => a == b,
            _ => false,
        };
        self.check(same_answer, || {
            format!("{}: retried twice, answered {retried:?} then {again:?}", sent.key)
        });
    }

    /// A few answered successes of the round, sent again: the same answer, and not one
    /// row more anywhere.
    async fn retry_answered(&mut self, mut answered: Vec<Sent>) {
        let before = self.counts().await;
        for _ in 0..ANSWERED_RETRIED_PER_ROUND.min(answered.len()) {
            let sent = answered.swap_remove(self.rng.random_range(0..answered.len()));
            self.figures.answered_retried += 1;
            let first = self.answers[&sent.key].clone();
            let again = self.send(&sent).await;
            let same_answer = matches!(&again, Outcome::Succeeded(payload) if same(payload) == first);
            self.check(same_answer, || {
                format!("{}: answered {first}, then {again:?}", sent.key)
            });
        }
        let after = self.counts().await;
        self.check(before == after, || {
            format!("answered requests sent again changed the rows (entries, edits, purchases, invoices, records): {before:?} -> {after:?}")
        });
    }

    /// Sends `sent` again to the running service.
    async fn send(&self, sent: &Sent) -> Outcome {
        let token = &self.accounts[sent.account].token;
        match post_graphql(&self.service.addr, Some(token), &sent.body).await {
            Reply::Answered(status, body) => judge(sent.op.field(), status, &body),
            other => Outcome::Unexpected(format!("no answer from the running service: {other:?}")),
        }
    }

    /// A success the client got is stored exactly once, and its stored first answer is
    /// the one the client got.
    fn check_answer(&mut self, stored: &Stored, sent: &Sent, payload: &Value) {
        let account_id = self.accounts[sent.account].id;
        let records = stored.records.get(&sent.key).map(Vec::as_slice).unwrap_or_default();
        self.check(records.len() == 1, || {
            format!("{}: answered a success, stored {} times", sent.key, records.len())
        });
        let Some(record) = records.first() else { return };
        self.check(record.account_id == account_id, || {
            format!("{}: stored for account {}", sent.key, record.account_id)
        });
        let ids = self.auth.ids().clone();
        let decode = |kind: Kind, id: &Value| id.as_str().and_then(|id| ids.decode_i64(kind, id));
        match sent.op {
            Op::Apply => {
                let Ok(first) = serde_json::from_str::<ApplyOutcome>(&record.response) else {
                    return self.check(false, || format!("{}: stored answer unreadable", sent.key));
                };
                let edits: Vec<Option<i64>> = array(&payload["edits"])
                    .iter()
                    .map(|e| decode(Kind::PhotoEdit, &e["id"]))
                    .collect();
                let unchanged: Vec<Option<i64>> = array(&payload["unchanged"])
                    .iter()
                    .map(|p| decode(Kind::Photo, &p["id"]))
                    .collect();
                let answered = (payload["creditsCharged"].as_i64(), edits, unchanged);
                let remembered = (
                    Some(i64::from(first.credits_charged)),
                    first.edit_ids.iter().copied().map(Some).collect::<Vec<_>>(),
                    first.unchanged_photo_ids.iter().copied().map(Some).collect::<Vec<_>>(),
                );
                self.check(answered == remembered, || {
                    format!("{}: answered {answered:?}, stored {remembered:?}", sent.key)
                });
                for answered_edit in array(&payload["edits"]) {
                    let id = decode(Kind::PhotoEdit, &answered_edit["id"]);
                    let photo = decode(Kind::Photo, &answered_edit["photo"]["id"]);
                    let row = stored.edits.iter().find(|e| Some(e.id) == id);
                    self.check(
                        row.is_some_and(|e| e.account_id == account_id && Some(e.photo_id) == photo),
                        || format!("{}: answered edit {answered_edit} is stored as {row:?}", sent.key),
                    );
                }
            }
            Op::Buy => {
                let Ok(first) = serde_json::from_str::<PurchaseOutcome>(&record.response) else {
                    return self.check(false, || format!("{}: stored answer unreadable", sent.key));
                };
                let answered = (
                    decode(Kind::Invoice, &payload["invoice"]["id"]),
                    decode(Kind::PurchasedLot, &payload["lot"]["id"]),
                );
                self.check(answered == (Some(first.invoice_id), Some(first.lot_id)), || {
                    format!("{}: answered {answered:?}, stored {first:?}", sent.key)
                });
                let invoice = stored.invoices.iter().find(|i| i.id == first.invoice_id);
                self.check(
                    invoice.is_some_and(|i| {
                        i.account_id == account_id && payload["invoice"]["number"] == i.number.as_str()
                    }),
                    || {
                        format!(
                            "{}: answered invoice {}, stored {invoice:?}",
                            sent.key, payload["invoice"]
                        )
                    },
                );
                let lot = stored.lots.iter().find(|l| l.id == first.lot_id);
                self.check(
                    lot.is_some_and(|l| l.account_id == account_id && payload["lot"]["granted"] == l.granted),
                    || format!("{}: answered lot {}, stored {lot:?}", sent.key, payload["lot"]),
                );
            }
        }
    }

    /// Only an apply may be refused, and only for want of credits.
    fn check_refusal(&mut self, sent: &Sent, codes: &[String]) {
        self.check(sent.op == Op::Apply && codes == ["INSUFFICIENT_CREDITS"], || {
            format!("{}: refused with {codes:?}", sent.key)
        });
    }

    /// Everything stored belongs to exactly one key the clients sent: every edit and
    /// charge to one apply's record, every purchase, lot, invoice and grant to one
    /// purchase's record; invoice numbers have no gap; every success a client got
    /// (first answers and retries) is still stored, and nothing is stored for a key
    /// that was refused.
    fn check_everything_stored(&mut self, stored: &Stored) {
        let mut edit_owner: HashMap<i64, &str> = HashMap::new();
        let mut purchase_owner: HashMap<i64, &str> = HashMap::new();
        let mut charged: HashMap<String, i32> = HashMap::new();
        for entry in stored.entries.iter().filter(|e| e.kind == EntryKind::Charge) {
            *charged.entry(entry.cause.clone()).or_default() += entry.amount;
        }
        for (key, records) in &stored.records {
            let sent = self.sent.get(key).copied();
            self.check(records.len() == 1, || format!("{key}: {} records", records.len()));
            let record = &records[0];
            self.check(
                sent.is_some_and(|(account, _)| self.accounts[account].id == record.account_id),
                || {
                    format!(
                        "{key}: a record the clients did not send ({sent:?}, account {})",
                        record.account_id
                    )
                },
            );
            self.check(!self.refused.contains(key), || format!("{key}: refused, yet stored"));
            match sent.map(|(_, op)| op) {
                Some(Op::Apply) => {
                    let Ok(outcome) = serde_json::from_str::<ApplyOutcome>(&record.response) else {
                        self.check(false, || format!("{key}: stored answer unreadable"));
                        continue;
                    };
                    for edit_id in &outcome.edit_ids {
                        let other = edit_owner.insert(*edit_id, key);
                        self.check(other.is_none(), || {
                            format!("edit {edit_id} is claimed by {key} and {other:?}")
                        });
                    }
                    let credits = outcome.credits_charged;
                    let charges = charged.remove(&format!("apply:{key}")).unwrap_or(0);
                    self.check(
                        usize::try_from(credits) == Ok(outcome.edit_ids.len()) && charges == -credits,
                        || {
                            format!(
                                "{key}: {credits} credits for {} edits, charged {charges}",
                                outcome.edit_ids.len()
                            )
                        },
                    );
                }
                Some(Op::Buy) => {
                    let Ok(outcome) = serde_json::from_str::<PurchaseOutcome>(&record.response) else {
                        self.check(false, || format!("{key}: stored answer unreadable"));
                        continue;
                    };
                    let other = purchase_owner.insert(outcome.purchase_id, key);
                    self.check(other.is_none(), || {
                        format!("purchase {} is claimed by {key} and {other:?}", outcome.purchase_id)
                    });
                    let row = stored.purchases.iter().find(|p| p.id == outcome.purchase_id);
                    self.check(
                        row.is_some_and(|p| {
                            p.account_id == record.account_id
                                && p.lot_id == outcome.lot_id
                                && p.invoice_id == outcome.invoice_id
                        }),
                        || format!("{key}: stored {outcome:?}, but the purchase is {row:?}"),
                    );
                }
                None => {}
            }
        }
        self.check(charged.is_empty(), || {
            format!("charges of no apply's record: {charged:?}")
        });
        for edit in &stored.edits {
            self.check(edit_owner.contains_key(&edit.id) && edit.credits_charged == 1, || {
                format!("edit {edit:?} belongs to no apply's record")
            });
        }
        self.check_purchases(stored, &purchase_owner);

        for (key, answer) in &self.answers.clone() {
            let record = stored.records.get(key).and_then(|r| r.first());
            let op = self.sent[key].1;
            let stored_ids = record.map(|r| r.response.clone());
            // The ids the client was told are the ones stored.
            let answered_ids = match op {
                Op::Apply => {
                    let ids: Vec<Option<i64>> = array(&answer["edits"])
                        .iter()
                        .map(|e| {
                            e["id"]
                                .as_str()
                                .and_then(|id| self.auth.ids().decode_i64(Kind::PhotoEdit, id))
                        })
                        .collect();
                    stored_ids
                        .as_deref()
                        .and_then(|r| serde_json::from_str::<ApplyOutcome>(r).ok())
                        .is_some_and(|o| o.edit_ids.iter().copied().map(Some).collect::<Vec<_>>() == ids)
                }
                Op::Buy => {
                    let lot = answer["lot"]["id"]
                        .as_str()
                        .and_then(|id| self.auth.ids().decode_i64(Kind::PurchasedLot, id));
                    stored_ids
                        .as_deref()
                        .and_then(|r| serde_json::from_str::<PurchaseOutcome>(r).ok())
                        .is_some_and(|o| Some(o.lot_id) == lot)
                }
            };
            self.check(answered_ids, || format!("{key}: answered {answer}, stored {record:?}"));
        }
    }

    /// Every purchase belongs to one record; every invoice and purchased lot to one
    /// purchase; each lot holds its pack's credits, granted by one entry; invoice
    /// numbers run from 1 without a gap in each year.
    fn check_purchases(&mut self, stored: &Stored, purchase_owner: &HashMap<i64, &str>) {
        let pack_credits: HashMap<String, i32> = self
            .ledger
            .config()
            .packs
            .iter()
            .map(|p| (p.id.clone(), p.credits))
            .collect();
        let mut invoice_purchases: HashMap<i64, usize> = HashMap::new();
        let mut lot_purchases: HashMap<i64, usize> = HashMap::new();
        for p in &stored.purchases {
            self.check(purchase_owner.contains_key(&p.id), || {
                format!("purchase {p:?} belongs to no purchase's record")
            });
            *invoice_purchases.entry(p.invoice_id).or_default() += 1;
            *lot_purchases.entry(p.lot_id).or_default() += 1;
            let invoice = stored.invoices.iter().find(|i| i.id == p.invoice_id);
            let lot = stored.lots.iter().find(|l| l.id == p.lot_id);
            let grants: Vec<_> = stored
                .entries
                .iter()
                .filter(|e| {
                    e.kind == EntryKind::Grant && invoice.is_some_and(|i| e.cause == format!("purchase:{}", i.number))
                })
                .collect();
            let credits = pack_credits.get(&p.pack_id).copied();
            self.check(
                lot.is_some_and(|l| l.bucket == Bucket::Purchased && Some(l.granted) == credits)
                    && grants.len() == 1
                    && grants[0].lot_id == p.lot_id
                    && Some(grants[0].amount) == credits,
                || format!("purchase {p:?}: lot {lot:?}, invoice {invoice:?}, grants {grants:?}"),
            );
        }
        for i in &stored.invoices {
            self.check(invoice_purchases.get(&i.id) == Some(&1), || {
                format!("invoice {i:?} belongs to {:?} purchases", invoice_purchases.get(&i.id))
            });
        }
        for l in stored.lots.iter().filter(|l| l.bucket == Bucket::Purchased) {
            self.check(lot_purchases.get(&l.id) == Some(&1), || {
                format!(
                    "purchased lot {l:?} belongs to {:?} purchases",
                    lot_purchases.get(&l.id)
                )
            });
        }
        let mut years: BTreeMap<i32, Vec<&invoice::Model>> = BTreeMap::new();
        for i in &stored.invoices {
            years.entry(i.year).or_default().push(i);
        }
        for (year, mut invoices) in years {
            invoices.sort_by_key(|i| i.sequence);
            for (n, i) in invoices.iter().enumerate() {
                let expected = format!("INV-{year}-{:06}", n + 1);
                self.check(usize::try_from(i.sequence) == Ok(n + 1) && i.number == expected, || {
                    format!("invoice {n} of {year}: {i:?}, expected {expected}")
                });
            }
        }
    }

    /// Everything the checks look at.
    async fn stored(&self) -> Stored {
        let db = self.ledger.db();
        let mut records: HashMap<String, Vec<idempotency_record::Model>> = HashMap::new();
        for record in idempotency_record::Entity::find().all(db).await.expect("records") {
            records.entry(record.key.clone()).or_default().push(record);
        }
        Stored {
            records,
            edits: edit::Entity::find().all(db).await.expect("edits"),
            purchases: purchase::Entity::find().all(db).await.expect("purchases"),
            invoices: invoice::Entity::find().all(db).await.expect("invoices"),
            lots: lot::Entity::find().all(db).await.expect("lots"),
            entries: ledger_entry::Entity::find().all(db).await.expect("entries"),
            jobs: render_job::Entity::find().all(db).await.expect("render jobs"),
        }
    }

    /// How many entries, edits, purchases, invoices and idempotency records are stored.
    async fn counts(&self) -> [u64; 5] {
        let db = self.ledger.db();
        [
            ledger_entry::Entity::find().count(db).await.expect("a count"),
            edit::Entity::find().count(db).await.expect("a count"),
            purchase::Entity::find().count(db).await.expect("a count"),
            invoice::Entity::find().count(db).await.expect("a count"),
            idempotency_record::Entity::find().count(db).await.expect("a count"),
        ]
    }
}

/// An OPS token signed with [`SECRET`].
fn ops_token(auth: &Auth) -> String {
    auth.mint("ops", Role::Ops, None, Duration::from_secs(24 * 3600))
        .expect("a token")
}

/// Creates the [`ACCOUNTS`] through the API, each with its photos, a member token and
/// its plan's packs.
async fn open_accounts(service: &Service, auth: &Auth, config: &Config) -> Vec<Account> {
    let ops = ops_token(auth);
    let mut accounts = Vec::new();
    for (n, (plan, plan_name, slots)) in ACCOUNTS.into_iter().enumerate() {
        let created = op(
            service,
            &ops,
            "CreateAccount",
            json!({"name": format!("Dealer {n}"), "plan": plan_name, "listingSlots": slots}),
        )
        .await;
        let gid = created["createAccount"]["account"]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let registrations: Vec<Value> = (0..PHOTOS_PER_ACCOUNT)
            .map(|p| json!({"listingRef": format!("l{p}"), "originalUrl": format!("https://img.example/{n}/{p}.jpg")}))
            .collect();
        let registered = op(
            service,
            &ops,
            "RegisterPhotos",
            json!({"accountId": gid, "photos": registrations}),
        )
        .await;
        let photos = registered["registerPhotos"]["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .map(|p| p["id"].as_str().expect("a photo id").to_owned())
            .collect();
        let id = auth.ids().decode_i64(Kind::Account, &gid).expect("an account id");
        let token = auth
            .mint("dealer", Role::Member, Some(id), Duration::from_secs(24 * 3600))
            .expect("a token");
        let packs = packs_for(&config.packs, plan)
            .map(|p| auth.ids().encode(Kind::CreditPack, &p.id))
            .collect();
        accounts.push(Account {
            id,
            token,
            photos,
            packs,
        });
    }
    accounts
}

/// A ledger over `db`, for the auditor and the lookups.
async fn ledger_on(db: &TestDb, config: Config) -> Ledger {
    let pool = connect_and_migrate_pool(&db.url, 4).await.expect("connect");
    Ledger::new(pool, Arc::new(config), Clock::new(ClockMode::System))
        .await
        .expect("a ledger")
}

/// One client: random applies and purchases with fresh keys until the service is gone
/// (the request it had in flight is recorded as such), `deadline`, or
/// [`MAX_REQUESTS_PER_CLIENT`].
async fn client(
    addr: String,
    accounts: Arc<Vec<Account>>,
    load: Arc<Load>,
    prefix: String,
    mut rng: StdRng,
    deadline: Instant,
) -> Vec<(Sent, Outcome)> {
    let mut outcomes = Vec::new();
    for n in 0..MAX_REQUESTS_PER_CLIENT {
        if Instant::now() >= deadline {
            break;
        }
        let index = rng.random_range(0..accounts.len());
        let account = &accounts[index];
        let sent = if rng.random_bool(PURCHASE_SHARE) {
            let key = format!("buy-{prefix}-{n}");
            let pack = &account.packs[rng.random_range(0..account.packs.len())];
            Sent {
                account: index,
                op: Op::Buy,
                body: json!({
                    "query": load.buy_document,
                    "operationName": "BuyPack",
                    "variables": {"packId": pack, "idempotencyKey": key},
                }),
                key,
            }
        } else {
            let key = format!("apply-{prefix}-{n}");
            let photos: Vec<&String> = (0..rng.random_range(1..=3))
                .map(|_| &account.photos[rng.random_range(0..account.photos.len())])
                .collect();
            let background = &load.backgrounds[rng.random_range(0..load.backgrounds.len())];
            Sent {
                account: index,
                op: Op::Apply,
                body: json!({
                    "query": load.apply_document,
                    "operationName": "ApplyChanges",
                    "variables": {"input": {
                        "photoIds": photos,
                        "backgroundId": background,
                        "idempotencyKey": key,
                    }},
                }),
                key,
            }
        };
        match post_graphql(&addr, Some(&account.token), &sent.body).await {
            Reply::NotSent(_) => break,
            Reply::Cut(_) => {
                outcomes.push((sent, Outcome::InFlight));
                break;
            }
            Reply::Answered(status, body) => {
                let outcome = judge(sent.op.field(), status, &body);
                outcomes.push((sent, outcome));
            }
        }
    }
    outcomes
}

/// A success or a business refusal of the mutation `field`; anything else is
/// unexpected.
fn judge(field: &str, status: StatusCode, body: &Value) -> Outcome {
    let payload = &body["data"][field];
    if status != StatusCode::OK || body.get("errors").is_some() || !payload["userErrors"].is_array() {
        return Outcome::Unexpected(format!("HTTP {status}: {body}"));
    }
    let codes = user_error_codes(payload);
    if codes.is_empty() {
        Outcome::Succeeded(payload.clone())
    } else {
        Outcome::Refused(codes)
    }
}

/// The part of a success's payload a replay must give again: all but the balance now,
/// a purchased lot's remaining credits and the edits' status, which later operations
/// (and renders) change.
fn same(payload: &Value) -> Value {
    let mut payload = payload.clone();
    if let Some(fields) = payload.as_object_mut() {
        fields.remove("balance");
    }
    if let Some(edits) = payload.get_mut("edits").and_then(Value::as_array_mut) {
        for edit in edits.iter_mut().filter_map(Value::as_object_mut) {
            edit.remove("status");
        }
    }
    if let Some(lot) = payload.get_mut("lot").and_then(Value::as_object_mut) {
        lot.remove("remaining");
    }
    payload
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Runs the contract operation `name`, which must succeed; its `data`.
async fn op(service: &Service, token: &str, name: &str, variables: Value) -> Value {
    let body = json!({"query": operation_document(name), "operationName": name, "variables": variables});
    match service.post(Some(token), &body).await {
        Reply::Answered(StatusCode::OK, body) if body.get("errors").is_none() => body["data"].clone(),
        other => panic!("{name}: {other:?}"),
    }
}

on_both_databases! {
    async fn killed_at_random_moments_the_service_loses_nothing_answered_and_acts_once_on_retry(db) {
        let started = std::time::Instant::now();
        let name = if db.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let mut crashes = Crashes::start(&db, false).await;
        for round in 0..rounds(20) {
            crashes.round(round).await;
        }
        let f = &crashes.figures;
        eprintln!(
            "crashes ({name}): {} rounds, {} kills, {} answered successes ({} refusals), {} in flight retried ({} had committed), {} answered retried, {} checks, {} violations in {:.1} s",
            f.rounds,
            f.kills,
            f.successes,
            f.refusals,
            f.in_flight,
            f.in_flight_committed,
            f.answered_retried,
            f.checks,
            f.violations,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(f.violations, 0);
        assert_eq!(f.kills, rounds(20));
    }
}
