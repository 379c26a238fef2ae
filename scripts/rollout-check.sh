#!/usr/bin/env bash
# The rollout of a release with a migration, on PostgreSQL, with the previous release's
# own binary: the previous release serves a database; the new one migrates it
# (`studio-bff migrate`) while the previous instance keeps serving writes and reads;
# then both serve the same database side by side, each reading what the other wrote;
# finally the previous release is started again on the migrated database. Always stops
# both and drops the database. RELIABILITY.md records a run.
#
#   scripts/rollout-check.sh <previous release commit>
#
# Builds the previous release in a worktree of its own (target dir
# $PREVIOUS_TARGET_DIR, default ~/.cache/studio-bff-previous-target) and this checkout
# as usual. Needs PostgreSQL on 127.0.0.1:5432 as postgres, psql, curl, jq, openssl.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
previous_commit="${1:?usage: scripts/rollout-check.sh <previous release commit>}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/studio-bff-target}"
previous_target="${PREVIOUS_TARGET_DIR:-$HOME/.cache/studio-bff-previous-target}"
PGHOST=127.0.0.1
say() { echo "rollout: $*"; }
fail() { echo "rollout: FAILED: $*" >&2; exit 1; }

work="$(mktemp -d)"
previous_tree="$work/previous"
db="studio_rollout_$$_$(date +%s)"
pids=()
admin() { psql -h "$PGHOST" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    git worktree remove --force "$previous_tree" 2>/dev/null || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

say "building the previous release ($previous_commit) and this one"
git worktree add -q --detach "$previous_tree" "$previous_commit"
(cd "$previous_tree" && CARGO_TARGET_DIR="$previous_target" cargo build --quiet --bin studio-bff)
cargo build --quiet --bin studio-bff
previous_bin="$previous_target/debug/studio-bff"
new_bin="$(cd "$CARGO_TARGET_DIR" && pwd)/debug/studio-bff"

admin -c "CREATE DATABASE $db"
export DATABASE_URL="postgres://postgres@$PGHOST:5432/$db"
export STUDIO_JWT_SECRET="$(openssl rand -base64 48)"

# start <name> <binary>: runs it on a free port; sets $base.
start() {
    STUDIO_ADDR=127.0.0.1:0 "$2" >"$work/$1.out" 2>"$work/$1.err" &
    pids+=($!)
    local addr=""
    for _ in $(seq 1 300); do
        addr="$(sed -n 's|^ *GraphQL: http://\([^/]*\)/graphql.*|\1|p' "$work/$1.out")"
        [ -n "$addr" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || fail "$1 exited at start: $(cat "$work/$1.err")"
        sleep 0.1
    done
    [ -n "$addr" ] || fail "$1 printed no address"
    base="http://$addr"
}
# gql <base> <contract dir> <token> <file> <operation> <variables>
gql() {
    jq -n --rawfile query "$2/$4" --arg op "$5" --argjson vars "$6" \
        '{query: $query, operationName: $op, variables: $vars}' |
        curl -sS --max-time 10 "$1/graphql" -H 'content-type: application/json' \
            -H "authorization: Bearer $3" --data-binary @-
}
ok() { jq -e '.errors == null' <<<"$1" >/dev/null || fail "$2: $1"; }
old_ops() { gql "$old" "$previous_tree/contract/operations" "$@"; }
new_ops() { gql "$new" contract/operations "$@"; }

say "1. the previous release serves the database"
start previous "$previous_bin"
old="$base"
ops="$("$previous_bin" token --role ops --user ops-1)"
created="$(old_ops "$ops" ops.graphql CreateAccount '{"name": "Autohaus Rollout", "plan": "PROFESSIONAL", "listingSlots": 10}')"
ok "$created" CreateAccount
account="$(jq -r '.data.createAccount.account.id' <<<"$created")"
photos='[{"listingRef": "r1", "originalUrl": "https://img.example/r1.jpg"},
         {"listingRef": "r2", "originalUrl": "https://img.example/r2.jpg"},
         {"listingRef": "r3", "originalUrl": "https://img.example/r3.jpg"}]'
registered="$(old_ops "$ops" ops.graphql RegisterPhotos "{\"accountId\": \"$account\", \"photos\": $photos}")"
ok "$registered" RegisterPhotos
photo() { jq -r ".data.registerPhotos.photos[$1].id" <<<"$registered"; }
member="$("$previous_bin" token --account "$account" --user dealer-7)"
background="$(curl -sS "$old/graphql" -H 'content-type: application/json' -H "authorization: Bearer $member" \
    --data '{"query": "{ backgrounds { id } }"}' | jq -r '.data.backgrounds[0].id')"
apply() { # apply <ops function> <photo index> <key>
    "$1" "$member" studio.graphql ApplyChanges \
        "{\"input\": {\"photoIds\": [\"$(photo "$2")\"], \"backgroundId\": \"$background\", \"idempotencyKey\": \"$3\"}}"
}
applied="$(apply old_ops 0 before-migration)"
ok "$applied" "ApplyChanges before the migration"

say "2. this release migrates the database while the previous one serves it"
"$new_bin" migrate | tee "$work/migrate.out"
grep -q "^applied " "$work/migrate.out" || fail "nothing to migrate: $(cat "$work/migrate.out")"
applied="$(apply old_ops 1 after-migration)"
ok "$applied" "ApplyChanges on the previous release after the migration"
pack="$(curl -sS "$old/graphql" -H 'content-type: application/json' -H "authorization: Bearer $member" \
    --data '{"query": "{ packCatalog { id credits } }"}' | jq -r '.data.packCatalog[0].id')"
bought="$(old_ops "$member" billing.graphql BuyPack "{\"packId\": \"$pack\", \"idempotencyKey\": \"buy-1\"}")"
ok "$bought" "BuyPack on the previous release after the migration"
billing="$(old_ops "$member" billing.graphql BillingPage '{}')"
ok "$billing" "BillingPage on the previous release after the migration"
[ "$(jq '.data.viewer.account.balance.available' <<<"$billing")" = 73 ] || fail "50 - 2 + 25 is not what it shows: $billing"

say "3. both releases side by side on the migrated database"
start new "$new_bin"
new="$base"
applied="$(apply new_ops 2 on-the-new-release)"
ok "$applied" "ApplyChanges on this release"
billing="$(new_ops "$member" billing.graphql BillingPage '{}')"
ok "$billing" "BillingPage on this release"
[ "$(jq '.data.viewer.account.balance.available' <<<"$billing")" = 72 ] || fail "this release shows: $billing"
actors="$(jq -c '[.data.viewer.account.ledger.edges[].node | [.kind, .actor.userId]]' <<<"$billing")"
# Newest first: this release's charge names the dealer; the previous release's rows
# carry no actor (it never wrote one).
[ "$actors" = '[["CHARGE","dealer-7"],["GRANT",null],["CHARGE",null],["CHARGE",null],["GRANT",null]]' ] \
    || fail "the history's actors: $actors"
billing="$(old_ops "$member" billing.graphql BillingPage '{}')"
ok "$billing" "BillingPage on the previous release after this one wrote"
[ "$(jq '.data.viewer.account.balance.available' <<<"$billing")" = 72 ] || fail "the previous release shows: $billing"
created="$(old_ops "$ops" ops.graphql CreateAccount '{"name": "Autohaus Later", "plan": "BASIC", "listingSlots": 1}')"
ok "$created" "CreateAccount on the previous release beside this one"

say "4. the previous release started again on the migrated database"
if "$previous_bin" migrate >"$work/previous-migrate.out" 2>&1; then
    say "   it starts: $(cat "$work/previous-migrate.out")"
else
    say "   it refuses: $(tail -n 1 "$work/previous-migrate.out")"
fi
say "ok"
