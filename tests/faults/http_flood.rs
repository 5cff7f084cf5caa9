//! Scenario: the screen's port flooded while the packer scans.
//!
//! The daemon runs with `RLIMIT_NOFILE` 1 024 (soft and hard, as a box whose service
//! manager keeps the old default, so raising the soft limit does not help). While a scanner
//! scans at 20/s, the port gets 2 × 1 024 connections that send nothing or half a request,
//! and 300 live-stream clients that never read. Promises: every scan confirmed, p99 scan →
//! feedback under 10 ms (release build; a debug build is only reported), the daemon's
//! descriptors and RSS bounded, and the screen answering again within 1 s of the flood's end.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;

use super::support::{self, parse_confirmed, Daemon, StationDir};
use super::{Row, Size};

const OPEN_FILES: u64 = 1024;
const STREAM_CLIENTS: usize = 300;
const SCANS_PER_SECOND: u64 = 20;

pub fn http_flood(size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    raise_own_open_file_limit(2 * OPEN_FILES + STREAM_CLIENTS as u64 + 512);
    let port = support::free_port();
    let station = StationDir::new("", &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut daemon = Daemon::spawn_with_open_files(&station.config, OPEN_FILES);
    daemon.wait_started();
    support::wait_port(port);
    let pid = daemon.pid();
    let baseline_rss = rss_kib(pid);

    let flood = std::thread::spawn(move || {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut held = Vec::new();
        let mut refused_connects = 0;
        for i in 0..2 * OPEN_FILES as usize + STREAM_CLIENTS {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(mut c) => {
                    let _ = match i {
                        // Live streams whose client never reads.
                        i if i >= 2 * OPEN_FILES as usize => {
                            c.write_all(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                        }
                        // Half a request, never finished.
                        i if i % 2 == 1 => c.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0"),
                        // Nothing at all.
                        _ => Ok(()),
                    };
                    held.push(c);
                }
                Err(_) => refused_connects += 1,
            }
        }
        (held, refused_connects)
    });

    // Scan at 20/s through the flood and for a while after it was opened.
    let scan_for = Duration::from_secs(size.flood_seconds);
    let started = Instant::now();
    let (mut latencies, mut confirmed, mut sent) = (Vec::new(), 0usize, 0usize);
    let (mut max_fds, mut max_rss) = (0usize, 0u64);
    let mut flood = Some(flood);
    let mut held = None;
    while started.elapsed() < scan_for {
        let due = started + Duration::from_millis(sent as u64 * 1000 / SCANS_PER_SECOND);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let code = format!("FLOOD-{sent:05}");
        let t = Instant::now();
        assert!(daemon.scan(&code), "the daemon's stdin closed; stderr:\n{}", daemon.stderr());
        sent += 1;
        let line = daemon.line(Duration::from_secs(10)).unwrap_or_default();
        latencies.push(t.elapsed());
        if parse_confirmed(&line).is_some_and(|(_, c)| c == code) {
            confirmed += 1;
        }
        max_fds = max_fds.max(open_fds(pid));
        max_rss = max_rss.max(rss_kib(pid));
        if flood.as_ref().is_some_and(|f| f.is_finished()) {
            held = flood.take().map(|f| f.join().expect("flood thread"));
        }
    }
    let (held, refused_connects) = held.or_else(|| flood.map(|f| f.join().expect("flood thread"))).unwrap_or_default();
    let flood_size = held.len();
    drop(held);
    // The flood is over: the screen must answer again within 1 s.
    let ended = Instant::now();
    let mut back_after = None;
    while ended.elapsed() < Duration::from_secs(5) {
        if let Ok((200, _)) = support::try_http_get(port, "/api/status", &[], Duration::from_millis(200)) {
            back_after = Some(ended.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_, metrics) = support::http_get(port, "/metrics", &[]);
    let refused_at_accept = metric(&metrics, "stationd_http_connections_refused_total");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(10));
    let journaled =
        station.export().iter().filter(|e| e["data"]["code"].as_str().is_some_and(|c| c.starts_with("FLOOD-"))).count();

    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let (p50, p99) = (p(0.5), p(0.99));
    let rss_growth_mib = max_rss.saturating_sub(baseline_rss) as f64 / 1024.0;
    let release = !cfg!(debug_assertions);
    let mut broken = Vec::new();
    if confirmed != sent {
        broken.push(format!("{} of {sent} scans not confirmed", sent - confirmed));
    }
    if release && p99 >= Duration::from_millis(10) {
        broken.push(format!("p99 scan → feedback {p99:?} ≥ 10 ms"));
    }
    match back_after {
        Some(t) if t <= Duration::from_secs(1) => {}
        Some(t) => broken.push(format!("the screen answered only {t:?} after the flood ended")),
        None => broken.push("the screen did not answer within 5 s of the flood's end".into()),
    }
    if max_fds as u64 >= OPEN_FILES - 64 {
        broken.push(format!("the daemon held {max_fds} descriptors of its {OPEN_FILES}"));
    }
    if rss_growth_mib > 64.0 {
        broken.push(format!("RSS grew by {rss_growth_mib:.1} MiB during the flood"));
    }
    let notes = format!(
        "open-file limit {OPEN_FILES}; {flood_size} flood connections made ({refused_connects} connects timed out), {refused_at_accept} closed at accept; \
         scan → feedback p50 {:.2} ms, p99 {:.2} ms ({}); daemon at most {max_fds} descriptors, RSS {:.1} → {:.1} MiB; \
         screen back {} after the flood; {journaled} scans in the journal",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        if release { "release" } else { "debug build: p99 reported, not checked" },
        baseline_rss as f64 / 1024.0,
        max_rss as f64 / 1024.0,
        back_after.map_or("never".to_string(), |t| format!("{:.0} ms", t.as_secs_f64() * 1e3)),
    );
    vec![Row {
        scenario: "HTTP port flooded while scanning".into(),
        faults: format!(
            "{} idle and half-sent connections + {STREAM_CLIENTS} live streams never read, scanning 20/s for {} s",
            2 * OPEN_FILES,
            size.flood_seconds
        ),
        confirmed: sent,
        delivered: journaled.min(confirmed),
        lost: sent.saturating_sub(confirmed),
        duplicates: 0,
        notes,
        broken: (!broken.is_empty()).then(|| broken.join("; ")),
    }]
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// This test process holds every flood socket itself: it needs that many descriptors.
fn raise_own_open_file_limit(need: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    assert!(
        lim.rlim_cur >= need,
        "the flood needs {need} open files in the test process, the hard limit is {}; raise it (ulimit -Hn {need})",
        lim.rlim_cur
    );
}
