#!/usr/bin/env python3
"""The cloud contract, checked from the outside (Python jsonschema; validate.mjs is the
independent Node/ajv twin — the two share nothing but their inputs).

1. docs/asyncapi.yaml is valid against the AsyncAPI 3.0 JSON schema (shipped offline by
   the npm package @asyncapi/specs, pinned in tests/contract/package-lock.json); every
   `components.schemas` entry has an absolute `$id`, is a valid 2020-12 schema, and every
   `$ref` in it resolves (RFC 3986 against the enclosing `$id`) to a registered schema.
2. Every message example matches its message's schema.
3. Every captured message (tests/support, STATIOND_CAPTURE_DIR: JSON lines
   {topic, retain, payload, client}) is routed by its topic to a channel of the document
   (the channel address with each `{parameter}` one topic level) and then to the channel's
   messages, read from the document alone (no event or command names here):
   - a channel parameter whose `enum` names the channel's messages (key or `name`) picks
     the message by the topic's value (a value outside it picks none);
   - otherwise the messages whose schema's top-level `properties.<p>.const`/`enum` admit the
     payload's `<p>` (a discriminator such as `kind`), else all of the channel's messages.
   Channels the station sends on (operation `send`): the payload must match one of those
   messages, and arrive retained only on a channel whose operation binds `retain: true`.
   Channels the station receives on (operation `receive` with a `reply`: the cloud's
   commands, which tests send malformed on purpose): the command must match its message,
   OR the station must have refused it — the first reply its sender (`client`) received
   after it on the reply channel (parameters bound from the command's topic) echoing its
   `request_id` (`null` when the payload has none to echo) has `ok: false`. A command that
   matched but was refused for a schema reason (REFUSED_AS_INVALID) is a disagreement
   between the document and the station: it fails. A topic one or more levels below a
   receive channel's address is such a command with no message (it must be refused).
   A command larger than the servers' `bindings.mqtt.maximumPacketSize` never reaches the
   station as a command (no reply is due): counted as such.
   `(queue export)` lines are journal events: any send channel's messages.
   Topics outside the channels' common prefix are the tests' own (counted, not failed).

Usage: validate.py ASYNCAPI_YAML CAPTURE_DIR   (exit 1 on any mismatch, on no messages
checked, or on an invalid document).
"""

import glob
import json
import os
import re
import sys
from collections import Counter, defaultdict
from urllib.parse import urldefrag, urljoin

import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7, DRAFT202012

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "node_modules", "@asyncapi", "specs", "schemas", "3.0.0.json")
SCHEMA_FORMAT = "application/schema+json;version=2020-12"
# The command/reply protocol (docs/MQTT.md "Reply"): how a refusal looks, and the error
# codes that say "the payload does not match the command's schema".
REQUEST_ID, OK, ERROR = "request_id", "ok", "error"
REFUSED_AS_INVALID = {"invalid_field", "missing_field", "unknown_field", "bad_json"}
MAX_REQUEST_ID, MAX_COMMAND_BYTES = 128, 64 * 1024
EXPORT_TOPIC = "(queue export)"

problems = 0


def fail(msg):
    print(f"contract: {msg}", file=sys.stderr)
    sys.exit(1)


def problem(msg):
    global problems
    problems += 1
    print(msg, file=sys.stderr)


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


def deref(doc, node):
    """Follows document-local `$ref`s (`#/channels/…`, `#/components/…`)."""
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def check_refs(name, schema, registry):
    """Every `$ref` of a schema resource resolves (base: the nearest enclosing `$id`)."""

    def walk(node, base):
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                base = urljoin(base, node["$id"])
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    registry.resolver(base_uri=base).lookup(ref)
                except Unresolvable as e:
                    problem(f"components.schemas.{name}: $ref {ref!r} (base {base}) does not resolve: {e}")
            for k, v in node.items():
                if k not in ("enum", "const", "examples", "default"):
                    walk(v, base)
        elif isinstance(node, list):
            for v in node:
                walk(v, base)

    walk(schema, "")


def discriminators(schema, schemas_by_id, depth=0):
    """{property: set of admitted values} from a schema's top-level `const`/`enum`s,
    following top-level `$ref`s to other registered schemas."""
    out = {}
    if not isinstance(schema, dict) or depth > 5:
        return out
    for p, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and "const" in sub:
            out[p] = {json.dumps(sub["const"])}
        elif isinstance(sub, dict) and isinstance(sub.get("enum"), list):
            out[p] = {json.dumps(v) for v in sub["enum"]}
    ref = schema.get("$ref")
    if isinstance(ref, str) and urldefrag(ref)[1] == "" and ref in schemas_by_id:
        for p, vals in discriminators(schemas_by_id[ref], schemas_by_id, depth + 1).items():
            out.setdefault(p, vals)
    return out


def echo(value):
    """A request_id as the station's reply echoes it (docs/MQTT.md "Reply"): a string as is,
    anything else as its JSON text; cut to 128 characters plus `…`, controls escaped."""
    # JSON text as serde_json writes it: compact, object keys sorted.
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    out = []
    for c in text[:MAX_REQUEST_ID]:
        if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F:
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}.get(c, f"\\u{{{ord(c):x}}}"))
        else:
            out.append(c)
    return "".join(out) + ("…" if len(text) > MAX_REQUEST_ID else "")


def expected_echo(raw):
    """The request_id a reply to this raw payload carries; None: `null` (not attributable)."""
    if len(raw.encode()) > MAX_COMMAND_BYTES:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        return None
    if not isinstance(value, dict) or REQUEST_ID not in value:
        return None
    return echo(value[REQUEST_ID])


class Channel:
    def __init__(self, name, address, parameters):
        self.name = name
        self.address = address
        self.params = re.findall(r"\{([^}]+)\}", address)
        pattern = re.escape(address)
        for p in self.params:
            pattern = pattern.replace(re.escape("{" + p + "}"), f"(?P<{p}>[^/]+)")
        self.exact = re.compile(f"^{pattern}$")
        self.below = re.compile(f"^{pattern}/.+$")
        self.parameters = parameters or {}
        self.action = None
        self.retained = False
        self.reply = None  # Channel the station answers on (receive operations)
        self.messages = []  # [(label, key, validator, discriminators, payload schema $ref)]
        self.selector = None  # parameter whose enum names the messages

    def bind(self, params):
        return re.sub(r"\{([^}]+)\}", lambda m: params.get(m.group(1), m.group(0)), self.address)


def load(doc):
    schemas = doc["components"]["schemas"]
    for name, s in schemas.items():
        if not re.match(r"^https?://", s.get("$id", "")):
            fail(f"components.schemas.{name} has no absolute $id")
        Draft202012Validator.check_schema(s)
    registry = Registry().with_resources((s["$id"], DRAFT202012.create_resource(s)) for s in schemas.values())
    registry = registry.crawl()
    for name, s in schemas.items():
        check_refs(name, s, registry)
    schemas_by_id = {s["$id"]: s for s in schemas.values()}
    formats = FormatChecker()

    channels = {}
    for cname, ch in doc["channels"].items():
        channels[cname] = Channel(cname, ch["address"], ch.get("parameters"))
    by_address = {c.address: c for c in channels.values()}
    for oname, op in doc.get("operations", {}).items():
        c = by_address[deref(doc, op["channel"])["address"]]
        c.action = op["action"]
        c.retained = bool(op.get("bindings", {}).get("mqtt", {}).get("retain", False))
        if op.get("reply", {}).get("channel"):
            c.reply = by_address[deref(doc, op["reply"]["channel"])["address"]]

    examples = 0
    for cname, ch in doc["channels"].items():
        c = channels[cname]
        names = set()
        for key, m in ch["messages"].items():
            m = deref(doc, m)
            payload = m["payload"]
            if payload.get("schemaFormat") != SCHEMA_FORMAT:
                fail(f"channel {cname} message {key}: schemaFormat must be {SCHEMA_FORMAT}")
            schema = deref(doc, payload["schema"])
            v = Draft202012Validator(schema, registry=registry, format_checker=formats)
            label = m.get("name", key)
            names |= {key, label}
            c.messages.append((label, key, v, discriminators(schema, schemas_by_id), payload["schema"].get("$ref", "")))
            for example in m.get("examples", []):
                examples += 1
                for e in list(v.iter_errors(example["payload"]))[:3]:
                    problem(f"{cname}/{label}: example {example.get('name')!r}: /{'/'.join(map(str, e.path))}: {e.message[:300]}")
        for pname, p in c.parameters.items():
            p = deref(doc, p)
            if isinstance(p, dict) and p.get("enum") and set(p["enum"]) <= names:
                c.selector = (pname, set(p["enum"]))
    # The channels' common leading levels (`wh/{warehouse}/st/{station}`): a topic under it
    # that no channel has is a station topic the document misses.
    levels = [c.address.split("/") for c in channels.values()]
    common = []
    for parts in zip(*levels):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    prefix = Channel("(prefix)", "/".join(common), {}).below
    limits = [
        s["bindings"]["mqtt"]["maximumPacketSize"]
        for s in (doc.get("servers") or {}).values()
        if (s.get("bindings") or {}).get("mqtt", {}).get("maximumPacketSize")
    ]
    print(f"contract: docs/asyncapi.yaml: {len(schemas)} schemas, every $ref resolves; {examples} examples checked")
    return list(channels.values()), prefix, min(limits) if limits else None


def candidates(c, topic_params, payload):
    if c.selector:
        pname, values = c.selector
        value = topic_params.get(pname)
        return [m for m in c.messages if value in values and value in (m[0], m[1])]
    if isinstance(payload, dict):
        scored = []
        for m in c.messages:
            disc = m[3]
            keys = [p for p in disc if p in payload]
            if keys and all(json.dumps(payload[p]) in disc[p] for p in keys):
                # an exact const first (item.picked before item.verified's enum)
                scored.append((max(len(disc[p]) for p in keys), m))
        if scored:
            # Messages sharing one schema (print.job): the one named like the payload's
            # discriminator value first, so the counts name the right message.
            values = {str(payload[p]) for m in c.messages for p in m[3] if p in payload}
            return [m for _, m in sorted(scored, key=lambda s: (s[1][0] not in values and s[1][1] not in values, s[0]))]
    return c.messages


def first_match(msgs, payload):
    return next((m for m in msgs if m[2].is_valid(payload)), None)


def explain(where, msgs, payload, raw):
    for label, _, v, *_ in msgs[:3]:
        for e in list(v.iter_errors(payload))[:3]:
            print(f"{where}: {label}: /{'/'.join(map(str, e.path))}: {e.message[:300]}", file=sys.stderr)
    if not msgs:
        print(f"{where}: the channel has no message for this topic", file=sys.stderr)
    print(f"    payload: {raw[:400]}", file=sys.stderr)


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    with open(sys.argv[1]) as f:
        doc = yaml.safe_load(f)
    check_document(doc)
    channels, station_prefix, max_packet = load(doc)
    senders = [c for c in channels if c.action == "send"]

    files = sorted(glob.glob(os.path.join(sys.argv[2], "*.jsonl")))
    checked = Counter()  # "channel/message" → n
    refused = Counter()  # commands that did not match and were refused
    foreign = 0
    for path in files:
        with open(path) as f:
            recs = [json.loads(line) for line in f]
        # Replies by (client, reply topic): [(index, payload)], consumed as paired.
        replies = defaultdict(list)
        for i, rec in enumerate(recs):
            replies[(rec.get("client"), rec["topic"])].append(i)
        used = set()

        def reply_to(i, client, topic, rid):
            for j in replies.get((client, topic), []):
                if j <= i or j in used:
                    continue
                try:
                    r = json.loads(recs[j]["payload"])
                except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
                    continue
                if isinstance(r, dict) and r.get(REQUEST_ID) == rid:
                    used.add(j)
                    return r
            return None

        for i, rec in enumerate(recs):
            topic, raw = rec["topic"], rec["payload"]
            where = f"{os.path.basename(path)}:{i + 1} {topic}"
            try:
                payload = json.loads(raw)
                is_json = True
            except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
                payload, is_json = None, False
            if topic == EXPORT_TOPIC:
                hits = [(c, first_match(candidates(c, {}, payload), payload)) for c in senders]
                hit = next(((c, m) for c, m in hits if m), None)
                if hit:
                    checked[f"{hit[0].name}/{hit[1][0]} (queue export)"] += 1
                else:
                    problem(f"{where}: matches no message of any channel the station sends on")
                    explain(where, [m for c in senders for m in candidates(c, {}, payload)][:3], payload, raw)
                continue
            c, params, below = None, None, False
            for ch in channels:
                m = ch.exact.match(topic)
                if m:
                    c, params = ch, m.groupdict()
                    break
            if c is None:
                for ch in channels:
                    m = ch.below.match(topic)
                    if m and ch.action == "receive":
                        c, params, below = ch, m.groupdict(), True
                        break
            if c is None:
                if station_prefix.match(topic):
                    problem(f"{where}: no channel of docs/asyncapi.yaml has this topic")
                else:
                    foreign += 1  # a test's own topic, not the station's
                continue

            if c.action == "receive" and max_packet and len(raw.encode()) > max_packet:
                checked[f"{c.name} (over maximumPacketSize: not delivered, no reply due)"] += 1
                continue
            if c.action == "receive":
                msgs = [] if below else candidates(c, params, payload)
                # A command published retained reaches a connected station live (MQTT 3.1.1
                # clears the flag) and is judged like any other; its retained copy at a later
                # connect is answered `retained_command` (docs/MQTT.md).
                match = first_match(msgs, payload) if is_json else None
                label = match[0] if match else (msgs[0][0] if len(msgs) == 1 else "(no message)")
                rid = expected_echo(raw)
                reply = reply_to(i, rec.get("client"), c.reply.bind(params), rid) if c.reply else None
                refusal = isinstance(reply, dict) and reply.get(OK) is False
                code = (reply.get(ERROR) or {}).get("code") if refusal else None
                if match and code in REFUSED_AS_INVALID:
                    problem(f"{where}: matches {c.name}/{label} but the station refused it as {code}: {reply}")
                    print(f"    payload: {raw[:400]}", file=sys.stderr)
                elif match:
                    checked[f"{c.name}/{label}"] += 1
                elif refusal:
                    checked[f"{c.name}/{label}"] += 1
                    refused[f"{c.name}/{label}"] += 1
                else:
                    problem(f"{where}: matches no message of {c.name} and no refusal echoing request_id {rid!r} follows it")
                    explain(where, msgs, payload, raw)
                continue

            if rec["retain"] and not c.retained:
                problem(f"{where}: arrived retained on a channel documented as not retained")
            if raw == "" and c.retained:
                checked[f"{c.name} (cleared)"] += 1
                continue
            if not is_json:
                problem(f"{where}: payload is not JSON: {raw[:200]}")
                continue
            msgs = candidates(c, params, payload)
            match = first_match(msgs, payload)
            if match:
                checked[f"{c.name}/{match[0]}"] += 1
            else:
                problem(f"{where}: matches no message of {c.name}")
                explain(where, msgs, payload, raw)

    total = sum(checked.values())
    print(f"contract: {total} messages checked in {len(files)} capture files; 0 not checked "
          f"({foreign} on the tests' own topics, outside the document)")
    for name, count in sorted(checked.items()):
        extra = f"  ({refused[name]} did not match and were refused by the station)" if refused[name] else ""
        print(f"  {count:6}  {name}{extra}")
    if problems:
        fail(f"{problems} mismatches between captured messages, examples and docs/asyncapi.yaml")
    if total == 0:
        fail(f"no messages captured in {sys.argv[2]}: is STATIOND_CAPTURE_DIR set for cargo test?")


if __name__ == "__main__":
    main()
