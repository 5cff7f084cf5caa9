//! The journal's write-ahead log: what makes a commit durable.
//!
//! Every commit's writes (events, order and print-job state, meta keys) are appended as one
//! record to the current segment file and made durable with one `fdatasync` of that file —
//! less work than a raw appending `write` + `fdatasync`, as segments are prepared to their
//! size before their first record ([`prepare_spare`]): the sync moves no file size and
//! allocates no block, it writes the record's blocks and flushes the drive. Only
//! then are they applied to sled (in memory; sled writes its own files in the background),
//! so sled never holds a write whose record is not on disk. A checkpoint (a sled flush plus
//! `fdatasync` of its file, on a thread of its own) lets the segments before it go.
//!
//! On open every segment still present is replayed into sled in order. A record sets keys to
//! values or removes them, so replaying records sled already holds changes nothing: the state
//! after replay is the state after the last durable record, whatever sled had written by
//! itself. A record cut short (a commit the power cut interrupted, never confirmed) ends the
//! last segment; a damaged record anywhere else is damage (the journal is quarantined).
//!
//! Layout: `db/wal/<16 hex digits>.log`, each record `len: u32 LE, crc32: u32 LE, payload`;
//! the payload is `count: u32 LE` then per write `key_len: u32 LE, key, tag` with tag 0 for a
//! removal and 1 for an insertion followed by `value_len: u32 LE, value`. After the last
//! record come zeros or a recycled file's old records (whose CRC, over the segment number, does
//! not pass). Spare files (`*.spare`: retired segments, or `prepared-*.spare`) wait for reuse;
//! `*.tmp` is a spare being prepared (removed at the next open if a crash left it).

use std::fs::File;
use std::path::{Path, PathBuf};

/// One commit's writes, in order: a key set to a value (`Some`) or removed (`None`). Later
/// writes to a key win (they are applied in order).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Writes {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.0.push((key.as_ref().to_vec(), Some(value.into())));
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.push((key.as_ref().to_vec(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.0
    }

    /// The payload bytes of this as a record: `count`, then every write.
    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&len_u32(self.0.len()).to_le_bytes());
        for (key, value) in &self.0 {
            out.extend_from_slice(&len_u32(key.len()).to_le_bytes());
            out.extend_from_slice(key);
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&len_u32(v.len()).to_le_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
    }

    fn decode_payload(mut p: &[u8]) -> Option<Writes> {
        fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (p.get(..n)?, p.get(n..)?);
            *p = rest;
            Some(head)
        }
        fn u32_of(p: &mut &[u8]) -> Option<usize> {
            Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?) as usize)
        }
        let count = u32_of(&mut p)?;
        let mut writes = Vec::with_capacity(count.min(p.len()));
        for _ in 0..count {
            let klen = u32_of(&mut p)?;
            let key = take(&mut p, klen)?.to_vec();
            let value = match take(&mut p, 1)?[0] {
                0 => None,
                1 => {
                    let vlen = u32_of(&mut p)?;
                    Some(take(&mut p, vlen)?.to_vec())
                }
                _ => return None,
            };
            writes.push((key, value));
        }
        p.is_empty().then_some(Writes(writes))
    }
}

/// What a record holds (its first payload byte).
const KIND_WRITES: u8 = 0;
/// [`KIND_WRITES`] compressed with LZ4 (block format), after the uncompressed length (u32 LE).
const KIND_WRITES_LZ4: u8 = 1;
/// The segment ends here; the log continues in the next one.
const KIND_END: u8 = 2;
/// Payloads at least this long are compressed (when that makes them shorter): a group commit
/// of JSON events shrinks to about a third, and that is bytes the disk does not write.
const COMPRESS_FROM: usize = 512;
/// No record is longer than this uncompressed (a sanity bound on a length read from disk).
const MAX_RECORD: usize = 1 << 30;

/// One record as read back.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Writes(Writes),
    End,
}

/// Appends one record of `kind` with `body` for segment `segment` to `out`: length, CRC-32 of
/// the segment number and the payload (so a record left from a recycled segment's previous
/// use does not pass), payload.
fn encode_record(segment: u64, kind: u8, body: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(kind);
    out.extend_from_slice(body);
    let payload_len = len_u32(out.len() - start - HEADER);
    let crc = record_crc(segment, &out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn record_crc(segment: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&segment.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends `writes` as one record of segment `segment` to `out`, compressed when that pays.
fn encode_writes(segment: u64, writes: &Writes, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    scratch.clear();
    writes.encode_payload(scratch);
    if scratch.len() >= COMPRESS_FROM {
        let mut body = len_u32(scratch.len()).to_le_bytes().to_vec();
        body.extend_from_slice(&lz4_flex::block::compress(scratch));
        if body.len() < scratch.len() {
            return encode_record(segment, KIND_WRITES_LZ4, &body, out);
        }
    }
    encode_record(segment, KIND_WRITES, scratch, out)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a journal write of 4 GiB or more")
}

/// Bytes before each record's payload: its length and CRC-32.
const HEADER: usize = 8;

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

/// Why a log could not be replayed.
#[derive(Debug)]
pub enum ReplayError {
    /// A record before the log's end is damaged: the files cannot be trusted.
    Damaged(String),
    /// Reading the log or applying a record failed.
    Io(std::io::Error),
}

/// What a replay found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    pub records: u64,
    /// The highest segment number seen (0 with none).
    pub last_segment: u64,
    /// Bytes after the last whole record of the last segment: a commit cut short by a crash
    /// (never confirmed), zeros, or what a recycled segment held before.
    pub unread_bytes: u64,
}

/// Reads every record of the log in `dir`, oldest first, handing each commit's writes to
/// `apply`. Every segment but the last must end in its end record.
pub fn replay(dir: &Path, mut apply: impl FnMut(Writes) -> std::io::Result<()>) -> Result<Replayed, ReplayError> {
    let numbers = segments(dir).map_err(ReplayError::Io)?;
    let mut out = Replayed { last_segment: numbers.last().copied().unwrap_or(0), ..Replayed::default() };
    for (i, &number) in numbers.iter().enumerate() {
        let last = i + 1 == numbers.len();
        let path = segment_path(dir, number);
        let bytes = std::fs::read(&path).map_err(ReplayError::Io)?;
        let mut at = 0usize;
        loop {
            match record_at(number, &bytes[at..]) {
                Some((Entry::Writes(writes), used)) => {
                    apply(writes).map_err(ReplayError::Io)?;
                    out.records += 1;
                    at += used;
                }
                Some((Entry::End, _)) => break,
                None if last => {
                    out.unread_bytes = (bytes.len() - at) as u64;
                    break;
                }
                None => {
                    return Err(ReplayError::Damaged(format!(
                        "the write-ahead log segment {} is damaged at byte {at} of {} (it does not end in its end \
                         record and segments after it exist)",
                        path.display(),
                        bytes.len()
                    )))
                }
            }
        }
    }
    Ok(out)
}

/// The record of segment `segment` at the start of `bytes` and its length, if it is whole
/// and intact.
fn record_at(segment: u64, bytes: &[u8]) -> Option<(Entry, usize)> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    if len == 0 || record_crc(segment, payload) != crc {
        return None;
    }
    let (kind, body) = payload.split_first()?;
    let entry = match *kind {
        KIND_WRITES => Entry::Writes(Writes::decode_payload(body)?),
        KIND_WRITES_LZ4 => {
            let raw_len = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
            if raw_len > MAX_RECORD {
                return None;
            }
            let raw = lz4_flex::block::decompress(&body[4..], raw_len).ok()?;
            Entry::Writes(Writes::decode_payload(&raw)?)
        }
        KIND_END if body.is_empty() => Entry::End,
        _ => return None,
    };
    Some((entry, HEADER + len))
}

/// The segment being appended to.
pub struct Wal {
    dir: PathBuf,
    file: File,
    number: u64,
    len: u64,
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
        Ok(Wal { dir: dir.to_path_buf(), file, number, len: 0, unsynced: false, encoded, scratch })
    }

    /// Appends `writes` as one record (not yet durable). On an error the segment may hold
    /// part of it after its last whole record, which a replay ignores (the caller stops).
    pub fn append(&mut self, writes: &Writes) -> std::io::Result<()> {
        self.encoded.clear();
        encode_writes(self.number, writes, &mut self.scratch, &mut self.encoded);
        self.write_encoded()
    }

    fn write_encoded(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        // At an offset, not appended: a prepared or recycled segment is overwritten from its
        // start (no new blocks, no size change: its `fdatasync` writes the data and nothing else).
        self.file.write_all_at(&self.encoded, self.len)?;
        self.len += self.encoded.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every appended record durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Bytes in the current segment.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Ends this segment (its end record made durable with every record before it) and
    /// continues in the next one (the largest spare, see [`prepare_spare`]); returns the
    /// number of the one ended.
    pub fn rotate(&mut self) -> std::io::Result<u64> {
        self.encoded.clear();
        encode_record(self.number, KIND_END, &[], &mut self.encoded);
        self.write_encoded()?;
        self.sync()?;
        let next = open_segment(&self.dir, self.number + 1)?;
        let ended = self.number;
        self.file = next;
        self.number += 1;
        self.len = 0;
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
/// new file; then makes its name durable (an `fdatasync` of the file alone does not promise
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            Ok(())
        })
        .expect("replay");
        (got, r)
    }

    fn encoded_len(segment: u64, w: &Writes) -> u64 {
        let mut out = Vec::new();
        encode_writes(segment, w, &mut Vec::new(), &mut out);
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
        assert_eq!(r, Replayed { records: 3, last_segment: 2, unread_bytes: 0 });
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
        assert!(r.unread_bytes > 0, "the old records are there, and not replayed");
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
        assert_eq!(r.unread_bytes, (256 << 10) - wal.len());
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
        let first = encoded_len(1, &sample(1));
        // Every cut inside the second record leaves exactly the first.
        let bytes = std::fs::read(&path).unwrap();
        for cut in first..full {
            let copy = scratch("torn-copy");
            std::fs::create_dir_all(&copy).unwrap();
            std::fs::write(segment_path(&copy, 1), &bytes[..cut as usize]).unwrap();
            let (got, r) = read_all(&copy);
            assert_eq!(got, vec![sample(1)], "cut at {cut}");
            assert_eq!(r.unread_bytes, cut - first);
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
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        match replay(&dir, |_| Ok(())) {
            Err(ReplayError::Damaged(msg)) => assert!(msg.contains("damaged at byte"), "{msg}"),
            other => panic!("expected damage, got {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest! {
        #[test]
        fn any_writes_encode_and_decode_to_themselves_and_only_in_their_segment(
            ops in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))),
                0..20,
            ),
            segment in 1u64..1000,
        ) {
            let writes = Writes(ops);
            let mut bytes = Vec::new();
            encode_writes(segment, &writes, &mut Vec::new(), &mut bytes);
            let (back, used) = record_at(segment, &bytes).expect("a whole record");
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(back, Entry::Writes(writes));
            prop_assert!(record_at(segment + 1, &bytes).is_none());
        }
    }
}
