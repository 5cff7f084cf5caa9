//! The durability promise, proven on the real binary: a scan confirmed with `ok` survives
//! `kill -9` at any moment, and seqs stay gap-free and unique across crashes.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use rand::Rng;
use serde_json::json;
use stationd_drivers::sim::PrinterSim;
use support::{parse_confirmed, StationDir};

const ROUNDS: usize = 25;

#[test]
fn every_confirmed_scan_survives_kill_9_at_random_moments() {
    let station = StationDir::new("", "");
    let mut confirmed: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = rand::rng();
    // Starts that found confirmed commits only in the write-ahead log (sled writes its own
    // files later, in the background) and replayed them.
    let mut replays = 0;
    // Starts that found a commit cut short at the log's end (kill -9 during a write) and
    // dropped it under the recovery rule, saying so at `warn`.
    let mut tails = 0;
    for round in 0..ROUNDS {
        let mut daemon = station.spawn();
        let mut stdin = daemon.take_stdin();
        // A writer that scans as fast as the pipe takes it, until the daemon dies.
        let writer = std::thread::spawn(move || {
            for i in 0.. {
                if stdin.write_all(format!("R{round}-{i}\n").as_bytes()).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_millis(rng.random_range(20..400));
        while std::time::Instant::now() < deadline {
            if let Some(line) = daemon.line(Duration::from_millis(5)) {
                record(&mut confirmed, &line, &daemon);
            }
        }
        daemon.kill9();
        // Lines printed before the kill are confirmations too.
        for line in daemon.drain_lines() {
            record(&mut confirmed, &line, &daemon);
        }
        writer.join().unwrap();
        replays += usize::from(daemon.stderr().contains("replayed the write-ahead log"));
        tails += usize::from(daemon.stderr().contains("write-ahead log recovery"));
        assert!(
            !daemon.stderr().contains("journal recovered"),
            "round {round}: sled did not reopen cleanly:\n{}",
            daemon.stderr()
        );
    }
    assert!(confirmed.len() > ROUNDS * 10, "too few scans confirmed ({}) to prove anything", confirmed.len());
    assert!(replays > 0, "no start after a kill -9 replayed the write-ahead log: the crash path was not exercised");
    eprintln!("{replays} of {ROUNDS} starts replayed the write-ahead log, {tails} dropped a torn tail");

    let events = station.export();
    assert!(
        !station.journal().join("quarantine").exists(),
        "a crash left a database sled could not open (sled #1527/#1533)"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs are gap-free and unique from 1");
    let stored: BTreeMap<u64, &str> =
        events.iter().map(|e| (e["seq"].as_u64().unwrap(), e["data"]["code"].as_str().unwrap_or(""))).collect();
    for (seq, code) in &confirmed {
        assert_eq!(stored.get(seq).copied(), Some(code.as_str()), "confirmed seq {seq} lost or changed");
    }
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    eprintln!(
        "{ROUNDS} kill -9 rounds: {} scans confirmed, {} events stored, none lost; {replays} starts replayed the log",
        confirmed.len(),
        events.len()
    );
}

fn record(confirmed: &mut BTreeMap<u64, String>, line: &str, daemon: &support::Daemon) {
    let (seq, code) =
        parse_confirmed(line).unwrap_or_else(|| panic!("unexpected feedback {line:?}; stderr:\n{}", daemon.stderr()));
    if let Some(previous) = confirmed.insert(seq, code.clone()) {
        panic!("seq {seq} confirmed twice: {previous} and {code}");
    }
}

/// The label a packing scan asks for is durable with that scan: the packer's `ok` for the
/// last item means the order is packed *and* its label job is on disk. `kill -9` the moment
/// the feedback line is read, restart: every packed order has its `print.queued`, and none
/// has two labels.
#[test]
fn the_label_job_of_a_packed_order_survives_kill_9_right_after_the_packing_scan() {
    const ORDERS: usize = 12;
    let broker = support::Broker::start();
    let sim = PrinterSim::start();
    let station = StationDir::with_label_printer(broker.port, &sim.addr.to_string());
    let id = |i: usize| format!("SO-K{i:03}");
    let mut daemon = station.spawn();
    daemon.wait_started();
    let cloud = support::Cloud::connect(broker.port, "wh/WH1/st/PACK-T");
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..ORDERS {
        let order = json!({"request_id": format!("u{i}"), "order": {"id": id(i), "state": "picked", "carrier": "DHL",
            "tracking": format!("JJD{i:010}"), "ship_to": {"name": "Customer", "city": "Berlin", "country": "DE"},
            "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}});
        assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    }
    // The feedback line about `want` (or an error); other lines (a job cut by the last kill
    // raises an alert at start, a label confirmed late says so) are passed over.
    let feedback = |daemon: &support::Daemon, want: &str| loop {
        let line = daemon
            .line(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no feedback with {want}\n{}\n{}", daemon.stderr(), daemon.thread_stacks()));
        if line.contains(want) || line.starts_with("error ") {
            assert!(line.starts_with("ok "), "{want}: {line}\n{}", daemon.stderr());
            return;
        }
    };
    for i in 0..ORDERS {
        if i > 0 {
            daemon = station.spawn();
            daemon.wait_started();
        } else {
            // The session survives the kills: log in once.
            assert!(daemon.scan("OP:0017"));
            feedback(&daemon, "operator.login");
        }
        assert!(daemon.scan(&id(i)));
        feedback(&daemon, "order.opened");
        assert!(daemon.scan("SKU-1"));
        // The order is packed by this scan: kill the moment its confirmation is read.
        feedback(&daemon, "item.verified");
        daemon.kill9();
    }
    // One more start, so jobs queued before a kill reach the printer, then stop.
    let daemon = station.spawn();
    daemon.wait_started();
    std::thread::sleep(Duration::from_secs(2));
    drop(daemon);
    let events = station.export();
    for i in 0..ORDERS {
        let of = |kind: &str| events.iter().filter(|e| e["kind"] == kind && e["order"] == id(i).as_str()).count();
        assert!(of("order.state") >= 2, "{} was packed: {events:#?}", id(i));
        assert_eq!(of("print.queued"), 1, "{}: one label job, queued with the packing scan", id(i));
    }
    let labels = sim.jobs().len();
    assert!(labels <= ORDERS, "{labels} labels for {ORDERS} orders: one printed twice");
    eprintln!("{ORDERS} packing scans killed right after their feedback: every label job kept, {labels} printed");
}

/// sled writes its `conf` unsynced at a database's first open, so a power cut then leaves
/// it empty. Before any seq was reserved that loses nothing and the next start is quiet;
/// once events were committed (by then the file had been synced) an emptied `conf` means the
/// disk lost a synced file, and is reported.
#[test]
fn an_empty_sled_conf_is_quiet_after_a_cut_first_start_and_reported_once_events_were_committed() {
    let station = StationDir::new("", "");
    let db = station.journal().join("db");
    let export = || {
        let o = support::stationd(&["queue", "export", "--config", station.config_str()]);
        assert!(o.status.success(), "{}", support::stderr_of(&o));
        (support::stdout_of(&o).lines().count(), support::stderr_of(&o))
    };
    // What a power cut during the very first open leaves: the folder and an empty `conf`.
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("conf"), b"").unwrap();
    let (events, log) = export();
    assert_eq!(events, 0);
    assert!(!log.contains("configuration file"), "a cut first start is no loss:\n{log}");
    assert!(std::fs::metadata(db.join("conf")).unwrap().len() > 8, "sled wrote its settings again");

    let mut daemon = station.spawn();
    daemon.wait_started();
    assert!(daemon.scan("C-1"));
    let line = daemon.expect_line();
    assert!(support::parse_confirmed(&line).is_some(), "{line}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    std::fs::write(db.join("conf"), b"").unwrap();
    let (events, log) = export();
    assert_eq!(events, 1, "the events are untouched");
    assert!(log.contains("configuration file"), "a synced file lost is reported:\n{log}");
}

/// What a power cut during a commit leaves at the end of the log: a record cut short, never
/// confirmed. The next start drops it, says so at `warn` with the counts, and loses nothing
/// confirmed before it.
#[test]
fn a_commit_cut_short_at_the_logs_end_is_dropped_counted_and_logged_at_warn() {
    let station = StationDir::new("", "");
    let mut daemon = station.spawn();
    daemon.wait_started();
    for code in ["C-1", "C-2"] {
        assert!(daemon.scan(code));
        let line = daemon.expect_line();
        assert!(support::parse_confirmed(&line).is_some(), "{line}");
    }
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    // A clean stop leaves the last segment with its header and no record: the cut commit goes
    // right after the header (a length, then fewer bytes than it says).
    let wal = station.journal().join("db").join("wal");
    let last = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .expect("a log segment");
    let mut bytes = std::fs::read(&last).unwrap();
    assert!(bytes.starts_with(b"STATIONDWAL\0"), "{}: {:?}", last.display(), &bytes[..16]);
    let cut = [0x40, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
    bytes.resize(bytes.len().max(32 + cut.len()), 0);
    bytes[32..32 + cut.len()].copy_from_slice(&cut);
    std::fs::write(&last, &bytes).unwrap();

    let mut daemon = station.spawn();
    daemon.wait_started();
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let log = daemon.stderr();
    let line = log.lines().find(|l| l.contains("write-ahead log recovery")).unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("WARN") && line.contains("dropped_bytes=11") && line.contains("records_in_segment=0"),
        "{line}"
    );
    assert!(!station.journal().join("quarantine").exists(), "a cut commit is no damage:\n{log}");
    let codes: Vec<String> =
        station.export().iter().filter_map(|e| e["data"]["code"].as_str().map(str::to_owned)).collect();
    assert_eq!(codes, ["C-1", "C-2"]);
}
