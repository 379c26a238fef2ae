#!/usr/bin/env bash
# Captures, from PostgreSQL's statement log, the SQL the service issues for one
# ApplyChanges of 10 photos, and writes it as a pgbench script to bench/pgbench/apply.sql
# with the account, photo and key turned into pgbench variables.
# Usage: bench/capture-apply.sh path/to/studio-bff
# The benchmark harness runs it once per run with its own database, port and output
# folder: CAPTURE_DB (default studio_capture), CAPTURE_PORT (default 18431) and
# CAPTURE_OUT (default bench/pgbench).
set -euo pipefail
bin=${1:?usage: capture-apply.sh path/to/studio-bff}
here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=127.0.0.1 PGUSER=postgres
db=${CAPTURE_DB:-studio_capture}
port=${CAPTURE_PORT:-18431}
out=${CAPTURE_OUT:-$here/pgbench}
mkdir -p "$out"
psql -q -d test -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export DATABASE_URL="postgres://postgres@127.0.0.1/$db" STUDIO_JWT_SECRET="capture-secret-capture-secret-capture" \
  STUDIO_ADDR="127.0.0.1:$port" STUDIO_LOG_FORMAT=json RUST_LOG=warn
"$bin" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
ops=$("$bin" token --role ops)
gql() { curl -sf -H "authorization: Bearer $1" -H 'content-type: application/json' "http://127.0.0.1:$port/graphql" -d "$2"; }
account=$(gql "$ops" '{"query":"mutation { createAccount(input:{name:\"Capture\", plan: PROFESSIONAL_PLUS, listingSlots: 20}) { account { id } } }"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createAccount"]["account"]["id"])')
photos=$(gql "$ops" "{\"query\":\"mutation(\$a: ID!) { registerPhotos(input:{accountId: \$a, photos: [$(for i in $(seq 10); do printf '{listingRef:\\"l%s\\", originalUrl:\\"https://img.example/%s.jpg\\"},' $i $i; done)]}) { photos { id } } }\",\"variables\":{\"a\":\"$account\"}}" \
  | python3 -c 'import json,sys; print(json.dumps([p["id"] for p in json.load(sys.stdin)["data"]["registerPhotos"]["photos"]]))')
member=$("$bin" token --account "$account")
background=$(gql "$member" '{"query":"{ backgrounds { id } }"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["backgrounds"][0]["id"])')
logfile=$(ls -t /var/log/postgresql/postgresql-*-main.log | head -1)
start=$(wc -l <"$logfile")
psql -q -d test -c "ALTER DATABASE $db SET log_statement = 'all'"
# A new pool connection sees the setting; restart so every connection logs.
kill $pid; wait $pid 2>/dev/null || true
"$bin" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
start=$(wc -l <"$logfile")
gql "$member" "{\"query\":\"mutation(\$p: [ID!]!) { applyChanges(input:{photoIds: \$p, backgroundId: \\\"$background\\\", idempotencyKey: \\\"capture-0001\\\"}) { creditsCharged userErrors { code message } } }\",\"variables\":{\"p\":$photos}}" >"$out/apply.response.json"
sleep 0.5
psql -q -d test -c "ALTER DATABASE $db RESET log_statement"
tail -n +"$((start + 1))" "$logfile" >"$out/apply.log"
echo "captured $(grep -c 'LOG:  \(statement\|execute\)' "$out/apply.log") statements into $out/apply.log"
python3 "$here/pgbench/from_log.py" "$out/apply.log" >"$out/apply.sql"
psql -q -d "$db" -v ON_ERROR_STOP=1 -f "$here/pgbench/spread.sql" >/dev/null
echo "wrote $out/apply.sql; database $db holds 1,000 accounts for it"
