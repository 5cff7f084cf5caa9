//! Opening the journal, and what happens when its database is damaged.
//!
//! A damaged database must not leave an unattended station in a restart loop. It is moved
//! to `quarantine/db-<UTC time>` (kept, never deleted), a fresh database is started whose
//! seqs continue at the durable reservation (so no seq is ever issued twice), and the first
//! event of the new journal is `journal.recovered`, naming the quarantined path and the seq
//! range that may be lost. `stationd queue salvage PATH` exports what is still readable.

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::{error, warn};

use super::reserve::{self, DirLock, Reservation, ReserveFile, RESERVE_BLOCK};
use super::store::{self, db_dir, Store};
use super::wal::Writes;
use super::{Damage, JournalError, JournalOptions, OpenOutcome};
use crate::event::{AnyEnvelope, Event, JournalRecovered, NewEvent, SeqRange};

pub(super) struct Opened {
    pub store: Store,
    pub lock: DirLock,
    pub reservation: Reservation,
    pub reserve_file: ReserveFile,
    pub outcome: OpenOutcome,
    pub first_event: Option<NewEvent>,
}

pub(super) fn open_or_recover(opts: &JournalOptions) -> Result<Opened, JournalError> {
    let dir = &opts.dir;
    create_private_dir(dir)?;
    let lock = reserve::lock(dir)?;
    let (mut reserve_file, loaded) =
        ReserveFile::open(dir).map_err(|e| JournalError::access(dir, "open the seq reservation in", e))?;
    let reservation = match loaded {
        Ok(r) => r,
        Err(msg) => {
            // The database is the primary record; the reservation is rebuilt from it.
            warn!(%msg, "seq reservation unreadable; rebuilding it from the journal");
            None
        }
    };

    // A power cut during the database's very first open (before its `conf` was synced) leaves
    // that file empty. Until a seq is reserved nothing was ever committed here, so that is no
    // loss: the file is dropped and sled writes it afresh, without its warning. Once a seq is
    // reserved, `conf` had been synced, and an empty one is left for sled and `open_sled` to
    // report (the disk lost a synced file).
    if reservation.as_ref().is_none_or(|r| r.reserved_below <= 1) {
        store::drop_conf_of_a_cut_first_start(&db_dir(dir))
            .map_err(|e| JournalError::access(&db_dir(dir), "remove the empty sled conf in", e))?;
    }
    let damage = match Store::open(dir, opts.cache_bytes, log_segment_bytes(opts)) {
        Ok(store) => match check_consistent(&store, reservation.as_ref()) {
            Ok(next) => {
                let reservation =
                    reservation.unwrap_or(Reservation { reserved_below: next, issued_below: next, acked_below: 1 });
                let outcome = OpenOutcome::Opened;
                return Ok(Opened { store, lock, reservation, reserve_file, outcome, first_event: None });
            }
            Err(JournalError::Damaged(damage)) => {
                drop(store);
                damage
            }
            Err(e) => return Err(e),
        },
        Err(JournalError::Damaged(damage)) => damage,
        Err(e) => return Err(e),
    };
    let problem = damage.to_string();

    // Quarantine and start afresh above every seq that may have been issued.
    error!(journal = %dir.display(), %problem, "journal database is damaged; quarantining it and starting a fresh one");
    let quarantined = quarantine(dir)?;
    let salvaged_max = salvage_scan(&quarantined).iter().map(|e| e.seq).max();
    let (restart_at, may_be_lost) = match reservation {
        Some(r) => {
            let start = r.reserved_below.max(salvaged_max.map_or(1, |m| m + 1));
            (start, Some((r.acked_below, start - 1)))
        }
        // No reservation either: continue well above anything found in the damaged files.
        None => {
            let start = salvaged_max.map_or(1, |m| m + 1 + RESERVE_BLOCK);
            (start, if start > 1 { Some((1, start - 1)) } else { None })
        }
    };
    let store = Store::open(dir, opts.cache_bytes, log_segment_bytes(opts))?;
    let mut marks = Writes::default();
    for key in [store::K_NEXT_SEQ, store::K_ACKED_BELOW, store::K_TRIMMED_BELOW] {
        marks.insert(key, store::u64_value(restart_at));
    }
    store.apply(marks, &[])?;
    store.sync()?;
    let reservation = Reservation { reserved_below: restart_at, issued_below: restart_at, acked_below: restart_at };
    reserve_file.store(&reservation).map_err(|e| JournalError::access(dir, "write the seq reservation in", e))?;

    let data = JournalRecovered {
        quarantined: quarantined.display().to_string(),
        reason: problem.clone(),
        may_be_lost: may_be_lost.map(|(from, to)| SeqRange { from, to }),
        salvage: format!("stationd queue salvage {}", quarantined.display()),
    };
    let outcome = OpenOutcome::Recovered { quarantined, reason: problem, may_be_lost };
    let first_event = Some(NewEvent::new(Event::JournalRecovered(data)));
    Ok(Opened { store, lock, reservation, reserve_file, outcome, first_event })
}

/// Size at which the write-ahead log moves to a new segment and checkpoints the old one: a
/// quarter of `min_free` (the log's files take room the disk check counts as used), within
/// 256 KiB..4 MiB (checkpoints at most a few times a second under the heaviest load).
fn log_segment_bytes(opts: &JournalOptions) -> u64 {
    (opts.min_free / 4).clamp(256 << 10, 4 << 20)
}

/// Returns the database's next seq, or why it cannot be trusted ([`JournalError::Damaged`]).
fn check_consistent(store: &Store, reservation: Option<&Reservation>) -> Result<u64, JournalError> {
    let written = store.next_seq()?;
    // Events past `m:next_seq` (committed alone since it was written) must follow it without
    // a gap; `watermarks` checks that and counts them.
    let marks = store.watermarks()?;
    let last = store.last_event_seq()?;
    let next = (written.is_some() || last.is_some()).then_some(marks.durable_next);
    match (next, reservation) {
        (None, Some(r)) if r.issued_below > 1 => {
            Err(Damage::Behind { reopened_at: None, issued_below: r.issued_below }.into())
        }
        (Some(next), Some(r)) if next < r.issued_below => {
            Err(Damage::Behind { reopened_at: Some(next), issued_below: r.issued_below }.into())
        }
        (next, _) => Ok(next.unwrap_or(1)),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), JournalError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|e| JournalError::access(dir, "create", e))?;
    let tightened = super::permissions::tighten(dir)?;
    if tightened > 0 {
        warn!(journal = %dir.display(), entries = tightened, "journal files were open to other users; made private (0750/0640)");
    }
    // Fail here, with the path in the message, rather than deep inside sled.
    let probe = dir.join(".write-test");
    std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(b"ok"))
        .map_err(|e| JournalError::access(dir, "write to", e))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn quarantine(dir: &Path) -> Result<PathBuf, JournalError> {
    let qdir = reserve::quarantine_dir(dir);
    std::fs::create_dir_all(&qdir).map_err(|e| JournalError::access(&qdir, "create", e))?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|_| "unknown-time".into());
    let mut target = qdir.join(format!("db-{stamp}"));
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = qdir.join(format!("db-{stamp}-{n}"));
    }
    let db = db_dir(dir);
    std::fs::rename(&db, &target).map_err(|e| JournalError::access(&db, "move aside", e))?;
    Ok(target)
}

/// Everything readable from a (possibly damaged) sled database folder, in seq order,
/// one per seq. Read as [`AnyEnvelope`]s (data left as JSON): a quarantined journal may hold
/// records of an older release, and salvage must not drop one for its shape. It first tries sled itself on a scratch copy (the quarantined files are
/// never modified); if sled cannot open it, it scans the raw files for event envelopes
/// (sled stores values uncompressed), keeping the last version of each seq.
pub fn salvage(db_path: &Path) -> Result<Vec<AnyEnvelope>, String> {
    if !db_path.exists() {
        return Err(format!("{} does not exist", db_path.display()));
    }
    if let Some(events) = salvage_with_sled(db_path) {
        return Ok(events);
    }
    Ok(salvage_scan(db_path))
}

fn salvage_with_sled(db_path: &Path) -> Option<Vec<AnyEnvelope>> {
    let scratch = tempdir_near(db_path)?;
    let copy = scratch.join("db");
    copy_dir(db_path, &copy).ok()?;
    let result = std::panic::catch_unwind(|| {
        let db = sled::Config::new().path(&copy).cache_capacity(8 << 20).flush_every_ms(None).open().ok()?;
        // What the write-ahead log holds beyond sled's files, as far as it is readable.
        let _ = super::wal::replay(&super::wal::wal_dir(&copy), |writes| store::apply_to_sled(&db, &copy, writes));
        let mut out = Vec::new();
        for kv in db.range(store::event_key(0)..=store::event_key(u64::MAX)) {
            let (_, v) = kv.ok()?;
            out.push(serde_json::from_slice::<AnyEnvelope>(&v).ok()?);
        }
        Some(out)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(Some(events)) if !events.is_empty() => Some(events),
        _ => None,
    }
}

/// Raw scan of every file under `path` for JSON envelopes.
pub fn salvage_scan(path: &Path) -> Vec<AnyEnvelope> {
    let mut found: std::collections::BTreeMap<u64, AnyEnvelope> = std::collections::BTreeMap::new();
    let mut files = Vec::new();
    collect_files(path, &mut files);
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else { continue };
        let needle = b"{\"v\":";
        let mut i = 0;
        while let Some(pos) = find(&bytes[i..], needle) {
            let start = i + pos;
            let mut stream = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<AnyEnvelope>();
            match stream.next() {
                Some(Ok(env)) => {
                    i = start + stream.byte_offset();
                    found.insert(env.seq, env);
                }
                _ => i = start + needle.len(),
            }
        }
    }
    found.into_values().collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            collect_files(&e.path(), out);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

fn tempdir_near(path: &Path) -> Option<PathBuf> {
    let base = std::env::temp_dir();
    let name = path.file_name()?.to_string_lossy().into_owned();
    let dir = base.join(format!("stationd-salvage-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}
