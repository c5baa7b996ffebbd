#!/usr/bin/env bash
# The whole local stack for tests and `slipway dev`: Postgres, a Docker engine, a registry (and
# two with basic and token auth) and the AWS API (moto, signatures checked).
#   stack.sh up DIR     starts what is not running; prints `export` lines to eval
#   stack.sh down DIR   stops all of it
# DOCKER_HOST is used as is when an engine answers there; otherwise a private one starts.
source "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: stack.sh up|down DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
up)
    db=$(bash "$here/postgres.sh" start "$dir/postgres")
    registry=$(bash "$here/registry.sh" start "$dir/registry")
    read -r registry_basic registry_token registry_user registry_password < <(bash "$here/registries.sh" start "$dir/registries")
    read -r aws_endpoint aws_key aws_secret < <(bash "$here/moto.sh" start "$dir/moto")
    if [ -n "${DOCKER_HOST:-}" ] && curl -sf --unix-socket "${DOCKER_HOST#unix://}" http://engine/_ping >/dev/null 2>&1; then
        docker_host=$DOCKER_HOST
        network=${SLIPWAY_DOCKER_NETWORK:-}
    else
        docker_host=$(bash "$here/dockerd.sh" start "$dir/docker")
        network=none
    fi
    echo "export SLIPWAY_STACK_DIR='$dir'"
    echo "export SLIPWAY_STACK_DATABASE_URL='$db'"
    echo "export SLIPWAY_STACK_REGISTRY='$registry'"
    echo "export SLIPWAY_STACK_REGISTRY_BASIC='$registry_basic'"
    echo "export SLIPWAY_STACK_REGISTRY_TOKEN='$registry_token'"
    echo "export SLIPWAY_STACK_REGISTRY_USER='$registry_user'"
    echo "export SLIPWAY_STACK_REGISTRY_PASSWORD='$registry_password'"
    echo "export SLIPWAY_STACK_DOCKER_HOST='$docker_host'"
    echo "export SLIPWAY_STACK_DOCKER_NETWORK='$network'"
    echo "export SLIPWAY_STACK_BASE_IMAGE='${SLIPWAY_BASE_IMAGE:-slipway/busybox:latest}'"
    echo "export SLIPWAY_STACK_AWS_ENDPOINT='$aws_endpoint'"
    echo "export SLIPWAY_STACK_AWS_ACCESS_KEY_ID='$aws_key'"
    echo "export SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY='$aws_secret'"
    ;;
down)
    [ -d "$dir/docker" ] && bash "$here/dockerd.sh" stop "$dir/docker" --remove-containers || true
    bash "$here/registry.sh" stop "$dir/registry" || true
    bash "$here/registries.sh" stop "$dir/registries" || true
    bash "$here/moto.sh" stop "$dir/moto" || true
    bash "$here/postgres.sh" stop "$dir/postgres" || true
    ;;
*) die "unknown command $cmd" ;;
esac
