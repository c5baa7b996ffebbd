#!/usr/bin/env python3
"""Holds live API answers against manifests/openapi.yaml (OpenAPI 3.1, JSON Schema 2020-12).

    python3 deploy/check-openapi.py EXCHANGES.json

EXCHANGES.json is written by the OpenAPI test: {"routes": [[METHOD, "services/:name"], …],
"exchanges": [{"method", "route", "status", "contentType", "body"}, …]}. Fails (exit 1) when a
route of the server has no operation in the description, an answer's status is not described
for its operation, or a JSON body does not match its schema. Needs PyYAML and jsonschema.
"""
import json, re, sys
import jsonschema, yaml

SPEC = "manifests/openapi.yaml"


def template(route):
    return "/api/v1/" + re.sub(r":([A-Za-z_]+)", r"{\1}", route)


def main():
    data = json.load(open(sys.argv[1]))
    spec = yaml.safe_load(open(SPEC))
    components = spec.get("components", {})
    defs = json.loads(json.dumps(components.get("schemas", {})).replace("#/components/schemas/", "#/$defs/"))
    problems = []

    for method, route in data["routes"]:
        path = template(route)
        if method.lower() not in spec["paths"].get(path, {}):
            problems.append(f"{method} {path}: the server has this route; {SPEC} does not describe it")

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/responses/"):
            node = components["responses"][node["$ref"].rsplit("/", 1)[1]]
        return node

    checked = 0
    for e in data["exchanges"]:
        path = template(e["route"])
        operation = spec["paths"].get(path, {}).get(e["method"].lower())
        where = f'{e["method"]} {path} → {e["status"]}'
        if operation is None:
            problems.append(f"{where}: no such operation in {SPEC}")
            continue
        response = operation["responses"].get(str(e["status"])) or operation["responses"].get("default")
        if response is None:
            problems.append(f"{where}: status not described (described: {', '.join(operation['responses'])})")
            continue
        content = resolve(response).get("content", {})
        kind = (e.get("contentType") or "").split(";")[0].strip()
        if content and kind not in content:
            problems.append(f"{where}: answered {kind or 'no content type'}, described {', '.join(content)}")
            continue
        if kind == "application/json":
            schema = json.loads(json.dumps(content[kind]["schema"]).replace("#/components/schemas/", "#/$defs/"))
            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, **schema}
            validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
            for error in validator.iter_errors(e["body"]):
                problems.append(f"{where}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:300]}")
        checked += 1

    for p in problems:
        print("FAIL " + p)
    print(f"{len(data['routes'])} routes, {checked} answers checked against {SPEC}, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
