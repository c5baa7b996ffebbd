# Shared helpers of the local stack scripts (sourced).
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Postgres refuses to run as root: run such commands as `nobody` then.
as_service_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# Every folder above DIR must be enterable by the service user.
check_reachable() {
    local dir=$1
    if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$dir"; then
        die "$dir is not reachable by user nobody, which runs the private Postgres; choose a data dir under /tmp or /var/tmp (SLIPWAY_DATA_DIR)"
    fi
}

stop_pidfile() {
    local pidfile=$1 name=$2
    [ -f "$pidfile" ] || return 0
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        echo "stopped $name" >&2
    fi
    rm -f "$pidfile"
}

wait_for() {
    local what=$1 tries=$2; shift 2
    for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    return 1
}
