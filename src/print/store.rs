//! The job store: print jobs and their bytes in a sled database of their own
//! (`<journal.path>/print`), made durable (`fdatasync`) on every change.
//!
//! # Key layout
//! - tree `jobs`: job id → [`Job`] as JSON. Ids are UUIDv7, so key order is creation order.
//! - tree `data`: job id → the bytes sent to the printer (kept for reprints).
//! - tree `queued`: job id → printer name, for the queued jobs only: rebuilt from `jobs` at
//!   every open and kept in the same transaction as the job, so a printer finds its next job
//!   without reading the whole history.
//!
//! Finished jobs are dropped [`FINISHED_JOBS_KEPT`] after their last change. No `sled::` type
//! leaves this file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::error::PrintError;
use super::job::{Job, JobState};
use crate::journal::store::{open_side_db, sync_to_disk};
use crate::journal::JournalError;

/// Finished jobs (and their bytes) are kept this long for reprints and `/metrics`, then
/// dropped, so the job store does not grow with every label ever printed.
pub const FINISHED_JOBS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The persisted jobs and their bytes, plus an index of the queued ones (job id → printer)
/// so a printer finds its next job without reading the whole job history.
#[derive(Clone)]
pub struct JobStore {
    db: sled::Db,
    jobs: sled::Tree,
    data: sled::Tree,
    queued: sled::Tree,
    file: Arc<std::fs::File>,
    /// Jobs kept, by state (index in [`JobState::ALL`]): counted at open, then kept by `put`
    /// and `prune`, so `/metrics` does not read every job.
    counts: Arc<[AtomicU64; 7]>,
}

impl JobStore {
    pub fn open(journal_dir: &Path) -> Result<JobStore, PrintError> {
        let (db, file) = open_side_db(
            &journal_dir.join("print"),
            2 * 1024 * 1024,
            "print job store",
            "jobs that were still queued must be printed again",
        )
        .map_err(|e| match e {
            JournalError::Storage(reason) => PrintError::Storage { op: "open", source: reason.into() },
            other => PrintError::Open(other),
        })?;
        let open_tree = |name| db.open_tree(name).map_err(PrintError::storage("open"));
        let (jobs, data, queued) = (open_tree("jobs")?, open_tree("data")?, open_tree("queued")?);
        let store = JobStore { db, jobs, data, queued, file: Arc::new(file), counts: Arc::default() };
        store.prune(FINISHED_JOBS_KEPT)?;
        // Rebuilt from the jobs once per start, so the index and counts never drift from them.
        store.queued.clear().map_err(PrintError::storage("rebuild the queued index"))?;
        for job in store.all() {
            store.count(job.state, 1);
            if job.state == JobState::Queued {
                store
                    .queued
                    .insert(job.id.as_bytes(), job.printer.as_bytes())
                    .map_err(PrintError::storage("rebuild the queued index"))?;
            }
        }
        Ok(store)
    }

    fn count(&self, state: JobState, delta: i64) {
        let i = JobState::ALL.iter().position(|s| *s == state).expect("every state is in ALL");
        let _ =
            self.counts[i].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_add_signed(delta)));
    }

    /// Jobs kept, by state (only states with jobs).
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        JobState::ALL
            .iter()
            .zip(self.counts.iter())
            .map(|(s, n)| (s.as_str(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Drops finished jobs last changed more than `kept` ago, with their bytes.
    pub fn prune(&self, kept: Duration) -> Result<usize, PrintError> {
        let now = time::OffsetDateTime::now_utc();
        let old: Vec<Job> = self.all().into_iter().filter(|j| j.prunable(now, kept)).collect();
        for job in &old {
            self.jobs.remove(job.id.as_bytes()).map_err(PrintError::storage("drop a finished job"))?;
            self.data.remove(job.id.as_bytes()).map_err(PrintError::storage("drop a finished job"))?;
            self.count(job.state, -1);
        }
        if !old.is_empty() {
            self.sync("drop finished jobs")?;
            info!(dropped = old.len(), kept_days = kept.as_secs() / 86_400, "finished print jobs dropped");
        }
        Ok(old.len())
    }

    /// Stores the job as it is now (and its place in the queued index), durably.
    pub(super) fn put(&self, job: &Job) -> Result<(), PrintError> {
        use sled::Transactional;
        let bytes = serde_json::to_vec(job).map_err(PrintError::storage("encode a job"))?;
        let previous = (&self.jobs, &self.queued)
            .transaction(|(jobs, queued)| {
                let previous = jobs.insert(job.id.as_bytes(), bytes.as_slice())?;
                if job.state == JobState::Queued {
                    queued.insert(job.id.as_bytes(), job.printer.as_bytes())?;
                } else {
                    queued.remove(job.id.as_bytes())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(previous)
            })
            .map_err(|e| PrintError::Storage { op: "store a job", source: format!("transaction: {e:?}").into() })?;
        if let Some(old) = previous.and_then(|v| serde_json::from_slice::<Job>(&v).ok()) {
            self.count(old.state, -1);
        }
        self.count(job.state, 1);
        self.sync("store a job")
    }

    /// Makes every change so far durable (sled's flush, then `fdatasync`).
    fn sync(&self, op: &'static str) -> Result<(), PrintError> {
        sync_to_disk(&self.db, &self.file).map_err(PrintError::storage(op))
    }

    /// The oldest queued job of `printer`.
    pub fn next_queued(&self, printer: &str) -> Result<Option<Job>, PrintError> {
        for kv in self.queued.iter() {
            let (id, p) = kv.map_err(PrintError::storage("read the queued jobs"))?;
            if p.as_ref() == printer.as_bytes() {
                return self.get(&String::from_utf8_lossy(&id));
            }
        }
        Ok(None)
    }

    pub fn get(&self, id: &str) -> Result<Option<Job>, PrintError> {
        match self.jobs.get(id.as_bytes()).map_err(PrintError::storage("read a job"))? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    pub fn bytes(&self, id: &str) -> Result<Option<Vec<u8>>, PrintError> {
        Ok(self.data.get(id.as_bytes()).map_err(PrintError::storage("read a job's data"))?.map(|v| v.to_vec()))
    }

    /// Every job, oldest first (ids are UUIDv7, so key order is creation order).
    pub fn all(&self) -> Vec<Job> {
        self.jobs.iter().values().flatten().filter_map(|v| serde_json::from_slice(&v).ok()).collect()
    }

    /// Stores a new job with its bytes.
    pub(super) fn create(&self, job: &Job, bytes: &[u8]) -> Result<(), PrintError> {
        self.data.insert(job.id.as_bytes(), bytes).map_err(PrintError::storage("store a job's data"))?;
        self.put(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::format_at;

    fn job(id: &str, state: JobState, at: time::OffsetDateTime) -> Job {
        let mut j = Job::queued(id.into(), "label", crate::print::Printout::TestPage, None, None, None, at);
        j.state = state;
        j.attempts = 1;
        j
    }

    #[test]
    fn finished_jobs_are_dropped_after_a_week_and_counts_follow_every_change() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(tmp.path()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let old = now - FINISHED_JOBS_KEPT - Duration::from_secs(60);
        store.create(&job("j-old-done", JobState::Confirmed, old), b"^XA^XZ").unwrap();
        store.create(&job("j-old-failed", JobState::Failed, old), b"^XA^XZ").unwrap();
        store.create(&job("j-old-queued", JobState::Queued, old), b"^XA^XZ").unwrap();
        store.create(&job("j-new", JobState::Queued, now), b"^XA^XZ").unwrap();
        assert_eq!(store.counts(), vec![("queued", 2), ("confirmed", 1), ("failed", 1)]);
        let mut j = store.get("j-new").unwrap().unwrap();
        j.state = JobState::Confirmed;
        j.updated_at = format_at(now);
        store.put(&j).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 2), ("failed", 1)]);

        assert_eq!(store.prune(FINISHED_JOBS_KEPT).unwrap(), 2, "the two old finished jobs");
        assert!(store.get("j-old-done").unwrap().is_none() && store.bytes("j-old-done").unwrap().is_none());
        assert!(store.get("j-old-queued").unwrap().is_some(), "a queued job waits for its printer");
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
        drop(store);
        // Counted again from the jobs at the next start.
        let store = JobStore::open(tmp.path()).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
    }

    #[test]
    fn jobs_in_every_state_are_counted() {
        // An expired job once indexed past the counts (a panic when stored, and at every open).
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(tmp.path()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        for (i, state) in JobState::ALL.iter().enumerate() {
            store.create(&job(&format!("j{i}"), *state, now), b"^XA^XZ").unwrap();
        }
        let counted: Vec<(&str, u64)> = JobState::ALL.iter().map(|s| (s.as_str(), 1)).collect();
        assert_eq!(store.counts(), counted);
    }
}
