-- After the capture: 999 more accounts like account 1, each with photos
-- (a * 10 - 9) to (a * 10) and lot a, which never runs dry during a benchmark.
INSERT INTO accounts (id, name, plan, listing_slots, created_at, cycle_start, next_reset_at, promotion_processed)
  SELECT g, 'Bench ' || g, a.plan, a.listing_slots, a.created_at, a.cycle_start, a.next_reset_at, a.promotion_processed
  FROM accounts a, generate_series(2, 1000) g WHERE a.id = 1;
INSERT INTO photos (id, account_id, listing_ref, original_url, created_at)
  SELECT g * 10 - 10 + k, g, 'l' || k, 'https://img.example/' || k || '.jpg', now()
  FROM generate_series(2, 1000) g, generate_series(1, 10) k;
INSERT INTO lots (id, account_id, bucket, origin, granted, remaining, valid_from, expires_at, expired, created_at)
  SELECT g, g, l.bucket, l.origin, l.granted, l.remaining, l.valid_from, l.expires_at, false, l.created_at
  FROM lots l, generate_series(2, 1000) g WHERE l.id = 1;
UPDATE lots SET granted = 1000000000, remaining = 1000000000;
SELECT setval(pg_get_serial_sequence('accounts', 'id'), 1000);
SELECT setval(pg_get_serial_sequence('photos', 'id'), 10000);
SELECT setval(pg_get_serial_sequence('lots', 'id'), 1000);
