//! The sled side of the journal: opening, the key layout and typed reads. Only this file
//! and `committer.rs` / `recovery.rs` touch sled.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::{JournalError, Record, Watermarks};

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

/// An open sled database plus a handle on its data file for the real `fdatasync`.
#[derive(Clone)]
pub struct Store {
    pub db: sled::Db,
    data_file: std::sync::Arc<File>,
}

/// Why sled would not open.
pub enum OpenError {
    /// The files are damaged: quarantine and start afresh.
    Corrupt(String),
    /// A problem an admin must fix (permissions, I/O): stop start-up.
    Fatal(JournalError),
}

impl Store {
    /// Opens the journal's sled database, turning its panics and corruption errors into
    /// [`OpenError::Corrupt`].
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, OpenError> {
        let (db, data_file) = open_sled(&db_dir(dir), cache_bytes)?;
        Ok(Store { db, data_file: std::sync::Arc::new(data_file) })
    }

    /// Makes everything applied so far durable: sled's flush, then a real `fdatasync`.
    pub fn sync(&self) -> Result<(), JournalError> {
        durable_sync(&self.db, &self.data_file)
    }

    fn get_u64(&self, key: &[u8]) -> Result<Option<u64>, JournalError> {
        match self.db.get(key).map_err(storage)? {
            None => Ok(None),
            Some(v) => match <[u8; 8]>::try_from(v.as_ref()) {
                Ok(b) => Ok(Some(u64::from_be_bytes(b))),
                Err(_) => Err(JournalError::Storage(format!("meta key {} is malformed", String::from_utf8_lossy(key)))),
            },
        }
    }

    /// `m:next_seq` if the journal has ever issued a seq.
    pub fn next_seq(&self) -> Result<Option<u64>, JournalError> {
        self.get_u64(K_NEXT_SEQ)
    }

    pub fn station(&self) -> Result<Option<String>, JournalError> {
        Ok(self.db.get(K_STATION).map_err(storage)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn ack_marks(&self) -> Result<Vec<(i64, u64)>, JournalError> {
        match self.db.get(K_ACK_MARKS).map_err(storage)? {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_slice(&v).map_err(|e| JournalError::Storage(format!("m:ack_marks: {e}"))),
        }
    }

    /// Reads the watermarks persisted by the committer. Cost is independent of how many
    /// events are stored (start-up must stay fast with a large backlog).
    pub fn watermarks(&self) -> Result<Watermarks, JournalError> {
        let next = self.next_seq()?.unwrap_or(1);
        let acked_below = self.get_u64(K_ACKED_BELOW)?.unwrap_or(1);
        let trimmed_below = self.get_u64(K_TRIMMED_BELOW)?.unwrap_or(1);
        let stored_bytes = self.get_u64(K_BYTES)?.unwrap_or(0);
        let mut acked_above = BTreeSet::new();
        for kv in self.db.range(ack_key(0)..ack_key(u64::MAX)) {
            let (k, _) = kv.map_err(storage)?;
            acked_above.extend(seq_of(&k));
        }
        if acked_below > next || trimmed_below > acked_below {
            let msg = format!(
                "inconsistent watermarks: next_seq {next}, acked_below {acked_below}, trimmed_below {trimmed_below}"
            );
            return Err(JournalError::Storage(msg));
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
            let (k, v) = kv.map_err(storage)?;
            let Some(seq) = seq_of(&k) else { continue };
            if keep(seq) {
                out.push(Record { seq, payload: v.to_vec() });
            }
        }
        Ok(out)
    }

    /// The `at` of one stored event.
    pub fn record_at(&self, seq: u64) -> Result<Option<String>, JournalError> {
        let Some(v) = self.db.get(event_key(seq)).map_err(storage)? else {
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
            Some(kv) => Ok(seq_of(&kv.map_err(storage)?.0)),
            None => Ok(None),
        }
    }
}

/// Opens a sled database folder for stationd's use (small cache, no timer flushes) and a
/// handle on its data file for `fdatasync`. Shared by the journal and the order store.
pub(crate) fn open_sled(path: &Path, cache_bytes: u64) -> Result<(sled::Db, File), OpenError> {
    let cfg = sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        // We flush explicitly after every commit; sled's timer would only add writes (and
        // flush records we have not yet confirmed).
        .flush_every_ms(None)
        .mode(sled::Mode::LowSpace);
    // sled's own file lock outlives a closed database for a moment (its last references drop
    // on sled's threads), so a reopen in the same process can find it still held; another
    // process is kept out earlier by `journal.lock`. Wait that moment out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let opened = loop {
        let cfg = cfg.clone();
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cfg.open()));
        let held = matches!(&opened, Ok(Err(sled::Error::Io(e))) if e.kind() == std::io::ErrorKind::WouldBlock);
        if !held || std::time::Instant::now() >= deadline {
            break opened;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Err(classify(path, e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            return Err(OpenError::Corrupt(format!("sled panicked while opening: {msg}")));
        }
    };
    let data_path = path.join("db");
    let data_file =
        File::open(&data_path).map_err(|e| OpenError::Fatal(JournalError::access(&data_path, "open", e)))?;
    Ok((db, data_file))
}

/// Opens a side database (order cache, print jobs). If it is damaged it is moved aside
/// (kept, never deleted) and an empty one started, so the station keeps working; `what`
/// and `consequence` go into the error log.
pub(crate) fn open_side_db(
    path: &Path,
    cache_bytes: u64,
    what: &str,
    consequence: &str,
) -> Result<(sled::Db, File), JournalError> {
    match open_sled(path, cache_bytes) {
        Ok(x) => Ok(x),
        Err(OpenError::Fatal(e)) => Err(e),
        Err(OpenError::Corrupt(reason)) => {
            let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let aside = path.with_file_name(format!("{name}.damaged-{stamp}"));
            tracing::error!(path = %path.display(), moved_to = %aside.display(), %reason, "{what} damaged; starting an empty one ({consequence})");
            std::fs::rename(path, &aside).map_err(|e| JournalError::access(path, "move aside", e))?;
            open_sled(path, cache_bytes).map_err(|e| match e {
                OpenError::Fatal(e) => e,
                OpenError::Corrupt(m) => JournalError::Storage(m),
            })
        }
    }
}

/// sled 0.34's `flush` ends in `sync_file_range`, which does not reach the drive cache
/// (sled #1452, #654): follow it with a real `fdatasync` of the data file.
pub(crate) fn durable_sync(db: &sled::Db, data_file: &File) -> Result<(), JournalError> {
    sync_to_disk(db, data_file).map_err(|e| JournalError::Storage(e.to_string()))
}

/// [`durable_sync`] for side databases with errors of their own: the I/O error says which
/// step failed (`sled flush: …`, `fdatasync: …`).
pub(crate) fn sync_to_disk(db: &sled::Db, data_file: &File) -> std::io::Result<()> {
    db.flush().map_err(|e| std::io::Error::other(format!("sled flush: {e}")))?;
    data_file.sync_data().map_err(|e| std::io::Error::new(e.kind(), format!("fdatasync: {e}")))?;
    Ok(())
}

pub fn storage(e: sled::Error) -> JournalError {
    JournalError::Storage(e.to_string())
}

fn classify(path: &Path, e: sled::Error) -> OpenError {
    match e {
        sled::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::PermissionDenied => OpenError::Fatal(JournalError::access(path, "open", io)),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                OpenError::Corrupt(format!("sled could not read its files: {io}"))
            }
            _ => OpenError::Fatal(JournalError::Storage(format!("opening {}: {io}", path.display()))),
        },
        other => OpenError::Corrupt(format!("sled reports: {other}")),
    }
}
