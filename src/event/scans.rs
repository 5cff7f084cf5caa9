//! The data of the events a scan produces: logins, opening orders, items, totes, locations,
//! command barcodes, shipping, and refused scans. Each carries the scan's fields ([`Scan`],
//! flattened) and the clock note.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parts::{Clock, ErrorInfo, OpenedLine, Scan, ScanRead, ShortLine};
use super::refusals::{ItemRefusal, ScanRefusal};
use super::vocab::OperatorRole;

/// `operator.login`: a badge logged an operator in.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OperatorLogin {
    #[serde(flatten)]
    pub scan: Scan,
    /// The operator's name from the config (empty for an unlisted packer).
    pub name: String,
    pub role: OperatorRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// Why an operator was logged out.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogoutReason {
    /// The same badge scanned again.
    Badge,
    /// `CMD:LOGOUT`.
    Command,
    /// Another badge took over.
    Switched,
}

/// `operator.logout`: the operator logged out (badge again, `CMD:LOGOUT`) or another badge
/// took over (`reason` switched, no scan fields: the event is the leaving operator's).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
// The scan's fields are optional here (no scan behind the event), but they come together.
#[schemars(
    deny_unknown_fields,
    extend("dependentRequired" = {"scanner": ["code", "class"], "code": ["scanner", "class"], "class": ["scanner", "code"]})
)]
pub struct OperatorLogout {
    #[serde(flatten)]
    pub scan: Option<Scan>,
    pub reason: LogoutReason,
    /// The badge that logged in (reason switched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// Which part of the flow an order is in at this station.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Pick,
    Pack,
}

/// `order.opened`: an order scanned for picking or packing, with its lines as this step
/// sees them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OrderOpened {
    #[serde(flatten)]
    pub scan: Scan,
    pub step: Step,
    pub lines: Vec<OpenedLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `order.lookup` (the scanned order is being asked of the order system): the scan alone.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Scanned {
    #[serde(flatten)]
    pub scan: Scan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `order.unknown`: the order could not be found. From a lookup, only the error; from a
/// scan at a station without an order system, the scan's fields too.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
// The scan's fields are optional here (no scan behind the event), but they come together.
#[schemars(
    deny_unknown_fields,
    extend("dependentRequired" = {"scanner": ["code", "class"], "code": ["scanner", "class"], "class": ["scanner", "code"]})
)]
pub struct OrderUnknown {
    #[serde(flatten)]
    pub scan: Option<Scan>,
    /// `not_found`, `lookup_timeout`, `lookup_unreachable`, `lookup_failed`,
    /// `lookup_unauthorized`, `bad_order`; `unknown_order` for a scan with no order system.
    pub error: ErrorInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `item.picked`, `item.verified`: an item counted on its line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ItemCounted {
    #[serde(flatten)]
    pub scan: Scan,
    pub line: u32,
    pub sku: String,
    /// Items done on the line so far.
    #[schemars(range(min = 1))]
    pub qty: u32,
    /// Items the line needs.
    #[schemars(range(min = 1))]
    pub of: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `item.rejected`: a scan that is not an item of the open order (`wrong_item`,
/// `unknown_barcode`, `over_quantity`, `line_cancelled`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ItemRejected {
    #[serde(flatten)]
    pub scan: Scan,
    pub error: ErrorInfo<ItemRefusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `item.damaged`: an item recorded as damaged (after `CMD:DAMAGED`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ItemDamaged {
    #[serde(flatten)]
    pub scan: Scan,
    pub line: u32,
    pub sku: String,
    /// Damaged items on the line so far.
    #[schemars(range(min = 1))]
    pub damaged: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `line.cancelled`: a line cancelled by a supervisor (after `CMD:CANCEL-LINE`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LineCancelled {
    #[serde(flatten)]
    pub scan: Scan,
    pub line: u32,
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `pick.location`: a location scanned while picking.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PickLocation {
    #[serde(flatten)]
    pub scan: Scan,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `pick.tote`: the tote the order is picked into.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PickTote {
    #[serde(flatten)]
    pub scan: Scan,
    pub tote: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `command.scanned`: a command barcode carried out (`CMD:HOLD:dented`, ...).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CommandScanned {
    #[serde(flatten)]
    pub scan: Scan,
    /// The command's name, upper case: HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT.
    pub command: String,
    /// What follows the name in the barcode (`CMD:HOLD:dented`); absent when nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `pick.short`: `CMD:SHORT`, the order picked with lines missing items.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PickShort {
    #[serde(flatten)]
    pub command: CommandScanned,
    pub short: Vec<ShortLine>,
}

/// `ship.scanned`: a labelled order's tracking number or label scanned; it ships.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ShipScanned {
    #[serde(flatten)]
    pub scan: Scan,
    pub tracking: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `scan.rejected`: a scan refused. Framing errors (`scan_*`) carry only the scanner; every
/// other refusal has the code and its class.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(
    deny_unknown_fields,
    extend(
        "if" = {"properties": {"error": {"properties": {"code": {"pattern": "^scan_"}}}}},
        "else" = {"required": ["code", "class"]},
        "dependentRequired" = {"code": ["class"], "class": ["code"]}
    )
)]
pub struct ScanRejected {
    pub scanner: String,
    #[serde(flatten)]
    pub read: Option<ScanRead>,
    pub error: ErrorInfo<ScanRefusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}
