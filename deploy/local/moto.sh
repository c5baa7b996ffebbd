#!/usr/bin/env bash
# The AWS API (moto server: ECS, ECR, CloudWatch Logs, IAM, STS) in DIR on 127.0.0.1, with
# signatures checked: the first three calls (unsigned) create the IAM user `slipway`, its
# access key and an allow-all policy; every later call must be signed with that key.
#   moto.sh start DIR [PORT]   prints `URL ACCESS_KEY_ID SECRET_ACCESS_KEY`
#   moto.sh stop DIR
source "$(dirname "$0")/common.sh"

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: moto.sh start|stop DIR [PORT]"

iam() {   # an IAM query call in the unauthenticated window; the scope tells moto which service
    curl -sf -X POST "http://127.0.0.1:$port/" -H "Content-Type: application/x-www-form-urlencoded" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIABOOTSTRAP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00" \
        -d "$1&Version=2010-05-08"
}

case "$cmd" in
start)
    command -v moto_server >/dev/null || die "moto_server is not installed; run deploy/install.sh"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && [ -f "$dir/credentials" ]; then cat "$dir/credentials"; exit 0; fi
    port=${3:-$( [ -f "$dir/address" ] && cut -d: -f2 "$dir/address" || free_port )}
    INITIAL_NO_AUTH_ACTION_COUNT=3 nohup moto_server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! > "$dir/pid"
    echo "127.0.0.1:$port" > "$dir/address"
    wait_for moto 100 curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" || die "moto did not start; see $dir/moto.log"
    iam "Action=CreateUser&UserName=slipway" >/dev/null || die "moto: CreateUser failed; see $dir/moto.log"
    key=$(iam "Action=CreateAccessKey&UserName=slipway") || die "moto: CreateAccessKey failed"
    policy='%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D'
    iam "Action=PutUserPolicy&UserName=slipway&PolicyName=all&PolicyDocument=$policy" >/dev/null || die "moto: PutUserPolicy failed"
    id=$(echo "$key" | sed -n 's:.*<AccessKeyId>\(.*\)</AccessKeyId>.*:\1:p')
    secret=$(echo "$key" | sed -n 's:.*<SecretAccessKey>\(.*\)</SecretAccessKey>.*:\1:p')
    [ -n "$id" ] && [ -n "$secret" ] || die "moto: no access key in its answer"
    echo "http://127.0.0.1:$port $id $secret" > "$dir/credentials"
    cat "$dir/credentials"
    ;;
stop)
    stop_pidfile "$dir/pid" moto
    rm -f "$dir/credentials"
    ;;
*) die "unknown command $cmd" ;;
esac
