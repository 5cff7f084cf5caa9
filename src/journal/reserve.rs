//! State kept *outside* sled so it survives a sled database that no longer opens:
//!
//! - `journal.lock`: an exclusive `flock` held while a process has the journal open (two
//!   daemons on one journal would interleave seqs); holds the owner's pid for the message.
//! - `seq.reserve` ([`ReserveFile`]): the seq high-water mark, reserved in blocks. Before the journal hands out
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

/// The open `seq.reserve` file. It is opened once, when the journal opens, and written in
/// place from then on: raising the reservation needs no new file descriptor, so a process
/// out of descriptors (a flood on the HTTP port) can still confirm scans.
///
/// Layout: two slots of [`SLOT_BYTES`], each `<json>\n<crc32 hex>\n` padded with NULs; the
/// JSON carries a generation. A store writes the slot that does not hold the newest
/// generation, then `fdatasync`s, so a write torn by a power cut leaves the other slot
/// intact. The file of older releases (bare JSON, no checksum) is read as generation 0.
#[derive(Debug)]
pub struct ReserveFile {
    file: File,
    /// The generation of the newest valid slot (0: none yet, or the older format).
    generation: u64,
    /// The slot holding that generation.
    slot: u64,
}

/// Bytes per slot: one sector, so each slot write is one device write.
const SLOT_BYTES: usize = 512;

#[derive(Serialize, Deserialize)]
struct Slot {
    generation: u64,
    #[serde(flatten)]
    reservation: Reservation,
}

impl ReserveFile {
    /// Opens (or creates) the reservation file in `dir` and reads the newest reservation in
    /// it. An unreadable file is not an error here: the caller rebuilds it from the journal.
    pub fn open(dir: &Path) -> std::io::Result<(ReserveFile, Result<Option<Reservation>, String>)> {
        let path = dir.join(RESERVE_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        if !existed {
            // The new name must survive a power cut as well as the data written to it.
            File::open(dir)?.sync_all()?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut newest: Option<(u64, u64, Reservation)> = None;
        let mut damaged = false;
        for slot in 0..2u64 {
            let from = (slot as usize * SLOT_BYTES).min(bytes.len());
            let to = (from + SLOT_BYTES).min(bytes.len());
            match read_slot(&bytes[from..to]) {
                SlotRead::Empty => {}
                SlotRead::Damaged => damaged = true,
                SlotRead::Valid(generation, r) => {
                    if newest.is_none_or(|(g, _, _)| generation > g) {
                        newest = Some((generation, slot, r));
                    }
                }
            }
        }
        let found = match newest {
            Some((generation, slot, r)) => {
                return Ok((ReserveFile { file, generation, slot }, Ok(Some(r))));
            }
            None if damaged => Err(format!("{} is unreadable (no slot with a valid checksum)", path.display())),
            None => Ok(None),
        };
        Ok((ReserveFile { file, generation: 0, slot: 1 }, found))
    }

    /// Durably records `r` in the slot not holding the newest reservation.
    pub fn store(&mut self, r: &Reservation) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let generation = self.generation + 1;
        let slot = 1 - self.slot;
        let json = serde_json::to_vec(&Slot { generation, reservation: *r }).map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(SLOT_BYTES);
        buf.extend_from_slice(&json);
        buf.extend_from_slice(format!("\n{:08x}\n", crc32fast::hash(&json)).as_bytes());
        debug_assert!(buf.len() <= SLOT_BYTES, "a reservation fits one slot");
        buf.resize(SLOT_BYTES, 0);
        self.file.write_all_at(&buf, slot * SLOT_BYTES as u64)?;
        self.file.sync_data()?;
        self.generation = generation;
        self.slot = slot;
        Ok(())
    }
}

enum SlotRead {
    Empty,
    Damaged,
    Valid(u64, Reservation),
}

fn read_slot(bytes: &[u8]) -> SlotRead {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let text = &bytes[..end];
    if text.iter().all(u8::is_ascii_whitespace) {
        return SlotRead::Empty;
    }
    // Older releases wrote the bare JSON, replaced by rename: generation 0.
    if let Ok(r) = serde_json::from_slice::<Reservation>(text) {
        return SlotRead::Valid(0, r);
    }
    let Some(body) = text.strip_suffix(b"\n") else { return SlotRead::Damaged };
    let Some(split) = body.iter().rposition(|&b| b == b'\n') else { return SlotRead::Damaged };
    let (json, crc) = (&body[..split], &body[split + 1..]);
    let crc_ok = std::str::from_utf8(crc)
        .ok()
        .and_then(|c| u32::from_str_radix(c, 16).ok())
        .is_some_and(|c| c == crc32fast::hash(json));
    match serde_json::from_slice::<Slot>(json) {
        Ok(s) if crc_ok => SlotRead::Valid(s.generation, s.reservation),
        _ => SlotRead::Damaged,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u64) -> Reservation {
        Reservation { reserved_below: n, issued_below: n - 1, acked_below: 1 }
    }

    #[test]
    fn the_newest_reservation_is_read_back_after_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut f, found) = ReserveFile::open(tmp.path()).unwrap();
        assert_eq!(found, Ok(None));
        for n in 2..7 {
            f.store(&r(n * 1000)).unwrap();
        }
        drop(f);
        let (_, found) = ReserveFile::open(tmp.path()).unwrap();
        assert_eq!(found, Ok(Some(r(6000))));
    }

    #[test]
    fn a_torn_slot_leaves_the_previous_reservation() {
        use std::os::unix::fs::FileExt;
        let tmp = tempfile::tempdir().unwrap();
        let (mut f, _) = ReserveFile::open(tmp.path()).unwrap();
        f.store(&r(1000)).unwrap();
        f.store(&r(2000)).unwrap();
        drop(f);
        // The second store went to slot 1: tear it half way.
        let file = OpenOptions::new().write(true).open(tmp.path().join(RESERVE_FILE)).unwrap();
        file.write_all_at(&[0xAB; 20], SLOT_BYTES as u64 + 10).unwrap();
        let (mut f, found) = ReserveFile::open(tmp.path()).unwrap();
        assert_eq!(found, Ok(Some(r(1000))));
        // The next store overwrites the torn slot, not the good one.
        f.store(&r(3000)).unwrap();
        assert_eq!(ReserveFile::open(tmp.path()).unwrap().1, Ok(Some(r(3000))));
    }

    #[test]
    fn the_file_of_older_releases_is_read_and_then_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(RESERVE_FILE), serde_json::to_vec(&r(5000)).unwrap()).unwrap();
        let (mut f, found) = ReserveFile::open(tmp.path()).unwrap();
        assert_eq!(found, Ok(Some(r(5000))));
        f.store(&r(6000)).unwrap();
        f.store(&r(7000)).unwrap();
        assert_eq!(ReserveFile::open(tmp.path()).unwrap().1, Ok(Some(r(7000))));
    }

    #[test]
    fn a_file_with_no_valid_slot_is_reported_unreadable() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(RESERVE_FILE), b"{\"reserved_below\": 12").unwrap();
        let (_, found) = ReserveFile::open(tmp.path()).unwrap();
        assert!(found.unwrap_err().contains("no slot with a valid checksum"));
    }
}
