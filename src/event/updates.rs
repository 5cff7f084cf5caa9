//! The data of the events about orders and commands that are not a scan's own: state
//! transitions, orders received, interrupted or overdue, labels and slips, clock skew, and
//! the audit of cloud commands.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parts::{Clock, ErrorInfo, ShortLine};
use super::refusals::CommandRefusal;
use super::vocab::{ClockSource, CommandName, OrderState};

/// Who moved an order.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangedBy {
    Station,
    Cloud,
    Printer,
}

/// `order.state`: exactly one per accepted transition; the order state the cloud follows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OrderStateChanged {
    pub from: OrderState,
    pub to: OrderState,
    pub by: ChangedBy,
    /// Absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub detail: StateDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// What a transition adds when it has it: the command behind it, the tracking number it
/// shipped with, a short pick's lines, the SSCC its label carries (or why none was made).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
pub struct StateDetail {
    /// The cloud command behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<Vec<ShortLine>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{18}$"))]
    pub sscc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sscc_error: Option<String>,
}

/// Where an order's contents came from.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderSource {
    Cloud,
    Lookup,
    Preload,
}

/// `order.received`: an order's contents cached (new, or replaced keeping the station's
/// state and progress).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderReceived {
    /// The order's state after it.
    pub state: OrderState,
    pub source: OrderSource,
    /// The `order.upsert` behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// The states the office can stop an open order with.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interruption {
    Held,
    Cancelled,
}

/// `order.interrupted`: the order open at the station was held or cancelled by the office.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInterrupted {
    pub state: Interruption,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `order.overdue`: an order stayed in a state longer than an overdue rule allows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderOverdue {
    pub state: OrderState,
    /// The rule's level (`reminder`, `escalate`, or the config's own).
    pub level: String,
    /// Seconds in the state after which the level is raised.
    pub after_s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `label.printed`: the label of a packed order was printed (confirmed, written to a folder,
/// or sent to a printer that cannot answer); the order is labelled.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelPrinted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `label.failed`, `slip.failed`: an order's document did not print.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentFailed {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `clock.skew`: the box clock was found more than 30 s off, or back within it (`resolved`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSkew {
    pub source: ClockSource,
    /// Box minus remote; negative when the box is behind.
    pub skew_ms: i64,
    /// `true` when the clock is back within the limit; absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("const" = true))]
    pub resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `command.accepted`: audit of every executed command; `order` set for order commands and
/// `print` of an order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandAccepted {
    pub name: CommandName,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `command.refused`: a well-formed command that could not be carried out now
/// (`unknown_order`, `illegal_transition`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRefused {
    pub name: CommandName,
    pub request_id: String,
    pub error: ErrorInfo<CommandRefusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}
