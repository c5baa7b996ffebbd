#!/usr/bin/env bash
# Checks the observability files with Prometheus's own tool: the alert rules parse and pass
# their unit tests, and every query of the Grafana dashboard parses (as a recording rule,
# with Grafana's variables filled in). deploy/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")"
promtool check rules alerts.yml
promtool test rules alerts.test.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - grafana-dashboard.json "$tmp/dashboard-rules.yml" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
assert exprs, "the dashboard has no queries"
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, expr in enumerate(exprs):
        expr = expr.replace("$__rate_interval", "5m").replace("$service", ".*")
        out.write(f"      - record: slipway_dashboard_query_{i}\n        expr: {json.dumps(expr)}\n")
print(f"{len(exprs)} dashboard queries", file=sys.stderr)
PY
promtool check rules "$tmp/dashboard-rules.yml"
