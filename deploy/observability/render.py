#!/usr/bin/env python3
"""Renders the Grafana dashboard's panels from a live Prometheus into one HTML page (and a PNG),
for where Grafana does not run: each panel's queries over the last --minutes, as line charts
with their legends, in the dashboard's grid.

    render.py PROMETHEUS_URL OUT.html [--png OUT.png] [--minutes 10] [--rate-interval 1m]

The PNG is taken with chromium (headless), when it is installed.
"""
import argparse
import html
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

COLORS = ["#2f6fdf", "#e0602a", "#2a9d5c", "#b83280", "#8a6d1d", "#5a5a5a", "#0f8b8d", "#c92a2a"]


def query_range(base, expr, start, end, step):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=20) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def legend(fmt, labels):
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)


def human(value, unit):
    if unit == "s":
        if value >= 60:
            return f"{value / 60:.1f} min"
        if value >= 1:
            return f"{value:.2f} s"
        return f"{value * 1000:.0f} ms"
    if abs(value - round(value)) < 1e-9:
        return f"{int(round(value))}"
    return f"{value:.3g}"


def chart(series, start, end, unit, width=560, height=170):
    pad_l, pad_b, pad_t = 64, 18, 8
    values = [v for s in series for _, v in s["points"]]
    if not values:
        return f'<svg width="{width}" height="{height}"><text x="{width // 2}" y="{height // 2}" text-anchor="middle" fill="#999">no data</text></svg>'
    top = max(values) * 1.1 or 1.0
    x = lambda t: pad_l + (t - start) / max(end - start, 1) * (width - pad_l - 8)
    y = lambda v: pad_t + (1 - v / top) * (height - pad_t - pad_b)
    out = [f'<svg width="{width}" height="{height}" font-size="11" font-family="sans-serif">']
    for frac in (0, 0.5, 1):
        v = top * frac
        out.append(f'<line x1="{pad_l}" x2="{width - 8}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{pad_l - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#666">{html.escape(human(v, unit))}</text>')
    out.append(f'<text x="{pad_l}" y="{height - 4}" fill="#666">−{(end - start) / 60:.0f} min</text>')
    out.append(f'<text x="{width - 8}" y="{height - 4}" text-anchor="end" fill="#666">now</text>')
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s["points"])
        if len(s["points"]) == 1:
            t, v = s["points"][0]
            out.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
        else:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
    out.append("</svg>")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prometheus")
    ap.add_argument("out")
    ap.add_argument("--png")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate-interval", default="1m")
    ap.add_argument("--dashboard", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana-dashboard.json"))
    args = ap.parse_args()
    dashboard = json.load(open(args.dashboard))
    end = time.time()
    start = end - args.minutes * 60
    step = max(1, int(args.minutes * 60 / 240))
    cells, summary = [], []
    for panel in sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        series = []
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", args.rate_interval).replace("$service", ".*")
            for result in query_range(args.prometheus, expr, start, end, step):
                points = [(float(t), float(v)) for t, v in result["values"] if v not in ("NaN", "+Inf", "-Inf")]
                if points:
                    series.append({"name": legend(target.get("legendFormat"), result["metric"]), "points": points})
        items = "".join(
            f'<span><i style="background:{COLORS[i % len(COLORS)]}"></i>{html.escape(s["name"])}: '
            f'{html.escape(human(s["points"][-1][1], unit))}</span>' for i, s in enumerate(series))
        cells.append(f'<div class="panel" style="grid-column: span {2 if panel["gridPos"]["w"] >= 24 else 1}"><h2>{html.escape(panel["title"])}</h2>'
                     f'{chart(series, start, end, unit)}<div class="legend">{items}</div></div>')
        summary.append({"panel": panel["title"], "series": [{"name": s["name"], "last": s["points"][-1][1],
                                                              "max": max(v for _, v in s["points"])} for s in series]})
    page = f"""<!doctype html><meta charset="utf-8"><title>{html.escape(dashboard.get("title", "Slipway"))}</title>
<style>body{{font-family:sans-serif;margin:16px;background:#fafafa}} h1{{font-size:18px}}
.grid{{display:grid;grid-template-columns:600px 600px;gap:12px}}
.panel{{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px}} h2{{font-size:13px;margin:0 0 6px}}
.legend{{font-size:11px;color:#333}} .legend span{{margin-right:10px;display:inline-block}}
.legend i{{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}}</style>
<h1>{html.escape(dashboard.get("title", "Slipway"))} — the last {args.minutes:.1f} minutes, from {html.escape(args.prometheus)}</h1>
<div class="grid">{"".join(cells)}</div>"""
    with open(args.out, "w") as f:
        f.write(page)
    if args.png and os.path.exists("/usr/bin/chromium"):
        subprocess.run(["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={os.path.abspath(args.png)}", "--window-size=1250,1900",
                        "file://" + os.path.abspath(args.out)], check=True, capture_output=True, timeout=60)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
