#!/usr/bin/env python3
"""Every captured message through a consumer's typed models, and back.

The models are generated fresh from docs/asyncapi.yaml by models.sh (quicktype, Python
dataclasses with `<type>_from_dict` / `<type>_to_dict`). Each captured message is routed to
its channel's message as validate.py does (this file uses its routing), then parsed into the
model of that message's payload schema and turned back into a dict, which must equal the
original. One normalisation: a string that is an RFC 3339 date-time may come back in another
spelling of the same instant (the models hold a `datetime`: `…41.796Z` returns as
`…41.796000+00:00`). Commands the station refused (they match no message) have no model to
go through and are counted as such.

Usage: roundtrip.py ASYNCAPI_YAML MODELS_PY CAPTURE_DIR   (exit 1 on a mismatch, on a
message kind without a model, or on nothing round-tripped).
"""

import glob
import importlib.util
import json
import os
import re
import sys
from collections import Counter
from datetime import datetime

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate  # noqa: E402  (the Python validator's routing, not the ajv one's)


def fail(msg):
    print(f"roundtrip: {msg}", file=sys.stderr)
    sys.exit(1)


def instant(s):
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", s):
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        return None


def diff(a, b, path="$"):
    """Where the original `a` and the round-tripped `b` differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                return f"{path}.{k}: dropped"
            if k not in a:
                return f"{path}.{k}: added ({json.dumps(b[k], default=str)[:80]})"
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items became {len(b)}"
        return next((d for d in (diff(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b))) if d), None)
    if type(a) is type(b) and a == b:
        return None
    if isinstance(a, str) and isinstance(b, str) and instant(a) and instant(a) == instant(b):
        return None  # the normalisation: the same instant
    return f"{path}: {json.dumps(a)[:80]} became {json.dumps(b, default=str)[:80]}"


def roundtrip(codec, payload):
    """None when the payload survives `to_dict(from_dict(payload))`, else where it did not."""
    from_dict, to_dict = codec
    try:
        back = to_dict(from_dict(payload))
        return diff(payload, json.loads(json.dumps(back, default=str)))
    except Exception as e:  # noqa: BLE001 - the model refused a valid message
        return f"the model refused it: {type(e).__name__} {e}"[:300]


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    with open(sys.argv[1]) as f:
        doc = yaml.safe_load(f)
    spec = importlib.util.spec_from_file_location("stationd_models", sys.argv[2])
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    # quicktype names `<type>_from_dict` after the schema's name: match them ignoring case
    # and separators (`cmd.order.upsert` → `cmd_order_upsert_from_dict`).
    squash = lambda s: re.sub(r"[^a-z0-9]", "", s.lower())  # noqa: E731
    codecs = {
        squash(n[: -len("_from_dict")]): (getattr(models, n), getattr(models, n[: -len("_from_dict")] + "_to_dict"))
        for n in dir(models)
        if n.endswith("_from_dict") and n != "from_dict"
    }

    channels, station_prefix, max_packet = validate.load(doc)
    senders = [c for c in channels if c.action == "send"]
    codec_of = lambda m: codecs[squash(m[4].rsplit("/", 1)[-1])]  # noqa: E731
    missing = [f"{c.name}/{m[0]} ({m[4]})" for c in channels for m in c.messages if squash(m[4].rsplit("/", 1)[-1]) not in codecs]
    if missing:
        fail(f"no model generated for: {', '.join(missing)}")
    # The document's examples first (they cover kinds the tests do not make).
    done, refused, bad, foreign = Counter(), 0, 0, 0
    for cname, ch in doc["channels"].items():
        c = next(x for x in channels if x.name == cname)
        for (label, *_), ref in zip(c.messages, ch["messages"].values()):
            for example in validate.deref(doc, ref).get("examples", []):
                d = roundtrip(codec_of(next(m for m in c.messages if m[0] == label)), example["payload"])
                if d:
                    bad += 1
                    print(f"{cname}/{label}: example {example.get('name')!r}: {d}", file=sys.stderr)
                else:
                    done[f"{cname}/{label} (examples)"] += 1
    for path in sorted(glob.glob(os.path.join(sys.argv[3], "*.jsonl"))):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                rec = json.loads(line)
                topic, raw = rec["topic"], rec["payload"]
                try:
                    payload = json.loads(raw)
                except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
                    payload = None
                if topic == validate.EXPORT_TOPIC:
                    routes = [(c, {}) for c in senders]
                else:
                    routes = [(c, m.groupdict()) for c in channels for m in [c.exact.match(topic)] if m]
                    if not routes and not station_prefix.match(topic):
                        foreign += 1  # a test's own topic, not the station's
                        continue
                match = None
                for c, params in routes:
                    if c.action == "receive" and max_packet and len(raw.encode()) > max_packet:
                        continue
                    cands = validate.candidates(c, params, payload) if payload is not None else []
                    # validate.py checked it already: one candidate on the one send channel of
                    # its topic is it (an exported event is tried on every send channel).
                    one = len(cands) == 1 and c.action == "send" and topic != validate.EXPORT_TOPIC
                    match = cands[0] if one else validate.first_match(cands, payload)
                    if match:
                        break
                if match is None:
                    receiving = [c for c in channels if c.action == "receive" and (c.exact.match(topic) or c.below.match(topic))]
                    if raw == "" or receiving:
                        refused += 1  # a cleared retained topic or a command the station refused
                        continue
                    bad += 1
                    print(f"{os.path.basename(path)}:{n} {topic}: matches no message (validate.py says why)", file=sys.stderr)
                    continue
                label = f"{c.name}/{match[0]}"
                d = roundtrip(codec_of(match), payload)
                if d:
                    bad += 1
                    print(f"{os.path.basename(path)}:{n} {label}: {d}\n    payload: {raw[:300]}", file=sys.stderr)
                else:
                    done[label] += 1
    total = sum(done.values())
    print(f"roundtrip: {total} messages parsed into their model and back unchanged "
          f"({refused} refused commands or cleared topics have no model; {foreign} on the tests' own topics)")
    for label, count in sorted(done.items()):
        print(f"  {count:6}  {label}")
    if bad:
        fail(f"{bad} messages did not survive the round trip through the generated models")
    if total == 0:
        fail("no message went through the models")


if __name__ == "__main__":
    main()
