#!/usr/bin/env bash
# Two more registries for the registry-client tests: one with basic auth (htpasswd), one
# with token auth (a token service on loopback, as Harbor and Docker Hub do it).
#   registries.sh start DIR    prints `BASIC_HOST TOKEN_HOST USER PASSWORD`
#   registries.sh stop DIR
source "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: registries.sh start|stop DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
    user=slipway
    [ -f "$dir/password" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$dir/password"
    chmod 600 "$dir/password"
    password=$(cat "$dir/password")
    if [ ! -f "$dir/htpasswd" ]; then
        # The password goes on standard input, never on a command line.
        if command -v htpasswd >/dev/null; then
            htpasswd -iBn "$user" < "$dir/password" > "$dir/htpasswd"
        else
            python3 -W ignore -c 'import crypt, sys; print(sys.argv[1] + ":" + crypt.crypt(sys.stdin.read().strip(), crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$user" < "$dir/password" > "$dir/htpasswd"
        fi
    fi
    basic=$(REGISTRY_HTPASSWD="$dir/htpasswd" bash "$here/registry.sh" start "$dir/basic")

    if [ ! -f "$dir/token/cert.pem" ]; then
        mkdir -p "$dir/token"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=slipway-test-token \
            -keyout "$dir/token/key.pem" -out "$dir/token/cert.pem" 2>/dev/null || die "openssl could not make the token certificate"
    fi
    if ! { [ -f "$dir/token/pid" ] && kill -0 "$(cat "$dir/token/pid")" 2>/dev/null; }; then
        port=$(free_port)
        REGISTRY_TOKEN_PASSWORD_FILE="$dir/password" nohup python3 "$here/registry-token.py" "$port" "$dir/token/key.pem" "$dir/token/cert.pem" \
            slipway-test-issuer slipway-test-registry "$user" > "$dir/token/token.log" 2>&1 &
        echo $! > "$dir/token/pid"
        echo "127.0.0.1:$port" > "$dir/token/address"
        wait_for "token service" 80 curl -s -o /dev/null "http://127.0.0.1:$port/token" || die "the token service did not start; see $dir/token/token.log"
    fi
    realm="http://$(cat "$dir/token/address")/token"
    token=$(REGISTRY_TOKEN_REALM="$realm" REGISTRY_TOKEN_SERVICE=slipway-test-registry REGISTRY_TOKEN_ISSUER=slipway-test-issuer \
        REGISTRY_TOKEN_CERT="$dir/token/cert.pem" bash "$here/registry.sh" start "$dir/tokenauth")
    echo "$basic $token $user $password"
    ;;
stop)
    bash "$here/registry.sh" stop "$dir/basic" || true
    bash "$here/registry.sh" stop "$dir/tokenauth" || true
    stop_pidfile "$dir/token/pid" "token service"
    ;;
*) die "unknown command $cmd" ;;
esac
