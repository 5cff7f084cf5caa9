//! The sled side of the journal: opening (with the replay of the write-ahead log), the key
//! layout, applying each commit once its log record is durable, and typed reads. Only the files of this module
//! touch sled.
//!
//! A commit is [`Store::apply`] (its record appended to the write-ahead log, `wal.rs`) and
//! [`Store::sync`] (one `fdatasync` of the log, then the writes applied to sled in memory).
//! sled writes its own files in the background; a checkpoint thread flushes and syncs them
//! when a log segment is full, and then drops the segments before.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::sled_errors::{open_error, sled_error, sled_lock_held};
use super::state::StateWrite;
use super::wal::{self, Ending, Wal, Writes};
use super::{Damage, JournalError, Record, Watermarks};

pub const K_NEXT_SEQ: &[u8] = b"m:next_seq";
pub const K_ACKED_BELOW: &[u8] = b"m:acked_below";
pub const K_TRIMMED_BELOW: &[u8] = b"m:trimmed_below";
pub const K_BYTES: &[u8] = b"m:bytes";
pub const K_ACK_MARKS: &[u8] = b"m:ack_marks";
pub const K_STATION: &[u8] = b"m:station";

pub fn event_key(seq: u64) -> [u8; 9] {
    let mut k = [b'e'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn ack_key(seq: u64) -> [u8; 9] {
    let mut k = [b'a'; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn seq_of(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn u64_value(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// The sled database folder inside the journal folder.
pub fn db_dir(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// An open sled database (events and the workflow's state, see `state.rs`, in its default
/// tree), its write-ahead log, and a handle on its data file for checkpoints.
#[derive(Clone)]
pub struct Store {
    pub db: sled::Db,
    /// The database folder (named in errors).
    pub path: Arc<Path>,
    data_file: Arc<File>,
    log: Arc<Mutex<Log>>,
}

/// The log side of a [`Store`]: the segment being written and the commits applied to it but
/// not yet synced (and so not yet given to sled).
struct Log {
    wal: Wal,
    pending: Vec<Writes>,
    segment_bytes: u64,
    /// A spare for the next segment was asked of the checkpoint thread (once per segment).
    spare_asked: bool,
    checkpoints: std::sync::mpsc::Sender<Job>,
}

/// Work for the checkpoint thread.
enum Job {
    Checkpoint(Checkpoint),
    /// Make sure a prepared spare is ready for the next segment (see `wal::prepare_spare`).
    PrepareSpare {
        wal_dir: PathBuf,
        bytes: u64,
    },
}

/// Asks the checkpoint thread to make sled's files durable and then drop the log segments up
/// to `upto`, whose records sled then holds on disk.
struct Checkpoint {
    db: sled::Db,
    path: Arc<Path>,
    data_file: Arc<File>,
    wal_dir: PathBuf,
    upto: u64,
}

/// A segment is prepared to this many bytes: its size where the log moves on, and room for the
/// commit that crosses it.
fn prepared_bytes(segment_bytes: u64) -> u64 {
    segment_bytes + segment_bytes / 8
}

impl Store {
    /// Opens the journal's sled database, turning its panics and corruption errors into
    /// [`JournalError::Damaged`] (the caller quarantines; any other error stops start-up).
    /// The write-ahead log is replayed into it first (see `wal.rs`); a damaged log is
    /// [`JournalError::Damaged`] too. `segment_bytes` is the size at which the log moves
    /// to a new segment and checkpoints the one before.
    pub fn open(dir: &Path, cache_bytes: u64, segment_bytes: u64) -> Result<Store, JournalError> {
        let path = db_dir(dir);
        let (db, data_file) = open_sled(&path, cache_bytes)?;
        let wal_dir = wal::wal_dir(&path);
        let last_segment = replay_into(&db, &path, &data_file, &wal_dir)?;
        let wal = Wal::start(&wal_dir, last_segment, prepared_bytes(segment_bytes))
            .map_err(|e| JournalError::access(&wal_dir, "start the write-ahead log in", e))?;
        let (checkpoints, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || run_checkpoints(rx))
            .map_err(|e| JournalError::io(&path, "start the checkpoint thread for", e))?;
        let log = Log { wal, pending: Vec::new(), segment_bytes, spare_asked: false, checkpoints };
        Ok(Store { db, path: path.into(), data_file: Arc::new(data_file), log: Arc::new(Mutex::new(log)) })
    }

    /// sled's errors of `op` on this database as the journal's (see [`sled_error`]).
    fn sled(&self, op: &'static str) -> impl Fn(sled::Error) -> JournalError + '_ {
        sled_error(&self.path, op)
    }

    /// Adds one commit: `writes` and the state writes with it, as one log record (so a crash
    /// keeps all of it or none). Durable, and visible to readers, after [`Store::sync`]. On an
    /// error nothing of it was written.
    pub fn apply(&self, mut writes: Writes, state: &[StateWrite]) -> Result<(), JournalError> {
        for (tree, key, value) in state {
            let key = tree.stored_key(key);
            match value {
                Some(v) => writes.insert(key, v.as_slice()),
                None => writes.remove(key),
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        let mut log = self.log.lock().expect("journal log poisoned");
        log.wal.append(&writes).map_err(|e| JournalError::io(&log.wal.segment(), "append to", e))?;
        log.pending.push(writes);
        Ok(())
    }

    /// One key set to `value`, as a commit of its own (see [`Store::apply`]).
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), JournalError> {
        let mut writes = Writes::default();
        writes.insert(key, value);
        self.apply(writes, &[])
    }

    /// Bytes the database file takes on disk (allocated blocks).
    pub fn data_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.data_file.metadata().map(|m| m.blocks() * 512).unwrap_or(0)
    }

    /// Makes every commit applied so far durable (one `fdatasync` of the log), then hands them
    /// to sled, where readers see them. Moves to a new log segment when this one is full.
    pub fn sync(&self) -> Result<(), JournalError> {
        let mut log = self.log.lock().expect("journal log poisoned");
        log.wal.sync().map_err(|e| JournalError::io(&log.wal.segment(), "fdatasync", e))?;
        for writes in std::mem::take(&mut log.pending) {
            apply_to_sled(&self.db, &self.path, writes)?;
        }
        if log.wal.len() >= log.segment_bytes {
            let upto = log.wal.rotate().map_err(|e| JournalError::io(&log.wal.segment(), "end the log segment", e))?;
            log.spare_asked = false;
            let _ = log.checkpoints.send(Job::Checkpoint(self.checkpoint(log.wal.dir(), upto)));
        } else if !log.spare_asked && log.wal.len() >= log.segment_bytes / 2 {
            // Half way: the next segment's file is made ready off the commit path.
            log.spare_asked = true;
            let job =
                Job::PrepareSpare { wal_dir: log.wal.dir().to_path_buf(), bytes: prepared_bytes(log.segment_bytes) };
            let _ = log.checkpoints.send(job);
        }
        Ok(())
    }

    /// Makes sled's files hold everything synced so far and drops the whole log before the
    /// segment it starts (at close: the next open has nothing to replay).
    pub fn checkpoint_now(&self) -> Result<(), JournalError> {
        let mut log = self.log.lock().expect("journal log poisoned");
        if !log.wal.has_records() && log.pending.is_empty() {
            // Only segments a checkpoint in flight is about to drop.
            return Ok(());
        }
        drop(log);
        self.sync()?;
        log = self.log.lock().expect("journal log poisoned");
        let upto = log.wal.rotate().map_err(|e| JournalError::io(&log.wal.segment(), "end the log segment", e))?;
        let dir = log.wal.dir().to_path_buf();
        drop(log);
        durable_sync(&self.db, &self.path, &self.data_file)?;
        wal::retire_segments_up_to(&dir, upto).map_err(|e| JournalError::access(&dir, "retire old log segments in", e))
    }

    fn checkpoint(&self, wal_dir: &Path, upto: u64) -> Checkpoint {
        Checkpoint {
            db: self.db.clone(),
            path: self.path.clone(),
            data_file: self.data_file.clone(),
            wal_dir: wal_dir.to_path_buf(),
            upto,
        }
    }

    fn get_u64(&self, key: &[u8]) -> Result<Option<u64>, JournalError> {
        match self.db.get(key).map_err(self.sled("read"))? {
            None => Ok(None),
            Some(v) => match <[u8; 8]>::try_from(v.as_ref()) {
                Ok(b) => Ok(Some(u64::from_be_bytes(b))),
                Err(_) => Err(Damage::Value { key: String::from_utf8_lossy(key).into_owned() }.into()),
            },
        }
    }

    /// `m:next_seq` if the journal has ever issued a seq.
    pub fn next_seq(&self) -> Result<Option<u64>, JournalError> {
        self.get_u64(K_NEXT_SEQ)
    }

    pub fn station(&self) -> Result<Option<String>, JournalError> {
        Ok(self.db.get(K_STATION).map_err(self.sled("read"))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn ack_marks(&self) -> Result<Vec<(i64, u64)>, JournalError> {
        match self.db.get(K_ACK_MARKS).map_err(self.sled("read"))? {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_slice(&v)
                .map_err(|_| Damage::Value { key: String::from_utf8_lossy(K_ACK_MARKS).into_owned() }.into()),
        }
    }

    /// Reads the watermarks persisted by the committer. Cost is independent of how many
    /// events are stored (start-up must stay fast with a large backlog).
    pub fn watermarks(&self) -> Result<Watermarks, JournalError> {
        let mut next = self.next_seq()?.unwrap_or(1);
        let acked_below = self.get_u64(K_ACKED_BELOW)?.unwrap_or(1);
        let trimmed_below = self.get_u64(K_TRIMMED_BELOW)?.unwrap_or(1);
        let mut stored_bytes = self.get_u64(K_BYTES)?.unwrap_or(0);
        // Events committed alone after `m:next_seq` and `m:bytes` were last written (at most a
        // housekeeping interval's worth): counted here.
        for kv in self.db.range(event_key(next)..=event_key(u64::MAX)) {
            let (k, v) = kv.map_err(self.sled("read"))?;
            let Some(seq) = seq_of(&k) else { continue };
            if seq != next {
                return Err(Damage::SeqGap { seq, next }.into());
            }
            next += 1;
            stored_bytes += v.len() as u64;
        }
        let mut acked_above = BTreeSet::new();
        for kv in self.db.range(ack_key(0)..ack_key(u64::MAX)) {
            let (k, _) = kv.map_err(self.sled("read"))?;
            acked_above.extend(seq_of(&k));
        }
        if acked_below > next || trimmed_below > acked_below {
            return Err(Damage::Watermarks { next, acked_below, trimmed_below }.into());
        }
        Ok(Watermarks { durable_next: next, acked_below, acked_above, trimmed_below, stored_bytes })
    }

    /// Event records with `from <= seq < to` that pass `keep`, at most `max`.
    pub fn records(
        &self,
        from: u64,
        to: u64,
        max: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Result<Vec<Record>, JournalError> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        for kv in self.db.range(event_key(from)..event_key(to)) {
            if out.len() >= max {
                break;
            }
            let (k, v) = kv.map_err(self.sled("read"))?;
            let Some(seq) = seq_of(&k) else { continue };
            if keep(seq) {
                out.push(Record { seq, payload: v.to_vec() });
            }
        }
        Ok(out)
    }

    /// The `at` of one stored event.
    pub fn record_at(&self, seq: u64) -> Result<Option<String>, JournalError> {
        let Some(v) = self.db.get(event_key(seq)).map_err(self.sled("read"))? else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        struct At {
            at: String,
        }
        Ok(serde_json::from_slice::<At>(&v).ok().map(|a| a.at))
    }

    /// The highest stored event seq.
    pub fn last_event_seq(&self) -> Result<Option<u64>, JournalError> {
        let last = self.db.range(event_key(0)..=event_key(u64::MAX)).next_back();
        match last {
            Some(kv) => Ok(seq_of(&kv.map_err(self.sled("read"))?.0)),
            None => Ok(None),
        }
    }
}

/// How often sled's flusher thread wakes to write what commits handed it and clean segments
/// (its `fsync` is skipped when it wrote nothing, vendor/sled/PATCHES.md). At 1 s it fell behind the garbage of a drain with early trimming
/// on the fault suite's 16 MiB disk (1 run in 3 reached the hard floor); at 500 ms and 250 ms
/// 4 runs in 4 passed. Shorter costs latency: its relocations meet the committer's writes
/// more often.
const SLED_GC_EVERY_MS: u64 = 500;

/// Opens a sled database folder for stationd's use (small cache, the flusher thread there to
/// clean segments, see [`SLED_GC_EVERY_MS`]) and a handle on its data file for `fdatasync`.
/// Shared by the journal and the migration of older layouts.
pub(crate) fn open_sled(path: &Path, cache_bytes: u64) -> Result<(sled::Db, File), JournalError> {
    let cfg = sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        // Commits are durable in the write-ahead log; sled's flusher thread writes them to its
        // files in the background, and it is what cleans segments (relocates the live pages
        // of mostly-empty ones), without which sled never reuses the room of trimmed events
        // and its file only grows.
        .flush_every_ms(Some(SLED_GC_EVERY_MS))
        .mode(sled::Mode::LowSpace);
    let conf_damaged = conf_is_damaged(path);
    // sled's own file lock outlives a closed database for a moment (its last references drop
    // on sled's threads), so a reopen in the same process can find it still held; another
    // process is kept out earlier by `journal.lock`. Wait that moment out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let opened = loop {
        let cfg = cfg.clone();
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cfg.open()));
        let held = matches!(&opened, Ok(Err(e)) if sled_lock_held(e));
        if !held || std::time::Instant::now() >= deadline {
            break opened;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Err(open_error(path, e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let report = format!("sled panicked while opening: {msg}");
            return Err(Damage::Sled { path: path.to_path_buf(), report }.into());
        }
    };
    if conf_damaged {
        tracing::warn!(
            path = %path.join(CONF).display(),
            "sled's configuration file was empty or short and has been written again; stationd syncs it at every \
             open, so the disk lost or damaged a synced file (check the storage), unless this database was last \
             opened by a release before 0.2, which did not sync it"
        );
    }
    make_conf_durable(path).map_err(|e| JournalError::access(path, "sync the configuration file in", e))?;
    let data_path = path.join("db");
    let data_file = File::open(&data_path).map_err(|e| JournalError::access(&data_path, "open", e))?;
    Ok((db, data_file))
}

/// sled's settings file inside a database folder.
const CONF: &str = "conf";

/// True when `conf` exists but is not what sled writes (more than 8 bytes): sled then logs
/// `empty/corrupt configuration file found` and writes it again.
pub(crate) fn conf_is_damaged(path: &Path) -> bool {
    std::fs::metadata(path.join(CONF)).is_ok_and(|m| m.len() <= 8)
}

/// Removes an empty or short `conf` (see [`conf_is_damaged`]) of a database whose first start
/// was cut short, so sled writes it again as on a first start; call only when nothing was
/// ever committed to the database.
pub(crate) fn drop_conf_of_a_cut_first_start(path: &Path) -> std::io::Result<()> {
    if !conf_is_damaged(path) {
        return Ok(());
    }
    tracing::info!(path = %path.display(), "the database's first start was cut short (power loss?) before its settings were synced; sled writes them again");
    std::fs::remove_file(path.join(CONF))?;
    File::open(path)?.sync_all()
}

/// sled 0.34 writes `conf` when it is missing or empty, without `fsync`, and nothing syncs
/// the folder it (or the database folder itself) was created in: a power cut soon after left
/// an empty file (and sled's `empty/corrupt configuration file found` at every start after).
/// After every open the file and the folders are synced, so once sled wrote it, it is on disk.
pub(crate) fn make_conf_durable(path: &Path) -> std::io::Result<()> {
    File::open(path.join(CONF))?.sync_all()?;
    File::open(path)?.sync_all()?;
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

/// Replays the write-ahead log in `wal_dir` into `db` (at `path`) and, if it held records,
/// makes sled's files durable with them. Returns the last segment's number. A tail dropped by
/// the recovery rule (see `wal.rs`) is logged at `warn` with its counts.
pub(crate) fn replay_into(db: &sled::Db, path: &Path, data_file: &File, wal_dir: &Path) -> Result<u64, JournalError> {
    let replayed = wal::replay(wal_dir, |writes| apply_to_sled(db, path, writes))?;
    if let Ending::Torn { bytes } = replayed.ending {
        let segment = wal_dir.join(format!("{:016x}.log", replayed.last_segment));
        let (records, in_segment, format) = (replayed.records, replayed.last_records, replayed.last_version);
        tracing::warn!(
            segment = %segment.display(), records, records_in_segment = in_segment, dropped_bytes = bytes, format,
            "write-ahead log recovery: the last segment ends in bytes that are no whole record (a commit cut short \
             by a crash, never confirmed; in a format 0 segment also what a recycled file held before); replayed \
             every record before them and dropped them"
        );
    }
    if replayed.records > 0 {
        tracing::info!(records = replayed.records, "replayed the write-ahead log");
        durable_sync(db, path, data_file)?;
    }
    Ok(replayed.last_segment)
}

/// Hands one commit's writes to sled, key by key. The commit is atomic in the write-ahead log
/// (replay sets every key of a record again, in order), so sled's batches are not used: each
/// one rolls sled's log buffer before and after (`PageCache::pin_log`), i.e. two more sled
/// log writes, each with its `fdatasync`, behind every commit. Readers cannot see a commit
/// half applied in a way that matters: those that follow the journal (uplink, print queue,
/// lookups) are told of a commit only after [`Store::sync`] returns.
pub(crate) fn apply_to_sled(db: &sled::Db, path: &Path, writes: Writes) -> Result<(), JournalError> {
    for (key, value) in writes.into_vec() {
        let applied = match value {
            Some(v) => db.insert(key, v).map(drop),
            None => db.remove(key).map(drop),
        };
        applied.map_err(sled_error(path, "apply a commit to"))?;
    }
    Ok(())
}

/// The checkpoint thread: runs until every [`Store`] of its database is dropped. A failed
/// checkpoint keeps its segments; the next one (or the next open's replay) covers them.
fn run_checkpoints(rx: std::sync::mpsc::Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Checkpoint(c) => {
                let done = durable_sync(&c.db, &c.path, &c.data_file).and_then(|()| {
                    wal::retire_segments_up_to(&c.wal_dir, c.upto)
                        .map_err(|e| JournalError::access(&c.wal_dir, "retire old log segments in", e))
                });
                if let Err(e) = done {
                    tracing::warn!(error = %e, "journal checkpoint failed; the write-ahead log keeps its segments until the next one");
                }
            }
            Job::PrepareSpare { wal_dir, bytes } => {
                if let Err(e) = wal::prepare_spare(&wal_dir, bytes) {
                    // The next segment is then a new file: its commits also sync its growth.
                    tracing::warn!(error = %e, dir = %wal_dir.display(), "cannot prepare the next write-ahead log segment");
                }
            }
        }
    }
}

/// Makes sled's files (in `path`) hold everything applied to it (a checkpoint). The vendored
/// sled ends its log writes in `fdatasync` (upstream: `sync_file_range`, which does not reach
/// the drive cache, sled #1452, #654); the `fdatasync` here keeps that true for a flush that
/// found its writes already on their way, and for a sled without the patch.
pub(crate) fn durable_sync(db: &sled::Db, path: &Path, data_file: &File) -> Result<(), JournalError> {
    db.flush().map_err(sled_error(path, "flush"))?;
    data_file.sync_data().map_err(|e| JournalError::io(&path.join("db"), "fdatasync", e))
}
