#!/usr/bin/env bash
# Installs what Slipway's local stack and tests need, and only what is missing.
# Safe to run again: with everything present it does nothing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

[ -n "$(pg_bin)" ] || need+=(postgresql)
have dockerd || need+=(docker.io)
have docker-registry || need+=(docker-registry)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
pkg-config --exists libgit2 2>/dev/null || need+=(libgit2-dev)
have pkg-config || need+=(pkg-config)
have curl || need+=(curl)
have git || need+=(git)
have python3 || need+=(python3)
have runuser || need+=(util-linux)
have wrk || need+=(wrk)                 # deploy/bench/webhooks
have htpasswd || need+=(apache2-utils)  # the test registry with basic auth
have openssl || need+=(openssl)         # the test registry with token auth, the HTTPS git server
have ssh-keygen || need+=(openssh-client)  # the test git server's host and deploy keys
[ -x /usr/sbin/sshd ] || need+=(openssh-server)  # the test git server over ssh (its own sshd, own port)
[ -x /usr/bin/chromium ] || need+=(chromium)              # the dashboard's browser tests (headless)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
have promtool || need+=(prometheus)     # /metrics linted with promtool; alert rules checked and unit-tested

if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        have sudo || { echo "install ${need[*]} as root (no sudo here)" >&2; exit 1; }
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # The package scripts must not start system services (a Postgres, a dockerd, an sshd on
    # port 22): the stack starts its own, on loopback. invoke-rc.d and deb-systemd-invoke skip
    # every start when policy-rc.d exits 101; Docker images ship one, elsewhere one is put
    # there for the install only (never replacing one that is there).
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# Put by Slipway deploy/install.sh for one apt-get install; removed after.\nexit 101\n' \
            | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        trap '$sudo rm -f "$policy"' EXIT
    fi
    new_sshd=""
    [ -x /usr/sbin/sshd ] || new_sshd=1
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$(trap -p EXIT)" ]; then $sudo rm -f "$policy"; trap - EXIT; fi
    # Not at the next boot either: Debian's ssh.service and ssh.socket do not start while this
    # file exists. Only when this script brought sshd in; remove the file to run a system sshd.
    if [ -n "$new_sshd" ] && [ -d /etc/ssh ]; then
        $sudo touch /etc/ssh/sshd_not_to_be_run
    fi
fi

# The AWS API in tests: moto's server (ECS, ECR, CloudWatch Logs, IAM, STS).
if ! command -v moto_server >/dev/null 2>&1; then
    echo "installing: moto[server] for python3" >&2
    python3 -m pip install -q 'moto[server]' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages 'moto[server]'
    command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after pip install; add pip's bin folder to PATH" >&2; exit 1; }
fi

# The policy schema test runs manifests/policy.schema.json through Python's jsonschema.
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
    echo "installing: jsonschema and PyYAML for python3" >&2
    python3 -m pip install -q jsonschema pyyaml 2>/dev/null \
        || python3 -m pip install -q --break-system-packages jsonschema pyyaml 2>/dev/null \
        || { s=""; [ "$(id -u)" = 0 ] || s=sudo; DEBIAN_FRONTEND=noninteractive $s apt-get install -y -qq python3-jsonschema python3-yaml >/dev/null; }
fi

# The dashboard's browser tests drive Chromium through selenium.
if ! python3 -c 'import selenium' 2>/dev/null; then
    echo "installing: selenium for python3" >&2
    python3 -m pip install -q selenium 2>/dev/null || python3 -m pip install -q --break-system-packages selenium
fi
