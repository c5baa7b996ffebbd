#!/usr/bin/env python3
"""Signed GitHub push webhooks for deploy/bench/webhooks, and the policy folders it serves.

  webhook_payloads.py policies DIR shop|mono [--services N]
      shop: a handful of services on https://github.com/acme/shop.git; one (`checkout`) tracks
            branch `bench`, the rest track main and friends.
      mono: N services svc-0001… on https://github.com/acme/mono.git, main, each with
            source.paths ["services/svc-NNNN/**"].
  webhook_payloads.py requests DIR --count N --threads T --secret S --host H --tag TAG
      T files DIR/thread-<1..T>.req for webhooks.lua, each a sequence of `<length>\\n<raw HTTP request>`
      records: pushes to refs/heads/bench of acme/shop, ~8 KB each, every one with its own `after`
      SHA and delivery id (TAG keeps them apart between runs), except that every 10th record of a
      thread is an exact copy (same body, delivery id and signature) of one of that thread's earlier
      unique records: whatever prefix of a file is sent, 10% of it (rounded down) are duplicates.
  webhook_payloads.py probe URL --secret S
      sends one push and then the same delivery again; checks 202, one deployment, then duplicate.
  webhook_payloads.py fanout DIR --count K --services N --secret S
      K pushes to acme/mono main whose first commit modifies services/svc-NNNN/app.py of every
      service: DIR/fanout-<k>.json (body) and DIR/fanout-<k>.headers (for curl -H @file).
Prints one JSON line about what it wrote.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import sys
import time
import urllib.parse
import uuid

API = "https://api.github.com"


def user(login, uid, kind="User"):
    base = f"{API}/users/{login}"
    return {
        "login": login, "id": uid, "node_id": "MDQ6VXNlcj" + str(uid * 7919)[:8],
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
        "url": base, "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers", "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}", "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions", "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events", "type": kind, "user_view_type": "public",
        "site_admin": False,
    }


def repository(owner, name, rid, pushed_at):
    full = f"{owner}/{name}"
    base = f"{API}/repos/{full}"
    o = user(owner, 1_204_117, "Organization")
    o.update({"name": owner, "email": None})
    return {
        "id": rid, "node_id": "R_kgDOH" + hashlib.sha1(full.encode()).hexdigest()[:8], "name": name,
        "full_name": full, "private": True, "owner": o, "html_url": f"https://github.com/{full}",
        "description": f"{name}: storefront, checkout and the services behind them", "fork": False,
        "url": f"https://github.com/{full}", "forks_url": f"{base}/forks",
        "keys_url": f"{base}/keys{{/key_id}}", "collaborators_url": f"{base}/collaborators{{/collaborator}}",
        "teams_url": f"{base}/teams", "hooks_url": f"{base}/hooks",
        "issue_events_url": f"{base}/issues/events{{/number}}", "events_url": f"{base}/events",
        "assignees_url": f"{base}/assignees{{/user}}", "branches_url": f"{base}/branches{{/branch}}",
        "tags_url": f"{base}/tags", "blobs_url": f"{base}/git/blobs{{/sha}}",
        "git_tags_url": f"{base}/git/tags{{/sha}}", "git_refs_url": f"{base}/git/refs{{/sha}}",
        "trees_url": f"{base}/git/trees{{/sha}}", "statuses_url": f"{base}/statuses/{{sha}}",
        "languages_url": f"{base}/languages", "stargazers_url": f"{base}/stargazers",
        "contributors_url": f"{base}/contributors", "subscribers_url": f"{base}/subscribers",
        "subscription_url": f"{base}/subscription", "commits_url": f"{base}/commits{{/sha}}",
        "git_commits_url": f"{base}/git/commits{{/sha}}", "comments_url": f"{base}/comments{{/number}}",
        "issue_comment_url": f"{base}/issues/comments{{/number}}", "contents_url": f"{base}/contents/{{+path}}",
        "compare_url": f"{base}/compare/{{base}}...{{head}}", "merges_url": f"{base}/merges",
        "archive_url": f"{base}/{{archive_format}}{{/ref}}", "downloads_url": f"{base}/downloads",
        "issues_url": f"{base}/issues{{/number}}", "pulls_url": f"{base}/pulls{{/number}}",
        "milestones_url": f"{base}/milestones{{/number}}",
        "notifications_url": f"{base}/notifications{{?since,all,participating}}",
        "labels_url": f"{base}/labels{{/name}}", "releases_url": f"{base}/releases{{/id}}",
        "deployments_url": f"{base}/deployments", "created_at": 1_651_507_331,
        "updated_at": "2026-11-20T09:12:44Z", "pushed_at": pushed_at,
        "git_url": f"git://github.com/{full}.git", "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"https://github.com/{full}.git", "svn_url": f"https://github.com/{full}",
        "homepage": None, "size": 48_213, "stargazers_count": 0, "watchers_count": 0, "language": "Python",
        "has_issues": True, "has_projects": False, "has_downloads": True, "has_wiki": False,
        "has_pages": False, "has_discussions": False, "forks_count": 0, "mirror_url": None,
        "archived": False, "disabled": False, "open_issues_count": 7, "license": None,
        "allow_forking": False, "is_template": False, "web_commit_signoff_required": False,
        "topics": [], "visibility": "private", "forks": 0, "open_issues": 7, "watchers": 0,
        "default_branch": "main", "stargazers": 0, "master_branch": "main", "organization": owner,
        "custom_properties": {},
    }


def organization(owner):
    base = f"{API}/orgs/{owner}"
    return {
        "login": owner, "id": 1_204_117, "node_id": "O_kgDOABJfVQ", "url": base,
        "repos_url": f"{base}/repos", "events_url": f"{base}/events", "hooks_url": f"{base}/hooks",
        "issues_url": f"{base}/issues", "members_url": f"{base}/members{{/member}}",
        "public_members_url": f"{base}/public_members{{/member}}",
        "avatar_url": "https://avatars.githubusercontent.com/u/1204117?v=4", "description": "Acme Inc.",
    }


PEOPLE = [("Dana Whitfield", "dana@acme.dev", "dwhitfield", 58_712_004),
          ("Rui Okafor", "rui.okafor@acme.dev", "ruiokafor", 61_023_991),
          ("Mira Lindqvist", "mira@acme.dev", "mlindqvist", 47_880_312)]
SUBJECTS = ["checkout: retry the payment capture once on a 502 from the gateway",
            "cart: keep the applied coupon when the session is refreshed",
            "api: paginate /orders with a cursor instead of offset",
            "deps: bump psycopg to 3.2.3 and gunicorn to 23.0.0",
            "checkout: log the idempotency key with every capture attempt",
            "web: lazy-load product images below the fold",
            "inventory: reserve stock in the same transaction as the order row",
            "ci: cache the pip wheel directory between jobs"]
BODIES = ["The gateway answers 502 during its own deploys; one retry with the same idempotency key\n"
          "is safe and avoids failing the order. Adds a metric for retried captures.",
          "Refs #1432. Covered by test_checkout_retry and test_session_refresh; no migration.",
          "Co-authored-by: Rui Okafor <rui.okafor@acme.dev>"]
FILES = ["services/checkout/app.py", "services/checkout/payments/gateway.py", "services/checkout/payments/retry.py",
         "services/checkout/tests/test_gateway.py", "services/checkout/requirements.txt",
         "services/checkout/Dockerfile", "services/cart/session.py", "services/cart/tests/test_session.py",
         "services/api/orders/views.py", "services/api/orders/pagination.py", "libs/acme-common/acme_common/logging.py",
         "libs/acme-common/acme_common/metrics.py", "docs/runbooks/checkout.md", ".github/workflows/ci.yml"]


def sha(*parts):
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def commit(rng, cid, full, when, modified=None):
    name, email, login, _ = rng.choice(PEOPLE)
    files = rng.sample(FILES, rng.randint(1, 4))
    if modified is None and not any(f.startswith("services/checkout/") for f in files):
        files.append("services/checkout/app.py")   # every push deploys `checkout`, whose paths are services/checkout/**
    cut = rng.randint(0, 1)
    who = {"name": name, "email": email, "username": login}
    return {
        "id": cid, "tree_id": sha("tree", cid), "distinct": True,
        "message": rng.choice(SUBJECTS) + "\n\n" + rng.choice(BODIES),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(when)),
        "url": f"https://github.com/{full}/commit/{cid}", "author": who, "committer": who,
        "added": files[:cut], "removed": [], "modified": modified if modified is not None else files[cut:],
    }


def push(rng, owner, name, branch, before, after, when, commits=3, modified=None):
    full = f"{owner}/{name}"
    ids = [sha("commit", after, i) for i in range(commits - 1)] + [after]
    cs = [commit(rng, cid, full, when - 60 * (commits - i), modified if i == 0 else None) for i, cid in enumerate(ids)]
    _, email, login, uid = rng.choice(PEOPLE)
    return {
        "ref": f"refs/heads/{branch}", "before": before, "after": after,
        "repository": repository(owner, name, 498_221_673 if name == "shop" else 512_004_118, when),
        "pusher": {"name": login, "email": email}, "organization": organization(owner),
        "sender": user(login, uid), "created": False, "deleted": False, "forced": False, "base_ref": None,
        "compare": f"https://github.com/{full}/compare/{before[:12]}...{after[:12]}",
        "commits": cs, "head_commit": cs[-1],
    }


def signed_headers(body, secret, delivery):
    return [
        ("User-Agent", "GitHub-Hookshot/5e3c1a7"), ("Accept", "*/*"), ("Content-Type", "application/json"),
        ("X-GitHub-Delivery", delivery), ("X-GitHub-Event", "push"), ("X-GitHub-Hook-ID", "448817612"),
        ("X-GitHub-Hook-Installation-Target-ID", "498221673"),
        ("X-GitHub-Hook-Installation-Target-Type", "repository"),
        ("X-Hub-Signature", "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()),
        ("X-Hub-Signature-256", "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()),
    ]


def encode(doc):
    return json.dumps(doc, separators=(",", ":")).encode()


def cmd_policies(a):
    os.makedirs(a.dir, exist_ok=True)
    if a.kind == "shop":
        services = [("storefront", "main", "services/storefront"), ("checkout", "bench", "services/checkout"),
                    ("cart", "main", "services/cart"), ("api", "main", "services/api"),
                    ("inventory", "release", "services/inventory")]
        docs = [f"""service: {s}
source:
  repo: https://github.com/acme/shop.git
  branch: {branch}
  paths: ["{ctx}/**", "libs/**"]
build:
  context: {ctx}
  timeout: 15m
image: registry.acme.internal/shop/{s}
deploy:
  target: docker
  count: 2
  env: {{ LOG_LEVEL: info, SERVICE_NAME: {s} }}
rollback:
  window: 60s
  crashes: 1
""" for s, branch, ctx in services]
        with open(os.path.join(a.dir, "shop.yaml"), "w") as f:
            f.write("---\n".join(docs))
        print(json.dumps({"policies": len(docs), "tracking_bench": ["checkout"]}))
    else:
        for i in range(1, a.services + 1):
            s = f"svc-{i:04d}"
            with open(os.path.join(a.dir, f"{s}.yaml"), "w") as f:
                f.write(f"""service: {s}
source:
  repo: https://github.com/acme/mono.git
  branch: main
  paths: ["services/{s}/**"]
build:
  context: services/{s}
image: registry.acme.internal/mono/{s}
deploy:
  target: docker
""")
        print(json.dumps({"policies": a.services}))


def write_thread(a, t, per):
    secret = a.secret.encode()
    rng = random.Random(f"{a.tag}/{t}")
    uniques, sizes, dups = [], [], 0
    before, when = sha(a.tag, t, "base"), 1_795_000_000
    with open(os.path.join(a.dir, f"thread-{t}.req"), "wb") as f:
        for i in range(per):
            if i % 10 == 9:
                # A redelivery: a byte-for-byte copy of one of the last 200 unique pushes of this thread.
                raw = uniques[rng.randrange(max(0, len(uniques) - 200), len(uniques))]
                dups += 1
            else:
                after = sha(a.tag, t, i)
                when += 7
                body = encode(push(rng, "acme", "shop", "bench", before, after, when, commits=rng.choice((1, 2, 2, 3))))
                before = after
                delivery = str(uuid.UUID(bytes=hashlib.md5(f"{a.tag}/{t}/{i}".encode()).digest(), version=4))
                head = ["POST /webhooks/github HTTP/1.1", f"Host: {a.host}",
                        *(f"{k}: {v}" for k, v in signed_headers(body, secret, delivery)),
                        f"Content-Length: {len(body)}"]
                raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
                uniques.append(raw)
                del uniques[:-200]
                sizes.append(len(body))
            f.write(b"%d\n" % len(raw))
            f.write(raw)
    return sizes, dups


def cmd_requests(a):
    os.makedirs(a.dir, exist_ok=True)
    per = -(-a.count // a.threads)
    with multiprocessing.Pool(min(a.threads, os.cpu_count() or 1)) as pool:
        parts = pool.starmap(write_thread, [(a, t, per) for t in range(1, a.threads + 1)])
    sizes = [n for part, _ in parts for n in part]
    print(json.dumps({"requests": per * a.threads, "duplicates": sum(d for _, d in parts), "threads": a.threads,
                      "body_bytes_mean": round(sum(sizes) / len(sizes)), "body_bytes_min": min(sizes),
                      "body_bytes_max": max(sizes)}))


def cmd_probe(a):
    u = urllib.parse.urlsplit(a.url)
    rng = random.Random("probe")
    after = sha("probe", time.time())
    body = encode(push(rng, "acme", "shop", "bench", sha("probe-before"), after, int(time.time())))
    headers = dict(signed_headers(body, a.secret.encode(), str(uuid.uuid4())))
    answers = []
    for _ in range(2):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("POST", u.path, body=body, headers=headers)
        r = c.getresponse()
        answers.append((r.status, json.loads(r.read() or b"{}")))
        c.close()
    (s1, r1), (s2, r2) = answers
    ok = (s1 == 202 and not r1.get("duplicate") and list(r1.get("deployments", {})) == ["checkout"]
          and s2 == 202 and r2.get("duplicate") is True)
    print(json.dumps({"ok": ok, "body_bytes": len(body), "first": [s1, r1], "again": [s2, r2]}))
    sys.exit(0 if ok else 1)


def cmd_fanout(a):
    os.makedirs(a.dir, exist_ok=True)
    secret = a.secret.encode()
    before, sizes = sha("mono", "base"), []
    touched = [f"services/svc-{i:04d}/app.py" for i in range(1, a.services + 1)]
    for k in range(1, a.count + 1):
        rng = random.Random(f"fanout/{k}")
        after = sha("mono", k, time.time())
        body = encode(push(rng, "acme", "mono", "main", before, after, 1_795_000_000 + 600 * k, commits=2,
                           modified=touched))
        before = after
        with open(os.path.join(a.dir, f"fanout-{k}.json"), "wb") as f:
            f.write(body)
        with open(os.path.join(a.dir, f"fanout-{k}.headers"), "w") as f:
            for name, value in signed_headers(body, secret, str(uuid.uuid4())):
                f.write(f"{name}: {value}\n")
        sizes.append(len(body))
    print(json.dumps({"pushes": a.count, "body_bytes": sizes}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("policies"); s.add_argument("dir"); s.add_argument("kind", choices=["shop", "mono"])
    s.add_argument("--services", type=int, default=1500)
    s = sub.add_parser("requests"); s.add_argument("dir"); s.add_argument("--count", type=int, required=True)
    s.add_argument("--threads", type=int, default=2); s.add_argument("--secret", required=True)
    s.add_argument("--host", required=True); s.add_argument("--tag", required=True)
    s = sub.add_parser("probe"); s.add_argument("url"); s.add_argument("--secret", required=True)
    s = sub.add_parser("fanout"); s.add_argument("dir"); s.add_argument("--count", type=int, default=5)
    s.add_argument("--services", type=int, default=1500); s.add_argument("--secret", required=True)
    a = p.parse_args()
    {"policies": cmd_policies, "requests": cmd_requests, "probe": cmd_probe, "fanout": cmd_fanout}[a.cmd](a)


if __name__ == "__main__":
    main()
