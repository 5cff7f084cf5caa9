//! The durable, append-only event journal: the single source of truth for every event the
//! station produced, until the broker has acknowledged it (and for `retain_acked` after).
//!
//! # Design constraints
//! - **Only the journal stamps events.** `seq` (per station, from 1, strictly increasing,
//!   gap-free), `id` (UUIDv7) and `at` are assigned by the committer (one at a time, under its lock), in the same
//!   atomic commit that stores the record and the new `next_seq`.
//! - **`append` returns only when the record is durable**: the commit is one record of the
//!   write-ahead log (`wal.rs`) made durable by one `fdatasync`, and only then applied to sled,
//!   which writes its own files in the background (checkpoints sync them and drop old log
//!   segments; an open replays what is left). Concurrent appends that arrive while a commit
//!   is in flight share the next one (group commit).
//! - **Readers see only durable records.** A record that is applied but not yet synced could
//!   vanish in a crash and its seq be reissued; nothing upstream may ever see it.
//! - **Acks may arrive out of order**; `acked_below` is the watermark below which all are
//!   acked, acks above it are kept as marker keys. Acked records stay for `retain_acked` and
//!   are the first to go when space is needed; pending records are never dropped: when
//!   `max_bytes` is reached `append` fails with [`JournalError::Full`].
//! - **A corrupt database never leaves the station dead.** It is moved to `quarantine/`
//!   (never deleted) and a fresh journal continues above every seq that may have been issued
//!   (see [`reserve`]); its first event is `journal.recovered`.
//! - **One database, one commit per input.** The workflow's state (orders, session, request
//!   ids, print jobs: [`state`]) lives beside the events in the same sled tree;
//!   [`Journal::commit`] takes an input's events and state changes together, written as one
//!   log record and made durable by the same `fdatasync`, or refused whole.
//! - No `sled::` type leaves this module.
//!
//! # Key layout of sled's one (default) tree; the state trees (`s` + number + key) are listed in [`state`]
//! | key | value |
//! |---|---|
//! | `e` + seq (u64 BE) | the event envelope, JSON |
//! | `a` + seq (u64 BE) | empty: acked above the watermark |
//! | `m:next_seq` | u64 BE: next seq to issue, as of the last batch; events committed alone after it follow it without a gap |
//! | `m:acked_below` | u64 BE: every seq below is acked |
//! | `m:trimmed_below` | u64 BE: every seq below is deleted |
//! | `m:bytes` | u64 BE: bytes of stored event records below `m:next_seq` |
//! | `m:ack_marks` | JSON `[[unix_ms, acked_below], ...]`: when the watermark passed where, for retention |
//! | `m:station` | `warehouse/station` the journal belongs to |

mod committer;
mod error;
mod migrate;
pub mod permissions;
pub mod recovery;
pub mod reserve;
mod sled_errors;
pub mod state;
pub(crate) mod store;
mod wal;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::event::NewEvent;
use committer::Request;
pub use error::{Damage, JournalError};
pub use wal::{Found, LogDamage};

/// Where the committer answers one input.
type AppendReply = oneshot::Receiver<Result<Vec<Appended>, JournalError>>;
pub use state::{StateChanges, StateTree, StateView};
use store::Store;

/// Where and how big the journal is, and whose it is.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    pub dir: PathBuf,
    pub max_bytes: u64,
    /// Free space kept on the journal's filesystem: below it new events are refused with
    /// [`JournalError::DiskFull`] before sled can hit `ENOSPC`.
    pub min_free: u64,
    pub retain_acked: Duration,
    pub warehouse: String,
    pub station: String,
    /// sled page cache; small on purpose (sled's default is 1 GiB).
    pub cache_bytes: u64,
}

impl JournalOptions {
    pub fn new(dir: impl Into<PathBuf>, warehouse: &str, station: &str) -> Self {
        JournalOptions {
            dir: dir.into(),
            max_bytes: crate::config::DEFAULT_JOURNAL_MAX_BYTES,
            min_free: crate::config::DEFAULT_JOURNAL_MIN_FREE,
            retain_acked: crate::config::DEFAULT_RETAIN_ACKED,
            warehouse: warehouse.into(),
            station: station.into(),
            cache_bytes: 8 * 1024 * 1024,
        }
    }

    pub fn from_config(c: &crate::config::Config) -> Self {
        JournalOptions {
            max_bytes: c.journal.max_bytes,
            min_free: c.journal.min_free,
            retain_acked: c.journal.retain_acked,
            ..Self::new(&c.journal.path, &c.station.warehouse, &c.station.id)
        }
    }
}

/// What `append` returns once the event is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub id: uuid::Uuid,
    pub at: String,
}

/// One stored event: its seq and the exact envelope bytes (also the MQTT payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// A snapshot for `stationd queue status` and the status page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueueStatus {
    pub station: String,
    /// Durable events not yet acked by the broker.
    pub pending: u64,
    /// The seq the next event will get.
    pub next_seq: u64,
    /// Every seq below this is acked.
    pub acked_below: u64,
    /// Records below this were trimmed; `resync` can re-send from here on.
    pub retained_from: u64,
    pub oldest_pending_at: Option<String>,
    pub oldest_pending_age_seconds: Option<f64>,
    /// Bytes of stored event records (what `max_bytes` bounds).
    pub stored_bytes: u64,
    pub max_bytes: u64,
    /// Bytes the journal folder takes on disk.
    pub disk_bytes: u64,
    /// Room for new events: bytes still free on the journal's filesystem plus what sled can
    /// reuse inside its file; and the part of it kept free (`journal.min_free`): below that
    /// new scans are refused (and, below twice that, acked events are trimmed early).
    pub disk_free: Option<u64>,
    pub min_free: u64,
}

/// State shared between the committer (the only writer) and readers.
#[derive(Debug, Clone)]
pub(crate) struct Watermarks {
    /// Every seq below this is durable.
    durable_next: u64,
    acked_below: u64,
    acked_above: BTreeSet<u64>,
    trimmed_below: u64,
    stored_bytes: u64,
}

struct Shared {
    store: Store,
    marks: Mutex<Watermarks>,
    durable: watch::Sender<u64>,
    opts: JournalOptions,
    commits: CommitLatency,
    /// Cancelled when a commit failed on storage: the process should restart (see the committer).
    failed: tokio_util::sync::CancellationToken,
    /// Bytes of event records trimmed since open: what sled's file may count as reusable is
    /// never more than this (its other slack is garbage sled has not cleaned yet).
    trimmed_bytes: std::sync::atomic::AtomicU64,
}

/// Upper bounds (seconds) of the commit latency histogram's buckets.
pub const COMMIT_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// How long commits (log record + `fdatasync` + apply to sled) take: a histogram for `/metrics`.
#[derive(Default)]
struct CommitLatency {
    buckets: [std::sync::atomic::AtomicU64; COMMIT_BUCKETS.len()],
    count: std::sync::atomic::AtomicU64,
    sum_us: std::sync::atomic::AtomicU64,
}

impl CommitLatency {
    fn observe(&self, took: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let secs = took.as_secs_f64();
        if let Some(i) = COMMIT_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(took.as_micros() as u64, Relaxed);
    }
}

/// A snapshot of the commit latency histogram: per bucket (upper bound, commits at or below
/// it, cumulative), the number of commits and their total time.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitHistogram {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

/// Handle to an open journal. Cheap to clone; the committer thread stops when the last
/// handle is dropped or [`Journal::close`] is called.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
    committer: Arc<committer::Handle>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

/// How opening went: normal, or recovered from a corrupt database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    Opened,
    Recovered { quarantined: PathBuf, reason: String, may_be_lost: Option<(u64, u64)> },
}

impl Journal {
    /// Opens (or creates) the journal, quarantining a corrupt database. Fails on problems
    /// an admin must fix: permissions, another process holding it, another station's journal.
    pub fn open(opts: JournalOptions) -> Result<(Journal, OpenOutcome), JournalError> {
        let opened = recovery::open_or_recover(&opts)?;
        migrate::old_layout(&opened.store, &opts.dir)?;
        let marks = opened.store.watermarks()?;
        let (durable, _) = watch::channel(marks.durable_next);
        let shared = Arc::new(Shared {
            store: opened.store,
            marks: Mutex::new(marks),
            durable,
            opts,
            commits: CommitLatency::default(),
            failed: tokio_util::sync::CancellationToken::new(),
            trimmed_bytes: std::sync::atomic::AtomicU64::new(0),
        });
        let (thread, committer) =
            committer::spawn(shared.clone(), opened.lock, opened.reservation, opened.reserve_file, opened.first_event)?;
        let journal = Journal { shared, committer: Arc::new(committer), thread: Arc::new(Mutex::new(Some(thread))) };
        Ok((journal, opened.outcome))
    }

    fn send(&self, req: Request) -> Result<(), JournalError> {
        self.committer.send(req)
    }

    /// Appends one event; returns once it is durable on disk.
    pub async fn append(&self, event: NewEvent) -> Result<Appended, JournalError> {
        let mut a = self.commit(vec![event], StateChanges::default()).await?;
        a.pop().ok_or(JournalError::Closed)
    }

    /// Appends events as one input (see [`Journal::commit`]).
    pub async fn append_all(&self, events: Vec<NewEvent>) -> Result<Vec<Appended>, JournalError> {
        self.commit(events, StateChanges::default()).await
    }

    /// Commits one input: its events (consecutive seqs, in this order) and its state changes
    /// in one atomic write, made durable with one sync (shared with whatever else is
    /// committed at the same time). Returns once all of it is durable, or refuses it whole.
    pub async fn commit(&self, events: Vec<NewEvent>, state: StateChanges) -> Result<Vec<Appended>, JournalError> {
        match self.submit(events, state)? {
            Some(rx) => rx.await.map_err(|_| JournalError::Closed)?,
            None => Ok(Vec::new()),
        }
    }

    /// Blocking [`Journal::commit`], for threads outside the runtime.
    pub fn commit_blocking(&self, events: Vec<NewEvent>, state: StateChanges) -> Result<Vec<Appended>, JournalError> {
        match self.submit(events, state)? {
            Some(rx) => rx.blocking_recv().map_err(|_| JournalError::Closed)?,
            None => Ok(Vec::new()),
        }
    }

    /// Hands one input to the committer; `None` when there is nothing to make durable (a tick
    /// that changed nothing: no round, no sync). An idle committer's round runs right here,
    /// on the caller's thread, and the reply is ready on return (see `committer.rs`): an
    /// async caller's worker is then blocked for one `fdatasync`.
    fn submit(&self, events: Vec<NewEvent>, state: StateChanges) -> Result<Option<AppendReply>, JournalError> {
        if events.is_empty() && state.is_empty() {
            return Ok(None);
        }
        let (reply, rx) = oneshot::channel();
        self.committer.submit(Request::Append { events, state, reply })?;
        Ok(Some(rx))
    }

    /// Read access to the workflow's state trees (orders, session, request ids).
    pub fn state(&self) -> StateView {
        StateView { db: self.shared.store.db.clone(), path: self.shared.store.path.clone() }
    }

    /// How long the commits since open took.
    pub fn commit_latency(&self) -> CommitHistogram {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.shared.commits;
        let mut total = 0;
        let buckets = COMMIT_BUCKETS
            .iter()
            .zip(&c.buckets)
            .map(|(b, n)| {
                total += n.load(Relaxed);
                (*b, total)
            })
            .collect();
        CommitHistogram { buckets, count: c.count.load(Relaxed), sum_seconds: c.sum_us.load(Relaxed) as f64 / 1e6 }
    }

    /// Blocking [`Journal::append`], for threads outside the runtime.
    pub fn append_blocking(&self, event: NewEvent) -> Result<Appended, JournalError> {
        let mut a = self.commit_blocking(vec![event], StateChanges::default())?;
        a.pop().ok_or(JournalError::Closed)
    }

    /// Marks events as delivered (broker PubAck). Any order; unknown or already acked seqs
    /// are ignored. Returns once the acks are durable, so acked events never come back.
    pub async fn ack(&self, seqs: Vec<u64>) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Ack { seqs, reply })?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// Blocking [`Journal::ack`].
    pub fn ack_blocking(&self, seqs: Vec<u64>) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Ack { seqs, reply })?;
        rx.blocking_recv().map_err(|_| JournalError::Closed)?
    }

    /// Runs retention now: trims acked records older than `retain_acked` (and, when the
    /// journal is over `max_bytes`, acked records regardless of age).
    pub fn trim_blocking(&self) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Trim { reply })?;
        rx.blocking_recv().map_err(|_| JournalError::Closed)?
    }

    /// Durable events not yet acked, in seq order, starting at `from` (at most `max`).
    pub fn pending(&self, from: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        // Copy only what the read needs: acks above the watermark are usually none.
        let (start, end, acked) = {
            let m = self.shared.marks.lock().expect("journal marks poisoned");
            let start = from.max(m.acked_below);
            let acked: BTreeSet<u64> = m.acked_above.range(start..).copied().collect();
            (start, m.durable_next, acked)
        };
        self.shared.store.records(start, end, max, |seq| !acked.contains(&seq))
    }

    /// Every stored durable event (acked-and-retained ones too) from `from`, at most `max`.
    pub fn read_from(&self, from: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        let end = self.durable_next();
        self.shared.store.records(from, end, max, |_| true)
    }

    /// The seq the next event will get; everything below is durable.
    pub fn durable_next(&self) -> u64 {
        self.shared.marks.lock().expect("journal marks poisoned").durable_next
    }

    /// Notified with the new `durable_next` after every commit (the uplink waits on this).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.durable.subscribe()
    }

    /// Durable events not yet acked; from memory, no disk access.
    pub fn pending_count(&self) -> u64 {
        let m = self.shared.marks.lock().expect("journal marks poisoned");
        pending_of(&m)
    }

    pub fn status(&self) -> Result<QueueStatus, JournalError> {
        let m = self.shared.marks.lock().expect("journal marks poisoned").clone();
        let first_pending = (m.acked_below..m.durable_next).find(|s| !m.acked_above.contains(s));
        let pending = pending_of(&m);
        let oldest_at = match first_pending {
            Some(seq) => self.shared.store.record_at(seq)?,
            None => None,
        };
        let age = oldest_at.as_deref().and_then(crate::event::parse_at).map(|t| {
            let d = time::OffsetDateTime::now_utc() - t;
            (d.as_seconds_f64() * 1000.0).round() / 1000.0
        });
        let opts = &self.shared.opts;
        Ok(QueueStatus {
            station: format!("{}/{}", opts.warehouse, opts.station),
            pending,
            next_seq: m.durable_next,
            acked_below: m.acked_below,
            retained_from: m.trimmed_below.max(1),
            oldest_pending_at: oldest_at,
            oldest_pending_age_seconds: age,
            stored_bytes: m.stored_bytes,
            max_bytes: opts.max_bytes,
            disk_bytes: dir_size(&opts.dir),
            disk_free: committer::free_bytes(&opts.dir)
                .map(|free| free + committer::room_in_file(&self.shared, m.stored_bytes)),
            min_free: opts.min_free,
        })
    }

    /// Cancelled once a commit failed on storage (a failed write or fsync): nothing more can
    /// be confirmed by this process, and a restart reopens the journal on what is on disk.
    pub fn storage_failed(&self) -> tokio_util::sync::CancellationToken {
        self.shared.failed.clone()
    }

    /// Flushes and stops the committer; waits for it. Appends after this fail with `Closed`.
    pub fn close(self) {
        let (reply, rx) = oneshot::channel();
        if self.send(Request::Close { reply }).is_ok() {
            let _ = rx.blocking_recv();
        }
        let handle = self.thread.lock().expect("journal thread poisoned").take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    pub fn options(&self) -> &JournalOptions {
        &self.shared.opts
    }
}

fn pending_of(m: &Watermarks) -> u64 {
    (m.durable_next - m.acked_below).saturating_sub(m.acked_above.len() as u64)
}

/// Bytes a folder takes on disk (allocated blocks, so sparse files count as they cost).
pub fn dir_size(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests;
