//! The fault suite: stationd's promises under crashes, broker and network faults, devices
//! going away and a full disk, on the real binary with a real Mosquitto, PTYs, the TCP
//! printer simulator and a TCP proxy. Each scenario ends in one row of a table.
//!
//! ```sh
//! cargo test --release --test faults -- --full     # the full rounds (about 5 minutes)
//! cargo test --test faults                         # the short version CI runs
//! cargo test --test faults -- kill                 # only scenarios whose name contains "kill"
//! ```
//!
//! `STATIOND_FAULT_SEED=N` replays the random kill points and fault timings of a run (the
//! seed is printed). A scenario that breaks a promise fails the run after the table.
//! The promises checked: every scan confirmed to the packer (`ok …` or a journaled refusal)
//! reaches the cloud subscriber with the same seq and code; duplicates are only resends of
//! the same event (same `id`); no label is printed twice; a full disk refuses new scans with
//! `journal_full` and an alert, keeps everything accepted and resumes once space is freed.
//! Side by side, the same crash and broker-restart rounds against a local Mosquitto bridge
//! with `persistence true`, the usual edge store-and-forward.

mod support;

#[path = "faults/bridge.rs"]
mod bridge;
#[path = "faults/commands.rs"]
mod commands;
#[path = "faults/devices.rs"]
mod devices;
#[path = "faults/disk.rs"]
mod disk;
#[path = "faults/http_flood.rs"]
mod http_flood;
#[path = "faults/links.rs"]
mod links;
#[path = "faults/power_cut.rs"]
mod power_cut;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use stationd_drivers::sim::{PrinterSim, SimState};
use stationd_testkit::zpl_commands;
use support::{parse_confirmed, pty, Cloud, Daemon, Proxy, StationDir};

const PREFIX: &str = "wh/WH1/st/PACK-T";

/// How hard each scenario pushes: `--full` or the short CI version.
struct Size {
    kill_rounds: usize,
    kill_scans: usize,
    broker_restarts: usize,
    flaps: usize,
    print_jobs: usize,
    replugs: usize,
    flood_seconds: u64,
    power_cuts: usize,
}

impl Size {
    fn full() -> Size {
        Size {
            kill_rounds: 100,
            kill_scans: 10_000,
            broker_restarts: 20,
            flaps: 30,
            print_jobs: 30,
            replugs: 20,
            flood_seconds: 30,
            power_cuts: 100,
        }
    }

    fn short() -> Size {
        Size {
            kill_rounds: 12,
            kill_scans: 1_200,
            broker_restarts: 4,
            flaps: 6,
            print_jobs: 9,
            replugs: 3,
            flood_seconds: 8,
            power_cuts: 20,
        }
    }
}

/// One line of the table.
struct Row {
    scenario: String,
    faults: String,
    confirmed: usize,
    delivered: usize,
    lost: usize,
    duplicates: usize,
    notes: String,
    /// A broken promise, if any (the bridge's losses are reported, not failed).
    broken: Option<String>,
}

type Scenario = fn(&Size, &mut StdRng) -> Vec<Row>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--full");
    // `--write FILE` also writes the table as a markdown page (docs/FAULTS.md).
    let write_to = args.iter().position(|a| a == "--write").and_then(|i| args.get(i + 1)).cloned();
    // `cargo test` passes its own flags (and a filter) through; only bare words filter.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-') && Some(*a) != write_to.as_ref()).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let size = if full { Size::full() } else { Size::short() };
    let seed: u64 = std::env::var("STATIOND_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    println!(
        "fault suite ({}), seed {seed} (STATIOND_FAULT_SEED={seed} replays it)",
        if full { "full" } else { "short" }
    );

    let scenarios: [(&str, Scenario); 11] = [
        ("kill", links::kill_9_rounds),
        ("broker", links::broker_restarts),
        ("network", links::network_flapping),
        ("commands", commands::hostile_commands),
        ("printer", devices::printer_silent_mid_job),
        ("scanner", devices::scanner_vanishing),
        ("disk", disk::disk_full),
        ("disk-drain", disk::disk_space_comes_back),
        ("http", http_flood::http_flood),
        ("power", power_cut::power_cuts),
        ("bridge", bridge::bridge_side_by_side),
    ];
    let mut rows = Vec::new();
    let started = Instant::now();
    for (name, scenario) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let t = Instant::now();
        let mut rng = StdRng::seed_from_u64(seed ^ name.len() as u64);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&size, &mut rng))) {
            Ok(r) => {
                for row in &r {
                    println!(
                        "  {:<38} confirmed {:>6}  delivered {:>6}  lost {:>5}  ({:.1} s)",
                        row.scenario,
                        row.confirmed,
                        row.delivered,
                        row.lost,
                        t.elapsed().as_secs_f64()
                    );
                }
                rows.extend(r);
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                rows.push(Row {
                    scenario: name.into(),
                    faults: "-".into(),
                    confirmed: 0,
                    delivered: 0,
                    lost: 0,
                    duplicates: 0,
                    notes: String::new(),
                    broken: Some(format!("scenario failed: {msg}")),
                });
            }
        }
    }
    let table = table(&rows, started.elapsed());
    println!("{table}");
    if let Some(path) = &write_to {
        let page = page(&table, full, seed);
        std::fs::write(path, page).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        println!("written to {path}");
    }
    let broken: Vec<&Row> = rows.iter().filter(|r| r.broken.is_some()).collect();
    if !broken.is_empty() {
        for r in &broken {
            eprintln!("BROKEN: {}: {}", r.scenario, r.broken.as_deref().unwrap_or(""));
        }
        std::process::exit(1);
    }
}

fn table(rows: &[Row], took: Duration) -> String {
    let mut t = String::from(
        "| scenario | faults injected | confirmed | delivered | lost | duplicates | result | notes |\n\
         |---|---|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let result = match &r.broken {
            None => "ok".to_string(),
            Some(why) => format!("**BROKEN**: {why}"),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario, r.faults, r.confirmed, r.delivered, r.lost, r.duplicates, result, r.notes
        ));
    }
    t.push_str(&format!("\n({} scenario rows in {:.0} s)\n", rows.len(), took.as_secs_f64()));
    t
}

/// docs/FAULTS.md: the table with what it ran on.
fn page(table: &str, full: bool, seed: u64) -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib =
        read("/proc/meminfo").split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).unwrap_or(0) / (1 << 20);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let mosquitto = Command::new(support::require_tool("mosquitto", "apt-get install -y mosquitto"))
        .arg("-h")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "# Fault suite\n\n\
         Written by `cargo test --release --test faults -- {}--write docs/FAULTS.md` on {date} \
         (seed {seed}: `STATIOND_FAULT_SEED={seed}` replays the kill points and fault timings).\n\
         Machine: {cpu}, {cores} cores, {mem_gib} GiB, Linux {kernel}; {mosquitto}.\n\n\
         Each row is one scenario on the real binary (tests/faults.rs explains each). *confirmed*: scans \
         the packer got an `ok` or a journaled refusal for (for the bridge: messages its local broker \
         acknowledged; for the printer: jobs); *delivered*: of those, what the cloud-side subscriber \
         (`mosquitto_sub`, persistent session, broker with `persistence true`) received with the same seq \
         and code (printer: jobs at the printer; scanner and disk: in the journal); *lost*: confirmed but \
         never delivered; *duplicates*: extra copies, all with the same event `id` (resends after a crash \
         or a lost ack, dropped by `id`). `cargo test` (CI) runs a short version of the same suite.\n\n{table}",
        if full { "--full " } else { "" }
    )
}

// ---------------------------------------------------------------------------------------
// The cloud side: a broker that keeps its state across restarts, and a subscriber whose
// session survives them, so "delivered" means the broker really took the event.

/// Mosquitto with `persistence true`, stopped gracefully (SIGTERM saves its state) or killed.
struct PersistentBroker {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

impl PersistentBroker {
    fn start(extra: &str) -> PersistentBroker {
        let dir = tempfile::tempdir().unwrap();
        writable_by_all(dir.path());
        let port = support::free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 max_queued_messages 1000000\nmax_inflight_messages 0\n{extra}",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut b = PersistentBroker { child: None, port, conf, _dir: dir };
        b.up();
        b
    }

    fn up(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.child = Some(support::spawn_mosquitto(&self.conf, self.port));
    }

    /// A graceful stop: the broker saves what it acked (a restart by its service manager).
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// The kill rounds' schedule: every `stretch` rounds the broker goes down, or comes
    /// back. True when it went down.
    fn flip_every(&mut self, round: usize, stretch: usize) -> bool {
        if round == 0 || !round.is_multiple_of(stretch) {
            return false;
        }
        if self.child.is_some() {
            self.down();
            true
        } else {
            self.up();
            false
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Mosquitto started as root drops to its own user: it must be able to save its state here.
fn writable_by_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

impl Drop for PersistentBroker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What the cloud received, by seq: every (event id, scanned code) that arrived.
#[derive(Default)]
struct Seen {
    by_seq: HashMap<u64, Vec<(String, String)>>,
    by_body: HashMap<String, usize>,
}

/// The cloud's witness: `mosquitto_sub` with a persistent session (clean session off,
/// QoS 1) on `topic`; it reconnects by itself when the broker restarts.
struct Upstream {
    seen: Arc<Mutex<Seen>>,
    child: Child,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Upstream {
    fn connect(port: u16, topic: &str) -> Upstream {
        use std::io::BufRead;
        let bin = support::require_tool("mosquitto_sub", "apt-get install -y mosquitto-clients");
        // Line-buffered, so each event (and the SUBACK debug line) arrives as it comes.
        let mut child = Command::new("stdbuf")
            .arg("-oL")
            .arg(bin)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-c", "-d", "-t", topic])
            .args(["-i", &format!("faults-cloud-{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto_sub");
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = seen.clone();
        let topic = topic.to_string();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(body) = line else { break };
                if body.contains("received SUBACK") {
                    let _ = ready_tx.send(());
                }
                if !body.starts_with('{') {
                    continue;
                }
                support::capture(&topic, false, body.as_bytes());
                let mut s = sink.lock().unwrap();
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    if let Some(seq) = v["seq"].as_u64() {
                        let id = v["id"].as_str().unwrap_or_default().to_string();
                        let code = v["data"]["code"].as_str().unwrap_or_default().to_string();
                        s.by_seq.entry(seq).or_default().push((id, code));
                    }
                }
                *s.by_body.entry(body).or_default() += 1;
            }
        });
        ready.recv_timeout(Duration::from_secs(10)).expect("mosquitto_sub subscribed");
        Upstream { seen, child }
    }

    /// Waits until every confirmed seq arrived (or `timeout`); returns (lost, duplicates,
    /// delivered, conflicts): conflicts are seqs that arrived with two different ids.
    fn settle(&self, confirmed: &BTreeMap<u64, String>, timeout: Duration) -> Tally {
        let start = Instant::now();
        loop {
            let tally = self.tally(confirmed);
            if tally.lost == 0 || start.elapsed() > timeout {
                if tally.lost > 0 {
                    let s = self.seen.lock().unwrap();
                    let max = s.by_seq.keys().max().copied().unwrap_or(0);
                    let missing: Vec<u64> = confirmed.keys().filter(|k| !s.by_seq.contains_key(k)).copied().collect();
                    let mut ranges: Vec<(u64, u64)> = Vec::new();
                    for m in missing {
                        match ranges.last_mut() {
                            Some(r) if r.1 + 1 == m => r.1 = m,
                            _ => ranges.push((m, m)),
                        }
                    }
                    let first_lost = &ranges[..ranges.len().min(12)];
                    eprintln!(
                        "undelivered after {timeout:?}: {} seqs seen (max {max}), {} messages, first missing {first_lost:?}",
                        s.by_seq.len(),
                        s.by_body.len()
                    );
                }
                return tally;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn tally(&self, confirmed: &BTreeMap<u64, String>) -> Tally {
        let s = self.seen.lock().unwrap();
        let mut t = Tally::default();
        for (seq, code) in confirmed {
            match s.by_seq.get(seq) {
                Some(copies) if copies.iter().any(|(_, c)| c == code) => t.delivered += 1,
                Some(_) => t.changed += 1,
                None => t.lost += 1,
            }
        }
        t.lost += t.changed;
        for copies in s.by_seq.values() {
            t.duplicates += copies.len() - 1;
            let first = &copies[0].0;
            if copies.iter().any(|(id, _)| id != first) {
                t.conflicts += 1;
            }
        }
        t
    }
}

#[derive(Default, Debug)]
struct Tally {
    delivered: usize,
    lost: usize,
    changed: usize,
    duplicates: usize,
    conflicts: usize,
}

impl Tally {
    /// The promise: nothing confirmed lost or changed, duplicates only same-id resends.
    fn broken(&self) -> Option<String> {
        if self.lost > 0 {
            return Some(format!("{} confirmed scans never reached the broker ({} changed)", self.lost, self.changed));
        }
        (self.conflicts > 0).then(|| format!("{} seqs arrived with two different event ids", self.conflicts))
    }

    fn row(self, scenario: &str, faults: String, confirmed: usize, notes: String) -> Row {
        Row {
            scenario: scenario.into(),
            faults,
            confirmed,
            delivered: self.delivered,
            lost: self.lost,
            duplicates: self.duplicates,
            broken: self.broken(),
            notes: format!("{notes}; duplicates are resends with the same id ({} conflicts)", self.conflicts),
        }
    }
}

/// Records one feedback line if it confirms a scan; panics on a seq confirmed twice.
fn record(confirmed: &mut BTreeMap<u64, String>, line: &str) -> bool {
    let Some((seq, code)) = parse_confirmed(line) else { return false };
    if let Some(previous) = confirmed.insert(seq, code.clone()) {
        panic!("seq {seq} confirmed twice: {previous} and {code}");
    }
    true
}

/// Reads feedback until `until`, recording confirmations.
fn pump(daemon: &Daemon, confirmed: &mut BTreeMap<u64, String>, until: Instant) {
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Some(line) = daemon.line(left.min(Duration::from_millis(20))) {
            record(confirmed, &line);
        }
    }
}

/// A thread writing scans `{prefix}-{i}` to the daemon's stdin every `every` (zero: as fast
/// as the pipe takes them) until the daemon is gone or `stop` is set. It hands the pipe back
/// (closing it would stop the daemon: the stdin scanner ending is a shutdown).
fn scan_writer(
    daemon: &mut Daemon,
    prefix: String,
    every: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<std::process::ChildStdin> {
    let mut stdin = daemon.take_stdin();
    std::thread::spawn(move || {
        if stdin.write_all(b"OP:0042\n").is_err() {
            return stdin;
        }
        let mut i = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            if stdin.write_all(format!("{prefix}-{i}\n").as_bytes()).is_err() {
                break;
            }
            i += 1;
            if !every.is_zero() {
                std::thread::sleep(every);
            }
        }
        stdin
    })
}

/// A daemon with a packer scanning steadily (one scan every `every`) while faults happen
/// around it; `finish` stops the scanning, waits for delivery and stops the daemon.
struct Scanning {
    daemon: Daemon,
    stop: Arc<std::sync::atomic::AtomicBool>,
    writer: std::thread::JoinHandle<std::process::ChildStdin>,
    confirmed: BTreeMap<u64, String>,
}

impl Scanning {
    fn start(station: &StationDir, prefix: &str, every: Duration) -> Scanning {
        let mut daemon = station.spawn();
        daemon.wait_started();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = scan_writer(&mut daemon, prefix.into(), every, stop.clone());
        Scanning { daemon, stop, writer, confirmed: BTreeMap::new() }
    }

    /// Records confirmations for `ms` milliseconds.
    fn for_ms(&mut self, ms: u64) {
        pump(&self.daemon, &mut self.confirmed, Instant::now() + Duration::from_millis(ms));
    }

    /// Stops scanning, waits up to `settle` for every confirmed scan at the cloud, stops the
    /// daemon; on a loss it prints the daemon's log tail and queue for the post-mortem.
    fn finish(mut self, station: &StationDir, up: &Upstream, settle: Duration) -> (Tally, usize) {
        self.for_ms(500);
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let writer = self.writer;
        self.daemon.give_stdin(writer.join().unwrap());
        pump(&self.daemon, &mut self.confirmed, Instant::now() + Duration::from_millis(500));
        let tally = up.settle(&self.confirmed, settle);
        if tally.lost > 0 {
            let log = self.daemon.stderr();
            let tail: Vec<&str> = log.lines().filter(|l| !l.contains("scan")).collect();
            eprintln!("station log:\n{}", tail[tail.len().saturating_sub(40)..].join("\n"));
            eprintln!("queue: {}", support::queue_status(station));
        }
        self.daemon.signal(libc::SIGTERM);
        self.daemon.wait_exit(Duration::from_secs(5));
        (tally, self.confirmed.len())
    }
}

/// Checks the journal after the run: seqs gap-free from 1, no quarantined database.
fn journal_intact(station: &StationDir) -> Option<String> {
    if station.journal().join("quarantine").exists() {
        return Some("a crash left a database sled could not open".into());
    }
    let seqs: Vec<u64> = station.export().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let gap_free = seqs.iter().enumerate().all(|(i, s)| *s == i as u64 + 1);
    (!gap_free).then(|| "the journal's seqs are not gap-free".into())
}

/// Starts a daemon that drains the journal to the broker, waits for delivery, stops it.
fn drain_and_stop(station: &StationDir, up: &Upstream, confirmed: &BTreeMap<u64, String>, timeout: Duration) -> Tally {
    let daemon = station.spawn();
    daemon.wait_started();
    let tally = up.settle(confirmed, timeout);
    daemon.signal(libc::SIGTERM);
    let mut daemon = daemon;
    daemon.wait_exit(Duration::from_secs(5));
    tally
}
