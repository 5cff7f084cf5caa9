//! State kept *outside* sled so it survives a sled database that no longer opens:
//!
//! - `journal.lock`: an exclusive `flock` held while a process has the journal open (two
//!   daemons on one journal would interleave seqs); holds the owner's pid for the message.
//! - `seq.reserve`: the seq high-water mark, reserved in blocks. Before the journal hands out
//!   a seq at or above `reserved_below`, it durably raises the reservation. A fresh journal
//!   after quarantine starts at `reserved_below`, so no seq that may ever have been issued
//!   is issued twice. It also records the last known `issued_below` and `acked_below`, which
//!   bound the range that may have been lost and detect a database that reopened behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::JournalError;

/// How many seqs one reservation covers: one small fsynced file write per block.
pub const RESERVE_BLOCK: u64 = 1000;

const LOCK_FILE: &str = "journal.lock";
const RESERVE_FILE: &str = "seq.reserve";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// No seq at or above this has been handed out.
    pub reserved_below: u64,
    /// Every seq below this was durable when the reservation was written.
    pub issued_below: u64,
    /// Every seq below this was acked by the broker when the reservation was written.
    pub acked_below: u64,
}

pub fn load(dir: &Path) -> Result<Option<Reservation>, String> {
    let path = dir.join(RESERVE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{} is unreadable ({e})", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Atomically replaces the reservation file: write a temp file, fsync it, rename, fsync
/// the folder. A crash leaves either the old or the new reservation, never a torn one.
pub fn store(dir: &Path, r: &Reservation) -> std::io::Result<()> {
    let tmp = dir.join(format!("{RESERVE_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(r).map_err(std::io::Error::other)?)?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(RESERVE_FILE))?;
    File::open(dir)?.sync_all()
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

pub fn lock(dir: &Path) -> Result<DirLock, JournalError> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::access(&path, "open the lock file", e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            return Err(JournalError::Locked { path: dir.to_path_buf(), owner: owner.trim().to_string() });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(JournalError::access(&path, "lock", e)),
    }
    file.set_len(0).map_err(|e| JournalError::access(&path, "write", e))?;
    let _ = write!(file, "{}", std::process::id());
    Ok(DirLock { _file: file })
}

pub fn quarantine_dir(dir: &Path) -> PathBuf {
    dir.join("quarantine")
}
