//! Parsing and validation of cloud commands (`{prefix}/cmd/{name}`), without I/O.
//!
//! A command must be at most [`MAX_COMMAND_BYTES`], a JSON object with a `request_id`, one of
//! the known names, and match that command's schema (docs/MQTT.md). Anything else becomes a
//! [`CommandError`] with a stable `code`, answered on `{prefix}/reply` and otherwise ignored.

use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::CommandName;
use crate::print::Printout;
use crate::station::payload::{self, serde_field_error, OrderPayload, PayloadError, TEXT_PATTERN};
use crate::station::ErrorCode;

/// Largest command payload accepted.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// The commands a station accepts (v2 names: one topic level each, no `.`, which NATS and
/// RabbitMQ do not carry in a topic: docs/BROKERS.md).
pub const COMMAND_NAMES: &[&str] = &{
    let mut names = [""; CommandName::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CommandName::ALL[i].as_str();
        i += 1;
    }
    names
};
/// The v1 names, still accepted for one release where a broker carries them (Mosquitto), each
/// with the name it stands for; the reply says the name is deprecated.
pub const DEPRECATED_NAMES: &[(&str, &str)] = &[
    ("order.upsert", "order-upsert"),
    ("order.cancel", "order-cancel"),
    ("order.hold", "order-hold"),
    ("order.release", "order-release"),
];

/// The command name a deprecated v1 name stands for (`order.upsert` → `order-upsert`).
pub fn v2_name(v1: &str) -> Option<&'static str> {
    DEPRECATED_NAMES.iter().find(|(old, _)| *old == v1).map(|(_, new)| *new)
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    pub request_id: String,
    /// One of [`COMMAND_NAMES`].
    pub name: &'static str,
    /// The deprecated v1 name the command came by (`order.upsert`), if it did.
    pub deprecated_name: Option<&'static str>,
    pub command: Command,
    /// When the cloud sent it (optional `sent_at`, ISO 8601): a sample of the cloud's clock.
    pub sent_at: Option<time::OffsetDateTime>,
    /// What the command is, as remembered with its request id: [`digest`] of the command
    /// name and the payload without `sent_at`. A repeat of the id with another digest is a
    /// different command (`request_id_conflict`), not a duplicate.
    pub digest: String,
}

/// SHA-256 (hex, first 128 bits) of `name`, a newline and the payload's canonical JSON:
/// keys sorted at every level, no whitespace, `sent_at` left out (a retry may stamp a new
/// one). Key order and spacing do not change it; any value that differs does.
pub fn digest(name: &str, payload: &Value) -> String {
    use sha2::Digest;
    let mut canonical = payload.clone();
    if let Some(o) = canonical.as_object_mut() {
        o.remove("sent_at");
    }
    // serde_json's map is ordered by key (no `preserve_order`), so this is canonical.
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    let hash = sha2::Sha256::new().chain_update(name).chain_update(b"\n").chain_update(text).finalize();
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The order, validated (fields the station does not use kept as sent).
    OrderUpsert(Box<OrderPayload>),
    OrderCancel {
        order: String,
        reason: Option<String>,
    },
    OrderHold {
        order: String,
        reason: String,
    },
    OrderRelease {
        order: String,
    },
    Print {
        printer: Option<String>,
        order: Option<String>,
        document: Printout,
        copies: u8,
    },
    Resync {
        from: u64,
        to: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// Known when the payload was readable far enough to find it.
    pub request_id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

/// Longest error message in a reply; the rest of a message quoting the sender's text is cut.
const MAX_MESSAGE: usize = 300;

/// An error whose message is safe to reply and log: at most [`MAX_MESSAGE`] bytes (serde
/// and our own messages quote the sender's values, which may be 64 KiB long) and no control
/// characters (a newline in a log line could forge another one).
fn err(request_id: Option<&str>, code: ErrorCode, message: impl Into<String>) -> CommandError {
    let message = message.into();
    let mut shown = String::new();
    for c in message.chars() {
        if shown.len() >= MAX_MESSAGE {
            shown.push('…');
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    CommandError { request_id: request_id.map(str::to_string), code, message: shown }
}

/// Longest `request_id`, in characters.
const MAX_REQUEST_ID: usize = 128;

/// The `request_id` of a command payload as its reply echoes it (see [`echo`]); `None` when
/// there is none to attribute the payload to (over [`MAX_COMMAND_BYTES`], not a JSON
/// object, no `request_id`). Used to answer commands that are not executed (rate limit,
/// retained).
pub fn request_id_of(payload: &[u8]) -> Option<String> {
    if payload.len() > MAX_COMMAND_BYTES {
        return None;
    }
    let value: Value = serde_json::from_slice(payload).ok()?;
    value.as_object()?.get("request_id").map(echo)
}

/// A `request_id` as the reply carries it, so the sender can match the answer even to an
/// invalid one: a string as is, anything else as its JSON text; cut to
/// [`MAX_REQUEST_ID`] characters plus `…`, control characters escaped.
fn echo(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for c in text.chars().take(MAX_REQUEST_ID) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().count() > MAX_REQUEST_ID {
        out.push('…');
    }
    out
}

/// Whether `id` is a request id the station takes: 1 to [`MAX_REQUEST_ID`] characters, none
/// of them a control, bidi, zero-width or other invisible character, no whitespace at either
/// end — so two ids that look the same in a log or a dashboard are the same id.
pub fn valid_request_id(id: &str) -> bool {
    let hidden = |c: char| c.is_control() || stationd_drivers::framing::is_invisible(c);
    !id.is_empty()
        && id.chars().count() <= MAX_REQUEST_ID
        && !id.chars().any(hidden)
        && !id.starts_with(char::is_whitespace)
        && !id.ends_with(char::is_whitespace)
}

fn request_id(obj: &serde_json::Map<String, Value>) -> Result<String, CommandError> {
    match obj.get("request_id") {
        Some(Value::String(s)) if valid_request_id(s) => Ok(s.clone()),
        Some(v) => Err(err(
            Some(&echo(v)),
            ErrorCode::InvalidField,
            format!(
                "request_id must be a string of 1 to {MAX_REQUEST_ID} printable characters, without control, bidi or \
                 zero-width characters and without spaces at either end"
            ),
        )),
        None => Err(err(None, ErrorCode::MissingField, "missing field `request_id`")),
    }
}

/// The id a command is executed once by and answered with: 1 to 128 printable characters;
/// no control, bidi, zero-width or other invisible (format) characters; no whitespace at
/// either end ([`valid_request_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RequestId(#[schemars(length(min = 1, max = 128), regex(pattern = REQUEST_ID_PATTERN))] pub String);

/// The characters [`valid_request_id`] refuses anywhere, in the Basic Multilingual Plane, as
/// a regex class body (control, bidi, zero-width and other invisible format characters).
macro_rules! hidden_class {
    () => {
        r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    };
}

/// [`RequestId`]'s schema pattern: what [`valid_request_id`] takes, for the characters of the
/// Basic Multilingual Plane (no look-around, so ECMA-262 and Rust's `regex` read it alike).
pub const REQUEST_ID_PATTERN: &str =
    concat!(r"^[^\s", hidden_class!(), r"](?:[^", hidden_class!(), r"]*[^\s", hidden_class!(), r"])?$");

/// When the cloud sent the command: a one-sided clock sample (a `sent_at` later than the
/// box clock by over 30 s proves the box is behind; an earlier one proves nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SentAt(#[schemars(extend("format" = "date-time"))] pub String);

/// A text field: 1 to 256 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Text(#[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))] pub String);

/// Creates or updates an order at the station. Fields of the order the station does not
/// know are kept as sent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpsertCommand {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<SentAt>,
    /// Validated by the station's own rules after the schema (unique line numbers, the
    /// carrier label's drawing-only ZPL, ...).
    #[schemars(with = "OrderPayload")]
    pub order: Value,
}

/// Names an order, with an optional reason: `order-cancel` (any state before shipped) and
/// `order-release` (a held order).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCommand {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<SentAt>,
    pub order: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

/// Holds an order: the packer is told to put it aside.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderHoldCommand {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<SentAt>,
    pub order: Text,
    pub reason: Text,
}

/// Prints a document at the station.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintCommand {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<SentAt>,
    /// A `[[printer]]` name (default: the one for the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    /// The order whose document it is (required for `label` and `slip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[schemars(with = "PrintDocument")]
    pub document: String,
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10))]
    pub copies: u8,
}

/// What a `print` command prints.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // the schema's shape only: parsed as text, so a refusal names the value
enum PrintDocument {
    Label,
    Slip,
    /// The printer's test page.
    Test,
}

fn one() -> u8 {
    1
}

/// Publishes the journal's events `from..=to` again (a consumer repairing a gap in `seq`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResyncCommand {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<SentAt>,
    #[schemars(range(min = 1))]
    pub from: u64,
    /// Default: the last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub to: Option<u64>,
}

/// How to make each command's payload schema, by command (a command without a payload type
/// does not compile).
pub fn command_schemas() -> Vec<(&'static str, Payload)> {
    CommandName::ALL
        .into_iter()
        .map(|command| {
            let make: Payload = match command {
                CommandName::OrderUpsert => SchemaGenerator::root_schema_for::<OrderUpsertCommand>,
                CommandName::OrderCancel => SchemaGenerator::root_schema_for::<OrderCommand>,
                CommandName::OrderHold => SchemaGenerator::root_schema_for::<OrderHoldCommand>,
                CommandName::OrderRelease => SchemaGenerator::root_schema_for::<OrderCommand>,
                CommandName::Print => SchemaGenerator::root_schema_for::<PrintCommand>,
                CommandName::Resync => SchemaGenerator::root_schema_for::<ResyncCommand>,
            };
            (command.as_str(), make)
        })
        .collect()
}

/// How a payload type's root schema is made by a generator.
pub type Payload = fn(&mut SchemaGenerator) -> schemars::Schema;

/// Parses and validates one command. `name` is the last topic level.
pub fn parse_command(name: &str, payload: &[u8]) -> Result<CommandRequest, CommandError> {
    if payload.len() > MAX_COMMAND_BYTES {
        let msg = format!("payload of {} bytes exceeds the {MAX_COMMAND_BYTES}-byte limit", payload.len());
        return Err(err(None, ErrorCode::PayloadTooLarge, msg));
    }
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| err(None, ErrorCode::BadJson, format!("payload is not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(err(None, ErrorCode::BadJson, "payload must be a JSON object"));
    };
    let request_id = request_id(obj)?;
    let rid = Some(request_id.as_str());
    let mut value = value.clone();
    let sent_at = match value.as_object_mut().and_then(|o| o.remove("sent_at")) {
        None => None,
        Some(Value::String(t)) => match crate::event::parse_at(&t) {
            Some(t) => Some(t),
            None => return Err(err(rid, ErrorCode::InvalidField, format!("sent_at {t:?} is not an ISO 8601 time"))),
        },
        Some(_) => return Err(err(rid, ErrorCode::InvalidField, "sent_at must be an ISO 8601 time string")),
    };
    let known = COMMAND_NAMES.iter().find(|known| **known == name).map(|&known| (known, None));
    let aliased = || DEPRECATED_NAMES.iter().find(|(old, _)| *old == name).map(|&(old, new)| (new, Some(old)));
    let Some((name, deprecated_name)) = known.or_else(aliased) else {
        let msg = format!("unknown command {name:?}; known: {}", COMMAND_NAMES.join(", "));
        return Err(err(rid, ErrorCode::UnknownCommand, msg));
    };
    let typed = |v: &Value| -> Result<Command, CommandError> {
        let de = |e: serde_json::Error| field_error(rid, e);
        Ok(match name {
            "order-upsert" => {
                let c: OrderUpsertCommand = serde_json::from_value(v.clone()).map_err(de)?;
                Command::OrderUpsert(Box::new(OrderPayload::parse(&c.order).map_err(|e| refused(rid, e))?))
            }
            "order-cancel" => {
                let c: OrderCommand = serde_json::from_value(v.clone()).map_err(de)?;
                Command::OrderCancel { order: text(rid, "order", c.order)?, reason: optional_text(rid, c.reason)? }
            }
            "order-hold" => {
                let c: OrderHoldCommand = serde_json::from_value(v.clone()).map_err(de)?;
                Command::OrderHold { order: text(rid, "order", c.order)?, reason: text(rid, "reason", c.reason)? }
            }
            "order-release" => {
                let c: OrderCommand = serde_json::from_value(v.clone()).map_err(de)?;
                optional_text(rid, c.reason)?;
                Command::OrderRelease { order: text(rid, "order", c.order)? }
            }
            "print" => {
                let c: PrintCommand = serde_json::from_value(v.clone()).map_err(de)?;
                let Some(document) = Printout::parse(&c.document) else {
                    return Err(err(rid, ErrorCode::InvalidField, "document must be \"label\", \"slip\" or \"test\""));
                };
                if !(1..=10).contains(&c.copies) {
                    return Err(err(rid, ErrorCode::InvalidField, "copies must be 1 to 10"));
                }
                Command::Print { printer: c.printer, order: c.order, document, copies: c.copies }
            }
            _ => {
                let c: ResyncCommand = serde_json::from_value(v.clone()).map_err(de)?;
                if c.from == 0 || c.to.is_some_and(|to| to < c.from) {
                    return Err(err(rid, ErrorCode::InvalidField, "from must be ≥ 1 and to (if given) ≥ from"));
                }
                Command::Resync { from: c.from, to: c.to }
            }
        })
    };
    let command = typed(&value)?;
    let digest = digest(name, &value);
    Ok(CommandRequest { request_id, name, deprecated_name, command, sent_at, digest })
}

fn field_error(rid: Option<&str>, e: serde_json::Error) -> CommandError {
    refused(rid, serde_field_error(&e))
}

fn refused(rid: Option<&str>, e: PayloadError) -> CommandError {
    err(rid, e.code, e.message)
}

fn text(rid: Option<&str>, field: &str, s: Text) -> Result<String, CommandError> {
    payload::check_text(field, &s.0).map_err(|e| refused(rid, e))?;
    Ok(s.0)
}

fn optional_text(rid: Option<&str>, s: Option<Text>) -> Result<Option<String>, CommandError> {
    s.map(|s| text(rid, "reason", s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const UPSERT: &str = r#"{"request_id":"r-81f2","order":{"id":"SO-1001","state":"released","priority":"normal",
 "carrier":"DHL","service":"parcel","tracking":"JJD0001234567",
 "ship_to":{"name":"Example Customer","street":"Hauptstr. 5","city":"Berlin","postcode":"10115","country":"DE"},
 "lines":[{"line":1,"sku":"SKU-1","name":"Mug","qty":2,"barcodes":["4006381333931"]}],
 "label":{"format":"zpl","data":"^XA^XZ"}, "gift_wrap": true}}"#;

    fn code_of(name: &str, payload: &str) -> (&'static str, Option<String>) {
        let e = parse_command(name, payload.as_bytes()).unwrap_err();
        (e.code.as_str(), e.request_id)
    }

    #[test]
    fn the_design_example_upsert_is_accepted_with_extra_order_fields_kept() {
        let r = parse_command("order.upsert", UPSERT.as_bytes()).unwrap();
        assert_eq!(r.request_id, "r-81f2");
        let Command::OrderUpsert(order) = r.command else { panic!() };
        assert_eq!((order.id.as_str(), order.state), ("SO-1001", Some(crate::station::OrderState::Released)));
        assert_eq!(order.extra["gift_wrap"], true);
    }

    #[test]
    fn a_v1_dotted_name_is_the_v2_command_and_says_it_came_by_the_deprecated_name() {
        let r = parse_command("order.upsert", UPSERT.as_bytes()).unwrap();
        assert_eq!((r.name, r.deprecated_name), ("order-upsert", Some("order.upsert")));
        assert_eq!(r.command, parse_command("order-upsert", UPSERT.as_bytes()).unwrap().command);
        let r = parse_command("order.hold", br#"{"request_id":"a","order":"SO-1","reason":"x"}"#).unwrap();
        assert_eq!((r.name, r.deprecated_name), ("order-hold", Some("order.hold")));
        assert_eq!(
            parse_command("order-release", br#"{"request_id":"a","order":"SO-1"}"#).unwrap().deprecated_name,
            None
        );
        for (old, new) in DEPRECATED_NAMES {
            assert_eq!(v2_name(old), Some(*new));
            assert!(COMMAND_NAMES.contains(new) && !new.contains(['.', '/', '+', '#']), "{new}");
        }
        assert_eq!((v2_name("print"), v2_name("order/upsert"), v2_name("order-upsert")), (None, None, None));
        // One level each: a name written with levels or a deeper topic is no command.
        assert_eq!(code_of("order/upsert", r#"{"request_id":"a"}"#).0, "unknown_command");
        assert_eq!(code_of("order.hold/x", r#"{"request_id":"a"}"#).0, "unknown_command");
        let e = parse_command("order_upsert", br#"{"request_id":"a"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "unknown command \"order_upsert\"; known: order-upsert, order-cancel, order-hold, order-release, print, resync"
        );
    }

    #[test]
    fn bad_payloads_get_distinct_codes() {
        assert_eq!(code_of("order.cancel", "{not json"), ("bad_json", None));
        assert_eq!(code_of("order.cancel", "[1,2]"), ("bad_json", None));
        assert_eq!(code_of("order.cancel", r#"{"order":"SO-1"}"#), ("missing_field", None));
        assert_eq!(code_of("order.cancel", r#"{"request_id":7}"#), ("invalid_field", Some("7".into())));
        assert_eq!(code_of("order.explode", r#"{"request_id":"a"}"#), ("unknown_command", Some("a".into())));
        assert_eq!(code_of("order.cancel", r#"{"request_id":"a"}"#), ("missing_field", Some("a".into())));
        assert_eq!(code_of("order.cancel", r#"{"request_id":"a","order":"SO-1","colour":1}"#).0, "unknown_field");
        assert_eq!(code_of("order.hold", r#"{"request_id":"a","order":"SO-1"}"#).0, "missing_field");
        assert_eq!(code_of("resync", r#"{"request_id":"a","from":0}"#).0, "invalid_field");
        assert_eq!(code_of("resync", r#"{"request_id":"a","from":"x"}"#).0, "invalid_field");
        let big = format!(r#"{{"request_id":"a","order":"{}"}}"#, "x".repeat(MAX_COMMAND_BYTES));
        assert_eq!(code_of("order.cancel", &big), ("payload_too_large", None));
        let deep = format!(r#"{{"request_id":"a","x":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(code_of("order.cancel", &deep).0, "bad_json");
    }

    #[test]
    fn order_contents_are_validated() {
        let bad_qty = UPSERT.replace(r#""qty":2"#, r#""qty":0"#);
        assert_eq!(code_of("order.upsert", &bad_qty).0, "invalid_field");
        let no_lines = UPSERT.replace(
            r#""lines":[{"line":1,"sku":"SKU-1","name":"Mug","qty":2,"barcodes":["4006381333931"]}]"#,
            r#""lines":[]"#,
        );
        assert_eq!(code_of("order.upsert", &no_lines).0, "invalid_field");
        let bad_state = UPSERT.replace(r#""state":"released""#, r#""state":"teleported""#);
        assert_eq!(code_of("order.upsert", &bad_state).0, "invalid_field");
        let e = parse_command("order.upsert", UPSERT.replace(r#""id":"SO-1001","#, "").as_bytes()).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("missing_field", "order: missing field `id`"));
    }

    const CODES: &[&str] =
        &["payload_too_large", "bad_json", "invalid_field", "missing_field", "unknown_field", "unknown_command"];

    /// Whatever came in: a command that names itself and its request id, or a refusal with a
    /// known code, a short printable message and the request id when the payload had one.
    fn check_outcome(name: &str, payload: &[u8]) -> Result<Option<CommandRequest>, TestCaseError> {
        let rid = request_id_of(payload);
        match parse_command(name, payload) {
            Ok(r) => {
                let by_v1 = v2_name(name) == Some(r.name) && r.deprecated_name == Some(name);
                prop_assert!(COMMAND_NAMES.contains(&name) && r.name == name && r.deprecated_name.is_none() || by_v1);
                prop_assert_eq!(Some(&r.request_id), rid.as_ref());
                Ok(Some(r))
            }
            Err(e) => {
                prop_assert!(CODES.contains(&e.code.as_str()), "{:?}", e);
                prop_assert!(!e.message.is_empty() && e.message.len() <= MAX_MESSAGE + '…'.len_utf8(), "{:?}", e);
                prop_assert!(!e.message.chars().any(char::is_control), "{:?}", e);
                prop_assert_eq!(&e.request_id, &rid, "{:?}", e);
                if let Some(r) = &rid {
                    // Echoed as sent, cut to 128 characters (+ `…`), controls escaped.
                    prop_assert!(!r.chars().any(char::is_control), "{:?}", r);
                    prop_assert!(r.chars().count() <= 128 * 10 + 1, "{:?}", r);
                }
                Ok(None)
            }
        }
    }

    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(COMMAND_NAMES).prop_map(str::to_string),
            1 => proptest::sample::select(DEPRECATED_NAMES).prop_map(|(old, _)| old.to_string()),
            1 => stationd_testkit::hostile_text(24),
        ]
    }

    /// A valid `order.upsert` with any printable text in its fields.
    fn valid_upsert() -> impl Strategy<Value = Value> {
        let text = || "\\PC{1,16}";
        let line = (text(), proptest::option::of(text()), 1u32.., proptest::collection::vec(text(), 0..4));
        (
            text(),
            proptest::option::of(proptest::sample::select(&["released", "picking", "packing", "held"][..])),
            proptest::option::of((text(), text(), text())),
            proptest::collection::btree_map(any::<u32>(), line, 1..4),
            proptest::option::of(text()),
        )
            .prop_map(|(id, state, ship_to, lines, tracking)| {
                let lines: Vec<Value> = lines
                    .into_iter()
                    .map(|(n, (sku, name, qty, barcodes))| {
                        json!({ "line": n, "sku": sku, "name": name, "qty": qty, "barcodes": barcodes })
                    })
                    .collect();
                let mut order = json!({ "id": id, "lines": lines, "gift_wrap": { "any": ["thing"] } });
                if let Some(s) = state {
                    order["state"] = json!(s);
                }
                if let Some((name, city, country)) = ship_to {
                    order["ship_to"] = json!({ "name": name, "city": city, "country": country });
                }
                if let Some(t) = tracking {
                    order["tracking"] = json!(t);
                }
                json!({ "request_id": "r-1", "order": order })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn any_bytes_are_a_command_or_a_refusal_with_a_known_code_and_a_short_message(
            name in names(),
            payload in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..600),
                stationd_testkit::hostile_text(600).prop_map(String::into_bytes),
                stationd_testkit::json_values().prop_map(|v| v.to_string().into_bytes()),
            ],
            cut in any::<prop::sample::Index>(),
        ) {
            check_outcome(&name, &payload)?;
            // A payload cut short (a broken client, a truncated packet) is refused as such.
            let short = &payload[..cut.index(payload.len() + 1)];
            check_outcome(&name, short)?;
        }

        /// Any JSON, also behind a valid request id (so the schema checks are reached).
        #[test]
        fn any_json_as_any_command_is_accepted_or_refused_precisely(name in names(), v in stationd_testkit::json_values()) {
            check_outcome(&name, v.to_string().as_bytes())?;
            let mut with_rid = match v {
                Value::Object(m) => m,
                other => [("order".to_string(), other)].into_iter().collect(),
            };
            with_rid.insert("request_id".into(), json!("r-1"));
            let payload = Value::Object(with_rid).to_string();
            if let Err(e) = parse_command(&name, payload.as_bytes()) {
                prop_assert_eq!(e.request_id.as_deref(), Some("r-1"));
            }
            check_outcome(&name, payload.as_bytes())?;
        }
    }

    fn without_empty(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                    .map(|(k, v)| (k, without_empty(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(without_empty).collect()),
            other => other,
        }
    }

    #[test]
    fn request_ids_with_hidden_characters_or_spaces_at_either_end_are_invalid() {
        for rid in [" r-1", "r-1 ", "r-1\t", "r\u{202E}1", "r\u{200B}1", "\u{FEFF}r-1", "r\u{2066}1", "r\u{7}1", ""] {
            let payload = json!({"request_id": rid, "order": "SO-1"}).to_string();
            let e = parse_command("order-release", payload.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidField, "{rid:?}");
            assert!(e.message.contains("bidi or zero-width"), "{}", e.message);
        }
        for rid in ["r-1", "r 1", "Bestellung-ä-✓", "x"] {
            let payload = json!({"request_id": rid, "order": "SO-1"}).to_string();
            assert!(parse_command("order-release", payload.as_bytes()).is_ok(), "{rid:?}");
        }
    }

    #[test]
    fn the_digest_ignores_key_order_spacing_and_sent_at_but_not_a_value() {
        let a = parse_command("order-hold", br#"{"request_id":"r","order":"SO-40","reason":"x"}"#).unwrap();
        let b = parse_command(
            "order-hold",
            br#"{ "reason": "x", "sent_at": "2026-12-07T10:00:00Z", "order": "SO-40", "request_id": "r" }"#,
        )
        .unwrap();
        let c = parse_command("order-hold", br#"{"request_id":"r","order":"SO-41","reason":"x"}"#).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
        assert_eq!(a.digest.len(), 32);
    }

    proptest! {
        /// The schema's pattern takes exactly the ids the station takes (for characters of
        /// the Basic Multilingual Plane, which is all the pattern can name).
        #[test]
        fn the_request_id_schema_pattern_agrees_with_the_parser(
            id in prop_oneof![
                "\\PC{1,12}",
                proptest::collection::vec(proptest::char::range('\u{0}', '\u{FFFF}'), 1..8).prop_map(|v| v.into_iter().collect::<String>()),
                stationd_testkit::hostile_text(12),
            ]
        ) {
            let re = regex::Regex::new(REQUEST_ID_PATTERN).unwrap();
            let bmp_len_ok = id.chars().count() <= MAX_REQUEST_ID;
            prop_assert_eq!(re.is_match(&id) && bmp_len_ok, valid_request_id(&id), "{:?}", id);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// Valid commands with any printable text are accepted as sent (the order kept
        /// whole, extra fields included).
        #[test]
        fn valid_commands_with_any_printable_text_are_accepted_as_sent(
            upsert in valid_upsert(),
            reason in "\\PC{1,60}",
            document in proptest::sample::select(&["label", "slip", "test"][..]),
            copies in 1u8..=10,
            from in 1u64..,
            span in proptest::option::of(0u64..1_000_000),
        ) {
            let r = check_outcome("order.upsert", upsert.to_string().as_bytes())?.expect("accepted");
            let Command::OrderUpsert(order) = r.command else { panic!("{:?}", r.command) };
            // Kept whole: only `null`s and empty lists of optional fields are left out.
            prop_assert_eq!(serde_json::to_value(&order).unwrap(), without_empty(upsert["order"].clone()));
            prop_assert_eq!(Some(order.id.as_str()), upsert["order"]["id"].as_str());
            prop_assert_eq!(order.state.map(|s| s.as_str()), upsert["order"]["state"].as_str());
            let id = order.id;

            let order_id = upsert["order"]["id"].clone();
            let hold = json!({ "request_id": "r-2", "order": order_id, "reason": reason });
            let r = check_outcome("order.hold", hold.to_string().as_bytes())?.expect("accepted");
            prop_assert_eq!(r.command, Command::OrderHold { order: id.clone(), reason: reason.clone() });

            let print = json!({ "request_id": "r-3", "order": order_id, "document": document, "copies": copies });
            let r = check_outcome("print", print.to_string().as_bytes())?.expect("accepted");
            let want = Command::Print { printer: None, order: Some(id), document: Printout::parse(document).unwrap(), copies };
            prop_assert_eq!(r.command, want);

            let to = span.map(|s| from.saturating_add(s));
            let resync = json!({ "request_id": "r-4", "from": from, "to": to });
            let r = check_outcome("resync", resync.to_string().as_bytes())?.expect("accepted");
            prop_assert_eq!(r.command, Command::Resync { from, to });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// One field of a valid order replaced by any value (any type, hostile text, deep
        /// arrays): accepted, or refused naming the request.
        #[test]
        fn a_valid_order_with_any_field_replaced_is_accepted_or_refused_with_its_request_id(
            upsert in valid_upsert(),
            at in proptest::sample::select(&[
                "/order/id", "/order/state", "/order/lines", "/order/lines/0", "/order/lines/0/qty", "/order/lines/0/sku",
                "/order/lines/0/line", "/order/lines/0/barcodes", "/order/ship_to", "/order/label", "/order/tracking",
                "/order/carrier", "/sent_at", "/order",
            ][..]),
            v in stationd_testkit::json_values(),
        ) {
            let mut cmd = upsert;
            let (parent, key) = at.rsplit_once('/').unwrap();
            match cmd.pointer_mut(parent) {
                Some(Value::Object(m)) => { m.insert(key.to_string(), v); }
                Some(Value::Array(a)) => a[0] = v,
                _ => {}
            }
            if let Err(e) = parse_command("order.upsert", cmd.to_string().as_bytes()) {
                prop_assert_eq!(e.request_id.as_deref(), Some("r-1"), "{:?}", e);
            }
            check_outcome("order.upsert", cmd.to_string().as_bytes())?;
        }
    }

    #[test]
    fn long_values_are_cut_in_the_reply_and_control_characters_escaped() {
        let long = format!(r#"{{"request_id":"a","from":"{}"}}"#, "x".repeat(60_000));
        let e = parse_command("resync", long.as_bytes()).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_field");
        assert!(e.message.starts_with("invalid type: string \"xxx") && e.message.ends_with('…'), "{}", e.message);
        assert!(e.message.len() <= MAX_MESSAGE + 3, "{} bytes", e.message.len());
        let sent_at = format!(r#"{{"request_id":"a","sent_at":"{}","order":"SO-1"}}"#, "9".repeat(60_000));
        assert!(parse_command("order.cancel", sent_at.as_bytes()).unwrap_err().message.len() <= MAX_MESSAGE + 3);
        let e = parse_command("order.cancel", br#"{"request_id":"a","order":"SO-1","x\ny\u001b":1}"#).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "unknown_field",
                "unknown field `x\\ny\\u{1b}`, expected one of `request_id`, `sent_at`, `order`, `reason`"
            )
        );
    }

    #[test]
    fn the_size_limit_is_exact_and_says_the_size() {
        let pad = |n: usize| {
            let head = r#"{"request_id":"a","order":"SO-1","reason":""#;
            let body = format!("{head}{}\"}}", "r".repeat(n - head.len() - 2));
            assert_eq!(body.len(), n);
            body
        };
        // At the limit the payload is read (and refused for the over-long reason, not its size).
        assert_eq!(code_of("order.cancel", &pad(MAX_COMMAND_BYTES)).0, "invalid_field");
        let e = parse_command("order.cancel", pad(MAX_COMMAND_BYTES + 1).as_bytes()).unwrap_err();
        assert_eq!(e.code.as_str(), "payload_too_large");
        assert_eq!(e.message, format!("payload of {} bytes exceeds the 65536-byte limit", MAX_COMMAND_BYTES + 1));
        assert_eq!(request_id_of(pad(MAX_COMMAND_BYTES + 1).as_bytes()), None);
        assert_eq!(request_id_of(pad(MAX_COMMAND_BYTES).as_bytes()).as_deref(), Some("a"));
    }

    /// Nesting of any depth, closed or not, as arrays, objects or both, at the top or deep
    /// inside a valid command: refused as `bad_json` from serde_json's depth limit (128 levels) on,
    /// on a 512 KiB stack (a quarter of a tokio worker's), so nothing recurses per level.
    #[test]
    fn deep_nesting_is_refused_without_deep_recursion() {
        let outcome = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let mut seen = Vec::new();
                for depth in [1usize, 100, 126, 127, 128, 129, 1000, 10_000, 30_000] {
                    for (open, close) in [("[", "]"), (r#"{"a":"#, "}"), (r#"[{"a":"#, "}]")] {
                        let closed = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                        let unclosed = open.repeat(depth);
                        let inside = format!(r#"{{"request_id":"r","order":{{"id":"x","lines":{closed}}}}}"#);
                        for (shape, payload) in [("closed", &closed), ("unclosed", &unclosed), ("inside", &inside)] {
                            let e = parse_command("order.upsert", payload.as_bytes()).expect_err("refused");
                            seen.push((depth, open, shape, e.code.as_str(), e.request_id));
                        }
                    }
                }
                seen
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
        for (depth, open, shape, code, rid) in outcome {
            let levels = depth * open.matches(['[', '{']).count() + if shape == "inside" { 2 } else { 0 };
            let want: &[&str] = match shape {
                _ if levels >= 128 => &["bad_json"],
                "unclosed" => &["bad_json"],
                "closed" if open.starts_with('[') => &["bad_json"],
                "closed" => &["missing_field"],
                _ => &["missing_field", "invalid_field"],
            };
            let size = depth * (open.len() + 1) + 60;
            assert!(
                want.contains(&code) || (size > MAX_COMMAND_BYTES && code == "payload_too_large"),
                "{depth} × {open} {shape}: {code}"
            );
            let read = !matches!(code, "bad_json" | "payload_too_large");
            assert_eq!(rid.is_some(), read && shape == "inside", "{depth} × {open} {shape}: {code}");
        }
    }
}
