//! The persistence of the workflow: the order cache, the operator session and the command
//! seen-set, in a sled database of their own (`<journal.path>/state`). The workflow
//! (`crate::station`) owns the data and the rules; this module only stores what it hands out.
//!
//! # Design constraints
//! - One writer: the workflow task. Everything one input changed is saved in one
//!   transaction ([`OrderStore::save`]) after its events are journaled.
//! - A command's effect and its `request_id` are written in one sled transaction and made
//!   durable before the reply, so a command redelivered after a crash is answered as a
//!   duplicate and not applied twice. Request ids are kept for [`SEEN_WINDOW`].
//! - The cache can be rebuilt from the cloud: a damaged database is moved aside and a fresh
//!   one started (logged), rather than stopping the station.
//! - No `sled::` type leaves this module.
//! - SSCC serial references (`src/station/sscc.rs`) are never issued twice. The station's
//!   counter (`Session::sscc_next`) is saved in the same transaction as the order that got
//!   the SSCC, before its label is printed. Because this database may be moved aside and
//!   restarted empty, a floor is also kept *outside* it, in `<journal.path>/sscc.reserve`
//!   (like the journal's `seq.reserve`): raised durably, [`SSCC_BLOCK`] serials at a time,
//!   before the station's counter passes it, and the counter starts at it after a restart.
//!   A crash or kill -9 therefore skips at most one block, and never reuses a serial.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;

use crate::journal::store::{durable_sync, open_side_db};
use crate::journal::JournalError;

/// How long a `request_id` is remembered for duplicate detection.
pub const SEEN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

use crate::station::Session;
pub use crate::station::{OrderState, StoredOrder};

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
    /// The operator session (one key).
    meta: sled::Tree,
    data_file: Arc<std::fs::File>,
    journal_dir: std::path::PathBuf,
    /// The SSCC floor last made durable (`sscc.reserve`): no serial at or above it was issued.
    sscc_floor: Arc<std::sync::atomic::AtomicU64>,
}

/// SSCC serials reserved per durable write of `sscc.reserve`.
pub const SSCC_BLOCK: u64 = 100;
const SSCC_FLOOR_FILE: &str = "sscc.reserve";

const SESSION_KEY: &[u8] = b"session";

/// What can go wrong with the order store, each naming the thing and what to do.
#[derive(Debug, thiserror::Error)]
pub enum OrderStoreError {
    #[error("order store {path} cannot be opened: {reason}; the journal keeps every event: stop stationd and move {path} aside to start with an empty order cache (the cloud re-sends orders)", path = path.display())]
    Unusable { path: PathBuf, reason: String },
    #[error("order store write failed, the change is NOT saved: {0}")]
    Write(String),
    #[error("order store read failed: {0}")]
    Read(String),
    #[error("cannot {op} {path}: {source}; the journal folder must be writable by the user stationd runs as (e.g. `chown -R stationd: {dir}`)", path = path.display(), dir = path.parent().unwrap_or(path).display())]
    Access { path: PathBuf, op: &'static str, source: std::io::Error },
    #[error("{path} holds {text:?}, not a number; it guards SSCCs against reuse: restore it, or write a number above every SSCC serial this station printed", path = path.display())]
    BadSsccFloor { path: PathBuf, text: String },
}

impl OrderStoreError {
    /// Short machine-readable reason used in feedback lines and replies.
    pub fn code(&self) -> &'static str {
        match self {
            OrderStoreError::Unusable { .. } => "order_store_unusable",
            OrderStoreError::Write(_) => "order_store_write",
            OrderStoreError::Read(_) => "order_store_read",
            OrderStoreError::Access { .. } => "order_store_access",
            OrderStoreError::BadSsccFloor { .. } => "sscc_floor",
        }
    }
}

fn read_error(e: sled::Error) -> OrderStoreError {
    OrderStoreError::Read(e.to_string())
}

/// The shared sled helpers speak the journal's error; here they are the order store's.
fn from_storage(path: &Path, e: JournalError) -> OrderStoreError {
    match e {
        JournalError::Access { path, op, source } => OrderStoreError::Access { path, op, source },
        other => OrderStoreError::Unusable { path: path.to_path_buf(), reason: other.to_string() },
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, OrderStoreError> {
    serde_json::to_vec(v).map_err(|e| OrderStoreError::Write(e.to_string()))
}

impl OrderStore {
    /// Opens (or creates) the store under `journal_dir/state`.
    pub fn open(journal_dir: &Path) -> Result<OrderStore, OrderStoreError> {
        let path = journal_dir.join("state");
        let (db, file) = open_side_db(
            &path,
            4 * 1024 * 1024,
            "order cache",
            "orders are re-sent by the cloud; remembered request ids and the open session are lost",
        )
        .map_err(|e| from_storage(&path, e))?;
        let unusable = |e: sled::Error| OrderStoreError::Unusable { path: path.clone(), reason: e.to_string() };
        let orders = db.open_tree("orders").map_err(unusable)?;
        let requests = db.open_tree("requests").map_err(unusable)?;
        let meta = db.open_tree("meta").map_err(unusable)?;
        let store = OrderStore {
            db,
            orders,
            requests,
            meta,
            data_file: Arc::new(file),
            journal_dir: journal_dir.to_path_buf(),
            sscc_floor: Arc::default(),
        };
        let floor = store.read_sscc_floor()?;
        store.sscc_floor.store(floor, std::sync::atomic::Ordering::SeqCst);
        Ok(store)
    }

    fn read_sscc_floor(&self) -> Result<u64, OrderStoreError> {
        let path = self.journal_dir.join(SSCC_FLOOR_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                text.trim().parse().map_err(|_| OrderStoreError::BadSsccFloor { path, text: text.trim().to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(OrderStoreError::Access { path, op: "read the SSCC floor", source }),
        }
    }

    /// No SSCC serial at or above this was ever issued (survives this database's loss).
    pub fn sscc_floor(&self) -> u64 {
        self.sscc_floor.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes sure serials below `next` are covered by the durable floor: when `next` passes
    /// it, raises it to `next + SSCC_BLOCK` (temp file, fsync, rename, fsync of the folder)
    /// before returning.
    pub fn cover_sscc(&self, next: u64) -> Result<(), OrderStoreError> {
        if next <= self.sscc_floor() {
            return Ok(());
        }
        let floor = next.saturating_add(SSCC_BLOCK);
        let path = self.journal_dir.join(SSCC_FLOOR_FILE);
        let tmp = self.journal_dir.join(format!("{SSCC_FLOOR_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{floor}")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.journal_dir)?.sync_all()
        };
        write().map_err(|source| OrderStoreError::Access { path, op: "raise the SSCC floor", source })?;
        self.sscc_floor.store(floor, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredOrder>, OrderStoreError> {
        match self.orders.get(id.as_bytes()).map_err(read_error)? {
            Some(v) => {
                serde_json::from_slice(&v).map(Some).map_err(|e| OrderStoreError::Read(format!("order {id}: {e}")))
            }
            None => Ok(None),
        }
    }

    /// Every cached order; an entry that no longer parses is skipped with a warning (the
    /// cloud re-sends orders).
    pub fn all(&self) -> Result<Vec<StoredOrder>, OrderStoreError> {
        let mut out = Vec::with_capacity(self.orders.len());
        for kv in self.orders.iter() {
            let (k, v) = kv.map_err(read_error)?;
            match serde_json::from_slice(&v) {
                Ok(o) => out.push(o),
                Err(e) => {
                    tracing::warn!(order = %String::from_utf8_lossy(&k), error = %e, "cached order unreadable; skipped")
                }
            }
        }
        Ok(out)
    }

    pub fn session(&self) -> Result<Option<Session>, OrderStoreError> {
        Ok(self.meta.get(SESSION_KEY).map_err(read_error)?.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn seen(&self, request_id: &str) -> Result<Option<SeenRequest>, OrderStoreError> {
        match self.requests.get(request_id.as_bytes()).map_err(read_error)? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    /// Writes what the workflow changed — orders, evicted orders, the session and, for a
    /// cloud command, its request id — in one transaction, durably.
    pub fn save<O: std::borrow::Borrow<StoredOrder>>(
        &self,
        orders: &[O],
        forget: &[String],
        session: Option<&Session>,
        request: Option<(&str, &SeenRequest)>,
    ) -> Result<(), OrderStoreError> {
        let order_bytes: Vec<(&str, Vec<u8>)> = orders
            .iter()
            .map(|o| o.borrow())
            .map(|o| Ok((o.id.as_str(), to_json(o)?)))
            .collect::<Result<_, OrderStoreError>>()?;
        let session_bytes = session.map(to_json).transpose()?;
        let seen_bytes = request.map(|(rid, seen)| Ok::<_, OrderStoreError>((rid, to_json(seen)?))).transpose()?;
        (&self.orders, &self.requests, &self.meta)
            .transaction(|(o, r, m)| {
                for (id, bytes) in &order_bytes {
                    o.insert(id.as_bytes(), bytes.as_slice())?;
                }
                for id in forget {
                    o.remove(id.as_bytes())?;
                }
                if let Some(b) = &session_bytes {
                    m.insert(SESSION_KEY, b.as_slice())?;
                }
                if let Some((rid, b)) = &seen_bytes {
                    r.insert(rid.as_bytes(), b.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| OrderStoreError::Write(format!("transaction: {e:?}")))?;
        durable_sync(&self.db, &self.data_file).map_err(|e| match e {
            JournalError::Storage(what) => OrderStoreError::Write(what),
            other => OrderStoreError::Write(other.to_string()),
        })
    }

    /// Forgets request ids older than [`SEEN_WINDOW`]; returns how many.
    pub fn purge_seen(&self, now_ms: i64) -> Result<usize, OrderStoreError> {
        let cutoff = now_ms - SEEN_WINDOW.as_millis() as i64;
        let mut n = 0;
        for kv in self.requests.iter() {
            let (k, v) = kv.map_err(read_error)?;
            let old = serde_json::from_slice::<SeenRequest>(&v).map(|s| s.at_ms < cutoff).unwrap_or(true);
            if old {
                self.requests.remove(k).map_err(|e| OrderStoreError::Write(e.to_string()))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> StoredOrder {
        StoredOrder::new(crate::station::OrderPayload::minimal("SO-1", "SKU-1"), OrderState::Released, String::new())
    }

    #[test]
    fn its_errors_name_the_order_store_and_the_fix_not_the_journal() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(SSCC_FLOOR_FILE), "12x\n").unwrap();
        let e = OrderStore::open(tmp.path()).err().expect("a floor that is not a number is refused");
        assert_eq!(e.code(), "sscc_floor");
        let shown = e.to_string();
        assert!(shown.contains("sscc.reserve holds \"12x\", not a number") && shown.contains("restore it"), "{shown}");
        assert!(!shown.contains("journal"), "{shown}");
        let write = OrderStoreError::Write("fdatasync: No space left on device".into());
        assert_eq!(
            write.to_string(),
            "order store write failed, the change is NOT saved: fdatasync: No space left on device"
        );
    }

    #[test]
    fn a_damaged_order_cache_is_moved_aside_and_an_empty_one_started() {
        let tmp = tempfile::tempdir().unwrap();
        let store = OrderStore::open(tmp.path()).unwrap();
        store.save(&[order()], &[], None, None).unwrap();
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
    fn orders_session_and_request_ids_are_stored_together_and_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let store = OrderStore::open(tmp.path()).unwrap();
        let seen = SeenRequest { at_ms: 1, name: "order.upsert".into(), reply: serde_json::json!({"ok": true}) };
        let session = Session { order: Some("SO-1".into()), ..Session::default() };
        let mut other = order();
        other.id = "SO-2".into();
        store.save(&[order(), other], &[], Some(&session), Some(("r-1", &seen))).unwrap();
        store.save::<StoredOrder>(&[], &["SO-2".into()], None, None).unwrap();
        drop(store);
        let store = OrderStore::open(tmp.path()).unwrap();
        assert_eq!(store.get("SO-1").unwrap().unwrap().state, OrderState::Released);
        assert_eq!(store.all().unwrap().len(), 1, "SO-2 forgotten");
        assert_eq!(store.session().unwrap().unwrap(), session);
        assert_eq!(store.seen("r-1").unwrap().unwrap(), seen);
        assert_eq!(store.purge_seen(SEEN_WINDOW.as_millis() as i64 + 10).unwrap(), 1);
        assert!(store.seen("r-1").unwrap().is_none());
    }
}
