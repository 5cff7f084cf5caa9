//! Memory, start-up and bytes on disk of the real `stationd` binary:
//! `cargo bench --bench memory` (`-- --quick`: 100 000 queued events instead of 1 M).
//! Needs `mosquitto`; it starts its own on free loopback ports.
//!
//! - RSS (`VmRSS` of `/proc/PID/status`) idle with an empty journal, connected to a broker;
//! - a filling run: scans one after another through the stdin scanner, each confirmed
//!   durable; `write_bytes` of `/proc/PID/io` per event;
//! - a backlog of N events written with the journal library (4 096 events per commit), then
//!   the daemon started on it with its broker down: start-up (spawn → `READY=1` on
//!   `NOTIFY_SOCKET`, as under systemd) and idle RSS with the backlog;
//! - the broker started: the backlog drained to a real Mosquitto with a QoS 1 subscriber
//!   counting every event; peak RSS while draining and the daemon's `VmHWM`;
//! - journal size on disk per event.
//!
//! Baselines in the same run: RSS of an idle `mosquitto`, a raw 200-byte `write` +
//! `fdatasync` loop (its rate and `write_bytes` per write), the envelope's own size, and a
//! bare rumqttc QoS 1 publisher sending the same number of messages to the same subscriber.

use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{record, rss_mb};

const STATION: &str = "MEM-01";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 100_000 } else { 1_000_000 };
    let scans: usize = if quick { 300 } else { 1000 };
    let base = common::bench_dir("memory");
    println!("# memory, start-up and bytes on disk of the stationd binary ({n} queued events)");
    println!("machine: {}", common::machine());
    println!();

    // Baselines.
    let (broker_port, broker) = common::plain_mosquitto(&base, "broker");
    std::thread::sleep(Duration::from_millis(500));
    let mosquitto_idle = rss_mb(broker.pid());
    let before = common::io_write_bytes("self");
    let (raw_rate, lats) = common::raw_fdatasync(&base, Duration::from_secs(2));
    let raw_bytes = (common::io_write_bytes("self") - before) as f64 / lats.len() as f64;
    println!("baseline  idle mosquitto RSS                         {mosquitto_idle:>8.1} MB");
    println!("baseline  raw 200 B write + fdatasync                {raw_rate:>8.0} /s   write_bytes {raw_bytes:.0} B per write");

    // Idle with an empty journal, then a filling run through the stdin scanner.
    let dir = base.join("empty");
    let config = common::station_config(&dir, STATION, broker_port);
    let (sock, sock_path) = common::notify_socket(&dir);
    let t = Instant::now();
    let mut daemon = support::Daemon::spawn_with_env(&config, &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())]);
    common::wait_ready(&sock);
    let startup_empty = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon.pid() as u32;
    let idle_empty = rss_mb(pid);
    println!("stationd  start-up, empty journal (spawn → READY=1)   {:>8.1} ms", startup_empty * 1e3);
    println!("stationd  idle RSS, empty journal, connected          {idle_empty:>8.1} MB");
    let ratio = idle_empty / mosquitto_idle;
    let idle_broker = Some(("idle mosquitto RSS", mosquitto_idle));
    record("memory", "stationd idle RSS, empty journal, connected", idle_empty, "MB", "lower", idle_broker, None);
    record("memory", "start-up, empty journal (spawn → READY=1)", startup_empty * 1e3, "ms", "lower", None, None);
    println!("          = {ratio:.1}× an idle mosquitto");

    daemon.scan("OP:0017");
    daemon.expect_line();
    let written = common::io_write_bytes(&pid.to_string());
    let t = Instant::now();
    for i in 0..scans {
        daemon.scan(&format!("40063813{i:05}"));
        let line = daemon.expect_line();
        assert!(support::parse_confirmed(&line).is_some(), "not durable: {line}");
    }
    let took = t.elapsed().as_secs_f64();
    let per_event = (common::io_write_bytes(&pid.to_string()) - written) as f64 / scans as f64;
    println!(
        "stationd  filling run: {scans} scans one by one           {:>8.0} scans/s   write_bytes {per_event:.0} B per event ({:.1}× a raw write)",
        scans as f64 / took,
        per_event / raw_bytes
    );
    let raw = Some(("raw 200 B write + fdatasync, write_bytes per write", raw_bytes));
    let name = "disk bytes written per event, scans one by one (/proc/PID/io)";
    record("memory", name, per_event, "B", "lower", raw, None);
    let raw = Some(("raw 200 B write + fdatasync, writes/s", raw_rate));
    record("memory", "scans confirmed one by one through stdin", scans as f64 / took, "scans/s", "higher", raw, None);
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit(Duration::from_secs(10));
    drop(daemon);

    // A backlog of n events, the daemon started on it with the broker down.
    let dir = base.join("backlog");
    let down_port = common::free_port();
    let config = common::station_config(&dir, STATION, down_port);
    let t = Instant::now();
    let stored = common::fill_journal(&dir.join("journal"), STATION, n);
    let disk = stationd::journal::dir_size(&dir.join("journal"));
    println!(
        "library   fill {n} events, 4096 per commit            {:>8.1} s   journal {:.1} MB on disk, {:.1} MB of envelopes",
        t.elapsed().as_secs_f64(),
        disk as f64 / 1e6,
        stored as f64 / 1e6
    );
    let (disk_pe, env_pe) = (disk as f64 / n as f64, stored as f64 / n as f64);
    println!(
        "          journal size per event                     {disk_pe:>8.0} B   envelope {env_pe:.0} B ({:.1}×)",
        disk_pe / env_pe
    );
    let env = Some(("envelope bytes per event", env_pe));
    record("memory", &format!("journal size on disk per event, {n} queued"), disk_pe, "B", "lower", env, None);

    let (sock, sock_path) = common::notify_socket(&dir);
    let t = Instant::now();
    let mut daemon = support::Daemon::spawn_with_env(&config, &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())]);
    common::wait_ready(&sock);
    let startup = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon.pid() as u32;
    let idle_queued = rss_mb(pid);
    println!("stationd  start-up, {n} queued (spawn → READY=1)   {:>8.1} ms", startup * 1e3);
    println!("stationd  idle RSS, {n} queued, broker down        {idle_queued:>8.1} MB");
    let empty = Some(("start-up with an empty journal, ms", startup_empty * 1e3));
    record(
        "memory",
        &format!("start-up with {n} queued (spawn → READY=1)"),
        startup * 1e3,
        "ms",
        "lower",
        empty,
        Some("<= 1000"),
    );
    let idle_broker = Some(("idle mosquitto RSS", mosquitto_idle));
    record("memory", &format!("stationd idle RSS, {n} queued"), idle_queued, "MB", "lower", idle_broker, None);

    // The broker comes up: drain to a subscriber counting every event.
    let (drain_port, drain_broker) = {
        let conf = format!(
            "listener {down_port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"
        );
        (down_port, common::mosquitto(&base, "drain", &conf, down_port))
    };
    let counter = common::Counter::start(drain_port, "wh/#", false);
    let written = common::io_write_bytes(&pid.to_string());
    let t = Instant::now();
    let mut peak = idle_queued;
    let mut samples = Vec::new();
    while counter.count() < n as u64 {
        assert!(t.elapsed() < Duration::from_secs(600), "drain stalled at {} of {n}", counter.count());
        std::thread::sleep(Duration::from_millis(100));
        let r = rss_mb(pid);
        peak = peak.max(r);
        samples.push((counter.count() as f64 / n as f64, r));
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let drain_written = (common::io_write_bytes(&pid.to_string()) - written) as f64 / n as f64;
    let hwm = common::hwm_mb(pid);
    let broker_hwm = common::hwm_mb(drain_broker.pid());
    drop(counter);
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit(Duration::from_secs(10));
    drop(daemon);

    // Baseline: a bare rumqttc publisher, same count, same kind of subscriber.
    let payload = sample_payload();
    let counter = common::Counter::start(drain_port, "bare/#", false);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let t = Instant::now();
    rt.block_on(common::bare_publish(drain_port, n, &payload, 100, "bare/events"));
    let got = counter.wait_for(n as u64, Duration::from_secs(120));
    let bare_rate = got as f64 / t.elapsed().as_secs_f64();
    drop(counter);

    println!("stationd  drain {n} to mosquitto + subscriber      {rate:>8.0} events/s   baseline bare rumqttc {bare_rate:.0} msg/s ({:.2}×)", rate / bare_rate);
    let marks: Vec<String> = samples
        .iter()
        .step_by((samples.len() / 8).max(1))
        .map(|(p, m)| format!("{:.0}%:{m:.0}MB", p * 100.0))
        .collect();
    println!("stationd  peak RSS while draining                  {peak:>8.1} MB   VmHWM {hwm:.1} MB   (mosquitto VmHWM {broker_hwm:.1} MB)");
    println!("          RSS by progress: {}", marks.join("  "));
    // Flat: once the drain is under way (past 10 %, the cache warmed), RSS stays within 10 %
    // of its lowest (sled's cache is bounded by `JournalOptions::cache_bytes`, not by the backlog).
    let steady: Vec<f64> = samples.iter().filter(|(p, _)| *p >= 0.1).map(|(_, m)| *m).collect();
    let (lo, hi) = steady.iter().fold((f64::MAX, 0f64), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
    let spread = if steady.is_empty() { 1.0 } else { hi / lo };
    let verdict = if spread <= 1.10 { "met" } else { "NOT met" };
    println!("stationd  RSS while draining, highest / lowest past 10 %  {spread:>5.3}   ({lo:.1}..{hi:.1} MB; target <= 1.10: {verdict})");
    println!("stationd  write_bytes per event drained (acks)     {drain_written:>8.0} B");
    let bare = Some(("bare rumqttc QoS 1 publisher to the same subscriber, msg/s", bare_rate));
    record(
        "memory",
        &format!("drain {n} queued to mosquitto + a counting subscriber"),
        rate,
        "events/s",
        "higher",
        bare,
        None,
    );
    let broker_peak = Some(("mosquitto VmHWM in the same drain", broker_hwm));
    record("memory", &format!("stationd peak RSS while draining {n}"), peak, "MB", "lower", broker_peak, None);
    record("memory", &format!("stationd VmHWM after draining {n}"), hwm, "MB", "lower", None, None);
    record(
        "memory",
        &format!("RSS while draining {n}: highest / lowest past 10 %"),
        spread,
        "×",
        "lower",
        None,
        Some("<= 1.10"),
    );
    record(
        "memory",
        "disk bytes written per event drained (acks, /proc/PID/io)",
        drain_written,
        "B",
        "lower",
        None,
        None,
    );
    drop((broker, drain_broker));
    let _ = std::fs::remove_dir_all(&base);
}

/// An envelope of the size the daemon publishes for a scan.
fn sample_payload() -> Vec<u8> {
    let env = serde_json::json!({"v":1,"id":"01937c2e-7d0a-7b7c-9c1e-2b0f3c4d5e6f","seq":4182,"warehouse":"WH1","station":STATION,
        "at":"2026-11-23T10:04:05.123Z","kind":"scan.received","data":{"scanner":"pack-gun","code":"400638130004182"}});
    serde_json::to_vec(&env).unwrap()
}
