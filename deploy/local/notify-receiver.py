#!/usr/bin/env python3
"""Local receivers of Slipway's notifications, for the end-to-end tests.

    notify-receiver.py [--port 0] [--port-file FILE] [--secret KEY] [--fail-first N] [--exit-with-parent]

- POST /slack/...   a Slack incoming webhook: the body must be a Block Kit message as Slack's
                    documentation limits it (text or blocks; header plain_text <= 150 chars; section
                    text <= 3000, fields <= 10 of <= 2000; actions <= 25 buttons, text <= 75, url <= 3000).
                    Answers 200 `ok`, or 400 `invalid_blocks` as Slack does.
- POST /hook        a generic webhook: checks `X-Slipway-Signature: sha256=HMAC(body, --secret)`, and
                    that `X-Slipway-Delivery` is the body's `delivery`. The first --fail-first requests
                    are answered 503 (to make Slipway retry). A bad signature is answered 401.
- GET /_receiver/requests   every request seen, in order: path, status answered, headers, body, problems.
- GET /_receiver/health
"""
import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK_TYPES = {"header", "section", "actions", "context", "divider", "image", "rich_text"}


def slack_problems(message):
    problems = []
    if not isinstance(message, dict):
        return ["the body is not a JSON object"]
    text, blocks = message.get("text"), message.get("blocks")
    if not text and not blocks:
        problems.append("neither text nor blocks")
    if text is not None and not isinstance(text, str):
        problems.append("text is not a string")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or len(blocks) > 50:
        return problems + ["blocks is not a list of at most 50"]
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            problems.append("block %d has type %r" % (i, kind))
            continue
        if kind == "header":
            t = block.get("text") or {}
            if t.get("type") != "plain_text" or not isinstance(t.get("text"), str) or not 0 < len(t["text"]) <= 150:
                problems.append("block %d: a header's text is plain_text of 1-150 characters" % i)
        if kind == "section":
            t, fields = block.get("text"), block.get("fields")
            if t is None and fields is None:
                problems.append("block %d: a section needs text or fields" % i)
            if t is not None and (t.get("type") not in ("plain_text", "mrkdwn") or not 0 < len(t.get("text", "")) <= 3000):
                problems.append("block %d: section text is 1-3000 characters" % i)
            if fields is not None and (not isinstance(fields, list) or len(fields) > 10
                                       or any(not 0 < len(f.get("text", "")) <= 2000 for f in fields)):
                problems.append("block %d: at most 10 fields of 1-2000 characters" % i)
        if kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                problems.append("block %d: actions hold 1-25 elements" % i)
                continue
            for e in elements:
                if e.get("type") == "button":
                    t = e.get("text") or {}
                    if t.get("type") != "plain_text" or not 0 < len(t.get("text", "")) <= 75:
                        problems.append("block %d: a button's text is plain_text of 1-75 characters" % i)
                    if "url" in e and not (isinstance(e["url"], str) and len(e["url"]) <= 3000):
                        problems.append("block %d: a button's url is at most 3000 characters" % i)
    return problems


class Receiver:
    def __init__(self, secret, fail_first):
        self.secret = secret
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.requests = []


def make_handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body, kind="text/plain"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_receiver/health":
                return self.answer(200, "ok")
            if self.path == "/_receiver/requests":
                with receiver.lock:
                    return self.answer(200, json.dumps(receiver.requests), "application/json")
            return self.answer(404, "not found")

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            record = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                      "at": time.time(), "problems": []}
            try:
                body = json.loads(raw)
                record["body"] = body
            except ValueError:
                body = None
                record["problems"].append("the body is not JSON")
            if self.path.startswith("/slack/"):
                record["problems"] += slack_problems(body)
                status, text = (400, "invalid_blocks") if record["problems"] else (200, "ok")
            elif self.path == "/hook":
                expected = "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
                record["signature_valid"] = hmac.compare_digest(expected, self.headers.get("X-Slipway-Signature", ""))
                delivery = self.headers.get("X-Slipway-Delivery")
                if not delivery or not isinstance(body, dict) or body.get("delivery") != delivery:
                    record["problems"].append("X-Slipway-Delivery is missing or is not the body's delivery")
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                if failing:
                    status, text = 503, "try again later"
                elif not record["signature_valid"]:
                    status, text = 401, "bad signature"
                else:
                    status, text = 200, "ok"
            else:
                status, text = 404, "no_service"
            record["status"] = status
            with receiver.lock:
                receiver.requests.append(record)
            self.answer(status, text)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--secret", default="")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Receiver(args.secret, args.fail_first)))
    port = server.server_address[1]
    if args.port_file:
        # Written whole, then renamed: a reader never sees half a port.
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("http://%s:%d" % (args.host, port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
