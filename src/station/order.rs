//! An order as the station knows it: the cloud's payload, its state, and the station's
//! progress on it (picked / verified quantities, timers, label), plus the transition rules.
//!
//! Pure data and rules; persisted by the order store (`crate::orders`) as JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{OrderPayload, Say};

pub use crate::event::OrderState;

/// Where the order's shipping label stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelStatus {
    #[default]
    None,
    /// Asked of the printer, no outcome yet.
    Requested,
    /// Confirmed by the printer (or sent to one that cannot answer).
    Printed,
    /// The last attempt failed; a reprint may retry it.
    Failed,
}

/// The station's progress on an order; survives restarts with the order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Picked quantity per line number.
    #[serde(default)]
    pub picked: BTreeMap<u32, u32>,
    /// Verified (packed) quantity per line number.
    #[serde(default)]
    pub verified: BTreeMap<u32, u32>,
    /// Items reported damaged per line number (not counted as verified).
    #[serde(default)]
    pub damaged: BTreeMap<u32, u32>,
    /// Lines a supervisor cancelled at this station.
    #[serde(default)]
    pub cancelled_lines: BTreeSet<u32>,
    /// When the order entered its current state (ms since the epoch, box clock).
    #[serde(default)]
    pub since_ms: i64,
    /// How many overdue levels of the current state were already raised.
    #[serde(default)]
    pub overdue_level: usize,
    #[serde(default)]
    pub tote: Option<String>,
    #[serde(default)]
    pub label: LabelStatus,
    #[serde(default)]
    pub hold_reason: Option<String>,
    /// Picked short: pack expects the picked quantities.
    #[serde(default)]
    pub short: bool,
    /// The SSCC this station made for the order (it came without one); see `sscc.rs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sscc: Option<String>,
}

/// A cached order: the payload from the cloud plus the station's view of its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOrder {
    pub id: String,
    pub state: OrderState,
    /// The state a held order returns to on release.
    #[serde(default)]
    pub held_from: Option<OrderState>,
    pub updated_at: String,
    /// Shared: the workflow hands orders out for saving and printing without copying it.
    pub payload: std::sync::Arc<OrderPayload>,
    #[serde(default)]
    pub progress: Progress,
}

impl StoredOrder {
    pub fn new(payload: OrderPayload, state: OrderState, updated_at: String) -> StoredOrder {
        let id = payload.id.clone();
        let payload = std::sync::Arc::new(payload);
        StoredOrder { id, state, held_from: None, updated_at, payload, progress: Progress::default() }
    }

    /// The order's SSCC: the one it came with, or the one this station made for it.
    pub fn sscc(&self) -> Option<&str> {
        self.payload.sscc.as_deref().or(self.progress.sscc.as_deref())
    }
}

/// One order line as the flow matches scans against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub line: u32,
    pub sku: String,
    pub name: String,
    pub qty: u32,
    /// Codes that identify the item, as listed, plus their GTIN-14 form when they are
    /// EAN/UPC/GTIN codes (so an EAN-13 on the line matches the GS1-128 of the same item).
    pub codes: Vec<String>,
}

/// The lines of an order, each with every code that identifies its item.
pub fn lines_of(payload: &OrderPayload) -> Vec<Line> {
    payload
        .lines
        .iter()
        .map(|l| {
            let mut codes = l.barcodes.clone();
            codes.push(l.sku.clone());
            let gtins: Vec<String> = codes
                .iter()
                .filter_map(|c| stationd_drivers::barcode::classify(c).ok().flatten().and_then(|p| p.gtin14()))
                .collect();
            codes.extend(gtins);
            Line { line: l.line, sku: l.sku.clone(), name: l.name.clone().unwrap_or_default(), qty: l.qty, codes }
        })
        .collect()
}

/// A change of order state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// One step along `released -> picking -> ... -> shipped`.
    Advance(OrderState),
    Cancel,
    Hold,
    Release,
}

/// The order state rules of docs/DESIGN.md: the flow moves one step at a time; any
/// non-terminal state may be held or cancelled; a held order is released back to the state
/// it left. Returns the new state and the state to remember for a release.
pub fn transition(order: &StoredOrder, change: StateChange) -> Result<(OrderState, Option<OrderState>), Say> {
    let from = order.state;
    let order_id = || order.id.clone();
    match change {
        StateChange::Advance(to) if from.next() == Some(to) => Ok((to, None)),
        StateChange::Advance(to) => Err(Say::CannotBecome { order: order_id(), from, to }),
        StateChange::Cancel if from.is_terminal() => Err(Say::AlreadyFinal { order: order_id(), state: from }),
        StateChange::Cancel => Ok((OrderState::Cancelled, None)),
        StateChange::Hold if from == OrderState::Held => Err(Say::AlreadyHeld { order: order_id() }),
        StateChange::Hold if from.is_terminal() => Err(Say::CannotHold { order: order_id(), state: from }),
        StateChange::Hold => Ok((OrderState::Held, Some(from))),
        StateChange::Release if from != OrderState::Held => Err(Say::NotHeld { order: order_id(), state: from }),
        StateChange::Release => Ok((order.held_from.unwrap_or(OrderState::Released), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(state: OrderState) -> StoredOrder {
        StoredOrder::new(OrderPayload::minimal("SO-1", "SKU-1"), state, String::new())
    }

    #[test]
    fn every_non_terminal_state_can_be_held_and_released_back() {
        for s in OrderState::ALL.into_iter().filter(|s| !s.is_terminal() && *s != OrderState::Held) {
            let (to, from) = transition(&order(s), StateChange::Hold).unwrap();
            assert_eq!((to, from), (OrderState::Held, Some(s)));
            let held = StoredOrder { state: to, held_from: from, ..order(s) };
            assert_eq!(transition(&held, StateChange::Release).unwrap().0, s);
            assert_eq!(transition(&order(s), StateChange::Cancel).unwrap().0, OrderState::Cancelled);
        }
    }

    #[test]
    fn terminal_orders_and_wrong_releases_are_refused() {
        for s in [OrderState::Shipped, OrderState::Cancelled] {
            assert!(transition(&order(s), StateChange::Cancel).is_err());
            assert!(transition(&order(s), StateChange::Hold).is_err());
        }
        assert_eq!(
            transition(&order(OrderState::Packing), StateChange::Release).unwrap_err().en(),
            "order SO-1 is packing, not held"
        );
        assert!(transition(&order(OrderState::Held), StateChange::Hold).is_err());
        assert_eq!(transition(&order(OrderState::Held), StateChange::Cancel).unwrap().0, OrderState::Cancelled);
    }

    #[test]
    fn the_flow_moves_exactly_one_step_at_a_time() {
        for from in OrderState::ALL {
            for to in OrderState::ALL {
                let ok = transition(&order(from), StateChange::Advance(to)).is_ok();
                assert_eq!(ok, from.next() == Some(to), "{from:?} -> {to:?}");
            }
        }
        assert_eq!(
            transition(&order(OrderState::Released), StateChange::Advance(OrderState::Packed)).unwrap_err().en(),
            "order SO-1 is released; it cannot become packed"
        );
    }

    #[test]
    fn lines_match_their_codes_sku_and_gtin_form() {
        let p = serde_json::json!({"id": "SO-1", "lines": [{"line": 1, "sku": "SKU-1", "qty": 2, "barcodes": ["4006381333931"]}]});
        let lines = lines_of(&OrderPayload::parse(&p).unwrap());
        assert_eq!(lines.len(), 1);
        assert!(lines[0].codes.contains(&"04006381333931".to_string()));
        assert!(lines[0].codes.contains(&"SKU-1".to_string()));
    }
}
