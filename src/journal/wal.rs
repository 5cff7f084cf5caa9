//! The journal's write-ahead log: what makes a commit durable.
//!
//! Every commit's writes (events, order and print-job state, meta keys) are appended as one
//! record to the current segment file and made durable with one `fdatasync` of that file —
//! the same work as a raw `write` + `fdatasync`, and nothing else on the commit path. Only
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
//! removal and 1 for an insertion followed by `value_len: u32 LE, value`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One commit's writes, in order: a key set to a value (`Some`) or removed (`None`). Later
/// writes to a key win, as in a sled batch.
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

    /// Appends this as one log record (header and payload) to `out`.
    fn encode_record(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
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
        let payload_len = len_u32(out.len() - start - HEADER);
        let crc = crc32fast::hash(&out[start + HEADER..]);
        out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
        out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
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
    /// Bytes after the last whole record of the last segment (a commit cut short).
    pub torn_bytes: u64,
}

/// Reads every record of the log in `dir`, oldest first, handing each to `apply`.
pub fn replay(dir: &Path, mut apply: impl FnMut(Writes) -> std::io::Result<()>) -> Result<Replayed, ReplayError> {
    let numbers = segments(dir).map_err(ReplayError::Io)?;
    let mut out = Replayed { last_segment: numbers.last().copied().unwrap_or(0), ..Replayed::default() };
    for (i, &number) in numbers.iter().enumerate() {
        let path = segment_path(dir, number);
        let bytes = std::fs::read(&path).map_err(ReplayError::Io)?;
        let mut at = 0usize;
        while at < bytes.len() {
            match record_at(&bytes[at..]) {
                Some((writes, used)) => {
                    apply(writes).map_err(ReplayError::Io)?;
                    out.records += 1;
                    at += used;
                }
                None if i + 1 == numbers.len() => {
                    out.torn_bytes = (bytes.len() - at) as u64;
                    break;
                }
                None => {
                    return Err(ReplayError::Damaged(format!(
                        "the write-ahead log segment {} is damaged at byte {at} of {} (segments after it exist)",
                        path.display(),
                        bytes.len()
                    )))
                }
            }
        }
    }
    Ok(out)
}

/// The record at the start of `bytes` and its length, if it is whole and intact.
fn record_at(bytes: &[u8]) -> Option<(Writes, usize)> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    if len == 0 || crc32fast::hash(payload) != crc {
        return None;
    }
    Some((Writes::decode_payload(payload)?, HEADER + len))
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
}

impl Wal {
    /// Starts a new, empty segment numbered after `last_segment`, removing every older one
    /// (call only once what they hold is durable elsewhere).
    pub fn start(dir: &Path, last_segment: u64) -> std::io::Result<Wal> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)?;
        let number = last_segment + 1;
        let file = create_segment(dir, number)?;
        remove_segments_up_to(dir, last_segment)?;
        Ok(Wal { dir: dir.to_path_buf(), file, number, len: 0, unsynced: false, encoded: Vec::new() })
    }

    /// Appends `writes` as one record (not yet durable). A failed write is cut off again, so
    /// the segment never holds a partial record before a whole one.
    pub fn append(&mut self, writes: &Writes) -> std::io::Result<()> {
        self.encoded.clear();
        writes.encode_record(&mut self.encoded);
        if let Err(e) = self.file.write_all(&self.encoded) {
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
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

    /// Continues in a new segment; returns the number of the last one before it (all of whose
    /// records must already be durable: call after [`Wal::sync`]).
    pub fn rotate(&mut self) -> std::io::Result<u64> {
        debug_assert!(!self.unsynced, "rotating with records not synced");
        let next = create_segment(&self.dir, self.number + 1)?;
        let previous = self.number;
        self.file = next;
        self.number += 1;
        self.len = 0;
        Ok(previous)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Creates segment `number` and makes its name durable (an `fdatasync` of the file alone does
/// not promise the folder entry).
fn create_segment(dir: &Path, number: u64) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().create_new(true).append(true).mode(0o640).open(segment_path(dir, number))?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// Removes the segments numbered `upto` and below (their records are durable in sled).
pub fn remove_segments_up_to(dir: &Path, upto: u64) -> std::io::Result<()> {
    for n in segments(dir)?.into_iter().filter(|n| *n <= upto) {
        match std::fs::remove_file(segment_path(dir, n)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
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
        w.insert(b"m:next_seq", &[0, 0, 0, 0, 0, 0, 0, i]);
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

    #[test]
    fn records_come_back_in_order_across_segments() {
        let dir = scratch("order");
        let mut wal = Wal::start(&dir, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        assert_eq!(wal.rotate().unwrap(), 1);
        wal.append(&sample(3)).unwrap();
        wal.sync().unwrap();
        let (got, r) = read_all(&dir);
        assert_eq!(got, vec![sample(1), sample(2), sample(3)]);
        assert_eq!(r, Replayed { records: 3, last_segment: 2, torn_bytes: 0 });
        // A new start drops what came before it.
        let _wal = Wal::start(&dir, r.last_segment).unwrap();
        let (got, r) = read_all(&dir);
        assert!(got.is_empty());
        assert_eq!(r.last_segment, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_record_cut_short_ends_the_last_segment_and_is_not_replayed() {
        let dir = scratch("torn");
        let mut wal = Wal::start(&dir, 0).unwrap();
        wal.append(&sample(1)).unwrap();
        wal.append(&sample(2)).unwrap();
        wal.sync().unwrap();
        let path = segment_path(&dir, 1);
        let full = std::fs::metadata(&path).unwrap().len();
        // Every cut inside the second record leaves exactly the first.
        let first = {
            let mut b = Vec::new();
            sample(1).encode_record(&mut b);
            b.len() as u64
        };
        for cut in first..full {
            let bytes = std::fs::read(&path).unwrap();
            let copy = scratch("torn-copy");
            std::fs::create_dir_all(&copy).unwrap();
            std::fs::write(segment_path(&copy, 1), &bytes[..cut as usize]).unwrap();
            let (got, r) = read_all(&copy);
            assert_eq!(got, vec![sample(1)], "cut at {cut}");
            assert_eq!(r.torn_bytes, cut - first);
            let _ = std::fs::remove_dir_all(&copy);
        }
        // Zeros where the power cut left the file longer than its data: the same.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0; 4096]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_all(&dir).0, vec![sample(1), sample(2)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_record_before_the_last_segment_is_reported_as_damage() {
        let dir = scratch("damaged");
        let mut wal = Wal::start(&dir, 0).unwrap();
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
            Err(ReplayError::Damaged(msg)) => assert!(msg.contains("damaged at byte 0"), "{msg}"),
            other => panic!("expected damage, got {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest! {
        #[test]
        fn any_writes_encode_and_decode_to_themselves(
            ops in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))),
                0..20,
            )
        ) {
            let writes = Writes(ops);
            let mut bytes = Vec::new();
            writes.encode_record(&mut bytes);
            let (back, used) = record_at(&bytes).expect("a whole record");
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(back, writes);
        }
    }
}
