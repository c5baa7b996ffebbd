#!/usr/bin/env bash
# An OCI registry (docker-registry) in DIR on 127.0.0.1.
#   registry.sh start DIR [PORT]   prints host:port
#   registry.sh stop DIR
# REGISTRY_HTPASSWD=FILE turns on basic auth with that htpasswd file.
# REGISTRY_TOKEN_REALM=URL (with REGISTRY_TOKEN_ISSUER, _SERVICE, _CERT) turns on token auth.
source "$(dirname "$0")/common.sh"

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: registry.sh start|stop DIR [PORT]"

case "$cmd" in
start)
    command -v docker-registry >/dev/null || die "docker-registry is not installed; run deploy/install.sh"
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then cat "$dir/address"; exit 0; fi
    port=${3:-$( [ -f "$dir/address" ] && cut -d: -f2 "$dir/address" || free_port )}
    {
        echo "version: 0.1"
        echo "log: { level: warn }"
        echo "storage: { filesystem: { rootdirectory: $dir/data }, delete: { enabled: true } }"
        echo "http: { addr: 127.0.0.1:$port }"
        if [ -n "${REGISTRY_HTPASSWD:-}" ]; then
            echo "auth: { htpasswd: { realm: slipway, path: $REGISTRY_HTPASSWD } }"
        elif [ -n "${REGISTRY_TOKEN_REALM:-}" ]; then
            echo "auth: { token: { realm: \"$REGISTRY_TOKEN_REALM\", service: $REGISTRY_TOKEN_SERVICE, issuer: $REGISTRY_TOKEN_ISSUER, rootcertbundle: $REGISTRY_TOKEN_CERT } }"
        fi
    } > "$dir/config.yml"
    nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! > "$dir/pid"
    echo "127.0.0.1:$port" > "$dir/address"
    wait_for registry 80 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || die "registry did not start; see $dir/registry.log"
    cat "$dir/address"
    ;;
stop)
    stop_pidfile "$dir/pid" registry
    ;;
*) die "unknown command $cmd" ;;
esac
