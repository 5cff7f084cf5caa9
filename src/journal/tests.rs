use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::event::{AnyEnvelope, Event, Scan, ScanClass, Scanned};

fn opts(dir: &Path) -> JournalOptions {
    JournalOptions::new(dir.join("journal"), "WH1", "PACK-07")
}

fn scan(code: &str) -> NewEvent {
    NewEvent::new(Event::OrderLookup(Scanned { scan: Scan::new("gun", code, ScanClass::Order), clock: None }))
}

fn open(o: &JournalOptions) -> Journal {
    let (j, outcome) = Journal::open(o.clone()).expect("journal opens");
    assert_eq!(outcome, OpenOutcome::Opened);
    j
}

/// The stored records, read as any reader of the journal's bytes would.
fn envelopes(j: &Journal) -> Vec<AnyEnvelope> {
    j.read_from(0, usize::MAX).unwrap().iter().map(|r| serde_json::from_slice(&r.payload).unwrap()).collect()
}

#[test]
fn appends_get_gap_free_seqs_from_one_that_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    for i in 1..=5 {
        let a = j.append_blocking(scan(&format!("C{i}"))).unwrap();
        assert_eq!(a.seq, i);
    }
    j.close();
    let j = open(&o);
    assert_eq!(j.append_blocking(scan("C6")).unwrap().seq, 6);
    let all = envelopes(&j);
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(all[0].data["code"], "C1");
    assert_eq!(all[0].station, "PACK-07");
    assert_eq!(all[0].warehouse, "WH1");
    assert_eq!(all[0].id.get_version_num(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_unique_gap_free_seqs() {
    let tmp = tempfile::tempdir().unwrap();
    let j = open(&opts(tmp.path()));
    let mut tasks = Vec::new();
    for t in 0..32 {
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                seqs.push(j.append(scan(&format!("T{t}-{i}"))).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1600).collect::<Vec<u64>>());
    assert_eq!(j.durable_next(), 1601);
}

/// Inputs from threads that find the committer idle commit on their own thread; acks always go
/// through the committer's thread; both take the same lock, so seqs stay gap-free, every
/// confirmed input is there after a reopen, and a handle used after close is refused.
#[test]
fn inline_input_rounds_and_the_committers_ack_rounds_interleave_without_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let j = j.clone();
            std::thread::spawn(move || {
                (0..200).map(|i| j.append_blocking(scan(&format!("T{t}-{i}"))).unwrap().seq).collect::<Vec<_>>()
            })
        })
        .collect();
    let acker = {
        let j = j.clone();
        std::thread::spawn(move || {
            let mut acked_below = 1;
            while acked_below <= 800 {
                let next = j.durable_next();
                if next > acked_below {
                    j.ack_blocking((acked_below..next).collect()).unwrap();
                    acked_below = next;
                } else {
                    std::thread::yield_now();
                }
            }
        })
    };
    let mut all: Vec<u64> = producers.into_iter().flat_map(|p| p.join().unwrap()).collect();
    acker.join().unwrap();
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<u64>>());
    assert_eq!(j.pending_count(), 0);
    let kept = j.clone();
    j.close();
    assert!(matches!(kept.append_blocking(scan("late")), Err(JournalError::Closed)));
    assert!(matches!(kept.ack_blocking(vec![1]), Err(JournalError::Closed)));
    drop(kept);
    let j = open(&o);
    let seqs: Vec<u64> = envelopes(&j).iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=800).collect::<Vec<u64>>());
    assert_eq!((j.pending_count(), j.durable_next()), (0, 801));
}

#[test]
fn pending_skips_out_of_order_acks_and_the_watermark_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    for i in 0..6 {
        j.append_blocking(scan(&i.to_string())).unwrap();
    }
    j.ack_blocking(vec![2, 4]).unwrap();
    let pending: Vec<u64> = j.pending(0, 100).unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(pending, vec![1, 3, 5, 6]);
    assert_eq!(j.status().unwrap().acked_below, 1);
    j.ack_blocking(vec![1, 3]).unwrap();
    assert_eq!(j.status().unwrap().acked_below, 5);
    j.close();
    // Acks are durable: they do not come back after a reopen.
    let j = open(&o);
    let st = j.status().unwrap();
    assert_eq!((st.pending, st.acked_below, st.next_seq), (2, 5, 7));
    assert_eq!(j.pending(0, 100).unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 6]);
}

#[test]
fn full_journal_refuses_new_events_and_keeps_the_accepted_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path());
    o.max_bytes = 4096;
    let j = open(&o);
    let mut accepted = 0;
    let err = loop {
        match j.append_blocking(scan("4006381333931")) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, JournalError::Full { max_bytes: 4096, .. }), "{err}");
    assert_eq!(err.code().as_str(), "journal_full");
    assert!(err.to_string().contains("journal is full"));
    assert_eq!(envelopes(&j).len(), accepted);
    // Acked events are the first to go when space is needed.
    j.ack_blocking((1..=3).collect()).unwrap();
    let a = j.append_blocking(scan("after-ack")).unwrap();
    assert_eq!(a.seq, accepted as u64 + 1, "seq continues without a gap");
    let left: Vec<u64> = envelopes(&j).iter().map(|e| e.seq).collect();
    assert!(left.iter().all(|s| *s > 1), "oldest acked record was trimmed: {left:?}");
    assert_eq!(j.pending(0, 1000).unwrap().len(), accepted - 3 + 1);
}

#[test]
fn a_second_open_of_the_same_journal_is_refused_with_the_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let _j = open(&o);
    let err = Journal::open(o.clone()).err().expect("second open refused");
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(err.to_string().contains(&std::process::id().to_string()), "{err}");
}

#[test]
fn a_journal_of_another_station_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    open(&o).close();
    let mut other = o.clone();
    other.station = "PACK-08".into();
    let err = Journal::open(other).err().expect("refused");
    assert!(err.to_string().contains("belongs to station WH1/PACK-07"), "{err}");
}

#[test]
fn retention_trims_acked_events_and_keeps_pending_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path());
    o.retain_acked = Duration::ZERO;
    let j = open(&o);
    for i in 0..10 {
        j.append_blocking(scan(&i.to_string())).unwrap();
    }
    j.ack_blocking((1..=7).collect()).unwrap();
    j.trim_blocking().unwrap();
    let left: Vec<u64> = envelopes(&j).iter().map(|e| e.seq).collect();
    assert_eq!(left, vec![8, 9, 10]);
    assert_eq!(j.status().unwrap().retained_from, 8);
}

#[test]
fn acked_events_stay_readable_within_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let j = open(&opts(tmp.path()));
    for i in 0..4 {
        j.append_blocking(scan(&i.to_string())).unwrap();
    }
    j.ack_blocking(vec![1, 2, 3, 4]).unwrap();
    j.trim_blocking().unwrap();
    assert_eq!(envelopes(&j).len(), 4, "24 h retention keeps them for resync");
    assert_eq!(j.status().unwrap().pending, 0);
}

fn damage(db_file: &Path, how: &str) {
    let len = std::fs::metadata(db_file).unwrap().len();
    match how {
        "truncated" => std::fs::OpenOptions::new().write(true).open(db_file).unwrap().set_len(len / 3).unwrap(),
        "zeroed" => std::fs::write(db_file, vec![0u8; len as usize]).unwrap(),
        "random" => {
            use rand::{RngCore, SeedableRng};
            let mut bytes = vec![0u8; len as usize];
            rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut bytes);
            std::fs::write(db_file, bytes).unwrap()
        }
        "removed" => std::fs::remove_dir_all(db_file.parent().unwrap()).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn a_damaged_database_is_quarantined_and_seqs_continue_above_the_reservation() {
    for how in ["truncated", "zeroed", "random", "removed"] {
        let tmp = tempfile::tempdir().unwrap();
        let o = opts(tmp.path());
        let j = open(&o);
        for i in 0..20 {
            j.append_blocking(scan(&format!("{how}-{i}"))).unwrap();
        }
        let mut order = StateChanges::default();
        order.put(StateTree::Orders, "SO-1", "cached");
        j.commit_blocking(vec![], order).unwrap();
        j.ack_blocking((1..=5).collect()).unwrap();
        j.close();
        damage(&o.dir.join("db").join("db"), how);

        let (j, outcome) = Journal::open(o.clone()).unwrap_or_else(|e| panic!("{how}: {e}"));
        let OpenOutcome::Recovered { quarantined, may_be_lost, .. } = outcome else {
            panic!("{how}: damage not detected");
        };
        assert!(quarantined.starts_with(o.dir.join("quarantine")), "{how}");
        if how != "removed" {
            assert!(quarantined.join("db").exists(), "{how}: quarantined files kept");
        }
        let events = envelopes(&j);
        assert_eq!(events.len(), 1, "{how}");
        let first = &events[0];
        assert_eq!(first.kind, "journal.recovered");
        assert!(first.seq > 20, "{how}: seq {} reuses an issued seq", first.seq);
        let (from, to) = may_be_lost.unwrap();
        assert!(from <= 6 && to >= 20, "{how}: lost range {from}..{to} covers the unacked events");
        assert_eq!(first.data["quarantined"], quarantined.display().to_string());
        assert_eq!(j.state().len(StateTree::Orders), 0, "{how}: the order cache went with the quarantined files");
        let mut order = StateChanges::default();
        order.put(StateTree::Orders, "SO-2", "cached again");
        let next = j.commit_blocking(vec![scan("after")], order).unwrap();
        assert_eq!(next[0].seq, first.seq + 1, "{how}");
        assert_eq!(j.state().get(StateTree::Orders, b"SO-2").unwrap().as_deref(), Some(&b"cached again"[..]));
    }
}

#[test]
fn a_write_ahead_log_damaged_before_its_end_quarantines_the_journal_with_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    for i in 0..5 {
        j.append_blocking(scan(&format!("wal-{i}"))).unwrap();
    }
    j.close();
    // A segment followed by another must end in its end record: garbage in the current one,
    // with a next one after it, is damage (not a commit cut short at the log's end).
    let wal = o.dir.join("db").join("wal");
    let mut logs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".log"))
        .collect();
    logs.sort();
    let last = logs.last().expect("the log's current segment").clone();
    let number = u64::from_str_radix(last.trim_end_matches(".log"), 16).unwrap();
    std::fs::write(wal.join(&last), b"\x20\x00\x00\x00garbage that is no record of this segment").unwrap();
    std::fs::write(wal.join(format!("{:016x}.log", number + 1)), b"").unwrap();

    let (j, outcome) = Journal::open(o.clone()).unwrap();
    let OpenOutcome::Recovered { quarantined, reason, .. } = outcome else {
        panic!("a damaged log was not detected");
    };
    assert!(reason.contains("write-ahead log segment") && reason.contains("damaged"), "{reason}");
    assert!(quarantined.join("wal").join(&last).exists(), "the log is quarantined with the database");
    let events = envelopes(&j);
    assert_eq!(events[0].kind, "journal.recovered");
    assert!(events[0].seq > 5);
    // The events were in sled's files (checkpointed at close): salvage finds them.
    let salvaged = crate::journal::recovery::salvage(&quarantined).unwrap();
    assert_eq!(salvaged.iter().filter(|e| e.kind == "order.lookup").count(), 5);
}

/// The segments of the journal's write-ahead log, each with its first bytes.
fn log_segments(o: &JournalOptions) -> Vec<(String, Vec<u8>)> {
    let wal = o.dir.join("db").join("wal");
    let mut found: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .map(|n| (n.clone(), std::fs::read(wal.join(&n)).unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn a_journal_whose_log_has_no_segment_headers_opens_with_every_commit_and_continues_with_them() {
    let tmp = tempfile::tempdir().unwrap();
    // Envelopes as a journal stores them.
    let donor = opts(&tmp.path().join("donor"));
    let j = open(&donor);
    for i in 1..=3 {
        j.append_blocking(scan(&format!("old-{i}"))).unwrap();
    }
    let records = j.read_from(1, 10).unwrap();
    j.close();
    // A journal of the previous release stopped by kill -9: its last commits in its log
    // (format 0, no headers) only.
    let o = opts(tmp.path());
    open(&o).close();
    let wal_dir = o.dir.join("db").join("wal");
    std::fs::remove_dir_all(&wal_dir).unwrap();
    let commits: Vec<wal::Writes> = records
        .iter()
        .map(|r| {
            let mut w = wal::Writes::default();
            w.insert(store::event_key(r.seq), r.payload.clone());
            w
        })
        .collect();
    wal::write_format_0_segment(&wal_dir, 7, &commits[..2], true);
    wal::write_format_0_segment(&wal_dir, 8, &commits[2..], false);

    let j = open(&o);
    let codes =
        |j: &Journal| envelopes(j).iter().map(|e| e.data["code"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(codes(&j), ["old-1", "old-2", "old-3"]);
    assert_eq!(j.append_blocking(scan("new-4")).unwrap().seq, 4);
    let segments = log_segments(&o);
    assert!(!segments.is_empty());
    for (name, bytes) in &segments {
        assert!(bytes.starts_with(b"STATIONDWAL\0"), "{name} has the header: {:?}", &bytes[..16.min(bytes.len())]);
    }
    j.close();
    let j = open(&o);
    assert_eq!(codes(&j), ["old-1", "old-2", "old-3", "new-4"]);
}

#[test]
fn an_input_is_committed_whole_or_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path());
    o.max_bytes = 2048;
    let j = open(&o);
    let mut state = StateChanges::default();
    state.put(StateTree::Orders, "SO-1", "packing");
    state.put(StateTree::Meta, "session", "s1");
    let a = j.commit_blocking(vec![scan("A"), scan("B")], state).unwrap();
    assert_eq!(a.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![1, 2]);
    // Too big for what is left: none of its events and none of its state.
    let mut state = StateChanges::default();
    state.put(StateTree::Orders, "SO-1", "packed");
    let big: Vec<NewEvent> = (0..20).map(|i| scan(&format!("{i:0>60}"))).collect();
    let err = j.commit_blocking(big, state).unwrap_err();
    assert!(matches!(err, JournalError::Full { .. }), "{err}");
    assert_eq!(j.state().get(StateTree::Orders, b"SO-1").unwrap().as_deref(), Some(&b"packing"[..]));
    assert_eq!(envelopes(&j).len(), 2);
    // Its seqs were not used: the next input continues without a gap.
    assert_eq!(j.commit_blocking(vec![scan("C")], StateChanges::default()).unwrap()[0].seq, 3);
    // An input that changed nothing costs no commit at all.
    let commits = j.commit_latency().count;
    assert!(j.commit_blocking(vec![], StateChanges::default()).unwrap().is_empty());
    assert_eq!(j.commit_latency().count, commits);
}

#[test]
fn the_order_and_print_stores_of_the_older_layout_are_moved_in_once_and_renamed_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    std::fs::create_dir_all(&o.dir).unwrap();
    {
        let (old, _) = store::open_sled(&o.dir.join("state"), 1 << 20).expect("old store opens");
        old.open_tree("orders").unwrap().insert("SO-9", "order").unwrap();
        old.open_tree("requests").unwrap().insert("r-9", "reply").unwrap();
        old.open_tree("meta").unwrap().insert("session", "session").unwrap();
        old.flush().unwrap();
        let (print, _) = store::open_sled(&o.dir.join("print"), 1 << 20).expect("old print store opens");
        print.open_tree("jobs").unwrap().insert("j-1", "job").unwrap();
        print.open_tree("data").unwrap().insert("j-1", "^XA^XZ").unwrap();
        print.flush().unwrap();
    }
    let j = open(&o);
    let st = j.state();
    assert_eq!(st.get(StateTree::Orders, b"SO-9").unwrap().as_deref(), Some(&b"order"[..]));
    assert_eq!(st.get(StateTree::Requests, b"r-9").unwrap().as_deref(), Some(&b"reply"[..]));
    assert_eq!(st.get(StateTree::Meta, b"session").unwrap().as_deref(), Some(&b"session"[..]));
    assert_eq!(st.get(StateTree::PrintJobs, b"j-1").unwrap().as_deref(), Some(&b"job"[..]));
    assert_eq!(st.get(StateTree::PrintData, b"j-1").unwrap().as_deref(), Some(&b"^XA^XZ"[..]));
    let names: Vec<String> =
        std::fs::read_dir(&o.dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    for old in ["state", "print"] {
        assert!(!names.contains(&old.to_string()), "{names:?}");
        assert_eq!(names.iter().filter(|n| n.starts_with(&format!("{old}.migrated-"))).count(), 1, "{names:?}");
    }
    drop(st);
    j.close();
    // A second start finds nothing left to migrate and keeps what was moved in.
    let j = open(&o);
    assert_eq!(j.state().len(StateTree::Orders), 1);
}

#[test]
fn sleds_configuration_file_is_synced_at_open_and_an_emptied_one_is_written_again_without_quarantine() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    j.append_blocking(scan("before")).unwrap();
    j.close();
    let db = o.dir.join("db");
    let written = std::fs::read(db.join("conf")).unwrap();
    assert!(written.len() > 8, "sled's settings are in the file after open: {written:?}");
    assert!(!store::conf_is_damaged(&db));
    // What a power cut left of the file when nothing synced it (releases before 0.2).
    std::fs::write(db.join("conf"), b"").unwrap();
    assert!(store::conf_is_damaged(&db), "an empty file is what sled warns about");
    let j = open(&o);
    assert_eq!(std::fs::read(db.join("conf")).unwrap(), written, "written again, the same");
    assert_eq!(envelopes(&j).len(), 1, "the events are untouched");
    // The sync itself (file and folders, after every open) shows only under a power cut:
    // tests/faults/power_cut.rs flags the warning at every boot of the QEMU guest.
    store::make_conf_durable(&db).unwrap();
}

#[test]
fn salvage_reads_events_from_a_quarantined_database() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path());
    let j = open(&o);
    for i in 0..30 {
        j.append_blocking(scan(&format!("S{i}"))).unwrap();
    }
    j.close();
    let db = o.dir.join("db");
    let intact = recovery::salvage(&db).unwrap();
    assert_eq!(intact.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=30).collect::<Vec<_>>());
    damage(&db.join("db"), "truncated");
    let partial = recovery::salvage(&db).unwrap();
    assert!(partial.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(partial.iter().all(|e| e.data["code"] == format!("S{}", e.seq - 1)));
}

/// A sled cache of 16 B per shard (256 shards): each page read in pushes out the one before.
const TINY_CACHE: u64 = 4096;

#[test]
fn with_a_cache_smaller_than_a_page_every_event_and_state_entry_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(tmp.path());
    o.cache_bytes = TINY_CACHE;
    let j = open(&o);
    for batch in 0..100u64 {
        let events = (0..30).map(|i| scan(&format!("C{}", batch * 30 + i + 1))).collect();
        let mut state = StateChanges::default();
        state.put(StateTree::Orders, format!("SO-{batch}"), format!("batch-{batch}"));
        j.commit_blocking(events, state).unwrap();
    }
    j.ack_blocking((1..=1500).collect()).unwrap();
    let check = |j: &Journal| {
        let all = envelopes(j);
        assert_eq!(all.len(), 3000);
        assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1 && e.data["code"] == format!("C{}", i + 1)));
        let pending: Vec<u64> = j.pending(0, usize::MAX).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(pending, (1501..=3000).collect::<Vec<_>>());
        // Small reads from scattered places, as the uplink's resync and lookups do.
        for from in [2999, 1, 1777, 42, 3000, 1501] {
            let r = j.read_from(from, 2).unwrap();
            assert_eq!(r[0].seq, from);
        }
        let st = j.state();
        for batch in (0..100u64).rev() {
            let v = st.get(StateTree::Orders, format!("SO-{batch}").as_bytes()).unwrap();
            assert_eq!(v, Some(format!("batch-{batch}").into_bytes()));
        }
    };
    check(&j);
    j.close();
    let j = open(&o);
    check(&j);
    j.close();
}

/// Operations of the model-based test.
#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    /// One input: `.0` events with a change to order `SO-{.1 % 4}` (removed when `.2`), the
    /// session, a remembered request id and (for every third order) a print job, committed
    /// together.
    Input(u8, u8, bool),
    Ack(Vec<u8>),
    Trim,
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..6).prop_map(Op::Append),
        4 => (0u8..4, any::<u8>(), any::<bool>()).prop_map(|(n, o, f)| Op::Input(n, o, f)),
        3 => proptest::collection::vec(any::<u8>(), 1..6).prop_map(Op::Ack),
        1 => Just(Op::Trim),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

/// The reference: what must be in the journal after any sequence of operations.
#[derive(Default)]
struct Model {
    next: u64,
    stored: BTreeMap<u64, String>,
    acked: BTreeSet<u64>,
    orders: BTreeMap<String, String>,
    session: Option<String>,
    requests: BTreeSet<String>,
    jobs: BTreeSet<String>,
}

impl Model {
    fn watermark(&self) -> u64 {
        let mut w = 1;
        while self.acked.contains(&w) {
            w += 1;
        }
        w
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn journal_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..40), tiny_cache in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let mut o = opts(tmp.path());
        o.retain_acked = Duration::ZERO;
        if tiny_cache {
            // 16 B per cache shard: every page read in is evicted by the next access.
            o.cache_bytes = TINY_CACHE;
        }
        let mut j = Some(open(&o));
        let mut m = Model { next: 1, ..Model::default() };
        for op in ops {
            let jr = j.as_ref().unwrap();
            match op {
                Op::Append(n) => for _ in 0..n {
                    let code = format!("code-{}", m.next);
                    let a = jr.append_blocking(scan(&code)).unwrap();
                    prop_assert_eq!(a.seq, m.next, "seqs are gap-free and in order");
                    m.stored.insert(a.seq, code);
                    m.next += 1;
                },
                Op::Input(n, order, forget) => {
                    let first = m.next;
                    let codes: Vec<String> = (0..n as u64).map(|i| format!("code-{}", first + i)).collect();
                    let id = format!("SO-{}", order % 4);
                    let mut state = StateChanges::default();
                    if forget {
                        state.remove(StateTree::Orders, id.as_bytes());
                    } else {
                        state.put(StateTree::Orders, id.as_bytes(), format!("at-{first}"));
                    }
                    state.put(StateTree::Meta, "session", format!("session-{first}"));
                    state.put(StateTree::Requests, format!("r-{first}-{n}"), "reply");
                    if order % 3 == 0 {
                        state.put(StateTree::PrintJobs, format!("j-{first}-{n}"), "job");
                        m.jobs.insert(format!("j-{first}-{n}"));
                    }
                    let a = jr.commit_blocking(codes.iter().map(|c| scan(c)).collect(), state).unwrap();
                    prop_assert_eq!(a.iter().map(|a| a.seq).collect::<Vec<_>>(), (first..first + n as u64).collect::<Vec<_>>());
                    for c in codes {
                        m.stored.insert(m.next, c);
                        m.next += 1;
                    }
                    if forget {
                        m.orders.remove(&id);
                    } else {
                        m.orders.insert(id, format!("at-{first}"));
                    }
                    m.session = Some(format!("session-{first}"));
                    m.requests.insert(format!("r-{first}-{n}"));
                }
                Op::Ack(picks) => {
                    if m.next > 1 {
                        let seqs: Vec<u64> = picks.iter().map(|p| 1 + (*p as u64) % (m.next - 1)).collect();
                        jr.ack_blocking(seqs.clone()).unwrap();
                        m.acked.extend(seqs);
                    }
                }
                Op::Trim => {
                    jr.trim_blocking().unwrap();
                    let w = m.watermark();
                    m.stored.retain(|s, _| *s >= w);
                }
                Op::Reopen => {
                    j.take().unwrap().close();
                    j = Some(open(&o));
                }
                Op::Crash => {
                    // Drop without close: the committer stops when the channel closes.
                    drop(j.take());
                    std::thread::sleep(Duration::from_millis(5));
                    j = loop {
                        match Journal::open(o.clone()) {
                            Ok((j, _)) => break Some(j),
                            Err(JournalError::Locked { .. }) => std::thread::sleep(Duration::from_millis(5)),
                            Err(e) => panic!("{e}"),
                        }
                    };
                }
            }
            let jr = j.as_ref().unwrap();
            let pending: Vec<u64> = jr.pending(0, usize::MAX).unwrap().iter().map(|r| r.seq).collect();
            let want: Vec<u64> = (1..m.next).filter(|s| !m.acked.contains(s)).collect();
            prop_assert_eq!(pending, want, "pending = appended minus acked, in order");
            let stored: Vec<(u64, String)> = envelopes(jr).into_iter()
                .map(|e| (e.seq, e.data["code"].as_str().unwrap().to_string())).collect();
            let want: Vec<(u64, String)> = m.stored.iter().map(|(s, c)| (*s, c.clone())).collect();
            prop_assert_eq!(stored, want, "no loss, nothing trimmed that is pending");
            prop_assert_eq!(jr.durable_next(), m.next);
            let st = jr.state();
            let text = |v: Vec<u8>| String::from_utf8(v).unwrap();
            let orders: BTreeMap<String, String> =
                st.entries(StateTree::Orders).unwrap().into_iter().map(|(k, v)| (text(k), text(v))).collect();
            prop_assert_eq!(&orders, &m.orders, "orders changed with their input's events, nothing else");
            prop_assert_eq!(st.get(StateTree::Meta, b"session").unwrap().map(text), m.session.clone());
            let requests: BTreeSet<String> =
                st.entries(StateTree::Requests).unwrap().into_iter().map(|(k, _)| text(k)).collect();
            prop_assert_eq!(&requests, &m.requests);
            let jobs: BTreeSet<String> =
                st.entries(StateTree::PrintJobs).unwrap().into_iter().map(|(k, _)| text(k)).collect();
            prop_assert_eq!(&jobs, &m.jobs, "print jobs committed with their input");
        }
    }
}
