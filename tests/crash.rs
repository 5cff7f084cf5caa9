//! The durability promise, proven on the real binary: a scan confirmed with `ok` survives
//! `kill -9` at any moment, and seqs stay gap-free and unique across crashes.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use rand::Rng;
use support::{parse_confirmed, StationDir};

const ROUNDS: usize = 25;

#[test]
fn every_confirmed_scan_survives_kill_9_at_random_moments() {
    let station = StationDir::new("", "");
    let mut confirmed: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = rand::rng();
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
        assert!(
            !daemon.stderr().contains("journal recovered"),
            "round {round}: sled did not reopen cleanly:\n{}",
            daemon.stderr()
        );
    }
    assert!(confirmed.len() > ROUNDS * 10, "too few scans confirmed ({}) to prove anything", confirmed.len());

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
        "{ROUNDS} kill -9 rounds: {} scans confirmed, {} events stored, none lost",
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
