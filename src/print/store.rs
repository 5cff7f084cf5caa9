//! The job store: print jobs and their bytes, in trees of the journal's database
//! (`crate::journal::state`), each change one durable journal commit (its `fdatasync` shared
//! with whatever else is committed at the same time).
//!
//! # Key layout
//! - tree `print.jobs`: job id → [`Job`] as JSON. Ids are UUIDv7, so key order is creation
//!   order.
//! - tree `print.data`: job id → the bytes sent to the printer (kept for reprints).
//! - tree `print.queued`: job id → printer name, for the queued jobs only: rebuilt from the
//!   jobs at every open and changed in the same commit as the job, so a printer finds its next
//!   job without reading the whole history.
//!
//! A job change and the event that reports it (`print.queued`, `print.confirmed`, ...) are
//! one commit. A station's own label or slip goes further: its record is part of the commit
//! of the input that asked for it ([`JobStore::creation`] gives the changes, [`JobStore::created`]
//! counts them once durable), so the order's new state and its label job are durable together.
//! Finished jobs are dropped [`FINISHED_JOBS_KEPT`] after their last change. No `sled::` type
//! here. Writes block on the journal's commit: call them off the async runtime (`spawn_blocking`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::error::PrintError;
use super::job::{Job, JobState};
use crate::event::NewEvent;
use crate::journal::{Journal, StateChanges, StateTree, StateView};

/// Finished jobs (and their bytes) are kept this long for reprints and `/metrics`, then
/// dropped, so the job store does not grow with every label ever printed.
pub const FINISHED_JOBS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The persisted jobs and their bytes, plus an index of the queued ones (job id → printer)
/// so a printer finds its next job without reading the whole job history.
#[derive(Clone)]
pub struct JobStore {
    journal: Journal,
    state: StateView,
    /// Jobs kept, by state (index in [`JobState::ALL`]): counted at open, then kept by `put`
    /// and `prune`, so `/metrics` does not read every job.
    counts: Arc<[AtomicU64; 7]>,
}

impl JobStore {
    /// The print jobs of an open journal.
    pub fn open(journal: &Journal) -> Result<JobStore, PrintError> {
        let store = JobStore { journal: journal.clone(), state: journal.state(), counts: Arc::default() };
        store.prune(FINISHED_JOBS_KEPT)?;
        // Rebuilt from the jobs once per start, so the index and counts never drift from them.
        let mut index = StateChanges::default();
        let read = PrintError::storage("read the queued jobs");
        for (id, _) in store.state.entries(StateTree::PrintQueued).map_err(read)? {
            index.remove(StateTree::PrintQueued, id);
        }
        for job in store.all() {
            store.count(job.state, 1);
            if job.state == JobState::Queued {
                index.put(StateTree::PrintQueued, job.id.as_bytes(), job.printer.as_bytes());
            }
        }
        store.commit(Vec::new(), index, "rebuild the queued index")?;
        Ok(store)
    }

    /// One durable commit of `changes` and `events` (nothing when there are none).
    fn commit(&self, events: Vec<NewEvent>, changes: StateChanges, op: &'static str) -> Result<(), PrintError> {
        self.journal.commit_blocking(events, changes).map(drop).map_err(PrintError::storage(op))
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
        let mut changes = StateChanges::default();
        for job in &old {
            changes.remove(StateTree::PrintJobs, job.id.as_bytes());
            changes.remove(StateTree::PrintData, job.id.as_bytes());
        }
        self.commit(Vec::new(), changes, "drop finished jobs")?;
        for job in &old {
            self.count(job.state, -1);
        }
        if !old.is_empty() {
            info!(dropped = old.len(), kept_days = kept.as_secs() / 86_400, "finished print jobs dropped");
        }
        Ok(old.len())
    }

    /// Stores the job as it is now (and its place in the queued index), durably, with the
    /// event that reports the change (if any) in the same commit.
    pub(super) fn put(&self, job: &Job, event: Option<NewEvent>) -> Result<(), PrintError> {
        let (previous, changes) = self.put_changes(job)?;
        self.commit(event.into_iter().collect(), changes, "store a job")?;
        self.count_put(previous, job);
        Ok(())
    }

    /// [`JobStore::put`] for a task on the async runtime: it waits for the commit without
    /// holding a blocking thread (one thread hand-off less before a label's first byte).
    pub(super) async fn put_async(&self, job: &Job, event: Option<NewEvent>) -> Result<(), PrintError> {
        let (previous, changes) = self.put_changes(job)?;
        let committed = self.journal.commit(event.into_iter().collect(), changes).await;
        committed.map_err(PrintError::storage("store a job"))?;
        self.count_put(previous, job);
        Ok(())
    }

    /// What storing `job` replaces and the writes that store it.
    fn put_changes(&self, job: &Job) -> Result<(Option<Job>, StateChanges), PrintError> {
        // One writer per job (its queue task, or the one creating it): what is stored now is
        // what this write replaces.
        Ok((self.get(&job.id)?, Self::changes(job, None)?))
    }

    fn count_put(&self, previous: Option<Job>, job: &Job) {
        if let Some(old) = previous {
            self.count(old.state, -1);
        }
        self.count(job.state, 1);
    }

    /// The writes that store `job` (with its bytes when new) and its place in the queued index.
    fn changes(job: &Job, data: Option<&[u8]>) -> Result<StateChanges, PrintError> {
        let bytes = serde_json::to_vec(job).map_err(PrintError::storage("encode a job"))?;
        let mut changes = StateChanges::default();
        if let Some(data) = data {
            changes.put(StateTree::PrintData, job.id.as_bytes(), data);
        }
        changes.put(StateTree::PrintJobs, job.id.as_bytes(), bytes);
        if job.state == JobState::Queued {
            changes.put(StateTree::PrintQueued, job.id.as_bytes(), job.printer.as_bytes());
        } else {
            changes.remove(StateTree::PrintQueued, job.id.as_bytes());
        }
        Ok(changes)
    }

    /// The writes that create a new job with its bytes, for a commit made elsewhere (the
    /// input that asked for the job); call [`JobStore::created`] once that commit is durable.
    pub(super) fn creation(job: &Job, bytes: &[u8]) -> Result<StateChanges, PrintError> {
        Self::changes(job, Some(bytes))
    }

    /// Counts a job whose creation was committed.
    pub(super) fn created(&self, job: &Job) {
        self.count(job.state, 1);
    }

    /// The oldest queued job of `printer`.
    pub fn next_queued(&self, printer: &str) -> Result<Option<Job>, PrintError> {
        let queued = self.state.entries(StateTree::PrintQueued).map_err(PrintError::storage("read the queued jobs"))?;
        for (id, p) in queued {
            if p == printer.as_bytes() {
                return self.get(&String::from_utf8_lossy(&id));
            }
        }
        Ok(None)
    }

    pub fn get(&self, id: &str) -> Result<Option<Job>, PrintError> {
        match self.state.get(StateTree::PrintJobs, id.as_bytes()).map_err(PrintError::storage("read a job"))? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    pub fn bytes(&self, id: &str) -> Result<Option<Vec<u8>>, PrintError> {
        self.state.get(StateTree::PrintData, id.as_bytes()).map_err(PrintError::storage("read a job's data"))
    }

    /// Every job, oldest first (ids are UUIDv7, so key order is creation order).
    pub fn all(&self) -> Vec<Job> {
        let entries = self.state.entries(StateTree::PrintJobs).unwrap_or_default();
        entries.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect()
    }

    /// Stores a new job with its bytes and the event that reports it, in one commit.
    pub(super) fn create(&self, job: &Job, bytes: &[u8], event: NewEvent) -> Result<(), PrintError> {
        self.commit(vec![event], Self::creation(job, bytes)?, "store a job")?;
        self.created(job);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::format_at;
    use crate::journal::JournalOptions;

    fn journal(dir: &std::path::Path) -> Journal {
        Journal::open(JournalOptions::new(dir, "WH1", "T")).expect("journal opens").0
    }

    /// Stores a new job with some bytes.
    fn create(store: &JobStore, job: &Job) {
        store
            .create(job, b"^XA^XZ", NewEvent::new(crate::event::Event::PrintQueued(super::super::job_data(job))))
            .unwrap();
    }

    fn job(id: &str, state: JobState, at: time::OffsetDateTime) -> Job {
        let mut j = Job::queued(id.into(), "label", crate::print::Printout::TestPage, None, None, None, at);
        j.state = state;
        j.attempts = 1;
        j
    }

    #[test]
    fn finished_jobs_are_dropped_after_a_week_and_counts_follow_every_change() {
        let tmp = tempfile::tempdir().unwrap();
        let jr = journal(tmp.path());
        let store = JobStore::open(&jr).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let old = now - FINISHED_JOBS_KEPT - Duration::from_secs(60);
        create(&store, &job("j-old-done", JobState::Confirmed, old));
        create(&store, &job("j-old-failed", JobState::Failed, old));
        create(&store, &job("j-old-queued", JobState::Queued, old));
        create(&store, &job("j-new", JobState::Queued, now));
        assert_eq!(store.counts(), vec![("queued", 2), ("confirmed", 1), ("failed", 1)]);
        let mut j = store.get("j-new").unwrap().unwrap();
        j.state = JobState::Confirmed;
        j.updated_at = format_at(now);
        store.put(&j, None).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 2), ("failed", 1)]);

        assert_eq!(store.prune(FINISHED_JOBS_KEPT).unwrap(), 2, "the two old finished jobs");
        assert!(store.get("j-old-done").unwrap().is_none() && store.bytes("j-old-done").unwrap().is_none());
        assert!(store.get("j-old-queued").unwrap().is_some(), "a queued job waits for its printer");
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
        drop(store);
        jr.close();
        // Counted again from the jobs at the next start.
        let jr = journal(tmp.path());
        let store = JobStore::open(&jr).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
    }

    #[test]
    fn jobs_in_every_state_are_counted() {
        // An expired job once indexed past the counts (a panic when stored, and at every open).
        let tmp = tempfile::tempdir().unwrap();
        let jr = journal(tmp.path());
        let store = JobStore::open(&jr).unwrap();
        let now = time::OffsetDateTime::now_utc();
        for (i, state) in JobState::ALL.iter().enumerate() {
            create(&store, &job(&format!("j{i}"), *state, now));
        }
        let counted: Vec<(&str, u64)> = JobState::ALL.iter().map(|s| (s.as_str(), 1)).collect();
        assert_eq!(store.counts(), counted);
    }
}
