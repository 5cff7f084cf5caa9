//! The station's MQTT contract as a document: `stationd contract` prints docs/asyncapi.yaml,
//! made from the wire types themselves — events, device states, the status, every command's
//! payload and the reply — so the document cannot say something the code does not.
//!
//! Design constraints:
//! - every schema is a JSON Schema 2020-12 root with an absolute `$id` under
//!   [`SCHEMA_BASE`] and its own `$defs`; every `$ref` inside it is `#/$defs/…`, so any
//!   standard resolver (RFC 3986 against the schema's own `$id`) finds it;
//! - a field that is absent on the wire when it has no value is optional in the schema, not
//!   `null` (`option_add_null_type = false`); the few fields that really are `null` say so
//!   on their type;
//! - prose and addresses (info, servers, channel descriptions, operations) come from
//!   `asyncapi-head.yaml`; examples come from `examples.json` and must read back into their
//!   type before they are written.

mod yaml;

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::devices::DeviceState;
use crate::event::{Envelope, Event};
use crate::station::Reply;
use crate::uplink::commands::{command_schemas, parse_command, Payload, DEPRECATED_NAMES};
use crate::uplink::presence::Presence;

/// Where the schemas' `$id`s live (nothing is fetched from there).
pub const SCHEMA_BASE: &str = "https://stationd.example/schemas/v2";
const SCHEMA_FORMAT: &str = "application/schema+json;version=2020-12";
const HEAD: &str = include_str!("asyncapi-head.yaml");
const EXAMPLES: &str = include_str!("examples.json");

/// One message of the document: its key in `components.messages` (also its schema's key in
/// `components.schemas`), its name on the channel, and the schema.
struct Message {
    key: String,
    name: String,
    summary: Option<String>,
    /// The payload's schema: its own, or (a deprecated alias) the key of another message's.
    schema: Result<Value, String>,
}

/// Which way a type crosses the wire: what the station writes (a field left out when empty
/// is optional and never `null`; one always written is required) or what it reads
/// (commands: optional fields may be `null`, read as absent).
#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Sent,
    Read,
}

fn generator(direction: Direction) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Sent => settings.for_serialize(),
        Direction::Read => settings.for_deserialize(),
    };
    settings.into_generator()
}

/// The root schema `make` builds, made ready for the document: absolute `$id`, only the
/// `$defs` it uses, standard formats only, and (for what the station sends) no `null` for a
/// field that is absent when empty.
fn finished(make: Payload, direction: Direction, id: &str) -> Value {
    let mut schema = make(&mut generator(direction)).to_value();
    finish(&mut schema, direction, id);
    schema
}

fn finish(schema: &mut Value, direction: Direction, id: &str) {
    schema["$id"] = json!(format!("{SCHEMA_BASE}/{id}.json"));
    strip_number_formats(schema);
    if direction == Direction::Sent {
        absent_not_null(schema);
    }
    prune_defs(schema);
}

/// schemars marks integer widths as `format: uint64` and the like; JSON Schema knows no such
/// formats (strict validators refuse them), and `minimum`/`maximum` already say the range.
fn strip_number_formats(schema: &mut Value) {
    const WIDTHS: &[&str] =
        &["int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float", "double", "int"];
    match schema {
        Value::Object(m) => {
            if m.get("format").and_then(Value::as_str).is_some_and(|f| WIDTHS.contains(&f)) {
                m.remove("format");
            }
            m.values_mut().for_each(strip_number_formats);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_number_formats),
        _ => {}
    }
}

/// An optional property of an object the station writes is left out rather than `null`
/// (serde's `skip_serializing_if`): its schema does not admit `null`. A required one keeps
/// `null` where its type says so (the reply's `request_id`, `journal.recovered`'s
/// `may_be_lost`).
fn absent_not_null(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            let required: Vec<String> = m
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                props.iter_mut().filter(|(name, _)| !required.contains(name)).for_each(|(_, prop)| drop_null(prop));
            }
            m.values_mut().for_each(absent_not_null);
        }
        Value::Array(a) => a.iter_mut().for_each(absent_not_null),
        _ => {}
    }
}

fn drop_null(prop: &mut Value) {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    let Value::Object(p) = prop else { return };
    if let Some(Value::Array(types)) = p.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            p.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any)) = p.get_mut("anyOf") {
        any.retain(|v| !is_null(v));
        if any.len() == 1 {
            let only = any.remove(0);
            p.remove("anyOf");
            if let Value::Object(o) = only {
                p.extend(o);
            }
        }
    }
}

/// Keeps only the `$defs` a schema reaches from its root.
fn prune_defs(schema: &mut Value) {
    let Some(Value::Object(defs)) = schema.get("$defs").cloned() else { return };
    let mut used = std::collections::BTreeSet::new();
    let mut todo = Vec::new();
    let mut root = schema.clone();
    if let Value::Object(m) = &mut root {
        m.remove("$defs");
    }
    refs(&root, &mut todo);
    while let Some(r) = todo.pop() {
        let Some(name) = r.strip_prefix("#/$defs/") else { continue };
        if used.insert(name.to_string()) {
            if let Some(def) = defs.get(name) {
                refs(def, &mut todo);
            }
        }
    }
    let kept: Map<String, Value> = defs.into_iter().filter(|(k, _)| used.contains(k)).collect();
    let m = schema.as_object_mut().expect("a root schema is an object");
    if kept.is_empty() {
        m.remove("$defs");
    } else {
        m.insert("$defs".into(), Value::Object(kept));
    }
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn describe(schema: &Value) -> Option<String> {
    // The first paragraph, on one line.
    let d = schema.get("description").and_then(Value::as_str)?;
    Some(d.split("\n\n").next().unwrap_or(d).replace('\n', " "))
}

/// One schema per event kind: the envelope with `kind` fixed and `data` that kind's struct
/// (the envelope's `oneOf` over all kinds, split so each kind is a message of its own).
fn event_messages() -> Result<Vec<Message>, String> {
    let envelope = generator(Direction::Sent).root_schema_for::<Envelope>().to_value();
    let variants =
        envelope.get("oneOf").and_then(Value::as_array).ok_or("the envelope's schema has no oneOf of kinds")?;
    let mut out = Vec::new();
    for variant in variants {
        let kind = variant
            .pointer("/properties/kind/const")
            .and_then(Value::as_str)
            .ok_or("an event variant without a kind const")?
            .to_string();
        let mut schema = envelope.clone();
        let m = schema.as_object_mut().expect("an object");
        m.remove("oneOf");
        m.remove("unevaluatedProperties");
        if let Some(d) = variant.get("description") {
            m.insert("description".into(), d.clone());
        }
        let props = m.get_mut("properties").and_then(Value::as_object_mut).ok_or("the envelope has no properties")?;
        props.insert("kind".into(), json!({ "const": kind }));
        props.insert("data".into(), variant.pointer("/properties/data").cloned().unwrap_or(json!({})));
        let required = m.get_mut("required").and_then(Value::as_array_mut).ok_or("the envelope has no required")?;
        required.extend([json!("kind"), json!("data")]);
        m.insert("additionalProperties".into(), json!(false));
        finish(&mut schema, Direction::Sent, &format!("events/{kind}"));
        out.push(Message { key: kind.clone(), name: kind, summary: describe(&schema), schema: Ok(schema) });
    }
    let kinds: Vec<&str> = out.iter().map(|m| m.name.as_str()).collect();
    if kinds != Event::KINDS {
        return Err(format!("the envelope's schema lists kinds {kinds:?}, not Event::KINDS"));
    }
    Ok(out)
}

/// Every message by channel, in the order the document lists them.
fn messages() -> Result<Vec<(&'static str, Vec<Message>)>, String> {
    let single = |key: &str, make: Payload| {
        let schema = finished(make, Direction::Sent, key);
        Message { key: key.to_string(), name: key.to_string(), summary: describe(&schema), schema: Ok(schema) }
    };
    let mut commands: Vec<Message> = command_schemas()
        .into_iter()
        .map(|(name, make)| {
            let schema = finished(make, Direction::Read, &format!("commands/{name}"));
            let summary = describe(&schema);
            Message { key: format!("command.{name}"), name: name.to_string(), summary, schema: Ok(schema) }
        })
        .collect();
    // The v1 names, taken for one release where a broker carries them: the same payload.
    commands.extend(DEPRECATED_NAMES.iter().map(|&(v1, v2)| Message {
        key: format!("command.{v1}"),
        name: v1.to_string(),
        summary: Some(format!(
            "Deprecated: the v1 name of {v2}, still taken on brokers that carry a `.` in a topic (Mosquitto); \
             the reply says `deprecated`. Publish on cmd/{v2}."
        )),
        schema: Err(format!("command.{v2}")),
    }));
    Ok(vec![
        ("events", event_messages()?),
        ("status", vec![single("status", SchemaGenerator::root_schema_for::<Presence>)]),
        ("devices", vec![single("device", SchemaGenerator::root_schema_for::<DeviceState>)]),
        ("command", commands),
        ("reply", vec![single("reply", SchemaGenerator::root_schema_for::<Reply>)]),
    ])
}

/// `payload` reads as `T` and writes back as the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(payload: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(payload.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &back != payload {
        return Err(format!("writes back as {back}"));
    }
    Ok(())
}

/// The examples of a message, each checked against its type first: what the station sends
/// reads and writes back unchanged; a command passes the station's own parser.
fn examples(channel: &str, key: &str, all: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let Some(list) = all.get(key) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| format!("examples.json: {key} is not a list"))?;
    for example in list {
        let payload = example.get("payload").cloned().unwrap_or(Value::Null);
        let checked = match channel {
            "events" => round_trip::<Envelope>(&payload),
            "status" => round_trip::<Presence>(&payload),
            "devices" => round_trip::<DeviceState>(&payload),
            "reply" => round_trip::<Reply>(&payload),
            _ => {
                let name = key.strip_prefix("command.").unwrap_or(key);
                parse_command(name, payload.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
            }
        };
        checked.map_err(|e| format!("examples.json: an example of {key} does not match its type: {e}"))?;
    }
    Ok(list.clone())
}

/// The whole document as a JSON value.
pub fn asyncapi() -> Result<Value, String> {
    let mut doc: Value = serde_yaml_ng::from_str(HEAD).map_err(|e| format!("src/contract/asyncapi-head.yaml: {e}"))?;
    let all_examples: Map<String, Value> =
        serde_json::from_str(EXAMPLES).map_err(|e| format!("src/contract/examples.json: {e}"))?;
    let (mut components_messages, mut components_schemas) = (Map::new(), Map::new());
    for (channel, list) in messages()? {
        let mut refs = Map::new();
        for m in &list {
            refs.insert(m.name.clone(), json!({ "$ref": format!("#/components/messages/{}", m.key) }));
            let mut message = Map::new();
            message.insert("name".into(), json!(m.name));
            if let Some(s) = &m.summary {
                message.insert("summary".into(), json!(s));
            }
            let schema_key = match &m.schema {
                Ok(schema) => {
                    // Titled by its key: consumers' generators name the type after it.
                    let mut schema = schema.clone();
                    schema["title"] = json!(m.key);
                    components_schemas.insert(m.key.clone(), schema);
                    &m.key
                }
                Err(other) => other,
            };
            message.insert(
                "payload".into(),
                json!({ "schemaFormat": SCHEMA_FORMAT, "schema": { "$ref": format!("#/components/schemas/{schema_key}") } }),
            );
            let examples = examples(channel, &m.key, &all_examples)?;
            if !examples.is_empty() {
                message.insert("examples".into(), Value::Array(examples));
            }
            components_messages.insert(m.key.clone(), Value::Object(message));
        }
        let ch = doc
            .pointer_mut(&format!("/channels/{channel}"))
            .ok_or_else(|| format!("asyncapi-head.yaml has no channel {channel}"))?;
        if channel == "command" {
            let names: Vec<Value> = list.iter().map(|m| json!(m.name)).collect();
            ch["parameters"]["name"]["enum"] = Value::Array(names);
        }
        ch["messages"] = Value::Object(refs);
    }
    doc["components"] = json!({ "messages": components_messages, "schemas": components_schemas });
    Ok(doc)
}

/// The document as YAML, with a header saying where it comes from.
pub fn asyncapi_yaml() -> Result<String, String> {
    let doc = asyncapi()?;
    let body = yaml::to_yaml(&doc);
    Ok(format!(
        "# The station's MQTT contract, generated by `stationd contract` from its wire types\n\
         # (src/contract): do not edit; change the types and run\n\
         #   cargo run -- contract > docs/asyncapi.yaml\n\
         # docs/MQTT.md is the readable guide.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_an_absolute_id_and_refs_only_into_its_own_defs() {
        let doc = asyncapi().unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.len() >= 3);
        for (key, schema) in schemas {
            let id = schema["$id"].as_str().unwrap_or_default();
            assert!(id.starts_with(SCHEMA_BASE) && id.ends_with(".json"), "{key}: $id {id:?}");
            let mut found = Vec::new();
            refs(schema, &mut found);
            for r in found {
                let def = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("{key}: $ref {r} leaves the schema"));
                assert!(schema["$defs"].get(def).is_some(), "{key}: $ref {r} has no definition");
            }
        }
    }

    #[test]
    fn a_field_the_station_leaves_out_is_optional_and_never_null_one_it_writes_as_null_says_so() {
        let doc = asyncapi().unwrap();
        let schemas = &doc["components"]["schemas"];
        let state = &schemas["order.state"]["$defs"]["OrderStateChanged"]["properties"]["reason"];
        assert_eq!(state["type"], "string", "{state:#}");
        let reply = &schemas["reply"]["properties"];
        assert_eq!(reply["request_id"]["type"], json!(["string", "null"]));
        assert_eq!(reply["state"]["$ref"], "#/$defs/OrderState", "{reply:#}");
        let lost = &schemas["journal.recovered"]["$defs"]["JournalRecovered"];
        assert!(lost["required"].as_array().unwrap().contains(&json!("may_be_lost")), "{lost:#}");
        assert!(lost["properties"]["may_be_lost"].to_string().contains("null"), "{lost:#}");
        // Commands: an optional field sent as null is read as absent, and the schema says so.
        let cancel = &schemas["command.order-cancel"]["properties"]["reason"];
        assert!(cancel.to_string().contains("null"), "{cancel:#}");
    }

    #[test]
    fn the_committed_document_is_what_the_types_generate() {
        let committed = include_str!("../../docs/asyncapi.yaml");
        let generated = asyncapi_yaml().unwrap();
        assert!(
            committed == generated,
            "docs/asyncapi.yaml differs from what the wire types generate: run\n  cargo run -- contract > docs/asyncapi.yaml"
        );
    }

    #[test]
    fn the_command_channel_lists_every_command_the_station_parses() {
        let doc = asyncapi().unwrap();
        let names = doc["channels"]["command"]["parameters"]["name"]["enum"].as_array().unwrap();
        let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        let v1 = DEPRECATED_NAMES.iter().map(|(v1, _)| *v1);
        assert_eq!(names, crate::uplink::commands::COMMAND_NAMES.iter().copied().chain(v1).collect::<Vec<_>>());
    }
}
