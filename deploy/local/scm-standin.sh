#!/usr/bin/env bash
# The GitHub / GitLab / Bitbucket Cloud / Bitbucket Server stand-in (scm-standin.py) in DIR on
# 127.0.0.1: it checks every request against the contracts in shared/fixtures/scm and answers
# with their example responses. API bases: URL/github, URL/gitlab/api/v4, URL/bitbucket/2.0,
# URL/bitbucket-server; the control API is URL/_standin (see scm-standin.py).
#   scm-standin.sh start DIR [PORT]   prints `http://127.0.0.1:PORT`
#   scm-standin.sh stop DIR
# Passed through from the environment: SLIPWAY_SCM_CONTRACTS, SLIPWAY_STANDIN_TOKENS,
# SLIPWAY_STANDIN_GITHUB_APP_ID, SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE.
source "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: scm-standin.sh start|stop DIR [PORT]"

case "$cmd" in
start)
    python3 -c 'import cryptography' 2>/dev/null || die "the stand-in needs the python3 cryptography package (GitHub App JWTs)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then cat "$dir/address"; exit 0; fi
    port=${3:-$( [ -f "$dir/address" ] && sed 's/.*://' "$dir/address" || free_port )}
    nohup python3 "$here/scm-standin.py" --host 127.0.0.1 --port "$port" > "$dir/standin.log" 2>&1 &
    echo $! > "$dir/pid"
    echo "http://127.0.0.1:$port" > "$dir/address"
    wait_for "scm stand-in" 80 curl -sf -o /dev/null "http://127.0.0.1:$port/_standin/health" \
        || die "the scm stand-in did not start; see $dir/standin.log"
    cat "$dir/address"
    ;;
stop)
    stop_pidfile "$dir/pid" "scm stand-in"
    ;;
*) die "unknown command $cmd" ;;
esac
