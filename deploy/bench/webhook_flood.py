#!/usr/bin/env python3
"""Many large webhook bodies at once against a running Slipway, to see what they cost it.

    webhook_flood.py URL [--requests 200] [--size-mb 25] [--signature unsigned|wrong] [--pid PID]

Each request opens its own connection, sends the headers of a GitHub push with a
Content-Length of SIZE, then streams the body in 64 KiB pieces until the server answers
(or closes). `unsigned` sends no X-Hub-Signature-256; `wrong` sends one that cannot match.
With --pid, the server's peak resident memory (VmHWM) is read from /proc before and after.
Prints one JSON object: statuses, bytes the server took, seconds, and the memory figures.
"""
import argparse
import asyncio
import collections
import json
import time
import urllib.parse


def vm(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def one(host, port, path, size, signature, sent_total):
    reader, writer = await asyncio.open_connection(host, port)
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            "X-GitHub-Event: push", "X-GitHub-Delivery: flood", f"Content-Length: {size}"]
    if signature == "wrong":
        head.append("X-Hub-Signature-256: sha256=" + "0" * 64)
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = b" " * 65536
    sent = 0
    status = None
    answer = asyncio.ensure_future(reader.readline())
    try:
        while sent < size and not answer.done():
            n = min(len(chunk), size - sent)
            writer.write(chunk[:n])
            try:
                await asyncio.wait_for(writer.drain(), timeout=30)
            except (ConnectionError, asyncio.TimeoutError):
                break
            sent += n
        line = await asyncio.wait_for(answer, timeout=60)
        parts = line.decode(errors="replace").split()
        status = int(parts[1]) if len(parts) > 1 else None
    except (ConnectionError, asyncio.TimeoutError, ValueError):
        status = status or "closed"
    finally:
        sent_total.append(sent)
        writer.close()
    return status


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--size-mb", type=int, default=25)
    p.add_argument("--signature", choices=["unsigned", "wrong"], default="unsigned")
    p.add_argument("--pid", type=int)
    a = p.parse_args()
    url = urllib.parse.urlparse(a.url)
    size = a.size_mb << 20
    before = vm(a.pid, "VmRSS") if a.pid else None
    sent = []
    started = time.monotonic()
    statuses = await asyncio.gather(*[one(url.hostname, url.port, url.path, size, a.signature, sent) for _ in range(a.requests)])
    elapsed = time.monotonic() - started
    result = {
        "requests": a.requests, "body_mb": a.size_mb, "signature": a.signature,
        "statuses": {str(k): v for k, v in collections.Counter(statuses).items()},
        "body_bytes_sent_mb": round(sum(sent) / 2**20, 1), "seconds": round(elapsed, 2),
    }
    if a.pid:
        result["rss_before_mb"] = round((before or 0) / 2**20, 1)
        result["rss_after_mb"] = round((vm(a.pid, "VmRSS") or 0) / 2**20, 1)
        result["peak_rss_mb"] = round((vm(a.pid, "VmHWM") or 0) / 2**20, 1)
    print(json.dumps(result))


asyncio.run(main())
