#!/usr/bin/env bash
# PgBouncer in transaction mode, for proving that the service and every test work
# through a pooler (issue 16; .ci/run runs the PostgreSQL tests through it).
#
#   scripts/pooler.sh install               build PgBouncer once, cached under $HOME
#   scripts/pooler.sh start DIR PORT [PG_PORT]
#                                           run it on 127.0.0.1:PORT in front of the
#                                           PostgreSQL on 127.0.0.1:PG_PORT (5432);
#                                           prints its pid; its log is DIR/pooler.log
#   scripts/pooler.sh stop DIR              stop the one started with DIR
#
# Why a build: Debian bookworm's pgbouncer is 1.18, which does not carry
# protocol-level prepared statements in transaction mode, and sqlx prepares every
# statement by name on its own connection ("prepared statement sqlx_s_1 already
# exists" on the next client's turn). PgBouncer 1.21 added max_prepared_statements;
# this builds Debian trixie's source package (1.24.1 with Debian's patches when
# written) against bookworm's libraries, and checks that it is 1.21 or later. The source comes through apt with a sources list of this
# script's own (deb-src trixie), never added to the system's.
set -euo pipefail

CACHE="$HOME/.cache/studio-pooler"
PREFIX="$CACHE/pgbouncer"
BIN="$PREFIX/bin/pgbouncer"
HERE="$(cd "$(dirname "$0")" && pwd)"

install() {
    if [ -x "$BIN" ]; then
        return
    fi
    echo "pooler: building PgBouncer from Debian trixie's source into $PREFIX (once)" >&2
    export DEBIAN_FRONTEND=noninteractive
    local deps=(build-essential pkg-config libevent-dev libssl-dev libc-ares-dev dpkg-dev)
    if ! dpkg -s "${deps[@]}" >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y -qq "${deps[@]}" >/dev/null
    fi
    local apt="$CACHE/apt"
    mkdir -p "$apt/lists/partial" "$CACHE/src"
    echo "deb-src http://deb.debian.org/debian trixie main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update -qq
    local src
    src="$(mktemp -d "$CACHE/src/build.XXXXXX")"
    (
        cd "$src"
        apt-get "${opts[@]}" source --download-only -qq pgbouncer
        dpkg-source -x pgbouncer_*.dsc tree >/dev/null
        cd tree
        ./configure --prefix="$PREFIX" --without-systemd >configure.log
        make -j"$(nproc)" >make.log
        make install >install.log
    )
    rm -rf "$src"
    local version
    version="$("$BIN" --version | head -1)"
    echo "pooler: $version" >&2
    # "PgBouncer 1.24.1": max_prepared_statements needs 1.21 or later.
    if ! printf '1.21\n%s\n' "${version#PgBouncer }" | sort -C -V; then
        echo "pooler: $version is older than 1.21, which sqlx's prepared statements need" >&2
        rm -rf "$PREFIX"
        exit 1
    fi
}

start() {
    local dir="$1" port="$2" pg_port="${3:-5432}"
    install
    mkdir -p "$dir"
    # PgBouncer refuses to run as root; it reads its files first, then becomes postgres.
    echo '"postgres" ""' >"$dir/users.txt"
    sed -e "s|@PORT@|$port|" -e "s|@PG_PORT@|$pg_port|" -e "s|@AUTH_FILE@|$dir/users.txt|" \
        "$HERE/pooler.ini" >"$dir/pooler.ini"
    local user=()
    if [ "$(id -u)" = 0 ]; then
        user=(-u postgres)
    fi
    # Each test holds a few client connections; thousands over a run.
    ulimit -n "$(ulimit -Hn)"
    "$BIN" "${user[@]}" "$dir/pooler.ini" >>"$dir/pooler.log" 2>&1 &
    echo $! >"$dir/pooler.pid"
    for _ in $(seq 1 50); do
        if pg_isready -q -h 127.0.0.1 -p "$port"; then
            cat "$dir/pooler.pid"
            return
        fi
        sleep 0.1
    done
    echo "pooler: PgBouncer did not answer on 127.0.0.1:$port; its log:" >&2
    cat "$dir/pooler.log" >&2
    exit 1
}

stop() {
    local dir="$1"
    if [ -f "$dir/pooler.pid" ]; then
        kill "$(cat "$dir/pooler.pid")" 2>/dev/null || true
        rm -f "$dir/pooler.pid"
    fi
}

case "${1:-}" in
install) install ;;
start) start "${2:?a folder}" "${3:?a port}" "${4:-5432}" ;;
stop) stop "${2:?a folder}" ;;
*)
    echo "usage: $0 install | start DIR PORT [PG_PORT] | stop DIR" >&2
    exit 2
    ;;
esac
