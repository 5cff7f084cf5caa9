//! The words the wire shares with the domain: order states, operator roles, documents,
//! command names and clock sources. Defined here, at the bottom, so the events can name them
//! and the station, print and uplink use the same enums (re-exported where they belong).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// An order's state, the one the cloud follows (`order.state` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderState {
    Released,
    Picking,
    Picked,
    Packing,
    Packed,
    Labelled,
    Shipped,
    Held,
    Cancelled,
}

impl OrderState {
    pub const ALL: [OrderState; 9] = [
        OrderState::Released,
        OrderState::Picking,
        OrderState::Picked,
        OrderState::Packing,
        OrderState::Packed,
        OrderState::Labelled,
        OrderState::Shipped,
        OrderState::Held,
        OrderState::Cancelled,
    ];

    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Released => "released",
            OrderState::Picking => "picking",
            OrderState::Picked => "picked",
            OrderState::Packing => "packing",
            OrderState::Packed => "packed",
            OrderState::Labelled => "labelled",
            OrderState::Shipped => "shipped",
            OrderState::Held => "held",
            OrderState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, OrderState::Shipped | OrderState::Cancelled)
    }

    /// The one state the flow moves to from here, if any.
    pub fn next(self) -> Option<OrderState> {
        Some(match self {
            OrderState::Released => OrderState::Picking,
            OrderState::Picking => OrderState::Picked,
            OrderState::Picked => OrderState::Packing,
            OrderState::Packing => OrderState::Packed,
            OrderState::Packed => OrderState::Labelled,
            OrderState::Labelled => OrderState::Shipped,
            _ => return None,
        })
    }
}

/// An operator's role at the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OperatorRole {
    Packer,
    Supervisor,
}

impl OperatorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Packer => "packer",
            OperatorRole::Supervisor => "supervisor",
        }
    }
}

/// A printed document: what the workflow asks for and what a printer is set up to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Document {
    Label,
    Slip,
}

impl Document {
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Label => "label",
            Document::Slip => "slip",
        }
    }
}

/// What a job prints: one of an order's documents, or the test page. Stored and shown as
/// `label`, `slip`, `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Printout {
    Order(Document),
    TestPage,
}

impl Printout {
    pub fn as_str(self) -> &'static str {
        match self {
            Printout::Order(d) => d.as_str(),
            Printout::TestPage => "test",
        }
    }

    /// `label`, `slip` or `test`.
    pub fn parse(s: &str) -> Option<Printout> {
        match s {
            "label" => Some(Printout::Order(Document::Label)),
            "slip" => Some(Printout::Order(Document::Slip)),
            "test" => Some(Printout::TestPage),
            _ => None,
        }
    }
}

impl From<Printout> for &'static str {
    fn from(p: Printout) -> &'static str {
        p.as_str()
    }
}

impl TryFrom<String> for Printout {
    type Error = String;
    fn try_from(s: String) -> Result<Printout, String> {
        Printout::parse(&s).ok_or_else(|| format!("unknown document {s:?}"))
    }
}

impl JsonSchema for Printout {
    fn schema_name() -> Cow<'static, str> {
        "Printout".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "What a job prints: an order's label or slip, or the test page.",
            "enum": ["label", "slip", "test"]
        })
    }
}

/// A cloud command's name, as in its topic (`cmd/{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CommandName {
    #[serde(rename = "order-upsert")]
    OrderUpsert,
    #[serde(rename = "order-cancel")]
    OrderCancel,
    #[serde(rename = "order-hold")]
    OrderHold,
    #[serde(rename = "order-release")]
    OrderRelease,
    #[serde(rename = "print")]
    Print,
    #[serde(rename = "resync")]
    Resync,
}

impl CommandName {
    pub const ALL: [CommandName; 6] = [
        CommandName::OrderUpsert,
        CommandName::OrderCancel,
        CommandName::OrderHold,
        CommandName::OrderRelease,
        CommandName::Print,
        CommandName::Resync,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CommandName::OrderUpsert => "order-upsert",
            CommandName::OrderCancel => "order-cancel",
            CommandName::OrderHold => "order-hold",
            CommandName::OrderRelease => "order-release",
            CommandName::Print => "print",
            CommandName::Resync => "resync",
        }
    }

    /// The command named `s` (its topic's last level), if the station has one.
    pub fn parse(s: &str) -> Option<CommandName> {
        CommandName::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What told the station the time: the order system's `Date` header or a command's `sent_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClockSource {
    #[serde(rename = "order system")]
    OrderSystem,
    #[serde(rename = "cloud command")]
    CloudCommand,
}

impl ClockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::OrderSystem => "order system",
            ClockSource::CloudCommand => "cloud command",
        }
    }
}

impl std::fmt::Display for ClockSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
