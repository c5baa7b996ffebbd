#!/usr/bin/env python3
"""Self-test of scm-standin.py: starts it on a free port and talks to it over HTTP.

    python3 -m unittest deploy/local/test_scm_standin.py      (or: python3 deploy/local/test_scm_standin.py)

Standard library plus `cryptography` (to sign GitHub App JWTs with a throwaway RSA key).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = Path(__file__).resolve().parent
TOKENS = {"github": "tok1", "gitlab": "tok2", "bitbucket": "user:pass", "bitbucket-server": "tok4"}
APP_ID = "4242"
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key, iss=APP_ID, iat=None, exp=None, alg="RS256"):
    now = int(time.time())
    iat = now - 30 if iat is None else iat
    exp = iat + 540 if exp is None else exp
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"iat": iat, "exp": exp, "iss": iss}).encode())
    signature = key.sign((header + "." + claims).encode(), padding.PKCS1v15(), hashes.SHA256())
    return header + "." + claims + "." + b64url(signature)


def basic(credentials):
    return "Basic " + base64.b64encode(credentials.encode()).decode()


class StandInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = Path(cls.tmp.name) / "app.pub.pem"
        public.write_bytes(cls.app_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        port_file = Path(cls.tmp.name) / "port"
        env = dict(os.environ, SLIPWAY_STANDIN_TOKENS=json.dumps(TOKENS), SLIPWAY_STANDIN_GITHUB_APP_ID=APP_ID,
                   SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE=str(public))
        cls.log = open(Path(cls.tmp.name) / "standin.log", "w")
        cls.proc = subprocess.Popen([sys.executable, str(HERE / "scm-standin.py"), "--port", "0", "--port-file", str(port_file)],
                                    env=env, stdout=subprocess.PIPE, stderr=cls.log, text=True)
        line = cls.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            cls.proc.kill()
            raise RuntimeError("the stand-in did not start: %r; see %s" % (line, cls.log.name))
        cls.url = line
        assert port_file.read_text().strip() == line.rsplit(":", 1)[1]

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)
        cls.proc.stdout.close()
        cls.log.close()
        cls.tmp.cleanup()

    def setUp(self):
        for what in ("requests", "state", "faults"):
            self.assertEqual(self.call("DELETE", "/_standin/" + what)[0], 204)
        self.call("POST", "/_standin/config", {"tokens": TOKENS, "installation_token_lifetime_seconds": 3600,
                                               "installation_token_expires_at": None})

    def tearDown(self):
        # No request may have tripped the stand-in itself.
        for entry in self.requests():
            self.assertFalse(any("stand-in error" in w for w in entry["warnings"]), entry)

    # -- plumbing ---------------------------------------------------------------------------
    def call(self, method, path, body=None, headers=None, raw=None, content_type="application/json"):
        """(status, parsed body or text, headers)"""
        data = raw
        hdrs = {"User-Agent": "slipway-standin-test"}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, text, rh = resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as e:
            status, text, rh = e.code, e.read().decode(), e.headers
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, parsed, rh

    def gh(self, method, path, body=None, token="tok1", **kw):
        return self.call(method, "/github" + path, body, {"Authorization": "Bearer " + token, **kw.pop("headers", {})}, **kw)

    def gl(self, method, path, body=None, token="tok2", **kw):
        return self.call(method, "/gitlab/api/v4" + path, body, {"PRIVATE-TOKEN": token, **kw.pop("headers", {})}, **kw)

    def bb(self, method, path, body=None, **kw):
        return self.call(method, "/bitbucket/2.0" + path, body, {"Authorization": basic("user:pass")}, **kw)

    def bbs(self, method, path, body=None, **kw):
        return self.call(method, "/bitbucket-server" + path, body, {"Authorization": "Bearer tok4"}, **kw)

    def requests(self, **filters):
        query = "&".join("%s=%s" % kv for kv in filters.items())
        return self.call("GET", "/_standin/requests" + ("?" + query if query else ""))[1]

    def last(self):
        return self.requests()[-1]

    # -- GitHub -----------------------------------------------------------------------------
    def test_github_status_accepted_and_listed_newest_first(self):
        status, body, headers = self.gh("POST", "/repos/acme/shop/statuses/" + SHA,
                                        {"state": "pending", "context": "slipway/web", "description": "Slipway: building",
                                         "target_url": "https://slipway.example/d/1"})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["state"], body["context"], body["description"]), ("pending", "slipway/web", "Slipway: building"))
        self.assertTrue(headers["Location"].endswith("/repos/acme/shop/statuses/" + SHA))
        self.assertIn("creator", body)   # the rest of the documented example
        first = body["id"]
        status, body, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success", "context": "slipway/web"})
        self.assertEqual(status, 201)
        status, listed, _ = self.gh("GET", "/repos/acme/shop/commits/%s/statuses" % SHA)
        self.assertEqual(status, 200)
        self.assertEqual([s["id"] for s in listed], [body["id"], first])
        self.assertEqual([s["state"] for s in listed], ["success", "pending"])
        entry = self.requests(operation="repos/create-commit-status")[0]
        self.assertTrue(entry["valid"])
        self.assertEqual(entry["status"], 201)
        self.assertEqual(entry["headers"]["Authorization"],
                         "<redacted:%s>" % hashlib.sha256(b"Bearer tok1").hexdigest()[:12])
        self.assertNotIn("tok1", json.dumps(self.requests()))

    def test_github_bad_state_enum_rejected(self):
        status, body, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "cancelled", "context": "c"})
        self.assertEqual(status, 422)
        self.assertEqual(body["message"], "Validation Failed")
        self.assertEqual(body["errors"][0]["field"], "state")
        entry = self.last()
        self.assertFalse(entry["valid"])
        self.assertTrue(any("state" in p and "cancelled" in p for p in entry["problems"]), entry["problems"])
        self.assertEqual(self.call("GET", "/_standin/state")[1]["statuses"], [])

    def test_github_missing_required_field_and_types(self):
        status, body, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"context": "c", "description": "d"})
        self.assertEqual(status, 422)
        self.assertEqual(body["errors"][0]["code"], "missing_field")
        self.assertIn("state is required", self.last()["problems"])
        status, _, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success", "description": 5})
        self.assertEqual(status, 422)
        self.assertTrue(any("description" in p for p in self.last()["problems"]))
        # nullable: null is fine for description
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success", "description": None})[0], 201)
        # unknown field: a warning only
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success", "colour": "red"})[0], 201)
        self.assertTrue(self.last()["valid"])
        self.assertIn("colour", " ".join(self.last()["warnings"]))

    def test_github_body_must_be_json(self):
        status, _, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, raw=b"state=success",
                               content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 422)
        self.assertTrue(any("Content-Type" in p for p in self.last()["problems"]))
        status, body, _ = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, raw=b"{not json")
        self.assertEqual((status, body["message"]), (400, "Problems parsing JSON"))

    def test_github_unknown_route_and_path_types(self):
        status, _, _ = self.gh("POST", "/repos/acme/shop/statuses")
        self.assertEqual(status, 404)
        entry = self.last()
        self.assertEqual((entry["operation"], entry["valid"]), (None, False))
        status, _, _ = self.gh("PATCH", "/repos/acme/shop/issues/comments/abc", {"body": "x"})
        self.assertEqual(status, 404)
        self.assertEqual(self.last()["operation"], "issues/update-comment")
        self.assertTrue(any("comment_id" in p for p in self.last()["problems"]))
        status, _, _ = self.gh("PUT", "/repos/acme/shop/issues/1/comments", {"body": "x"})
        self.assertEqual(status, 404)

    def test_github_auth(self):
        status, body, _ = self.gh("GET", "/repos/acme/shop/commits/%s/statuses" % SHA, token="wrong")
        self.assertEqual((status, body["message"]), (401, "Bad credentials"))
        self.assertFalse(self.last()["valid"])
        status, _, _ = self.call("GET", "/github/repos/acme/shop/commits/%s/statuses" % SHA)
        self.assertEqual(status, 401)
        status, _, _ = self.call("GET", "/github/repos/acme/shop/commits/%s/statuses" % SHA, headers={"Authorization": "token tok1"})
        self.assertEqual(status, 200)

    def test_github_comments_create_list_page_edit(self):
        ids = []
        for text in ("one", "two", "three"):
            status, body, _ = self.gh("POST", "/repos/acme/shop/issues/7/comments", {"body": text})
            self.assertEqual(status, 201, body)
            self.assertEqual(body["body"], text)
            self.assertIn("/repos/acme/shop/issues/comments/%d" % body["id"], body["url"])
            ids.append(body["id"])
        self.assertEqual(len(set(ids)), 3)
        status, listed, headers = self.gh("GET", "/repos/acme/shop/issues/7/comments?per_page=2&page=1")
        self.assertEqual(status, 200)
        self.assertEqual([c["body"] for c in listed], ["one", "two"])
        self.assertIn('rel="next"', headers["Link"])
        status, listed, _ = self.gh("GET", "/repos/acme/shop/issues/7/comments?per_page=2&page=2")
        self.assertEqual([c["body"] for c in listed], ["three"])
        status, listed, _ = self.gh("GET", "/repos/acme/shop/issues/8/comments")
        self.assertEqual(listed, [])
        status, body, _ = self.gh("PATCH", "/repos/acme/shop/issues/comments/%d" % ids[1], {"body": "two, edited"})
        self.assertEqual((status, body["body"], body["id"]), (200, "two, edited", ids[1]))
        status, listed, _ = self.gh("GET", "/repos/acme/shop/issues/7/comments")
        self.assertEqual([c["body"] for c in listed], ["one", "two, edited", "three"])
        self.assertEqual(self.gh("PATCH", "/repos/acme/shop/issues/comments/99999", {"body": "x"})[0], 404)
        status, _, _ = self.gh("GET", "/repos/acme/shop/issues/7/comments?per_page=lots")
        self.assertEqual(status, 422)

    def test_github_checks_and_deployments(self):
        status, run, _ = self.gh("POST", "/repos/acme/shop/check-runs", {"name": "slipway", "head_sha": SHA, "status": "in_progress"})
        self.assertEqual((status, run["status"]), (201, "in_progress"))
        # completed without conclusion: the oneOf in the contract refuses it
        status, _, _ = self.gh("POST", "/repos/acme/shop/check-runs", {"name": "slipway", "head_sha": SHA, "status": "completed"})
        self.assertEqual(status, 422)
        status, run2, _ = self.gh("PATCH", "/repos/acme/shop/check-runs/%d" % run["id"],
                                  {"conclusion": "success", "output": {"title": "t", "summary": "s"}})
        self.assertEqual((status, run2["status"], run2["conclusion"]), (200, "completed", "success"))
        # A pending status on the sha blocks a deployment unless required_contexts says otherwise.
        self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "pending", "context": "slipway/web"})
        status, body, _ = self.gh("POST", "/repos/acme/shop/deployments", {"ref": SHA, "environment": "production"})
        self.assertEqual(status, 409, body)
        status, dep, _ = self.gh("POST", "/repos/acme/shop/deployments", {"ref": SHA, "required_contexts": [], "auto_merge": False})
        self.assertEqual((status, dep["sha"]), (201, SHA))
        status, ds, _ = self.gh("POST", "/repos/acme/shop/deployments/%d/statuses" % dep["id"],
                                {"state": "success", "log_url": "https://slipway.example/d/1"})
        self.assertEqual((status, ds["state"]), (201, "success"))
        self.assertEqual(self.gh("POST", "/repos/acme/shop/deployments/%d/statuses" % dep["id"], {"state": "done"})[0], 422)
        # "The maximum description length is 140 characters." (the contract's prose)
        status, body, _ = self.gh("POST", "/repos/acme/shop/deployments/%d/statuses" % dep["id"], {"state": "success", "description": "x" * 141})
        self.assertEqual(status, 422)
        self.assertIn("140", body["errors"][0]["message"])
        # a commit status description over 140: not in the subset, so only a warning
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success", "description": "x" * 141})[0], 201)
        self.assertIn("140", " ".join(self.last()["warnings"]))

    def test_github_pulls(self):
        status, pr, _ = self.gh("GET", "/repos/acme/shop/pulls/12")
        self.assertEqual((status, pr["number"]), (200, 12))
        status, prs, _ = self.gh("GET", "/repos/acme/shop/pulls?state=open")
        self.assertEqual(status, 200)
        self.assertTrue(prs)
        self.assertEqual(self.gh("GET", "/repos/acme/shop/pulls?state=merged")[0], 422)

    # -- GitHub App -------------------------------------------------------------------------
    def test_github_app_jwt_and_installation_token(self):
        jwt = make_jwt(self.app_key)
        status, inst, _ = self.gh("GET", "/repos/acme/shop/installation", token=jwt)
        self.assertEqual(status, 200, inst)
        self.assertEqual(self.last()["operation"], "apps/get-repo-installation")
        status, tok, _ = self.gh("POST", "/app/installations/%d/access_tokens" % inst["id"], token=jwt)
        self.assertEqual(status, 201, tok)
        self.assertTrue(tok["token"].startswith("ghs_"))
        self.assertIn("expires_at", tok)
        self.assertIn("permissions", tok)
        self.assertEqual(self.last()["operation"], "apps/create-installation-access-token")
        # the installation token works as a GitHub token; the JWT does not
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success"}, token=tok["token"])[0], 201)
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success"}, token=jwt)[0], 401)
        # the configured token is no JWT
        self.assertEqual(self.gh("GET", "/repos/acme/shop/installation", token="tok1")[0], 401)
        self.assertEqual(self.call("GET", "/_standin/state")[1]["installation_tokens_issued"], 1)

    def test_github_app_jwt_refusals(self):
        cases = {
            "wrong key": make_jwt(self.other_key),
            "expired": make_jwt(self.app_key, iat=int(time.time()) - 1200, exp=int(time.time()) - 600),
            "exp too far": make_jwt(self.app_key, exp=int(time.time()) + 1200),
            "iat in the future": make_jwt(self.app_key, iat=int(time.time()) + 300, exp=int(time.time()) + 600),
            "wrong issuer": make_jwt(self.app_key, iss="1"),
            "not a jwt": "abc.def",
        }
        for name, jwt in cases.items():
            with self.subTest(name):
                status, body, _ = self.gh("POST", "/app/installations/1/access_tokens", token=jwt)
                self.assertEqual(status, 401, body)
                self.assertFalse(self.last()["valid"])
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        self.assertEqual(self.gh("POST", "/app/installations/1/access_tokens", token=header + ".e30.c2ln")[0], 401)
        self.assertEqual(self.call("GET", "/_standin/state")[1]["installation_tokens_issued"], 0)

    def test_github_app_token_expiry_for_renewal(self):
        self.call("POST", "/_standin/config", {"installation_token_lifetime_seconds": 1})
        jwt = make_jwt(self.app_key)
        status, tok, _ = self.gh("POST", "/app/installations/1/access_tokens", {"permissions": {"statuses": "write"}}, token=jwt)
        self.assertEqual(status, 201, tok)
        self.assertEqual(tok["permissions"], {"statuses": "write"})
        self.assertEqual(self.gh("GET", "/repos/acme/shop/pulls/1", token=tok["token"])[0], 200)
        time.sleep(1.2)
        status, body, _ = self.gh("GET", "/repos/acme/shop/pulls/1", token=tok["token"])
        self.assertEqual((status, body["message"]), (401, "Bad credentials"))
        self.assertIn("expired", self.last()["problems"][0])
        self.call("POST", "/_standin/config", {"installation_token_lifetime_seconds": 3600})
        status, tok2, _ = self.gh("POST", "/app/installations/1/access_tokens", token=jwt)
        self.assertEqual(self.gh("GET", "/repos/acme/shop/pulls/1", token=tok2["token"])[0], 200)
        self.assertEqual(self.call("GET", "/_standin/state")[1]["installation_tokens_issued"], 2)
        # a bad request body to the token endpoint is a validation error
        self.assertEqual(self.gh("POST", "/app/installations/1/access_tokens", {"repository_ids": ["x"]}, token=jwt)[0], 422)
        self.assertEqual(self.gh("POST", "/app/installations/77/access_tokens", token=jwt)[0], 404)

    # -- GitLab -----------------------------------------------------------------------------
    def test_gitlab_status_json_form_and_query(self):
        status, body, _ = self.gl("POST", "/projects/acme%2Fshop/statuses/" + SHA,
                                  {"state": "running", "name": "slipway/web", "description": "Slipway: building", "coverage": 12.5})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["status"], body["name"], body["sha"]), ("running", "slipway/web", SHA))
        self.assertEqual(self.last()["path"], "/gitlab/api/v4/projects/acme%2Fshop/statuses/" + SHA)
        status, body, _ = self.gl("POST", "/projects/17/statuses/%s?state=success&context=slipway/web" % SHA)
        self.assertEqual((status, body["name"]), (201, "slipway/web"))
        status, body, _ = self.gl("POST", "/projects/17/statuses/" + SHA, raw=b"state=failed&name=other&coverage=abc",
                                  content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 400)
        self.assertTrue(any("coverage" in p for p in self.last()["problems"]))
        status, body, _ = self.gl("POST", "/projects/17/statuses/" + SHA, {"state": "done"})
        self.assertEqual(status, 400)
        self.assertTrue(any("state" in p for p in body["problems"]))
        status, body, _ = self.gl("POST", "/projects/17/statuses/" + SHA, {"state": "success", "description": "x" * 256})
        self.assertEqual(status, 400)
        self.assertTrue(any("255" in p for p in body["problems"]))

    def test_gitlab_same_state_cannot_transition(self):
        path = "/projects/acme%2Fshop/statuses/" + SHA
        self.assertEqual(self.gl("POST", path, {"state": "running", "name": "slipway"})[0], 201)
        status, body, _ = self.gl("POST", path, {"state": "running", "name": "slipway"})
        self.assertEqual(status, 400)
        self.assertTrue(body["message"].startswith("Cannot transition status via :run from :running"), body)
        self.assertTrue(self.last()["valid"])   # a valid request GitLab refuses
        # pending after running is refused too; success is fine, and then a new job starts
        self.assertIn("Cannot transition status", self.gl("POST", path, {"state": "pending", "name": "slipway"})[1]["message"])
        self.assertEqual(self.gl("POST", path, {"state": "success", "name": "slipway"})[0], 201)
        self.assertEqual(self.gl("POST", path, {"state": "pending", "name": "slipway"})[0], 201)
        status, body, _ = self.gl("POST", path, {"state": "pending", "name": "slipway"})
        self.assertEqual(status, 400)
        self.assertIn("Cannot transition status via :enqueue from :pending", body["message"])
        # another name is another job
        self.assertEqual(self.gl("POST", path, {"state": "pending", "name": "other"})[0], 201)

    def test_gitlab_notes_create_update(self):
        status, note, _ = self.gl("POST", "/projects/acme%2Fshop/merge_requests/4/notes", {"body": "Deployed to preview"})
        self.assertEqual((status, note["body"], note["noteable_iid"]), (201, "Deployed to preview", 4))
        status, note2, _ = self.gl("PUT", "/projects/acme%%2Fshop/merge_requests/4/notes/%d" % note["id"], {"body": "Updated"})
        self.assertEqual((status, note2["id"], note2["body"]), (200, note["id"], "Updated"))
        comments = self.call("GET", "/_standin/state")[1]["comments"]
        self.assertEqual([(c["provider"], c["pr"], c["body"]) for c in comments], [("gitlab", 4, "Updated")])
        self.assertEqual(self.gl("PUT", "/projects/acme%%2Fshop/merge_requests/5/notes/%d" % note["id"], {"body": "x"})[0], 404)
        self.assertEqual(self.gl("POST", "/projects/acme%2Fshop/merge_requests/4/notes", {"text": "x"})[0], 400)
        self.assertEqual(self.gl("POST", "/projects/acme%2Fshop/merge_requests/4/notes", raw=b"body=x",
                                 content_type="application/x-www-form-urlencoded")[0], 400)
        self.assertEqual(self.gl("POST", "/projects/acme%2Fshop/merge_requests/4/notes", {"body": "x"}, token="bad")[0], 401)
        status, mr, _ = self.gl("GET", "/projects/acme%2Fshop/merge_requests/4")
        self.assertEqual((status, mr["iid"]), (200, 4))
        self.assertEqual(self.gl("GET", "/projects/acme%2Fshop/merge_requests?state=opened&per_page=5")[0], 200)
        self.assertEqual(self.gl("GET", "/projects/acme%2Fshop/merge_requests?state=open")[0], 400)
        # the documented example of an update sends the body in the query string
        status, note3, _ = self.gl("PUT", "/projects/acme%%2Fshop/merge_requests/4/notes/%d?body=note" % note["id"])
        self.assertEqual((status, note3["body"]), (200, "note"))
        # a project path must be URL-encoded
        self.assertEqual(self.gl("POST", "/projects/acme/shop/merge_requests/4/notes", {"body": "x"})[0], 404)
        self.assertIsNone(self.last()["operation"])
        # Bearer works as well as PRIVATE-TOKEN
        self.assertEqual(self.call("GET", "/gitlab/api/v4/projects/1/merge_requests/4", headers={"Authorization": "Bearer tok2"})[0], 200)

    # -- Bitbucket Cloud --------------------------------------------------------------------
    def test_bitbucket_cloud_status(self):
        path = "/repositories/acme/shop/commit/%s/statuses/build" % SHA
        status, body, _ = self.bb("POST", path, {"key": "slipway-web", "state": "INPROGRESS"})
        self.assertEqual(status, 400)
        self.assertTrue(any("url" in p for p in body["problems"]), body)
        self.assertFalse(self.last()["valid"])
        status, body, _ = self.bb("POST", path, {"key": "slipway-web", "state": "INPROGRESS", "url": "https://slipway.example/d/1",
                                                 "name": "Slipway", "description": "building"})
        self.assertEqual((status, body["state"], body["key"], body["commit"]["hash"]), (201, "INPROGRESS", "slipway-web", SHA))
        status, body, _ = self.bb("POST", path, {"key": "slipway-web", "state": "SUCCESSFUL", "url": "https://slipway.example/d/1"})
        self.assertEqual(status, 201)
        status, listed, _ = self.bb("GET", "/repositories/acme/shop/commit/%s/statuses" % SHA)
        self.assertEqual(status, 200)
        self.assertEqual([(v["key"], v["state"]) for v in listed["values"]], [("slipway-web", "SUCCESSFUL")])
        self.assertEqual(self.bb("POST", path, {"key": "k", "state": "CANCELLED", "url": "u"})[0], 400)
        status, _, _ = self.call("POST", "/bitbucket/2.0" + path, {"key": "k", "state": "FAILED", "url": "u"},
                                 headers={"Authorization": basic("user:wrong")})
        self.assertEqual(status, 401)

    def test_bitbucket_cloud_comments(self):
        path = "/repositories/acme/shop/pullrequests/3/comments"
        status, body, _ = self.bb("POST", path, {"content": {"raw": "Deployed"}})
        self.assertEqual((status, body["content"]["raw"], body["pullrequest"]["id"]), (201, "Deployed", 3))
        status, body2, _ = self.bb("PUT", "%s/%d" % (path, body["id"]), {"content": {"raw": "Deployed again"}})
        self.assertEqual((status, body2["content"]["raw"], body2["id"]), (200, "Deployed again", body["id"]))
        self.assertEqual(self.bb("POST", path, {"content": "Deployed"})[0], 400)
        self.assertEqual(self.bb("POST", path, {"text": "Deployed"})[0], 400)
        self.assertEqual(self.bb("PUT", "%s/999" % path, {"content": {"raw": "x"}})[0], 404)
        # pull_request_id is undescribed for the update; it is typed as in the create operation
        self.assertEqual(self.bb("PUT", "/repositories/acme/shop/pullrequests/x/comments/%d" % body["id"], {"content": {"raw": "x"}})[0], 404)
        self.assertTrue(any("pull_request_id" in p for p in self.last()["problems"]))
        self.assertEqual(self.bb("POST", path, {"content": {"raw": "x", "markup": "markdown"}})[0], 201)
        self.assertIn("content.markup", " ".join(self.last()["warnings"]))

    # -- Bitbucket Server -------------------------------------------------------------------
    def test_bitbucket_server_build_status(self):
        status, body, _ = self.bbs("POST", "/rest/build-status/1.0/commits/" + SHA,
                                   {"state": "INPROGRESS", "key": "slipway-web", "url": "https://slipway.example/d/1",
                                    "name": "Slipway", "description": "building"})
        self.assertEqual((status, body), (204, None))
        self.assertEqual(self.bbs("POST", "/rest/build-status/1.0/commits/" + SHA, {"state": "STOPPED", "key": "k", "url": "u"})[0], 400)
        status, body, _ = self.bbs("POST", "/rest/build-status/1.0/commits/" + SHA, {"state": "FAILED", "key": "k" * 256, "url": "u"})
        self.assertEqual(status, 400)
        self.assertTrue(any("255" in p for p in body["problems"]))
        status, _, _ = self.bbs("POST", "/rest/api/latest/projects/PRJ/repos/shop/commits/%s/builds" % SHA,
                                {"key": "slipway-web", "state": "CANCELLED", "url": "https://slipway.example/d/1",
                                 "testResults": {"failed": 0, "successful": 3, "skipped": 0}})
        self.assertEqual(status, 204)
        self.assertEqual(self.bbs("POST", "/rest/api/latest/projects/PRJ/repos/shop/commits/%s/builds" % SHA,
                                  {"key": "k", "state": "SUCCESSFUL", "url": "u", "duration": "long"})[0], 400)
        statuses = self.call("GET", "/_standin/state")[1]["statuses"]
        self.assertEqual({(s["repo"], s["key"], s["state"]) for s in statuses},
                         {(None, "slipway-web", "INPROGRESS"), ("PRJ/shop", "slipway-web", "CANCELLED")})

    def test_bitbucket_server_comments_versioned(self):
        path = "/rest/api/1.0/projects/PRJ/repos/shop/pull-requests/9/comments"
        status, body, _ = self.bbs("POST", path, {"text": "Deployed"})
        self.assertEqual((status, body["text"], body["version"]), (201, "Deployed", 0))
        status, conflict, _ = self.bbs("PUT", "%s/%d" % (path, body["id"]), {"text": "Again", "version": 3})
        self.assertEqual(status, 409)
        self.assertIn("out-of-date", conflict["errors"][0]["message"])
        status, body2, _ = self.bbs("PUT", "%s/%d" % (path, body["id"]), {"text": "Again", "version": 0})
        self.assertEqual((status, body2["text"], body2["version"]), (200, "Again", 1))
        self.assertEqual(self.bbs("PUT", "%s/%d" % (path, body["id"]), {"text": "Third", "version": 1})[1]["version"], 2)
        self.assertEqual(self.bbs("PUT", "%s/%d" % (path, body["id"]), {"text": "No version"})[0], 400)
        self.assertEqual(self.bbs("POST", path, {"body": "x"})[0], 400)
        self.assertEqual(self.call("POST", "/bitbucket-server" + path, {"text": "x"})[0], 401)
        self.assertEqual(self.call("POST", "/bitbucket-server" + path, {"text": "x"}, headers={"Authorization": basic("a:b")})[0], 401)

    def test_chunked_body_and_operations_list(self):
        import http.client
        host, port = self.url[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        body = json.dumps({"state": "success", "context": "chunked"}).encode()
        conn.putrequest("POST", "/github/repos/acme/shop/statuses/" + SHA)
        for name, value in (("Authorization", "Bearer tok1"), ("Content-Type", "application/json"),
                            ("Transfer-Encoding", "chunked"), ("User-Agent", "t")):
            conn.putheader(name, value)
        conn.endheaders()
        for part in (body[:10], body[10:]):
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        data = resp.read()
        self.assertEqual(resp.status, 201, data)
        self.assertEqual(json.loads(data)["context"], "chunked")
        # keep-alive: a second request on the same connection
        conn.request("GET", "/github/repos/acme/shop/commits/%s/statuses" % SHA, headers={"Authorization": "Bearer tok1"})
        resp = conn.getresponse()
        self.assertEqual((resp.status, len(json.loads(resp.read()))), (200, 1))
        conn.close()
        ops = self.call("GET", "/_standin/operations")[1]
        self.assertEqual(len(ops), 26)
        first = self.requests()[0]["seq"]     # seq keeps counting across DELETE /_standin/requests
        self.assertEqual([e["seq"] for e in self.requests(after=first)], [first + 1])

    # -- faults -----------------------------------------------------------------------------
    def test_fault_500_twice_then_ok(self):
        status, fault, _ = self.call("POST", "/_standin/faults", {"provider": "github", "operation": "repos/create-commit-status",
                                                                 "status": 500, "count": 2, "retry_after": 3})
        self.assertEqual(status, 201, fault)
        for _ in range(2):
            status, body, headers = self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success"})
            self.assertEqual(status, 500)
            self.assertEqual(headers["Retry-After"], "3")
        self.assertEqual(self.gh("POST", "/repos/acme/shop/statuses/" + SHA, {"state": "success"})[0], 201)
        entries = self.requests()
        self.assertEqual([e["status"] for e in entries], [500, 500, 201])
        self.assertTrue(all(e["valid"] for e in entries))   # still validated and recorded
        self.assertEqual(len(self.call("GET", "/_standin/state")[1]["statuses"]), 1)   # a failed call changes nothing
        # another operation was never affected
        self.assertEqual(self.call("GET", "/_standin/faults")[1], [])

    def test_fault_kinds(self):
        self.call("POST", "/_standin/faults", {"provider": "github", "secondary": True, "retry_after": 60})
        status, body, headers = self.gh("GET", "/repos/acme/shop/pulls/1")
        self.assertEqual(status, 403)
        self.assertIn("You have exceeded a secondary rate limit", body["message"])
        self.assertEqual(headers["Retry-After"], "60")
        reset = int(time.time()) + 30
        self.call("POST", "/_standin/faults", {"provider": "github", "rate_limit_reset": reset})
        status, body, headers = self.gh("GET", "/repos/acme/shop/pulls/1")
        self.assertEqual((status, headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]), (403, "0", str(reset)))
        self.call("POST", "/_standin/faults", {"provider": "gitlab", "html": True})
        status, body, headers = self.gl("GET", "/projects/1/merge_requests/1")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("<html>", body)
        self.call("POST", "/_standin/faults", {"provider": "*", "status": 503, "seconds": 0.5})
        self.assertEqual(self.bb("GET", "/repositories/a/b/commit/%s/statuses" % SHA)[0], 503)
        self.assertEqual(self.bbs("POST", "/rest/build-status/1.0/commits/" + SHA, {"state": "FAILED", "key": "k", "url": "u"})[0], 503)
        time.sleep(0.6)
        self.assertEqual(self.bb("GET", "/repositories/a/b/commit/%s/statuses" % SHA)[0], 200)
        self.call("POST", "/_standin/faults", {"provider": "bitbucket-server", "delay_ms": 300})
        started = time.time()
        self.assertEqual(self.bbs("POST", "/rest/build-status/1.0/commits/" + SHA, {"state": "FAILED", "key": "k", "url": "u"})[0], 204)
        self.assertGreaterEqual(time.time() - started, 0.3)
        self.assertEqual(self.call("POST", "/_standin/faults", {"provider": "gitea", "status": 500})[0], 400)

    def test_runtime_config(self):
        self.call("POST", "/_standin/config", {"tokens": {"github": ["tok1", "second"]}})
        self.assertEqual(self.gh("GET", "/repos/a/b/pulls/1", token="second")[0], 200)
        self.call("POST", "/_standin/config", {"tokens": {"github": None}})
        self.assertEqual(self.gh("GET", "/repos/a/b/pulls/1", token="anything")[0], 200)
        self.assertEqual(self.call("GET", "/github/repos/a/b/pulls/1", headers={"Authorization": "Basic eDp5"})[0], 401)
        cfg = self.call("GET", "/_standin/config")[1]
        self.assertNotIn("tok2", json.dumps(cfg))


if __name__ == "__main__":
    unittest.main()
