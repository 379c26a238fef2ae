#!/usr/bin/env bash
# Does NOTIFY inside the charging transaction cost charge throughput? Runs the captured
# apply transaction (bench/capture-apply.sh) with pgbench, 32 clients over 1,000
# accounts, in three forms, interleaved over several rounds:
#   plain          the transaction as the service issues it, without its notification
#   notify-in-txn  pg_notify(...) as the transaction's last statement before COMMIT
#   notify-after   pg_notify(...) as its own statement right after COMMIT
# Usage: bench/notify-cost.sh [seconds per run] [rounds]
# CAPTURE_DB and APPLY_SQL name another capture's database and script (the benchmark
# harness makes one per run); by default studio_capture and bench/pgbench/apply.sql.
set -euo pipefail
seconds=${1:-8}
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
db=${CAPTURE_DB:-studio_capture}
apply=${APPLY_SQL:-$here/pgbench/apply.sql}
export PGHOST=127.0.0.1 PGUSER=postgres
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The service announces the change itself (pg_notify before COMMIT): plain goes without.
grep -v '^SELECT pg_notify(' "$apply" >"$work/plain.sql"
sed "s/^COMMIT;/SELECT pg_notify('studio_balance', :account::text);\nCOMMIT;/" "$work/plain.sql" >"$work/notify-in-txn.sql"
{ cat "$work/plain.sql"; echo "SELECT pg_notify('studio_balance', :account::text);"; } >"$work/notify-after.sql"
for round in $(seq "$rounds"); do
  for variant in plain notify-in-txn notify-after; do
    tps=$(pgbench -n -c 32 -j 2 -T "$seconds" -f "$work/$variant.sql" "$db" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "$round $variant $tps"
  done
done | tee "$work/runs" >&2
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, variant, tps = line.split()
    runs.setdefault(variant, []).append(float(tps))
base = statistics.median(runs["plain"])
print("| variant | transactions/s (median) | runs | ratio to plain |")
print("|---|---|---|---|")
for variant, values in runs.items():
    med = statistics.median(values)
    print(f"| {variant} | {med:.0f} | {', '.join(f'{v:.0f}' for v in values)} | {med / base:.2f} |")
PY
