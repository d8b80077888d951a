"""Extracts the types FakeGitHub's GraphQL needs from GitHub's public schema.

Usage: extract.py VERSION SCHEMA_JSON TYPE...

Input: the introspection result `schema.json` of the `@octokit/graphql-schema` npm
package, and the names of the types to keep (recipe.sh lists them). Output (JSON, keys
sorted, so the result is the same on every run):

    {"source": "...",
     "types": {NAME: {"kind": "OBJECT" | "INTERFACE" | "UNION" | "ENUM" | "INPUT_OBJECT" | "SCALAR",
                      "fields": {NAME: {"type": TYPE, "args": [INPUT]}},         # OBJECT, INTERFACE
                      "interfaces": [NAME],                                      # OBJECT
                      "possibleTypes": [NAME],                                   # INTERFACE, UNION
                      "enumValues": [NAME],                                      # ENUM
                      "inputFields": [INPUT]}}}                                  # INPUT_OBJECT

where TYPE is written as in GraphQL's schema language (`[RefUpdate!]!`) and INPUT is
{"name": NAME, "type": TYPE} plus "default" (a GraphQL literal, as the schema gives it)
when it has one. Arguments and input fields keep GitHub's order (its messages list missing
arguments in that order); fields and types are sorted by name.
A listed object keeps every field GitHub has on it (with every argument), so the fake can
tell a field GitHub lacks from one it merely does not serve; the types those other fields
return are not kept. Every scalar that a kept field, argument or input field names is
kept (name and kind only). Descriptions are left out.
"""

import json
import sys


def type_ref(node):
    kind = node["kind"]
    if kind == "NON_NULL":
        return type_ref(node["ofType"]) + "!"
    if kind == "LIST":
        return "[" + type_ref(node["ofType"]) + "]"
    return node["name"]


def named(node):
    while node.get("ofType") is not None:
        node = node["ofType"]
    return node


def input_value(value, scalars):
    out = {"name": value["name"], "type": type_ref(value["type"])}
    if value.get("defaultValue") is not None:
        out["default"] = value["defaultValue"]
    if named(value["type"])["kind"] == "SCALAR":
        scalars.add(named(value["type"])["name"])
    return out


def main():
    version, source, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    schema = json.load(open(source))["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    missing = [name for name in wanted if name not in types]
    if missing:
        sys.exit(f"extract.py: GitHub's schema has no type {', '.join(missing)}")
    out = {}
    scalars = set()
    for name in wanted:
        t = types[name]
        kind = t["kind"]
        kept = {"kind": kind}
        if kind in ("OBJECT", "INTERFACE"):
            fields = {}
            for f in t["fields"]:
                field = {"type": type_ref(f["type"])}
                args = [input_value(a, scalars) for a in f["args"]]
                if args:
                    field["args"] = args
                if named(f["type"])["kind"] == "SCALAR":
                    scalars.add(named(f["type"])["name"])
                fields[f["name"]] = field
            kept["fields"] = fields
        if kind == "OBJECT":
            kept["interfaces"] = sorted(i["name"] for i in t["interfaces"] or [])
        if kind in ("INTERFACE", "UNION"):
            kept["possibleTypes"] = sorted(p["name"] for p in t["possibleTypes"] or [])
        if kind == "ENUM":
            kept["enumValues"] = sorted(e["name"] for e in t["enumValues"])
        if kind == "INPUT_OBJECT":
            kept["inputFields"] = [input_value(v, scalars) for v in t["inputFields"]]
        if kind == "SCALAR":
            scalars.add(name)
            continue
        out[name] = kept
    for name in scalars:
        out[name] = {"kind": "SCALAR"}
    result = {
        "source": f"@octokit/graphql-schema {version} schema.json (GitHub's public GraphQL "
        "schema, MIT); extracted by recipe.sh",
        "types": out,
    }
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
