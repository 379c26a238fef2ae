//! The render queue and refunds (rules §1 "Renders", "Faulty reports"), on SQLite and
//! PostgreSQL: a job per charged edit, leases, idempotent results, the clock's give-up,
//! a failed render's credit going back to the lot that paid, at most once, and the
//! correction team's answers.
use crate::common::audit::audit;
use crate::common::utc;
use entity::enums::{EditStatus, EntryKind, PlanCode, ReportStatus};
use entity::{edit, ledger_entry};
use sea_orm::EntityTrait;
use studio_bff::auth::Role;
use studio_bff::config::Config;
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ledger::{Actor, ApplyRequest, Claim, Ledger, RenderResult, Resolution};

/// An account of 10 monthly credits with `n` photos applied ("showroom"): its id and
/// the edits' ids.
async fn applied(ledger: &Ledger, n: usize) -> (i64, Vec<i64>) {
    let account = ledger
        .create_account("Autohaus", PlanCode::Professional, 2, None)
        .await
        .unwrap();
    let registrations: Vec<(String, String)> = (0..n)
        .map(|i| (format!("listing-{i}"), format!("https://img.example/{i}.jpg")))
        .collect();
    let photo_ids: Vec<i64> = ledger
        .register_photos(account.id, &registrations)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let request = ApplyRequest {
        photo_ids,
        background_id: "showroom".into(),
        logo: None,
        idempotency_key: "k1".into(),
    };
    let outcome = ledger.apply_changes(account.id, &request).await.unwrap().outcome;
    (account.id, outcome.edit_ids)
}

fn renderer(ledger: &Ledger) -> Ledger {
    ledger.acting_as(Actor {
        user_id: "render-service".into(),
        role: Role::Renderer,
    })
}

fn ready(url: &str) -> RenderResult {
    RenderResult::Ready { image_url: url.into() }
}

fn failed(reason: &str) -> RenderResult {
    RenderResult::Failed { reason: reason.into() }
}

fn refusal_code(result: Result<impl std::fmt::Debug, Error>) -> RefusalCode {
    match result {
        Err(Error::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn edit_of(ledger: &Ledger, id: i64) -> edit::Model {
    edit::Entity::find_by_id(id)
        .one(ledger.db())
        .await
        .unwrap()
        .expect("the edit")
}

/// (kind, amount, cause, actor) of every entry of the account after its first (the grant).
async fn movements(ledger: &Ledger, account_id: i64) -> Vec<(EntryKind, i32, String, Option<String>)> {
    ledger
        .entries(account_id)
        .await
        .unwrap()
        .into_iter()
        .skip(1)
        .map(|e: ledger_entry::Model| (e.kind, e.amount, e.cause, e.actor_user_id))
        .collect()
}

async fn balance(ledger: &Ledger, account_id: i64) -> i32 {
    let account = ledger.account(account_id).await.unwrap().unwrap();
    ledger.balance(&account).await.unwrap().available
}

on_both_databases! {
    async fn every_charged_edit_starts_rendering_and_its_job_is_claimed_once(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (_, edits) = applied(&ledger, 3).await;

        assert_eq!(edit_of(&ledger, edits[0]).await.status, EditStatus::Rendering);
        let jobs = ledger.claim_render_jobs(2).await.unwrap();
        let rest = ledger.claim_render_jobs(100).await.unwrap();
        let none = ledger.claim_render_jobs(100).await.unwrap();

        let claimed: Vec<i64> = jobs.iter().chain(&rest).map(|j| j.edit.id).collect();
        assert_eq!(claimed, edits);
        assert!(none.is_empty());
        assert_eq!(jobs[0].claim.attempt, 1);
        assert_eq!(jobs[0].lease_expires_at, utc("2026-11-24T10:01:00Z"));
        assert_eq!(jobs[0].photo.original_url, "https://img.example/0.jpg");
        assert_eq!(jobs[0].edit.background_id, "showroom");
    }

    async fn a_completed_render_is_ready_with_its_image_and_the_same_result_again_answers_the_first(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edits) = applied(&ledger, 1).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        let renderer = renderer(&ledger);

        let first = renderer.finish_render(job.claim, &ready("https://cdn.example/1.png")).await.unwrap();
        let again = renderer.finish_render(job.claim, &ready("https://cdn.example/1.png")).await.unwrap();
        let other = renderer.finish_render(job.claim, &failed("late")).await.unwrap();

        assert_eq!(first.id, edits[0]);
        assert_eq!(first.status, EditStatus::Ready);
        assert_eq!(first.image_url.as_deref(), Some("https://cdn.example/1.png"));
        assert_eq!(again, first);
        assert_eq!(other, first);
        assert_eq!(balance(&ledger, account_id).await, 9);
        assert!(ledger.claim_render_jobs(10).await.unwrap().is_empty());
    }

    async fn a_failed_render_gives_the_credit_back_to_the_lot_that_paid_once(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edits) = applied(&ledger, 2).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        let renderer = renderer(&ledger);

        let edit = renderer.finish_render(job.claim, &failed("model crashed")).await.unwrap();
        let again = renderer.finish_render(job.claim, &failed("model crashed")).await.unwrap();

        assert_eq!(edit.id, edits[0]);
        assert_eq!(edit.status, EditStatus::Failed);
        assert_eq!(edit.failure_reason.as_deref(), Some("model crashed"));
        assert_eq!(edit.refunded_at, Some(utc("2026-11-24T10:00:00Z")));
        assert_eq!(again, edit);
        assert_eq!(balance(&ledger, account_id).await, 9);
        let refunds: Vec<_> = movements(&ledger, account_id).await.into_iter().filter(|m| m.0 == EntryKind::Refund).collect();
        assert_eq!(refunds, vec![(EntryKind::Refund, 1, format!("refund:{}", edits[0]), Some("render-service".to_owned()))]);
        let refund_lot = ledger.entries(account_id).await.unwrap().into_iter().find(|e| e.kind == EntryKind::Refund).unwrap().lot_id;
        assert_eq!(refund_lot, edit.lot_id);
        assert_eq!(audit(&ledger, &[account_id]).await.1, 0);
    }

    async fn a_lease_that_ran_out_offers_the_job_again_and_the_old_claims_result_is_refused(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (_, edits) = applied(&ledger, 1).await;
        let first = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        ledger.set_clock(utc("2026-11-24T10:00:59Z")).await.unwrap();
        assert!(ledger.claim_render_jobs(1).await.unwrap().is_empty());

        ledger.set_clock(utc("2026-11-24T10:01:00Z")).await.unwrap();
        let second = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        let stale = ledger.finish_render(first.claim, &ready("https://cdn.example/old.png")).await;
        let edit = ledger.finish_render(second.claim, &ready("https://cdn.example/new.png")).await.unwrap();
        let stale_after = ledger.finish_render(first.claim, &ready("https://cdn.example/old.png")).await;

        assert_eq!(second.edit.id, edits[0]);
        assert_eq!(second.claim, Claim { job_id: first.claim.job_id, attempt: 2 });
        assert_eq!(second.lease_expires_at, utc("2026-11-24T10:02:00Z"));
        assert_eq!(refusal_code(stale), RefusalCode::JobLeaseExpired);
        assert_eq!(refusal_code(stale_after), RefusalCode::JobLeaseExpired);
        assert_eq!(edit.image_url.as_deref(), Some("https://cdn.example/new.png"));
    }

    async fn a_result_after_the_lease_ran_out_but_before_another_claim_is_recorded(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        applied(&ledger, 1).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        ledger.set_clock(utc("2026-11-24T10:05:00Z")).await.unwrap();

        let edit = ledger.finish_render(job.claim, &ready("https://cdn.example/1.png")).await.unwrap();

        assert_eq!(edit.status, EditStatus::Ready);
        assert!(ledger.claim_render_jobs(1).await.unwrap().is_empty());
    }

    async fn a_render_not_finished_in_time_fails_timed_out_and_is_refunded_once_by_the_clock(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edits) = applied(&ledger, 2).await;
        let held = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        ledger.set_clock(utc("2026-11-24T10:29:59Z")).await.unwrap();
        assert_eq!(edit_of(&ledger, edits[0]).await.status, EditStatus::Rendering);

        ledger.set_clock(utc("2026-11-24T10:30:00Z")).await.unwrap();
        ledger.set_clock(utc("2026-11-24T11:30:00Z")).await.unwrap();
        let late = renderer(&ledger).finish_render(held.claim, &ready("https://cdn.example/late.png")).await.unwrap();

        for id in &edits {
            let edit = edit_of(&ledger, *id).await;
            assert_eq!(edit.status, EditStatus::Failed);
            assert_eq!(edit.failure_reason.as_deref(), Some("timed out"));
            assert_eq!(edit.refunded_at, Some(utc("2026-11-24T10:30:00Z")));
        }
        assert_eq!(late.status, EditStatus::Failed);
        assert_eq!(late.image_url, None);
        assert_eq!(balance(&ledger, account_id).await, 10);
        let refunds: Vec<_> = movements(&ledger, account_id).await.into_iter().filter(|m| m.0 == EntryKind::Refund).collect();
        assert_eq!(refunds, vec![
            (EntryKind::Refund, 1, format!("give_up:{}", edits[0]), None),
            (EntryKind::Refund, 1, format!("give_up:{}", edits[1]), None),
        ]);
        assert!(ledger.claim_render_jobs(10).await.unwrap().is_empty());
        assert_eq!(audit(&ledger, &[account_id]).await.1, 0);
    }

    async fn a_refund_to_a_lot_that_expired_meanwhile_expires_at_the_same_instant(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-30T23:50:00Z")).await;
        let (account_id, edits) = applied(&ledger, 1).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        ledger.set_clock(utc("2026-12-01T00:00:30Z")).await.unwrap();

        renderer(&ledger).finish_render(job.claim, &failed("model crashed")).await.unwrap();

        let entries = ledger.entries(account_id).await.unwrap();
        let tail: Vec<_> = entries.iter().rev().take(2).rev()
            .map(|e| (e.kind, e.amount, e.created_at, e.balance_after, e.lot_id))
            .collect();
        let paid = edit_of(&ledger, edits[0]).await.lot_id;
        assert_eq!(tail, vec![
            (EntryKind::Refund, 1, utc("2026-12-01T00:00:30Z"), 11, paid),
            (EntryKind::Expiry, -1, utc("2026-12-01T00:00:30Z"), 10, paid),
        ]);
        assert_eq!(balance(&ledger, account_id).await, 10);
        assert_eq!(audit(&ledger, &[account_id]).await.1, 0);
    }

    async fn claims_and_results_refuse_what_does_not_exist_and_change_nothing(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, _) = applied(&ledger, 1).await;

        assert_eq!(refusal_code(ledger.claim_render_jobs(0).await), RefusalCode::InvalidInput);
        assert_eq!(refusal_code(ledger.claim_render_jobs(101).await), RefusalCode::InvalidInput);
        let missing = Claim { job_id: 999_999, attempt: 1 };
        assert_eq!(refusal_code(ledger.finish_render(missing, &ready("https://cdn.example/1.png")).await), RefusalCode::JobNotFound);
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        assert_eq!(refusal_code(ledger.finish_render(job.claim, &ready("file:///etc/passwd")).await), RefusalCode::InvalidInput);
        assert_eq!(refusal_code(ledger.finish_render(job.claim, &failed("  ")).await), RefusalCode::InvalidInput);
        let unclaimed = Claim { attempt: 0, ..job.claim };
        assert_eq!(refusal_code(ledger.finish_render(unclaimed, &failed("x")).await), RefusalCode::JobLeaseExpired);

        assert_eq!(edit_of(&ledger, job.edit.id).await.status, EditStatus::Rendering);
        assert_eq!(balance(&ledger, account_id).await, 9);
    }

    async fn concurrent_claimants_never_hold_the_same_job(db) {
        let ledger = db.ledger_with_pool(Config::default(), utc("2026-11-24T10:00:00Z"), 8).await;
        let (_, edits) = applied(&ledger, 10).await;
        let other_instance = db.ledger_with_pool(Config::default(), utc("2026-11-24T10:00:00Z"), 8).await;

        let claimants: Vec<_> = (0..8)
            .map(|i| {
                let ledger = if i % 2 == 0 { ledger.clone() } else { other_instance.clone() };
                tokio::spawn(async move { ledger.claim_render_jobs(2).await.unwrap() })
            })
            .collect();
        let mut claimed = Vec::new();
        for claimant in claimants {
            claimed.extend(claimant.await.unwrap().into_iter().map(|j| j.edit.id));
        }
        claimed.extend(ledger.claim_render_jobs(100).await.unwrap().into_iter().map(|j| j.edit.id));

        claimed.sort_unstable();
        assert_eq!(claimed, edits);
    }
}

/// An account with one photo applied and reported: the account, the edit and the report.
async fn reported(ledger: &Ledger) -> (i64, edit::Model, i64) {
    let (account_id, edits) = applied(ledger, 1).await;
    let edit = edit_of(ledger, edits[0]).await;
    let report = ledger
        .report_faulty_photo(account_id, edit.photo_id, Some("logo cut off"))
        .await
        .unwrap()
        .report
        .id;
    (account_id, edit, report)
}

fn ops(ledger: &Ledger) -> Ledger {
    ledger.acting_as(Actor {
        user_id: "ops-7".into(),
        role: Role::Ops,
    })
}

on_both_databases! {
    async fn a_corrected_report_replaces_the_image_for_free_and_again_answers_the_same(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edit, report) = reported(&ledger).await;
        let corrected = Resolution::Corrected { image_url: "https://cdn.example/fixed.png".into() };

        let first = ops(&ledger).resolve_report(report, &corrected, None).await.unwrap();
        let again = ops(&ledger).resolve_report(report, &corrected, None).await.unwrap();
        let other = ops(&ledger).resolve_report(report, &Resolution::Refunded, None).await;

        assert_eq!(first.edit.id, edit.id);
        assert_eq!(first.edit.image_url.as_deref(), Some("https://cdn.example/fixed.png"));
        assert_eq!(first.edit.status, EditStatus::Ready);
        assert_eq!(first.report.status, ReportStatus::Corrected);
        assert_eq!(first.report.resolution_kind, Some(ReportStatus::Corrected));
        assert_eq!(first.report.resolved_at, Some(utc("2026-11-24T10:00:00Z")));
        assert_eq!(first.report.resolved_by_user_id.as_deref(), Some("ops-7"));
        assert_eq!((again.report, again.edit), (first.report, first.edit));
        assert_eq!(refusal_code(other), RefusalCode::ReportAlreadyResolved);
        assert_eq!(balance(&ledger, account_id).await, 9);
    }

    async fn a_render_completed_after_its_edit_was_corrected_keeps_the_corrected_image(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edit, report) = reported(&ledger).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        let corrected = Resolution::Corrected { image_url: "https://cdn.example/fixed.png".into() };
        ops(&ledger).resolve_report(report, &corrected, None).await.unwrap();
        let revision = edit_of(&ledger, edit.id).await.revision;

        let finished = renderer(&ledger)
            .finish_render(job.claim, &ready("https://cdn.example/late.png"))
            .await
            .unwrap();
        let again = renderer(&ledger)
            .finish_render(job.claim, &ready("https://cdn.example/late.png"))
            .await
            .unwrap();

        assert_eq!(job.edit.id, edit.id);
        assert_eq!(finished.status, EditStatus::Ready);
        assert_eq!(finished.image_url.as_deref(), Some("https://cdn.example/fixed.png"));
        assert_eq!(finished.revision, revision);
        assert_eq!(edit_of(&ledger, edit.id).await, finished);
        assert_eq!(again, finished);
        assert!(ledger.claim_render_jobs(10).await.unwrap().is_empty());
        assert_eq!(balance(&ledger, account_id).await, 9);
    }

    async fn a_refunded_report_gives_the_credit_back_once_whatever_the_number_of_reports(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, edit, report) = reported(&ledger).await;
        let second = ledger.report_faulty_photo(account_id, edit.photo_id, None).await.unwrap().report.id;

        let refunded = ops(&ledger).resolve_report(report, &Resolution::Refunded, None).await.unwrap();
        let twice = ops(&ledger).resolve_report(second, &Resolution::Refunded, None).await;
        let job = ledger.claim_render_jobs(1).await.unwrap().remove(0);
        let failed = renderer(&ledger).finish_render(job.claim, &failed("model crashed")).await.unwrap();

        assert_eq!(refunded.report.status, ReportStatus::Refunded);
        assert_eq!(refunded.edit.refunded_at, Some(utc("2026-11-24T10:00:00Z")));
        assert_eq!(refusal_code(twice), RefusalCode::AlreadyRefunded);
        assert_eq!(failed.status, EditStatus::Failed);
        assert_eq!(failed.refunded_at, Some(utc("2026-11-24T10:00:00Z")), "the failure refunds nothing again");
        let refunds: Vec<_> = movements(&ledger, account_id).await.into_iter().filter(|m| m.0 == EntryKind::Refund).collect();
        assert_eq!(refunds, vec![(EntryKind::Refund, 1, format!("report:{report}"), Some("ops-7".to_owned()))]);
        assert_eq!(balance(&ledger, account_id).await, 10);
        assert_eq!(audit(&ledger, &[account_id]).await.1, 0);
    }

    async fn a_rejected_report_needs_a_note_and_bad_input_changes_nothing(db) {
        let ledger = db.ledger(Config::default(), utc("2026-11-24T10:00:00Z")).await;
        let (account_id, _, report) = reported(&ledger).await;

        let without_note = ops(&ledger).resolve_report(report, &Resolution::Rejected, None).await;
        let bad_image = ops(&ledger).resolve_report(report, &Resolution::Corrected { image_url: "ftp://x".into() }, None).await;
        let missing = ops(&ledger).resolve_report(999_999, &Resolution::Rejected, Some("no")).await;
        let rejected = ops(&ledger).resolve_report(report, &Resolution::Rejected, Some("The logo is as uploaded.")).await.unwrap();

        assert_eq!(refusal_code(without_note), RefusalCode::InvalidInput);
        assert_eq!(refusal_code(bad_image), RefusalCode::InvalidInput);
        assert_eq!(refusal_code(missing), RefusalCode::ReportNotFound);
        assert_eq!(rejected.report.status, ReportStatus::Rejected);
        assert_eq!(rejected.report.resolution_note.as_deref(), Some("The logo is as uploaded."));
        assert_eq!(rejected.edit.image_url, None);
        assert_eq!(balance(&ledger, account_id).await, 9);
    }
}

on_both_databases! {
    /// RELIABILITY.md "Renders": a renderer dies holding leases, a second one and a
    /// second instance claim concurrently, the dead one's results arrive late, and
    /// the clock gives up on what nobody finished. Every edit ends exactly once, every
    /// failure is refunded exactly once, and the auditor holds.
    async fn renderer_faults_end_every_edit_once_and_refund_each_failure_once(db) {
        let ledger = db.ledger_with_pool(Config::default(), utc("2026-11-24T10:00:00Z"), 8).await;
        let other_instance = db.ledger_with_pool(Config::default(), utc("2026-11-24T10:00:00Z"), 8).await;
        let (account_id, edits) = applied(&ledger, 10).await;

        // The first renderer claims everything, then dies without answering.
        let dead = ledger.claim_render_jobs(100).await.unwrap();
        assert_eq!(dead.len(), 10);
        assert!(other_instance.claim_render_jobs(100).await.unwrap().is_empty(), "held by the dead one");

        // The leases run out (each instance has a manual clock of its own: both move).
        ledger.set_clock(utc("2026-11-24T10:01:00Z")).await.unwrap();
        other_instance.set_clock(utc("2026-11-24T10:01:00Z")).await.unwrap();
        let (a, b) = tokio::join!(ledger.claim_render_jobs(3), other_instance.claim_render_jobs(3));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut held: Vec<i64> = a.iter().chain(&b).map(|j| j.edit.id).collect();
        held.sort_unstable();
        held.dedup();
        assert_eq!(held.len(), 6, "no job held twice");
        for job in &a {
            renderer(&ledger).finish_render(job.claim, &ready("https://cdn.example/a.png")).await.unwrap();
        }
        for job in &b {
            renderer(&other_instance).finish_render(job.claim, &failed("gpu lost")).await.unwrap();
        }
        // The dead renderer's results arrive late for the jobs that passed to another
        // claimant: refused, nothing changes.
        for job in dead.iter().filter(|j| held.contains(&j.edit.id)) {
            let late = ledger.finish_render(job.claim, &failed("late")).await;
            assert_eq!(refusal_code(late), RefusalCode::JobLeaseExpired);
        }

        // Nobody finishes the other 4: the clock gives up on them after 30 minutes.
        ledger.set_clock(utc("2026-11-24T10:30:00Z")).await.unwrap();
        other_instance.set_clock(utc("2026-11-24T10:30:00Z")).await.unwrap();

        let mut statuses = Vec::new();
        for id in &edits {
            let edit = edit_of(&ledger, *id).await;
            statuses.push((edit.status, edit.failure_reason.clone(), edit.refunded_at.is_some()));
        }
        let ready_count = statuses.iter().filter(|s| s.0 == EditStatus::Ready && !s.2).count();
        let failed_count = statuses.iter().filter(|s| s.0 == EditStatus::Failed && s.2).count();
        let timed_out = statuses.iter().filter(|s| s.1.as_deref() == Some("timed out")).count();
        assert_eq!((ready_count, failed_count, timed_out), (3, 7, 4), "{statuses:?}");
        let refunds = movements(&ledger, account_id).await.into_iter().filter(|m| m.0 == EntryKind::Refund).count();
        assert_eq!(refunds, 7, "each failure refunded exactly once");
        assert_eq!(balance(&ledger, account_id).await, 7);
        assert_eq!(audit(&ledger, &[account_id]).await.1, 0);
        let metrics = ledger.metrics().render();
        assert!(metrics.contains("studio_render_jobs_queued_total 10"), "{metrics}");
        assert!(metrics.contains("studio_render_jobs_leased_total 13"), "{metrics}");
        assert!(metrics.contains(r#"studio_render_jobs_finished_total{outcome="ready"} 3"#), "{metrics}");
        assert!(metrics.contains(r#"studio_render_jobs_finished_total{outcome="timed_out"} 4"#), "{metrics}");
    }
}
