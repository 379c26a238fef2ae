//! Crashes of the render loop: the rounds of applies and purchases again, with the
//! service on `renderer = "external"` and a render service at work (its own token) that
//! claims jobs and answers each with `completeRender` or `failRender`, until the kill.
//! After every restart, besides the checks of the applies and purchases:
//!
//! - a render job exists if and only if its charge committed: every edit (each belongs
//!   to one apply's record with its CHARGE) has exactly one job, and every job names an
//!   edit;
//! - a job is finished if and only if its edit is, with the edit's status as outcome;
//! - every FAILED edit is refunded exactly once (one REFUND of its credit to the lot
//!   that paid, `refunded_at` set), no READY or RENDERING edit is refunded;
//! - every result a client got stands; every result the kill cut (or that the kill
//!   kept from being sent), sent again under the same claim, is answered with that
//!   result, and sent a third time answers the same;
//! - the auditor holds (checked by the round).
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entity::edit;
use entity::enums::{EditStatus, EntryKind};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use studio_bff::auth::{Auth, Role};
use studio_bff::ids::Kind;
use tokio::time::Instant;

use crate::api_support::operation_document;
use crate::api_support::service::{Reply, post_graphql};
use crate::{Crashes, Outcome, array, judge, rounds};

/// Render service clients claiming at once.
pub const CLIENTS: usize = 3;
/// The most jobs one claim takes.
const MAX_CLAIM: i64 = 5;
/// Of the results, the share that are failures.
const FAILURE_SHARE: f64 = 0.4;

/// What a render client reports of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finish {
    Ready(String),
    Failed(String),
}

impl Finish {
    /// The mutation's field in `data`.
    fn field(&self) -> &'static str {
        match self {
            Finish::Ready(_) => "completeRender",
            Finish::Failed(_) => "failRender",
        }
    }

    /// Whether an answered edit (`edit { id status imageUrl }` or `edit { id status
    /// failureReason refundedAt }`) shows this result.
    fn answered(&self, edit: &Value) -> bool {
        match self {
            Finish::Ready(url) => edit["status"] == "READY" && edit["imageUrl"] == url.as_str(),
            Finish::Failed(reason) => {
                edit["status"] == "FAILED" && edit["failureReason"] == reason.as_str() && edit["refundedAt"].is_string()
            }
        }
    }

    /// Whether the stored edit shows this result.
    fn stored(&self, edit: &edit::Model) -> bool {
        match self {
            Finish::Ready(url) => edit.status == EditStatus::Ready && edit.image_url.as_ref() == Some(url),
            Finish::Failed(reason) => {
                edit.status == EditStatus::Failed
                    && edit.failure_reason.as_ref() == Some(reason)
                    && edit.refunded_at.is_some()
            }
        }
    }
}

/// One result as sent (or about to be, when the kill came first): enough to send it
/// again.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The edit's global id, as the claim named it.
    edit: String,
    finish: Finish,
    body: Value,
}

/// What one render client did until the kill.
pub struct Run {
    results: Vec<(Sent, Outcome)>,
    /// Claims answered with anything but jobs: violations.
    unexpected: Vec<String>,
}

/// The figures of the render service's side of a database's run.
#[derive(Default)]
struct Figures {
    answered: usize,
    /// Results the kill cut or kept from being sent, sent again after the restart.
    in_flight: usize,
    /// Of those, the ones that had committed before the kill.
    in_flight_committed: usize,
}

/// The render service: its token, the contract's documents, and every result it got.
pub struct Renderer {
    token: Arc<String>,
    documents: Arc<[String; 3]>,
    /// Every result answered so far, by edit id: it must stand for good.
    finished: HashMap<i64, Finish>,
    figures: Figures,
}

impl Renderer {
    pub fn new(auth: &Auth) -> Renderer {
        let token = auth
            .mint("render-service", Role::Renderer, None, Duration::from_secs(24 * 3600))
            .expect("a token");
        Renderer {
            token: Arc::new(token),
            documents: Arc::new(["ClaimRenderJobs", "CompleteRender", "FailRender"].map(operation_document)),
            finished: HashMap::new(),
            figures: Figures::default(),
        }
    }

    /// One client of the render service: claims up to [`MAX_CLAIM`] jobs and answers
    /// each, until the service is gone or `deadline`.
    pub fn client(
        &self,
        addr: String,
        prefix: String,
        mut rng: StdRng,
        deadline: Instant,
    ) -> impl Future<Output = Run> + Send + 'static {
        let token = self.token.clone();
        let documents = self.documents.clone();
        async move {
            let mut run = Run {
                results: Vec::new(),
                unexpected: Vec::new(),
            };
            let mut n = 0;
            while Instant::now() < deadline {
                let claim = json!({
                    "query": documents[0],
                    "operationName": "ClaimRenderJobs",
                    "variables": {"max": rng.random_range(1..=MAX_CLAIM)},
                });
                let jobs = match post_graphql(&addr, Some(&token), &claim).await {
                    Reply::Answered(status, body) => match judge("claimRenderJobs", status, &body) {
                        Outcome::Succeeded(payload) => array(&payload["jobs"]).to_vec(),
                        other => {
                            run.unexpected.push(format!("a claim answered {other:?}"));
                            return run;
                        }
                    },
                    // A claim the kill cut may have leased jobs no one answers: they
                    // stay RENDERING until their lease runs out.
                    Reply::NotSent(_) | Reply::Cut(_) => return run,
                };
                if jobs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let mut gone = false;
                for job in jobs {
                    n += 1;
                    let job_id = job["id"].as_str().unwrap_or_default();
                    let (finish, body) = if rng.random_bool(FAILURE_SHARE) {
                        let reason = format!("render {prefix}-{n} failed");
                        let body = json!({
                            "query": documents[2],
                            "operationName": "FailRender",
                            "variables": {"jobId": job_id, "reason": reason},
                        });
                        (Finish::Failed(reason), body)
                    } else {
                        let url = format!("https://cdn.example/{prefix}-{n}.png");
                        let body = json!({
                            "query": documents[1],
                            "operationName": "CompleteRender",
                            "variables": {"jobId": job_id, "imageUrl": url},
                        });
                        (Finish::Ready(url), body)
                    };
                    let sent = Sent {
                        edit: job["edit"]["id"].as_str().unwrap_or_default().to_owned(),
                        finish,
                        body,
                    };
                    if gone {
                        // Claimed, never sent: the restarted service must take it.
                        run.results.push((sent, Outcome::InFlight));
                        continue;
                    }
                    match post_graphql(&addr, Some(&token), &sent.body).await {
                        Reply::Answered(status, body) => {
                            let outcome = judge(sent.finish.field(), status, &body);
                            run.results.push((sent, outcome));
                        }
                        Reply::NotSent(_) | Reply::Cut(_) => {
                            gone = true;
                            run.results.push((sent, Outcome::InFlight));
                        }
                    }
                }
                if gone {
                    break;
                }
            }
            run
        }
    }
}

impl Crashes {
    /// The render checks of a round, after the restart: the results the clients got,
    /// the ones the kill cut sent again, then every job, edit and refund stored.
    pub async fn check_renders(&mut self, runs: Vec<Run>) {
        let Some(mut renderer) = self.renderer.take() else {
            return;
        };
        let before = self.stored().await;
        for run in runs {
            for unexpected in run.unexpected {
                self.check(false, || unexpected);
            }
            for (sent, outcome) in run.results {
                let edit_id = self.auth.ids().decode_i64(Kind::PhotoEdit, &sent.edit);
                match outcome {
                    Outcome::Succeeded(payload) => {
                        renderer.figures.answered += 1;
                        self.check(sent.finish.answered(&payload["edit"]), || {
                            format!("{sent:?}: answered {payload}")
                        });
                    }
                    Outcome::InFlight => {
                        renderer.figures.in_flight += 1;
                        let committed = before
                            .jobs
                            .iter()
                            .any(|j| Some(j.edit_id) == edit_id && j.finished_at.is_some());
                        if committed {
                            renderer.figures.in_flight_committed += 1;
                        }
                        let retried = self.send_result(&renderer, &sent).await;
                        let again = self.send_result(&renderer, &sent).await;
                        let answered = matches!(&retried, Outcome::Succeeded(p) if sent.finish.answered(&p["edit"]));
                        let same = match (&retried, &again) {
                            (Outcome::Succeeded(a), Outcome::Succeeded(b)) => a == b,
                            _ => false,
                        };
                        self.check(answered && same, || {
                            format!(
                                "{sent:?} (committed: {committed}): sent again, answered {retried:?} then {again:?}"
                            )
                        });
                    }
                    other => self.check(false, || format!("{sent:?}: {other:?}")),
                }
                match edit_id {
                    Some(id) => {
                        renderer.finished.insert(id, sent.finish);
                    }
                    None => self.check(false, || format!("a job named the edit {:?}", sent.edit)),
                }
            }
        }
        self.check_render_state(&renderer).await;
        self.renderer = Some(renderer);
    }

    /// Sends a result again to the running service.
    async fn send_result(&self, renderer: &Renderer, sent: &Sent) -> Outcome {
        match post_graphql(&self.service.addr, Some(&renderer.token), &sent.body).await {
            Reply::Answered(status, body) => judge(sent.finish.field(), status, &body),
            other => Outcome::Unexpected(format!("no answer from the running service: {other:?}")),
        }
    }

    /// One job per edit, finished with its edit; one refund per failed edit, none
    /// otherwise; every result answered still stands.
    async fn check_render_state(&mut self, renderer: &Renderer) {
        let stored = self.stored().await;
        let mut jobs: HashMap<i64, Vec<_>> = HashMap::new();
        for job in &stored.jobs {
            jobs.entry(job.edit_id).or_default().push(job);
        }
        let mut refunds: HashMap<String, Vec<_>> = HashMap::new();
        for entry in stored.entries.iter().filter(|e| e.kind == EntryKind::Refund) {
            refunds.entry(entry.cause.clone()).or_default().push(entry);
        }
        for edit in &stored.edits {
            let its_jobs = jobs.remove(&edit.id).unwrap_or_default();
            let finished = edit.status != EditStatus::Rendering;
            self.check(
                its_jobs.len() == 1
                    && its_jobs[0].finished_at.is_some() == finished
                    && its_jobs[0].outcome == finished.then_some(edit.status),
                || format!("edit {edit:?} has the jobs {its_jobs:?}"),
            );
            let its_refunds = refunds.remove(&format!("refund:{}", edit.id)).unwrap_or_default();
            let refunded_once = its_refunds.len() == 1
                && its_refunds[0].amount == edit.credits_charged
                && its_refunds[0].lot_id == edit.lot_id
                && edit.refunded_at.is_some();
            let refunded = if edit.status == EditStatus::Failed {
                refunded_once
            } else {
                its_refunds.is_empty() && edit.refunded_at.is_none()
            };
            self.check(refunded, || format!("edit {edit:?} has the refunds {its_refunds:?}"));
            if let Some(finish) = renderer.finished.get(&edit.id) {
                self.check(finish.stored(edit), || format!("edit {edit:?} was answered {finish:?}"));
            }
        }
        self.check(jobs.is_empty(), || format!("jobs of no edit: {jobs:?}"));
        self.check(refunds.is_empty(), || format!("refunds of no failed edit: {refunds:?}"));
        self.check(
            renderer
                .finished
                .keys()
                .all(|id| stored.edits.iter().any(|e| e.id == *id)),
            || "a result answered for an edit not stored".to_owned(),
        );
    }
}

crate::on_both_databases! {
    async fn killed_while_renders_finish_a_job_exists_if_and_only_if_its_charge_committed_and_each_failure_is_refunded_once(db) {
        let started = std::time::Instant::now();
        let name = if db.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let mut crashes = Crashes::start(&db, true).await;
        for round in 0..rounds(10) {
            crashes.round(round).await;
        }
        let stored = crashes.stored().await;
        let count = |status| stored.edits.iter().filter(|e| e.status == status).count();
        let refunds = stored.entries.iter().filter(|e| e.kind == EntryKind::Refund).count();
        let (ready, failed, rendering) = (count(EditStatus::Ready), count(EditStatus::Failed), count(EditStatus::Rendering));
        let f = &crashes.figures;
        let r = &crashes.renderer.as_ref().expect("the renderer").figures;
        eprintln!(
            "crashes with renders ({name}): {} rounds, {} kills, {} edits ({ready} READY, {failed} FAILED, {rendering} RENDERING), {refunds} refunds, {} results answered, {} in flight retried ({} had committed), {} checks, {} violations in {:.1} s",
            f.rounds,
            f.kills,
            stored.edits.len(),
            r.answered,
            r.in_flight,
            r.in_flight_committed,
            f.checks,
            f.violations,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(f.violations, 0);
        assert_eq!(f.kills, rounds(10));
        // The rounds did what they are for: renders of both outcomes, refunds.
        assert!(ready > 0 && failed > 0, "{ready} READY and {failed} FAILED edits");
        assert_eq!(refunds, failed);
    }
}
