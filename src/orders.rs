//! The workflow's persistence, typed: the order cache, the operator session and the command
//! seen-set, stored in the journal's database (`crate::journal::state`: trees `orders`,
//! `requests`, `meta`). The workflow (`crate::station`) owns the data and the rules; this
//! module turns what it hands out into [`StateChanges`] and reads them back.
//!
//! # Design constraints
//! - One writer: the workflow task. Everything one input changed becomes one set of
//!   [`StateChanges`] ([`OrderStore::changes`]) that the journal commits together with the
//!   input's events: one atomic write, one sync. There is no state without its events, nor
//!   events without their state.
//! - A command's effect and its `request_id` are in that same commit, durable before the
//!   reply, so a command redelivered after a crash is answered as a duplicate and not applied
//!   twice. Request ids are kept for [`SEEN_WINDOW`].
//! - The cache can be rebuilt from the cloud: when the journal's database is quarantined the
//!   order cache goes with it and the station starts with an empty one.
//! - No `sled::` type here: the journal holds the database.
//! - SSCC serial references (`src/station/sscc.rs`) are never issued twice. The station's
//!   counter (`Session::sscc_next`) is saved in the same commit as the order that got the
//!   SSCC, before its label is printed. Because the database may be quarantined and
//!   restarted empty, a floor is also kept *outside* it, in `<journal.path>/sscc.reserve`
//!   (like the journal's `seq.reserve`): raised durably, [`SSCC_BLOCK`] serials at a time,
//!   before the station's counter passes it, and the counter starts at it after a restart.
//!   A crash or kill -9 therefore skips at most one block, and never reuses a serial.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::journal::{Journal, JournalError, StateChanges, StateTree, StateView};

/// How long a `request_id` is remembered for duplicate detection.
pub const SEEN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

use crate::station::reply::{ErrorCode, Reply};
use crate::station::Session;
pub use crate::station::{OrderState, StoredOrder};

/// A remembered command: when it was executed, what it was and what was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenRequest {
    pub at_ms: i64,
    pub name: String,
    pub reply: Reply,
    /// The command's digest (name and canonical payload: `uplink::commands::digest`), so a
    /// reuse of the id for another command is told from a repeat. Absent in records written
    /// before it was kept: those are compared by name only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[derive(Clone)]
pub struct OrderStore {
    state: StateView,
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
    pub fn code(&self) -> ErrorCode {
        match self {
            OrderStoreError::Write(_) => ErrorCode::OrderStoreWrite,
            OrderStoreError::Read(_) => ErrorCode::OrderStoreRead,
            OrderStoreError::Access { .. } => ErrorCode::OrderStoreAccess,
            OrderStoreError::BadSsccFloor { .. } => ErrorCode::SsccFloor,
        }
    }
}

fn read_error(e: JournalError) -> OrderStoreError {
    OrderStoreError::Read(e.to_string())
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, OrderStoreError> {
    serde_json::to_vec(v).map_err(|e| OrderStoreError::Write(e.to_string()))
}

impl OrderStore {
    /// The order store of an open journal, and the SSCC floor beside it.
    pub fn open(journal: &Journal) -> Result<OrderStore, OrderStoreError> {
        let store = OrderStore {
            state: journal.state(),
            journal_dir: journal.options().dir.clone(),
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
        match self.state.get(StateTree::Orders, id.as_bytes()).map_err(read_error)? {
            Some(v) => {
                serde_json::from_slice(&v).map(Some).map_err(|e| OrderStoreError::Read(format!("order {id}: {e}")))
            }
            None => Ok(None),
        }
    }

    /// Every cached order; an entry that no longer parses is skipped with a warning (the
    /// cloud re-sends orders).
    pub fn all(&self) -> Result<Vec<StoredOrder>, OrderStoreError> {
        let entries = self.state.entries(StateTree::Orders).map_err(read_error)?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
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
        Ok(self
            .state
            .get(StateTree::Meta, SESSION_KEY)
            .map_err(read_error)?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn len(&self) -> usize {
        self.state.len(StateTree::Orders)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn seen(&self, request_id: &str) -> Result<Option<SeenRequest>, OrderStoreError> {
        match self.state.get(StateTree::Requests, request_id.as_bytes()).map_err(read_error)? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    /// What the workflow changed — orders, evicted orders, the session and, for a cloud
    /// command, its request id — as state changes for the journal to commit with the input's
    /// events ([`Journal::commit`]).
    pub fn changes<O: std::borrow::Borrow<StoredOrder>>(
        orders: &[O],
        forget: &[String],
        session: Option<&Session>,
        request: Option<(&str, &SeenRequest)>,
    ) -> Result<StateChanges, OrderStoreError> {
        let mut changes = StateChanges::default();
        for o in orders.iter().map(|o| o.borrow()) {
            changes.put(StateTree::Orders, o.id.as_bytes(), to_json(o)?);
        }
        for id in forget {
            changes.remove(StateTree::Orders, id.as_bytes());
        }
        if let Some(s) = session {
            changes.put(StateTree::Meta, SESSION_KEY, to_json(s)?);
        }
        if let Some((rid, seen)) = request {
            changes.put(StateTree::Requests, rid.as_bytes(), to_json(seen)?);
        }
        Ok(changes)
    }

    /// Request ids older than [`SEEN_WINDOW`], as state changes that forget them.
    pub fn expired_requests(&self, now_ms: i64) -> Result<StateChanges, OrderStoreError> {
        let cutoff = now_ms - SEEN_WINDOW.as_millis() as i64;
        let mut changes = StateChanges::default();
        for (k, v) in self.state.entries(StateTree::Requests).map_err(read_error)? {
            let old = serde_json::from_slice::<SeenRequest>(&v).map(|s| s.at_ms < cutoff).unwrap_or(true);
            if old {
                changes.remove(StateTree::Requests, k);
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalOptions;
    use std::path::Path;

    fn order() -> StoredOrder {
        StoredOrder::new(crate::station::OrderPayload::minimal("SO-1", "SKU-1"), OrderState::Released, String::new())
    }

    fn journal(dir: &Path) -> Journal {
        Journal::open(JournalOptions::new(dir, "WH1", "PACK-07")).expect("journal opens").0
    }

    #[test]
    fn its_errors_name_the_order_store_and_the_fix_not_the_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let j = journal(tmp.path());
        std::fs::write(tmp.path().join(SSCC_FLOOR_FILE), "12x\n").unwrap();
        let e = OrderStore::open(&j).err().expect("a floor that is not a number is refused");
        assert_eq!(e.code().as_str(), "sscc_floor");
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
    fn orders_session_and_request_ids_are_stored_together_and_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let j = journal(tmp.path());
        let store = OrderStore::open(&j).unwrap();
        let seen = SeenRequest {
            at_ms: 1,
            name: "order.upsert".into(),
            reply: Reply::accepted("r-1"),
            digest: Some("ab".into()),
        };
        let session = Session { order: Some("SO-1".into()), ..Session::default() };
        let mut other = order();
        other.id = "SO-2".into();
        let changes = OrderStore::changes(&[order(), other], &[], Some(&session), Some(("r-1", &seen))).unwrap();
        j.commit_blocking(vec![], changes).unwrap();
        j.commit_blocking(vec![], OrderStore::changes::<StoredOrder>(&[], &["SO-2".into()], None, None).unwrap())
            .unwrap();
        drop(store);
        j.close();
        let j = journal(tmp.path());
        let store = OrderStore::open(&j).unwrap();
        assert_eq!(store.get("SO-1").unwrap().unwrap().state, OrderState::Released);
        assert_eq!(store.all().unwrap().len(), 1, "SO-2 forgotten");
        assert_eq!(store.session().unwrap().unwrap(), session);
        assert_eq!(store.seen("r-1").unwrap().unwrap(), seen);
        let expired = store.expired_requests(SEEN_WINDOW.as_millis() as i64 + 10).unwrap();
        j.commit_blocking(vec![], expired).unwrap();
        assert!(store.seen("r-1").unwrap().is_none());
    }

    #[test]
    fn a_request_remembered_without_a_digest_by_the_previous_release_still_reads() {
        let old = br#"{"at_ms":5,"name":"order-hold","reply":{"request_id":"r-40","ok":true,"state":"held"}}"#;
        let seen: SeenRequest = serde_json::from_slice(old).expect("an old record reads");
        assert_eq!((seen.name.as_str(), seen.digest), ("order-hold", None));
    }
}
