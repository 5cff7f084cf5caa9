#!/usr/bin/env node
// The cloud contract, checked a second time with other tools: ajv (JSON Schema 2020-12,
// `ajv/dist/2020`) with ajv-formats, the document read by the `yaml` package (all pinned in
// tests/contract/package-lock.json). It shares nothing with validate.py but its inputs and
// applies the same rules (see validate.py's docstring for them in full):
//
// - docs/asyncapi.yaml: every components.schemas entry has an absolute $id and compiles
//   under ajv's strict mode (strictTypes and strictRequired off: a narrowing schema such as
//   `{$ref: event.json, properties: {kind: {const: …}}}` leaves `type` and the properties
//   of `required` to the schema it refers to; schemars' numeric formats such as `uint64`
//   are known and range-checked); every $ref resolves; every example matches.
// - every captured message (STATIOND_CAPTURE_DIR: JSON lines {topic, retain, payload,
//   client}) is routed topic → channel → its messages. On channels the station sends on it
//   must match one (retained only where the operation binds retain: true). On channels it
//   receives on (the cloud's commands) it must match its command's message, or the first
//   reply its sender got afterwards on the operation's reply channel echoing its request_id
//   (null when it has none) must be `ok: false`; a command that matched but was refused for
//   a schema reason fails. Commands over the servers' maximumPacketSize are not delivered.
//
// Usage: node validate.mjs ASYNCAPI_YAML CAPTURE_DIR   (exit 1 on any mismatch or nothing checked)

import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parse } from "yaml";

const FORMAT = "application/schema+json;version=2020-12";
const EXPORT_TOPIC = "(queue export)";
// The reply protocol (docs/MQTT.md "Reply").
const SCHEMA_REFUSALS = new Set(["invalid_field", "missing_field", "unknown_field", "bad_json"]);
const MAX_REQUEST_ID = 128;
const MAX_COMMAND_BYTES = 64 * 1024;

let problems = 0;
const problem = (msg) => {
  problems += 1;
  console.error(msg);
};
const die = (msg) => {
  console.error(`contract (ajv): ${msg}`);
  process.exit(1);
};

const [docPath, captureDir] = process.argv.slice(2);
if (!docPath || !captureDir) die("usage: node validate.mjs ASYNCAPI_YAML CAPTURE_DIR");
const doc = parse(readFileSync(docPath, "utf8"));

// Local AsyncAPI references (#/channels/…, #/components/…).
function local(node) {
  while (node && typeof node === "object" && typeof node.$ref === "string" && node.$ref.startsWith("#/")) {
    node = node.$ref
      .slice(2)
      .split("/")
      .reduce((n, part) => n[part.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
  }
  return node;
}

const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
addFormats(ajv);
// The numeric formats schemars writes for Rust integer and float types (strict mode refuses
// an unknown format): each checks the range of its type.
const range = (lo, hi) => ({ type: "number", validate: (n) => Number.isInteger(n) && n >= lo && n <= hi });
for (const [name, format] of Object.entries({
  uint8: range(0, 255),
  uint16: range(0, 65535),
  uint32: range(0, 4294967295),
  uint64: range(0, Number.MAX_SAFE_INTEGER),
  uint: range(0, Number.MAX_SAFE_INTEGER),
  int8: range(-128, 127),
  int16: range(-32768, 32767),
  int32: range(-2147483648, 2147483647),
  int64: range(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  int: range(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  float: { type: "number", validate: Number.isFinite },
  double: { type: "number", validate: Number.isFinite },
})) {
  ajv.addFormat(name, format);
}
const schemas = doc.components.schemas;
const byId = new Map();
for (const [name, schema] of Object.entries(schemas)) {
  if (!/^https?:\/\//.test(schema.$id ?? "")) die(`components.schemas.${name} has no absolute $id`);
  byId.set(schema.$id, schema);
  ajv.addSchema(schema);
}
// Compiling resolves every $ref (MissingRefError otherwise) and applies strict mode.
let compiled = 0;
for (const [name, schema] of Object.entries(schemas)) {
  try {
    ajv.getSchema(schema.$id);
    compiled += 1;
  } catch (e) {
    problem(`components.schemas.${name}: does not compile: ${e.message}`);
  }
}

function validatorOf(schema) {
  if (schema.$id && byId.has(schema.$id)) return ajv.getSchema(schema.$id);
  return ajv.compile(schema);
}

// {property: Set of JSON values} from top-level const/enum, following a whole-schema $ref.
function discriminators(schema, depth = 0) {
  const out = new Map();
  if (!schema || typeof schema !== "object" || depth > 5) return out;
  for (const [p, sub] of Object.entries(schema.properties ?? {})) {
    if (sub && typeof sub === "object" && "const" in sub) out.set(p, new Set([JSON.stringify(sub.const)]));
    else if (sub && Array.isArray(sub.enum)) out.set(p, new Set(sub.enum.map((v) => JSON.stringify(v))));
  }
  if (typeof schema.$ref === "string" && !schema.$ref.includes("#") && byId.has(schema.$ref)) {
    for (const [p, v] of discriminators(byId.get(schema.$ref), depth + 1)) if (!out.has(p)) out.set(p, v);
  }
  return out;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
function addressRegex(address, suffix) {
  const names = [];
  const body = address
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return escapeRe(part);
      names.push(m[1]);
      return "([^/]+)";
    })
    .join("");
  const re = new RegExp(`^${body}${suffix}$`);
  return (topic) => {
    const m = re.exec(topic);
    return m ? Object.fromEntries(names.map((n, i) => [n, m[i + 1]])) : null;
  };
}

// Channels, their operations and messages.
const channels = [];
const byAddress = new Map();
let examples = 0;
for (const [name, ch] of Object.entries(doc.channels)) {
  const c = {
    name,
    address: ch.address,
    exact: addressRegex(ch.address, ""),
    below: addressRegex(ch.address, "/.+"),
    action: null,
    retained: false,
    reply: null,
    messages: [],
    selector: null,
  };
  const names = new Set();
  for (const [key, ref] of Object.entries(ch.messages ?? {})) {
    const m = local(ref);
    if (m.payload?.schemaFormat !== FORMAT) die(`channel ${name} message ${key}: schemaFormat must be ${FORMAT}`);
    const schema = local(m.payload.schema);
    const validate = validatorOf(schema);
    const label = m.name ?? key;
    names.add(key).add(label);
    c.messages.push({ key, label, validate, disc: discriminators(schema) });
    for (const ex of m.examples ?? []) {
      examples += 1;
      if (!validate(ex.payload)) problem(`${name}/${label}: example ${JSON.stringify(ex.name)}: ${ajv.errorsText(validate.errors)}`);
    }
  }
  for (const [pname, p] of Object.entries(ch.parameters ?? {})) {
    const param = local(p);
    if (Array.isArray(param?.enum) && param.enum.length && param.enum.every((v) => names.has(v))) {
      c.selector = { param: pname, values: new Set(param.enum) };
    }
  }
  channels.push(c);
  byAddress.set(c.address, c);
}
for (const op of Object.values(doc.operations ?? {})) {
  const c = byAddress.get(local(op.channel).address);
  c.action = op.action;
  c.retained = op.bindings?.mqtt?.retain === true;
  if (op.reply?.channel) c.reply = byAddress.get(local(op.reply.channel).address);
}
const limits = Object.values(doc.servers ?? {})
  .map((s) => s.bindings?.mqtt?.maximumPacketSize)
  .filter((n) => Number.isInteger(n));
const maxPacket = limits.length ? Math.min(...limits) : null;
// The channels' common leading levels: a topic under them that no channel has is an error.
const split = channels.map((c) => c.address.split("/"));
const common = [];
for (let i = 0; split.every((s) => i < s.length && s[i] === split[0][i]); i++) common.push(split[0][i]);
const underStation = addressRegex(common.join("/"), "/.+");
console.log(`contract (ajv): docs/asyncapi.yaml: ${compiled} schemas compile (strict), every $ref resolves; ${examples} examples checked`);

function candidates(c, params, payload) {
  if (c.selector) {
    const v = params[c.selector.param];
    return c.messages.filter((m) => c.selector.values.has(v) && (m.key === v || m.label === v));
  }
  if (payload && typeof payload === "object" && !Array.isArray(payload)) {
    const values = new Set();
    for (const m of c.messages) for (const p of m.disc.keys()) if (p in payload) values.add(String(payload[p]));
    const hits = [];
    for (const m of c.messages) {
      const keys = [...m.disc.keys()].filter((p) => p in payload);
      if (keys.length && keys.every((p) => m.disc.get(p).has(JSON.stringify(payload[p])))) {
        const named = values.has(m.label) || values.has(m.key) ? 0 : 1;
        hits.push([named, Math.max(...keys.map((p) => m.disc.get(p).size)), m]);
      }
    }
    if (hits.length) return hits.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((h) => h[2]);
  }
  return c.messages;
}
const firstMatch = (msgs, payload) => msgs.find((m) => m.validate(payload));
function explain(where, msgs, payload, raw) {
  for (const m of msgs.slice(0, 3)) {
    m.validate(payload);
    console.error(`${where}: ${m.label}: ${ajv.errorsText(m.validate.errors).slice(0, 400)}`);
  }
  if (!msgs.length) console.error(`${where}: the channel has no message for this topic`);
  console.error(`    payload: ${raw.slice(0, 400)}`);
}

// A request_id as the reply echoes it: a string as is, else its JSON text; 128 characters
// (+ `…`), control characters escaped as Rust's escape_default does.
// JSON text as serde_json writes it: compact, object keys sorted (a float such as 1.0 reads
// back as 1 here; no test sends one).
const sorted = (v) =>
  Array.isArray(v) ? v.map(sorted) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
function echo(v) {
  const text = Array.from(typeof v === "string" ? v : JSON.stringify(sorted(v)));
  const esc = { "\t": "\\t", "\r": "\\r", "\n": "\\n" };
  const out = text
    .slice(0, MAX_REQUEST_ID)
    .map((ch) => {
      const cp = ch.codePointAt(0);
      if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return esc[ch] ?? `\\u{${cp.toString(16)}}`;
      return ch;
    })
    .join("");
  return text.length > MAX_REQUEST_ID ? `${out}…` : out;
}
function expectedEcho(raw) {
  if (Buffer.byteLength(raw, "utf8") > MAX_COMMAND_BYTES) return null;
  let v;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v) || !("request_id" in v)) return null;
  return echo(v.request_id);
}

const senders = channels.filter((c) => c.action === "send");
const checked = new Map();
const refused = new Map();
const bump = (map, k) => map.set(k, (map.get(k) ?? 0) + 1);
let foreign = 0;
const files = readdirSync(captureDir).filter((f) => f.endsWith(".jsonl")).sort();
for (const file of files) {
  const recs = readFileSync(join(captureDir, file), "utf8")
    .split("\n")
    .filter((l) => l.length)
    .map((l) => JSON.parse(l));
  const replies = new Map();
  recs.forEach((r, i) => {
    const k = `${r.client}\u0000${r.topic}`;
    if (!replies.has(k)) replies.set(k, []);
    replies.get(k).push(i);
  });
  const used = new Set();
  const replyTo = (i, client, topic, rid) => {
    for (const j of replies.get(`${client}\u0000${topic}`) ?? []) {
      if (j <= i || used.has(j)) continue;
      let r;
      try {
        r = JSON.parse(recs[j].payload);
      } catch {
        continue;
      }
      if (r && typeof r === "object" && r.request_id === rid) {
        used.add(j);
        return r;
      }
    }
    return null;
  };

  recs.forEach((rec, i) => {
    const { topic, payload: raw } = rec;
    const where = `${basename(file)}:${i + 1} ${topic}`;
    let payload;
    let isJson = true;
    try {
      payload = JSON.parse(raw);
    } catch {
      isJson = false;
    }
    if (topic === EXPORT_TOPIC) {
      for (const c of senders) {
        const m = firstMatch(candidates(c, {}, payload), payload);
        if (m) return bump(checked, `${c.name}/${m.label} (queue export)`);
      }
      problem(`${where}: matches no message of any channel the station sends on`);
      return;
    }
    let c = null;
    let params = null;
    let below = false;
    for (const ch of channels) {
      params = ch.exact(topic);
      if (params) {
        c = ch;
        break;
      }
    }
    if (!c) {
      for (const ch of channels.filter((x) => x.action === "receive")) {
        params = ch.below(topic);
        if (params) {
          c = ch;
          below = true;
          break;
        }
      }
    }
    if (!c) {
      if (underStation(topic)) problem(`${where}: no channel of docs/asyncapi.yaml has this topic`);
      else foreign += 1;
      return;
    }
    if (c.action === "receive") {
      if (maxPacket && Buffer.byteLength(raw, "utf8") > maxPacket) {
        return bump(checked, `${c.name} (over maximumPacketSize: not delivered, no reply due)`);
      }
      const msgs = below ? [] : candidates(c, params, payload);
      // A command published retained reaches a connected station live (MQTT 3.1.1 clears the
      // flag) and is judged like any other; its retained copy later is answered retained_command.
      const match = isJson ? firstMatch(msgs, payload) : undefined;
      const label = match?.label ?? (msgs.length === 1 ? msgs[0].label : "(no message)");
      const rid = expectedEcho(raw);
      const replyTopic = c.reply?.address.replace(/\{([^}]+)\}/g, (all, p) => params[p] ?? all);
      const reply = c.reply ? replyTo(i, rec.client, replyTopic, rid) : null;
      const isRefusal = reply?.ok === false;
      const code = isRefusal ? reply.error?.code : undefined;
      if (match && SCHEMA_REFUSALS.has(code)) {
        problem(`${where}: matches ${c.name}/${label} but the station refused it as ${code}: ${JSON.stringify(reply)}`);
      } else if (match) {
        bump(checked, `${c.name}/${label}`);
      } else if (isRefusal) {
        bump(checked, `${c.name}/${label}`);
        bump(refused, `${c.name}/${label}`);
      } else {
        problem(`${where}: matches no message of ${c.name} and no refusal echoing request_id ${JSON.stringify(rid)} follows it`);
        explain(where, msgs, payload, raw);
      }
      return;
    }
    if (rec.retain && !c.retained) problem(`${where}: arrived retained on a channel documented as not retained`);
    if (raw === "" && c.retained) return bump(checked, `${c.name} (cleared)`);
    if (!isJson) return problem(`${where}: payload is not JSON: ${raw.slice(0, 200)}`);
    const msgs = candidates(c, params, payload);
    const m = firstMatch(msgs, payload);
    if (m) bump(checked, `${c.name}/${m.label}`);
    else {
      problem(`${where}: matches no message of ${c.name}`);
      explain(where, msgs, payload, raw);
    }
  });
}

const total = [...checked.values()].reduce((a, b) => a + b, 0);
console.log(
  `contract (ajv): ${total} messages checked in ${files.length} capture files; 0 not checked (${foreign} on the tests' own topics, outside the document)`,
);
for (const [name, n] of [...checked].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
  const r = refused.get(name);
  console.log(`  ${String(n).padStart(6)}  ${name}${r ? `  (${r} did not match and were refused by the station)` : ""}`);
}
if (problems) die(`${problems} mismatches between captured messages, examples and docs/asyncapi.yaml`);
if (total === 0) die(`no messages captured in ${captureDir}: is STATIOND_CAPTURE_DIR set for cargo test?`);
