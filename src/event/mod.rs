//! The event envelope: one JSON object per event, the same bytes in the journal and in the
//! MQTT `/events` payload (see docs/DESIGN.md, "Events").
//!
//! Producers describe *what happened* with a [`NewEvent`] holding a typed [`Event`]; the
//! journal stamps the identity fields (`id`, `seq`, `at`, station) when it makes the event
//! durable, so seq allocation lives in exactly one place. The types here are the contract:
//! docs/asyncapi.yaml's event schemas are generated from them.
//!
//! - `kinds.rs`: [`Event`], one variant per kind;
//! - `scans.rs`, `updates.rs`, `system.rs`: the data of each kind;
//! - `parts.rs`: what several kinds share (the scan's fields, errors, the clock note);
//! - `vocab.rs`: the enums the wire shares with the domain (order states, roles, documents).
//!
//! Reading stored records back: a record of this release reads as [`Envelope`]; readers that
//! must take any release's records (salvage, the monitor) read [`AnyEnvelope`], whose `data`
//! stays JSON.

mod kinds;
mod parts;
mod refusals;
mod scans;
mod system;
#[cfg(test)]
mod tests;
mod updates;
mod vocab;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::iso8601::{Config, EncodedConfig, Iso8601, TimePrecision};
use time::OffsetDateTime;

pub use kinds::Event;
pub use parts::{Clock, ErrorInfo, OpenedLine, Scan, ScanClass, ScanRead, SeqRange, ShortLine, Symbology};
pub(crate) use refusals::codes;
pub use refusals::{CommandRefusal, ItemRefusal, ScanRefusal};
pub use scans::{
    CommandScanned, ItemCounted, ItemDamaged, ItemRejected, LineCancelled, LogoutReason, OperatorLogin, OperatorLogout,
    OrderOpened, OrderUnknown, PickLocation, PickShort, PickTote, ScanRejected, Scanned, ShipScanned, Step,
};
pub use system::{JournalRecovered, JournalTrimmed, PrintFailed, PrintJob, PrintRefused, TrimReason};
pub use updates::{
    ChangedBy, ClockSkew, CommandAccepted, CommandRefused, DocumentFailed, Interruption, LabelPrinted,
    OrderInterrupted, OrderOverdue, OrderReceived, OrderSource, OrderStateChanged, StateDetail,
};
pub use vocab::{ClockSource, CommandName, Document, OperatorRole, OrderState, Printout};

/// Envelope version written in `v`.
pub const ENVELOPE_VERSION: u32 = 1;

/// What a producer hands the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event: Event,
    /// The order it is about, if any.
    pub order: Option<String>,
    /// The badge of the operator logged in when it happened, if any.
    pub operator: Option<String>,
}

impl NewEvent {
    pub fn new(event: Event) -> Self {
        NewEvent { event, order: None, operator: None }
    }

    /// The dotted kind, e.g. `order.state`.
    pub fn kind(&self) -> &'static str {
        self.event.kind()
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

/// A stamped, journaled event as it travels upstream. Its JSON is the journal record and
/// the MQTT payload (`kind` and `data` come from [`Event`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("unevaluatedProperties" = false))]
pub struct Envelope {
    #[schemars(range(min = 1, max = 1))]
    pub v: u32,
    /// UUIDv7; unique per event; the same on every resend.
    pub id: uuid::Uuid,
    /// Per station, gap-free, strictly increasing.
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// `[station] warehouse`: letters, digits, `-` and `_`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub warehouse: String,
    /// `[station] id`: letters, digits, `-` and `_`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub station: String,
    /// Box clock, UTC, ISO 8601 with milliseconds (`2026-11-23T10:04:05.123Z`).
    #[schemars(extend("format" = "date-time"), regex(pattern = r"Z$"))]
    pub at: String,
    /// Set for order events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The badge of the operator logged in when it happened, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

/// An envelope of any release, with `kind` and `data` left as they were written: for the
/// readers that must take every stored or received record, even one of a kind or shape this
/// release does not know (salvaging a quarantined journal, the monitor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnyEnvelope {
    pub v: u32,
    pub id: uuid::Uuid,
    pub seq: u64,
    pub warehouse: String,
    pub station: String,
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
