//! The order as the cloud sends it (`order-upsert`, an order system's lookup answer, a
//! preload file): validated once into [`OrderPayload`], then stored, shown and printed in
//! that typed shape. Fields the station does not know are kept as they came (`extra`), so
//! an order saved and sent on is the order received.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ErrorCode, OrderState};

/// Longest text field of an order (or of a command naming one).
pub const MAX_TEXT: usize = 256;
/// A text field as the contract's schema says it: no control characters (256 bytes at most
/// is checked by the station; `maxLength` counts characters).
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]+$";
/// Most lines an order may have.
pub const MAX_LINES: usize = 1000;
/// Most barcodes an order line may list.
pub const MAX_BARCODES: usize = 32;

/// A validated order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPayload {
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub id: String,
    /// The state a new order starts in (default `released`); a known order keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<OrderState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub tracking: Option<String>,
    /// The order's SSCC when the cloud assigned one (else the station may make one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{18}$"))]
    pub sscc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<ShipTo>,
    #[schemars(length(min = 1, max = 1000))]
    pub lines: Vec<OrderLine>,
    /// The carrier's own label, ready to print.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<CarrierLabel>,
    /// Fields the station does not use, kept as sent (`tote`, the cloud's own fields).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where the parcel goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipTo {
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub country: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// Unique within the order.
    pub line: u32,
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN))]
    pub name: Option<String>,
    #[schemars(range(min = 1))]
    pub qty: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 256), regex(pattern = TEXT_PATTERN)))]
    pub barcodes: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A label the carrier made: ZPL that passed the drawing-only allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierLabel {
    #[schemars(extend("const" = "zpl"))]
    pub format: String,
    /// Exactly one `^XA` … `^XZ` format that only draws (docs/DEVICES.md, "Carrier labels
    /// from the cloud"); anything else is answered `invalid_field`.
    #[schemars(length(min = 1), regex(pattern = stationd_drivers::carrier_zpl::schema_pattern()))]
    pub data: String,
}

/// Why an order (or a field of a command) was refused: a stable `code` (`missing_field`,
/// `unknown_field`, `invalid_field`) and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PayloadError {
    pub code: ErrorCode,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> PayloadError {
    PayloadError { code: ErrorCode::InvalidField, message: message.into() }
}

/// A serde error as a refusal: `missing_field` / `unknown_field` / `invalid_field`, the
/// message without serde's position suffix.
pub fn serde_field_error(e: &serde_json::Error) -> PayloadError {
    let msg = e.to_string();
    let message = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let code = if message.starts_with("missing field") {
        ErrorCode::MissingField
    } else if message.starts_with("unknown field") {
        ErrorCode::UnknownField
    } else {
        ErrorCode::InvalidField
    };
    PayloadError { code, message }
}

/// A text field: 1 to [`MAX_TEXT`] bytes, no control characters.
pub fn check_text(field: &str, s: &str) -> Result<(), PayloadError> {
    if s.is_empty() || s.len() > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must be 1 to {MAX_TEXT} bytes without control characters")));
    }
    Ok(())
}

impl OrderPayload {
    /// Validates an order object as `order-upsert` carries it (also an order system's
    /// lookup answer and a preload file's entries).
    pub fn parse(order: &Value) -> Result<OrderPayload, PayloadError> {
        // Named before serde sees it, so the refusal says which state is unknown.
        if let Some(Value::String(s)) = order.get("state") {
            if OrderState::parse(s).is_none() {
                return Err(invalid(format!("order.state {s:?} is not a known state")));
            }
        }
        let payload: OrderPayload = OrderPayload::deserialize(order).map_err(|e| {
            let e = serde_field_error(&e);
            PayloadError { message: format!("order: {}", e.message), ..e }
        })?;
        payload.validate()?;
        Ok(payload)
    }

    fn validate(&self) -> Result<(), PayloadError> {
        check_text("order.id", &self.id)?;
        for (field, v) in [
            ("priority", &self.priority),
            ("carrier", &self.carrier),
            ("service", &self.service),
            ("tracking", &self.tracking),
            ("sscc", &self.sscc),
        ] {
            if let Some(v) = v {
                check_text(&format!("order.{field}"), v)?;
            }
        }
        if let Some(st) = &self.ship_to {
            check_text("order.ship_to.name", &st.name)?;
            for v in [&st.street, &st.city, &st.postcode, &st.country].into_iter().flatten() {
                check_text("order.ship_to", v)?;
            }
        }
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(invalid(format!("order.lines must hold 1 to {MAX_LINES} lines")));
        }
        let mut numbers = std::collections::HashSet::new();
        for l in &self.lines {
            check_text("order.lines.sku", &l.sku)?;
            if let Some(n) = &l.name {
                check_text("order.lines.name", n)?;
            }
            if l.qty == 0 {
                return Err(invalid(format!("order line {}: qty must be at least 1", l.line)));
            }
            if !numbers.insert(l.line) {
                return Err(invalid(format!("order line number {} appears twice", l.line)));
            }
            if l.barcodes.len() > MAX_BARCODES {
                return Err(invalid(format!("order line {}: at most {MAX_BARCODES} barcodes", l.line)));
            }
            for b in &l.barcodes {
                check_text("order.lines.barcodes", b)?;
            }
        }
        if let Some(label) = &self.label {
            if label.format != "zpl" {
                return Err(invalid("order.label.format must be \"zpl\""));
            }
            if label.data.is_empty() {
                return Err(invalid("order.label.data must not be empty"));
            }
            if let Err(e) = stationd_drivers::carrier_zpl::check(label.data.as_bytes()) {
                return Err(invalid(format!("order.label.data: {e}")));
            }
        }
        Ok(())
    }

    /// A text field the station does not use itself (`tote`), when it is a non-empty string.
    pub fn extra_text(&self, field: &str) -> Option<&str> {
        self.extra.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// The smallest valid order: one line of `sku` (for tests).
    #[cfg(test)]
    pub(crate) fn minimal(id: &str, sku: &str) -> OrderPayload {
        OrderPayload {
            id: id.to_string(),
            state: None,
            priority: None,
            carrier: None,
            service: None,
            tracking: None,
            sscc: None,
            ship_to: None,
            lines: vec![OrderLine {
                line: 1,
                sku: sku.to_string(),
                name: None,
                qty: 1,
                barcodes: Vec::new(),
                extra: Map::new(),
            }],
            label: None,
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip_and_known_ones_are_typed() {
        let sent = json!({
            "id": "SO-1", "state": "picked", "carrier": "DHL", "tote": "T-9", "cloud_ref": {"x": [1, 2]},
            "ship_to": {"name": "A", "city": "B"},
            "lines": [{"line": 1, "sku": "S", "qty": 2, "barcodes": ["4006381333931"], "bin": "A-01"}],
            "label": {"format": "zpl", "data": "^XA^FO10,10^FDhi^FS^XZ"}
        });
        let p = OrderPayload::parse(&sent).unwrap();
        assert_eq!(p.state, Some(OrderState::Picked));
        assert_eq!(p.extra_text("tote"), Some("T-9"));
        assert_eq!(p.lines[0].extra["bin"], "A-01");
        assert_eq!(serde_json::to_value(&p).unwrap(), sent);
    }

    #[test]
    fn refusals_name_the_field() {
        let e = OrderPayload::parse(&json!({"id": "SO-1", "state": "lost", "lines": []})).unwrap_err();
        assert_eq!(e.message, "order.state \"lost\" is not a known state");
        let e = OrderPayload::parse(&json!({"id": "SO-1"})).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("missing_field", "order: missing field `lines`"));
        let e = OrderPayload::parse(
            &json!({"id": "SO-1", "ship_to": {"name": "A", "floor": 3}, "lines": [{"line": 1, "sku": "S", "qty": 1}]}),
        )
        .unwrap_err();
        assert_eq!(e.code.as_str(), "unknown_field");
        let e = OrderPayload::parse(&json!({"id": "SO-1", "lines": [{"line": 1, "sku": "S", "qty": 0}]})).unwrap_err();
        assert_eq!(e.message, "order line 1: qty must be at least 1");
    }
}
