#!/usr/bin/python3
"""Validates policy files against policies/cgfence-policy.schema.json.

usage: schema_check.py SCHEMA FILE...

Prints "FILE: ok" or "FILE: JSON-PATH: problem" for each file and exits 1
when one does not validate. Debian's python3-jsonschema (tools/deps.sh);
the schema itself is checked against the draft 2020-12 meta-schema first.
cgfence check stays the authority: this is what editors see.
"""
import json
import sys

from jsonschema import Draft202012Validator


def json_path(error):
    path = ""
    for part in error.absolute_path:
        path += "[%d]" % part if isinstance(part, int) else (
            ("." if path else "") + str(part))
    return path or "(top level)"


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    bad = 0
    for name in argv[2:]:
        with open(name, encoding="utf-8") as f:
            policy = json.load(f)
        errors = sorted(validator.iter_errors(policy),
                        key=lambda e: list(map(str, e.absolute_path)))
        if not errors:
            print("%s: ok" % name)
            continue
        bad = 1
        for e in errors:
            print("%s: %s: %s" % (name, json_path(e), e.message))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
