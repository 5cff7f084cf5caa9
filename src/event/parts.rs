//! The parts several events share, each defined once: the scan's own fields ([`Scan`]), an
//! error ([`ErrorInfo`]), the clock note ([`Clock`]), line lists ([`OpenedLine`],
//! [`ShortLine`]) and a seq range ([`SeqRange`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Present while the box clock is known to be more than 30 s off (box minus remote).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// Box minus remote, in milliseconds; negative when the box is behind.
    pub skew_ms: i64,
}

/// Why something was refused: a stable code (one of the kind's own codes) and a message
/// for people.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ErrorInfo_{C}")]
pub struct ErrorInfo<C = String> {
    /// Stable, snake_case (`wrong_item`, `bad_barcode`, `unknown_order`, ...).
    pub code: C,
    pub message: String,
}

impl<C> ErrorInfo<C> {
    pub fn new(code: C, message: impl Into<String>) -> Self {
        ErrorInfo { code, message: message.into() }
    }
}

/// The scan's own fields, in the data of every event a scan produced.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct Scan {
    /// The scanner's `name` (`lookup` for an order scan answered by the order system).
    pub scanner: String,
    #[serde(flatten)]
    pub read: ScanRead,
}

/// What was read: the text and what it was taken for. Absent only for framing errors.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ScanRead {
    /// The scanned text.
    pub code: String,
    pub class: ScanClass,
    /// Product codes: the symbology the code was read as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbology: Option<Symbology>,
    /// Product codes: the GTIN as 14 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{14}$"))]
    pub gtin: Option<String>,
    /// GS1 element strings: application identifiers and their values (free-form by nature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<BTreeMap<String, String>>,
}

/// What a scanned code was taken for.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanClass {
    Badge,
    Command,
    Order,
    Tote,
    Location,
    Product,
    Tracking,
    Unknown,
    Lookup,
}

/// The symbology of a product code.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Symbology {
    Ean8,
    Ean13,
    Upca,
    Gs1,
}

/// A line of an order as a step sees it (`order.opened`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenedLine {
    pub line: u32,
    pub sku: String,
    /// Items this step needs (a short pick packs what was picked).
    pub qty: u32,
    pub done: u32,
    pub cancelled: bool,
}

/// A line picked short: how many items are missing.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortLine {
    pub line: u32,
    pub sku: String,
    #[schemars(range(min = 1))]
    pub missing: u32,
}

/// Seqs `from..=to`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeqRange {
    #[schemars(range(min = 1))]
    pub from: u64,
    #[schemars(range(min = 1))]
    pub to: u64,
}

impl Scan {
    /// A scan of `code` by `scanner`, taken for `class` (no product fields).
    pub fn new(scanner: impl Into<String>, code: impl Into<String>, class: ScanClass) -> Scan {
        Scan {
            scanner: scanner.into(),
            read: ScanRead { code: code.into(), class, symbology: None, gtin: None, ai: None },
        }
    }
}
