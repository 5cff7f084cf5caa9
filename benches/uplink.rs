//! Uplink benchmark: `cargo bench --bench uplink` (`-- --quick` for a short run).
//! Needs `mosquitto` (apt-get install -y mosquitto); it starts its own on a free port.
//!
//! - drain: a 100 000-event journal backlog published by the uplink vs a bare rumqttc QoS 1
//!   client (no journal, same payloads, same in-flight window, waiting for every PubAck) to
//!   the same broker in the same run; medians of 3, as a ratio;
//! - live: scan confirmed (durable) → PUBLISH seen by a subscriber, at 100 scans/s;
//! - memory: RSS while draining a 1 M-event backlog.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;
use stationd::config::MqttConfig;
use stationd::event::{Event as StationEvent, NewEvent, Scan, ScanClass, Scanned};
use stationd::journal::{Journal, JournalOptions};
use stationd::orders::OrderStore;
use tokio_util::sync::CancellationToken;

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{median, record};

const WINDOW: u16 = 100;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, reps, big) = if quick { (20_000, 1, 100_000) } else { (100_000, 3, 1_000_000) };
    let base = std::env::var_os("STATIOND_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-uplink"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let broker = support::Broker::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let payload = sample_payload();

    println!("# uplink benchmark ({reps} repetitions, medians); broker: mosquitto on 127.0.0.1:{}", broker.port);
    println!("payload {} B, in-flight window {WINDOW}", payload.len());
    println!();
    let mut bare = Vec::new();
    let mut ours = Vec::new();
    for r in 0..reps {
        bare.push(rt.block_on(common::bare_publish(broker.port, n, &payload, WINDOW, "bench/bare/events")));
        let dir = base.join(format!("drain-{r}"));
        let journal = fill(&rt, &dir, n);
        ours.push(rt.block_on(drain(broker.port, journal, &format!("D{r}"), None)));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (b, o) = (median(bare), median(ours));
    println!("baseline  bare rumqttc QoS 1 publisher, {n} msgs      {b:>10.0} msg/s");
    println!(
        "stationd  drain {n}-event journal backlog          {o:>10.0} events/s   {:.2}× baseline (target ≥ 0.9×)",
        o / b
    );
    println!();
    let bare = Some(("bare rumqttc QoS 1 publisher, msg/s", b));
    record("uplink", &format!("drain a {n}-event backlog"), o, "events/s", "higher", bare, Some("ratio >= 0.9"));

    let (p50, p99, count) = rt.block_on(live(broker.port, &base.join("live"), if quick { 300 } else { 1000 }));
    println!("live: scan durable → PUBLISH at subscriber, 100 scans/s, {count} scans   p50 {p50:>7.2} ms   p99 {p99:>7.2} ms (target p99 < 10 ms)");
    println!();
    record("uplink", "scan durable → PUBLISH at a subscriber, 100 scans/s, p50", p50, "ms", "lower", None, None);
    record(
        "uplink",
        "scan durable → PUBLISH at a subscriber, 100 scans/s, p99",
        p99,
        "ms",
        "lower",
        None,
        Some("< 10"),
    );

    let dir = base.join("big");
    let journal = fill(&rt, &dir, big);
    let before = rss_mb();
    let mut samples = Vec::new();
    let rate = rt.block_on(drain(broker.port, journal, "BIG", Some(&mut samples)));
    let peak = samples.iter().map(|s| s.1).fold(before, f64::max);
    println!("memory: drain {big} events at {rate:.0}/s; RSS before {before:.1} MB, peak during drain {peak:.1} MB");
    let marks: Vec<String> = samples
        .iter()
        .step_by((samples.len() / 8).max(1))
        .map(|(p, m)| format!("{:.0}%:{m:.0}MB", p * 100.0))
        .collect();
    println!("        RSS by progress: {}", marks.join("  "));
    record("uplink", &format!("drain a {big}-event backlog"), rate, "events/s", "higher", None, None);
    let before_b = Some(("RSS before the drain (journal filled in-process)", before));
    record("uplink", &format!("peak RSS while draining {big} (in-process)"), peak, "MB", "lower", before_b, None);
    let _ = std::fs::remove_dir_all(&base);
}

fn sample_payload() -> Vec<u8> {
    let env = json!({"v":1,"id":"01937c2e-7d0a-7b7c-9c1e-2b0f3c4d5e6f","seq":4182,"warehouse":"WH1","station":"PACK-07",
        "at":"2026-11-23T10:04:05.123Z","kind":"scan.received","data":{"scanner":"pack-gun","code":"4006381333931"}});
    serde_json::to_vec(&env).unwrap()
}

/// A journal with `n` pending scan events (filled by 64 producers; not timed).
fn fill(rt: &tokio::runtime::Runtime, dir: &Path, n: usize) -> Journal {
    let mut o = JournalOptions::new(dir, "WH1", "BENCH");
    o.max_bytes = 4 << 30;
    let (j, _) = Journal::open(o).unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for p in 0..64 {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 64 {
                    let code = format!("40063813{:07}", p * n + i);
                    let scan = Scan::new("pack-gun", code, ScanClass::Product);
                    j.append(NewEvent::new(StationEvent::OrderLookup(Scanned { scan, clock: None }))).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    j
}

fn mqtt_config(port: u16, station: &str) -> MqttConfig {
    MqttConfig {
        urls: vec![url::Url::parse(&format!("mqtt://127.0.0.1:{port}")).unwrap()],
        client_id: format!("bench-{station}-{}", std::process::id()),
        username: None,
        password_file: None,
        ca_file: None,
        cert_file: None,
        key_file: None,
        prefix: format!("bench/{station}"),
        allow_insecure: false,
        keep_alive: Duration::from_secs(15),
        inflight: WINDOW,
        // The default; no workflow here, so no scans to pace the drain for.
        drain_rate_in_use: Some(20_000),
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
    }
}

/// Starts the uplink on a filled journal and times until every event is acked.
async fn drain(port: u16, journal: Journal, station: &str, mut samples: Option<&mut Vec<(f64, f64)>>) -> f64 {
    let total = journal.status().unwrap().pending;
    let orders = OrderStore::open(&journal).unwrap();
    let stop = CancellationToken::new();
    let start = Instant::now();
    let uplink = stationd::uplink::spawn(mqtt_config(port, station), journal.clone(), orders, stop.clone()).unwrap();
    let mut last_sample = Instant::now();
    loop {
        let st = journal.status().unwrap();
        if st.pending == 0 {
            break;
        }
        if let Some(s) = samples.as_deref_mut() {
            if last_sample.elapsed() >= Duration::from_millis(250) {
                s.push((1.0 - st.pending as f64 / total as f64, rss_mb()));
                last_sample = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    stop.cancel();
    let _ = uplink.task.await;
    tokio::task::spawn_blocking(move || journal.close()).await.unwrap();
    rate
}

/// Scan confirmed → PUBLISH seen by a subscriber, at 100 scans/s with an empty backlog.
async fn live(port: u16, dir: &Path, scans: usize) -> (f64, f64, usize) {
    let (journal, _) = Journal::open(JournalOptions::new(dir, "WH1", "LIVE")).unwrap();
    let orders = OrderStore::open(&journal).unwrap();
    let stop = CancellationToken::new();
    let uplink = stationd::uplink::spawn(mqtt_config(port, "LIVE"), journal.clone(), orders, stop.clone()).unwrap();

    let mut o = MqttOptions::new(format!("live-sub-{}", std::process::id()), "127.0.0.1", port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (sub, mut el) = AsyncClient::new(o, 100);
    sub.subscribe("bench/LIVE/events", QoS::AtLeastOnce).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let receiver = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                    let _ = tx.send((v["seq"].as_u64().unwrap(), at));
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    // Let the uplink connect and the subscription settle.
    while uplink.status.lock().unwrap().state != "connected" {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut confirmed = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..scans {
        tick.tick().await;
        let a = journal
            .append(NewEvent::new(StationEvent::OrderLookup(Scanned {
                scan: Scan::new("gun", format!("L{i}"), ScanClass::Product),
                clock: None,
            })))
            .await
            .unwrap();
        confirmed.insert(a.seq, Instant::now());
    }
    let mut lat = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lat.len() < scans && Instant::now() < deadline {
        if let Ok(Some((seq, at))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            if let Some(c) = confirmed.remove(&seq) {
                lat.push(at.saturating_duration_since(c));
            }
        }
    }
    stop.cancel();
    let _ = uplink.task.await;
    let _ = sub.disconnect().await;
    receiver.abort();
    tokio::task::spawn_blocking(move || journal.close()).await.unwrap();
    let (p50, p99) = common::percentiles_us(&lat);
    (p50 / 1e3, p99 / 1e3, lat.len())
}

fn rss_mb() -> f64 {
    common::status_mb("self", "VmRSS")
}
