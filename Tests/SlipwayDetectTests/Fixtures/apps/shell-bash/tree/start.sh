#!/bin/bash
set -euo pipefail
echo "starting"
exec python3 -m http.server "${PORT:-8080}"
