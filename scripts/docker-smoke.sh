#!/usr/bin/env bash
# The Dockerfile and compose.yaml, run: builds the image, checks `--version` in it,
# starts PostgreSQL and the service with compose on a free port, waits until both are
# healthy (the image's HEALTHCHECK on /readyz), mints an ops token inside the
# container and runs a query with it. Always takes the stack down, volumes included.
# .ci/run runs it when a Docker daemon answers, and says it skipped it otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

docker info >/dev/null 2>&1 || { echo "docker-smoke: no Docker daemon answers" >&2; exit 1; }
docker compose version >/dev/null || { echo "docker-smoke: docker compose is not installed" >&2; exit 1; }

project="studio-bff-smoke-$$"
export GIT_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
export STUDIO_JWT_SECRET="$(openssl rand -base64 48)"
export STUDIO_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
compose() { docker compose -p "$project" "$@"; }
down() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        compose logs --no-color --tail 40 >&2 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    exit "$status"
}
trap down EXIT
trap 'exit 130' INT TERM

echo "docker-smoke: build"
compose build
version="$(docker run --rm studio-bff:local --version)"
[ "$version" = "studio-bff $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1) (commit $GIT_COMMIT)" ] \
    || { echo "docker-smoke: --version says: $version" >&2; exit 1; }

echo "docker-smoke: up (PostgreSQL and the service, healthy)"
compose up --detach --wait --wait-timeout 120
curl -fsS --max-time 5 "http://127.0.0.1:$STUDIO_PORT/readyz" >/dev/null

echo "docker-smoke: a token minted in the container, and a query"
ops="$(compose exec -T studio-bff studio-bff token --role ops)"
answer="$(curl -sS --max-time 5 "http://127.0.0.1:$STUDIO_PORT/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer $ops" -d '{"query": "{ viewer { role } }"}')"
[ "$answer" = '{"data":{"viewer":{"role":"OPS"}}}' ] || { echo "docker-smoke: $answer" >&2; exit 1; }
[ "$(docker inspect --format '{{.Config.User}}' studio-bff:local)" = studio ] \
    || { echo "docker-smoke: the image runs as root" >&2; exit 1; }
echo "docker-smoke: ok"
