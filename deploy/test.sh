#!/usr/bin/env bash
# The test command (the README's second command; .ci/run calls it).
# Installs what is missing, starts Postgres, a Docker engine and a registry in a temp
# folder, builds, runs every suite (unit, integration, end-to-end) and stops the stack.
#   deploy/test.sh [swift test arguments…]   e.g. deploy/test.sh --filter SlipwayCoreTests
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash deploy/install.sh
# The alert rules and the dashboard's queries, with promtool (seconds; before the long build).
bash deploy/observability/check.sh

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
# The systemd unit, the ECS files and the image script of deploy/production (seconds).
bash deploy/production/check.sh
if [ $# -gt 0 ]; then
    swift test --skip-build --parallel "$@"
else
    # The build guardrails time the engine's own reaction to a cancel or a timeout: they run
    # after the rest, on a quiet machine, where their bounds measure the engine, not the load.
    # Bounded: an intermittent hang of the test process (every task waiting, nothing running; see the
    # closing note of issue 16) must fail the run in minutes, not at CI's 90-minute limit.
    timeout --foreground 900 swift test --skip-build --parallel --skip BuildGuardrailTests \
        || { rc=$?; [ "$rc" = 124 ] && echo "deploy/test.sh: the test run did not end within 15 minutes (hung)" >&2; exit "$rc"; }
    swift test --skip-build --parallel --filter BuildGuardrailTests
fi
echo "deploy/test.sh: passed in $(( $(date +%s) - started )) s"
