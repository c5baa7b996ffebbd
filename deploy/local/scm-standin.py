#!/usr/bin/env python3
"""A local stand-in for the GitHub, GitLab, Bitbucket Cloud and Bitbucket Server REST APIs,
for Slipway's tests and benchmarks. Every request is checked against the official contracts in
shared/fixtures/scm (github/openapi-subset.json, gitlab/contract.json, bitbucket/contract.json)
and answered with the documented example responses, filled from the request and from state.

    scm-standin.py [--host 127.0.0.1] [--port 0] [--contracts DIR] [--port-file FILE] [--exit-with-parent]

prints `http://127.0.0.1:PORT` once listening. API base URLs:

    GitHub            http://127.0.0.1:PORT/github
    GitLab            http://127.0.0.1:PORT/gitlab/api/v4
    Bitbucket Cloud   http://127.0.0.1:PORT/bitbucket/2.0
    Bitbucket Server  http://127.0.0.1:PORT/bitbucket-server

Contracts: --contracts DIR, else $SLIPWAY_SCM_CONTRACTS, else ../../../shared/fixtures/scm from
this file. Credentials: $SLIPWAY_STANDIN_TOKENS ({"github": "...", "gitlab": "...",
"bitbucket": "user:pass", "bitbucket-server": "..."}; a value may also be a list); without one a
provider takes any credential of the right scheme. GitHub App: $SLIPWAY_STANDIN_GITHUB_APP_ID,
$SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE (a public key PEM; a private key PEM works too).

Control API (no auth), under /_standin:
    GET    /_standin/health        {"ok": true, ...}
    GET    /_standin/operations    every operation the stand-in knows
    GET    /_standin/requests      every request seen, in order (?provider=, ?operation=, ?valid=, ?after=SEQ)
    DELETE /_standin/requests      forget them
    GET    /_standin/state         statuses, comments, check runs, deployments, issued tokens
    DELETE /_standin/state         forget it all
    GET|POST|DELETE /_standin/faults   list / add / clear injected faults
    GET|POST /_standin/config      show (redacted) / change tokens, the app id, key, token lifetime
"""
import argparse
import base64
import copy
import datetime as dt
import hashlib
import html
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

PROVIDERS = ("github", "gitlab", "bitbucket", "bitbucket-server")
# Longest first: /bitbucket-server must not be taken for /bitbucket.
PREFIXES = (("/bitbucket-server", "bitbucket-server"), ("/bitbucket", "bitbucket"),
            ("/gitlab/api/v4", "gitlab"), ("/github", "github"))
REDACTED_HEADERS = {"authorization", "private-token", "job-token", "proxy-authorization", "cookie"}
GITHUB_DOCS = "https://docs.github.com/rest"
GITHUB_SECONDARY_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
GITHUB_PRIMARY_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-primary-rate-limits"
DEFAULT_APP_PERMISSIONS = {"checks": "write", "contents": "read", "deployments": "write", "issues": "write",
                           "metadata": "read", "pull_requests": "write", "statuses": "write"}


# ----------------------------------------------------------------------------------------------
# Small helpers

def now_utc():
    return dt.datetime.now(dt.timezone.utc)


def iso_github(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_gitlab(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def iso_bitbucket(t):
    return t.isoformat()   # 2018-07-01T20:27:45.726745+00:00


def epoch_ms(t):
    return int(t.timestamp() * 1000)


def parse_datetime(text):
    if not isinstance(text, str) or not re.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?", text):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def redact(value):
    return "<redacted:%s>" % hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def json_type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_type_ok(expected, value):
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "null":
        return value is None
    return True


def is_integer_text(text):
    return bool(re.fullmatch(r"-?\d+", text or ""))


def template_regex(template):
    """`/a/{b}/c/:d` → a regex with named groups; multi-segment names match slashes too."""
    pattern, names, pos = "", [], 0
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|:([A-Za-z_][A-Za-z0-9_]*)", template):
        pattern += re.escape(template[pos:m.start()])
        name = m.group(1) or m.group(2)
        names.append(name)
        pattern += "(?P<%s>%s)" % (name, "{MULTI:%s}" % name)
        pos = m.end()
    pattern += re.escape(template[pos:])
    return pattern, names


# ----------------------------------------------------------------------------------------------
# Operations, loaded from the contracts

class Operation:
    def __init__(self, provider, op_id, method, template, source):
        self.provider, self.id, self.method, self.template, self.source = provider, op_id, method, template, source
        self.path_params = {}      # name -> spec
        self.query_params = {}     # name -> spec
        self.body_fields = []      # contract-style field specs (GitLab, Bitbucket)
        self.body_schema = None    # OpenAPI schema (GitHub)
        self.body_required = False
        self.params_anywhere = False  # GitLab: parameters may come as JSON, form body or query string
        self.auth = "token"        # or "jwt" (GitHub App endpoints)
        self.multi_segment = set()
        self.examples = {}
        self.regex = None

    def compile(self):
        pattern, names = template_regex(self.template)
        for name in names:
            part = ".+" if name in self.multi_segment else "[^/]+"
            pattern = pattern.replace("{MULTI:%s}" % name, part)
            self.path_params.setdefault(name, {"name": name, "types": ["string"], "required": True, "declared": False})
        self.regex = re.compile("^" + pattern + "$")

    def describe(self):
        def types(spec):
            return "|".join(spec.get("types", []))
        out = {"provider": self.provider, "operation": self.id, "method": self.method, "path": self.template,
               "source": self.source, "auth": self.auth,
               "path_params": {n: types(s) + (" (as in %s)" % s["inferred"] if s.get("inferred") else "")
                               for n, s in self.path_params.items()},
               "query_params": sorted(self.query_params)}
        if self.body_fields:
            out["body_fields"] = {f["name"]: ("required " if f["required"] else "") + types(f) for f in self.body_fields}
            out["params_from_query_or_form"] = self.params_anywhere
        if self.body_schema is not None:
            out["body_schema"] = "OpenAPI requestBody" if self.source.endswith(".json") else "from the GitHub docs"
        return out


def normalise_contract_type(text):
    """Contract type words → (types, sub-fields). See the README notes on types."""
    text = (text or "").strip()
    sub = None
    m = re.match(r"^object\s*\{(.*)\}$", text)
    if m:
        names, _, inner = m.group(1).partition(":")
        inner_types, _ = normalise_contract_type(inner.strip() or "any")
        sub = {n.strip(): inner_types for n in names.split(",") if n.strip()}
        return ["object"], sub
    types = []
    for word in text.split("|"):
        word = word.strip()
        base = word.split(" ", 1)[0]
        if word.startswith("string (ISO 8601)") or base == "datetime":
            types.append("datetime")
        elif base in ("float", "number"):
            types.append("number")
        elif base in ("integer", "string", "boolean", "object", "integer[]", "string[]"):
            types.append(base)
        elif base in ("None", "Any"):
            types.append("literal:" + base)
        else:
            types.append("any")
    return types or ["any"], sub


def contract_field(param):
    types, sub = normalise_contract_type(param.get("type"))
    spec = {"name": param["name"], "types": types, "required": bool(param.get("required")),
            "enum": param.get("enum"), "aliases": param.get("aliases", []), "sub": sub,
            "default": param.get("default")}
    max_length = param.get("maxLength")
    if max_length is None:
        m = re.search(r"max(?:imum)?\s+([\d,]+)\s+char", param.get("description", ""), re.I)
        if m:
            max_length = int(m.group(1).replace(",", ""))
    spec["maxLength"] = max_length
    return spec


class Contracts:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.operations = []
        self.github_doc = json.loads((self.dir / "github" / "openapi-subset.json").read_text())
        self.load_github()
        self.load_github_app()
        self.load_contract("gitlab", self.dir / "gitlab" / "contract.json")
        self.load_contract("bitbucket", self.dir / "bitbucket" / "contract.json")
        for op in self.operations:
            op.compile()
        # A path parameter an operation does not describe (cloud.pr-comment.update lists only
        # comment_id) takes its type from another operation of the provider that does.
        for op in self.operations:
            for name, spec in op.path_params.items():
                if spec.get("inferred") is None and spec.get("declared") is False:
                    for other in self.operations:
                        theirs = other.path_params.get(name)
                        if other.provider == op.provider and other is not op and theirs and theirs.get("declared", True):
                            op.path_params[name] = dict(theirs, inferred=other.id)
                            break

    # -- GitHub (OpenAPI 3) -----------------------------------------------------------------
    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("external $ref %s" % ref)
            target = self.github_doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, seen = target, seen + 1
            if seen > 50:
                raise ValueError("$ref loop at %s" % ref)
        return node

    def load_github(self):
        for path, item in self.github_doc["paths"].items():
            shared = item.get("parameters", [])
            for method, spec in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                op = Operation("github", spec["operationId"], method.upper(), path, "github/openapi-subset.json")
                for raw in shared + spec.get("parameters", []):
                    p = self.resolve(raw)
                    schema = self.resolve(p.get("schema", {}))
                    entry = {"name": p["name"], "schema": schema, "required": bool(p.get("required")),
                             "types": [schema.get("type", "string")]}
                    if p["in"] == "path":
                        op.path_params[p["name"]] = entry
                        if p.get("x-multi-segment"):
                            op.multi_segment.add(p["name"])
                    elif p["in"] == "query":
                        op.query_params[p["name"]] = entry
                body = self.resolve(spec.get("requestBody")) if spec.get("requestBody") else None
                if body:
                    op.body_required = bool(body.get("required"))
                    op.body_schema = self.resolve(body["content"]["application/json"]["schema"])
                for code, response in sorted(spec.get("responses", {}).items()):
                    response = self.resolve(response)
                    content = response.get("content", {}).get("application/json", {})
                    examples = {name: self.resolve(ex).get("value") for name, ex in content.get("examples", {}).items()}
                    op.examples[int(code)] = examples
                self.operations.append(op)

    def load_github_app(self):
        # Not in the subset: from GitHub's REST docs (apps/get-repo-installation,
        # apps/create-installation-access-token). Both authenticate with the app's JWT.
        op = Operation("github", "apps/get-repo-installation", "GET", "/repos/{owner}/{repo}/installation",
                       "docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app")
        op.auth = "jwt"
        self.operations.append(op)
        op = Operation("github", "apps/create-installation-access-token", "POST",
                       "/app/installations/{installation_id}/access_tokens",
                       "docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
        op.auth = "jwt"
        op.path_params["installation_id"] = {"name": "installation_id", "types": ["integer"], "required": True,
                                             "schema": {"type": "integer"}}
        op.body_required = False
        op.body_schema = {
            "type": "object",
            "properties": {
                "repositories": {"type": "array", "items": {"type": "string"}},
                "repository_ids": {"type": "array", "items": {"type": "integer"}},
                "permissions": {"type": "object", "additionalProperties": {"type": "string", "enum": ["read", "write", "admin"]}},
            },
        }
        self.operations.append(op)

    # -- GitLab / Bitbucket (hand-written contracts) ----------------------------------------
    def load_contract(self, provider, file):
        doc = json.loads(file.read_text())
        for spec in doc["operations"]:
            variant = spec.get("variant")
            actual = "bitbucket-server" if (provider == "bitbucket" and variant == "server") else provider
            op = Operation(actual, spec["id"], spec["method"], spec["path"], "%s/%s" % (file.parent.name, file.name))
            for param in spec.get("params", []):
                field = contract_field(param)
                where = param.get("in")
                if where == "path":
                    op.path_params[param["name"]] = field
                elif where == "query":
                    op.query_params[param["name"]] = field
                else:
                    op.body_fields.append(field)
            op.body_required = any(f["required"] for f in op.body_fields)
            example_request = spec.get("example_request") or {}
            if provider == "gitlab" and op.body_fields:
                # GitLab's API (Grape) reads parameters from the query string, a form body or a
                # JSON body alike; the documented examples send them in the query string.
                op.params_anywhere = "?" in example_request.get("curl", "") or op.id == "commit-status.set"
            example = spec.get("example_response")
            if spec.get("example_response_file"):
                example = json.loads((file.parent / spec["example_response_file"]).read_text())
            op.examples["example"] = example
            self.operations.append(op)

    def example(self, provider, op_id, name=None):
        for op in self.operations:
            if op.provider == provider and op.id == op_id:
                if "example" in op.examples:
                    return copy.deepcopy(op.examples["example"])
                for code in sorted(k for k in op.examples if isinstance(k, int)):
                    if 200 <= code < 300 and op.examples[code]:
                        examples = op.examples[code]
                        value = examples.get(name) if name else None
                        if value is None:
                            value = examples.get("default") or next(iter(examples.values()))
                        return copy.deepcopy(value)
        raise KeyError("%s %s has no example" % (provider, op_id))


# ----------------------------------------------------------------------------------------------
# Validation

class Problems:
    def __init__(self):
        self.errors = []     # (field, code, message)
        self.warnings = []

    def error(self, field, code, message):
        self.errors.append((field, code, message))

    def warn(self, message):
        self.warnings.append(message)

    def texts(self):
        return [m for _, _, m in self.errors]


def validate_schema(contracts, schema, value, path, probs, warn_unknown=True):
    schema = contracts.resolve(schema)
    label = path or "body"
    if value is None:
        if schema.get("nullable") or schema.get("type") in (None, "null"):
            return
        probs.error(path, "invalid", "%s must be %s, not null" % (label, schema.get("type")))
        return
    expected = schema.get("type")
    if expected and not json_type_ok(expected, value):
        probs.error(path, "invalid", "%s must be %s, not %s" % (label, "an " + expected if expected[0] in "aeiou" else "a " + expected, json_type_name(value)))
        return
    if "enum" in schema and value not in schema["enum"]:
        probs.error(path, "invalid", "%s must be one of %s, not %s" % (label, ", ".join(map(str, schema["enum"])), json.dumps(value)))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            probs.error(path, "invalid", "%s is longer than %d characters (%d)" % (label, schema["maxLength"], len(value)))
        else:
            # Limits the contract states in prose only ("The maximum description length is 140 characters.").
            m = re.search(r"maximum (?:\w+ )?(?:length|size) is (\d+) characters", schema.get("description", ""), re.I)
            if m and len(value) > int(m.group(1)):
                probs.error(path, "invalid", "%s is longer than %s characters (%d; the limit is in the contract's description text)" % (label, m.group(1), len(value)))
        if "minLength" in schema and len(value) < schema["minLength"]:
            probs.error(path, "invalid", "%s is shorter than %d characters" % (label, schema["minLength"]))
        if schema.get("format") == "date-time" and parse_datetime(value) is None:
            probs.error(path, "invalid", "%s is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ): %s" % (label, json.dumps(value)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            probs.error(path, "invalid", "%s is below %s" % (label, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            probs.error(path, "invalid", "%s is above %s" % (label, schema["maximum"]))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            probs.error(path, "invalid", "%s has %d items, more than %d" % (label, len(value), schema["maxItems"]))
        if "minItems" in schema and len(value) < schema["minItems"]:
            probs.error(path, "invalid", "%s has fewer than %d items" % (label, schema["minItems"]))
        if "items" in schema:
            for i, item in enumerate(value):
                validate_schema(contracts, schema["items"], item, "%s[%d]" % (path, i), probs, warn_unknown)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                field = "%s.%s" % (path, name) if path else name
                probs.error(field, "missing_field", "%s is required" % field)
        properties = schema.get("properties", {})
        for name, sub in properties.items():
            if name in value:
                validate_schema(contracts, sub, value[name], "%s.%s" % (path, name) if path else name, probs, warn_unknown)
        known = set(properties)
        for key in ("oneOf", "anyOf", "allOf"):
            for branch in schema.get(key, []):
                known |= set(contracts.resolve(branch).get("properties", {}))
        extra = [k for k in value if k not in known]
        additional = schema.get("additionalProperties", True)
        for name in extra:
            field = "%s.%s" % (path, name) if path else name
            if additional is False:
                probs.error(field, "invalid", "%s is not a permitted field" % field)
            elif isinstance(additional, dict):
                validate_schema(contracts, additional, value[name], field, probs, warn_unknown)
            elif warn_unknown and (properties or schema.get("oneOf") or schema.get("anyOf")):
                probs.warn("unknown field %s (not in the contract; ignored)" % field)
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if not branches:
            continue
        results = []
        for branch in branches:
            sub = Problems()
            validate_schema(contracts, branch, value, path, sub, warn_unknown=False)
            results.append(sub)
        passing = [r for r in results if not r.errors]
        if key == "oneOf" and len(passing) != 1:
            if not passing:
                detail = "; ".join("option %d: %s" % (i + 1, ", ".join(r.texts())) for i, r in enumerate(results))
                probs.error(path, "invalid", "%s matches none of the allowed shapes (oneOf) — %s" % (label, detail))
            else:
                probs.error(path, "invalid", "%s matches %d of the oneOf shapes; exactly one is allowed" % (label, len(passing)))
        if key == "anyOf" and not passing:
            detail = "; ".join("option %d: %s" % (i + 1, ", ".join(r.texts())) for i, r in enumerate(results))
            probs.error(path, "invalid", "%s matches none of the allowed shapes (anyOf) — %s" % (label, detail))
    for branch in schema.get("allOf", []):
        validate_schema(contracts, branch, value, path, probs, warn_unknown=False)


def coerce_text(types, text):
    """A query-string or form value against contract types: (ok, value)."""
    for t in types:
        if t in ("string", "any"):
            return True, text
        if t == "integer" and is_integer_text(text):
            return True, int(text)
        if t == "number":
            try:
                return True, float(text)
            except ValueError:
                pass
        if t == "boolean" and text.lower() in ("true", "false", "1", "0"):
            return True, text.lower() in ("true", "1")
        if t == "datetime" and parse_datetime(text):
            return True, text
        if t.startswith("literal:") and text == t[8:]:
            return True, text
    return False, text


def type_words(types):
    words = {"datetime": "an ISO 8601 time", "integer": "an integer", "object": "an object", "any": "anything",
             "integer[]": "a list of integers", "string[]": "a list of strings"}
    return " or ".join(words.get(t, '"%s"' % t[8:] if t.startswith("literal:") else "a " + t) for t in types)


def check_value(types, value, name, probs, sub=None, from_text=False):
    """A contract-style field value; returns the (coerced) value."""
    if from_text and isinstance(value, str):
        ok, coerced = coerce_text(types, value)
        if not ok:
            probs.error(name, "invalid", "%s must be %s, not %s" % (name, type_words(types), json.dumps(value)))
        return coerced
    if from_text and isinstance(value, list) and any(t.endswith("[]") for t in types):
        base = [t[:-2] for t in types if t.endswith("[]")]
        return [check_value(base, v, "%s[%d]" % (name, i), probs, from_text=True) for i, v in enumerate(value)]
    for t in types:
        if t == "any":
            return value
        if t == "datetime" and isinstance(value, str) and parse_datetime(value):
            return value
        if t.startswith("literal:") and value == t[8:]:
            return value
        if t.endswith("[]") and isinstance(value, list):
            sub_probs = Problems()
            for i, v in enumerate(value):
                check_value([t[:-2]], v, "%s[%d]" % (name, i), sub_probs)
            if not sub_probs.errors:
                return value
        if t in ("string", "integer", "number", "boolean", "object") and json_type_ok(t, value):
            if t == "object" and sub is not None:
                for key, val in value.items():
                    if key in sub:
                        check_value(sub[key], val, "%s.%s" % (name, key), probs)
                    else:
                        probs.warn("unknown field %s.%s (not in the contract; ignored)" % (name, key))
            return value
    probs.error(name, "invalid", "%s must be %s, not %s" % (name, type_words(types), json_type_name(value)))
    return value


def lookup(body, dotted):
    node = body
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def validate_fields(op, sources, probs):
    """Contract fields (GitLab, Bitbucket) against one or more parameter sources, each a pair
    (dict, from_text): from_text for query-string and form values (strings to coerce), not for
    JSON (typed). A later source wins over an earlier one. Returns the coerced values."""
    values = {}
    known = {}
    for field in op.body_fields:
        names = [field["name"]] + list(field["aliases"])
        for n in names:
            head, _, rest = n.partition(".")
            known.setdefault(head, set())
            if rest:
                known[head].add(rest)
        present = []
        for params, from_text in reversed(sources):
            for n in names:
                found, value = lookup(params, n)
                if found:
                    present.append((n, value, from_text))
        if not present:
            if field["required"]:
                head = field["name"].split(".")[0]
                clash = [p[head] for p, _ in sources if head in p and not isinstance(p[head], dict)]
                if "." in field["name"] and clash:
                    probs.error(head, "invalid", "%s must be an object, not %s" % (head, json_type_name(clash[0])))
                else:
                    probs.error(field["name"], "missing_field", "%s is required" % field["name"])
            continue
        name, value, from_text = present[0]
        if value is None:
            if field["required"]:
                probs.error(name, "missing_field", "%s is required (null given)" % name)
            else:
                values[field["name"]] = None
            continue
        value = check_value(field["types"], value, name, probs, field.get("sub"), from_text)
        if field.get("enum") is not None and value not in field["enum"]:
            probs.error(name, "invalid", "%s must be one of %s, not %s" % (name, ", ".join(field["enum"]), json.dumps(value)))
        if field.get("maxLength") is not None and isinstance(value, str) and len(value) > field["maxLength"]:
            probs.error(name, "invalid", "%s is longer than %d characters (%d)" % (name, field["maxLength"], len(value)))
        values[field["name"]] = value
    for params, _ in sources:
        for key, value in params.items():
            if key not in known:
                probs.warn("unknown field %s (not in the contract; ignored)" % key)
            elif known[key] and isinstance(value, dict):
                for sub in value:
                    if sub not in known[key]:
                        probs.warn("unknown field %s.%s (not in the contract; ignored)" % (key, sub))
    return values


# ----------------------------------------------------------------------------------------------
# The stand-in's state

class StandIn:
    def __init__(self, contracts):
        self.contracts = contracts
        self.lock = threading.RLock()
        self.tokens = {}
        self.app_id = None
        self.app_key = None
        self.app_key_source = None
        self.installation_id = 1
        self.token_lifetime = 3600
        self.token_expires_at = None      # fixed expiry for the next tokens (epoch), if set
        self.requests = []
        self.seq = 0
        self.faults = []
        self.fault_seq = 0
        self.reset_state()

    def reset_state(self):
        with self.lock:
            self.statuses = []
            self.comments = []
            self.check_runs = []
            self.deployments = []
            self.deployment_statuses = []
            self.installation_tokens = {}
            self.tokens_issued = 0
            self.ids = {}
            self.rate_used = 0
            self.rate_reset = int(time.time()) + 3600

    def next_id(self, kind):
        with self.lock:
            self.ids[kind] = self.ids.get(kind, 0) + 1
            return self.ids[kind]

    # -- configuration ----------------------------------------------------------------------
    def configure(self, cfg):
        """Apply a config dict; returns a list of problems (empty when all was taken)."""
        problems = []
        with self.lock:
            if "tokens" in cfg:
                tokens = cfg["tokens"]
                if not isinstance(tokens, dict):
                    problems.append("tokens must be an object")
                else:
                    for provider, value in tokens.items():
                        if provider not in PROVIDERS:
                            problems.append("unknown provider %s" % provider)
                        elif value is None or value == "" or value == []:
                            self.tokens.pop(provider, None)
                        elif isinstance(value, str):
                            self.tokens[provider] = [value]
                        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                            self.tokens[provider] = list(value)
                        else:
                            problems.append("tokens.%s must be a string or a list of strings" % provider)
            if "github_app_id" in cfg:
                self.app_id = None if cfg["github_app_id"] is None else str(cfg["github_app_id"])
            key_pem = None
            if cfg.get("github_app_public_key_file"):
                try:
                    key_pem = Path(cfg["github_app_public_key_file"]).read_bytes()
                    self.app_key_source = cfg["github_app_public_key_file"]
                except OSError as e:
                    problems.append("github_app_public_key_file: %s" % e)
            if cfg.get("github_app_public_key"):
                key_pem = cfg["github_app_public_key"].encode()
                self.app_key_source = "config"
            if key_pem is not None:
                try:
                    self.app_key = load_public_key(key_pem)
                except Exception as e:  # noqa: BLE001 - report whatever the PEM parser says
                    problems.append("github app key: %s" % e)
            if "github_app_public_key" in cfg and cfg["github_app_public_key"] is None:
                self.app_key, self.app_key_source = None, None
            if "installation_id" in cfg:
                if isinstance(cfg["installation_id"], int) and not isinstance(cfg["installation_id"], bool):
                    self.installation_id = cfg["installation_id"]
                else:
                    problems.append("installation_id must be an integer")
            if "installation_token_lifetime_seconds" in cfg:
                v = cfg["installation_token_lifetime_seconds"]
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.token_lifetime = v
                else:
                    problems.append("installation_token_lifetime_seconds must be a number")
            if "installation_token_expires_at" in cfg:
                v = cfg["installation_token_expires_at"]
                if v is None:
                    self.token_expires_at = None
                elif parse_datetime(v):
                    self.token_expires_at = parse_datetime(v).timestamp()
                else:
                    problems.append("installation_token_expires_at must be an ISO 8601 time or null")
            if cfg.get("expire_installation_tokens"):
                for info in self.installation_tokens.values():
                    info["expires_at"] = min(info["expires_at"], time.time() - 1)
        return problems

    def config_view(self):
        with self.lock:
            return {
                "tokens": {p: [redact(v) for v in vs] for p, vs in self.tokens.items()},
                "github_app_id": self.app_id,
                "github_app_public_key": self.app_key_source,
                "installation_id": self.installation_id,
                "installation_token_lifetime_seconds": self.token_lifetime,
                "installation_token_expires_at": iso_github(dt.datetime.fromtimestamp(self.token_expires_at, dt.timezone.utc)) if self.token_expires_at else None,
            }

    # -- faults -----------------------------------------------------------------------------
    def add_fault(self, spec):
        problems = []
        if not isinstance(spec, dict):
            return None, ["the fault must be a JSON object"]
        provider = spec.get("provider", "*")
        if provider != "*" and provider not in PROVIDERS:
            problems.append("provider must be one of %s or *" % ", ".join(PROVIDERS))
        status = spec.get("status")
        if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
            problems.append("status must be an HTTP status code")
        for key in ("count", "seconds", "retry_after", "rate_limit_reset", "delay_ms"):
            if key in spec and spec[key] is not None and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool) or spec[key] < 0):
                problems.append("%s must be a non-negative number" % key)
        known = {"provider", "operation", "status", "count", "seconds", "retry_after", "rate_limit_reset",
                 "secondary", "html", "delay_ms", "message"}
        problems += ["unknown fault field %s" % k for k in spec if k not in known]
        if problems:
            return None, problems
        with self.lock:
            self.fault_seq += 1
            fault = {
                "id": self.fault_seq, "provider": provider, "operation": spec.get("operation"),
                "status": status, "count": spec.get("count"),
                "until": time.time() + spec["seconds"] if spec.get("seconds") is not None else None,
                "retry_after": spec.get("retry_after"), "rate_limit_reset": spec.get("rate_limit_reset"),
                "secondary": bool(spec.get("secondary")), "html": bool(spec.get("html")),
                "delay_ms": spec.get("delay_ms"), "message": spec.get("message"), "hits": 0,
            }
            if fault["count"] is None and fault["until"] is None:
                fault["count"] = 1
            self.faults.append(fault)
            return fault, []

    def take_fault(self, provider, op_id):
        with self.lock:
            now = time.time()
            self.faults = [f for f in self.faults
                           if not ((f["count"] is not None and f["count"] <= 0) or (f["until"] is not None and f["until"] < now))]
            for f in self.faults:
                if f["provider"] not in ("*", provider):
                    continue
                if f["operation"] and f["operation"] != op_id:
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                f["hits"] += 1
                return dict(f)
        return None

    def faults_view(self):
        with self.lock:
            now = time.time()
            return [dict(f, until=iso_github(dt.datetime.fromtimestamp(f["until"], dt.timezone.utc)) if f["until"] else None)
                    for f in self.faults
                    if not ((f["count"] is not None and f["count"] <= 0) or (f["until"] is not None and f["until"] < now))]

    # -- requests log -----------------------------------------------------------------------
    def begin(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def requests_view(self, query):
        with self.lock:
            items = sorted(self.requests, key=lambda e: e["seq"])
        if query.get("provider"):
            items = [e for e in items if e["provider"] == query["provider"]]
        if query.get("operation"):
            items = [e for e in items if e["operation"] == query["operation"]]
        if is_integer_text(query.get("after")):
            items = [e for e in items if e["seq"] > int(query["after"])]
        if query.get("valid") in ("true", "false"):
            items = [e for e in items if e["valid"] == (query["valid"] == "true")]
        return items

    def state_view(self):
        with self.lock:
            return {
                "statuses": copy.deepcopy(self.statuses),
                "comments": copy.deepcopy(self.comments),
                "check_runs": copy.deepcopy(self.check_runs),
                "deployments": copy.deepcopy(self.deployments),
                "deployment_statuses": copy.deepcopy(self.deployment_statuses),
                "installation_tokens_issued": self.tokens_issued,
                "installation_tokens": [
                    {"token": redact("Bearer " + t), "installation_id": i["installation_id"],
                     "expires_at": iso_github(dt.datetime.fromtimestamp(i["expires_at"], dt.timezone.utc)),
                     "expired": i["expires_at"] <= time.time(), "uses": i["uses"]}
                    for t, i in self.installation_tokens.items()],
            }


def load_public_key(pem):
    from cryptography.hazmat.primitives import serialization
    from cryptography import x509
    if b"PRIVATE KEY" in pem:
        return serialization.load_pem_private_key(pem, password=None).public_key()
    if b"CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


# ----------------------------------------------------------------------------------------------
# Authentication

def parse_authorization(header):
    if not header:
        return None, None
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower(), value.strip()


def verify_github_jwt(standin, token):
    """(ok, message) for a GitHub App JWT; message as GitHub words it where it does."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    undecodable = "A JSON web token could not be decoded"
    parts = token.split(".")
    if len(parts) != 3:
        return False, undecodable + " (not three dot-separated parts)"
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except Exception:  # noqa: BLE001 - anything undecodable is the same answer
        return False, undecodable
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return False, undecodable
    if header.get("alg") != "RS256":
        return False, undecodable + " (alg must be RS256, not %s)" % json.dumps(header.get("alg"))
    with standin.lock:
        key, app_id = standin.app_key, standin.app_id
    if key is None:
        return False, "the stand-in has no GitHub App public key (SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE or POST /_standin/config)"
    try:
        key.verify(signature, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False, "'Signature' could not be verified with the app's public key"
    except Exception as e:  # noqa: BLE001
        return False, "%s (%s)" % (undecodable, e)
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        return False, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        return False, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
    if iat > now + 60:
        return False, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued (it is %ds in the future)" % int(iat - now)
    if exp <= now:
        return False, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires (expired %ds ago)" % int(now - exp)
    if exp - iat > 600:
        return False, "'Expiration time' claim ('exp') is too far in the future (exp - iat = %ds; at most 600)" % int(exp - iat)
    if app_id is not None and str(claims.get("iss")) != app_id:
        return False, "'Issuer' claim ('iss') must be the app id %s, not %s" % (app_id, json.dumps(claims.get("iss")))
    return True, None


def check_auth(standin, provider, op, headers):
    """None when authenticated, else a problem text."""
    auth = headers.get("Authorization")
    scheme, value = parse_authorization(auth)
    with standin.lock:
        expected = list(standin.tokens.get(provider, []))
    if provider == "github":
        if op is not None and op.auth == "jwt":
            if scheme != "bearer" or not value:
                return "this endpoint needs Authorization: Bearer <the app's JWT>"
            ok, message = verify_github_jwt(standin, value)
            return None if ok else message
        if scheme not in ("bearer", "token") or not value:
            return "missing credentials: GitHub needs Authorization: Bearer <token> or token <token>"
        with standin.lock:
            issued = standin.installation_tokens.get(value)
            if issued:
                if issued["expires_at"] <= time.time():
                    return "installation token expired at %s" % iso_github(dt.datetime.fromtimestamp(issued["expires_at"], dt.timezone.utc))
                issued["uses"] += 1
                return None
        if value.count(".") == 2 and value.startswith("eyJ"):
            return "a GitHub App JWT authenticates as the app only (app endpoints); use an installation token here"
        if expected and value not in expected:
            return "wrong token"
        return None
    if provider == "gitlab":
        token = headers.get("PRIVATE-TOKEN")
        if token is None:
            if scheme != "bearer" or not value:
                return "missing credentials: GitLab needs PRIVATE-TOKEN: <token> or Authorization: Bearer <token>"
            token = value
        if not token:
            return "empty PRIVATE-TOKEN"
        if expected and token not in expected:
            return "wrong token"
        return None
    # Bitbucket Cloud and Server: Basic or Bearer
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except Exception:  # noqa: BLE001
            return "Authorization: Basic is not valid base64 of user:password"
        if ":" not in decoded:
            return "Authorization: Basic must carry user:password"
        if expected and decoded not in expected:
            return "wrong user or password"
        return None
    if scheme == "bearer" and value:
        if expected and value not in expected:
            return "wrong token"
        return None
    return "missing credentials: Bitbucket needs Authorization: Basic <user:password> or Bearer <token>"


# ----------------------------------------------------------------------------------------------
# Error bodies in each provider's own shape

def error_body(provider, status, message, problems=None):
    problems = problems or []
    if provider == "github":
        body = {"message": message, "documentation_url": GITHUB_DOCS, "status": str(status)}
        if problems:
            body["problems"] = problems
        return body
    if provider == "gitlab":
        body = {"message": message}
        if problems:
            body["error"] = ", ".join(problems)
            body["problems"] = problems
        return body
    if provider == "bitbucket":
        body = {"type": "error", "error": {"message": message}}
        if problems:
            body["error"]["detail"] = "; ".join(problems)
            body["problems"] = problems
        return body
    if provider == "bitbucket-server":
        errors = [{"context": None, "message": p, "exceptionName": None} for p in problems] or \
                 [{"context": None, "message": message, "exceptionName": None}]
        body = {"errors": errors}
        if problems:
            body["problems"] = problems
        return body
    return {"message": message, "problems": problems}


AUTH_MESSAGES = {
    "github": "Bad credentials",
    "gitlab": "401 Unauthorized",
    "bitbucket": "Unauthorized",
    "bitbucket-server": "Authentication failed. Please check your credentials and try again.",
}
NOT_FOUND_MESSAGES = {"github": "Not Found", "gitlab": "404 Not Found", "bitbucket": "Resource not found",
                      "bitbucket-server": "Not Found"}
STATUS_WORDS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
                422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
                502: "Bad Gateway", 503: "Service Unavailable"}


# ----------------------------------------------------------------------------------------------
# Provider behaviour (requests already validated)

class Response:
    def __init__(self, status, body=None, headers=None, content_type="application/json; charset=utf-8", warning=None):
        self.status, self.body, self.headers, self.content_type = status, body, dict(headers or {}), content_type
        self.warning = warning


def paginate(items, query, base_url, path, default=30, maximum=100):
    def number(name, fallback):
        v = query.get(name)
        return int(v) if v is not None and is_integer_text(v) and int(v) > 0 else fallback
    per_page = min(number("per_page", default), maximum)
    page = number("page", 1)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    links = []

    def url(p):
        q = dict(query)
        q["page"], q["per_page"] = str(p), str(per_page)
        return "<%s%s?%s>" % (base_url, path, urlencode(q))
    if page < last:
        links.append(url(page + 1) + '; rel="next"')
        links.append(url(last) + '; rel="last"')
    if page > 1:
        links.append(url(1) + '; rel="first"')
        links.append(url(min(page - 1, last)) + '; rel="prev"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


def same_repo(a, b):
    return a.lower() == b.lower()


class Handlers:
    def __init__(self, standin):
        self.s = standin
        self.c = standin.contracts

    # -- GitHub -----------------------------------------------------------------------------
    def gh_status_json(self, st, base):
        out = self.c.example("github", "repos/create-commit-status")
        out.update({
            "url": "%s/repos/%s/statuses/%s" % (base, st["repo"], st["sha"]),
            "id": st["id"], "node_id": base64.b64encode(b"06:Status%d" % st["id"]).decode(),
            "state": st["state"], "description": st["description"], "target_url": st["target_url"],
            "context": st["key"], "created_at": st["created_at"], "updated_at": st["updated_at"],
        })
        return out

    def gh_comment_json(self, cm, base):
        out = self.c.example("github", "issues/create-comment")
        owner_repo = cm["repo"]
        out.update({
            "id": cm["id"], "node_id": base64.b64encode(b"012:IssueComment%d" % cm["id"]).decode(),
            "url": "%s/repos/%s/issues/comments/%d" % (base, owner_repo, cm["id"]),
            "html_url": "https://github.com/%s/pull/%s#issuecomment-%d" % (owner_repo, cm["pr"], cm["id"]),
            "body": cm["body"], "created_at": cm["created_at"], "updated_at": cm["updated_at"],
            "issue_url": "%s/repos/%s/issues/%s" % (base, owner_repo, cm["pr"]),
        })
        return out

    def github(self, op, ctx):
        p, body, q, base = ctx["path"], ctx["body"], ctx["query"], ctx["base"]
        repo = "%s/%s" % (p.get("owner"), p.get("repo")) if "owner" in p else None
        now = iso_github(now_utc())
        oid = op.id
        if oid == "repos/create-commit-status":
            if len(body.get("description") or "") > 140:
                ctx["warn"]("description is %d characters: api.github.com refuses more than 140 (\"description is too long (maximum is 140 characters)\"); the OpenAPI subset states no limit" % len(body["description"]))
            st = {"provider": "github", "repo": repo, "sha": p["sha"], "key": body.get("context") or "default",
                  "state": body["state"], "description": body.get("description"), "target_url": body.get("target_url"),
                  "id": self.s.next_id("github.status"), "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.statuses.append(st)
            out = self.gh_status_json(st, base)
            return Response(201, out, {"Location": out["url"]})
        if oid == "repos/list-commit-statuses-for-ref":
            with self.s.lock:
                items = [s for s in self.s.statuses if s["provider"] == "github" and same_repo(s["repo"], repo) and s["sha"] == p["ref"]]
            items.sort(key=lambda s: s["id"], reverse=True)
            chunk, headers = paginate(items, q, base, ctx["api_path"])
            return Response(200, [self.gh_status_json(s, base) for s in chunk], headers)
        if oid == "issues/create-comment":
            cm = {"provider": "github", "repo": repo, "pr": int(p["issue_number"]), "id": self.s.next_id("github.comment"),
                  "body": body["body"], "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.comments.append(cm)
            out = self.gh_comment_json(cm, base)
            return Response(201, out, {"Location": out["url"]})
        if oid == "issues/list-comments":
            since = parse_datetime(q["since"]) if q.get("since") else None
            with self.s.lock:
                items = [c for c in self.s.comments if c["provider"] == "github" and same_repo(c["repo"], repo)
                         and c["pr"] == int(p["issue_number"])]
            if since:
                items = [c for c in items if parse_datetime(c["updated_at"]) >= since]
            items.sort(key=lambda c: c["id"])
            chunk, headers = paginate(items, q, base, ctx["api_path"])
            return Response(200, [self.gh_comment_json(c, base) for c in chunk], headers)
        if oid == "issues/update-comment":
            with self.s.lock:
                found = [c for c in self.s.comments if c["provider"] == "github" and same_repo(c["repo"], repo)
                         and c["id"] == int(p["comment_id"])]
                if not found:
                    return Response(404, error_body("github", 404, "Not Found"), warning="no comment %s in %s" % (p["comment_id"], repo))
                found[0]["body"], found[0]["updated_at"] = body["body"], now
                out = self.gh_comment_json(found[0], base)
            return Response(200, out)
        if oid == "checks/create":
            completed = body.get("status") == "completed" or "conclusion" in body
            run = {"provider": "github", "repo": repo, "id": self.s.next_id("github.check_run"), "name": body["name"],
                   "head_sha": body["head_sha"], "status": "completed" if completed else body.get("status", "queued"),
                   "conclusion": body.get("conclusion"), "details_url": body.get("details_url"),
                   "external_id": body.get("external_id", ""), "started_at": body.get("started_at") or now,
                   "completed_at": body.get("completed_at") or (now if completed else None),
                   "output": body.get("output"), "actions": body.get("actions"), "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.check_runs.append(run)
            name = "example-of-completed-conclusion" if completed else "example-of-in-progress-conclusion"
            return Response(201, self.gh_check_json(run, base, self.c.example("github", oid, name)))
        if oid == "checks/update":
            with self.s.lock:
                found = [r for r in self.s.check_runs if same_repo(r["repo"], repo) and r["id"] == int(p["check_run_id"])]
                if not found:
                    return Response(404, error_body("github", 404, "Not Found"), warning="no check run %s in %s" % (p["check_run_id"], repo))
                run = found[0]
                for key in ("name", "details_url", "external_id", "started_at", "status", "conclusion", "completed_at", "output", "actions"):
                    if key in body:
                        run[key] = body[key]
                if "conclusion" in body:
                    run["status"] = "completed"
                    run["completed_at"] = run.get("completed_at") or now
                run["updated_at"] = now
                out = self.gh_check_json(run, base, self.c.example("github", oid))
            return Response(200, out)
        if oid == "repos/create-deployment":
            return self.gh_create_deployment(repo, body, base, now)
        if oid == "repos/create-deployment-status":
            with self.s.lock:
                found = [d for d in self.s.deployments if same_repo(d["repo"], repo) and d["id"] == int(p["deployment_id"])]
            if not found:
                return Response(404, error_body("github", 404, "Not Found"), warning="no deployment %s in %s" % (p["deployment_id"], repo))
            dep = found[0]
            log_url = body.get("log_url") or body.get("target_url") or ""
            ds = {"provider": "github", "repo": repo, "deployment_id": dep["id"], "id": self.s.next_id("github.deployment_status"),
                  "state": body["state"], "description": body.get("description", ""),
                  "environment": body.get("environment") or dep["environment"], "target_url": log_url, "log_url": log_url,
                  "environment_url": body.get("environment_url", ""), "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.deployment_statuses.append(ds)
            out = self.c.example("github", oid)
            url = "%s/repos/%s/deployments/%d/statuses/%d" % (base, repo, dep["id"], ds["id"])
            out.update({"url": url, "id": ds["id"], "state": ds["state"], "description": ds["description"],
                        "environment": ds["environment"], "target_url": ds["target_url"], "log_url": ds["log_url"],
                        "environment_url": ds["environment_url"], "created_at": now, "updated_at": now,
                        "deployment_url": "%s/repos/%s/deployments/%d" % (base, repo, dep["id"]),
                        "repository_url": "%s/repos/%s" % (base, repo)})
            return Response(201, out, {"Location": url})
        if oid == "pulls/get":
            out = self.c.example("github", oid)
            number = int(p["pull_number"])
            self.gh_fill_pull(out, repo, number, base)
            return Response(200, out)
        if oid == "pulls/list":
            items = self.c.example("github", oid)
            state = q.get("state", "open")
            items = [pr for pr in items if state == "all" or pr.get("state") == state]
            for pr in items:
                self.gh_fill_pull(pr, repo, pr.get("number"), base)
            chunk, headers = paginate(items, q, base, ctx["api_path"])
            return Response(200, chunk, headers)
        if oid == "apps/get-repo-installation":
            return Response(200, self.gh_installation(p["owner"], base))
        if oid == "apps/create-installation-access-token":
            return self.gh_access_token(int(p["installation_id"]), body or {}, base)
        return Response(501, error_body("github", 501, "operation %s has no behaviour in the stand-in" % oid))

    def gh_fill_pull(self, out, repo, number, base):
        owner = repo.split("/")[0]
        out["number"] = number
        out["url"] = "%s/repos/%s/pulls/%s" % (base, repo, number)
        out["html_url"] = "https://github.com/%s/pull/%s" % (repo, number)
        out["issue_url"] = "%s/repos/%s/issues/%s" % (base, repo, number)
        out["comments_url"] = "%s/repos/%s/issues/%s/comments" % (base, repo, number)
        for side in ("head", "base"):
            if isinstance(out.get(side), dict) and isinstance(out[side].get("repo"), dict):
                out[side]["repo"]["full_name"] = repo
                out[side]["repo"]["name"] = repo.split("/")[1]
                if isinstance(out[side]["repo"].get("owner"), dict):
                    out[side]["repo"]["owner"]["login"] = owner

    def gh_check_json(self, run, base, out):
        out.update({
            "id": run["id"], "head_sha": run["head_sha"], "name": run["name"], "status": run["status"],
            "conclusion": run["conclusion"], "started_at": run["started_at"], "completed_at": run["completed_at"],
            "external_id": run.get("external_id") or "", "details_url": run.get("details_url"),
            "node_id": base64.b64encode(b"08:CheckRun%d" % run["id"]).decode(),
            "url": "%s/repos/%s/check-runs/%d" % (base, run["repo"], run["id"]),
            "html_url": "https://github.com/%s/runs/%d" % (run["repo"], run["id"]),
        })
        output = run.get("output") or {}
        out["output"] = {"title": output.get("title"), "summary": output.get("summary"), "text": output.get("text"),
                         "annotations_count": len(output.get("annotations") or []),
                         "annotations_url": "%s/repos/%s/check-runs/%d/annotations" % (base, run["repo"], run["id"])}
        return out

    def gh_create_deployment(self, repo, body, base, now):
        ref = body["ref"]
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(("%s:%s" % (repo, ref)).encode()).hexdigest()
        # Commit status checks, as GitHub does them: every context seen on the ref (or the
        # ones named in required_contexts) must be success.
        with self.s.lock:
            latest = {}
            for st in sorted((s for s in self.s.statuses if s["provider"] == "github" and same_repo(s["repo"], repo) and s["sha"] in (ref, sha)),
                             key=lambda s: s["id"]):
                latest[st["key"]] = st["state"]
        required = body.get("required_contexts")
        contexts = sorted(latest) if required is None else required
        failing = [{"context": c, "state": latest.get(c, "missing")} for c in contexts if latest.get(c) != "success"]
        if failing:
            message = "Conflict: Commit status checks failed for %s." % ref
            err = error_body("github", 409, message)
            err["errors"] = [{"contexts": failing, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}]
            return Response(409, err, warning="deployment refused: status checks not successful: %s" % json.dumps(failing))
        payload = body.get("payload", {})
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload else {}
            except ValueError:
                pass
        environment = body.get("environment", "production")
        dep = {"provider": "github", "repo": repo, "id": self.s.next_id("github.deployment"), "ref": ref, "sha": sha,
               "task": body.get("task", "deploy"), "payload": payload, "environment": environment,
               "description": body.get("description", ""), "transient_environment": body.get("transient_environment", False),
               "production_environment": body.get("production_environment", environment == "production"),
               "created_at": now, "updated_at": now}
        with self.s.lock:
            self.s.deployments.append(dep)
        out = self.c.example("github", "repos/create-deployment", "simple-example")
        url = "%s/repos/%s/deployments/%d" % (base, repo, dep["id"])
        out.update({"url": url, "id": dep["id"], "node_id": base64.b64encode(b"010:Deployment%d" % dep["id"]).decode(),
                    "sha": sha, "ref": ref, "task": dep["task"], "payload": payload, "original_environment": environment,
                    "environment": environment, "description": dep["description"], "created_at": now, "updated_at": now,
                    "statuses_url": url + "/statuses", "repository_url": "%s/repos/%s" % (base, repo),
                    "transient_environment": dep["transient_environment"],
                    "production_environment": dep["production_environment"]})
        return Response(201, out)

    def gh_installation(self, owner, base):
        with self.s.lock:
            iid, app_id = self.s.installation_id, self.s.app_id
        now = iso_github(now_utc())
        return {
            "id": iid,
            "account": {"login": owner, "id": 1, "type": "Organization", "url": "%s/users/%s" % (base, owner),
                        "html_url": "https://github.com/%s" % owner},
            "repository_selection": "all",
            "access_tokens_url": "%s/app/installations/%d/access_tokens" % (base, iid),
            "repositories_url": "%s/installation/repositories" % base,
            "html_url": "https://github.com/organizations/%s/settings/installations/%d" % (owner, iid),
            "app_id": int(app_id) if app_id and app_id.isdigit() else app_id,
            "app_slug": "slipway",
            "target_id": 1, "target_type": "Organization",
            "permissions": dict(DEFAULT_APP_PERMISSIONS),
            "events": ["push", "pull_request"],
            "created_at": now, "updated_at": now,
            "single_file_name": None, "has_multiple_single_files": False, "single_file_paths": [],
            "suspended_by": None, "suspended_at": None,
        }

    def gh_access_token(self, installation_id, body, base):
        with self.s.lock:
            if installation_id != self.s.installation_id:
                return Response(404, error_body("github", 404, "Not Found"),
                                warning="no installation %d (the stand-in's installation is %d)" % (installation_id, self.s.installation_id))
            expires = self.s.token_expires_at or (time.time() + self.s.token_lifetime)
            token = "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "b")[:36]
            permissions = body.get("permissions") or dict(DEFAULT_APP_PERMISSIONS)
            self.s.installation_tokens[token] = {"installation_id": installation_id, "expires_at": expires, "uses": 0,
                                                 "permissions": permissions}
            self.s.tokens_issued += 1
        out = {"token": token, "expires_at": iso_github(dt.datetime.fromtimestamp(expires, dt.timezone.utc)),
               "permissions": permissions,
               "repository_selection": "selected" if body.get("repositories") or body.get("repository_ids") else "all"}
        if body.get("repositories"):
            out["repositories"] = [{"name": r, "full_name": r} for r in body["repositories"]]
        return Response(201, out)

    # -- GitLab -----------------------------------------------------------------------------
    def gitlab(self, op, ctx):
        p, params, base = ctx["path"], ctx["body"], ctx["base"]
        project = p.get("id")
        now_t = now_utc()
        now = iso_gitlab(now_t)
        web = base.rsplit("/api/v4", 1)[0]
        if op.id == "commit-status.set":
            return self.gl_commit_status(project, p["sha"], params, now)
        if op.id == "merge-request-note.create":
            note = {"provider": "gitlab", "repo": project, "pr": int(p["merge_request_iid"]),
                    "id": self.s.next_id("gitlab.note"), "body": params["body"], "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.comments.append(note)
            return Response(201, self.gl_note_json(note, project))
        if op.id == "merge-request-note.update":
            with self.s.lock:
                found = [c for c in self.s.comments if c["provider"] == "gitlab" and c["repo"] == project
                         and c["pr"] == int(p["merge_request_iid"]) and c["id"] == int(p["note_id"])]
                if not found:
                    return Response(404, {"message": "404 Not found"}, warning="no note %s on %s!%s" % (p["note_id"], project, p["merge_request_iid"]))
                found[0]["body"], found[0]["updated_at"] = params["body"], now
                out = self.gl_note_json(found[0], project)
            return Response(200, out)
        if op.id == "merge-request.get":
            out = self.c.example("gitlab", op.id)
            out["iid"] = int(p["merge_request_iid"])
            if is_integer_text(project):
                out["project_id"] = int(project)
            out["web_url"] = "%s/%s/-/merge_requests/%s" % (web, project, p["merge_request_iid"])
            return Response(200, out)
        if op.id == "merge-request.list":
            items = self.c.example("gitlab", op.id)
            state = ctx["query"].get("state")
            if state and state != "all":
                items = [mr for mr in items if mr.get("state") == state]
            chunk, headers = paginate(items, ctx["query"], base, ctx["api_path"], default=20)
            headers["X-Total"] = str(len(items))
            return Response(200, chunk, headers)
        return Response(501, error_body("gitlab", 501, "operation %s has no behaviour in the stand-in" % op.id))

    def gl_note_json(self, note, project):
        out = self.c.example("gitlab", "merge-request-note.create")
        out.update({"id": note["id"], "body": note["body"], "created_at": note["created_at"], "updated_at": note["updated_at"],
                    "noteable_iid": note["pr"], "noteable_id": note["pr"]})
        if is_integer_text(project):
            out["project_id"] = int(project)
        return out

    # GitLab's state machine for an external job (CommitStatus): the event each state asks for
    # and the states it may leave. A job that is no longer pending/running is never reused: a
    # new one is made (state "created"), as Ci::CreateCommitStatusService does.
    GL_EVENTS = {"pending": ("enqueue", {"created"}),
                 "running": ("run", {"created", "pending"}),
                 "success": ("success", {"created", "pending", "running"}),
                 "failed": ("drop", {"created", "pending", "running"}),
                 "canceled": ("cancel", {"created", "pending", "running"}),
                 "skipped": ("skip", {"created", "pending"})}

    def gl_commit_status(self, project, sha, params, now):
        state = params["state"]
        name = params.get("name") or "default"
        with self.s.lock:
            live = [s for s in self.s.statuses if s["provider"] == "gitlab" and s["repo"] == project and s["sha"] == sha
                    and s["key"] == name and s["state"] in ("pending", "running")]
            job = live[-1] if live else None
            current = job["state"] if job else "created"
            event, allowed = self.GL_EVENTS[state]
            if current not in allowed:
                message = 'Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via "%s")' % (event, current, event)
                return Response(400, {"message": message}, warning="GitLab refuses %s → %s" % (current, state))
            if job is None:
                job = {"provider": "gitlab", "repo": project, "sha": sha, "key": name, "id": self.s.next_id("gitlab.job"),
                       "created_at": now, "started_at": None, "finished_at": None}
                self.s.statuses.append(job)
            for key in ("ref", "target_url", "description", "coverage", "pipeline_id"):
                if params.get(key) is not None:
                    job[key] = params[key]
            job["state"] = state
            job["updated_at"] = now
            if state == "running":
                job["started_at"] = job["started_at"] or now
            if state in ("success", "failed", "canceled", "skipped"):
                job["finished_at"] = now
            out = self.c.example("gitlab", "commit-status.set")
            out.update({"id": job["id"], "name": name, "sha": sha, "status": state, "description": job.get("description"),
                        "target_url": job.get("target_url"), "ref": job.get("ref"), "coverage": job.get("coverage"),
                        "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"]})
        return Response(201, out)

    # -- Bitbucket Cloud --------------------------------------------------------------------
    def bitbucket(self, op, ctx):
        p, body, base = ctx["path"], ctx["body"], ctx["base"]
        repo = "%s/%s" % (p["workspace"], p["repo_slug"])
        now = iso_bitbucket(now_utc())
        if op.id == "cloud.build-status.create":
            with self.s.lock:
                found = [s for s in self.s.statuses if s["provider"] == "bitbucket" and s["repo"] == repo
                         and s["sha"] == p["commit"] and s["key"] == body["key"]]
                if found:
                    st = found[0]
                else:
                    st = {"provider": "bitbucket", "repo": repo, "sha": p["commit"], "key": body["key"], "created_at": now,
                          "id": self.s.next_id("bitbucket.status")}
                    self.s.statuses.append(st)
                st.update({"state": body["state"], "url": body["url"], "name": body.get("name"),
                           "description": body.get("description"), "refname": body.get("refname"), "updated_at": now})
                out = self.bb_status_json(st, base)
            return Response(201, out)
        if op.id == "cloud.build-status.list":
            with self.s.lock:
                items = [self.bb_status_json(s, base) for s in self.s.statuses
                         if s["provider"] == "bitbucket" and s["repo"] == repo and s["sha"] == p["commit"]]
            q = ctx["query"]
            pagelen = int(q["pagelen"]) if is_integer_text(q.get("pagelen")) and int(q["pagelen"]) > 0 else 10
            page = int(q["page"]) if is_integer_text(q.get("page")) and int(q["page"]) > 0 else 1
            chunk = items[(page - 1) * pagelen: page * pagelen]
            out = {"pagelen": pagelen, "values": chunk, "page": page, "size": len(items)}
            if page * pagelen < len(items):
                out["next"] = "%s%s?%s" % (base, ctx["api_path"], urlencode({"pagelen": pagelen, "page": page + 1}))
            return Response(200, out)
        if op.id == "cloud.pr-comment.create":
            cm = {"provider": "bitbucket", "repo": repo, "pr": int(p["pull_request_id"]), "id": self.s.next_id("bitbucket.comment"),
                  "body": body["content.raw"], "created_at": now, "updated_at": now}
            with self.s.lock:
                self.s.comments.append(cm)
            return Response(201, self.bb_comment_json(cm, base))
        if op.id == "cloud.pr-comment.update":
            with self.s.lock:
                found = [c for c in self.s.comments if c["provider"] == "bitbucket" and c["repo"] == repo
                         and c["pr"] == int(p["pull_request_id"]) and c["id"] == int(p["comment_id"])]
                if not found:
                    return Response(404, error_body("bitbucket", 404, "No such comment"), warning="no comment %s on %s#%s" % (p["comment_id"], repo, p["pull_request_id"]))
                found[0]["body"], found[0]["updated_at"] = body["content.raw"], now
                out = self.bb_comment_json(found[0], base)
            return Response(200, out)
        return Response(501, error_body("bitbucket", 501, "operation %s has no behaviour in the stand-in" % op.id))

    def bb_status_json(self, st, base):
        out = self.c.example("bitbucket", "cloud.build-status.create")
        repo_api = "%s/repositories/%s" % (base, st["repo"])
        commit_api = "%s/commit/%s" % (repo_api, st["sha"])
        out.update({"key": st["key"], "state": st["state"], "url": st["url"], "name": st.get("name"),
                    "description": st.get("description") or "", "refname": st.get("refname"),
                    "created_on": st["created_at"], "updated_on": st["updated_at"]})
        out["links"] = {"commit": {"href": commit_api}, "self": {"href": "%s/statuses/build/%s" % (commit_api, st["key"])}}
        out["commit"]["hash"] = st["sha"]
        out["commit"]["links"] = {"self": {"href": commit_api}, "html": {"href": "https://bitbucket.org/%s/commits/%s" % (st["repo"], st["sha"])}}
        out["repository"]["full_name"] = st["repo"]
        out["repository"]["name"] = st["repo"].split("/")[1]
        out["repository"]["links"]["self"]["href"] = repo_api
        out["repository"]["links"]["html"]["href"] = "https://bitbucket.org/%s" % st["repo"]
        return out

    def bb_comment_json(self, cm, base):
        out = self.c.example("bitbucket", "cloud.pr-comment.create")
        pr_api = "%s/repositories/%s/pullrequests/%d" % (base, cm["repo"], cm["pr"])
        out.update({"id": cm["id"], "created_on": cm["created_at"], "updated_on": cm["updated_at"]})
        out["content"] = {"type": "rendered", "raw": cm["body"], "markup": "markdown", "html": "<p>%s</p>" % html.escape(cm["body"])}
        out["links"] = {"self": {"href": "%s/comments/%d" % (pr_api, cm["id"])},
                        "html": {"href": "https://bitbucket.org/%s/pull-requests/%d/_/diff#comment-%d" % (cm["repo"], cm["pr"], cm["id"])}}
        out["pullrequest"]["id"] = cm["pr"]
        out["pullrequest"]["links"] = {"self": {"href": pr_api}, "html": {"href": "https://bitbucket.org/%s/pull-requests/%d" % (cm["repo"], cm["pr"])}}
        return out

    # -- Bitbucket Server -------------------------------------------------------------------
    def bitbucket_server(self, op, ctx):
        p, body = ctx["path"], ctx["body"]
        now_t = now_utc()
        if op.id in ("server.build-status.create.legacy", "server.builds.create"):
            repo = "%s/%s" % (p["projectKey"], p["repositorySlug"]) if "projectKey" in p else None
            with self.s.lock:
                found = [s for s in self.s.statuses if s["provider"] == "bitbucket-server" and s["repo"] == repo
                         and s["sha"] == p["commitId"] and s["key"] == body["key"]]
                if found:
                    st = found[0]
                else:
                    st = {"provider": "bitbucket-server", "repo": repo, "sha": p["commitId"], "key": body["key"],
                          "created_at": epoch_ms(now_t), "id": self.s.next_id("bitbucket-server.status"), "api": op.id}
                    self.s.statuses.append(st)
                for k, v in body.items():
                    if k != "key":
                        st[k] = v
                st["updated_at"] = epoch_ms(now_t)
            return Response(204)
        if op.id == "server.pr-comment.create":
            repo = "%s/%s" % (p["projectKey"], p["repositorySlug"])
            cm = {"provider": "bitbucket-server", "repo": repo, "pr": int(p["pullRequestId"]),
                  "id": self.s.next_id("bitbucket-server.comment"), "body": body["text"], "version": 0,
                  "created_at": epoch_ms(now_t), "updated_at": epoch_ms(now_t)}
            with self.s.lock:
                self.s.comments.append(cm)
            return Response(201, self.bbs_comment_json(cm))
        if op.id == "server.pr-comment.update":
            repo = "%s/%s" % (p["projectKey"], p["repositorySlug"])
            with self.s.lock:
                found = [c for c in self.s.comments if c["provider"] == "bitbucket-server" and c["repo"] == repo
                         and c["pr"] == int(p["pullRequestId"]) and c["id"] == int(p["commentId"])]
                if not found:
                    return Response(404, {"errors": [{"context": None, "message": "Comment %s does not exist." % p["commentId"],
                                                      "exceptionName": "com.atlassian.bitbucket.comment.NoSuchCommentException"}]},
                                    warning="no comment %s on %s#%s" % (p["commentId"], repo, p["pullRequestId"]))
                cm = found[0]
                if body["version"] != cm["version"]:
                    return Response(409, {"errors": [{
                        "context": None,
                        "message": "You are attempting to modify a comment based on out-of-date information.",
                        "exceptionName": "com.atlassian.bitbucket.comment.CommentOutOfDateException",
                        "currentVersion": cm["version"], "expectedVersion": body["version"]}]},
                        warning="comment version %s given, current is %s" % (body["version"], cm["version"]))
                cm["body"], cm["version"], cm["updated_at"] = body["text"], cm["version"] + 1, epoch_ms(now_t)
                out = self.bbs_comment_json(cm)
            return Response(200, out)
        return Response(501, error_body("bitbucket-server", 501, "operation %s has no behaviour in the stand-in" % op.id))

    def bbs_comment_json(self, cm):
        out = self.c.example("bitbucket-server", "server.pr-comment.create")
        out.update({"id": cm["id"], "version": cm["version"], "text": cm["body"], "createdDate": cm["created_at"],
                    "updatedDate": cm["updated_at"]})
        return out


# ----------------------------------------------------------------------------------------------
# HTTP

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, standin, verbose=False):
        super().__init__(address, Handler)
        self.standin = standin
        self.handlers = Handlers(standin)
        self.verbose = verbose


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "slipway-scm-standin/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    # -- plumbing ---------------------------------------------------------------------------
    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body=None, headers=None, content_type="application/json; charset=utf-8"):
        if body is None or status in (204, 304):
            data = b""
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, indent=None).encode()
        self.send_response(status, STATUS_WORDS.get(status))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if status not in (204, 304):
            if data or body is not None:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def base_url(self, prefix):
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return "http://%s%s" % (host, prefix)

    def recorded_headers(self):
        out = {}
        for name, value in self.headers.items():
            out[name] = redact(value) if name.lower() in REDACTED_HEADERS else value
        return out

    # -- control API ------------------------------------------------------------------------
    def control(self, path, query, raw):
        s = self.server.standin
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            return self.send(400, {"message": "body is not JSON: %s" % e})
        cmd = (self.command, path.rstrip("/"))
        if cmd == ("GET", "/_standin/health"):
            return self.send(200, {"ok": True, "contracts": str(s.contracts.dir), "operations": len(s.contracts.operations)})
        if cmd == ("GET", "/_standin/operations"):
            return self.send(200, [op.describe() for op in s.contracts.operations])
        if cmd == ("GET", "/_standin/requests"):
            return self.send(200, s.requests_view(query))
        if cmd == ("DELETE", "/_standin/requests"):
            with s.lock:
                s.requests = []
            return self.send(204)
        if cmd == ("GET", "/_standin/state"):
            return self.send(200, s.state_view())
        if cmd == ("DELETE", "/_standin/state"):
            s.reset_state()
            return self.send(204)
        if cmd == ("GET", "/_standin/faults"):
            return self.send(200, s.faults_view())
        if cmd == ("POST", "/_standin/faults"):
            specs = data if isinstance(data, list) else [data]
            added, problems = [], []
            for spec in specs:
                fault, errs = s.add_fault(spec)
                problems += errs
                if fault:
                    added.append(fault)
            if problems:
                return self.send(400, {"message": "invalid fault", "problems": problems})
            return self.send(201, added if isinstance(data, list) else added[0])
        if cmd == ("DELETE", "/_standin/faults"):
            with s.lock:
                s.faults = []
            return self.send(204)
        if cmd == ("GET", "/_standin/config"):
            return self.send(200, s.config_view())
        if cmd == ("POST", "/_standin/config"):
            if not isinstance(data, dict):
                return self.send(400, {"message": "config must be a JSON object"})
            problems = s.configure(data)
            if problems:
                return self.send(400, {"message": "invalid config", "problems": problems})
            return self.send(200, s.config_view())
        return self.send(404, {"message": "unknown control endpoint %s %s" % self.command_path(path)})

    def command_path(self, path):
        return self.command, path

    # -- the APIs ---------------------------------------------------------------------------
    def dispatch(self):
        s = self.server.standin
        started = now_utc()
        split = urlsplit(self.path)
        raw_path = split.path
        query_pairs = parse_qsl(split.query, keep_blank_values=True)
        query = {}
        for k, v in query_pairs:
            query[k] = v
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return self.send(400, {"message": "unreadable request body"})
        if raw_path == "/_standin" or raw_path.startswith("/_standin/"):
            return self.control(raw_path, query, raw.decode("utf-8", "replace"))

        seq = s.begin()
        provider, prefix, api_path = None, "", raw_path
        for pre, name in PREFIXES:
            if raw_path == pre or raw_path.startswith(pre + "/"):
                provider, prefix, api_path = name, pre, raw_path[len(pre):]
                break
        probs = Problems()
        text = raw.decode("utf-8", "replace")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        parsed_body = None
        json_error = None
        if raw:
            if content_type == "application/x-www-form-urlencoded":
                parsed_body = text
            else:
                try:
                    parsed_body = json.loads(text)
                except ValueError as e:
                    parsed_body, json_error = text, str(e)

        entry = {"seq": seq, "at": iso_gitlab(started), "provider": provider, "operation": None,
                 "method": self.command, "path": raw_path, "query": {},
                 "headers": self.recorded_headers(), "body": parsed_body, "valid": False,
                 "problems": [], "warnings": [], "status": None}
        for k, v in query_pairs:
            if k in entry["query"]:
                prior = entry["query"][k]
                entry["query"][k] = (prior if isinstance(prior, list) else [prior]) + [v]
            else:
                entry["query"][k] = v

        op, path_params, route_problem, alias_warning = self.route(provider, api_path)
        response = None
        if provider is None:
            route_problem = "no provider prefix (/github, /gitlab/api/v4, /bitbucket/2.0, /bitbucket-server)"
        if op is not None:
            entry["operation"] = op.id
        ctx = {"path": path_params, "query": query, "body": None, "warn": probs.warn, "base": self.base_url(prefix + ("/2.0" if provider == "bitbucket" else "")),
               "api_path": api_path if provider != "bitbucket" else api_path[len("/2.0"):]}
        if alias_warning:
            probs.warn(alias_warning)
        status_for_invalid = None
        if route_problem:
            probs.error(None, "not_found", route_problem)
            status_for_invalid = 404
        else:
            ctx["body"] = self.validate(op, path_params, query, query_pairs, raw, text, content_type, json_error, probs)
            if any(code == "path" for _, code, _ in probs.errors):
                status_for_invalid = 404
            elif any(code == "json" for _, code, _ in probs.errors) and provider == "github":
                status_for_invalid = 400
            else:
                status_for_invalid = 422 if provider == "github" else 400
        auth_problem = None
        if provider is not None and not route_problem:
            if provider == "github" and "User-Agent" not in self.headers:
                probs.warn("no User-Agent header: api.github.com refuses such requests (403)")
            auth_problem = check_auth(s, provider, op, self.headers)
            if auth_problem:
                probs.error(None, "auth", "authentication: " + auth_problem)

        fault = s.take_fault(provider, op.id if op else None) if provider else None
        if fault:
            entry["fault"] = fault["id"]
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            response = self.fault_response(provider, fault)

        if response is None:
            if route_problem:
                response = Response(404, error_body(provider, 404, NOT_FOUND_MESSAGES.get(provider, "Not Found"), probs.texts()))
            elif auth_problem:
                body = error_body(provider, 401, AUTH_MESSAGES[provider])
                if provider == "github" and op is not None and op.auth == "jwt":
                    body["message"] = auth_problem
                headers = {}
                if provider in ("bitbucket", "bitbucket-server"):
                    headers["WWW-Authenticate"] = 'Basic realm="Atlassian Bitbucket"'
                response = Response(401, body, headers)
            elif probs.errors:
                response = self.invalid_response(provider, op, status_for_invalid, probs)
            else:
                try:
                    handler = {"github": self.server.handlers.github, "gitlab": self.server.handlers.gitlab,
                               "bitbucket": self.server.handlers.bitbucket,
                               "bitbucket-server": self.server.handlers.bitbucket_server}[provider]
                    response = handler(op, ctx)
                except Exception as e:  # noqa: BLE001 - a stand-in bug must show, not hang the client
                    import traceback
                    traceback.print_exc()
                    probs.warn("stand-in error: %r" % e)
                    response = Response(500, error_body(provider, 500, "stand-in error: %r" % e))
                if response.warning:
                    probs.warn(response.warning)

        headers = dict(response.headers)
        if provider == "github":
            headers.setdefault("X-GitHub-Request-Id", "%04X:%06X" % (seq, os.getpid() & 0xFFFFFF))
            headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
            with s.lock:
                # An hourly window as GitHub's; it never runs dry by itself (benchmarks make
                # more calls than that): exhaustion is a fault (rate_limit_reset).
                if time.time() >= s.rate_reset:
                    s.rate_used, s.rate_reset = 0, int(time.time()) + 3600
                s.rate_used += 1
                used, reset = s.rate_used, s.rate_reset
            headers.setdefault("X-RateLimit-Limit", "5000")
            headers.setdefault("X-RateLimit-Remaining", str(max(1, 5000 - used)))
            headers.setdefault("X-RateLimit-Reset", str(reset))
            headers.setdefault("X-RateLimit-Used", str(used))
            headers.setdefault("X-RateLimit-Resource", "core")
        entry["valid"] = not probs.errors
        entry["problems"] = probs.texts()
        entry["warnings"] = probs.warnings
        entry["status"] = response.status
        s.record(entry)
        self.send(response.status, response.body, headers, response.content_type)

    def route(self, provider, api_path):
        """(operation, decoded path params, problem, warning)."""
        if provider is None:
            return None, {}, "unknown path", None
        s = self.server.standin
        ops = [op for op in s.contracts.operations if op.provider == provider]
        warning = None
        candidates = [(op, op.regex.match(api_path)) for op in ops]
        candidates = [(op, m) for op, m in candidates if m]
        if not candidates and provider == "bitbucket-server" and api_path.startswith(("/rest/api/1.0/", "/rest/api/latest/")):
            # Bitbucket Server serves /rest/api/1.0 and /rest/api/latest alike.
            other = api_path.replace("/rest/api/1.0/", "/rest/api/latest/", 1) if "/1.0/" in api_path[:14] \
                else api_path.replace("/rest/api/latest/", "/rest/api/1.0/", 1)
            candidates = [(op, op.regex.match(other)) for op in ops]
            candidates = [(op, m) for op, m in candidates if m]
            if candidates:
                warning = "the contract documents this resource under %s; Bitbucket Server accepts both /rest/api/1.0 and /rest/api/latest" % candidates[0][0].template.split("/projects/")[0]
        if not candidates:
            return None, {}, "no %s operation has the path %s" % (provider, api_path), None
        same_method = [(op, m) for op, m in candidates if op.method == self.command]
        if not same_method:
            allowed = sorted({"%s %s (%s)" % (op.method, op.template, op.id) for op, _ in candidates})
            return None, {}, "%s is not an operation of %s; the contract has %s" % (self.command, api_path, ", ".join(allowed)), None

        def decoded(m):
            return {k: unquote(v) for k, v in m.groupdict().items()}

        def type_ok(op, params):
            return all(not (spec["types"] == ["integer"] and not is_integer_text(params.get(name)))
                       for name, spec in op.path_params.items())
        for op, m in same_method:
            params = decoded(m)
            if type_ok(op, params):
                return op, params, None, warning
        op, m = same_method[0]
        return op, decoded(m), None, warning

    def validate(self, op, path_params, query, query_pairs, raw, text, content_type, json_error, probs):
        """Problems into probs; returns the request parameters (body) to act on."""
        # Path parameters
        for name, spec in op.path_params.items():
            value = path_params.get(name, "")
            if spec["types"] == ["integer"] and not is_integer_text(value):
                probs.error(name, "path", "path parameter %s must be an integer, not %s" % (name, json.dumps(value)))
            if value == "":
                probs.error(name, "path", "path parameter %s is empty" % name)
        # Query parameters
        body_from_query = {}
        seen = set()
        for key, value in query_pairs:
            if key in seen and not key.endswith("[]"):
                continue
            seen.add(key)
            values = [v for k, v in query_pairs if k == key]
            spec = op.query_params.get(key)
            if spec is None:
                if op.params_anywhere:
                    body_from_query[key] = values if key.endswith("[]") else value
                else:
                    probs.warn("unknown query parameter %s (not in the contract; ignored)" % key)
                continue
            if op.provider == "github":
                schema = spec.get("schema", {})
                ok, coerced = coerce_text([schema.get("type", "string")], value)
                if not ok:
                    probs.error(key, "invalid", "query parameter %s must be %s, not %s" % (key, schema.get("type"), json.dumps(value)))
                elif "enum" in schema and coerced not in schema["enum"]:
                    probs.error(key, "invalid", "query parameter %s must be one of %s, not %s" % (key, ", ".join(schema["enum"]), json.dumps(value)))
                elif schema.get("format") == "date-time" and parse_datetime(value) is None:
                    probs.error(key, "invalid", "query parameter %s is not an ISO 8601 timestamp: %s" % (key, json.dumps(value)))
            else:
                sub = Problems()
                coerced = check_value(spec["types"], values if key.endswith("[]") else value, key, sub, from_text=True)
                if spec.get("enum") is not None and coerced not in spec["enum"]:
                    sub.error(key, "invalid", "%s must be one of %s, not %s" % (key, ", ".join(spec["enum"]), json.dumps(value)))
                for f, c, m in sub.errors:
                    probs.error(f, c, "query parameter " + m)
        for name, spec in op.query_params.items():
            if spec.get("required") and name not in query:
                probs.error(name, "missing_field", "query parameter %s is required" % name)

        has_body = op.body_schema is not None or op.body_fields
        if not has_body:
            if raw:
                probs.warn("request body sent to an operation that takes none (ignored)")
            return {}
        # Body
        body = None
        if raw:
            if content_type == "application/json":
                if json_error:
                    probs.error(None, "json", "Problems parsing JSON: %s" % json_error)
                else:
                    body = json.loads(text)
            elif content_type == "application/x-www-form-urlencoded" and op.params_anywhere:
                pairs = parse_qsl(text, keep_blank_values=True)
                body = {}
                for k, v in pairs:
                    if k.endswith("[]"):
                        body.setdefault(k, []).append(v)
                    else:
                        body[k] = v
            else:
                accepted = "application/json" + (" or application/x-www-form-urlencoded" if op.params_anywhere else "")
                probs.error(None, "content_type", "Content-Type must be %s, not %s" % (accepted, json.dumps(self.headers.get("Content-Type"))))
                try:
                    body = json.loads(text)     # to report what else is wrong, too
                except ValueError:
                    body = None
        if op.provider == "github":
            if body is None:
                if op.body_required and not raw:
                    probs.error(None, "missing_field", "a JSON request body is required")
                body = {} if body is None else body
            validate_schema(self.server.standin.contracts, op.body_schema, body, "", probs)
            if not isinstance(body, dict):
                return {}
            return body
        # GitLab / Bitbucket contract fields
        if op.params_anywhere:
            sources = []
            if body_from_query:
                sources.append((body_from_query, True))
            if isinstance(body, dict):
                sources.append((body, content_type != "application/json"))
            elif body is not None:
                probs.error(None, "invalid", "the request body must be a JSON object, not %s" % json_type_name(body))
            return validate_fields(op, sources or [({}, True)], probs)
        if body is None:
            if not raw:
                probs.error(None, "missing_field", "a JSON request body is required")
            body = {}
        elif not isinstance(body, dict):
            probs.error(None, "invalid", "the request body must be a JSON object, not %s" % json_type_name(body))
            body = {}
        return validate_fields(op, [(body, False)], probs)

    def invalid_response(self, provider, op, status, probs):
        texts = probs.texts()
        if status == 404:
            return Response(404, error_body(provider, 404, NOT_FOUND_MESSAGES[provider], texts))
        if provider == "github":
            if status == 400:
                return Response(400, {"message": "Problems parsing JSON", "documentation_url": GITHUB_DOCS, "problems": texts})
            resource = {"repos/create-commit-status": "Status", "issues/create-comment": "IssueComment",
                        "issues/update-comment": "IssueComment", "checks/create": "CheckRun", "checks/update": "CheckRun",
                        "repos/create-deployment": "Deployment", "repos/create-deployment-status": "DeploymentStatus"}.get(op.id if op else None, "Request")
            errors = [{"resource": resource, "field": f or "", "code": "missing_field" if c == "missing_field" else "invalid", "message": m}
                      for f, c, m in probs.errors if c != "auth"]
            return Response(422, {"message": "Validation Failed", "errors": errors, "documentation_url": GITHUB_DOCS, "problems": texts})
        if provider == "gitlab":
            return Response(400, {"message": "400 Bad request - " + ", ".join(texts), "error": ", ".join(texts), "problems": texts})
        if provider == "bitbucket":
            fields = {}
            for f, _, m in probs.errors:
                fields.setdefault(f or "body", []).append(m)
            return Response(400, {"type": "error", "error": {"message": "Bad request", "detail": "; ".join(texts), "fields": fields},
                                  "problems": texts})
        return Response(400, {"errors": [{"context": f, "message": m, "exceptionName": None} for f, _, m in probs.errors],
                              "problems": texts})

    def fault_response(self, provider, fault):
        status = fault["status"]
        headers = {}
        if fault["retry_after"] is not None:
            headers["Retry-After"] = str(int(fault["retry_after"]))
        if fault["html"]:
            status = status or 200
            title = STATUS_WORDS.get(status, "Error") if status >= 400 else "Sign in"
            page = ("<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><h1>%s</h1>"
                    "<p>slipway scm stand-in: an injected HTML answer (a proxy, a login page or a maintenance page).</p>"
                    "</body></html>\n" % (status, title, title))
            return Response(status, page, headers, content_type="text/html; charset=utf-8")
        if fault["secondary"]:
            status = status or 403
            message = fault["message"] or ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                                           "If you reach out to GitHub Support for help, please include the request ID %s." % secrets.token_hex(4).upper())
            return Response(status, {"message": message, "documentation_url": GITHUB_SECONDARY_DOCS}, headers)
        if fault["rate_limit_reset"] is not None:
            status = status or (403 if provider == "github" else 429)
            reset = str(int(fault["rate_limit_reset"]))
            if provider == "github":
                headers.update({"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
                                "X-RateLimit-Used": "5000", "X-RateLimit-Resource": "core"})
                message = fault["message"] or "API rate limit exceeded for installation ID 1."
                return Response(status, {"message": message, "documentation_url": GITHUB_PRIMARY_DOCS}, headers)
            headers.update({"RateLimit-Limit": "600", "RateLimit-Remaining": "0", "RateLimit-Reset": reset})
            return Response(status, error_body(provider, status, fault["message"] or "Retry later"), headers)
        if status is None:
            if fault["retry_after"] is not None:
                status = 429
            elif fault["delay_ms"]:
                return None     # only slow: answer normally
            else:
                status = 500
        if status == 401:
            message = AUTH_MESSAGES.get(provider, "Unauthorized")
        elif status == 404:
            message = NOT_FOUND_MESSAGES.get(provider, "Not Found")
        elif provider == "gitlab":
            message = "%d %s" % (status, STATUS_WORDS.get(status, "Error"))
        elif provider == "github" and status == 403:
            message = "Resource not accessible by integration"
        elif provider == "github" and status == 429:
            message = "API rate limit exceeded"
        elif provider == "github" and status >= 500:
            message = "Server Error"
        else:
            message = STATUS_WORDS.get(status, "Error")
        return Response(status, error_body(provider, status, fault["message"] or message), headers)


# ----------------------------------------------------------------------------------------------

def find_contracts(arg):
    for candidate in (arg, os.environ.get("SLIPWAY_SCM_CONTRACTS"),
                      str(Path(__file__).resolve().parent / ".." / ".." / ".." / "shared" / "fixtures" / "scm")):
        if candidate and (Path(candidate) / "github" / "openapi-subset.json").is_file():
            return Path(candidate).resolve()
    sys.exit("scm-standin: no contracts directory (give --contracts DIR or SLIPWAY_SCM_CONTRACTS; "
             "expected ../../../shared/fixtures/scm from %s)" % Path(__file__).resolve().parent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--contracts")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--verbose", action="store_true", help="log each request on standard error")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the process that started it ends (a test process that dies or exits without stopping it)")
    args = ap.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()

    standin = StandIn(Contracts(find_contracts(args.contracts)))
    cfg = {}
    if os.environ.get("SLIPWAY_STANDIN_TOKENS"):
        try:
            cfg["tokens"] = json.loads(os.environ["SLIPWAY_STANDIN_TOKENS"])
        except ValueError as e:
            sys.exit("scm-standin: SLIPWAY_STANDIN_TOKENS is not JSON: %s" % e)
    if os.environ.get("SLIPWAY_STANDIN_GITHUB_APP_ID"):
        cfg["github_app_id"] = os.environ["SLIPWAY_STANDIN_GITHUB_APP_ID"]
    if os.environ.get("SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE"):
        cfg["github_app_public_key_file"] = os.environ["SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE"]
    problems = standin.configure(cfg)
    if problems:
        sys.exit("scm-standin: " + "; ".join(problems))

    server = Server((args.host, args.port), standin, verbose=args.verbose)
    host, port = server.server_address[:2]
    if args.port_file:
        # Written whole, then renamed: a reader never sees half a port.
        Path(args.port_file + ".tmp").write_text("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("http://%s:%d" % (host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
