#!/usr/bin/env bash
# The README's "On PostgreSQL, step by step", run as written and checked: creates a
# database of its own, starts the service on it (on a free port, read from the banner),
# shows that `studio-bff token` without the service's secret refuses rather than sign
# a token the service would answer UNAUTHENTICATED, mints an ops token, creates an
# account and registers its photos (the contract's CreateAccount and RegisterPhotos),
# mints a member token for it and runs the billing page (BillingPage), checking the
# account's name and credits. Always stops the service and drops the database, also
# on failure or Ctrl-C. .ci/run runs it after the tests.
#
#   scripts/postgres-walkthrough.sh [--release]
#
# Needs PostgreSQL on $PGHOST:$PGPORT (127.0.0.1:5432) as $PGUSER (postgres) with trust
# or a ~/.pgpass, psql, curl, jq and openssl.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/studio-bff-target}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
profile=debug
build=(cargo build --quiet --bin studio-bff)
if [ "${1:-}" = "--release" ]; then
    profile=release
    build+=(--release)
fi
for tool in psql curl jq openssl; do
    command -v "$tool" >/dev/null || { echo "walkthrough: $tool is not installed" >&2; exit 1; }
done

say() { echo "walkthrough: $*"; }
fail() { echo "walkthrough: FAILED: $*" >&2; exit 1; }

"${build[@]}"
bin="$(cd "$CARGO_TARGET_DIR" && pwd)/$profile/studio-bff"

db="studio_walkthrough_$$_$(date +%s)"
work="$(mktemp -d)"
pid=""
admin() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
cleanup() {
    local status=$?
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$work/stderr" ]; then
        echo "walkthrough: the service's last log lines:" >&2
        tail -n 30 "$work/stderr" >&2
    fi
    admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || echo "walkthrough: could not drop $db" >&2
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A database: a fresh PostgreSQL has only `postgres`.
say "1. CREATE DATABASE $db"
admin -c "CREATE DATABASE $db"

# 2. The service, with the database and a secret of its own; it migrates at start and
#    prints where it listens (STUDIO_ADDR with port 0: any free port).
say "2. the service on PostgreSQL"
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db"
export STUDIO_JWT_SECRET="$(openssl rand -base64 48)"
# Not in a subshell: `$!` must be the service itself, for `cleanup`.
STUDIO_ADDR=127.0.0.1:0 "$bin" >"$work/stdout" 2>"$work/stderr" &
pid=$!
addr=""
for _ in $(seq 1 300); do
    addr="$(sed -n 's|^ *GraphQL: http://\([^/]*\)/graphql.*|\1|p' "$work/stdout")"
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the service exited at start: $(cat "$work/stderr")"
    sleep 0.1
done
[ -n "$addr" ] || fail "the service printed no address within 30 s"
base="http://$addr"
curl -fsS --max-time 2 "$base/readyz" >/dev/null || fail "$base/readyz does not answer"
grep -q "^studio-bff on PostgreSQL$" "$work/stdout" || fail "the banner does not say PostgreSQL: $(cat "$work/stdout")"
grep -q "studio-bff token --role ops" "$work/stdout" || fail "the banner does not say how to mint a token"
if grep -Eq 'eyJ[A-Za-z0-9_-]+\.' "$work/stdout"; then fail "the banner printed a token signed with the real secret"; fi
say "   listening on $base"

# POST /graphql: one of the contract's operations, as `token`.
gql() { # gql <token> <file in contract/operations> <operation> <variables as JSON>
    jq -n --rawfile query "contract/operations/$2" --arg op "$3" --argjson vars "$4" \
        '{query: $query, operationName: $op, variables: $vars}' |
        curl -sS --max-time 10 "$base/graphql" -H 'content-type: application/json' \
            -H "authorization: Bearer $1" --data-binary @-
}

# The trap: a shell without the service's secret. The token command refuses rather
# than sign with the development secret.
say "   the token command without STUDIO_JWT_SECRET refuses"
if env -u STUDIO_JWT_SECRET "$bin" token --role ops >"$work/refused.out" 2>"$work/refused.err"; then
    fail "the token command signed without the service's secret: $(cat "$work/refused.out")"
fi
grep -q "refusing to sign with the development secret" "$work/refused.err" \
    || fail "the token command's refusal does not say why: $(cat "$work/refused.err")"

# 3. An ops token, from a shell with the service's DATABASE_URL and STUDIO_JWT_SECRET.
say "3. an ops token"
ops="$("$bin" token --role ops)"

# 4. An account.
say "4. createAccount"
created="$(gql "$ops" ops.graphql CreateAccount '{"name": "Autohaus Nord", "plan": "PROFESSIONAL", "listingSlots": 10}')"
account="$(jq -er '.data.createAccount.account.id' <<<"$created")" || fail "createAccount: $created"
[ "$(jq -c '.data.createAccount.userErrors' <<<"$created")" = "[]" ] || fail "createAccount: $created"
say "   account $account"

# 5. Its photos.
say "5. registerPhotos"
photos='{"listingRef": "car-001", "originalUrl": "https://img.studio.example/nord/car-001.jpg"},
        {"listingRef": "car-002", "originalUrl": "https://img.studio.example/nord/car-002.jpg"},
        {"listingRef": "car-003", "originalUrl": "https://img.studio.example/nord/car-003.jpg"}'
registered="$(gql "$ops" ops.graphql RegisterPhotos "{\"accountId\": \"$account\", \"photos\": [$photos]}")"
[ "$(jq '.data.registerPhotos.photos | length' <<<"$registered")" = 3 ] || fail "registerPhotos: $registered"

# 6. A member token for that account.
say "6. a member token"
member="$("$bin" token --account "$account")"

# 7. The billing page.
say "7. BillingPage"
billing="$(gql "$member" billing.graphql BillingPage '{}')"
jq -e '.errors == null' <<<"$billing" >/dev/null || fail "BillingPage: $billing"
name="$(jq -r '.data.viewer.account.name' <<<"$billing")"
available="$(jq -r '.data.viewer.account.balance.available' <<<"$billing")"
monthly="$(jq -r '.data.viewer.account.balance.monthly.granted' <<<"$billing")"
[ "$name" = "Autohaus Nord" ] || fail "BillingPage names the account \"$name\": $billing"
# PROFESSIONAL: professional_credits_per_slot (5) x 10 slots a month; no promotion.
[ "$available" = 50 ] && [ "$monthly" = 50 ] || fail "BillingPage: $available available, $monthly monthly, not 50: $billing"
say "   $name: $available credits available"

grep -q 'already exists, skipping' "$work/stderr" \
    && fail "the migration logged PostgreSQL's notices"
say "ok"
