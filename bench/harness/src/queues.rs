//! The queues (issue 16): render jobs claimed and finished by two renderers on two
//! instances, and webhook events delivered to a loopback receiver by two instances,
//! each after a backlog made through the API and beside a bare `SKIP LOCKED` loop in
//! pgbench on the same tables (`bench/pgbench/render-claim.sql`,
//! `bench/pgbench/webhook-claim.sql`). Rounds alternate pgbench, then the service, each
//! side taking the same number of the oldest items of the backlog.
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use futures_util::{StreamExt, TryStreamExt, stream};
use hyper::header::HeaderValue;
use serde_json::json;
use studio_bff::auth::Role;
use studio_bff::ids::Kind;
use studio_bff::webhooks::signature::{signature, signing_key};

use crate::http::{Pool, bearer};
use crate::procs::{self, Database, PG_USER, run_script};
use crate::report::{Row, list, median, num, rate, thousands};
use crate::setup::{Account, Api, no_user_errors};
use crate::{Opts, Result, bail};

/// Jobs one claim takes, in the service's renderers and in the bare loop.
const CLAIM: usize = 10;
/// Requests in flight while making the backlog.
const BACKLOG_CONCURRENCY: usize = 16;
/// The receiver's secret (`webhook_secret`): 24 characters or more.
const WEBHOOK_SECRET: &str = "studio-bench-webhook-secret-0123456789";
/// How long one side of a round may take before the run fails.
const PATIENCE: Duration = Duration::from_secs(300);

/// What the queue scenarios take from the run.
pub struct Ctx<'a> {
    pub opts: &'a Opts,
    pub dir: &'a Path,
    pub secret: &'a str,
    pub db: &'a Database,
    pub api: &'a Arc<Api>,
    pub accounts: &'a Arc<Vec<Account>>,
    /// The instance the backlog is made through (it runs neither queue).
    pub main: SocketAddr,
    pub rounds: usize,
    /// A run key, so idempotency keys are used once.
    pub run: u64,
}

/// Items each side takes per round.
fn sizes(smoke: bool) -> (usize, usize) {
    // (render jobs, webhook events)
    if smoke { (40, 20) } else { (5_000, 600) }
}

/// One queue's figures: per-round rates of the service and of pgbench.
struct Rates {
    service: Vec<f64>,
    bare: Vec<f64>,
}

impl Rates {
    fn row(&self, scenario: String, unit: &str, bare: &str, note: String) -> (Row, String) {
        let (service, base) = (median(&self.service), median(&self.bare));
        let ratio = service / base;
        let rounds: Vec<f64> = self.service.iter().zip(&self.bare).map(|(s, b)| s / b).collect();
        let line = format!(
            "| service | {} | **{}** |\n| {bare} | {} | **{}** |\n",
            list(&self.service, rate),
            rate(service),
            list(&self.bare, rate),
            rate(base),
        );
        let row = Row {
            scenario,
            figure: format!("{} {unit}/s", num(service)),
            baseline: format!("{bare}: {} {unit}/s", num(base)),
            ratio: Some(ratio),
            rounds,
            target: "reported".into(),
            margin: None,
            met: None,
            note,
        };
        (row, line)
    }
}

/// The pgbench loop `script` on the run's database, `clients` clients of
/// `transactions` each; its transactions per second.
async fn bare_loop(ctx: &Ctx<'_>, script: &str, clients: usize, transactions: usize) -> Result<f64> {
    let mut command = Command::new("pgbench");
    command
        .args(["-h", procs::PG_HOST, "-p", &procs::PG_PORT.to_string(), "-U", PG_USER])
        .args(["-n", "-c", &clients.to_string(), "-j", &clients.to_string()])
        .args(["-t", &transactions.to_string(), "-f"])
        .arg(ctx.opts.repo.join("bench/pgbench").join(script))
        .arg(&ctx.db.name);
    crate::scenarios::pgbench_tps(&run_script(command).await?)
}

/// Render jobs: a backlog of applies, then rounds of the bare loop and of two
/// renderers, one on each of two instances (`renderer` external, the default with a
/// database), each claiming `CLAIM` jobs at a time and completing them at once.
pub async fn render(ctx: &Ctx<'_>) -> Result<(Row, String)> {
    let (jobs, _) = sizes(ctx.opts.smoke);
    let pool = Pool::new(ctx.main, BACKLOG_CONCURRENCY);
    // Each apply charges one group of photos: a job per photo.
    let per_apply = ctx.accounts[0].groups[0].photos.len();
    let applies = (2 * jobs * ctx.rounds).div_ceil(per_apply) + 1;
    let made = Instant::now();
    stream::iter(0..applies)
        .map(|i| {
            let (pool, api, accounts) = (&pool, ctx.api, ctx.accounts);
            async move {
                let account = &accounts[i % accounts.len()];
                let group = &account.groups[0];
                let body = api.apply_body(&group.photos, group.next_look(), &format!("queue-{}-{i}", ctx.run));
                let (status, answer) = pool.send(&account.bearer, body).await?;
                let answer = crate::http::judge(status, &answer)?;
                no_user_errors(&answer["data"]["applyChanges"], "applyChanges")
            }
        })
        .buffer_unordered(BACKLOG_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    let backlog_seconds = made.elapsed().as_secs_f64();
    let waiting = procs::psql(
        &ctx.db.name,
        "SELECT count(*) FROM render_jobs WHERE finished_at IS NULL",
    )?;

    let token = ctx
        .api
        .auth
        .mint("bench-renderer", Role::Renderer, None, Duration::from_secs(24 * 3600))?;
    let renderer = bearer(&token);
    let a = crate::scenarios::start_configured(ctx.opts, ctx.dir, ctx.secret, "renderer-a", &ctx.db.url(PG_USER), &[])
        .await?;
    let b = crate::scenarios::start_configured(ctx.opts, ctx.dir, ctx.secret, "renderer-b", &ctx.db.url(PG_USER), &[])
        .await?;
    let mut rates = Rates {
        service: Vec::new(),
        bare: Vec::new(),
    };
    for _ in 0..ctx.rounds {
        // Two clients, each transaction claiming and finishing `CLAIM` jobs.
        let tps = bare_loop(ctx, "render-claim.sql", 2, jobs / CLAIM / 2).await?;
        rates.bare.push(tps * CLAIM as f64);
        let started = Instant::now();
        let (x, y) = tokio::try_join!(
            renderer_loop(ctx.api, a.addr, &renderer, jobs / 2),
            renderer_loop(ctx.api, b.addr, &renderer, jobs - jobs / 2),
        )?;
        rates.service.push((x + y) as f64 / started.elapsed().as_secs_f64());
    }
    drop((a, b));
    let unit = "jobs";
    let (row, lines) = rates.row(
        "Render queue: jobs claimed and finished by two renderers on two instances".into(),
        unit,
        "pgbench, bare SKIP LOCKED loop, 2 clients",
        String::new(),
    );
    let section = format!(
        "## 13. The render queue: two renderers on two instances\n\n\
         A backlog of {} ApplyChanges of {per_apply} photos through the main instance ({:.1} s; {} jobs were \
         waiting after it, those of earlier scenarios included). Then {} round(s), each: pgbench runs the bare \
         loop `bench/pgbench/render-claim.sql` (2 clients, each transaction claims the {CLAIM} oldest waiting \
         jobs with `FOR UPDATE SKIP LOCKED` under a lease, reads what to render, and finishes them `READY`) \
         over {} jobs; then two renderers, harness clients with `renderer` tokens, one on each of two fresh \
         instances, run `ClaimRenderJobs(max: {CLAIM})` and answer every job of the claim with `CompleteRender` \
         at once, until they have finished {} jobs between them. Jobs per second, from the first claim to the \
         last result.\n\n| | per round | median |\n|---|---|---|\n{lines}\n\
         Ratio of the medians: {:.2}.\n",
        thousands(applies as u64),
        backlog_seconds,
        waiting,
        ctx.rounds,
        thousands(jobs as u64),
        thousands(jobs as u64),
        row.ratio.unwrap_or(f64::NAN),
    );
    Ok((row, section))
}

/// One renderer on `addr`: claims and completes until it has finished `wanted` jobs;
/// how many it finished.
async fn renderer_loop(api: &Api, addr: SocketAddr, renderer: &HeaderValue, wanted: usize) -> Result<usize> {
    let pool = Pool::new(addr, CLAIM + 1);
    let ops = &api.operations;
    let started = Instant::now();
    let mut finished = 0;
    while finished < wanted {
        if started.elapsed() > PATIENCE {
            bail!("a renderer finished {finished} of {wanted} jobs in {PATIENCE:?}");
        }
        let max = CLAIM.min(wanted - finished);
        let claimed = pool
            .graphql(
                renderer,
                ops.get("ClaimRenderJobs"),
                "ClaimRenderJobs",
                json!({"max": max}),
            )
            .await?;
        let payload = &claimed["data"]["claimRenderJobs"];
        no_user_errors(payload, "claimRenderJobs")?;
        let jobs: Vec<String> = payload["jobs"]
            .as_array()
            .ok_or("claimRenderJobs gave no jobs")?
            .iter()
            .map(|j| j["id"].as_str().map(str::to_owned).ok_or("a job without id"))
            .collect::<std::result::Result<_, _>>()?;
        if jobs.is_empty() {
            bail!("the render backlog ran dry after {finished} of {wanted} jobs");
        }
        let done = stream::iter(jobs)
            .map(|job| {
                let pool = &pool;
                async move {
                    let answer = pool
                        .graphql(
                            renderer,
                            ops.get("CompleteRender"),
                            "CompleteRender",
                            json!({"jobId": job, "imageUrl": format!("https://render.example/{job}.png")}),
                        )
                        .await?;
                    let payload = &answer["data"]["completeRender"];
                    no_user_errors(payload, "completeRender")?;
                    if payload["edit"]["status"] != "READY" {
                        bail!("a completed render is not READY: {answer}");
                    }
                    Ok::<_, crate::Error>(())
                }
            })
            .buffer_unordered(CLAIM)
            .try_fold(0, |n, ()| async move { Ok(n + 1) })
            .await?;
        finished += done;
    }
    Ok(finished)
}

/// The loopback receiver: checks each delivery's signature, answers 204 (400 to a bad
/// one), and notes when each good one arrived. Stops when dropped.
struct Receiver {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    bad: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Result<Receiver> {
        let key = signing_key(WEBHOOK_SECRET).ok_or("the receiver's secret is not a signing key")?;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let bad = Arc::new(Mutex::new(0));
        let (a, b) = (arrivals.clone(), bad.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let (arrivals, bad, key) = (a.clone(), b.clone(), key.clone());
                async move {
                    let at = Instant::now();
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
                    let timestamp = header("webhook-timestamp").parse::<i64>().unwrap_or_default();
                    if header("webhook-signature") == signature(&key, header("webhook-id"), timestamp, &body) {
                        arrivals.lock().expect("the arrivals").push(at);
                        StatusCode::NO_CONTENT
                    } else {
                        *bad.lock().expect("the bad count") += 1;
                        StatusCode::BAD_REQUEST
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver {
            addr,
            arrivals,
            bad,
            task,
        })
    }

    fn count(&self) -> usize {
        self.arrivals.lock().expect("the arrivals").len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Webhook events: a backlog of pack purchases (each issues an invoice and its
/// `invoice.issued` event), then rounds of the bare loop and of two instances
/// configured with the receiver, started for the round and stopped after it.
pub async fn webhooks(ctx: &Ctx<'_>) -> Result<(Row, String)> {
    let (_, events) = sizes(ctx.opts.smoke);
    let pool = Pool::new(ctx.main, BACKLOG_CONCURRENCY);
    let purchases = 2 * events * ctx.rounds + events / 10;
    let pack = ctx.api.auth.ids().encode(Kind::CreditPack, "pro-small");
    let made = Instant::now();
    stream::iter(0..purchases)
        .map(|i| {
            let (pool, api, accounts, pack) = (&pool, ctx.api, ctx.accounts, &pack);
            async move {
                let account = &accounts[i % accounts.len()];
                let bought = pool
                    .graphql(
                        &account.bearer,
                        api.operations.get("BuyPack"),
                        "BuyPack",
                        json!({"packId": pack, "idempotencyKey": format!("queue-buy-{}-{i}", ctx.run)}),
                    )
                    .await?;
                no_user_errors(&bought["data"]["purchasePack"], "purchasePack")
            }
        })
        .buffer_unordered(BACKLOG_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    let backlog_seconds = made.elapsed().as_secs_f64();
    let pending = procs::psql(
        &ctx.db.name,
        "SELECT count(*) FROM webhook_events WHERE status = 'PENDING'",
    )?;

    let receiver = Receiver::start().await?;
    let url = format!("http://{}/hook", receiver.addr);
    let env = [
        ("STUDIO_WEBHOOK_URL", url.as_str()),
        ("STUDIO_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    let mut rates = Rates {
        service: Vec::new(),
        bare: Vec::new(),
    };
    for round in 0..ctx.rounds {
        rates
            .bare
            .push(bare_loop(ctx, "webhook-claim.sql", 2, events / 2).await?);
        let from = receiver.count();
        let db_url = ctx.db.url(PG_USER);
        let (a, b) = (format!("webhooks-a-{round}"), format!("webhooks-b-{round}"));
        let start = |name| crate::scenarios::start_configured(ctx.opts, ctx.dir, ctx.secret, name, &db_url, &env);
        let instances = tokio::try_join!(start(&a), start(&b))?;
        let started = Instant::now();
        while receiver.count() < from + events {
            if started.elapsed() > PATIENCE {
                bail!(
                    "the instances delivered {} of {events} events in {PATIENCE:?}",
                    receiver.count() - from
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(instances);
        // From the round's first delivery to its `events`-th: the instances' start aside.
        let arrivals = receiver.arrivals.lock().expect("the arrivals");
        let (first, last) = (arrivals[from], arrivals[from + events - 1]);
        rates
            .service
            .push((events - 1) as f64 / last.duration_since(first).as_secs_f64().max(1e-9));
    }
    let bad = *receiver.bad.lock().expect("the bad count");
    drop(receiver);
    if bad > 0 {
        bail!("the receiver got {bad} deliveries with a wrong signature");
    }
    let (row, lines) = rates.row(
        "Webhook outbox: events delivered to a loopback receiver by two instances".into(),
        "events",
        "pgbench, bare SKIP LOCKED loop, 2 clients",
        String::new(),
    );
    let section = format!(
        "## 14. The webhook outbox: two instances delivering to a loopback receiver\n\n\
         A backlog of {} `BuyPack` purchases through the main instance, which has no `webhook_url` ({:.1} s; \
         each issues an invoice and writes its `invoice.issued` event; {} events were pending after it). The \
         receiver is an HTTP server in the harness that checks each event's `webhook-signature` and answers \
         204. Then {} round(s), each: pgbench runs the bare loop `bench/pgbench/webhook-claim.sql` (2 \
         clients, each transaction claims the oldest due event with `FOR UPDATE SKIP LOCKED`, in order per \
         account as the service does, reads it and marks it delivered, sending nothing) over {} events; then \
         two fresh instances with `webhook_url` and `webhook_secret` deliver until the receiver has {} more, \
         and are stopped. Events per second from the round's first delivery to its last.\n\n\
         | | per round | median |\n|---|---|---|\n{lines}\n\
         Ratio of the medians: {:.2}.\n",
        thousands(purchases as u64),
        backlog_seconds,
        pending,
        ctx.rounds,
        thousands(events as u64),
        thousands(events as u64),
        row.ratio.unwrap_or(f64::NAN),
    );
    Ok((row, section))
}
