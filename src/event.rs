//! The event envelope: one JSON object per event, the same bytes in the journal and in the
//! MQTT `/events` payload (see docs/DESIGN.md, "Events").
//!
//! Producers describe *what happened* with a [`NewEvent`]; the journal stamps the identity
//! fields (`id`, `seq`, `at`, station) when it makes the event durable, so seq allocation
//! lives in exactly one place.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::iso8601::{Config, EncodedConfig, Iso8601, TimePrecision};
use time::OffsetDateTime;

/// Envelope version written in `v`.
pub const ENVELOPE_VERSION: u32 = 1;

/// What a producer hands the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Dotted event kind, e.g. `scan.received`, `order.state`, `journal.recovered`.
    pub kind: String,
    pub order: Option<String>,
    pub operator: Option<String>,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: impl Into<String>, data: serde_json::Value) -> Self {
        NewEvent { kind: kind.into(), order: None, operator: None, data }
    }
}

/// Who is logged in at the station, for the events journaled outside the pure station
/// (print jobs, the `print` and `resync` commands), so they carry `operator` like the
/// station's own. The workflow sets it after every input; the others only read it.
#[derive(Debug, Clone, Default)]
pub struct OnDuty(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl OnDuty {
    pub fn set(&self, badge: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = badge;
    }

    /// The badge of the operator logged in now, if any.
    pub fn badge(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A stamped, journaled event as it travels upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub id: uuid::Uuid,
    pub seq: u64,
    pub warehouse: String,
    pub station: String,
    /// UTC, ISO 8601 with milliseconds (`2026-11-23T10:04:05.123Z`).
    pub at: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

const AT_CONFIG: EncodedConfig =
    Config::DEFAULT.set_time_precision(TimePrecision::Second { decimal_digits: std::num::NonZeroU8::new(3) }).encode();

/// Formats a time as the envelope's `at`: UTC with millisecond precision and a `Z`.
pub fn format_at(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&Iso8601::<AT_CONFIG>).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses an envelope's `at` back into a time.
pub fn parse_at(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_is_utc_with_milliseconds_and_z() {
        let t = time::macros::datetime!(2026-11-23 10:04:05.123456 +01:00);
        assert_eq!(format_at(t), "2026-11-23T09:04:05.123Z");
        assert_eq!(parse_at("2026-11-23T09:04:05.123Z").unwrap(), t.replace_nanosecond(123_000_000).unwrap());
    }

    #[test]
    fn envelope_omits_absent_order_and_operator() {
        let e = Envelope {
            v: 1,
            id: uuid::Uuid::nil(),
            seq: 7,
            warehouse: "WH1".into(),
            station: "PACK-07".into(),
            at: "2026-11-23T10:04:05.123Z".into(),
            kind: "scan.received".into(),
            order: None,
            operator: None,
            data: serde_json::json!({"code": "123"}),
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(!s.contains("order") && !s.contains("operator"), "{s}");
        assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), e);
    }
}
