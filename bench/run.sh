#!/usr/bin/env bash
# The benchmarks in one command (issue 5): builds the service and the harness
# (bench/harness) in release, and runs every scenario against the service on a fresh
# PostgreSQL database (and on SQLite where the issue says so), each beside a baseline
# measured in the same run; writes bench/RESULTS.md. About 10 minutes on 2 cores.
#
#   bench/run.sh           the full run; writes bench/RESULTS.md
#   bench/run.sh --smoke   seconds per scenario, tiny sizes, a debug build, no target
#                          checked, the report in a temporary file; fails on any error
#   bench/run.sh --only header,typename --out /tmp/header.md
#                          some scenarios only (header typename apply hot billing idle
#                          live sqlite notify queues scale reset), e.g. to profile one;
#                          any other argument is passed to the harness, and a later --out
#                          wins
#   bench/run.sh --only scale --scale-accounts 200000 --out /tmp/scale.md
#                          the big database of `scale` at a stated smaller size
#   bench/run.sh --only reset --reset-accounts 100000 --out /tmp/reset.md
#                          the reset catch-up over fewer accounts than the full 1,000,000
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trusted; started if it is not
# running), psql, pgbench, curl and python3. Every process the harness starts is
# stopped when it ends, and its databases (studio_bench_<pid>, studio_capture_<pid>,
# studio_scale_<pid>) are dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/studio-bff-target}"
smoke=
if [[ "${1:-}" == "--smoke" ]]; then
    smoke=--smoke
    shift
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

if [[ -n "$smoke" ]]; then
    build=(cargo build -q -p studio-bff -p studio-bench)
    profile=debug
    out="$(mktemp "${TMPDIR:-/tmp}/studio-bench-smoke.XXXXXX.md")"
    trap 'rm -f "$out"' EXIT
else
    build=(cargo build --release -p studio-bff -p studio-bench)
    profile=release
    out=bench/RESULTS.md
fi
"${build[@]}"
# The idle scenario holds one socket per subscriber in the harness and in the service
# (which inherits this limit): as many files as the machine allows.
ulimit -n "$(ulimit -Hn)"
"$CARGO_TARGET_DIR/$profile/studio-bench" $smoke \
    --service-bin "$CARGO_TARGET_DIR/$profile/studio-bff" \
    --out "$out" \
    --invocation "bench/run.sh${smoke:+ $smoke}${*:+ $*}" \
    --build "CARGO_TARGET_DIR=$CARGO_TARGET_DIR ${build[*]}" \
    "$@"
if [[ -n "$smoke" ]]; then
    # The summary table, so a CI log shows what ran.
    sed -n '/^## Summary/,/^## Commands/p' "$out" | sed '$d'
fi
