#!/usr/bin/env bash
# Interop tests with the JavaScript clients the front ends use (npm graphql-ws, urql,
# subscriptions-transport-ws), and GraphiQL and a front end on another origin in
# Debian's Chromium (puppeteer-core, installing the `chromium` package with apt-get
# when it is missing): builds the service, starts it in the embedded default (a fresh
# SQLite file with the demo account, the development secret) on a free port, with
# `cors_origins` naming the loopback origin the front end's page is served from, mints
# tokens with the binary's own
# `token` command, finds the demo account and its photos through GraphQL, runs
# `node --test`, and always stops the service.
set -euo pipefail
interop="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$interop")"
cd "$repo"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/studio-bff-target}"
contract="${STUDIO_CONTRACT_OPERATIONS:-$repo/contract/operations}"
[ -d "$contract" ] || { echo "interop: no contract operations at $contract" >&2; exit 1; }
command -v node >/dev/null || { echo "interop: node is not installed" >&2; exit 1; }
# The browser tests drive Debian's Chromium; puppeteer-core downloads no browser.
export STUDIO_CHROMIUM="${STUDIO_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$STUDIO_CHROMIUM" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "interop: $STUDIO_CHROMIUM is missing; as root: apt-get install chromium" >&2; exit 1; }
    echo "interop: installing Debian's chromium for the browser tests" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    STUDIO_CHROMIUM="$(command -v chromium)"
fi

cargo build --quiet --bin studio-bff
bin="$(cd "$CARGO_TARGET_DIR" && pwd)/debug/studio-bff"

work="$(mktemp -d)"
pid=""
stop() {
    local status=$?
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$work/service.log" ]; then
        echo "interop: failed ($status); the service's last log lines:" >&2
        tail -n 40 "$work/service.log" >&2
    fi
    rm -rf "$work"
    exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
port="$(free_port)"
# The origin test/other-origin.test.js serves its front end's page from.
page_origin="http://127.0.0.1:$(free_port)"
# Nothing configured but the address and that origin: the embedded default, in a
# folder of its own.
in_work() { env -i -C "$work" PATH="$PATH" HOME="$HOME" "$@"; }
# Not through the function: `$!` must be the service itself (env execs it), for `stop`.
env -i -C "$work" PATH="$PATH" HOME="$HOME" STUDIO_ADDR="127.0.0.1:$port" STUDIO_CORS_ORIGINS="$page_origin" \
    "$bin" >"$work/service.log" 2>&1 &
pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
    curl -fsS --max-time 1 "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "interop: the service exited at start" >&2; exit 1; }
    sleep 0.1
done
curl -fsS --max-time 2 "$base/readyz" >/dev/null

# POST /graphql with a bearer token; prints the answer, fails on any error.
graphql() {
    local token="$1" body="$2" answer
    answer="$(curl -sS --max-time 5 "$base/graphql" -H 'content-type: application/json' \
        -H "authorization: Bearer $token" -d "$body")"
    node -e 'const a = JSON.parse(process.argv[1]); if (a.errors || !a.data) { console.error("interop: " + process.argv[1]); process.exit(1); }' "$answer"
    printf '%s' "$answer"
}
# Reads the JSON on stdin and prints the value of the expression over it (`d`).
pick() {
    node -e 'const d = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = new Function("d", "return " + process.argv[1])(d); if (v === undefined || v === null || v === "" || v === false) process.exit(1); console.log(v)' "$1"
}

# The demo account's id, through the member token the service prints at start.
printed="$(sed -n 's/^ *member token: *//p' "$work/service.log" | head -n 1)"
[ -n "$printed" ] || { echo "interop: the service printed no member token" >&2; exit 1; }
account="$(graphql "$printed" '{"query":"{ viewer { account { id name } } }"}')"
account_id="$(pick 'd.data.viewer.account.name === "Demo Autohaus" && d.data.viewer.account.id' <<<"$account")"

# Tokens minted by the binary itself, with the same (empty) configuration.
member="$(in_work "$bin" token --account "$account_id" --user interop)"
ops="$(in_work "$bin" token --role ops --user interop-ops)"
expired="$(in_work "$bin" token --account "$account_id" --ttl 1s)"
# Another secret signs ids differently too, so this one names no account (ops).
foreign="$(in_work STUDIO_JWT_SECRET="another secret, which the service does not know" "$bin" token --role ops)"

graphql "$ops" "{\"query\":\"{ account(id: \\\"$account_id\\\") { name } }\"}" \
    | pick 'd.data.account.name === "Demo Autohaus"' >/dev/null
photos="$(graphql "$member" '{"query":"{ viewer { account { id photos(first: 50) { totalCount edges { node { id } } } } } }"}')"
photo_ids="$(pick 'd.data.viewer.account.photos.totalCount === 12 && d.data.viewer.account.photos.edges.map((e) => e.node.id).join(",")' <<<"$photos")"

export STUDIO_HTTP_URL="$base/graphql"
export STUDIO_WS_URL="ws://127.0.0.1:$port/graphql/ws"
export STUDIO_ACCOUNT_ID="$account_id"
export STUDIO_PHOTO_IDS="$photo_ids"
export STUDIO_MEMBER_TOKEN="$member"
export STUDIO_EXPIRED_TOKEN="$expired"
export STUDIO_FOREIGN_SECRET_TOKEN="$foreign"
export STUDIO_CONTRACT_OPERATIONS="$contract"
export STUDIO_GRAPHIQL_TOKEN="$printed"
export STUDIO_PAGE_ORIGIN="$page_origin"

cd "$interop"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
# One file at a time: every test changes the one demo account's balance.
timeout 150 node --test --test-reporter=spec --test-concurrency=1 --test-timeout=60000 --test-force-exit "$@" test/*.test.js
