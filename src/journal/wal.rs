//! The journal's write-ahead log: what makes a commit durable.
//!
//! Every commit's writes (events, order and print-job state, meta keys) are appended as one
//! record to the current segment file and made durable with one `fdatasync` of that file.
//! Segments are prepared to their size before their first record ([`prepare_spare`]), so the
//! sync moves no file size and allocates no block. Only then are the writes applied to sled
//! (in memory; sled writes its own files in the background), so sled never holds a write whose
//! record is not on disk. A checkpoint (a sled flush plus `fdatasync` of its file, on a thread
//! of its own) lets the segments before it go. On open every segment still present is replayed
//! into sled in order; a record sets keys to values or removes them, so replaying records sled
//! already holds changes nothing.
//!
//! # Format (version 1)
//! `db/wal/<16 hex digits>.log`, the segment number in hex. Each segment starts with a
//! 32-byte header: magic `STATIONDWAL` and five NULs (16 bytes), format version (u32 LE),
//! segment number (u64 LE), CRC-32 of those 28 bytes (u32 LE). Records follow, each
//! `len: u32 LE, crc: u32 LE, durable_to: u64 LE, payload (len bytes)`:
//! - `crc` is the CRC-32 of the segment number (u64 LE), `durable_to` and the payload, so a
//!   record left in a recycled file by its previous segment does not pass;
//! - `durable_to` is the offset below which the segment was durable when the record was
//!   written (the end of the last synced commit; 0 before the first);
//! - the payload is a kind byte: 0 writes, 1 writes compressed (LZ4 block, after the raw
//!   length as u32 LE), 2 the segment's end (the log continues in the next segment). Writes are
//!   `count: u32 LE`, then per write `key_len: u32 LE, key, tag` with tag 0 for a removal and 1
//!   for an insertion followed by `value_len: u32 LE, value`.
//!
//! Every append (and the header) is followed by four zero bytes, which the next append
//! overwrites: a record length of 0 marks where the records end. After it come zeros or what
//! a recycled file held before. A segment is written from its start in place: a spare
//! (`*.spare`: a retired segment, or `prepared-*.spare`, zeros) is renamed to the next segment
//! and its header written then, without a sync of its own: the first commit's `fdatasync`
//! carries it. `*.tmp` is a spare being prepared (removed at the next open if a crash left it).
//!
//! Version 0, the earlier layout, had no header, and records of `len, crc` (CRC-32 of the
//! segment number and the payload) with no `durable_to`. Such segments are still replayed (a
//! segment that does not start with the magic and whose first four bytes are a plausible record
//! length); the segments written after them have the header. A file that starts with neither,
//! or a header of an unknown version, is an error naming the file and what it holds.
//!
//! # Recovery rule
//! Every segment but the last must end in its end record; anything else there is damage: the
//! database is quarantined (`recovery.rs`). In the last segment, where its records stop,
//! [`record::ending`] decides: a tail (a commit cut short by a crash, never confirmed; a
//! header never made durable) is dropped, counted and logged at `warn`; a valid record after
//! it whose `durable_to` lies beyond where the records stop means bytes that were confirmed
//! are damaged: damage, quarantined. Layout 0 has no `durable_to`: there the tail is dropped.

mod record;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use record::{Ending, Found, Writes, FORMAT_VERSION};
use record::{Layout, SEGMENT_HEADER, TERMINATOR};

/// The log's folder inside the database folder (quarantined and salvaged with it).
pub fn wal_dir(db_dir: &Path) -> PathBuf {
    db_dir.join("wal")
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:016x}.log"))
}

/// The segments in `dir`, by number. A missing folder has none.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut numbers = Vec::new();
    for e in entries {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".log").and_then(|hex| u64::from_str_radix(hex, 16).ok()) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Where a segment is damaged, and what was found there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("write-ahead log segment {} is damaged at byte {offset}: {found}", segment.display())]
pub struct LogDamage {
    pub segment: PathBuf,
    pub offset: u64,
    pub found: Found,
}

/// Why a log could not be replayed.
#[derive(Debug)]
pub enum ReplayError {
    /// A segment is damaged, or is no segment this release reads.
    Damaged(LogDamage),
    /// Reading the log failed.
    Io { path: PathBuf, op: &'static str, source: std::io::Error },
}

/// What a replay found.
#[derive(Debug, PartialEq, Eq)]
pub struct Replayed {
    pub records: u64,
    /// The highest segment number seen (0 with none).
    pub last_segment: u64,
    /// The format version of the last segment (the current one with none).
    pub last_version: u32,
    /// Records replayed from the last segment.
    pub last_records: u64,
    /// How the last segment's records end.
    pub ending: Ending,
}

/// Reads every record of the log in `dir`, oldest first, handing each commit's writes to
/// `apply`; see the recovery rule above.
pub fn replay<E: From<ReplayError>>(dir: &Path, mut apply: impl FnMut(Writes) -> Result<(), E>) -> Result<Replayed, E> {
    let numbers = segments(dir).map_err(|source| ReplayError::Io { path: dir.to_path_buf(), op: "list", source })?;
    let mut out = Replayed {
        records: 0,
        last_segment: numbers.last().copied().unwrap_or(0),
        last_version: FORMAT_VERSION,
        last_records: 0,
        ending: Ending::Clean,
    };
    for (i, &number) in numbers.iter().enumerate() {
        let last = i + 1 == numbers.len();
        let path = segment_path(dir, number);
        let bytes =
            std::fs::read(&path).map_err(|source| ReplayError::Io { path: path.clone(), op: "read", source })?;
        let segment = record::read_segment(number, &bytes, last)
            .map_err(|(offset, found)| ReplayError::Damaged(LogDamage { segment: path, offset, found }))?;
        let records = segment.records.len() as u64;
        for writes in segment.records {
            apply(writes)?;
        }
        out.records += records;
        if last {
            (out.last_version, out.last_records, out.ending) = (segment.layout.version(), records, segment.ending);
        }
    }
    Ok(out)
}

/// The segment being appended to.
pub struct Wal {
    dir: PathBuf,
    file: File,
    number: u64,
    len: u64,
    /// The offset below which the segment is durable (0 before its first sync).
    synced: u64,
    /// Records written since the last `fdatasync`.
    unsynced: bool,
    encoded: Vec<u8>,
    scratch: Vec<u8>,
}

impl Wal {
    /// Starts a new, empty segment numbered after `last_segment` and retires every older one
    /// (call only once what they hold is durable elsewhere). The segment (the largest spare, or
    /// a new file) is prepared to `prepare_bytes` if it is smaller (see [`prepare`]; 0 prepares
    /// nothing).
    pub fn start(dir: &Path, last_segment: u64, prepare_bytes: u64) -> std::io::Result<Wal> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)?;
        retire_segments_up_to(dir, last_segment)?;
        remove_unfinished_spares(dir)?;
        let number = last_segment + 1;
        let file = open_segment(dir, number)?;
        if let Err(e) = prepare(&file, prepare_bytes) {
            // Only slower commits (each one also syncs the file's new size) until the next segment.
            tracing::warn!(error = %e, "cannot prepare the write-ahead log segment; its commits will also sync its growth");
        }
        let (encoded, scratch) = (Vec::new(), Vec::new());
        let len = SEGMENT_HEADER as u64;
        Ok(Wal { dir: dir.to_path_buf(), file, number, len, synced: 0, unsynced: false, encoded, scratch })
    }

    /// Appends `writes` as one record (not yet durable). On an error the segment may hold
    /// part of it after its last whole record, which a replay drops (the caller stops).
    pub fn append(&mut self, writes: &Writes) -> std::io::Result<()> {
        self.encoded.clear();
        record::encode_writes(Layout::V1, self.number, self.synced, writes, &mut self.scratch, &mut self.encoded);
        self.write_encoded()
    }

    fn write_encoded(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let records = self.encoded.len() as u64;
        self.encoded.extend_from_slice(&TERMINATOR);
        // At an offset, not appended: a prepared or recycled segment is overwritten from its
        // start (no new blocks, no size change: its `fdatasync` writes the data and nothing else).
        self.file.write_all_at(&self.encoded, self.len)?;
        self.len += records;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every appended record durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
            self.synced = self.len;
        }
        Ok(())
    }

    /// Bytes in the current segment, its header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the current segment holds a record.
    pub fn has_records(&self) -> bool {
        self.len > SEGMENT_HEADER as u64
    }

    /// The current segment's file.
    pub fn segment(&self) -> PathBuf {
        segment_path(&self.dir, self.number)
    }

    /// Ends this segment (its end record made durable with every record before it) and
    /// continues in the next one (the largest spare, see [`prepare_spare`]); returns the
    /// number of the one ended.
    pub fn rotate(&mut self) -> std::io::Result<u64> {
        self.encoded.clear();
        record::encode_end(Layout::V1, self.number, self.synced, &mut self.encoded);
        self.write_encoded()?;
        self.sync()?;
        let next = open_segment(&self.dir, self.number + 1)?;
        let ended = self.number;
        self.file = next;
        self.number += 1;
        (self.len, self.synced) = (SEGMENT_HEADER as u64, 0);
        Ok(ended)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn spare_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:016x}.spare"))
}

/// The files in `dir` whose names end in `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().ends_with(suffix) {
            found.push(e);
        }
    }
    Ok(found)
}

/// Spare segment files: retired segments kept for reuse and files [`prepare_spare`] made
/// (their blocks allocated and written), with their sizes, largest first.
fn spares(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    // One renamed away meanwhile (by the committing thread) is simply not there.
    let mut found: Vec<_> =
        files_ending(dir, ".spare")?.into_iter().filter_map(|e| Some((e.path(), e.metadata().ok()?.len()))).collect();
    found.sort_by_key(|(path, len)| (std::cmp::Reverse(*len), path.clone()));
    Ok(found)
}

/// Opens segment `number` for writing from its start: the largest spare renamed to it, or a
/// new file, with the segment's header written over its first bytes; then makes its name durable (an `fdatasync` of the file alone does not promise
/// the folder entry).
fn open_segment(dir: &Path, number: u64) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = segment_path(dir, number);
    for (spare, _) in spares(dir)? {
        match std::fs::rename(&spare, &path) {
            Ok(()) => break,
            // Removed by a retirement on the checkpoint thread meanwhile: the next one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).mode(0o640).open(&path)?;
    {
        use std::os::unix::fs::FileExt;
        // Inside the file's size (a spare's): no sync of its own, the first commit's carries it.
        file.write_all_at(&record::segment_header(number), 0)?;
    }
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// Writes zeros from the end of `file` up to `bytes` and makes them durable. A commit's
/// `fdatasync` of a segment written inside its size then carries the record's blocks (and at
/// most the inode's time stamps) and nothing else: a growing file makes every `fdatasync` also
/// write its new size and block allocation (on ext4 a journal commit, or without a journal the
/// inode and bitmap blocks), in series after the data.
fn prepare(file: &File, bytes: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut at = file.metadata()?.len();
    if at >= bytes {
        return Ok(());
    }
    let zeros = vec![0u8; PREPARE_CHUNK];
    while at < bytes {
        let n = (bytes - at).min(PREPARE_CHUNK as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

/// Zeros are written a page at a time. The page cache takes a write's size as the size of the
/// folio it allocates (ext4 has large folios since Linux 6.16): a segment prepared in large
/// writes sits in folios of up to 2 MiB, and each later commit then dirties (and is charged,
/// in `write_bytes` and dirty-page throttling, for) a whole one while the disk gets 4 KiB.
const PREPARE_CHUNK: usize = 4096;

/// Makes sure a spare of at least `bytes` is ready for the next segment: when none is, one is
/// made (zeros written to `bytes` and synced under a temporary name, then renamed to a spare,
/// so the committing thread never takes a half-made one). Returns whether it made one. Runs off
/// the commit path (the checkpoint thread), before the current segment is full.
pub fn prepare_spare(dir: &Path, bytes: u64) -> std::io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    if spares(dir)?.first().is_some_and(|(_, len)| *len >= bytes) {
        return Ok(false);
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!("prepared-{nanos:x}.tmp"));
    let made = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o640)
        .open(&tmp)
        .and_then(|f| prepare(&f, bytes))
        .and_then(|()| std::fs::rename(&tmp, dir.join(format!("prepared-{nanos:x}.spare"))))
        .and_then(|()| File::open(dir)?.sync_all());
    if made.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    made.map(|()| true)
}

/// At most this many retired segments are kept as spares; the rest are deleted.
const SPARES_KEPT: usize = 2;

/// Retires the segments numbered `upto` and below (their records are durable in sled): kept
/// as spares up to [`SPARES_KEPT`] (the largest: a small one, a segment cut short by a close,
/// is the first to go), removed beyond.
pub fn retire_segments_up_to(dir: &Path, upto: u64) -> std::io::Result<()> {
    let ignore_gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    for n in segments(dir)?.into_iter().filter(|n| *n <= upto) {
        ignore_gone(std::fs::rename(segment_path(dir, n), spare_path(dir, n)))?;
    }
    for (extra, _) in spares(dir)?.into_iter().skip(SPARES_KEPT) {
        ignore_gone(std::fs::remove_file(extra))?;
    }
    Ok(())
}

/// Removes what a crash left of a spare being prepared (`*.tmp`). At open only: later, one
/// may be in the making on the checkpoint thread.
fn remove_unfinished_spares(dir: &Path) -> std::io::Result<()> {
    for e in files_ending(dir, ".tmp")? {
        std::fs::remove_file(e.path())?;
    }
    Ok(())
}

/// Writes segment `number` in format 0, as journals before segment headers were written (no
/// header, records from byte 0), its end record after `records` when `ended`.
#[cfg(test)]
pub(crate) fn write_format_0_segment(dir: &Path, number: u64, records: &[Writes], ended: bool) {
    let mut bytes = Vec::new();
    for writes in records {
        record::encode_writes(Layout::V0, number, 0, writes, &mut Vec::new(), &mut bytes);
    }
    if ended {
        record::encode_end(Layout::V0, number, 0, &mut bytes);
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(segment_path(dir, number), bytes).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stationd-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn sample(i: u8) -> Writes {
        let mut w = Writes::default();
        w.insert([b'e', i], vec![i; 3 + i as usize]);
        w.remove([b'a', i]);
        w.insert(b"m:next_seq", [0, 0, 0, 0, 0, 0, 0, i]);
        w
    }

    /// A group commit's worth of JSON-like values: long enough to be compressed.
    fn big_sample(i: u8) -> Writes {
        let mut w = Writes::default();
        for n in 0..20u8 {
            let v = format!(r#"{{"v":1,"seq":{n},"warehouse":"WH1","station":"PACK-{i}","kind":"scan.accepted"}}"#);
            w.insert([b'e', i, n], v.into_bytes());
        }
        w
    }

    fn read_all(dir: &Path) -> (Vec<Writes>, Replayed) {
        let mut got = Vec::new();
        let r = replay(dir, |w| {
            got.push(w);
            Ok::<(), ReplayError>(())
        })
        .expect("replay");
        (got, r)
    }

    fn encoded_len(segment: u64, w: &Writes) -> u64 {
        let mut out = Vec::new();
        record::encode_writes(Layout::V1, segment, 0, w, &mut Vec::new(), &mut out);
        out.len() as u64
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_a_group_commit_is_stored_compressed() {
        let dir = scratch("order");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.append(&big_sample(2)).unwrap();
        wal.sync().unwrap();
        assert_eq!(wal.rotate().unwrap(), 1);
        wal.append(&sample(3)).unwrap();
        wal.sync().unwrap();
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(1), big_sample(2), sample(3)]);
        assert_eq!((r.records, r.last_segment, r.last_records, r.ending), (3, 2, 1, Ending::Clean));
        let mut raw = Vec::new();
        big_sample(2).encode_payload(&mut raw);
        assert!(encoded_len(1, &big_sample(2)) * 2 < raw.len() as u64, "a group commit of events compresses");
        // A new start retires what came before it.
        let _wal = Wal::start(&dir, r.last_segment, 0).unwrap();
        let (got, r) = read_all(&dir);
        assert!(got.is_empty());
        assert_eq!(r.last_segment, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_recycled_segment_replays_only_what_was_written_in_it_since() {
        let dir = scratch("recycled");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        for i in 0..10 {
            wal.append(&big_sample(i)).unwrap();
        }
        wal.sync().unwrap();
        let ended = wal.rotate().unwrap();
        retire_segments_up_to(&dir, ended).unwrap();
        let spare_len = std::fs::metadata(spare_path(&dir, 1)).unwrap().len();
        assert_eq!(spares(&dir).unwrap(), vec![(spare_path(&dir, 1), spare_len)]);
        // Segment 3 reuses segment 1's file, whose old records are still in it beyond the
        // new ones.
        wal.append(&sample(20)).unwrap();
        wal.sync().unwrap();
        wal.rotate().unwrap();
        assert!(spares(&dir).unwrap().is_empty());
        let reused = std::fs::metadata(segment_path(&dir, 3)).unwrap().len();
        wal.append(&sample(30)).unwrap();
        wal.sync().unwrap();
        assert!(std::fs::metadata(segment_path(&dir, 3)).unwrap().len() == reused, "written in place");
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(20), sample(30)]);
        assert_eq!(r.ending, Ending::Clean, "the old records after the new ones are no tail");
        assert!(reused > wal.len(), "the old records are there, and not replayed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn size_and_blocks(path: &Path) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).unwrap();
        (m.len(), m.blocks())
    }

    /// What the filesystem is asked to sync with a commit: the record's blocks only. A file
    /// whose size or block count moves made each `fdatasync` commit the filesystem's journal too.
    #[test]
    fn commits_into_a_prepared_segment_change_neither_its_size_nor_its_blocks() {
        let dir = scratch("prepared");
        let mut wal = Wal::start(&dir, 0, 256 << 10).unwrap();
        let path = segment_path(&dir, 1);
        let prepared = size_and_blocks(&path);
        assert_eq!(prepared.0, 256 << 10);
        assert!(prepared.1 * 512 >= 256 << 10, "every block allocated: {prepared:?}");
        for i in 0..200u8 {
            wal.append(&sample(i)).unwrap();
            wal.sync().unwrap();
            assert_eq!(size_and_blocks(&path), prepared, "after commit {i}");
        }
        // The zeros after the last record are no record: everything comes back, nothing more.
        let (got, r) = read_all(&dir);
        assert_eq!(got, (0..200u8).map(sample).collect::<Vec<_>>());
        assert_eq!(r.ending, Ending::Clean);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_next_segment_is_a_prepared_spare_and_retirement_keeps_the_largest_spares() {
        let dir = scratch("spare");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        assert!(prepare_spare(&dir, 128 << 10).unwrap(), "none was there: one is made");
        assert!(!prepare_spare(&dir, 128 << 10).unwrap(), "one is there");
        wal.append(&sample(1)).unwrap();
        let ended = wal.rotate().unwrap();
        let path = segment_path(&dir, 2);
        let prepared = size_and_blocks(&path);
        assert_eq!(prepared.0, 128 << 10, "segment 2 is the prepared spare");
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        assert_eq!(size_and_blocks(&path), prepared);
        // Segment 1 (a few bytes) retires as a spare; two larger spares push it out.
        retire_segments_up_to(&dir, ended).unwrap();
        assert_eq!(spares(&dir).unwrap().len(), 1);
        assert!(prepare_spare(&dir, 64 << 10).unwrap(), "a small spare does not count");
        assert!(prepare_spare(&dir, 96 << 10).unwrap());
        std::fs::write(dir.join("prepared-0.tmp"), b"left by a crash").unwrap();
        retire_segments_up_to(&dir, ended).unwrap();
        let sizes: Vec<u64> = spares(&dir).unwrap().into_iter().map(|(_, len)| len).collect();
        assert_eq!(sizes, vec![96 << 10, 64 << 10]);
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(2)]);
        // The next open takes the largest spare and drops what a crash left half made.
        drop(wal);
        let _wal = Wal::start(&dir, r.last_segment, 0).unwrap();
        assert_eq!(std::fs::metadata(segment_path(&dir, 3)).unwrap().len(), 128 << 10);
        assert!(!dir.join("prepared-0.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_record_cut_short_ends_the_last_segment_and_is_not_replayed() {
        let dir = scratch("torn");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.append(&big_sample(2)).unwrap();
        wal.sync().unwrap();
        let path = segment_path(&dir, 1);
        let full = std::fs::metadata(&path).unwrap().len();
        let first = SEGMENT_HEADER as u64 + encoded_len(1, &sample(1));
        // Every cut inside the second record leaves exactly the first, and drops the rest.
        let bytes = std::fs::read(&path).unwrap();
        for cut in first..full - TERMINATOR.len() as u64 {
            let copy = scratch("torn-copy");
            std::fs::create_dir_all(&copy).unwrap();
            std::fs::write(segment_path(&copy, 1), &bytes[..cut as usize]).unwrap();
            let (got, r) = read_all(&copy);
            assert_eq!(got, vec![sample(1)], "cut at {cut}");
            assert!(matches!(r.ending, Ending::Torn { bytes } if bytes <= cut - first) || cut == first, "{cut}: {r:?}");
            let _ = std::fs::remove_dir_all(&copy);
        }
        // Zeros where the power cut left the file longer than its data: the same.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4096]);
        std::fs::write(&path, &longer).unwrap();
        assert_eq!(read_all(&dir).0, vec![sample(1), big_sample(2)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_segment_before_the_last_that_does_not_end_in_its_end_record_is_damage() {
        let dir = scratch("damaged");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.sync().unwrap();
        wal.rotate().unwrap();
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        let path = segment_path(&dir, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        // The end record's last byte (its kind), before the terminator.
        let end_kind = bytes.len() - TERMINATOR.len() - 1;
        bytes[end_kind] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let end_at = SEGMENT_HEADER as u64 + encoded_len(1, &sample(1));
        match replay(&dir, |_| Ok::<(), ReplayError>(())) {
            Err(ReplayError::Damaged(LogDamage { segment, offset, found: Found::NoEnd })) => {
                assert_eq!((segment, offset), (path, end_at));
            }
            other => panic!("expected damage, got {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn starts_with_header_of(path: &Path, number: u64) -> bool {
        std::fs::read(path).unwrap().starts_with(&record::segment_header(number)[..SEGMENT_HEADER])
    }

    #[test]
    fn a_log_of_format_0_is_replayed_and_continued_in_segments_with_a_header() {
        let dir = scratch("format-0");
        // A format 0 log after a crash: segment 4 ended, segment 5 the last, in a recycled
        // file (old records of segment 2 after its own), and a retired segment as a spare.
        write_format_0_segment(&dir, 4, &[sample(1), big_sample(2)], true);
        write_format_0_segment(&dir, 2, &[big_sample(7), big_sample(8), big_sample(9)], true);
        let mut recycled = std::fs::read(segment_path(&dir, 2)).unwrap();
        write_format_0_segment(&dir, 5, &[sample(3)], false);
        let own = std::fs::read(segment_path(&dir, 5)).unwrap();
        recycled[..own.len()].copy_from_slice(&own);
        std::fs::write(segment_path(&dir, 5), &recycled).unwrap();
        std::fs::rename(segment_path(&dir, 2), spare_path(&dir, 2)).unwrap();
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(1), big_sample(2), sample(3)]);
        assert_eq!((r.last_segment, r.last_version, r.last_records), (5, 0, 1));
        assert!(matches!(r.ending, Ending::Torn { .. }), "format 0 cannot tell old records from a torn commit");

        // This release continues in segment 6 (the old spare reused), with a header.
        let mut wal = Wal::start(&dir, r.last_segment, 0).unwrap();
        assert!(starts_with_header_of(&segment_path(&dir, 6), 6));
        wal.append(&sample(4)).unwrap();
        wal.sync().unwrap();
        wal.rotate().unwrap();
        wal.append(&sample(5)).unwrap();
        wal.sync().unwrap();
        assert!(starts_with_header_of(&segment_path(&dir, 7), 7));
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(4), sample(5)]);
        assert_eq!((r.last_segment, r.last_version, r.ending), (7, FORMAT_VERSION, Ending::Clean));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reused_spare_gets_the_header_of_its_new_segment_number() {
        let dir = scratch("spare-header");
        let mut wal = Wal::start(&dir, 0, 64 << 10).unwrap();
        assert!(prepare_spare(&dir, 64 << 10).unwrap());
        for round in 0..4u8 {
            wal.append(&big_sample(round)).unwrap();
            wal.sync().unwrap();
            let ended = wal.rotate().unwrap();
            retire_segments_up_to(&dir, ended).unwrap();
            let number = ended + 1;
            let path = segment_path(&dir, number);
            assert!(starts_with_header_of(&path, number), "segment {number}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 << 10, "a spare, not a new file");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_segment_that_is_not_a_log_segment_is_an_error_naming_it() {
        let dir = scratch("foreign");
        let mut wal = Wal::start(&dir, 0, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.sync().unwrap();
        let path = segment_path(&dir, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..8].copy_from_slice(b"GARBAGE!");
        std::fs::write(&path, &bytes).unwrap();
        match replay(&dir, |_| Ok::<(), ReplayError>(())) {
            Err(ReplayError::Damaged(LogDamage { segment, offset: 0, found: Found::NotASegment(found) })) => {
                assert_eq!((segment, &found[..8]), (path.clone(), &b"GARBAGE!"[..]));
            }
            other => panic!("expected damage, got {other:?}"),
        }
        // A header of a newer format: the journal refuses to open, and says why.
        let mut newer = record::segment_header(1)[..SEGMENT_HEADER].to_vec();
        newer[16..20].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let crc = crc32fast::hash(&newer[..28]);
        newer[28..32].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &newer).unwrap();
        let err: crate::journal::JournalError = replay(&dir, |_| Ok(())).unwrap_err();
        assert!(
            matches!(&err, crate::journal::JournalError::NewerFormat { path: p, version, .. } if *p == path && *version == FORMAT_VERSION + 1),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
