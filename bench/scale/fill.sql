-- The big database of the `scale` scenario (issue 16), filled set-based on a database
-- the service has just migrated and left empty. Run by the harness:
--
--   psql -v ON_ERROR_STOP=1 -v accounts=1000000 -v months=9 \
--        -v big_entries=100000 -v big_invoices=2000 -v small_entries=200 -v small_invoices=20 \
--        -d <database> -f bench/scale/fill.sql
--
-- What it writes is what the service itself would have written for accounts opened
-- :months monthly cycles before the current one (billing zone UTC, reset day 1, the
-- default configuration), with the rows the ledger's operations leave behind:
--
-- * accounts 1 .. :accounts, plan by id modulo 4 (BASIC, PROFESSIONAL,
--   PROFESSIONAL_PLUS, PREMIUM), 10 to 100 listing slots;
-- * every monthly cycle of an account with monthly credits: the GRANT of the cycle's
--   lot (cause `account` for the first, `reset` after), 3 charges of 1 to 5 credits
--   paid by that lot, and at the next reset the EXPIRY of what it had left; every
--   sixth cycle a purchase of the small pack (PROFESSIONAL and PROFESSIONAL_PLUS), not
--   spent (the monthly lot pays first), which expires 12 months later;
-- * a BASIC account buys the small pack (100 credits) every cycle and spends it in 4
--   charges of 25 (in the current cycle 2 so far), so its older lots are empty and
--   spending order holds;
-- * every purchase: its invoice (numbered gaplessly per year in issue order), the
--   invoice's line, the purchase, the lot, the GRANT entry;
-- * lots expired by the clock are marked expired; lots with credits left that entered
--   the 7-day warning window carry `expiry_warned_at`, so the scheduler finds nothing
--   due at the start; no regular account holds fewer than 10 credits (a BASIC one 50,
--   a PROFESSIONAL one at least 35), so none is flagged low;
-- * one account in ten has 2 photos, each showing a READY edit paid by the
--   account's current lot (a render job finished); the edits are a sample and not
--   matched one by one to the charges;
-- * two BASIC accounts for the billing page, :accounts + 1 with :big_entries entries
--   and :big_invoices invoices, :accounts + 2 with :small_entries and :small_invoices:
--   each purchase of 100 credits is followed by charges that spend it.
--
-- Entries carry `balance_after`, the running sum of the account's amounts in time
-- order; ids follow time order within an account. Foreign keys are not checked while
-- loading (`session_replication_role = replica`): every reference is computed from
-- the same ids. The ledger's two secondary indexes are dropped before the load and
-- built after it (as the migrations define them), which is several times faster for
-- tens of millions of rows. The webhook outbox and idempotency records are left
-- empty: past events count as delivered and old keys as purged.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET session_replication_role = replica;

-- The instant of the fill, the current cycle's start, the first cycle's start, and
-- the id strides: each account's lots, invoices and entries have a block of ids.
SELECT now() AS now,
       date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS c0,
       (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => :months)) AT TIME ZONE 'UTC' AS first_cycle,
       2 * (:months + 1) AS lot_stride,
       :months + 1 AS invoice_stride,
       8 * (:months + 1) AS entry_stride,
       :accounts + 1 AS big_id,
       :accounts + 2 AS small_id
\gset

BEGIN;

DROP INDEX ledger_by_account;
DROP INDEX ledger_by_lot;

INSERT INTO accounts (id, name, plan, listing_slots, created_at, cycle_start, next_reset_at,
                      promotion_processed, promotions_considered, edit_revision, credits_low)
SELECT id,
       'Scale ' || id,
       (ARRAY['BASIC', 'PROFESSIONAL', 'PROFESSIONAL_PLUS', 'PREMIUM'])[id % 4 + 1],
       10 + id % 91,
       :'first_cycle'::timestamptz + make_interval(secs => id % 86400),
       :'c0'::timestamptz,
       :'c0'::timestamptz + interval '1 month',
       false, '', 0, false
FROM generate_series(1, :accounts) AS id;

INSERT INTO accounts (id, name, plan, listing_slots, created_at, cycle_start, next_reset_at,
                      promotion_processed, promotions_considered, edit_revision, credits_low)
VALUES (:big_id, 'Scale billing big', 'BASIC', 10, :'first_cycle'::timestamptz + interval '1 hour',
        :'c0'::timestamptz, :'c0'::timestamptz + interval '1 month', false, '', 0, true),
       (:small_id, 'Scale billing small', 'BASIC', 10, :'first_cycle'::timestamptz + interval '1 hour',
        :'c0'::timestamptz, :'c0'::timestamptz + interval '1 month', false, '', 0, true);

-- One row per account and cycle k (:months the first, 0 the current one): its span,
-- monthly credits, charge size, whether it buys a pack, and the ids it uses.
CREATE TEMP TABLE cycles AS
SELECT a.id AS account_id,
       a.plan,
       a.name,
       a.created_at,
       k,
       s.start,
       s.next_start,
       CASE WHEN k = 0 THEN :'now'::timestamptz ELSE s.next_start END AS span_end,
       CASE a.plan
           WHEN 'PREMIUM' THEN 2000
           WHEN 'PROFESSIONAL_PLUS' THEN a.listing_slots * 10
           WHEN 'PROFESSIONAL' THEN a.listing_slots * 5
           ELSE 0
       END AS monthly,
       CASE WHEN a.plan = 'BASIC' THEN 25 ELSE 1 + a.id % 5 END AS charge,
       CASE WHEN a.plan = 'BASIC' THEN CASE WHEN k = 0 THEN 2 ELSE 4 END ELSE 3 END AS charges,
       a.plan = 'BASIC' OR (a.plan IN ('PROFESSIONAL', 'PROFESSIONAL_PLUS') AND (k + a.id) % 6 = 0) AS buys,
       (a.id - 1) * :lot_stride + (:months - k) + 1 AS monthly_lot,
       (a.id - 1) * :lot_stride + (:months + 1) + (:months - k) + 1 AS purchased_lot,
       (a.id - 1) * :invoice_stride + (:months - k) + 1 AS invoice_id
FROM accounts a
CROSS JOIN generate_series(0, :months) AS k
CROSS JOIN LATERAL (
    SELECT :'c0'::timestamptz - make_interval(months => k) AS start,
           :'c0'::timestamptz - make_interval(months => k - 1) AS next_start
) s
WHERE a.id <= :accounts;
CREATE INDEX ON cycles (account_id);

-- Every purchase: regular accounts' from the cycles, the billing accounts' spread
-- evenly from the first cycle to now.
CREATE TEMP TABLE buys AS
SELECT account_id, name, invoice_id, purchased_lot AS lot_id,
       start + (span_end - start) * 0.05 AS at,
       CASE WHEN plan = 'BASIC' THEN 'basic-small' ELSE 'pro-small' END AS pack_id
FROM cycles
WHERE buys
UNION ALL
SELECT b.id, b.name,
       :accounts * :invoice_stride + (b.id - :accounts - 1) * :big_invoices + i + 1,
       :accounts * :lot_stride + (b.id - :accounts - 1) * :big_invoices + i + 1,
       :'first_cycle'::timestamptz + interval '2 hours'
           + (:'now'::timestamptz - :'first_cycle'::timestamptz - interval '3 hours') * i / n,
       'basic-small'
FROM (VALUES (:big_id, 'Scale billing big', :big_invoices), (:small_id, 'Scale billing small', :small_invoices)) AS b(id, name, n)
CROSS JOIN LATERAL generate_series(0, b.n - 1) AS i;
CREATE INDEX ON buys (account_id);
ANALYZE cycles;
ANALYZE buys;

INSERT INTO invoices (id, account_id, number, year, sequence, issued_at, total_cents, currency,
                      subtotal_cents, tax_cents, vat_percent, seller_name, buyer_name)
SELECT b.invoice_id, b.account_id,
       'INV-' || n.year || '-' || lpad(n.sequence::text, greatest(6, length(n.sequence::text)), '0'),
       n.year, n.sequence, b.at,
       p.price_cents + round(p.price_cents * 0.19)::int, p.currency,
       p.price_cents, round(p.price_cents * 0.19)::int, 19,
       'AI Background Studio', b.name
FROM buys b
JOIN packs p ON p.id = b.pack_id
CROSS JOIN LATERAL (SELECT extract(year FROM b.at AT TIME ZONE 'UTC')::int AS year) y
JOIN (
    SELECT invoice_id, y2.year,
           row_number() OVER (PARTITION BY y2.year ORDER BY at, invoice_id) AS sequence
    FROM buys
    CROSS JOIN LATERAL (SELECT extract(year FROM at AT TIME ZONE 'UTC')::int AS year) y2
) n ON n.invoice_id = b.invoice_id;

INSERT INTO invoice_sequences (year, last_sequence)
SELECT year, max(sequence) FROM invoices GROUP BY year;

INSERT INTO invoice_lines (id, invoice_id, description, quantity, unit_price_cents, amount_cents)
SELECT i.id, i.id,
       p.name || ' (' || p.credits || ' credits, ' || p.discount_percent || ' % off)',
       1, p.price_cents, p.price_cents
FROM buys b
JOIN invoices i ON i.id = b.invoice_id
JOIN packs p ON p.id = b.pack_id;

INSERT INTO purchases (id, account_id, pack_id, lot_id, invoice_id, purchased_at, actor_user_id, actor_role)
SELECT invoice_id, account_id, pack_id, lot_id, invoice_id, at, 'bench-member', 'member'
FROM buys;

-- The lots. Remaining: a past monthly lot expired (0); the current one less its 3
-- charges; a BASIC pack is spent within its cycle (the current one half); a
-- PROFESSIONAL pack is not spent; the billing accounts spend every pack. A lot with
-- credits left 7 days before its expiry was warned of then (a spent pack, which
-- expires a year on, never was).
INSERT INTO lots (id, account_id, bucket, origin, granted, remaining, valid_from, expires_at,
                  expired, created_at, pack_id, expiry_warned_at)
SELECT l.id, l.account_id, l.bucket, l.origin, l.granted, l.remaining, l.at, l.expires_at,
       l.expires_at <= :'now'::timestamptz, l.at, l.pack_id,
       CASE WHEN l.left_in_window > 0 AND l.expires_at - interval '7 days' <= :'now'::timestamptz
            THEN greatest(l.at, l.expires_at - interval '7 days') END
FROM (
    SELECT c.monthly_lot AS id, c.account_id, 'MONTHLY' AS bucket,
           'cycle:' || to_char(c.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00' AS origin,
           c.monthly AS granted,
           CASE WHEN c.k = 0 THEN c.monthly - c.charges * c.charge ELSE 0 END AS remaining,
           CASE WHEN c.k = :months THEN c.created_at ELSE c.start END AS at,
           c.next_start AS expires_at,
           NULL AS pack_id,
           c.monthly - c.charges * c.charge AS left_in_window
    FROM cycles c
    WHERE c.monthly > 0
    UNION ALL
    SELECT b.lot_id, b.account_id, 'PURCHASED', 'purchase:' || i.number, p.credits,
           CASE WHEN b.pack_id = 'pro-small' THEN p.credits
                WHEN b.account_id > :accounts OR i.issued_at < :'c0'::timestamptz THEN 0
                ELSE p.credits - 2 * 25 END,
           b.at, b.at + interval '12 months', b.pack_id,
           CASE WHEN b.pack_id = 'pro-small' THEN p.credits ELSE 0 END
    FROM buys b
    JOIN invoices i ON i.id = b.invoice_id
    JOIN packs p ON p.id = b.pack_id
) l;

-- The regular accounts' entries, per account in time order with the running balance.
INSERT INTO ledger_entries (id, account_id, lot_id, kind, bucket, amount, balance_after, created_at,
                            cause, description, actor_user_id, actor_role)
SELECT (e.account_id - 1) * :entry_stride + e.n, e.account_id, e.lot_id, e.kind, e.bucket, e.amount,
       e.balance, e.at, e.cause, e.description, e.actor_user_id, e.actor_role
FROM accounts a
CROSS JOIN LATERAL (
    SELECT ev.*, a.id AS account_id,
           sum(ev.amount) OVER (ORDER BY ev.at, ev.ord ROWS UNBOUNDED PRECEDING) AS balance,
           row_number() OVER (ORDER BY ev.at, ev.ord) AS n
    FROM (
        -- The cycle's monthly grant.
        SELECT c.monthly_lot AS lot_id, 'GRANT' AS kind, 'MONTHLY' AS bucket, c.monthly AS amount,
               CASE WHEN c.k = :months THEN c.created_at ELSE c.start END AS at, 1 AS ord,
               CASE WHEN c.k = :months THEN 'account' ELSE 'reset' END AS cause,
               'Monthly credits until ' || to_char(c.next_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' AS description,
               CASE WHEN c.k = :months THEN 'bench-ops' END AS actor_user_id,
               CASE WHEN c.k = :months THEN 'ops' END AS actor_role
        FROM cycles c WHERE c.account_id = a.id AND c.monthly > 0
        UNION ALL
        -- What the monthly lot had left, expired at the next reset.
        SELECT c.monthly_lot, 'EXPIRY', 'MONTHLY', -(c.monthly - c.charges * c.charge), c.next_start, 0,
               'expiry', 'Monthly credits expired', NULL, NULL
        FROM cycles c WHERE c.account_id = a.id AND c.monthly > 0 AND c.k > 0
        UNION ALL
        -- The cycle's charges, paid by the monthly lot or (BASIC) the cycle's pack.
        SELECT CASE WHEN c.monthly > 0 THEN c.monthly_lot ELSE c.purchased_lot END, 'CHARGE',
               CASE WHEN c.monthly > 0 THEN 'MONTHLY' ELSE 'PURCHASED' END, -c.charge,
               c.start + (c.span_end - c.start) * (0.1 + 0.2 * j), 2,
               'apply:scale-' || c.k || '-' || j,
               'Apply changes: ' || c.charge || CASE WHEN c.charge = 1 THEN ' photo' ELSE ' photos' END,
               'bench-member', 'member'
        FROM cycles c CROSS JOIN generate_series(1, c.charges) AS j
        WHERE c.account_id = a.id
        UNION ALL
        -- Purchases, and (unspent PROFESSIONAL packs) their expiry 12 months later.
        SELECT b.lot_id, 'GRANT', 'PURCHASED', p.credits, b.at, 1, 'purchase:' || i.number,
               'Purchase of ' || p.name || ' (' || i.number || ')', 'bench-member', 'member'
        FROM buys b JOIN invoices i ON i.id = b.invoice_id JOIN packs p ON p.id = b.pack_id
        WHERE b.account_id = a.id
        UNION ALL
        SELECT b.lot_id, 'EXPIRY', 'PURCHASED', -p.credits, b.at + interval '12 months', 0, 'expiry',
               'Purchased credits expired', NULL, NULL
        FROM buys b JOIN packs p ON p.id = b.pack_id
        WHERE b.account_id = a.id AND b.pack_id = 'pro-small' AND b.at + interval '12 months' <= :'now'::timestamptz
    ) ev
) e
WHERE a.id <= :accounts;

-- The billing accounts: each pack of 100 credits spent by the charges that follow it
-- (an equal share, the last charge the rest), one second apart.
INSERT INTO ledger_entries (id, account_id, lot_id, kind, bucket, amount, balance_after, created_at,
                            cause, description, actor_user_id, actor_role)
SELECT :accounts::bigint * :entry_stride + (e.account_id - :accounts - 1) * :big_entries + e.n,
       e.account_id, e.lot_id, e.kind, 'PURCHASED', e.amount,
       sum(e.amount) OVER (PARTITION BY e.account_id ORDER BY e.n ROWS UNBOUNDED PRECEDING),
       e.at, e.cause, e.description, 'bench-member', 'member'
FROM (
    SELECT b.account_id, b.lot_id, s.*,
           row_number() OVER (PARTITION BY b.account_id ORDER BY b.at, s.j) AS n
    FROM buys b
    JOIN invoices i ON i.id = b.invoice_id
    CROSS JOIN LATERAL (
        SELECT t.per_block FROM (VALUES (:big_id, :big_entries / :big_invoices), (:small_id, :small_entries / :small_invoices)) AS t(id, per_block)
        WHERE t.id = b.account_id
    ) t
    CROSS JOIN LATERAL (
        SELECT 0 AS j, 'GRANT' AS kind, 100 AS amount, b.at AS at, 'purchase:' || i.number AS cause,
               'Purchase of Small pack (' || i.number || ')' AS description
        UNION ALL
        SELECT j, 'CHARGE',
               CASE WHEN j < t.per_block - 1 THEN -(100 / (t.per_block - 1))
                    ELSE -(100 - (t.per_block - 2) * (100 / (t.per_block - 1))) END,
               b.at + make_interval(secs => j), 'apply:scale-' || b.lot_id || '-' || j,
               'Apply changes: ' || CASE WHEN j < t.per_block - 1 THEN 100 / (t.per_block - 1)
                                         ELSE 100 - (t.per_block - 2) * (100 / (t.per_block - 1)) END || ' photos'
        FROM generate_series(1, t.per_block - 1) AS j
    ) s
    WHERE b.account_id > :accounts
) e;

-- Photos and their current edits on one account in ten.
INSERT INTO photos (id, account_id, listing_ref, original_url, created_at, current_edit_id)
SELECT (a.id / 10 - 1) * 2 + p, a.id, 'listing-' || p, 'https://img.example/' || a.id || '/' || p || '.jpg',
       a.created_at, (a.id / 10 - 1) * 2 + p
FROM accounts a CROSS JOIN generate_series(1, 2) AS p
WHERE a.id % 10 = 0 AND a.id <= :accounts;

INSERT INTO edits (id, account_id, photo_id, background_id, credits_charged, lot_id, paid_from, applied_at,
                   actor_user_id, actor_role, status, image_url, revision)
SELECT ph.id, ph.account_id, ph.id, 'studio-white', 1,
       CASE WHEN c.monthly > 0 THEN c.monthly_lot ELSE c.purchased_lot END,
       CASE WHEN c.monthly > 0 THEN 'MONTHLY' ELSE 'PURCHASED' END,
       c.start + (c.span_end - c.start) * 0.3, 'bench-member', 'member', 'READY',
       'https://render.example/' || ph.id || '.jpg', 1
FROM photos ph JOIN cycles c ON c.account_id = ph.account_id AND c.k = 0;

INSERT INTO render_jobs (id, edit_id, account_id, created_at, attempt, finished_at, outcome)
SELECT e.id, e.id, e.account_id, e.applied_at, 1, e.applied_at + interval '20 seconds', 'READY'
FROM edits e;

-- One apply made those edits.
UPDATE accounts SET edit_revision = 1 WHERE id % 10 = 0 AND id <= :accounts;

CREATE INDEX ledger_by_account ON ledger_entries (account_id, id);
CREATE INDEX ledger_by_lot ON ledger_entries (lot_id);

SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT max(id) FROM accounts));
SELECT setval(pg_get_serial_sequence('lots', 'id'), (SELECT max(id) FROM lots));
SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), (SELECT max(id) FROM ledger_entries));
SELECT setval(pg_get_serial_sequence('invoices', 'id'), (SELECT max(id) FROM invoices));
SELECT setval(pg_get_serial_sequence('invoice_lines', 'id'), (SELECT max(id) FROM invoice_lines));
SELECT setval(pg_get_serial_sequence('purchases', 'id'), (SELECT max(id) FROM purchases));
SELECT setval(pg_get_serial_sequence('photos', 'id'), greatest((SELECT max(id) FROM photos), 1));
SELECT setval(pg_get_serial_sequence('edits', 'id'), greatest((SELECT max(id) FROM edits), 1));
SELECT setval(pg_get_serial_sequence('render_jobs', 'id'), greatest((SELECT max(id) FROM render_jobs), 1));

COMMIT;

ANALYZE;
