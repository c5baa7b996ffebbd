#!/usr/bin/env bash
# The README walkthrough's repository: /tmp/slipway-demo/web.git (what policies/web.yaml
# deploys) with a post-receive hook that sends Slipway a signed push webhook, as GitHub would.
#   deploy/demo.sh init    create the repository and a work tree at /tmp/slipway-demo/work
#   deploy/demo.sh good    commit and push a revision that stays up
#   deploy/demo.sh crash   commit and push a revision that exits with code 3 after two seconds
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${SLIPWAY_DEMO_DIR:-/tmp/slipway-demo}
data_dir=$(cd "$here/.." && realpath -m "${SLIPWAY_DATA_DIR:-.slipway}")
url=${SLIPWAY_WEBHOOK_URL:-http://${SLIPWAY_HTTP_ADDR:-127.0.0.1:8080}/webhooks/github}
base=${SLIPWAY_BASE_IMAGE:-slipway/busybox:latest}

commit() {
    git -C "$root/work" add -A
    git -C "$root/work" -c user.name=demo -c user.email=demo@example.com commit -qm "$1"
    git -C "$root/work" push -q origin HEAD:main
    echo "pushed $(git -C "$root/work" rev-parse --short=12 HEAD): $1"
}

case "${1:-}" in
init)
    rm -rf "$root"
    git init -q --bare --initial-branch=main "$root/web.git"
    sed -e "s|__URL__|$url|" -e "s|__SECRET_FILE__|$data_dir/webhook-secret-github|" "$here/demo/post-receive" > "$root/web.git/hooks/post-receive"
    chmod +x "$root/web.git/hooks/post-receive"
    git clone -q "$root/web.git" "$root/work" 2>/dev/null
    printf 'FROM %s\nCOPY serve.sh /serve.sh\nCMD ["sh", "/serve.sh"]\n' "$base" > "$root/work/Dockerfile"
    echo "created $root/web.git; push to it from $root/work"
    ;;
good)
    printf 'trap "exit 0" TERM\necho "serving: $GREETING (%s)"\nwhile true; do sleep 1; done\n' "$(date +%T)" > "$root/work/serve.sh"
    commit "a revision that stays up"
    ;;
crash)
    printf 'echo starting\nsleep 2\necho "fatal: cannot reach the database" >&2\nexit 3\n' > "$root/work/serve.sh"
    commit "a revision that crashes"
    ;;
*)
    echo "usage: deploy/demo.sh init|good|crash" >&2
    exit 2
    ;;
esac
