#!/usr/bin/env bash
# Checks deploy/production without running anything: the systemd unit verifies (with the
# built binary standing in for /usr/local/bin/slipway when there is one), the ECS files are
# JSON, and rootfs.sh parses. The image itself and the ECS files on moto are tested end to
# end (ContainerImageTests, ProductionManifestTests). deploy/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")"
bash -n rootfs.sh
for f in ecs/*.json; do python3 -m json.tool "$f" > /dev/null; done
if command -v systemd-analyze > /dev/null; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    binary=${SLIPWAY_BIN:-$(cd ../.. && pwd)/.build/debug/slipway}
    [ -x "$binary" ] || binary=/bin/true
    sed "s#/usr/local/bin/slipway#$binary#" systemd/slipway.service > "$tmp/slipway.service"
    systemd-analyze verify "$tmp/slipway.service"
    echo "systemd unit verified"
else
    echo "systemd-analyze not installed: the unit is not verified" >&2
fi
echo "deploy/production: ok"
