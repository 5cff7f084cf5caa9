//! Helpers shared by the benchmarks (`mod common;` in each): statistics, process figures
//! from `/proc`, a Mosquitto of the benchmark's own, and the machine-readable figures that
//! `tests/perf.sh` collects into docs/PERFORMANCE.md.
//!
//! When `STATIOND_BENCH_JSON=<file>` is set, [`record`] appends one JSON line per figure:
//! `{bench, figure, value, unit, better, baseline_name, baseline_value, target}`, where
//! `target` is `"<op> <number>"` on the value or `"ratio <op> <number>"` on value / baseline
//! (`op` one of `<`, `<=`, `>`, `>=`, `==`). `examples/perf_report.rs` renders them.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Appends one figure to `$STATIOND_BENCH_JSON` (if set). `better` is "higher" or "lower";
/// `baseline` the same-run baseline's name and value; `target` as described above.
pub fn record(
    bench: &str,
    figure: &str,
    value: f64,
    unit: &str,
    better: &str,
    baseline: Option<(&str, f64)>,
    target: Option<&str>,
) {
    let Some(path) = std::env::var_os("STATIOND_BENCH_JSON") else { return };
    let line = serde_json::json!({
        "bench": bench,
        "figure": figure,
        "value": value,
        "unit": unit,
        "better": better,
        "baseline_name": baseline.map(|b| b.0),
        "baseline_value": baseline.map(|b| b.1),
        "target": target,
    });
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open STATIOND_BENCH_JSON");
    writeln!(f, "{line}").expect("write STATIOND_BENCH_JSON");
}

/// A daemon's backlog, asked over its control socket in `journal` (cheap: no subscriber on
/// this box competes with the station for the CPU). The socket appears a moment after the
/// daemon says it started.
pub fn pending(journal: &Path) -> u64 {
    let mut buf = Vec::new();
    let start = Instant::now();
    let ask = |buf: &mut Vec<u8>| match stationd::control::connect(journal)? {
        Some(stream) => stationd::control::request(stream, "status", buf),
        None => Err(std::io::ErrorKind::NotFound.into()),
    };
    while let Err(e) = ask(&mut buf) {
        assert!(start.elapsed() < Duration::from_secs(5), "status over control.sock: {e}");
        buf.clear();
        std::thread::sleep(Duration::from_millis(5));
    }
    let v: serde_json::Value = serde_json::from_slice(&buf).expect("status JSON");
    v["pending"].as_u64().unwrap_or(u64::MAX)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `q` quantile (0..=1) of `v`, nearest rank; NaN when `v` is empty.
pub fn pct(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

/// p50 and p99 of durations, in microseconds.
pub fn percentiles_us(lats: &[Duration]) -> (f64, f64) {
    let us: Vec<f64> = lats.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    (pct(&us, 0.50), pct(&us, 0.99))
}

/// "CPU model, N cores, arch".
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MB; `pid` "self" for this process.
pub fn status_mb(pid: &str, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

pub fn rss_mb(pid: u32) -> f64 {
    status_mb(&pid.to_string(), "VmRSS")
}

pub fn hwm_mb(pid: u32) -> f64 {
    status_mb(&pid.to_string(), "VmHWM")
}

/// `write_bytes` of `/proc/<pid>/io` ("self" for this process): bytes this process caused
/// to be sent to the storage layer (page granular; the filesystem's own journal not included).
pub fn io_write_bytes(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("write_bytes: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map(|r| r.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Where benchmarks put their files: `$STATIOND_BENCH_DIR/<name>` or `target/bench-<name>`, emptied.
pub fn bench_dir(name: &str) -> PathBuf {
    let dir = match std::env::var_os("STATIOND_BENCH_DIR") {
        Some(d) => PathBuf::from(d).join(name),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-{name}")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// A raw loop of 200-byte `write` + `fdatasync` on one file in `dir` for `dur`: the physical
/// limit of durable single writes on that disk. Returns (writes/s, latencies).
pub fn raw_fdatasync(dir: &Path, dur: Duration) -> (f64, Vec<Duration>) {
    let path = dir.join("raw-fdatasync.bin");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path).expect("raw file");
    let buf = [b'x'; 200];
    let mut lats = Vec::new();
    let start = Instant::now();
    while start.elapsed() < dur {
        let t = Instant::now();
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
        lats.push(t.elapsed());
    }
    let rate = lats.len() as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    (rate, lats)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts TCP connections on `port` (at most 10 s).
pub fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "nothing listens on port {port} after 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `mosquitto` binary; fails loudly with the install command when it is missing.
pub fn mosquitto_bin() -> &'static str {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists()).expect(
        "this benchmark needs mosquitto, which is not installed: apt-get install -y mosquitto mosquitto-clients",
    )
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Mosquitto with the config text `conf` (written to `dir/<name>.conf`), listening on `port`.
pub fn mosquitto(dir: &Path, name: &str, conf: &str, port: u16) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).unwrap();
    let child =
        Command::new(mosquitto_bin()).arg("-c").arg(&path).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_port(port);
    Proc(child)
}

/// A loopback Mosquitto without persistence and without queue limits (a subscriber that
/// falls behind is never dropped from), on a free port: (port, process).
pub fn plain_mosquitto(dir: &Path, name: &str) -> (u16, Proc) {
    let port = free_port();
    let conf = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"
    );
    (port, mosquitto(dir, name, &conf, port))
}

/// Milliseconds from the envelope's `at` (UTC, milliseconds) to now, by the box clock.
pub fn age_ms(at: &str) -> Option<f64> {
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - at).as_seconds_f64() * 1e3)
}

/// Fills a journal at `dir` (station `WH1/<station>`) with `n` scan events, handed to the
/// committer 4 096 at a time (one commit each) — the fastest the journal API allows.
/// Returns the envelope bytes stored.
pub fn fill_journal(dir: &Path, station: &str, n: usize) -> u64 {
    use stationd::journal::{Journal, JournalOptions};
    let mut o = JournalOptions::new(dir, "WH1", station);
    o.max_bytes = 4 << 30;
    let (j, _) = Journal::open(o).expect("open the journal to fill");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        // Two committers' worth of work in flight, so one batch is prepared while one syncs.
        for w in 0..2 {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = w * 4096;
                while i < n {
                    let end = (i + 4096).min(n);
                    let batch = (i..end)
                        .map(|k| {
                            let code = format!("40063813{k:07}");
                            use stationd::event::{Event, NewEvent, Scan, ScanClass, Scanned};
                            let scan = Scan::new("pack-gun", code, ScanClass::Product);
                            NewEvent::new(Event::OrderLookup(Scanned { scan, clock: None }))
                        })
                        .collect();
                    j.append_all(batch).await.expect("append");
                    i += 2 * 4096;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let stored = j.status().unwrap().stored_bytes;
    j.close();
    stored
}

/// A station config at `dir/stationd.toml`: stdin scanner, any badge logs in, journal in
/// `dir/journal`, uplink to `mqtt://127.0.0.1:{port}`.
pub fn station_config(dir: &Path, station: &str, port: u16) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("stationd.toml");
    let text = format!(
        "[station]\nwarehouse = \"WH1\"\nid = \"{station}\"\nrole = \"pack\"\nallow_unlisted_packers = true\n\n\
         [journal]\npath = \"journal\"\nmax_bytes = \"4GiB\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\n\n\
         [[scanner]]\nname = \"stdin\"\nkind = \"stdin\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A notify socket as systemd provides one (`NOTIFY_SOCKET`): the daemon says `READY=1` on it.
pub fn notify_socket(dir: &Path) -> (std::os::unix::net::UnixDatagram, PathBuf) {
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    (sock, path)
}

/// Blocks until a `READY=1` arrives on the notify socket.
pub fn wait_ready(sock: &std::os::unix::net::UnixDatagram) {
    let mut buf = [0u8; 1024];
    loop {
        let n = sock.recv(&mut buf).expect("READY=1 on the notify socket within 60 s");
        if String::from_utf8_lossy(&buf[..n]).contains("READY=1") {
            return;
        }
    }
}

/// A bare rumqttc QoS 1 client (no journal) publishing `n` copies of `payload` to `topic`
/// with an in-flight window of `window`, waiting for every PubAck: messages per second.
pub async fn bare_publish(port: u16, n: usize, payload: &[u8], window: u16, topic: &str) -> f64 {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut o = MqttOptions::new(format!("bare-{}-{}", std::process::id(), free_port()), "127.0.0.1", port);
    o.set_inflight(window).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, window as usize * 2);
    loop {
        if let Ok(Event::Incoming(Packet::ConnAck(_))) = el.poll().await {
            break;
        }
    }
    let start = Instant::now();
    let (payload, topic) = (payload.to_vec(), topic.to_string());
    let publisher = tokio::spawn(async move {
        for _ in 0..n {
            client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload.clone()).await.unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < n {
        if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.unwrap() {
            acked += 1;
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    if let Ok(client) = publisher.await {
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), el.poll()).await;
    }
    rate
}

/// A cloud-side QoS 1 subscriber on its own thread: counts messages and, for envelopes,
/// records each one's age (receive time minus its `at`, in ms; `at` has millisecond
/// resolution) when `ages` is on.
pub struct Counter {
    pub count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Payload bytes received.
    pub bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub ages: std::sync::Arc<std::sync::Mutex<Vec<f64>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Counter {
    pub fn start(port: u16, topic: &str, ages: bool) -> Counter {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let count = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let ages_v = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, b, a, s) = (count.clone(), bytes.clone(), ages_v.clone(), stop.clone());
        let topic = topic.to_string();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
                let mut o =
                    MqttOptions::new(format!("counter-{}-{}", std::process::id(), free_port()), "127.0.0.1", port);
                o.set_max_packet_size(1 << 20, 1 << 20).set_inflight(1000);
                let (client, mut el) = AsyncClient::new(o, 1000);
                client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
                while !s.load(Ordering::Relaxed) {
                    match tokio::time::timeout(Duration::from_millis(200), el.poll()).await {
                        Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                            let _ = ready_tx.send(());
                        }
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                            if ages {
                                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                                if let Some(age) = v["at"].as_str().and_then(age_ms) {
                                    a.lock().unwrap().push(age);
                                }
                            }
                            b.fetch_add(p.payload.len() as u64, Ordering::Relaxed);
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                        _ => {}
                    }
                }
            });
        });
        ready.recv_timeout(Duration::from_secs(10)).expect("subscribed");
        Counter { count, bytes, ages: ages_v, stop }
    }

    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `n` messages arrived (at most `timeout`); returns the count reached.
    pub fn wait_for(&self, n: u64, timeout: Duration) -> u64 {
        let start = Instant::now();
        while self.count() < n && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.count()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
