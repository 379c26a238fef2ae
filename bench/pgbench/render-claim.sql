-- The bare render loop (bench/harness/src/queues.rs): claim 10 waiting jobs with
-- SKIP LOCKED under a lease, as claimRenderJobs chooses them, read what to render,
-- then finish them READY. The harness runs it with a backlog larger than it takes.
BEGIN;
WITH waiting AS (
    SELECT id FROM render_jobs
    WHERE finished_at IS NULL
      AND (lease_expires_at IS NULL OR lease_expires_at <= now())
      AND created_at > now() - interval '30 minutes'
    ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE render_jobs j SET attempt = j.attempt + 1, lease_expires_at = now() + interval '60 seconds'
    FROM waiting WHERE j.id = waiting.id
    RETURNING j.id, j.edit_id
)
SELECT string_agg(id::text, ',') AS job_ids, string_agg(edit_id::text, ',') AS edit_ids FROM leased \gset
SELECT e.id, e.background_id, e.logo_id, p.original_url FROM edits e JOIN photos p ON p.id = e.photo_id WHERE e.id IN (:edit_ids);
COMMIT;
BEGIN;
UPDATE edits SET status = 'READY', image_url = 'https://render.example/' || id || '.png' WHERE id IN (:edit_ids);
UPDATE render_jobs SET finished_at = now(), outcome = 'READY' WHERE id IN (:job_ids);
COMMIT;
