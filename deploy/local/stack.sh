#!/usr/bin/env bash
# The whole local stack for tests and `slipway dev`: Postgres, a Docker engine, a registry (and
# two with basic and token auth), the AWS API (moto, signatures checked), git servers over
# HTTPS (basic auth) and ssh (deploy keys), and the source-host API stand-in (scm-standin.py).
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
    read -r git_https git_user git_password_file git_ca git_ssh git_ssh_key git_ssh_rsa_key git_ssh_rsa_passphrase_file \
        git_known_hosts git_known_hosts_wrong git_repos < <(bash "$here/gitservers.sh" start "$dir/git")
    [ -n "$git_repos" ] || die "the git servers did not start (deploy/local/gitservers.sh start $dir/git)"
    scm_api=$(bash "$here/scm-standin.sh" start "$dir/scm")
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
    echo "export SLIPWAY_STACK_GIT_HTTPS='$git_https'"
    echo "export SLIPWAY_STACK_GIT_USER='$git_user'"
    echo "export SLIPWAY_STACK_GIT_PASSWORD='$(cat "$git_password_file")'"
    echo "export SLIPWAY_STACK_GIT_CA_FILE='$git_ca'"
    echo "export SLIPWAY_STACK_GIT_SSH='$git_ssh'"
    echo "export SLIPWAY_STACK_GIT_SSH_KEY='$git_ssh_key'"
    echo "export SLIPWAY_STACK_GIT_SSH_RSA_KEY='$git_ssh_rsa_key'"
    echo "export SLIPWAY_STACK_GIT_SSH_RSA_PASSPHRASE='$(cat "$git_ssh_rsa_passphrase_file")'"
    echo "export SLIPWAY_STACK_GIT_KNOWN_HOSTS='$git_known_hosts'"
    echo "export SLIPWAY_STACK_GIT_KNOWN_HOSTS_WRONG='$git_known_hosts_wrong'"
    echo "export SLIPWAY_STACK_GIT_REPOS='$git_repos'"
    echo "export SLIPWAY_STACK_SCM_API='$scm_api'"
    ;;
down)
    [ -d "$dir/docker" ] && bash "$here/dockerd.sh" stop "$dir/docker" --remove-containers || true
    bash "$here/registry.sh" stop "$dir/registry" || true
    bash "$here/registries.sh" stop "$dir/registries" || true
    bash "$here/moto.sh" stop "$dir/moto" || true
    bash "$here/gitservers.sh" stop "$dir/git" || true
    bash "$here/scm-standin.sh" stop "$dir/scm" || true
    bash "$here/postgres.sh" stop "$dir/postgres" || true
    ;;
*) die "unknown command $cmd" ;;
esac
