//! Parsing and validation of cloud commands (`{prefix}/cmd/{name}`), without I/O.
//!
//! A command must be at most [`MAX_COMMAND_BYTES`], a JSON object with a `request_id`, one of
//! the known names, and match that command's schema (docs/MQTT.md). Anything else becomes a
//! [`CommandError`] with a stable `code`, answered on `{prefix}/reply` and otherwise ignored.

use serde::Deserialize;
use serde_json::Value;

/// Largest command payload accepted.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// The commands a station accepts.
pub const COMMAND_NAMES: &[&str] = &["order.upsert", "order.cancel", "order.hold", "order.release", "print", "resync"];

const MAX_TEXT: usize = 256;
const MAX_LINES: usize = 1000;
const MAX_BARCODES: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    pub request_id: String,
    pub name: String,
    pub command: Command,
    /// When the cloud sent it (optional `sent_at`, ISO 8601): a sample of the cloud's clock.
    pub sent_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The order as sent (extra fields kept), already validated.
    OrderUpsert {
        id: String,
        state: Option<String>,
        order: Value,
    },
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
        document: String,
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
    pub code: &'static str,
    pub message: String,
}

fn err(request_id: Option<&str>, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError { request_id: request_id.map(str::to_string), code, message: message.into() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertCmd {
    #[allow(dead_code)]
    request_id: String,
    order: Value,
}

#[derive(Deserialize)]
struct OrderShape {
    id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    tracking: Option<String>,
    #[serde(default)]
    ship_to: Option<ShipTo>,
    lines: Vec<Line>,
    #[serde(default)]
    label: Option<Label>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipTo {
    name: String,
    #[serde(default)]
    street: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    postcode: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

#[derive(Deserialize)]
struct Line {
    line: u32,
    sku: String,
    #[serde(default)]
    name: Option<String>,
    qty: u32,
    #[serde(default)]
    barcodes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Label {
    format: String,
    data: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderRef {
    #[allow(dead_code)]
    request_id: String,
    order: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintCmd {
    #[allow(dead_code)]
    request_id: String,
    #[serde(default)]
    printer: Option<String>,
    #[serde(default)]
    order: Option<String>,
    document: String,
    #[serde(default = "one")]
    copies: u8,
}

fn one() -> u8 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResyncCmd {
    #[allow(dead_code)]
    request_id: String,
    from: u64,
    #[serde(default)]
    to: Option<u64>,
}

/// Parses and validates one command. `name` is the last topic level.
pub fn parse_command(name: &str, payload: &[u8]) -> Result<CommandRequest, CommandError> {
    if payload.len() > MAX_COMMAND_BYTES {
        let msg = format!("payload of {} bytes exceeds the {MAX_COMMAND_BYTES}-byte limit", payload.len());
        return Err(err(None, "payload_too_large", msg));
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| err(None, "bad_json", format!("payload is not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(err(None, "bad_json", "payload must be a JSON object"));
    };
    let request_id = match obj.get("request_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control) => s.clone(),
        Some(_) => {
            return Err(err(None, "invalid_field", "request_id must be a string of 1 to 128 printable characters"))
        }
        None => return Err(err(None, "missing_field", "missing field `request_id`")),
    };
    let rid = Some(request_id.as_str());
    let mut value = value.clone();
    let sent_at = match value.as_object_mut().and_then(|o| o.remove("sent_at")) {
        None => None,
        Some(Value::String(t)) => match crate::event::parse_at(&t) {
            Some(t) => Some(t),
            None => return Err(err(rid, "invalid_field", format!("sent_at {t:?} is not an ISO 8601 time"))),
        },
        Some(_) => return Err(err(rid, "invalid_field", "sent_at must be an ISO 8601 time string")),
    };
    if !COMMAND_NAMES.contains(&name) {
        let msg = format!("unknown command {name:?}; known: {}", COMMAND_NAMES.join(", "));
        return Err(err(rid, "unknown_command", msg));
    }
    let typed = |v: &Value| -> Result<Command, CommandError> {
        let de = |e: serde_json::Error| field_error(rid, e);
        Ok(match name {
            "order.upsert" => {
                let c: UpsertCmd = serde_json::from_value(v.clone()).map_err(de)?;
                let shape: OrderShape = serde_json::from_value(c.order.clone()).map_err(|e| {
                    let mut e = field_error(rid, e);
                    e.message = format!("order: {}", e.message);
                    e
                })?;
                validate_order(rid, &shape)?;
                Command::OrderUpsert { id: shape.id, state: shape.state, order: c.order }
            }
            "order.cancel" | "order.hold" | "order.release" => {
                let c: OrderRef = serde_json::from_value(v.clone()).map_err(de)?;
                check_text(rid, "order", &c.order)?;
                if let Some(r) = &c.reason {
                    check_text(rid, "reason", r)?;
                }
                match name {
                    "order.cancel" => Command::OrderCancel { order: c.order, reason: c.reason },
                    "order.hold" => Command::OrderHold {
                        order: c.order,
                        reason: c.reason.ok_or_else(|| err(rid, "missing_field", "missing field `reason`"))?,
                    },
                    _ => Command::OrderRelease { order: c.order },
                }
            }
            "print" => {
                let c: PrintCmd = serde_json::from_value(v.clone()).map_err(de)?;
                if !["label", "slip", "test"].contains(&c.document.as_str()) {
                    return Err(err(rid, "invalid_field", "document must be \"label\", \"slip\" or \"test\""));
                }
                if !(1..=10).contains(&c.copies) {
                    return Err(err(rid, "invalid_field", "copies must be 1 to 10"));
                }
                Command::Print { printer: c.printer, order: c.order, document: c.document, copies: c.copies }
            }
            _ => {
                let c: ResyncCmd = serde_json::from_value(v.clone()).map_err(de)?;
                if c.from == 0 || c.to.is_some_and(|to| to < c.from) {
                    return Err(err(rid, "invalid_field", "from must be ≥ 1 and to (if given) ≥ from"));
                }
                Command::Resync { from: c.from, to: c.to }
            }
        })
    };
    let command = typed(&value)?;
    Ok(CommandRequest { request_id, name: name.to_string(), command, sent_at })
}

/// Validates an order object as `order.upsert` carries it (also an order system's lookup
/// answer); returns its id and initial state.
pub fn parse_order(order: &Value) -> Result<(String, Option<String>), CommandError> {
    let shape: OrderShape = serde_json::from_value(order.clone()).map_err(|e| {
        let mut e = field_error(None, e);
        e.message = format!("order: {}", e.message);
        e
    })?;
    validate_order(None, &shape)?;
    Ok((shape.id, shape.state))
}

fn field_error(rid: Option<&str>, e: serde_json::Error) -> CommandError {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let code = if msg.starts_with("missing field") {
        "missing_field"
    } else if msg.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_field"
    };
    err(rid, code, msg)
}

fn check_text(rid: Option<&str>, field: &str, s: &str) -> Result<(), CommandError> {
    if s.is_empty() || s.len() > MAX_TEXT || s.chars().any(char::is_control) {
        let msg = format!("{field} must be 1 to {MAX_TEXT} bytes without control characters");
        return Err(err(rid, "invalid_field", msg));
    }
    Ok(())
}

fn validate_order(rid: Option<&str>, o: &OrderShape) -> Result<(), CommandError> {
    check_text(rid, "order.id", &o.id)?;
    if let Some(s) = &o.state {
        if crate::orders::OrderState::parse(s).is_none() {
            return Err(err(rid, "invalid_field", format!("order.state {s:?} is not a known state")));
        }
    }
    for (field, v) in
        [("priority", &o.priority), ("carrier", &o.carrier), ("service", &o.service), ("tracking", &o.tracking)]
    {
        if let Some(v) = v {
            check_text(rid, &format!("order.{field}"), v)?;
        }
    }
    if let Some(st) = &o.ship_to {
        check_text(rid, "order.ship_to.name", &st.name)?;
        for v in [&st.street, &st.city, &st.postcode, &st.country].into_iter().flatten() {
            check_text(rid, "order.ship_to", v)?;
        }
    }
    if o.lines.is_empty() || o.lines.len() > MAX_LINES {
        return Err(err(rid, "invalid_field", format!("order.lines must hold 1 to {MAX_LINES} lines")));
    }
    let mut numbers = std::collections::HashSet::new();
    for l in &o.lines {
        check_text(rid, "order.lines.sku", &l.sku)?;
        if let Some(n) = &l.name {
            check_text(rid, "order.lines.name", n)?;
        }
        if l.qty == 0 {
            return Err(err(rid, "invalid_field", format!("order line {}: qty must be at least 1", l.line)));
        }
        if !numbers.insert(l.line) {
            return Err(err(rid, "invalid_field", format!("order line number {} appears twice", l.line)));
        }
        if l.barcodes.len() > MAX_BARCODES {
            return Err(err(rid, "invalid_field", format!("order line {}: at most {MAX_BARCODES} barcodes", l.line)));
        }
        for b in &l.barcodes {
            check_text(rid, "order.lines.barcodes", b)?;
        }
    }
    if let Some(label) = &o.label {
        if label.format != "zpl" {
            return Err(err(rid, "invalid_field", "order.label.format must be \"zpl\""));
        }
        if label.data.is_empty() {
            return Err(err(rid, "invalid_field", "order.label.data must not be empty"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UPSERT: &str = r#"{"request_id":"r-81f2","order":{"id":"SO-1001","state":"released","priority":"normal",
 "carrier":"DHL","service":"parcel","tracking":"JJD0001234567",
 "ship_to":{"name":"Example Customer","street":"Hauptstr. 5","city":"Berlin","postcode":"10115","country":"DE"},
 "lines":[{"line":1,"sku":"SKU-1","name":"Mug","qty":2,"barcodes":["4006381333931"]}],
 "label":{"format":"zpl","data":"^XA^XZ"}, "gift_wrap": true}}"#;

    fn code_of(name: &str, payload: &str) -> (&'static str, Option<String>) {
        let e = parse_command(name, payload.as_bytes()).unwrap_err();
        (e.code, e.request_id)
    }

    #[test]
    fn the_design_example_upsert_is_accepted_with_extra_order_fields_kept() {
        let r = parse_command("order.upsert", UPSERT.as_bytes()).unwrap();
        assert_eq!(r.request_id, "r-81f2");
        let Command::OrderUpsert { id, state, order } = r.command else { panic!() };
        assert_eq!((id.as_str(), state.as_deref()), ("SO-1001", Some("released")));
        assert_eq!(order["gift_wrap"], true);
    }

    #[test]
    fn bad_payloads_get_distinct_codes() {
        assert_eq!(code_of("order.cancel", "{not json"), ("bad_json", None));
        assert_eq!(code_of("order.cancel", "[1,2]"), ("bad_json", None));
        assert_eq!(code_of("order.cancel", r#"{"order":"SO-1"}"#), ("missing_field", None));
        assert_eq!(code_of("order.cancel", r#"{"request_id":7}"#), ("invalid_field", None));
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
        assert_eq!((e.code, e.message.as_str()), ("missing_field", "order: missing field `id`"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(name in "[a-z.]{0,16}", payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_command(&name, &payload);
        }

        #[test]
        fn arbitrary_json_never_panics(v in proptest_json()) {
            let s = v.to_string();
            for name in COMMAND_NAMES {
                let _ = parse_command(name, s.as_bytes());
            }
        }
    }

    fn proptest_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9 _.-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("request_id".to_string()),
                        Just("order".to_string()),
                        Just("from".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
