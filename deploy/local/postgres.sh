#!/usr/bin/env bash
# A private PostgreSQL cluster in DIR, on 127.0.0.1.
#   postgres.sh start DIR [PORT]   prints the DATABASE_URL (database `slipway`)
#   postgres.sh stop DIR
# PG_FAST=1 turns off fsync (tests only; never for data you keep).
source "$(dirname "$0")/common.sh"

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: postgres.sh start|stop DIR [PORT]"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || die "PostgreSQL is not installed; run deploy/install.sh"

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/slipway?sslmode=disable"; }
running() { [ -f "$dir/port" ] && as_service_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if running; then url; exit 0; fi
    check_reachable "$dir"
    port=${3:-$( [ -f "$dir/port" ] && cat "$dir/port" || free_port )}
    echo "$port" > "$dir/port"
    if [ "$(id -u)" = 0 ]; then chown nobody "$dir"; chmod 700 "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_service_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
            || die "initdb failed; see $dir/initdb.log"
    fi
    opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=800"
    [ "${PG_FAST:-0}" = 1 ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_service_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null \
        || die "Postgres did not start; see $dir/postgres.log"
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'slipway'" | grep -q 1 \
        || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres slipway
    url
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    dir=$(cd "$dir" && pwd)
    as_service_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 && echo "stopped postgres" >&2 || true
    ;;
*) die "unknown command $cmd" ;;
esac
