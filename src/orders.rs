//! The local order cache and the command seen-set, in a sled database of their own
//! (`<journal.path>/state`), plus the order state rules.
//!
//! # Design constraints
//! - Orders arrive by `order.upsert` and change by `order.cancel` / `hold` / `release`;
//!   state transitions are enforced by [`transition`] (pure): an illegal one is refused with
//!   a reason and never applied.
//! - A command's effect and its `request_id` are written in one sled transaction and made
//!   durable before the reply, so a command redelivered after a crash is answered as a
//!   duplicate and not applied twice. Request ids are kept for [`SEEN_WINDOW`].
//! - The cache can be rebuilt from the cloud: a damaged database is moved aside and a fresh
//!   one started (logged), rather than stopping the station.
//! - No `sled::` type leaves this module.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;

use crate::journal::store::{durable_sync, open_side_db, storage};
use crate::journal::JournalError;

/// How long a `request_id` is remembered for duplicate detection.
pub const SEEN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn parse(s: &str) -> Option<OrderState> {
        serde_json::from_value(Value::String(s.to_string())).ok()
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
    pub payload: Value,
}

/// A change of order state asked for by a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Cancel,
    Hold,
    Release,
}

/// The order state rules of docs/DESIGN.md: any non-terminal state may be held or
/// cancelled; a held order is released back to the state it left.
pub fn transition(order: &StoredOrder, change: StateChange) -> Result<(OrderState, Option<OrderState>), String> {
    let from = order.state;
    match change {
        StateChange::Cancel if from.is_terminal() => Err(format!("order {} is already {}", order.id, from.as_str())),
        StateChange::Cancel => Ok((OrderState::Cancelled, None)),
        StateChange::Hold if from == OrderState::Held => Err(format!("order {} is already held", order.id)),
        StateChange::Hold if from.is_terminal() => {
            Err(format!("order {} is {} and cannot be held", order.id, from.as_str()))
        }
        StateChange::Hold => Ok((OrderState::Held, Some(from))),
        StateChange::Release if from != OrderState::Held => {
            Err(format!("order {} is {}, not held", order.id, from.as_str()))
        }
        StateChange::Release => Ok((order.held_from.unwrap_or(OrderState::Released), None)),
    }
}

/// A remembered command: when it was executed and what was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenRequest {
    pub at_ms: i64,
    pub name: String,
    pub reply: Value,
}

#[derive(Clone)]
pub struct OrderStore {
    db: sled::Db,
    orders: sled::Tree,
    requests: sled::Tree,
    data_file: Arc<std::fs::File>,
}

impl OrderStore {
    /// Opens (or creates) the store under `journal_dir/state`.
    pub fn open(journal_dir: &Path) -> Result<OrderStore, JournalError> {
        let (db, file) = open_side_db(
            &journal_dir.join("state"),
            4 * 1024 * 1024,
            "order cache",
            "orders are re-sent by the cloud; remembered request ids are lost",
        )?;
        let orders = db.open_tree("orders").map_err(storage)?;
        let requests = db.open_tree("requests").map_err(storage)?;
        Ok(OrderStore { db, orders, requests, data_file: Arc::new(file) })
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredOrder>, JournalError> {
        match self.orders.get(id.as_bytes()).map_err(storage)? {
            Some(v) => {
                serde_json::from_slice(&v).map(Some).map_err(|e| JournalError::Storage(format!("order {id}: {e}")))
            }
            None => Ok(None),
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn seen(&self, request_id: &str) -> Result<Option<SeenRequest>, JournalError> {
        match self.requests.get(request_id.as_bytes()).map_err(storage)? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    /// Records a command as executed, with the order it wrote (if any), atomically and
    /// durably.
    pub fn commit(
        &self,
        request_id: &str,
        seen: &SeenRequest,
        order: Option<&StoredOrder>,
    ) -> Result<(), JournalError> {
        let seen_bytes = serde_json::to_vec(seen).map_err(|e| JournalError::Storage(e.to_string()))?;
        let order_bytes = match order {
            Some(o) => Some(serde_json::to_vec(o).map_err(|e| JournalError::Storage(e.to_string()))?),
            None => None,
        };
        (&self.orders, &self.requests)
            .transaction(|(orders, requests)| {
                if let (Some(o), Some(bytes)) = (order, &order_bytes) {
                    orders.insert(o.id.as_bytes(), bytes.as_slice())?;
                }
                requests.insert(request_id.as_bytes(), seen_bytes.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| JournalError::Storage(format!("order store transaction: {e:?}")))?;
        durable_sync(&self.db, &self.data_file)
    }

    /// Forgets request ids older than [`SEEN_WINDOW`]; returns how many.
    pub fn purge_seen(&self, now_ms: i64) -> Result<usize, JournalError> {
        let cutoff = now_ms - SEEN_WINDOW.as_millis() as i64;
        let mut n = 0;
        for kv in self.requests.iter() {
            let (k, v) = kv.map_err(storage)?;
            let old = serde_json::from_slice::<SeenRequest>(&v).map(|s| s.at_ms < cutoff).unwrap_or(true);
            if old {
                self.requests.remove(k).map_err(storage)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(state: OrderState) -> StoredOrder {
        StoredOrder { id: "SO-1".into(), state, held_from: None, updated_at: String::new(), payload: Value::Null }
    }

    #[test]
    fn every_non_terminal_state_can_be_held_and_released_back() {
        for s in [
            OrderState::Released,
            OrderState::Picking,
            OrderState::Picked,
            OrderState::Packing,
            OrderState::Packed,
            OrderState::Labelled,
        ] {
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
            transition(&order(OrderState::Packing), StateChange::Release).unwrap_err(),
            "order SO-1 is packing, not held"
        );
        assert!(transition(&order(OrderState::Held), StateChange::Hold).is_err());
        assert_eq!(transition(&order(OrderState::Held), StateChange::Cancel).unwrap().0, OrderState::Cancelled);
    }

    #[test]
    fn a_damaged_order_cache_is_moved_aside_and_an_empty_one_started() {
        let tmp = tempfile::tempdir().unwrap();
        let store = OrderStore::open(tmp.path()).unwrap();
        let seen = SeenRequest { at_ms: 1, name: "order.upsert".into(), reply: serde_json::json!({}) };
        store.commit("r-1", &seen, Some(&order(OrderState::Released))).unwrap();
        drop(store);
        // sled refuses a configuration file it cannot read: a database it will not open.
        std::fs::write(tmp.path().join("state").join("conf"), b"\xff\x00garbage").unwrap();
        let store = OrderStore::open(tmp.path()).unwrap();
        assert!(store.is_empty());
        let aside: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("state.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "damaged files kept");
    }

    #[test]
    fn commands_and_orders_are_stored_together_and_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let store = OrderStore::open(tmp.path()).unwrap();
        let seen = SeenRequest { at_ms: 1, name: "order.upsert".into(), reply: serde_json::json!({"ok": true}) };
        store.commit("r-1", &seen, Some(&order(OrderState::Released))).unwrap();
        drop(store);
        let store = OrderStore::open(tmp.path()).unwrap();
        assert_eq!(store.get("SO-1").unwrap().unwrap().state, OrderState::Released);
        assert_eq!(store.seen("r-1").unwrap().unwrap(), seen);
        assert_eq!(store.purge_seen(SEEN_WINDOW.as_millis() as i64 + 10).unwrap(), 1);
        assert!(store.seen("r-1").unwrap().is_none());
    }
}
