#!/usr/bin/env python3
"""Checks manifests/policy.schema.json against the policies and the invalid-policy corpus.

    python3 deploy/check-schema.py          (from the repository root; needs jsonschema and PyYAML)

- every YAML document under policies/ (recursively) must be valid;
- every Tests/SlipwayPolicyTests/Fixtures/invalid/NAME.yaml must be rejected by the schema,
  unless NAME.expected starts with `schema: accepts` (a mistake only `slipway policies
  validate` sees: then the schema must accept it) or `schema: n/a` (not YAML the schema
  can see: a syntax error or no document at all).

Prints one line per file and exits 1 on any disagreement.
"""
import glob
import json
import os
import re
import sys

import jsonschema
import yaml

SCHEMA = "manifests/policy.schema.json"
POLICIES = "policies"
CORPUS = "Tests/SlipwayPolicyTests/Fixtures/invalid"
EXPECTED_LINE = re.compile(r"^[0-9]+:[0-9]+( \S.*)?$")


class Loader(yaml.SafeLoader):
    """SafeLoader without timestamps: a date-like value stays text, as JSON has no dates."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def documents(path):
    """The file's documents as JSON values (empty documents skipped); raises yaml.YAMLError."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=Loader) if d is not None]
    return [json.loads(json.dumps(d)) for d in docs]


def problems(validator, doc):
    return sorted(
        ("/".join(str(p) for p in e.absolute_path) or "(document)") + ": " + e.message
        for e in validator.iter_errors(doc)
    )


def main():
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0

    def report(ok, path, detail):
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {path}: {detail}")

    examples = sorted(glob.glob(f"{POLICIES}/**/*.yaml", recursive=True) + glob.glob(f"{POLICIES}/**/*.yml", recursive=True))
    for path in examples:
        try:
            docs = documents(path)
        except yaml.YAMLError as e:
            report(False, path, f"not YAML: {str(e).splitlines()[0]}")
            continue
        errors = [f"document {i + 1}: {p}" for i, d in enumerate(docs) for p in problems(validator, d)]
        if not docs:
            report(False, path, "no document")
        else:
            report(not errors, path, "; ".join(errors) if errors else f"valid ({len(docs)} document{'s' * (len(docs) > 1)})")

    cases = sorted(glob.glob(f"{CORPUS}/*.yaml"))
    names = {os.path.splitext(p)[0] for p in cases}
    for orphan in sorted(set(glob.glob(f"{CORPUS}/*.expected")) - {n + ".expected" for n in names}):
        report(False, orphan, "no .yaml beside it")
    for path in cases:
        expected_path = os.path.splitext(path)[0] + ".expected"
        if not os.path.exists(expected_path):
            report(False, path, "no .expected beside it")
            continue
        with open(expected_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        mode = lines[0] if lines and lines[0].startswith("schema:") else "schema: rejects"
        diagnostics = lines[1:] if lines and lines[0].startswith("schema:") else lines
        malformed = [l for l in diagnostics if not EXPECTED_LINE.match(l)]
        if mode not in ("schema: rejects", "schema: accepts", "schema: n/a") or malformed or not diagnostics:
            report(False, expected_path, f"malformed ({mode!r}, {len(diagnostics)} diagnostics, bad lines {malformed})")
            continue
        try:
            docs = documents(path)
        except yaml.YAMLError as e:
            docs, syntax = None, str(e).splitlines()[0]
        if mode == "schema: n/a":
            ok = docs is None or not docs
            report(ok, path, "no document for the schema (as expected)" if ok else "expected no document, but it parses")
            continue
        if docs is None:
            report(False, path, f"{mode}, but not YAML: {syntax}")
            continue
        errors = [p for d in docs for p in problems(validator, d)]
        if mode == "schema: accepts":
            report(not errors, path, "accepted (the validator's alone)" if not errors else "marked `schema: accepts` but rejected: " + "; ".join(errors))
        else:
            report(bool(errors), path, ("rejected: " + errors[0] + (f" (+{len(errors) - 1})" if len(errors) > 1 else "")) if errors else "accepted, but the corpus says the schema rejects it")

    print(f"{len(examples)} policy files, {len(cases)} corpus cases, {failures} disagreement{'s' * (failures != 1)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
