//! Resync fairness benchmark: `cargo bench --bench resync` (`-- --quick` for a 20 000-event
//! journal and one round). Needs `mosquitto`; it starts its own on a free port.
//!
//! A station (the real binary) with a 100 000-event journal, all of it delivered; a packer
//! scans at 20 scans/s and a subscriber on `{prefix}/events` times each scan from the write
//! to the scanner until its event arrives (QoS 1, first arrival). Baseline, in the same run:
//! the same scans with no resync. Then rounds of 20 `resync from=1` (the whole journal) at
//! 10/s, from another client, while the scans go on; a scan counts while resent events
//! still arrive. Target: p99 during the resyncs ≤ 2× the baseline's p99, and < 100 ms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{median, pct, record};
use stationd::event::{Event, NewEvent, Scan, ScanClass, Scanned};

const PREFIX: &str = "wh/WH1/st/PACK-T";
const EAN: &str = "4006381333931";
const RESYNCS: usize = 20;

/// What the subscriber saw: each seq's first arrival; resends (seqs of the filled journal)
/// counted, with the last one's time.
#[derive(Default)]
struct Seen {
    first: HashMap<u64, Instant>,
    resent: u64,
    last_resent: Option<Instant>,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, rounds, baseline_scans) = if quick { (20_000, 1, 100) } else { (100_000, 3, 300) };
    let broker = support::Broker::start();
    let station = support::StationDir::with_broker(broker.port, "");
    fill_backlog(&station, n);
    let cloud = support::Cloud::connect(broker.port, PREFIX);
    let mut daemon = support::Daemon::spawn(&station.config);
    daemon.wait_started();
    daemon.scan("OP:0017");
    assert!(feedback(&daemon).starts_with("ok "));
    let order = json!({"id": "SO-1", "state": "picked", "carrier": "DHL", "tracking": "JJD1",
        "ship_to": {"name": "Example Customer", "city": "Berlin", "country": "DE"},
        "lines": [{"line": 1, "sku": "SKU-1", "qty": 1_000_000, "barcodes": [EAN]}]});
    let r = cloud.send("order-upsert", json!({"request_id": "u-1", "order": order}));
    assert_eq!(r["ok"], true, "{r}");
    daemon.scan("SO-1");
    assert!(feedback(&daemon).contains("order.opened"));
    let start = Instant::now();
    while common::pending(&station.journal()) > 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "the journal did not drain");
        std::thread::sleep(Duration::from_millis(20));
    }
    let filled = n as u64;
    let seen = subscribe(broker.port, filled);
    // Resync commands come from a client of their own; their replies are only counted.
    let (resyncer, replies) = support::subscriber(broker.port, &format!("{PREFIX}/reply"));

    println!("# resync benchmark{}: {n}-event journal, scans at 20/s", if quick { " (quick)" } else { "" });
    println!();
    let mut scans = Vec::new();
    for _ in 0..baseline_scans {
        scans.push(scan(&mut daemon));
        std::thread::sleep(Duration::from_millis(50));
    }
    let baseline = latencies(&seen, &scans, None);

    let mut during = Vec::new();
    let mut resent = Vec::new();
    for round in 0..rounds {
        let before = seen.lock().unwrap().resent;
        let t0 = Instant::now();
        let sender = {
            let client = resyncer.clone();
            std::thread::spawn(move || {
                for i in 0..RESYNCS {
                    let cmd = json!({"request_id": format!("rs-{round}-{i}"), "from": 1});
                    let topic = format!("{PREFIX}/cmd/resync");
                    client.publish(topic, rumqttc::QoS::AtLeastOnce, false, cmd.to_string()).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let mut scans = Vec::new();
        // Until the resyncs were all sent and no resend came for half a second.
        loop {
            scans.push(scan(&mut daemon));
            std::thread::sleep(Duration::from_millis(50));
            let last = seen.lock().unwrap().last_resent.unwrap_or(t0);
            if t0.elapsed() > Duration::from_secs(3) && last.elapsed() > Duration::from_millis(500) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(300), "resends did not stop");
        }
        sender.join().unwrap();
        for _ in 0..RESYNCS {
            let (_, reply) = replies.recv_timeout(Duration::from_secs(20)).expect("a resync reply");
            let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
            assert_eq!(v["ok"], true, "{v}");
        }
        let (last, total) = {
            let s = seen.lock().unwrap();
            (s.last_resent.unwrap_or(t0), s.resent - before)
        };
        during.extend(latencies(&seen, &scans, Some(last)));
        resent.push(total as f64);
        println!(
            "round {round}: {total} events resent in {:.1} s for {RESYNCS} overlapping resyncs of {filled}",
            (last - t0).as_secs_f64()
        );
    }
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(10));

    let (b50, b99) = (pct(&baseline, 0.5), pct(&baseline, 0.99));
    let (d50, d99, dmax) = (pct(&during, 0.5), pct(&during, 0.99), pct(&during, 1.0));
    let ratio = d99 / b99;
    let met = ratio <= 2.0 && d99 < 100.0;
    println!();
    println!("## live scan → event at a subscriber, 20 scans/s");
    println!(
        "baseline  no resync, {:>4} scans                     p50 {b50:>7.2} ms   p99 {b99:>7.2} ms",
        baseline.len()
    );
    println!(
        "stationd  during {RESYNCS} whole-journal resyncs, {:>4} scans  p50 {d50:>7.2} ms   p99 {d99:>7.2} ms   max {dmax:>7.2} ms",
        during.len()
    );
    println!(
        "ratio p99 {ratio:.2}× baseline (target ≤ 2× and < 100 ms: {}); resent per round {:.0} (median; one pass is {filled})",
        if met { "met" } else { "NOT met" },
        median(resent.clone())
    );
    println!();
    let name = format!("live scan → event at a subscriber during {RESYNCS} overlapping resyncs of {n} events");
    let base = Some(("the same scans with no resync, p99", b99));
    record("resync", &format!("{name}, p99"), d99, "ms", "lower", base, Some("ratio <= 2"));
    record("resync", &format!("{name}, p99 (bound)"), d99, "ms", "lower", None, Some("< 100"));
    record(
        "resync",
        &format!("events resent for {RESYNCS} whole-journal resyncs"),
        median(resent),
        "events",
        "lower",
        None,
        None,
    );
}

/// Journals `n` events into the (stopped) station's journal and marks them delivered.
fn fill_backlog(station: &support::StationDir, n: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = stationd::journal::JournalOptions::new(station.journal(), "WH1", "PACK-T");
    let (journal, _) = stationd::journal::Journal::open(opts).unwrap();
    rt.block_on(async {
        let mut i = 0;
        while i < n {
            let batch = (i..(i + 4096).min(n))
                .map(|k| {
                    let scan = Scan::new("gun", format!("B{k}"), ScanClass::Order);
                    NewEvent::new(Event::OrderLookup(Scanned { scan, clock: None }))
                })
                .collect();
            journal.append_all(batch).await.unwrap();
            i += 4096;
        }
    });
    journal.close();
}

/// A subscriber to the station's events, at QoS 1, recording what arrives.
fn subscribe(port: u16, filled: u64) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (_client, rx) = support::subscriber(port, &format!("{PREFIX}/events"));
    let s = seen.clone();
    std::thread::spawn(move || {
        let _keep = _client;
        for (_, payload) in rx {
            let at = Instant::now();
            let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            let seq = v["seq"].as_u64().unwrap();
            let mut s = s.lock().unwrap();
            if seq <= filled {
                s.resent += 1;
                s.last_resent = Some(at);
            }
            s.first.entry(seq).or_insert(at);
        }
    });
    seen
}

/// One item scan: when it was written to the scanner, and the seq its feedback names.
fn scan(daemon: &mut support::Daemon) -> (Instant, u64) {
    let t = Instant::now();
    daemon.scan(EAN);
    let line = feedback(daemon);
    let (seq, _) = support::parse_confirmed(&line).unwrap_or_else(|| panic!("a confirmed scan: {line}"));
    (t, seq)
}

/// Scan → first arrival of its event, in ms, for the scans made before `until` (all when
/// `None`); waits up to 10 s for them to arrive.
fn latencies(seen: &Mutex<Seen>, scans: &[(Instant, u64)], until: Option<Instant>) -> Vec<f64> {
    let counted: Vec<_> = scans.iter().filter(|(t, _)| until.is_none_or(|u| *t <= u)).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = seen.lock().unwrap();
        let lat: Vec<f64> = counted
            .iter()
            .filter_map(|(t, seq)| s.first.get(seq).map(|at| at.saturating_duration_since(*t).as_secs_f64() * 1e3))
            .collect();
        if lat.len() == counted.len() || Instant::now() > deadline {
            assert_eq!(lat.len(), counted.len(), "every scan's event arrived within 10 s");
            return lat;
        }
        drop(s);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn feedback(d: &support::Daemon) -> String {
    loop {
        let l = d.line(Duration::from_secs(10)).expect("feedback within 10 s");
        if !l.starts_with("alert ") {
            return l;
        }
    }
}
