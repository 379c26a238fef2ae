-- The bare webhook loop (bench/harness/src/queues.rs): claim the oldest due event
-- with SKIP LOCKED, in order per account as the service's worker does, and mark it
-- delivered, without sending it anywhere. The harness runs it with a backlog larger
-- than it takes.
BEGIN;
SELECT e.id AS event_id FROM webhook_events e
WHERE e.status = 'PENDING' AND e.next_attempt_at <= now()
  AND (e.lease_until IS NULL OR e.lease_until < now())
  AND NOT EXISTS (SELECT 1 FROM webhook_events p
                  WHERE p.account_id = e.account_id AND p.status = 'PENDING' AND p.id < e.id)
ORDER BY e.id LIMIT 1 FOR UPDATE SKIP LOCKED \gset
SELECT payload FROM webhook_events WHERE id = :event_id;
UPDATE webhook_events SET status = 'DELIVERED', attempts = attempts + 1, delivered_at = now(),
    lease_until = NULL, last_error = NULL WHERE id = :event_id;
COMMIT;
