//! Section 15 of the report (issue 16): the scheduler's catch-up after a monthly reset of
//! every account. A database of `Sizes::reset_accounts` accounts (`bench/scale/reset-fill.sql`,
//! copies of one account the service opened), a service on it, HeaderBalanceInitial
//! with nothing due, then every account's reset made due at once ([`make_due`]) and
//! the same load, in windows, while the service's scheduler catches up, until no reset
//! is due.
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::http::{Pool, Spec, Tally, graphql_body, load};
use crate::procs::{Database, PG_HOST, PG_PORT, PG_USER, psql, rss_kib, run_script};
use crate::report::{Row, ms, rate, thousands};
use crate::scenarios::{Bench, HeaderWork, start_service};
use crate::setup;
use crate::{Result, bail};

/// Accounts the header load reads, spread over the filled ones.
const HEADER_ACCOUNTS: usize = 1_000;
/// How often the harness asks how many resets are still due.
const POLL: Duration = Duration::from_millis(250);
/// Questions of [`due_resets`] that may fail before the scenario does.
const MAX_REFUSED: u32 = 20;
/// The measured window of each header load run during the catch-up.
const WINDOW: Duration = Duration::from_secs(2);
/// A header load run starts every this often during the catch-up: a closed loop of
/// 64 connections saturates the machine's two cores, and run without pause it would
/// leave the catch-up of a million accounts hours behind what it does beside a
/// platform's traffic. The catch-up's rate is reported inside the windows and between.
const WINDOW_EVERY: Duration = Duration::from_secs(10);

/// Makes the monthly reset of every account of `db` due one second ago: each
/// account's next reset and the monthly lot that ends with its cycle, in one
/// transaction, so a scheduler sees all of them due at once. Works on any filled
/// database.
pub fn make_due(db: &str) -> Result<String> {
    psql(
        db,
        "UPDATE lots l SET expires_at = now() - interval '1 second' \
           FROM accounts a WHERE l.account_id = a.id AND NOT l.expired AND l.expires_at = a.next_reset_at; \
         UPDATE accounts SET next_reset_at = now() - interval '1 second' WHERE next_reset_at > now()",
    )
}

/// Resets still due in `db`.
fn due_resets(db: &str) -> Result<u64> {
    Ok(psql(db, "SELECT count(*) FROM accounts WHERE next_reset_at <= now()")?.parse()?)
}

impl Bench {
    /// Scenario 11: the catch-up after a monthly reset of every account, and the
    /// header's latency during it beside the same load with nothing due.
    pub async fn reset(&mut self) -> Result<()> {
        let n = self.opts.reset_accounts.unwrap_or(self.sizes.reset_accounts);
        let db = Database::create(&format!("studio_bench_reset_{}", std::process::id()))?;
        let mut service =
            start_service(&self.opts, &self.dir.0, &self.secret, "reset-service", &db.url(PG_USER)).await?;
        let pool = Pool::new(service.addr, 4);
        let template = setup::account(&self.api, &pool, "Reset", 10, &[]).await?;

        let fill_started = Instant::now();
        let mut fill = Command::new("psql");
        fill.args([
            "-h",
            PG_HOST,
            "-p",
            &PG_PORT.to_string(),
            "-U",
            PG_USER,
            "-d",
            &db.name,
            "-X",
            "-q",
        ])
        .args(["-v", &format!("n={n}"), "-v", &format!("template={}", template.number)])
        .arg("-f")
        .arg(self.opts.repo.join("bench/scale/reset-fill.sql"));
        run_script(fill).await?;
        let fill_took = fill_started.elapsed();
        let size = psql(&db.name, "SELECT pg_size_pretty(pg_database_size(current_database()))")?;
        println!(
            "== reset: filled {} accounts in {:.1} s ({size})",
            thousands(n as u64),
            fill_took.as_secs_f64()
        );

        // The header reads accounts spread over the whole range, each as its member.
        let every = (n / HEADER_ACCOUNTS).max(1);
        let ids = psql(
            &db.name,
            &format!("SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts WHERE id % {every} = 0"),
        )?;
        let bearers = ids
            .split(',')
            .take(HEADER_ACCOUNTS)
            .map(|id| setup::member_bearer(&self.api, id.parse()?))
            .collect::<Result<Vec<_>>>()?;
        let connections = self.sizes.header_connections;
        let work = Arc::new(HeaderWork {
            bearers,
            body: graphql_body(
                self.api.operations.get("HeaderBalanceInitial"),
                "HeaderBalanceInitial",
                json!({}),
            ),
            clients: connections,
        });
        let quiet = load(service.addr, self.spec(connections), work.clone()).await?;

        let due_at = Instant::now();
        make_due(&db.name)?;
        let made_due = due_at.elapsed();
        let catch_up = Instant::now();
        if due_resets(&db.name)? < n as u64 {
            bail!("the reset was not made due for every account");
        }
        let polling = {
            let (name, pid) = (db.name.clone(), service.pid());
            tokio::task::spawn_blocking(move || -> Result<(Duration, u64)> {
                let (mut peak_rss, mut refused) = (0, 0);
                loop {
                    peak_rss = peak_rss.max(rss_kib(pid)?);
                    // The shared server may refuse a connection now and then (too
                    // many clients): that question is asked again.
                    match due_resets(&name) {
                        Ok(0) => return Ok((catch_up.elapsed(), peak_rss)),
                        Ok(_) => {}
                        Err(e) if refused >= MAX_REFUSED => return Err(e),
                        Err(_) => refused += 1,
                    }
                    std::thread::sleep(POLL);
                }
            })
        };
        let window = Spec {
            connections,
            warmup: Duration::ZERO,
            duration: WINDOW,
            max_requests: self.sizes.max_requests,
        };
        let mut during = Tally::default();
        let mut windows = 0;
        // Resets caught up while the header's load ran, and for how long it ran.
        let (mut loaded_resets, mut loaded_time) = (0, Duration::ZERO);
        while !polling.is_finished() {
            let started = Instant::now();
            let due_before = due_resets(&db.name)?;
            let measured = Instant::now();
            let run = load(service.addr, window, work.clone()).await?.tally;
            loaded_time += measured.elapsed();
            let due_after = due_resets(&db.name)?;
            loaded_resets += due_before.saturating_sub(due_after);
            println!(
                "== reset: window {windows}: {} requests, p99 {}; resets due {due_before} -> {due_after}",
                rate(run.ok as f64 / WINDOW.as_secs_f64()),
                ms(run.ms(0.99))
            );
            during.merge(&run);
            windows += 1;
            let next = started + WINDOW_EVERY;
            while Instant::now() < next && !polling.is_finished() {
                tokio::time::sleep(POLL).await;
            }
        }
        let (took, peak_rss) = polling.await??;
        service.check_alive()?;
        self.vet("HeaderBalanceInitial during the reset", &[&quiet.tally, &during])?;
        let log = service.log_count("could not catch up") + service.log_count("catching up an account failed");
        drop(service);
        drop(db);

        let per_second = n as f64 / took.as_secs_f64();
        // A window may end after the last reset (a tiny smoke database): no time between.
        let per = |resets: u64, time: Duration| {
            if time.is_zero() {
                0.0
            } else {
                resets as f64 / time.as_secs_f64()
            }
        };
        let loaded_rate = per(loaded_resets, loaded_time);
        let between_rate = per(
            (n as u64).saturating_sub(loaded_resets),
            took.saturating_sub(loaded_time),
        );
        let p99 = |h: &Histogram<u64>| h.value_at_quantile(0.99) as f64 / 1000.0;
        let ratio = p99(&during.latency) / p99(&quiet.tally.latency);
        let header = |tally: &Tally, seconds: f64| {
            format!(
                "{} requests; p50 {}, p99 {}",
                rate(tally.ok as f64 / seconds),
                ms(tally.ms(0.5)),
                ms(tally.ms(0.99))
            )
        };
        let during_line = header(&during, WINDOW.as_secs_f64() * windows as f64);
        let quiet_line = header(&quiet.tally, quiet.elapsed.as_secs_f64());
        let section = format!(
            "## 15. The scheduler's catch-up after a monthly reset of {accounts} accounts\n\n\
             A database filled by `bench/scale/reset-fill.sql` with {accounts} copies of one Professional Plus \
             account (10 slots) the service opened through the API: {fill:.1} s, {size}. The service runs on \
             it alone. HeaderBalanceInitial, {connections} connections over {header} of the accounts spread \
             over the range, each as its member, first with nothing due ({quiet_secs:.0} s), then from the \
             moment one transaction ({made_due:.1} s) made every account's reset due a second ago \
             (`reset::make_due`) until no reset was due (asked every {poll} ms), in {windows} windows of \
             {window} s, one every {every} s: 64 connections in a closed loop take both cores, and the \
             catch-up is measured both beside that load and between its windows.\n\n\
             | | |\n|---|---|\n\
             | catch-up of {accounts} resets | {took:.1} s, **{per_second}** accounts |\n\
             | resets caught up while the header's load ran | {loaded_resets} in {loaded_secs:.1} s: {loaded_rate} |\n\
             | resets caught up between the header's windows | {between_rate} |\n\
             | the service's peak resident memory during it | {rss:.0} MiB |\n\
             | accounts whose catch-up failed (log lines) | {log} |\n\
             | HeaderBalanceInitial with nothing due | {quiet_line} |\n\
             | HeaderBalanceInitial during the catch-up | {during_line} |\n\n\
             Header p99 during the catch-up over p99 with nothing due: {ratio:.2}.\n",
            accounts = thousands(n as u64),
            fill = fill_took.as_secs_f64(),
            header = thousands(work.bearers.len() as u64),
            quiet_secs = quiet.elapsed.as_secs_f64(),
            made_due = made_due.as_secs_f64(),
            poll = POLL.as_millis(),
            window = WINDOW.as_secs(),
            every = WINDOW_EVERY.as_secs(),
            loaded_resets = thousands(loaded_resets),
            loaded_secs = loaded_time.as_secs_f64(),
            loaded_rate = rate(loaded_rate),
            between_rate = rate(between_rate),
            took = took.as_secs_f64(),
            per_second = rate(per_second),
            rss = peak_rss as f64 / 1024.0,
        );
        self.report.add(
            18,
            Row {
                scenario: format!(
                    "Scheduler catch-up after a monthly reset of {} accounts",
                    thousands(n as u64)
                ),
                figure: format!(
                    "{:.1} s, {} accounts ({} beside the header's load, {} between its windows); header during it: \
                     {during_line}",
                    took.as_secs_f64(),
                    rate(per_second),
                    rate(loaded_rate),
                    rate(between_rate)
                ),
                baseline: format!("header with nothing due, same service: {quiet_line}"),
                ratio: Some(ratio),
                rounds: Vec::new(),
                target: "reported (header p99 during ÷ with nothing due)".into(),
                margin: None,
                met: None,
                note: String::new(),
            },
            section,
        );
        Ok(())
    }
}
