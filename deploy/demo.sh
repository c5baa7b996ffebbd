#!/usr/bin/env bash
# The README walkthrough's repository: /tmp/slipway-demo/web.git (what policies/web.yaml
# deploys) with a post-receive hook that sends Slipway a signed push webhook, as GitHub would.
#   deploy/demo.sh init    create the repository and a work tree at /tmp/slipway-demo/work
#   deploy/demo.sh good    commit and push a revision that stays up
#   deploy/demo.sh crash   commit and push a revision that exits with code 3 after two seconds
#   deploy/demo.sh pr N    open pull request N: a commit on branch pr-N, pushed to refs/pull/N/head, and
#                          the signed `pull_request` webhook GitHub sends (`opened`; `synchronize` after that)
#   deploy/demo.sh close N close pull request N (the `closed` webhook)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${SLIPWAY_DEMO_DIR:-/tmp/slipway-demo}
data_dir=$(cd "$here/.." && realpath -m "${SLIPWAY_DATA_DIR:-.slipway}")
url=${SLIPWAY_WEBHOOK_URL:-http://${SLIPWAY_HTTP_ADDR:-127.0.0.1:8080}/webhooks/github}
base=${SLIPWAY_BASE_IMAGE:-slipway/busybox:latest}

# Sends the `pull_request` webhook GitHub would send for pull request $2 at commit $3 (action $1).
pull_request() {
    local action=$1 number=$2 sha=$3 secret_file="$data_dir/webhook-secret-github"
    [ -f "$secret_file" ] || { echo "no webhook secret at $secret_file; start \`slipway dev\` first" >&2; exit 1; }
    local repo="file://$root/web.git"
    local body
    body=$(printf '{"action":"%s","number":%s,"pull_request":{"number":%s,"merged":false,"head":{"ref":"pr-%s","sha":"%s","repo":{"clone_url":"%s"}},"base":{"ref":"main","repo":{"clone_url":"%s"}}},"repository":{"full_name":"demo/web","clone_url":"%s"}}' \
        "$action" "$number" "$number" "$number" "$sha" "$repo" "$repo" "$repo")
    local signature
    signature=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print("sha256="+hmac.new(sys.argv[1].encode(),sys.stdin.buffer.read(),hashlib.sha256).hexdigest())' "$(cat "$secret_file")")
    local status
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$url" -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: pull_request' -H "X-GitHub-Delivery: $(python3 -c 'import uuid; print(uuid.uuid4())')" \
        -H "X-Hub-Signature-256: $signature" --data-binary "$body" || echo "unreachable")
    echo "pull request #$number $action @ ${sha:0:12} → $url: $status"
}

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
pr)
    number=${2:?usage: deploy/demo.sh pr N}
    action=synchronize
    if ! git -C "$root/work" rev-parse -q --verify "refs/heads/pr-$number" >/dev/null; then
        git -C "$root/work" branch -q "pr-$number" origin/main 2>/dev/null || git -C "$root/work" branch -q "pr-$number" main
        action=opened
    fi
    git -C "$root/work" checkout -q "pr-$number"
    printf 'trap "exit 0" TERM\necho "serving: $GREETING (preview of pull request #$SLIPWAY_PR_NUMBER, %s)"\nwhile true; do sleep 1; done\n' \
        "$(date +%T)" > "$root/work/serve.sh"
    git -C "$root/work" add -A
    git -C "$root/work" -c user.name=demo -c user.email=demo@example.com commit -qm "pull request #$number"
    sha=$(git -C "$root/work" rev-parse HEAD)
    git -C "$root/work" push -q -f origin "HEAD:refs/pull/$number/head"
    git -C "$root/work" checkout -q main
    pull_request "$action" "$number" "$sha"
    ;;
close)
    number=${2:?usage: deploy/demo.sh close N}
    sha=$(git -C "$root/work" rev-parse "pr-$number")
    pull_request closed "$number" "$sha"
    ;;
*)
    echo "usage: deploy/demo.sh init|good|crash|pr N|close N" >&2
    exit 2
    ;;
esac
