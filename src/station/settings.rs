//! What a station is set up for: its role, its operators and their roles, the documents its
//! printers serve, the overdue rules. These are domain types: the config (`crate::config`)
//! reads them from the file and builds [`Settings`]; the station only ever sees the result.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stationd_drivers::barcode::ClassRules;

use super::OrderState;
use crate::locale::Locale;

/// Which steps of the flow a station does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationRole {
    Pick,
    Pack,
    Ship,
    Multi,
}

impl StationRole {
    pub const ALL: [StationRole; 4] = [StationRole::Pick, StationRole::Pack, StationRole::Ship, StationRole::Multi];

    pub fn as_str(self) -> &'static str {
        match self {
            StationRole::Pick => "pick",
            StationRole::Pack => "pack",
            StationRole::Ship => "ship",
            StationRole::Multi => "multi",
        }
    }

    pub fn parse(s: &str) -> Option<StationRole> {
        StationRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Someone who may log in: a badge, a name to show, a role, and the language the station
/// speaks to them (the station's when `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub badge: String,
    pub name: String,
    pub role: OperatorRole,
    // Left out when unset: a saved session reads the same as before locales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

pub use crate::event::{Document, OperatorRole};

/// One overdue level: an order longer than `after` in `state` raises `order.overdue` with
/// `level` (once per level; see docs/DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueRule {
    pub state: OrderState,
    pub after: Duration,
    pub level: String,
}

/// The levels used when the config lists none.
pub fn default_overdue() -> Vec<OverdueRule> {
    use OrderState::*;
    let m = |n: u64| Duration::from_secs(60 * n);
    [
        (Picking, 20, "reminder"),
        (Picking, 40, "escalate"),
        (Packing, 15, "reminder"),
        (Packing, 30, "escalate"),
        (Packed, 10, "reminder"),
        (Packed, 20, "escalate"),
        (Held, 60, "reminder"),
    ]
    .into_iter()
    .map(|(state, mins, level)| OverdueRule { state, after: m(mins), level: level.into() })
    .collect()
}

/// What the station is set up for (built from the config; fixed while running).
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: ClassRules,
    pub role: StationRole,
    pub operators: Vec<Operator>,
    pub allow_unlisted_packers: bool,
    /// An order system is configured: uncached orders are looked up.
    pub lookup: bool,
    pub label_printer: bool,
    pub slip_printer: bool,
    /// Sorted by `after`.
    pub overdue: Vec<OverdueRule>,
    /// Orders untouched this long are dropped from the cache.
    pub cache_ms: i64,
    /// The SSCCs this station makes for orders that come without one (`[labels]`).
    pub sscc: Option<stationd_drivers::sscc::SsccPrefix>,
    /// The language the station speaks when no operator with a locale of their own is
    /// logged in (`[station] locale`).
    pub locale: Locale,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: ClassRules::default(),
            role: StationRole::Multi,
            operators: Vec::new(),
            allow_unlisted_packers: true,
            lookup: false,
            label_printer: false,
            slip_printer: false,
            overdue: default_overdue(),
            cache_ms: 24 * 3600 * 1000,
            sscc: None,
            locale: Locale::En,
        }
    }
}
