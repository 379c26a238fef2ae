-- Fills a migrated studio-bff database with :n copies of the account :template, as
-- the service wrote it (its accounts row, lots and ledger entries), set-based: every
-- copy gets ids of its own from the tables' sequences and the name "<name> <copy>";
-- every other column is the template's, whatever the columns are, so the fill follows
-- the entities. The bench's reset scenario (bench/harness/src/reset.rs) runs it:
--
--   psql -v ON_ERROR_STOP=1 -v n=1000000 -v template=1 -d <database> -f bench/scale/reset-fill.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE fill_accounts ON COMMIT DROP AS
    SELECT copy, nextval(pg_get_serial_sequence('accounts', 'id')) AS id
    FROM generate_series(1, :n) AS copy;
INSERT INTO accounts
    SELECT (jsonb_populate_record(NULL::accounts,
        to_jsonb(t) || jsonb_build_object('id', c.id, 'name', t.name || ' ' || c.copy, 'external_id', NULL))).*
    FROM fill_accounts c CROSS JOIN accounts t
    WHERE t.id = :template;
CREATE TEMP TABLE fill_lots ON COMMIT DROP AS
    SELECT c.id AS account_id, l.id AS template_lot, nextval(pg_get_serial_sequence('lots', 'id')) AS id
    FROM fill_accounts c CROSS JOIN lots l
    WHERE l.account_id = :template;
INSERT INTO lots
    SELECT (jsonb_populate_record(NULL::lots,
        to_jsonb(l) || jsonb_build_object('id', f.id, 'account_id', f.account_id))).*
    FROM fill_lots f JOIN lots l ON l.id = f.template_lot;
INSERT INTO ledger_entries
    SELECT (jsonb_populate_record(NULL::ledger_entries,
        to_jsonb(e) || jsonb_build_object(
            'id', nextval(pg_get_serial_sequence('ledger_entries', 'id')),
            'account_id', f.account_id,
            'lot_id', f.id))).*
    FROM fill_lots f JOIN ledger_entries e ON e.lot_id = f.template_lot;
COMMIT;
ANALYZE accounts;
ANALYZE lots;
ANALYZE ledger_entries;
