//! Scenario `scale` (issue 16, data at scale): a database of a million accounts and
//! tens of millions of ledger entries, filled by `bench/scale/fill.sql`, with an
//! instance of the service of its own; on it, beside the same on the small database
//! of the run (rounds interleaved), HeaderBalanceInitial, ApplyChanges and BillingPage
//! deep in a long history; and `EXPLAIN (ANALYZE, BUFFERS)` of every hot statement,
//! checked for sequential scans of the big tables.
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use serde_json::json;
use studio_bff::auth::Role;
use studio_bff::ids::List;

use crate::http::{Pool, Run, bearer, graphql_body, load};
use crate::procs::{self, Database, LoggingRole, PG_USER, Server, psql, run_script};
use crate::report::{Row, ms, num, thousands};
use crate::scenarios::{
    APPLY_PHOTOS, Bench, FixedWork, HeaderWork, SIDE_HEADER, Side, SpreadWork, failure_note, is_scheduler, per_round,
    pg_log, start_service, statement_of,
};
use crate::setup::{self, Account};
use crate::{Result, bail};

/// A table of fewer rows than this in the big database (`pg_class.reltuples` after
/// the fill's ANALYZE) is small: a sequential scan of it is no finding.
const BIG_TABLE_ROWS: u64 = 10_000;
/// Member tokens of the big database live as long as the setup's.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Ledger entries on one page of BillingPage (its `historyFirst`).
const PAGE: i64 = 20;

/// The sizes of the big database (`bench/scale/fill.sql`'s variables) and of the load.
pub struct Sizes {
    pub accounts: usize,
    /// Monthly cycles of history before the current one (about 5 entries each).
    pub months: usize,
    /// (ledger entries, invoices) of the big and the small billing account.
    pub big: (usize, usize),
    pub small: (usize, usize),
    /// How deep the deep BillingPage is, in pages.
    pub deep_pages: i64,
}

impl Sizes {
    pub fn full() -> Self {
        Sizes {
            accounts: 1_000_000,
            months: 9,
            big: (100_000, 2_000),
            small: (200, 20),
            deep_pages: 500,
        }
    }

    pub fn smoke() -> Self {
        Sizes {
            accounts: 2_000,
            months: 2,
            big: (2_000, 40),
            small: (200, 20),
            deep_pages: 5,
        }
    }
}

/// One captured statement and its plan.
struct Plan {
    request: &'static str,
    sql: String,
    plan: String,
    /// Big tables the plan reads sequentially.
    seq_scans: Vec<String>,
    /// The most rows one node of the plan read and dropped (`Rows Removed by Filter`).
    dropped: u64,
}

impl Plan {
    /// What is wrong with the plan at scale, if anything.
    fn finding(&self) -> Option<String> {
        let mut found = Vec::new();
        if !self.seq_scans.is_empty() {
            found.push(format!("`Seq Scan` on {}", self.seq_scans.join(", ")));
        }
        if self.dropped >= BIG_TABLE_ROWS {
            found.push(format!("reads and drops {} rows", thousands(self.dropped)));
        }
        (!found.is_empty()).then(|| format!("{}: {}", self.request, found.join(", ")))
    }
}

impl Bench {
    /// Scenario 11: the big database beside the small one.
    pub async fn scale(&mut self) -> Result<()> {
        let sizes = &self.sizes.scale;
        let db = Database::create(&format!("studio_scale_{}", std::process::id()))?;
        // The service migrates the empty database, and stops before the fill.
        drop(start_service(&self.opts, &self.dir.0, &self.secret, "scale-migrate", &db.url(PG_USER)).await?);
        let filling = Instant::now();
        let mut command = Command::new("psql");
        command
            .args(["-h", procs::PG_HOST, "-p", &procs::PG_PORT.to_string(), "-U", PG_USER])
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.name])
            .args(["-v", &format!("accounts={}", sizes.accounts)])
            .args(["-v", &format!("months={}", sizes.months)])
            .args(["-v", &format!("big_entries={}", sizes.big.0)])
            .args(["-v", &format!("big_invoices={}", sizes.big.1)])
            .args(["-v", &format!("small_entries={}", sizes.small.0)])
            .args(["-v", &format!("small_invoices={}", sizes.small.1)])
            .arg("-f")
            .arg(self.opts.repo.join("bench/scale/fill.sql"));
        run_script(command).await?;
        let fill_seconds = filling.elapsed().as_secs_f64();
        let counted = psql(
            &db.name,
            "SELECT (SELECT count(*) FROM accounts) || ' ' || (SELECT count(*) FROM ledger_entries) || ' ' || \
             (SELECT count(*) FROM lots) || ' ' || (SELECT count(*) FROM invoices) || ' ' || \
             pg_database_size(current_database())",
        )?;
        let counts: Vec<u64> = counted
            .split(' ')
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()?;
        let [accounts, entries, lots, invoices, bytes] = counts[..] else {
            bail!("the big database's counts: {counted:?}");
        };
        println!(
            "== scale: filled {} accounts, {} ledger entries in {fill_seconds:.0} s, {:.1} GiB",
            thousands(accounts),
            thousands(entries),
            bytes as f64 / (1u64 << 30) as f64
        );
        let big = start_service(&self.opts, &self.dir.0, &self.secret, "service-big", &db.url(PG_USER)).await?;
        let pool = Pool::new(big.addr, 16);

        // The accounts loaded: spread over the ids, every plan; the applying ones are
        // Professional Plus with 60 slots or more (600 credits a month).
        let n = self.accounts.len();
        let stride = (sizes.accounts / n).max(1);
        let header_ids: Vec<i64> = (0..n).map(|i| (1 + i * stride) as i64).collect();
        let member = |id: i64| -> Result<_> {
            Ok(bearer(&self.api.auth.mint(
                "bench-member",
                Role::Member,
                Some(id),
                TOKEN_TTL,
            )?))
        };
        let header_bearers = header_ids.iter().map(|&id| member(id)).collect::<Result<Vec<_>>>()?;
        let appliers = psql(
            &db.name,
            &format!(
                "SELECT string_agg(id::text, ' ') FROM (SELECT id FROM accounts WHERE plan = 'PROFESSIONAL_PLUS' \
                 AND listing_slots >= 60 ORDER BY id % {stride}, id LIMIT {n}) a"
            ),
        )?;
        let mut apply_accounts: Vec<Account> = Vec::new();
        for id in appliers.split(' ') {
            apply_accounts.push(setup::with_photos(&self.api, &pool, id.parse()?, &[APPLY_PHOTOS]).await?);
        }
        let apply_accounts = Arc::new(apply_accounts);

        let header_body = graphql_body(
            self.api.operations.get("HeaderBalanceInitial"),
            "HeaderBalanceInitial",
            json!({}),
        );
        let header_work = |bearers: Vec<_>| {
            Arc::new(HeaderWork {
                bearers,
                body: header_body.clone(),
                clients: self.sizes.header_connections,
            })
        };
        let small_header = header_work(self.accounts.iter().map(|a| a.bearer.clone()).collect());
        let big_header = header_work(header_bearers);

        // BillingPage: the big account's first page and a page deep in its history,
        // and the small account's first page, all on the big database.
        let (big_id, small_id) = (sizes.accounts as i64 + 1, sizes.accounts as i64 + 2);
        let skipped = sizes.deep_pages * PAGE;
        let deep_after = psql(
            &db.name,
            &format!(
                "SELECT id FROM ledger_entries WHERE account_id = {big_id} ORDER BY id DESC OFFSET {} LIMIT 1",
                skipped - 1
            ),
        )?;
        let deep_after: i64 = deep_after
            .parse()
            .map_err(|_| format!("the big billing account has fewer than {skipped} entries"))?;
        let cursor = self.api.auth.ids().cursor(List::Ledger, big_id, deep_after);
        let billing = |id: i64, after: Option<&str>| -> Result<Arc<FixedWork>> {
            Ok(Arc::new(FixedWork {
                bearer: member(id)?,
                body: graphql_body(
                    self.api.operations.get("BillingPage"),
                    "BillingPage",
                    json!({"historyAfter": after}),
                ),
                must_hold: "/data/viewer/account/ledger/edges/0",
            }))
        };
        let billing_works = [
            billing(big_id, None)?,
            billing(big_id, Some(&cursor))?,
            billing(small_id, None)?,
        ];

        let header_spec = self.spec(self.sizes.header_connections);
        let apply_spec = self.spec(self.sizes.apply_clients);
        let billing_spec = self.spec(self.sizes.billing_connections);
        let (mut sh, mut bh, mut sa, mut ba) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut pages: [Vec<Run>; 3] = Default::default();
        for _ in 0..self.sizes.rounds {
            sh.push(load(self.main.addr, header_spec, small_header.clone()).await?);
            bh.push(load(big.addr, header_spec, big_header.clone()).await?);
            let spread = |accounts: &Arc<Vec<Account>>, run| {
                Arc::new(SpreadWork {
                    api: self.api.clone(),
                    accounts: accounts.clone(),
                    run,
                })
            };
            sa.push(load(self.main.addr, apply_spec, spread(&self.accounts, self.key())).await?);
            ba.push(load(big.addr, apply_spec, spread(&apply_accounts, self.key())).await?);
            for (runs, work) in pages.iter_mut().zip(&billing_works) {
                runs.push(load(big.addr, billing_spec, work.clone()).await?);
            }
        }
        let [sh, bh, sa, ba] = [&sh, &bh, &sa, &ba].map(|runs| Side::of(runs, Run::per_second));
        let [first, deep, small] = pages.each_ref().map(|runs| Side::of(runs, Run::per_second));
        self.vet(
            "scale",
            &[
                &sh.tally,
                &bh.tally,
                &sa.tally,
                &ba.tally,
                &first.tally,
                &deep.tally,
                &small.tally,
            ],
        )?;

        let plans = self
            .explain(
                &db,
                (&big_header.bearers[0], &header_body),
                &apply_accounts[0],
                &billing_works,
            )
            .await;
        drop(big);
        let plans = plans?;

        let size = format!(
            "{} accounts, {} ledger entries, {} lots, {} invoices; {:.1} GiB (`pg_database_size`), filled in {}",
            thousands(accounts),
            thousands(entries),
            thousands(lots),
            thousands(invoices),
            bytes as f64 / (1u64 << 30) as f64,
            duration(fill_seconds),
        );
        let header_ratio = bh.median / sh.median;
        let apply_ratio = ba.median / sa.median;
        let first_ratio = first.tally.ms(0.99) / small.tally.ms(0.99);
        let deep_ratio = deep.tally.ms(0.99) / small.tally.ms(0.99);
        let section = format!(
            "## 11. At scale: {size}\n\n\
             `bench/scale/fill.sql` fills a database the service has just migrated, set-based (`INSERT … SELECT` \
             over `generate_series`), with what the service itself writes: {} accounts over the four plans, {} \
             monthly cycles of history each (grants, charges, expiries at each reset, purchases with their \
             invoices), entries with their running `balance_after`, and two billing accounts ({} entries and {} \
             invoices; {} entries and {} invoices). A second instance of the service runs on it; each round runs \
             the small database's load, then the same on the big one. HeaderBalanceInitial as the members of \
             {} accounts spread over the ids ({} connections); ApplyChanges of {APPLY_PHOTOS} photos over {} \
             Professional Plus accounts whose photos were registered through the API ({} clients); BillingPage \
             ({} connections) on the big database: the big account's first page, the page {} pages deep (the \
             `historyAfter` cursor of its {}th newest entry), and the small account's first page.\n\n\
             {SIDE_HEADER}{}{}{}{}{}{}{}\n\
             Big ÷ small: HeaderBalanceInitial {header_ratio:.2}, ApplyChanges {apply_ratio:.2} (target ≥ 0.90). \
             BillingPage p99 of the big account ÷ the small account's: first page {first_ratio:.2}, {} pages \
             deep {deep_ratio:.2} (target ≤ 2).\n",
            thousands(sizes.accounts as u64),
            sizes.months,
            thousands(sizes.big.0 as u64),
            thousands(sizes.big.1 as u64),
            thousands(sizes.small.0 as u64),
            thousands(sizes.small.1 as u64),
            thousands(n as u64),
            self.sizes.header_connections,
            thousands(apply_accounts.len() as u64),
            self.sizes.apply_clients,
            self.sizes.billing_connections,
            sizes.deep_pages,
            thousands(skipped as u64),
            sh.line("small database, HeaderBalanceInitial req/s"),
            bh.line("big database, HeaderBalanceInitial req/s"),
            sa.line("small database, ApplyChanges applies/s"),
            ba.line("big database, ApplyChanges applies/s"),
            first.line(&format!(
                "BillingPage, {} entries, first page",
                thousands(sizes.big.0 as u64)
            )),
            deep.line(&format!(
                "BillingPage, {} entries, {} pages deep",
                thousands(sizes.big.0 as u64),
                sizes.deep_pages
            )),
            small.line(&format!("BillingPage, {} entries, first page", sizes.small.0)),
            sizes.deep_pages,
        );
        let at_least = |scenario: String, big: &Side, small: &Side, unit: &str, ratio: f64| Row {
            scenario,
            figure: big.figure(unit),
            baseline: format!("the small database, same run: {}", small.figure(unit)),
            ratio: Some(ratio),
            rounds: per_round(&big.per_round, &small.per_round),
            target: "≥ 0.90".into(),
            margin: Some(ratio / 0.90),
            met: Some(ratio >= 0.90 && big.tally.failed + small.tally.failed == 0),
            note: failure_note(&[&big.tally, &small.tally]),
        };
        self.report.add(
            11,
            at_least("At scale: HeaderBalanceInitial".into(), &bh, &sh, "req/s", header_ratio),
            section,
        );
        self.report.add(
            12,
            Row {
                scenario: "At scale: the big database".into(),
                figure: size.clone(),
                baseline: "—".into(),
                ratio: None,
                rounds: Vec::new(),
                target: "reported".into(),
                margin: None,
                met: None,
                note: String::new(),
            },
            String::new(),
        );
        self.report.add(
            12,
            at_least(
                format!("At scale: ApplyChanges with {APPLY_PHOTOS} photos"),
                &ba,
                &sa,
                "applies/s",
                apply_ratio,
            ),
            String::new(),
        );
        for (order, what, side, ratio) in [
            (13, "first page".to_owned(), &first, first_ratio),
            (14, format!("{} pages deep", sizes.deep_pages), &deep, deep_ratio),
        ] {
            self.report.add(
                order,
                Row {
                    scenario: format!(
                        "At scale: BillingPage with {} entries and {} invoices, {what}",
                        thousands(sizes.big.0 as u64),
                        thousands(sizes.big.1 as u64)
                    ),
                    figure: format!("p99 {}; {} req/s", ms(side.tally.ms(0.99)), num(side.median)),
                    baseline: format!(
                        "{} entries, first page: p99 {}; {} req/s",
                        sizes.small.0,
                        ms(small.tally.ms(0.99)),
                        num(small.median)
                    ),
                    ratio: Some(ratio),
                    rounds: Vec::new(),
                    target: "p99 ≤ 2 ×".into(),
                    margin: Some(2.0 / ratio),
                    met: Some(ratio <= 2.0 && side.tally.failed + small.tally.failed == 0),
                    note: failure_note(&[&side.tally, &small.tally]),
                },
                String::new(),
            );
        }
        let findings: Vec<String> = plans.iter().filter_map(Plan::finding).collect();
        let mut explained = format!(
            "## 12. At scale: the plans of the hot statements\n\n\
             Each statement below is one that PostgreSQL's log showed for a request on the big database (an instance \
             connected as a role with `log_statement = 'all'`), or one of the scheduler's looks for due work; it is \
             run again with the logged parameters under `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is \
             rolled back. A finding is a `Seq Scan` on a table of {} rows or more (a small table is read \
             whole by choice), or a node that reads and drops that many rows (`Rows Removed by Filter`): an \
             index that does not fit the statement. {} statements; {}.\n",
            thousands(BIG_TABLE_ROWS),
            plans.len(),
            if findings.is_empty() {
                "every one reads through an index, and only what it needs".to_owned()
            } else {
                format!("**{} findings**: {}", findings.len(), findings.join("; "))
            }
        );
        for plan in &plans {
            explained.push_str(&format!(
                "\n### {}: `{}`\n\n{}\n",
                plan.request,
                shorten(&plan.sql),
                plan.plan
                    .lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        self.report.add(
            15,
            Row {
                scenario: "At scale: plans of the hot statements".into(),
                figure: if findings.is_empty() {
                    format!("{} statements, every one an index scan", plans.len())
                } else {
                    format!("{} statements, {} findings", plans.len(), findings.len())
                },
                baseline: "—".into(),
                ratio: None,
                rounds: Vec::new(),
                target: "no `Seq Scan` on a big table, no big filtered read".into(),
                margin: None,
                met: Some(findings.is_empty()),
                note: findings.join("; "),
            },
            explained,
        );
        Ok(())
    }

    /// The statements of one request of each kind on the big database, and the
    /// scheduler's, each with its plan.
    async fn explain(
        &self,
        db: &Database,
        header: (&HeaderValue, &Bytes),
        applier: &Account,
        billing: &[Arc<FixedWork>; 3],
    ) -> Result<Vec<Plan>> {
        let log = pg_log()?;
        let role = LoggingRole::create(&format!("studio_scale_probe_{}", std::process::id()))?;
        let probe: Server = start_service(
            &self.opts,
            &self.dir.0,
            &self.secret,
            "scale-probe",
            &db.url(&role.name),
        )
        .await?;
        let marker = format!(" {}@{} ", role.name, db.name);
        let big_tables = psql(
            &db.name,
            &format!(
                "SELECT string_agg(relname, ' ') FROM pg_class WHERE relkind = 'r' \
                 AND relnamespace = 'public'::regnamespace AND reltuples >= {BIG_TABLE_ROWS}"
            ),
        )?;
        let big_tables: Vec<&str> = big_tables.split(' ').collect();
        let group = &applier.groups[0];
        let apply = self.api.apply_body(
            &group.photos,
            group.next_look(),
            &format!("scale-explain-{}", self.key()),
        );
        let requests: [(&'static str, &HeaderValue, Bytes); 4] = [
            ("HeaderBalanceInitial", header.0, header.1.clone()),
            ("ApplyChanges", &applier.bearer, apply),
            ("BillingPage, first page", &billing[0].bearer, billing[0].body.clone()),
            ("BillingPage, deep page", &billing[1].bearer, billing[1].body.clone()),
        ];
        let mut captured: Vec<(&'static str, String)> = Vec::new();
        for (what, bearer, body) in requests {
            let from = std::fs::metadata(&log)?.len();
            crate::scenarios::ask(probe.addr, bearer, body).await?;
            tokio::time::sleep(Duration::from_millis(700)).await;
            for sql in parameterised(&log, from, &marker)?
                .into_iter()
                .filter(|s| !is_scheduler(s))
            {
                captured.push((what, sql));
            }
        }
        // The scheduler looks for due work once a second.
        let from = std::fs::metadata(&log)?.len();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        for sql in parameterised(&log, from, &marker)?
            .into_iter()
            .filter(|s| is_scheduler(s))
        {
            captured.push(("scheduler", sql));
        }
        drop(probe);
        let mut seen = std::collections::HashSet::new();
        let mut plans = Vec::new();
        for (request, sql) in captured {
            let upper = sql.to_uppercase();
            let plannable = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
                .iter()
                .any(|k| upper.starts_with(k));
            if !plannable || upper.contains("PG_NOTIFY") || !seen.insert((request, sql.clone())) {
                continue;
            }
            let plan = match psql(&db.name, &format!("BEGIN; EXPLAIN (ANALYZE, BUFFERS) {sql}; ROLLBACK")) {
                Ok(plan) => plan,
                // A write the request made already (a unique key) cannot run again: its plan.
                Err(_) => psql(&db.name, &format!("EXPLAIN {sql}"))?,
            };
            let seq_scans = plan
                .lines()
                .filter_map(|l| l.split("Seq Scan on ").nth(1))
                .filter_map(|rest| rest.split_whitespace().next())
                .filter(|table| big_tables.contains(table))
                .map(str::to_owned)
                .collect();
            let dropped = plan
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Rows Removed by Filter: "))
                .filter_map(|n| n.parse().ok())
                .max()
                .unwrap_or(0);
            plans.push(Plan {
                request,
                sql,
                plan,
                seq_scans,
                dropped,
            });
        }
        if plans.is_empty() {
            bail!("no statement of the scale probe in {}", log.display());
        }
        Ok(plans)
    }
}

/// The statements logged after byte `from` by the sessions whose prefix holds
/// `marker`, each with the parameters of its `DETAIL:  parameters:` line put in.
fn parameterised(log: &Path, from: u64, marker: &str) -> Result<Vec<String>> {
    let bytes = std::fs::read(log)?;
    let text = String::from_utf8_lossy(&bytes[usize::try_from(from)?.min(bytes.len())..]).into_owned();
    // Per backend (`[pid]`), the statement waiting for its parameters.
    let mut last: HashMap<String, usize> = HashMap::new();
    let mut statements: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.contains(marker)) {
        let backend = line.split(['[', ']']).nth(1).unwrap_or_default().to_owned();
        if let Some(sql) = statement_of(line) {
            last.insert(backend, statements.len());
            statements.push(sql);
        } else if let Some((_, values)) = line.split_once(" DETAIL:  parameters: ")
            && let Some(&i) = last.get(&backend)
        {
            statements[i] = bind(&statements[i], values);
        }
    }
    Ok(statements)
}

/// `sql` with `$1 = '…', $2 = '…'` put in for its placeholders.
fn bind(sql: &str, values: &str) -> String {
    let mut params: Vec<(usize, String)> = Vec::new();
    for part in values.split(", $") {
        if let Some((n, value)) = part.trim_start_matches('$').split_once(" = ")
            && let Ok(n) = n.parse()
        {
            params.push((n, value.to_owned()));
        } else if let Some((_, value)) = params.last_mut() {
            // A value holding ", $" itself.
            value.push_str(", $");
            value.push_str(part);
        }
    }
    // $12 before $1.
    params.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut sql = sql.to_owned();
    for (n, value) in params {
        sql = sql.replace(&format!("${n}"), &value);
    }
    sql
}

/// A statement cut to a heading's length.
fn shorten(sql: &str) -> String {
    let flat = sql.replace('`', "'");
    match flat.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// `1 h 02 min`, `3 min 05 s`, `12 s`.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_put_in_highest_first() {
        let sql = r#"SELECT "id" FROM "lots" WHERE "account_id" = $1 AND "origin" = $10 LIMIT $2"#;
        let values =
            "$1 = '7', $2 = '1', $3 = 'x', $4 = 'x', $5 = 'x', $6 = 'x', $7 = 'x', $8 = 'x', $9 = 'x', $10 = 'a, $b'";
        assert_eq!(
            bind(sql, values),
            r#"SELECT "id" FROM "lots" WHERE "account_id" = '7' AND "origin" = 'a, $b' LIMIT '1'"#
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(12.4), "12 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(3720.0), "1 h 02 min");
    }
}
