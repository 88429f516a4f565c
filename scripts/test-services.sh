#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers for the tests, on 127.0.0.1 only.
#
#   scripts/test-services.sh start    install them if missing (Debian, as root), start both,
#                                     create the test role and database (idempotent)
#   scripts/test-services.sh env      print the exports the tests read:
#                                     eval "$(scripts/test-services.sh env)"
#   scripts/test-services.sh status   say what runs where
#   scripts/test-services.sh stop     stop both (their data stays in the state folder)
#   scripts/test-services.sh clean    stop both and delete the state folder
#
# The state folder and ports are derived from this checkout's path, so several
# checkouts on one machine do not collide; override them with
# GROUPGUARD_SERVICES_DIR, GROUPGUARD_PG_PORT and GROUPGUARD_REDIS_PORT.
# PostgreSQL runs with fsync off: it is a test server, never keep data in it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=$(printf %s "$ROOT" | cksum | cut -d' ' -f1)
STATE=${GROUPGUARD_SERVICES_DIR:-/tmp/groupguard-services-$TAG}
PG_PORT=${GROUPGUARD_PG_PORT:-$((20000 + TAG % 5000))}
REDIS_PORT=${GROUPGUARD_REDIS_PORT:-$((25000 + TAG % 5000))}
PG_DATA=$STATE/pg
PG_SOCKET=$STATE/pg-run  # socket and log, owned by the server user
REDIS_DIR=$STATE/redis
PG_USER=groupguard
PG_PASSWORD=groupguard
PG_DB=groupguard_test
PG_URL="postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

log() { echo "test-services: $*" >&2; }

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

# PostgreSQL refuses to run as root: as root, run the servers as their own users.
as_user() {
    local user=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

install_missing() {
    local missing=()
    [ -n "$(pg_bin)" ] || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    # A CJK font renders the test images (text in pictures) and chart labels;
    # Chromium drives the console's browser tests; libGL is what OpenCV (OCR) loads.
    [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    [ -e /usr/lib/x86_64-linux-gnu/libGL.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libGL.so.1 ] \
        || missing+=(libgl1)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "missing: ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]})"
        exit 1
    fi
    log "installing ${missing[*]} (apt-get)"
    # Keep the packages from starting their default system instances: we run our own.
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    [ -n "$added" ] && rm -f "$policy"
    return 0
}

owner() { [ "$(id -u)" = 0 ] && echo "$1" || id -un; }

pg_running() {
    [ -f "$PG_DATA/PG_VERSION" ] && as_user "$(owner postgres)" "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

redis_running() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG
}

psql_admin() {
    as_user "$(owner postgres)" "$(pg_bin)/psql" -h "$PG_SOCKET" -p "$PG_PORT" -U postgres \
        -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

start_pg() {
    local bin user
    bin=$(pg_bin)
    user=$(owner postgres)
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    mkdir -p "$PG_SOCKET"
    [ "$(id -u)" = 0 ] && chown "$user" "$PG_SOCKET"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        mkdir -p "$PG_DATA"
        [ "$(id -u)" = 0 ] && chown "$user" "$PG_DATA"
        as_user "$user" "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$STATE/initdb.log"
    fi
    if ! pg_running; then
        as_user "$user" "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_SOCKET/postgresql.log" -w -t 30 start \
            -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_SOCKET \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    fi
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" ]; then
        psql_admin -c "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
    fi
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
        psql_admin -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
    fi
    log "PostgreSQL on 127.0.0.1:$PG_PORT (data $PG_DATA)"
}

start_redis() {
    local user
    user=$(owner redis)
    id "$user" >/dev/null 2>&1 || user=$(id -un)
    mkdir -p "$REDIS_DIR"
    [ "$(id -u)" = 0 ] && chown "$user" "$REDIS_DIR"
    if ! redis_running; then
        as_user "$user" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
            --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
            --save "" --appendonly no
        for _ in $(seq 50); do
            redis_running && break
            sleep 0.1
        done
        redis_running || { log "Redis did not start; see $REDIS_DIR/redis.log"; exit 1; }
    fi
    log "Redis on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
    if pg_running; then
        as_user "$(owner postgres)" "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
        log "PostgreSQL stopped"
    fi
    if redis_running; then
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        log "Redis stopped"
    fi
}

print_env() {
    echo "export GROUPGUARD_TEST_PG_URL='$PG_URL'"
    echo "export GROUPGUARD_TEST_REDIS_URL='$REDIS_URL'"
}

case "${1:-start}" in
start)
    install_missing
    start_pg
    start_redis
    ;;
env) print_env ;;
status)
    if [ -n "$(pg_bin)" ] && pg_running; then echo "postgresql: up, $PG_URL"; else echo "postgresql: down"; fi
    if command -v redis-cli >/dev/null 2>&1 && redis_running; then echo "redis: up, $REDIS_URL"; else echo "redis: down"; fi
    ;;
stop) stop_all ;;
clean)
    stop_all
    rm -rf "$STATE"
    ;;
*)
    echo "usage: $0 [start|env|status|stop|clean]" >&2
    exit 2
    ;;
esac
