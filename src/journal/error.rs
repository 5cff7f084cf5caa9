//! What can go wrong with the journal, one variant per thing a caller can act on: it is full,
//! the disk is full, another process holds it, its files are damaged (and where), an I/O
//! operation failed (on which path), or it is closed. Each message names the thing, the value
//! and the fix; [`JournalError::code`] is the stable reason on the wire.
//!
//! sled's errors become these at the sled boundary (`sled_errors.rs`); nothing outside it
//! tells errors apart by their text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::wal::{Found, LogDamage, ReplayError, FORMAT_VERSION};
use crate::station::reply::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    #[error("journal is full ({stored_bytes} of {max_bytes} bytes hold unpublished events); new scans are refused until events are published")]
    Full { max_bytes: u64, stored_bytes: u64 },
    #[error("disk full: {free} bytes free on the filesystem of {path} (with the room inside the journal's database), below the {min_free} kept free for the journal; new scans are refused until events are delivered or space is freed")]
    DiskFull { path: PathBuf, free: u64, min_free: u64 },
    #[error("journal {path} is in use by another stationd process (pid {owner}); stop it first, or point this one at its own journal.path", owner = if owner.is_empty() { "unknown" } else { owner.as_str() })]
    Locked { path: PathBuf, owner: String },
    #[error("cannot {op} {path}: {source}; the journal folder must be writable by the user stationd runs as (e.g. `chown -R stationd: {path}`)")]
    Access { path: PathBuf, op: &'static str, source: Arc<std::io::Error> },
    #[error("{path} is mode {mode:04o}, open to other users, and cannot be made private ({reason}); run: chown -R stationd:stationd {root} && chmod -R g-w,o-rwx {root}", root = root.display(), path = path.display())]
    Exposed { path: PathBuf, mode: u32, reason: String, root: PathBuf },
    #[error("journal {path} belongs to station {found}, but the config says {expected}; use another journal.path for this station")]
    WrongStation { path: PathBuf, found: String, expected: String },
    /// A read, write or sync of the journal's files failed. After a failed write or sync
    /// nothing in flight is confirmed and the process should restart (see the committer).
    #[error("journal I/O failed, nothing in flight is confirmed: cannot {op} {path}: {source}; check the disk (`dmesg`), then restart stationd, which reopens the journal on what is on disk", path = path.display())]
    Io { path: PathBuf, op: &'static str, source: Arc<std::io::Error> },
    #[error("journal damaged: {0}; restart stationd (a start that finds its database damaged moves it to quarantine/, kept, and continues in a fresh one; `stationd queue salvage PATH` exports what is readable)")]
    Damaged(#[from] Damage),
    /// The write-ahead log was written by a newer release (a downgrade): nothing is touched.
    #[error("write-ahead log segment {path} has format version {version}, newer than this release reads (up to {known}); run the release that wrote it, or move the journal folder aside", path = path.display())]
    NewerFormat { path: PathBuf, version: u32, known: u32 },
    /// An earlier commit failed on storage; this process confirms nothing more.
    #[error("an earlier journal write or fsync failed, so nothing more is confirmed; restart stationd to reopen the journal on what is on disk")]
    Failed,
    #[error("journal is closed")]
    Closed,
}

/// Where the journal's files are damaged, and what was found there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// In a write-ahead log segment, at a byte offset.
    #[error(transparent)]
    Log(#[from] LogDamage),
    /// A key holds a value of the wrong shape.
    #[error("key {key} holds a malformed value")]
    Value { key: String },
    /// Event seqs must follow each other without a gap.
    #[error("key e{seq} (event seq {seq}) is stored after a gap (the next was {next})")]
    SeqGap { seq: u64, next: u64 },
    /// `m:next_seq`, `m:acked_below` and `m:trimmed_below` out of order.
    #[error("keys m:next_seq {next}, m:acked_below {acked_below}, m:trimmed_below {trimmed_below} are inconsistent")]
    Watermarks { next: u64, acked_below: u64, trimmed_below: u64 },
    /// The database holds fewer seqs than the reservation file says were durable.
    #[error("{}", match reopened_at {
        None => format!("the database is empty but seqs up to {} were issued; its files were lost or replaced", issued_below - 1),
        Some(next) => format!("the database reopened at seq {next} but seqs up to {} were durable; it lost records", issued_below - 1),
    })]
    Behind { reopened_at: Option<u64>, issued_below: u64 },
    /// sled reports its own files damaged (it names no place more exact than its folder).
    #[error("sled's files in {path} are damaged: {report}", path = path.display())]
    Sled { path: PathBuf, report: String },
}

impl JournalError {
    pub(crate) fn access(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        JournalError::Access { path: path.to_path_buf(), op, source: Arc::new(source) }
    }

    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        JournalError::Io { path: path.to_path_buf(), op, source: Arc::new(source) }
    }

    /// Short machine-readable reason used in feedback lines and error events.
    pub fn code(&self) -> ErrorCode {
        match self {
            JournalError::Full { .. } | JournalError::DiskFull { .. } => ErrorCode::JournalFull,
            JournalError::Locked { .. } => ErrorCode::JournalLocked,
            JournalError::Access { .. } | JournalError::Exposed { .. } => ErrorCode::JournalAccess,
            JournalError::WrongStation { .. } => ErrorCode::JournalWrongStation,
            JournalError::Io { .. }
            | JournalError::Damaged(_)
            | JournalError::NewerFormat { .. }
            | JournalError::Failed => ErrorCode::JournalStorage,
            JournalError::Closed => ErrorCode::JournalClosed,
        }
    }
}

impl From<ReplayError> for JournalError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Damaged(LogDamage { segment, found: Found::UnknownVersion(version), .. })
                if version > FORMAT_VERSION =>
            {
                JournalError::NewerFormat { path: segment, version, known: FORMAT_VERSION }
            }
            ReplayError::Damaged(d) => Damage::Log(d).into(),
            ReplayError::Io { path, op, source } => JournalError::io(&path, op, source),
        }
    }
}
