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

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::station::Reply;
use crate::uplink::commands::{command_schemas, Payload};
use crate::uplink::presence::Presence;

/// Where the schemas' `$id`s live (nothing is fetched from there).
pub const SCHEMA_BASE: &str = "https://stationd.example/schemas/v2";
const SCHEMA_FORMAT: &str = "application/schema+json;version=2020-12";
const HEAD: &str = include_str!("asyncapi-head.yaml");
const EXAMPLES: &str = include_str!("examples.json");

/// One message of the document: its key in `components.messages`, the schema's key in
/// `components.schemas`, and the schema.
struct Message {
    key: String,
    name: String,
    summary: Option<String>,
    schema_key: String,
    schema: Schema,
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| s.meta_schema = Some("https://json-schema.org/draft/2020-12/schema".into()))
        .into_generator()
}

fn root(make: Payload) -> Schema {
    make(&mut generator())
}

fn root_of<T: JsonSchema>() -> Schema {
    generator().root_schema_for::<T>()
}

/// A root schema with its `$id`.
fn identified(schema: Schema, id: &str) -> Schema {
    let mut schema = schema;
    schema.insert("$id".into(), json!(format!("{SCHEMA_BASE}/{id}.json")));
    schema
}

/// What the station sends leaves an optional field out rather than writing `null` (serde's
/// `skip_serializing_if`), so an optional property of an outgoing message does not admit
/// `null`; a required one keeps it where its type says so (the reply's `request_id`).
/// Commands keep `null` for optional fields: the station reads it as absent.
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
    if let Some(Value::Array(any)) = prop.get_mut("anyOf") {
        any.retain(|v| !is_null(v));
        if any.len() == 1 {
            let only = any.remove(0);
            let Value::Object(p) = prop else { return };
            p.remove("anyOf");
            if let Value::Object(o) = only {
                p.extend(o);
            }
        }
    } else if let Some(Value::Array(types)) = prop.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            prop["type"] = only;
        }
    }
}

fn outgoing(schema: Schema) -> Schema {
    let mut v = schema.to_value();
    absent_not_null(&mut v);
    Schema::try_from(v).expect("still an object")
}

fn describe(schema: &Schema) -> Option<String> {
    schema.get("description").and_then(Value::as_str).map(|d| d.lines().next().unwrap_or(d).to_string())
}

/// Every message by channel, in the order the document lists them.
fn messages() -> Vec<(&'static str, Vec<Message>)> {
    let single = |key: &str, schema: Schema| Message {
        key: key.to_string(),
        name: key.to_string(),
        summary: describe(&schema),
        schema_key: key.to_string(),
        schema: identified(schema, key),
    };
    let commands = command_schemas(root)
        .into_iter()
        .map(|(name, schema)| Message {
            key: format!("command.{name}"),
            name: name.to_string(),
            summary: describe(&schema),
            schema_key: format!("command.{name}"),
            schema: identified(schema, &format!("commands/{name}")),
        })
        .collect();
    vec![
        ("status", vec![single("status", outgoing(root_of::<Presence>()))]),
        ("command", commands),
        ("reply", vec![single("reply", outgoing(root_of::<Reply>()))]),
    ]
}

/// The examples of a message, each read back into its type first.
fn examples(key: &str, all: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let Some(list) = all.get(key) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| format!("examples.json: {key} is not a list"))?;
    for example in list {
        let payload = example.get("payload").cloned().unwrap_or(Value::Null);
        let typed = match key {
            "status" => serde_json::from_value::<Presence>(payload).map(drop),
            "reply" => serde_json::from_value::<Reply>(payload).map(drop),
            _ => match key.strip_prefix("command.") {
                Some(name) => crate::uplink::commands::parse_command(name, payload.to_string().as_bytes())
                    .map(drop)
                    .map_err(|e| serde::de::Error::custom(e.to_string())),
                None => Err(serde::de::Error::custom("a message with examples needs its type here")),
            },
        };
        typed.map_err(|e| format!("examples.json: an example of {key} does not read as its type: {e}"))?;
    }
    Ok(list.clone())
}

/// The whole document as a JSON value.
pub fn asyncapi() -> Result<Value, String> {
    let mut doc: Value = serde_yaml_ng::from_str(HEAD).map_err(|e| format!("src/contract/asyncapi-head.yaml: {e}"))?;
    let all_examples: Map<String, Value> =
        serde_json::from_str(EXAMPLES).map_err(|e| format!("src/contract/examples.json: {e}"))?;
    let (mut components_messages, mut components_schemas) = (Map::new(), Map::new());
    for (channel, list) in messages() {
        let mut refs = Map::new();
        for m in &list {
            refs.insert(m.name.clone(), json!({ "$ref": format!("#/components/messages/{}", m.key) }));
            let mut message = Map::new();
            message.insert("name".into(), json!(m.name));
            if let Some(s) = &m.summary {
                message.insert("summary".into(), json!(s));
            }
            message.insert(
                "payload".into(),
                json!({ "schemaFormat": SCHEMA_FORMAT, "schema": { "$ref": format!("#/components/schemas/{}", m.schema_key) } }),
            );
            let examples = examples(&m.key, &all_examples)?;
            if !examples.is_empty() {
                message.insert("examples".into(), Value::Array(examples));
            }
            components_messages.insert(m.key.clone(), Value::Object(message));
            components_schemas.insert(m.schema_key.clone(), m.schema.clone().to_value());
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
    let body = serde_yaml_ng::to_string(&doc).map_err(|e| format!("cannot write the document as YAML: {e}"))?;
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
    fn the_command_channel_lists_every_command_the_station_parses() {
        let doc = asyncapi().unwrap();
        let names = doc["channels"]["command"]["parameters"]["name"]["enum"].as_array().unwrap();
        let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        assert_eq!(names, crate::uplink::commands::COMMAND_NAMES);
    }
}
