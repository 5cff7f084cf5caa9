#!/usr/bin/env python3
"""The cloud contract, checked from the outside.

1. docs/asyncapi.yaml is valid against the AsyncAPI 3.0 JSON schema (shipped offline by
   the npm package @asyncapi/specs, pinned in tests/contract/package-lock.json).
2. Every message the test harness captured (tests/support, STATIOND_CAPTURE_DIR: JSON lines
   {topic, retain, payload}) is routed by its topic to a channel of the document and must
   match one of the channel's messages (JSON Schema 2020-12, formats checked). A message
   that arrived as retained must be on a retained channel.

Usage: validate.py ASYNCAPI_YAML CAPTURE_DIR   (exit 1 on any rejected message, on no
messages at all, or on an invalid document). Python jsonschema, not the daemon's own code.
"""

import glob
import json
import os
import re
import sys
from collections import Counter

import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "node_modules", "@asyncapi", "specs", "schemas", "3.0.0.json")
SCHEMA_FORMAT = "application/schema+json;version=2020-12"
# Commands are the cloud's own messages (tests send malformed ones on purpose); the
# station's answers to them on /reply are what is checked.
SKIPPED_CHANNELS = {"command"}


def fail(msg):
    print(f"contract: {msg}", file=sys.stderr)
    sys.exit(1)


def check_document(doc):
    with open(SPEC) as f:
        spec = json.load(f)
    # The AsyncAPI schema is one file of draft-07 resources, each with its own $id.
    registry = Registry().with_resource(spec["$id"], DRAFT7.create_resource(spec))
    registry = registry.with_resources(
        (d["$id"], DRAFT7.create_resource(d)) for d in spec.get("definitions", {}).values() if "$id" in d
    )
    errors = sorted(Draft7Validator(spec, registry=registry).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"asyncapi.yaml: /{'/'.join(map(str, e.path))}: {e.message[:300]}", file=sys.stderr)
    if errors:
        fail(f"docs/asyncapi.yaml is not a valid AsyncAPI 3.0 document ({len(errors)} errors)")


def resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        node = resolve(doc, node["$ref"])
    return node


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    with open(sys.argv[1]) as f:
        doc = yaml.safe_load(f)
    check_document(doc)

    schemas = doc["components"]["schemas"]
    for name, s in schemas.items():
        if not re.match(r"^https?://", s.get("$id", "")):
            fail(f"components.schemas.{name} has no absolute $id")
        Draft202012Validator.check_schema(s)
    registry = Registry().with_resources((s["$id"], DRAFT202012.create_resource(s)) for s in schemas.values())
    formats = FormatChecker()

    # Channels: topic regex → (name, retained?, [(message name, validator)]).
    retained = {}
    for op in doc.get("operations", {}).values():
        ch = deref(doc, op["channel"])
        retained[ch["address"]] = op.get("bindings", {}).get("mqtt", {}).get("retain", False)
    channels = []
    for cname, ch in doc["channels"].items():
        pattern = re.escape(ch["address"])
        pattern = re.sub(r"\\\{[a-z]+\\\}", "[^/]+", pattern)
        messages = []
        for mname, m in ch["messages"].items():
            m = deref(doc, m)
            payload = m["payload"]
            if payload.get("schemaFormat") != SCHEMA_FORMAT:
                fail(f"message {mname}: schemaFormat must be {SCHEMA_FORMAT}")
            schema = deref(doc, payload["schema"])
            v = Draft202012Validator(schema, registry=registry, format_checker=formats)
            messages.append((m.get("name", mname), v))
            for example in m.get("examples", []):
                errs = list(v.iter_errors(example["payload"]))
                if errs:
                    fail(f"message {mname}: example {example.get('name')} does not match: {errs[0].message[:300]}")
        channels.append((re.compile(f"^{pattern}$"), cname, retained.get(ch["address"], False), messages))

    files = sorted(glob.glob(os.path.join(sys.argv[2], "*.jsonl")))
    seen, bad, skipped = Counter(), 0, 0
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                rec = json.loads(line)
                topic = rec["topic"]
                where = f"{os.path.basename(path)}:{n} {topic}"
                if topic == "(queue export)":
                    topic = "wh/x/st/x/events"
                route = next((c for c in channels if c[0].match(topic)), None)
                if route is None:
                    if "/st/" in topic:
                        bad += 1
                        print(f"{where}: no channel of docs/asyncapi.yaml has this topic", file=sys.stderr)
                    else:
                        skipped += 1  # a test's own topic, not the station's
                    continue
                _, cname, is_retained, messages = route
                if cname in SKIPPED_CHANNELS:
                    skipped += 1
                    continue
                if rec["retain"] and not is_retained:
                    bad += 1
                    print(f"{where}: arrived retained on a channel documented as not retained", file=sys.stderr)
                if rec["payload"] == "" and is_retained:
                    seen[f"{cname} (cleared)"] += 1
                    continue
                try:
                    payload = json.loads(rec["payload"])
                except json.JSONDecodeError as e:
                    bad += 1
                    print(f"{where}: payload is not JSON ({e}): {rec['payload'][:200]}", file=sys.stderr)
                    continue
                # Events: the message named like the event's kind (fast), else any of the channel's.
                named = [(name, v) for name, v in messages if isinstance(payload, dict) and name == payload.get("kind")]
                matched = [name for name, v in named or messages if v.is_valid(payload)]
                if matched:
                    seen[payload["kind"] if cname == "events" else cname] += 1
                    continue
                bad += 1
                for name, v in named or messages:
                    for e in list(v.iter_errors(payload))[:3]:
                        print(f"{where}: {name}: /{'/'.join(map(str, e.path))}: {e.message[:300]}", file=sys.stderr)
                print(f"    payload: {rec['payload'][:400]}", file=sys.stderr)
    total = sum(seen.values())
    print(f"contract: {total} messages valid in {len(files)} capture files ({skipped} commands or foreign topics not checked)")
    for name, count in sorted(seen.items()):
        print(f"  {count:6}  {name}")
    if bad:
        fail(f"{bad} captured messages do not match docs/asyncapi.yaml")
    if total == 0:
        fail(f"no messages captured in {sys.argv[2]}: is STATIOND_CAPTURE_DIR set for cargo test?")


if __name__ == "__main__":
    main()
