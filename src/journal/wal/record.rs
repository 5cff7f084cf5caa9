//! The bytes of a segment: its header, its records, and where its records end (the recovery
//! rule, [`ending`]). No I/O here: [`read_segment`] takes a segment's bytes, so every case is
//! tested with hand-made ones. The layout is described in `wal.rs`.

/// The first bytes of every segment of format 1 and later.
pub const MAGIC: [u8; 16] = *b"STATIONDWAL\0\0\0\0\0";
/// The format this release writes. Version 0 is the earlier headerless layout (read,
/// never written).
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the segment header: magic, version, segment number, CRC-32 of those.
pub const SEGMENT_HEADER: usize = 32;
/// Written after every append (and the header), overwritten by the next: a record length of 0
/// says the records end here.
pub const TERMINATOR: [u8; 4] = [0; 4];

/// The record layout of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The earlier layout: no segment header; each record `len, crc` (8 bytes) then its payload.
    V0,
    /// Format 1: the segment header; each record `len, crc, durable_to` (16 bytes) then its
    /// payload.
    V1,
}

impl Layout {
    pub fn version(self) -> u32 {
        match self {
            Layout::V0 => 0,
            Layout::V1 => 1,
        }
    }

    fn record_header(self) -> usize {
        match self {
            Layout::V0 => 8,
            Layout::V1 => 16,
        }
    }
}

/// What was found where a segment is damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Found {
    #[error("it starts with {0:02x?}, which is not the header of a stationd write-ahead log segment")]
    NotASegment(Vec<u8>),
    #[error("its header says format version {0}, which this release does not read (it reads 0 and {FORMAT_VERSION})")]
    UnknownVersion(u32),
    #[error("its header names segment {0}")]
    WrongNumber(u64),
    #[error("its header is damaged or cut short")]
    BadHeader,
    #[error("it has no header")]
    NoHeader,
    #[error("a record does not pass its check, and a record written after it was durable follows")]
    BadRecord,
    #[error("a record does not pass its check before the segment's end record, and segments after it exist")]
    NoEnd,
}

/// How the records of the last segment end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A record length of 0 (or the file's end) after the last record: every append was whole.
    Clean,
    /// Bytes after the last whole record that are no record: a commit cut short by a crash,
    /// never confirmed (or, in a segment of layout 0, a recycled file's old records). Dropped;
    /// `bytes` counts up to the last non-zero byte.
    Torn { bytes: u64 },
    /// A record written when the log was already durable past where the records stop: bytes
    /// that had been confirmed are damaged.
    Damaged,
}

/// The recovery rule, for the last segment: `at` is the first offset of `bytes` that holds no
/// whole record of it. What follows is dropped as a tail (a commit cut short is never
/// confirmed) unless a valid record after it says the log was durable past `at` when it was
/// written (its `durable_to`): then something confirmed was damaged, and that is damage, as
/// anywhere before the last segment. Layout 0 records carry no `durable_to`: there everything
/// after `at` is a tail, as the earlier release read it.
pub fn ending(layout: Layout, segment: u64, bytes: &[u8], at: usize) -> Ending {
    if layout == Layout::V1 {
        let mut j = at + 1;
        while j + layout.record_header() < bytes.len() {
            // A record's length is not 0: none starts more than 3 bytes before a non-zero byte.
            match bytes[j..].iter().position(|b| *b != 0) {
                Some(p) if p > 3 => {
                    j += p - 3;
                    continue;
                }
                Some(_) => {}
                None => break,
            }
            // `durable_to` first: a record that could prove damage was written after `at` was
            // durable, and not after its own start (the CRC is checked only then).
            let durable_to = u64::from_le_bytes(bytes[j + 8..j + 16].try_into().expect("8 bytes"));
            let after = durable_to > at as u64 && durable_to <= j as u64;
            if after && read_record(layout, segment, &bytes[j..]).is_some() {
                return Ending::Damaged;
            }
            j += 1;
        }
    }
    let rest = bytes.get(at..).unwrap_or_default();
    if rest.iter().take(TERMINATOR.len()).all(|b| *b == 0) {
        return Ending::Clean;
    }
    let bytes = rest.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1) as u64;
    Ending::Torn { bytes }
}

/// One segment read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Segment {
    pub layout: Layout,
    pub records: Vec<Writes>,
    /// How its records end: [`Ending::Clean`] for a segment that ends in its end record.
    pub ending: Ending,
}

/// Reads segment `number` from its bytes. Every segment but the `last` must end in its end
/// record; in the last, [`ending`] decides. A damaged segment is the offset and what was found.
pub fn read_segment(number: u64, bytes: &[u8], last: bool) -> Result<Segment, (u64, Found)> {
    let (layout, mut at) = match header(number, bytes) {
        Header::Layout(Layout::V0) => (Layout::V0, 0),
        Header::Layout(Layout::V1) => (Layout::V1, SEGMENT_HEADER),
        // A segment whose header is not on disk was started but nothing in it was confirmed
        // (a record's `fdatasync` carries the header written before it).
        Header::Unwritten(found) if last => {
            return match ending(Layout::V1, number, bytes, 0) {
                Ending::Damaged => Err((0, found)),
                ending => Ok(Segment { layout: Layout::V1, records: Vec::new(), ending }),
            };
        }
        Header::Unwritten(found) | Header::Invalid(found) => return Err((0, found)),
    };
    let mut records = Vec::new();
    loop {
        match read_record(layout, number, &bytes[at..]) {
            Some(Record { entry: Entry::Writes(w), len, .. }) => {
                records.push(w);
                at += len;
            }
            Some(Record { entry: Entry::End, .. }) => return Ok(Segment { layout, records, ending: Ending::Clean }),
            None if last => {
                return match ending(layout, number, bytes, at) {
                    Ending::Damaged => Err((at as u64, Found::BadRecord)),
                    ending => Ok(Segment { layout, records, ending }),
                };
            }
            None => return Err((at as u64, Found::NoEnd)),
        }
    }
}

enum Header {
    Layout(Layout),
    /// No valid header of this segment: zeros, one cut short, or a recycled file's old one.
    Unwritten(Found),
    /// Not a segment this release reads.
    Invalid(Found),
}

/// The header of segment `number` at the start of `bytes`. A segment of layout 0 starts with
/// a record, whose length (below [`MAX_RECORD`]) cannot be the magic's first bytes.
fn header(number: u64, bytes: &[u8]) -> Header {
    let head = &bytes[..bytes.len().min(SEGMENT_HEADER)];
    if head.iter().take(4).all(|b| *b == 0) {
        return Header::Unwritten(Found::NoHeader);
    }
    let found = || head[..head.len().min(MAGIC.len())].to_vec();
    if !head.starts_with(&MAGIC[..4]) {
        let len = u32::from_le_bytes(head.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0xff; 4]));
        return match len as usize {
            0..=MAX_RECORD => Header::Layout(Layout::V0),
            _ => Header::Invalid(Found::NotASegment(found())),
        };
    }
    if head.len() < SEGMENT_HEADER {
        return Header::Unwritten(Found::BadHeader);
    }
    if head[..MAGIC.len()] != MAGIC {
        return Header::Invalid(Found::NotASegment(found()));
    }
    let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    if crc32fast::hash(&head[..28]) != u32_at(28) {
        return Header::Unwritten(Found::BadHeader);
    }
    let version = u32_at(16);
    let written_for = u64::from_le_bytes(head[20..28].try_into().expect("8 bytes"));
    if version != FORMAT_VERSION {
        Header::Invalid(Found::UnknownVersion(version))
    } else if written_for != number {
        Header::Unwritten(Found::WrongNumber(written_for))
    } else {
        Header::Layout(Layout::V1)
    }
}

/// The header of segment `number`, followed by a [`TERMINATOR`] (it has no records yet).
pub fn segment_header(number: u64) -> [u8; SEGMENT_HEADER + TERMINATOR.len()] {
    let mut h = [0; SEGMENT_HEADER + TERMINATOR.len()];
    h[..16].copy_from_slice(&MAGIC);
    h[16..20].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[20..28].copy_from_slice(&number.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

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
    pub(super) fn encode_payload(&self, out: &mut Vec<u8>) {
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

/// One record's content as read back.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Writes(Writes),
    End,
}

/// One record as read back: its content and its length with its header.
#[derive(Debug)]
struct Record {
    entry: Entry,
    len: usize,
}

/// Appends one record of `kind` with `body` for segment `segment` in `layout` to `out`:
/// length; CRC-32 of the segment number, `durable_to` (layout 1) and the payload (so a record
/// left from a recycled segment's previous use does not pass); `durable_to` (layout 1); payload.
pub fn encode_record(layout: Layout, segment: u64, durable_to: u64, kind: u8, body: &[u8], out: &mut Vec<u8>) {
    let header = layout.record_header();
    let start = out.len();
    out.resize(start + header, 0);
    out.push(kind);
    out.extend_from_slice(body);
    let payload_len = len_u32(out.len() - start - header);
    let crc = record_crc(layout, segment, durable_to, &out[start + header..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    if layout == Layout::V1 {
        out[start + 8..start + 16].copy_from_slice(&durable_to.to_le_bytes());
    }
}

/// Appends the end record of segment `segment` to `out`.
pub fn encode_end(layout: Layout, segment: u64, durable_to: u64, out: &mut Vec<u8>) {
    encode_record(layout, segment, durable_to, KIND_END, &[], out)
}

fn record_crc(layout: Layout, segment: u64, durable_to: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&segment.to_le_bytes());
    if layout == Layout::V1 {
        h.update(&durable_to.to_le_bytes());
    }
    h.update(payload);
    h.finalize()
}

/// Appends `writes` as one record of segment `segment` to `out`, compressed when that pays.
pub fn encode_writes(
    layout: Layout,
    segment: u64,
    durable_to: u64,
    writes: &Writes,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    writes.encode_payload(scratch);
    if scratch.len() >= COMPRESS_FROM {
        let mut body = len_u32(scratch.len()).to_le_bytes().to_vec();
        body.extend_from_slice(&lz4_flex::block::compress(scratch));
        if body.len() < scratch.len() {
            return encode_record(layout, segment, durable_to, KIND_WRITES_LZ4, &body, out);
        }
    }
    encode_record(layout, segment, durable_to, KIND_WRITES, scratch, out)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a journal write of 4 GiB or more")
}

/// The record of segment `segment` at the start of `bytes`, if it is whole and intact.
fn read_record(layout: Layout, segment: u64, bytes: &[u8]) -> Option<Record> {
    let header = layout.record_header();
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    let durable_to = match layout {
        Layout::V0 => None,
        Layout::V1 => Some(u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?)),
    };
    let payload = bytes.get(header..header.checked_add(len)?)?;
    if len == 0 || record_crc(layout, segment, durable_to.unwrap_or(0), payload) != crc {
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
    Some(Record { entry, len: header + len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(i: u8) -> Writes {
        let mut w = Writes::default();
        w.insert([b'e', i], vec![i; 3 + i as usize]);
        w.remove([b'a', i]);
        w
    }

    /// Segment `n` of format 1 as the log writes it: header, then each record with the
    /// `durable_to` given, then the terminator.
    fn segment(n: u64, records: &[(u8, u64)]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = segment_header(n)[..SEGMENT_HEADER].to_vec();
        let mut starts = Vec::new();
        for &(i, durable_to) in records {
            starts.push(bytes.len());
            encode_writes(Layout::V1, n, durable_to, &sample(i), &mut Vec::new(), &mut bytes);
        }
        starts.push(bytes.len());
        bytes.extend_from_slice(&TERMINATOR);
        (bytes, starts)
    }

    fn last(bytes: &[u8]) -> Result<Segment, (u64, Found)> {
        read_segment(7, bytes, true)
    }

    #[test]
    fn a_torn_length_is_a_tail_dropped_after_the_records_before_it() {
        let (mut bytes, starts) = segment(7, &[(1, 0), (2, 0)]);
        bytes.truncate(starts[1] + 2);
        let s = last(&bytes).unwrap();
        assert_eq!(s.records, vec![sample(1)]);
        assert!(matches!(s.ending, Ending::Torn { bytes: 1..=2 }), "{:?}", s.ending);
    }

    #[test]
    fn a_torn_payload_is_a_tail_and_counts_its_bytes() {
        let (bytes, starts) = segment(7, &[(1, 0), (2, 0)]);
        let cut = starts[2] - 3;
        let s = last(&bytes[..cut]).unwrap();
        assert_eq!(s.records, vec![sample(1)]);
        let tail = bytes[starts[1]..cut].iter().rposition(|b| *b != 0).unwrap() as u64 + 1;
        assert_eq!(s.ending, Ending::Torn { bytes: tail });
    }

    #[test]
    fn a_bad_crc_followed_by_zeros_is_a_tail() {
        let (mut bytes, starts) = segment(7, &[(1, 0), (2, 0)]);
        bytes[starts[1] + 20] ^= 0xff;
        bytes.extend_from_slice(&[0; 4096]);
        let s = last(&bytes).unwrap();
        assert_eq!(s.records, vec![sample(1)]);
        assert!(matches!(s.ending, Ending::Torn { .. }));
    }

    #[test]
    fn a_bad_crc_followed_by_a_record_written_after_it_was_durable_is_damage() {
        // Record 2 was written once record 1 was synced (its `durable_to` is past record 1).
        let (first, starts) = segment(7, &[(1, 0)]);
        let (mut bytes, _) = segment(7, &[(1, 0), (2, starts[1] as u64)]);
        assert!(bytes.starts_with(&first[..starts[1]]));
        bytes[starts[0] + 20] ^= 0xff;
        assert_eq!(last(&bytes), Err((starts[0] as u64, Found::BadRecord)));
        // Not the last segment: damage too (no end record).
        assert_eq!(read_segment(7, &bytes, false), Err((starts[0] as u64, Found::NoEnd)));
    }

    #[test]
    fn a_bad_crc_followed_by_a_record_of_the_same_unconfirmed_round_is_a_tail() {
        // A power cut during one sync can keep a later block of the round and lose an earlier.
        let (mut bytes, starts) = segment(7, &[(1, 0), (2, 0)]);
        bytes[starts[0] + 20] ^= 0xff;
        let s = last(&bytes).unwrap();
        assert!(s.records.is_empty());
        assert!(matches!(s.ending, Ending::Torn { .. }));
    }

    #[test]
    fn recycled_old_records_after_the_end_are_no_tail_and_not_replayed() {
        // Segment 3's file held segment 2's records before.
        let (old, _) = segment(2, &[(5, 0), (6, 0), (7, 0), (8, 0)]);
        let (new, _) = segment(3, &[(1, 0)]);
        let mut bytes = old.clone();
        bytes[..new.len()].copy_from_slice(&new);
        let s = read_segment(3, &bytes, true).unwrap();
        assert_eq!((s.records, s.ending), (vec![sample(1)], Ending::Clean));
        // Its header not yet durable (a power cut right after the rotation): nothing of
        // segment 3 was confirmed; dropped, not damage.
        let s = read_segment(3, &old, true).unwrap();
        assert_eq!(s.records, vec![]);
        assert!(matches!(s.ending, Ending::Torn { .. }));
        assert_eq!(read_segment(3, &old, false), Err((0, Found::WrongNumber(2))));
    }

    #[test]
    fn the_rule_reads_a_large_tail_of_old_records_quickly() {
        let mut junk = Vec::new();
        let mut n = 1u64;
        while junk.len() < 4 << 20 {
            let mut w = Writes::default();
            w.insert(n.to_be_bytes(), format!(r#"{{"v":1,"seq":{n},"kind":"scan.accepted","code":"C{n}"}}"#));
            encode_writes(Layout::V1, 2, junk.len() as u64, &w, &mut Vec::new(), &mut junk);
            n += 1;
        }
        let (new, _) = segment(3, &[(1, 0)]);
        junk[..new.len()].copy_from_slice(&new);
        let t = std::time::Instant::now();
        let s = read_segment(3, &junk, true).unwrap();
        assert_eq!((s.records.len(), s.ending), (1, Ending::Clean));
        eprintln!("4 MiB of old records after the end: {:?}", t.elapsed());
    }

    #[test]
    fn a_prepared_segment_whose_header_is_not_durable_is_empty() {
        let s = read_segment(3, &[0; 4096], true).unwrap();
        assert_eq!((s.records, s.ending), (vec![], Ending::Clean));
        assert_eq!(read_segment(3, &[0; 4096], false), Err((0, Found::NoHeader)));
    }

    #[test]
    fn a_wrong_magic_or_an_unknown_version_is_never_read_as_empty() {
        let (bytes, _) = segment(7, &[(1, 0)]);
        let mut foreign = bytes.clone();
        foreign[..16].copy_from_slice(b"SQLite format 3\0");
        assert_eq!(last(&foreign), Err((0, Found::NotASegment(b"SQLite format 3\0".to_vec()))));
        let mut other_magic = bytes.clone();
        other_magic[4] = b'X';
        assert!(matches!(last(&other_magic), Err((0, Found::NotASegment(_)))));
        let mut newer = bytes.clone();
        newer[16..20].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&newer[..28]);
        newer[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(last(&newer), Err((0, Found::UnknownVersion(2))));
    }

    #[test]
    fn a_segment_of_layout_0_is_read_from_its_first_byte() {
        let mut bytes = Vec::new();
        for i in 1..=3 {
            encode_writes(Layout::V0, 7, 0, &sample(i), &mut Vec::new(), &mut bytes);
        }
        let end = bytes.len();
        encode_end(Layout::V0, 7, 0, &mut bytes);
        let s = read_segment(7, &bytes, false).unwrap();
        assert_eq!((s.layout, s.records.len(), s.ending), (Layout::V0, 3, Ending::Clean));
        // Its last segment: a commit cut short is dropped as the earlier release did.
        let s = read_segment(7, &bytes[..end - 3], true).unwrap();
        assert_eq!(s.records.len(), 2);
        assert!(matches!(s.ending, Ending::Torn { .. }));
    }

    /// The segment's bytes as the log writes them in `rounds` of appends (each round one
    /// sync), from its header (written at the rename, made durable by the first sync) onto
    /// `before`, the file's content before: the images after each round (the first: `before`),
    /// and the commits.
    fn written_in_rounds(n: u64, before: &[u8], rounds: &[Vec<Writes>]) -> (Vec<Vec<u8>>, Vec<Writes>) {
        let mut file = before.to_vec();
        let put = |file: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            if file.len() < at + bytes.len() {
                file.resize(at + bytes.len(), 0);
            }
            file[at..at + bytes.len()].copy_from_slice(bytes);
        };
        let mut images = vec![file.clone()];
        put(&mut file, 0, &segment_header(n));
        let (mut len, mut synced, mut all) = (SEGMENT_HEADER, 0u64, Vec::new());
        for round in rounds {
            for writes in round {
                let mut out = Vec::new();
                encode_writes(Layout::V1, n, synced, writes, &mut Vec::new(), &mut out);
                let records = out.len();
                out.extend_from_slice(&TERMINATOR);
                put(&mut file, len, &out);
                len += records;
                all.push(writes.clone());
            }
            synced = len as u64;
            images.push(file.clone());
        }
        (images, all)
    }

    proptest! {
        /// A power cut during a round keeps, of each 512-byte sector the round wrote, either
        /// what it held before or what the round wrote (in any mix): the open never sees
        /// damage and replays every commit synced before, in order.
        #[test]
        fn a_power_cut_during_any_round_keeps_every_synced_commit_and_is_never_damage(
            rounds in proptest::collection::vec(proptest::collection::vec((any::<u8>(), 0usize..1500), 1..4), 1..6),
            cut in any::<proptest::sample::Index>(),
            kept in proptest::collection::vec(any::<bool>(), 64),
            recycled in any::<bool>(),
        ) {
            let rounds: Vec<Vec<Writes>> = rounds
                .iter()
                .map(|r| r.iter().map(|&(i, len)| {
                    let mut w = Writes::default();
                    w.insert([b'e', i], (0..len).map(|b| (b as u8).wrapping_mul(i | 1)).collect::<Vec<u8>>());
                    w
                }).collect())
                .collect();
            let before = if recycled {
                let old: Vec<Vec<Writes>> = vec![(0..40u8).map(sample).collect()];
                written_in_rounds(2, &[], &old).0.pop().unwrap()
            } else {
                vec![0; 8192]
            };
            let (images, all) = written_in_rounds(3, &before, &rounds);
            // Cut during round `k` (1-based): image k-1 is durable, image k in flight.
            let k = 1 + cut.index(rounds.len());
            let (durable, flight) = (&images[k - 1], &images[k]);
            let mut disk = durable.clone();
            disk.resize(flight.len().max(durable.len()), 0);
            for (i, sector) in flight.chunks(512).enumerate() {
                if kept[i % kept.len()] ^ (i / kept.len() % 2 == 1) {
                    disk[i * 512..i * 512 + sector.len()].copy_from_slice(sector);
                }
            }
            let synced: usize = rounds[..k - 1].iter().map(Vec::len).sum();
            let s = read_segment(3, &disk, true).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert!(s.ending != Ending::Damaged);
            prop_assert!(s.records.len() >= synced, "{} of {synced} synced commits", s.records.len());
            prop_assert_eq!(&s.records[..], &all[..s.records.len()]);
        }

        #[test]
        fn any_writes_encode_and_decode_to_themselves_and_only_in_their_segment(
            ops in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))),
                0..20,
            ),
            segment in 1u64..1000,
            durable_to in 0u64..1 << 20,
        ) {
            let writes = Writes(ops);
            let mut bytes = Vec::new();
            encode_writes(Layout::V1, segment, durable_to, &writes, &mut Vec::new(), &mut bytes);
            let back = read_record(Layout::V1, segment, &bytes).expect("a whole record");
            prop_assert_eq!(back.len, bytes.len());
            prop_assert_eq!(&bytes[8..16], &durable_to.to_le_bytes()[..]);
            prop_assert_eq!(back.entry, Entry::Writes(writes));
            prop_assert!(read_record(Layout::V1, segment + 1, &bytes).is_none());
        }
    }
}
