#!/usr/bin/env python3
"""docs/consumers/telegraf.conf without Telegraf (it is not in Debian's or any registry this
CI installs from): the file parses as TOML (Telegraf's config language), every
mqtt_consumer subscribes at QoS 1 to topics that are channels of docs/asyncapi.yaml (with
`+` for the parameters), its topic_parsing names the parameters at their places, and the
JSON paths it reads exist in that channel's message schemas.

Usage: check_telegraf.py TELEGRAF_CONF ASYNCAPI_YAML
"""

import re
import sys
import tomllib

import yaml


def fail(msg):
    print(f"telegraf.conf: {msg}", file=sys.stderr)
    sys.exit(1)


def properties(doc, schema, root=None):
    """Top-level property names a schema allows, following its $refs: `#/$defs/…` inside the
    schema resource it sits in (`root`), `#/components/…` and absolute `$id`s in the document."""
    names = set()
    if not isinstance(schema, dict):
        return names
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/") and root is not None:
        names |= properties(doc, root["$defs"][ref.split("/")[-1]], root)
    elif ref.startswith("#/"):
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        names |= properties(doc, node, node)
    elif ref.startswith("https://"):
        for s in doc["components"]["schemas"].values():
            if s.get("$id") == ref:
                names |= properties(doc, s, s)
    names |= set(schema.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            names |= properties(doc, sub, root)
    return names


def main():
    with open(sys.argv[1], "rb") as f:
        conf = tomllib.load(f)
    with open(sys.argv[2]) as f:
        doc = yaml.safe_load(f)
    channels = {}
    for ch in doc["channels"].values():
        topic = re.sub(r"\{[a-z]+\}", "+", ch["address"])
        schemas = [doc["components"]["messages"][m["$ref"].split("/")[-1]]["payload"]["schema"] for m in ch["messages"].values()]
        channels[topic] = (ch["address"], schemas)
    consumers = conf.get("inputs", {}).get("mqtt_consumer", [])
    if not consumers:
        fail("no [[inputs.mqtt_consumer]]")
    for c in consumers:
        if c.get("qos") != 1:
            fail(f"{c.get('topics')}: qos must be 1 (the station publishes at QoS 1)")
        for topic in c["topics"]:
            if topic not in channels:
                fail(f"topic {topic} is not a channel of asyncapi.yaml ({', '.join(channels)})")
            address, schemas = channels[topic]
            for tp in c.get("topic_parsing", []):
                parts, tags = address.split("/"), tp["tags"].split("/")
                # A tag names the parameter at its place; `_` skips a level.
                if len(parts) != len(tags) or any(
                    t != "_" and t != (p[1:-1] if p.startswith("{") else None) for p, t in zip(parts, tags)
                ):
                    fail(f"topic_parsing tags {tp['tags']} do not match {address}")
            allowed = set()
            for s in schemas:
                allowed |= properties(doc, s)
            for j in c.get("json_v2", []):
                for kind in ("tag", "field"):
                    for item in j.get(kind, []):
                        top = item["path"].split(".")[0]
                        if top not in allowed:
                            fail(f"{topic}: json_v2 {kind} path {item['path']} is not in the message schema")
                ts = j.get("timestamp_path")
                if ts and ts not in allowed:
                    fail(f"{topic}: timestamp_path {ts} is not in the message schema")
    print(f"telegraf.conf: {len(consumers)} mqtt_consumer inputs match docs/asyncapi.yaml")


if __name__ == "__main__":
    main()
