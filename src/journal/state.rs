//! The station's state in the journal's own database: the order cache, the operator session,
//! the remembered request ids and the print jobs, beside the events.
//!
//! # Why here
//! One database means one durable commit per input: the input's events and its state
//! changes ([`StateChanges`]) go to the committer together and are written as one record of
//! the write-ahead log, made durable with one `fdatasync`. A crash can no longer
//! leave an event without the order change it reports, or the reverse.
//!
//! # Design constraints
//! - The journal stores bytes; their meaning (orders as JSON, the session, a command's reply,
//!   a print job) belongs to `crate::orders` and `crate::print`, the typed views.
//! - Only the committer writes state; [`StateView`] reads it.
//! - Everything is in sled's one default tree, the events' own, each state tree under a key
//!   prefix (`s`, the tree's number, then the key). A commit is atomic as one record of the
//!   write-ahead log, not in sled: sled's multi-tree transactions retry without bound
//!   (sled #1152) and its batches roll its log buffer twice each (see `store::apply_to_sled`).
//! - The keys within a state tree are those of the older separate `state/` and `print/`
//!   databases, so a migration copies them verbatim (see `migrate.rs`).
//!
//! # State trees
//! | tree | number | key | value |
//! |---|---|---|---|
//! | `orders` | 0 | order id | the stored order |
//! | `requests` | 1 | request id | what was executed and answered |
//! | `meta` | 2 | `session` | the operator session |
//! | `print.jobs` | 3 | job id (UUIDv7) | the print job |
//! | `print.data` | 4 | job id | the bytes to print |
//! | `print.queued` | 5 | job id | the printer of a queued job (an index) |

use std::path::Path;
use std::sync::Arc;

use super::sled_errors::sled_error;
use super::JournalError;

/// The trees of the workflow's state (key spaces in the journal's one sled tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateTree {
    Orders,
    Requests,
    /// One key: `session`.
    Meta,
    PrintJobs,
    PrintData,
    PrintQueued,
}

/// How many state trees there are.
const TREES: usize = 6;

impl StateTree {
    pub const ALL: [StateTree; TREES] = [
        StateTree::Orders,
        StateTree::Requests,
        StateTree::Meta,
        StateTree::PrintJobs,
        StateTree::PrintData,
        StateTree::PrintQueued,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StateTree::Orders => "orders",
            StateTree::Requests => "requests",
            StateTree::Meta => "meta",
            StateTree::PrintJobs => "print.jobs",
            StateTree::PrintData => "print.data",
            StateTree::PrintQueued => "print.queued",
        }
    }

    /// Its name in the older separate database it came from (`state/` or `print/`).
    pub(super) fn old_place(self) -> (&'static str, &'static str) {
        match self {
            StateTree::Orders | StateTree::Requests | StateTree::Meta => ("state", self.name()),
            StateTree::PrintJobs => ("print", "jobs"),
            StateTree::PrintData => ("print", "data"),
            StateTree::PrintQueued => ("print", "queued"),
        }
    }

    /// The prefix of this tree's keys: `s` and the tree's number.
    fn prefix(self) -> [u8; 2] {
        [STATE_PREFIX, self as u8]
    }

    /// Where `key` of this tree is stored.
    pub(super) fn stored_key(self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 2);
        k.extend_from_slice(&self.prefix());
        k.extend_from_slice(key);
        k
    }
}

/// First byte of every state key (events are `e`, acks `a`, the journal's own keys `m:`).
const STATE_PREFIX: u8 = b's';

/// One write to a state tree: an insert (`Some(value)`) or a remove (`None`).
pub(crate) type StateWrite = (StateTree, Vec<u8>, Option<Vec<u8>>);

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// State changes that become durable together with an input's events (or on their own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// `(tree, key, Some(value))` inserts, `(tree, key, None)` removes, applied in order.
    pub(super) writes: Vec<StateWrite>,
}

impl StateChanges {
    pub fn put(&mut self, tree: StateTree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), Some(value.into())));
    }

    pub fn remove(&mut self, tree: StateTree, key: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), None));
    }

    /// Appends `other`'s writes after these.
    pub fn extend(&mut self, other: StateChanges) {
        self.writes.extend(other.writes);
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Bytes of keys and values this writes.
    pub fn bytes(&self) -> u64 {
        self.writes.iter().map(|(_, k, v)| (k.len() + v.as_ref().map_or(0, Vec::len)) as u64).sum()
    }
}

/// Read access to the state trees. It sees what the committer applied; the workflow (the one
/// writer of state) reads only after its commits returned, i.e. after they were durable.
#[derive(Clone)]
pub struct StateView {
    pub(super) db: sled::Db,
    /// The database folder (named in errors).
    pub(super) path: Arc<Path>,
}

impl StateView {
    pub fn get(&self, tree: StateTree, key: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        Ok(self.db.get(tree.stored_key(key)).map_err(sled_error(&self.path, "read"))?.map(|v| v.to_vec()))
    }

    /// Every entry of `tree`, in key order.
    pub fn entries(&self, tree: StateTree) -> Result<Vec<Entry>, JournalError> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(tree.prefix()) {
            let (k, v) = kv.map_err(sled_error(&self.path, "read"))?;
            out.push((k[2..].to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// How many entries `tree` has (counted: meant for small trees and status pages).
    pub fn len(&self, tree: StateTree) -> usize {
        self.db.scan_prefix(tree.prefix()).keys().count()
    }
}
