#!/usr/bin/env node
// The input a consumer gives quicktype, made from docs/asyncapi.yaml alone: every
// components.schemas entry under `$defs` of one JSON Schema file (their absolute `$id`s kept,
// so `$ref`s resolve as in the document), and the list of top-level types to generate —
// one per schema a message's payload names. Two rewrites quicktype needs, both meaning the
// same here: a `$ref` with sibling keywords becomes `allOf: [{$ref}, {siblings}]` (the
// siblings say `type: object` when they use object keywords: every `$ref`'d schema of the
// document is an object), and a `required` name missing from the same object's
// `properties` is added there as `{}` (any). `unevaluatedProperties` is left out: quicktype
// reads it as "no other properties" and drops those of the `$ref`'d schema; models parse,
// the validators validate.
//
// Usage: node models.mjs ASYNCAPI_YAML OUT_DIR   → OUT_DIR/schemas.json; prints the
// quicktype source arguments (`schemas.json#/$defs/<name>`), one per line.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const [docPath, outDir] = process.argv.slice(2);
const doc = parse(readFileSync(docPath, "utf8"));
const ANNOTATIONS = ["$id", "$schema", "title", "description"];

function rewrite(node) {
  if (Array.isArray(node)) return node.map(rewrite);
  if (!node || typeof node !== "object") return node;
  const out = Object.fromEntries(Object.entries(node).filter(([k]) => k !== "unevaluatedProperties").map(([k, v]) => [k, ["enum", "const", "examples", "default"].includes(k) ? v : rewrite(v)]));
  if (Array.isArray(out.required)) {
    out.properties ??= {};
    for (const name of out.required) out.properties[name] ??= {};
  }
  if (typeof out.$ref === "string" && Object.keys(out).some((k) => k !== "$ref" && !ANNOTATIONS.includes(k))) {
    const { $ref, ...rest } = out;
    const keep = Object.fromEntries(ANNOTATIONS.filter((k) => k in rest).map((k) => [k, rest[k]]));
    for (const k of ANNOTATIONS) delete rest[k];
    // Object keywords without a `type` (the `$ref`'d schema has it): quicktype needs it said.
    if (!("type" in rest) && ["properties", "required", "additionalProperties", "unevaluatedProperties"].some((k) => k in rest)) {
      rest.type = "object";
    }
    return { ...keep, allOf: [{ $ref }, rest] };
  }
  return out;
}

const defs = rewrite(doc.components.schemas);
writeFileSync(join(outDir, "schemas.json"), JSON.stringify({ $schema: "https://json-schema.org/draft/2020-12/schema", $defs: defs }, null, 1));
const local = (ref) => ref.slice(2).split("/").reduce((n, p) => n[p], doc);
const tops = new Set();
for (const ch of Object.values(doc.channels)) {
  for (const ref of Object.values(ch.messages ?? {})) {
    const m = ref.$ref ? local(ref.$ref) : ref;
    const s = m.payload.schema.$ref;
    if (!s?.startsWith("#/components/schemas/")) throw new Error(`message ${m.name}: payload schema is not a components.schemas $ref`);
    tops.add(s.slice("#/components/schemas/".length));
  }
}
for (const name of tops) console.log(`schemas.json#/$defs/${name}`);
