#!/usr/bin/env bash
# The test command (the README's second command; .ci/run calls it).
# Installs what is missing, starts Postgres, a Docker engine and a registry in a temp
# folder, builds, runs every suite (unit, integration, end-to-end) and stops the stack.
#   deploy/test.sh [swift test arguments…]   e.g. deploy/test.sh --filter SlipwayCoreTests
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash deploy/install.sh

stack=$(mktemp -d /tmp/slipway-test-XXXXXX)
chmod 755 "$stack"
cleanup() {
    bash deploy/local/stack.sh down "$stack" || true
    rm -rf "$stack" 2>/dev/null || true
}
trap cleanup EXIT
eval "$(bash deploy/local/stack.sh up "$stack")"
export SLIPWAY_REQUIRE_INTEGRATION=1

swift build --build-tests
export SLIPWAY_BIN="$(swift build --show-bin-path)/slipway"
swift test --skip-build --parallel "$@"
echo "deploy/test.sh: passed in $(( $(date +%s) - started )) s"
