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

#[path = "faults/http_flood.rs"]
mod http_flood;
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
        ("kill", kill_9_rounds),
        ("broker", broker_restarts),
        ("network", network_flapping),
        ("commands", hostile_commands),
        ("printer", printer_silent_mid_job),
        ("scanner", scanner_vanishing),
        ("disk", disk_full),
        ("disk-drain", disk_space_comes_back),
        ("http", http_flood::http_flood),
        ("power", power_cut::power_cuts),
        ("bridge", bridge_side_by_side),
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

// ---------------------------------------------------------------------------------------
// Scenarios.

/// `kill -9` at random points during a stream of scans; the broker is stopped for a stretch
/// of rounds and back for the next (the journal must hold what the broker cannot take).
fn kill_9_rounds(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let station = StationDir::with_broker(broker.port, "");
    let mut confirmed = BTreeMap::new();
    let per_round = size.kill_scans / size.kill_rounds;
    let stretch = (size.kill_rounds / 5).max(2);
    let (mut downs, mut early) = (0, 0);
    for round in 0..size.kill_rounds {
        downs += broker.flip_every(round, stretch) as usize;
        let mut daemon = station.spawn();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = scan_writer(&mut daemon, format!("K{round}"), Duration::ZERO, stop.clone());
        // A random point: during start-up (no scan confirmed yet) or after k confirmations.
        let want = rng.random_range(0..2 * per_round);
        if want < per_round / 10 {
            early += 1;
            std::thread::sleep(Duration::from_millis(rng.random_range(0..60)));
        } else {
            let mut got = 0;
            let deadline = Instant::now() + Duration::from_secs(30);
            while got < want {
                let line = daemon
                    .line(Duration::from_secs(10))
                    .unwrap_or_else(|| panic!("round {round}: no feedback; stderr:\n{}", daemon.stderr()));
                got += record(&mut confirmed, &line) as usize;
                assert!(Instant::now() < deadline, "round {round}: too slow");
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        }
        daemon.kill9();
        for line in daemon.drain_lines() {
            record(&mut confirmed, &line);
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.join().unwrap();
    }
    broker.up();
    let tally = drain_and_stop(&station, &up, &confirmed, Duration::from_secs(120));
    let mut row = tally.row(
        "kill -9 of stationd",
        format!(
            "{} × kill -9 ({early} during start-up), broker stopped {downs} × for {stretch} rounds",
            size.kill_rounds
        ),
        confirmed.len(),
        "journal gap-free, no quarantine".into(),
    );
    row.broken = row.broken.or_else(|| journal_intact(&station));
    vec![row]
}

/// The broker restarted (gracefully, saving its state) while a packer scans steadily.
fn broker_restarts(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let station = StationDir::with_broker(broker.port, "");
    let mut scanning = Scanning::start(&station, "B", Duration::from_millis(3));
    for _ in 0..size.broker_restarts {
        scanning.for_ms(rng.random_range(200..900));
        broker.down();
        scanning.for_ms(rng.random_range(50..600));
        broker.up();
    }
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(60));
    vec![tally.row(
        "broker restarts under stationd",
        format!("{} × broker restart (SIGTERM, 50–600 ms down) while scanning ~300/s", size.broker_restarts),
        confirmed,
        String::new(),
    )]
}

/// The station's link black-holed (nothing crosses, nothing closes) and flapping.
fn network_flapping(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let proxy = Proxy::start(broker.port);
    let station = StationDir::with_broker(proxy.port, "");
    let mut scanning = Scanning::start(&station, "N", Duration::from_millis(3));
    for flap in 0..size.flaps {
        scanning.for_ms(rng.random_range(100..1000));
        proxy.set_blackhole(true);
        // One long outage, past the keep-alive (2 s), so the station must notice by itself.
        scanning.for_ms(if flap == size.flaps / 2 { 5000 } else { rng.random_range(50..1500) });
        proxy.set_blackhole(false);
    }
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(60));
    vec![tally.row(
        "network black-holed and flapping",
        format!("{} × link black-holed 50–1500 ms (one 5 s, past keep-alive) through a TCP proxy", size.flaps),
        confirmed,
        String::new(),
    )]
}

/// Hostile and malformed cloud commands while a packer scans: nesting 30 000 deep, over the
/// size limit, not UTF-8, empty, not an object, unknown names, wrong types, too many lines,
/// control characters and ZPL commands in order fields, then a flood. Every command is
/// answered with a precise error (or, for the odd fields, accepted and escaped), the label
/// keeps its own commands only, and every scan confirmed meanwhile reaches the broker.
fn hostile_commands(size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let sim = PrinterSim::start();
    let station = StationDir::with_broker(
        broker.port,
        &format!(
            "\n[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"zpl\"\nrole = \"label\"\n",
            sim.addr
        ),
    );
    let mut scanning = Scanning::start(&station, "H", Duration::from_millis(5));
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut broken = None;

    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let too_many_lines: Vec<serde_json::Value> = (1..=1001).map(|i| json!({"line": i, "sku": "S", "qty": 1})).collect();
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("order.cancel", nested.into_bytes()),
        ("order.cancel", format!(r#"{{"request_id":"big","order":"{}"}}"#, "x".repeat(100_000)).into_bytes()),
        ("order.cancel", b"\xff\xfe\x00 not utf-8".to_vec()),
        ("order.cancel", Vec::new()),
        ("order.cancel", b"42".to_vec()),
        ("order.cancel", br#"{"no_request_id":true}"#.to_vec()),
        ("shutdown.now", br#"{"request_id":"bogus"}"#.to_vec()),
        ("order.upsert", br#"{"request_id":"types","order":{"id":5,"lines":"many"}}"#.to_vec()),
        (
            "order.upsert",
            json!({"request_id": "lines", "order": {"id": "SO-L", "lines": too_many_lines}}).to_string().into_bytes(),
        ),
        ("print", br#"{"request_id":"copies","document":"label","order":"SO-X","copies":1000}"#.to_vec()),
        ("order.cancel", json!({"request_id": "ctl\u{0}\u{1b}[2J", "order": "SO-\u{202e}"}).to_string().into_bytes()),
    ];
    let sent = hostile.len() + 1;
    for (name, payload) in &hostile {
        let r = cloud.send_raw(name, payload);
        let code = r["error"]["code"].as_str().unwrap_or("accepted").to_string();
        if r["ok"] != false || r["error"]["message"].as_str().is_none_or(str::is_empty) {
            broken = Some(format!("{name} {} bytes: no precise refusal: {r}", payload.len()));
        }
        *codes.entry(code).or_default() += 1;
        scanning.for_ms(50);
    }

    // ZPL and control characters in order fields: escaped, never commands of their own.
    let order = |id: &str, name: &str| {
        json!({"request_id": format!("u-{id}"), "order": {"id": id, "carrier": "DHL", "tracking": "JJD0000000001",
            "ship_to": {"name": name, "street": name, "city": "Berlin", "country": "DE"}, "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}})
    };
    let r = cloud.send("order.upsert", order("SO-CTL", "Name\u{7f}\u{1b}[2J\r\n^XZ"));
    if r["error"]["code"] != "invalid_field" {
        broken = Some(format!("control characters in an address were not refused: {r}"));
    }
    *codes.entry(r["error"]["code"].as_str().unwrap_or("accepted").to_string()).or_default() += 1;
    let evil = "^XZ^XA^FO0,0^FDINJECTED^FS~JR~PS Ünïcödé \u{202e}_5E";
    for (id, name) in [("SO-PLAIN", "Plain Customer"), ("SO-EVIL", evil)] {
        let r = cloud.send("order.upsert", order(id, name));
        assert_eq!(r["ok"], true, "{r}");
        let r = cloud.send("print", json!({"request_id": format!("p-{id}"), "document": "label", "order": id}));
        assert_eq!(r["ok"], true, "{r}");
    }
    let start = Instant::now();
    while sim.jobs().len() < 2 && start.elapsed() < Duration::from_secs(20) {
        scanning.for_ms(50);
    }
    let jobs = sim.jobs();
    let injected = jobs.len() != 2 || zpl_commands(&jobs[0]) != zpl_commands(&jobs[1]);
    if injected {
        broken = Some(format!(
            "a field changed the label's commands: {:?}",
            jobs.iter().map(|j| String::from_utf8_lossy(j).into_owned()).collect::<Vec<_>>()
        ));
    }

    // A flood, as a broken cloud service would send it.
    let flood = 3 * size.print_jobs * 10;
    for i in 0..flood {
        cloud.publish_only(
            "order.hold",
            json!({"request_id": format!("flood-{i}"), "order": "SO-1"}).to_string().as_bytes(),
        );
    }
    let replies = cloud.replies(flood);
    let limited = replies.iter().filter(|r| r["error"]["code"] == "rate_limited").count();
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(30));
    let mut row = tally.row(
        "hostile cloud commands",
        format!("{sent} malformed commands (30 000-deep nesting, 100 kB, not UTF-8, …), ZPL in address fields, a flood of {flood}"),
        confirmed,
        format!("replies {codes:?}; label commands unchanged by fields: {}; flood: {limited} of {flood} rate_limited", !injected),
    );
    row.broken = row.broken.or(broken);
    if limited == 0 {
        row.broken = Some("the flood was not rate limited".into());
    }
    vec![row]
}

/// Order labels printed while the printer goes silent (takes bytes, answers nothing) and
/// drops a connection mid-job, then comes back: no label is printed twice.
fn printer_silent_mid_job(size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let broker = support::Broker::start();
    let sim = PrinterSim::start();
    let station = StationDir::with_broker(
        broker.port,
        &format!(
            "\n[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"zpl\"\nrole = \"label\"\n",
            sim.addr
        ),
    );
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let n = size.print_jobs;
    let id = |i: usize| format!("SO-F{i:04}");
    for i in 0..n {
        let order = json!({"request_id": format!("u{i}"), "order": {"id": id(i), "carrier": "DHL", "tracking": format!("JJD{i:010}"),
            "ship_to": {"name": "Customer", "city": "Berlin", "country": "DE"}, "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}});
        assert_eq!(cloud.send("order.upsert", order)["ok"], true);
    }
    // A third of the jobs hit a printer that hangs mid-job (takes the first 40 bytes, then
    // answers nothing), a sixth one that drops the connection mid-job; the rest a good one.
    for i in 0..n {
        if i == n / 3 {
            sim.set_state(SimState::SilentAfter(40));
        } else if i == 2 * n / 3 {
            sim.set_state(SimState::DropAfter(40));
        } else if i == 5 * n / 6 {
            sim.set_state(SimState::Ready);
        }
        let r = cloud.send("print", json!({"request_id": format!("p{i}"), "document": "label", "order": id(i)}));
        assert_eq!(r["ok"], true, "{r}");
        // One job at a time at the printer, so each meets the state meant for it.
        let start = Instant::now();
        while sim.first_byte_times().len() <= i && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    sim.set_state(SimState::Ready);
    // Every job ends: confirmed, sent without confirmation, or failed (never silently resent).
    let outcomes = |station: &StationDir| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in station.export() {
            let k = e["kind"].as_str().unwrap_or_default();
            if ["print.confirmed", "print.sent", "print.failed", "print.expired"].contains(&k) {
                *m.entry(k.to_string()).or_default() += 1;
            }
        }
        m
    };
    let start = Instant::now();
    while outcomes(&station).values().sum::<usize>() < n && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let jobs = sim.jobs();
    let mut printed_twice = 0;
    let mut printed = 0;
    for i in 0..n {
        let copies = jobs.iter().filter(|j| String::from_utf8_lossy(j).contains(&id(i))).count();
        printed += (copies > 0) as usize;
        printed_twice += copies.saturating_sub(1);
    }
    let o = outcomes(&station);
    let ended: usize = o.values().sum();
    let confirmed = o.get("print.confirmed").copied().unwrap_or(0);
    let mut broken = None;
    if printed_twice > 0 {
        broken = Some(format!("{printed_twice} labels printed twice"));
    } else if ended != n {
        broken = Some(format!("{} of {n} jobs have no outcome", n - ended));
    } else if confirmed > printed {
        broken = Some("a job was confirmed that the printer never got".into());
    } else if confirmed == n {
        broken = Some("every job was confirmed: the printer faults did not happen".into());
    }
    drop(daemon);
    vec![Row {
        scenario: "printer silent mid-job".into(),
        faults: format!("{n} order labels; printer hanging mid-job for a third, dropping the connection mid-job for a sixth"),
        confirmed: n,
        delivered: jobs.len(),
        lost: 0,
        duplicates: printed_twice,
        notes: format!("confirmed = jobs, delivered = jobs at the printer ({printed} complete labels, the rest cut mid-job); outcomes {o:?}: unconfirmed and cut jobs are reported, never resent by themselves; no label twice"),
        broken,
    }]
}

/// A serial scanner (PTY) unplugged and plugged back under the same path, repeatedly.
fn scanner_vanishing(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Honeywell_1900-if00");
    let extra =
        format!("[[scanner]]\nname = \"gun\"\nkind = \"serial\"\npath = \"{}\"\nbaud = 115200\n", link.display());
    let station = StationDir::new("", &extra);
    let mut p = Some(pty(&link));
    let daemon = station.spawn();
    daemon.wait_started();
    let mut confirmed = BTreeMap::new();
    let mut written = 0;
    let per_plug = 40;
    for plug in 0..size.replugs {
        let p_now = p.get_or_insert_with(|| pty(&link));
        let start = Instant::now();
        while daemon.stderr().matches("scanner ready").count() < plug + 1 {
            assert!(start.elapsed() < Duration::from_secs(10), "scanner not reopened:\n{}", daemon.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
        let before = confirmed.len();
        for j in 0..per_plug {
            p_now.master.write_all(format!("S{plug}-{j}\r").as_bytes()).unwrap();
            written += 1;
        }
        let start = Instant::now();
        while confirmed.len() < before + per_plug && start.elapsed() < Duration::from_secs(10) {
            if let Some(line) = daemon.line(Duration::from_millis(100)) {
                record(&mut confirmed, &line);
            }
        }
        // Unplugged: the device and its path vanish.
        p = None;
        let _ = std::fs::remove_file(&link);
        let start = Instant::now();
        while daemon.stderr().matches("scanner offline").count() < plug + 1 {
            assert!(start.elapsed() < Duration::from_secs(10), "unplug not noticed:\n{}", daemon.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
    }
    drop(daemon);
    let stored: BTreeMap<u64, String> = station
        .export()
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["data"]["code"].as_str().unwrap_or_default().to_string()))
        .collect();
    let kept = confirmed.iter().filter(|(s, c)| stored.get(s) == Some(c)).count();
    let lost = written - kept;
    vec![Row {
        scenario: "scanner PTY vanishing".into(),
        faults: format!("{} × serial scanner unplugged and back under the same path", size.replugs),
        confirmed: confirmed.len(),
        delivered: kept,
        lost,
        duplicates: 0,
        notes: format!("{written} scans written while plugged in; delivered = in the journal"),
        broken: (lost > 0).then(|| format!("{lost} scans written while the scanner was plugged in were lost")),
    }]
}

/// A tmpfs of its own, unmounted when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_mib: u64) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(&mount)
            .output()
            .expect("run mount (util-linux)");
        assert!(
            out.status.success(),
            "the disk-full scenario needs a small filesystem of its own and could not mount one ({}). \
             Run the suite as root (CI does), or inside a user and mount namespace: \
             `unshare --user --map-root-user --mount cargo test --test faults -- disk`",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallDisk { mount, _dir: dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// The journal's own small filesystem fills up: new scans are refused with `journal_full`
/// and an alert, nothing accepted is lost, scanning resumes once space is freed.
fn disk_full(_size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let disk = SmallDisk::mount(24);
    let station = StationDir::new("", "");
    let text = std::fs::read_to_string(&station.config)
        .unwrap()
        .replace("path = \"journal\"", &format!("path = \"{}/journal\"\nmin_free = \"4MiB\"", disk.mount.display()));
    std::fs::write(&station.config, text).unwrap();
    // Other files on the disk leave 4 MiB of room above what the journal keeps free.
    let ballast = disk.mount.join("ballast");
    std::fs::write(&ballast, vec![0u8; 12 << 20]).unwrap();

    let mut daemon = station.spawn();
    daemon.wait_started();
    let mut accepted = BTreeMap::new();
    let scan = |daemon: &mut Daemon, code: &str| -> String {
        daemon.scan(code);
        daemon.expect_line()
    };
    scan(&mut daemon, "OP:0042");
    let filler = "x".repeat(200);
    let refusal = loop {
        let line = scan(&mut daemon, &format!("D-{}-{filler}", accepted.len()));
        if !record(&mut accepted, &line) {
            break line;
        }
        assert!(accepted.len() < 100_000, "the disk never filled");
    };
    let mut refused = 1;
    for i in 0..5 {
        let line = scan(&mut daemon, &format!("REFUSED-{i}"));
        assert!(line.starts_with("error journal_full: disk full"), "{line}");
        refused += 1;
    }
    let full_alert = |log: &str| log.contains("alert=\"journal_full\"");
    let alerted = full_alert(&daemon.stderr_showing(full_alert));
    // The admin sees it too (`queue status`, the screen, /metrics read the same figures).
    let q = support::queue_status(&station);
    let shown = q["disk_free"].as_u64().zip(q["min_free"].as_u64()).is_some_and(|(free, kept)| free < kept);
    std::fs::remove_file(&ballast).unwrap();
    let mut resumed = 0;
    for i in 0..20 {
        let line = scan(&mut daemon, &format!("AFTER-{i}"));
        resumed += record(&mut accepted, &line) as usize;
    }
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let stored: BTreeMap<u64, String> = station
        .export()
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["data"]["code"].as_str().unwrap_or_default().to_string()))
        .collect();
    let kept = accepted.iter().filter(|(s, c)| stored.get(s) == Some(c)).count();
    let lost = accepted.len() - kept;
    let mut broken = None;
    if !refusal.starts_with("error journal_full: disk full") {
        broken = Some(format!("the first refusal was {refusal:?}"));
    } else if !alerted {
        broken = Some("no journal_full alert in the log".into());
    } else if !shown {
        broken = Some(format!("queue status does not show the disk full: {q}"));
    } else if lost > 0 {
        broken = Some(format!("{lost} accepted scans lost"));
    } else if resumed < 20 {
        broken = Some(format!("only {resumed} of 20 scans accepted after space was freed"));
    } else if let Some(why) = journal_intact(&station) {
        broken = Some(why);
    }
    vec![Row {
        scenario: "disk full (24 MiB tmpfs)".into(),
        faults: "journal on its own small filesystem filled up, then 12 MiB freed".into(),
        confirmed: accepted.len(),
        delivered: kept,
        lost,
        duplicates: 0,
        notes: format!("{refused} scans refused with journal_full + alert, {resumed}/20 accepted after freeing; delivered = in the journal after a restart"),
        broken,
    }]
}

/// The journal's 16 MiB filesystem fills with events the broker cannot take; then the broker
/// is back. Every confirmed scan must be delivered and new scans accepted again, with no file
/// deleted and no restart: delivered events are trimmed early (sled reuses their room inside
/// its file, which statvfs does not see), said in an alert and a `journal.trimmed` event.
fn disk_space_comes_back(_size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    // Scans after delivery: ~4 MB of events, more than the filesystem has free, so sled must
    // reuse the room of the trimmed ones.
    const AFTER: usize = 10_000;
    let disk = SmallDisk::mount(16);
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    broker.down();
    let station = StationDir::with_broker(broker.port, "");
    let text = std::fs::read_to_string(&station.config)
        .unwrap()
        .replace("path = \"journal\"", &format!("path = \"{}/journal\"\nmin_free = \"4MiB\"", disk.mount.display()));
    std::fs::write(&station.config, text).unwrap();
    let mut daemon = station.spawn();
    daemon.wait_started();
    let mut confirmed = BTreeMap::new();
    let scan = |daemon: &mut Daemon, code: &str| -> String {
        daemon.scan(code);
        daemon.expect_line()
    };
    let filler = "x".repeat(200);
    let refusal = loop {
        let line = scan(&mut daemon, &format!("F-{}-{filler}", confirmed.len()));
        if !record(&mut confirmed, &line) {
            break line;
        }
        assert!(confirmed.len() < 200_000, "the disk never filled");
    };
    let filled = confirmed.len();
    let files_before = files_under(&station.journal());
    broker.up();
    let tally = up.settle(&confirmed, Duration::from_secs(120));
    // Delivered: the room comes back without a restart; scanning resumes within seconds.
    let resumed_at = Instant::now();
    let mut first_ok = None;
    let mut resumed = 0;
    for i in 0..AFTER + 1000 {
        let line = scan(&mut daemon, &format!("AFTER-{i}-{filler}"));
        if record(&mut confirmed, &line) {
            first_ok.get_or_insert(resumed_at.elapsed());
            resumed += 1;
        } else if first_ok.is_some() {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(25));
        }
        if resumed >= AFTER {
            break;
        }
    }
    let tally_after = up.settle(&confirmed, Duration::from_secs(30));

    let early = |log: &str| log.contains("alert=\"journal_trimmed_early\"");
    let alerted = early(&daemon.stderr_showing(early));
    let announced = up.seen.lock().unwrap().by_body.keys().any(|b| b.contains("\"kind\":\"journal.trimmed\""));
    let restarted = daemon.child.try_wait().ok().flatten().is_some();
    let files_after = files_under(&station.journal());
    let deleted: Vec<&String> = files_before.iter().filter(|f| !files_after.contains(f)).collect();
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let mut row = tally_after.row(
        "disk fills while the broker is away (16 MiB tmpfs)",
        "broker down until the journal's disk is full (min_free 4 MiB), then up".into(),
        confirmed.len(),
        format!(
            "{filled} scans until refused, all delivered ({} lost before resuming); scanning resumed {} after delivery, {resumed} accepted after; early trim alert {alerted}, journal.trimmed event {announced}",
            tally.lost,
            first_ok.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        ),
    );
    if row.broken.is_none() {
        row.broken = if !refusal.starts_with("error journal_full: disk full") {
            Some(format!("the first refusal was {refusal:?}"))
        } else if tally.lost > 0 {
            Some(format!("{} confirmed scans not delivered after the broker came back", tally.lost))
        } else if resumed < AFTER {
            Some(format!("only {resumed} of {AFTER} scans accepted after the backlog was delivered"))
        } else if !alerted || !announced {
            Some(format!("early trimming not announced (alert {alerted}, event {announced})"))
        } else if restarted {
            Some("the daemon restarted".into())
        } else if !deleted.is_empty() {
            Some(format!("files were deleted: {deleted:?}"))
        } else {
            None
        };
    }
    vec![row]
}

/// Every file under `dir` (relative paths), except sled's snapshots, which sled replaces.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                if !rel.contains("snap.") && !rel.ends_with(".tmp") && rel != "control.sock" {
                    out.push(rel);
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Side by side: the usual edge store-and-forward, a local Mosquitto with `persistence true`
// bridging to the cloud broker. A producer publishes QoS 1 to the local broker; its PubAck
// is the confirmation. The same rounds as stationd: kill -9 of the edge process at random
// points, and cloud broker restarts.

fn bridge_side_by_side(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let rounds = size.kill_rounds;
    let per_round = size.kill_scans / rounds;
    let mut rows = Vec::new();

    // kill -9 rounds, the cloud broker stopped for the same stretches as for stationd.
    let (mut cloud, up, edge_conf) = bridge_pair();
    let mut confirmed = BTreeMap::new();
    let mut edge = Some(mosquitto(&edge_conf.0, edge_conf.1));
    let stretch = (rounds / 5).max(2);
    let mut downs = 0;
    for round in 0..rounds {
        downs += cloud.flip_every(round, stretch) as usize;
        let want = rng.random_range(1..2 * per_round);
        publish_confirmed(edge_conf.1, round, want, &mut confirmed);
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        // kill -9 the edge broker, then its service manager starts it again.
        drop(edge.take());
        edge = Some(mosquitto(&edge_conf.0, edge_conf.1));
    }
    cloud.up();
    let tally = up.settle(&confirmed, Duration::from_secs(15));
    drop(edge);
    drop(cloud);
    rows.push(bridge_row(
        tally,
        format!("{rounds} × kill -9 of the edge broker, cloud broker stopped {downs} × for {stretch} rounds"),
        confirmed.len(),
        "kill -9",
    ));

    // Cloud broker restarts.
    let (mut cloud, up, edge_conf) = bridge_pair();
    let edge = mosquitto(&edge_conf.0, edge_conf.1);
    let mut confirmed = BTreeMap::new();
    for round in 0..size.broker_restarts {
        publish_confirmed(edge_conf.1, round, per_round, &mut confirmed);
        cloud.down();
        publish_confirmed(edge_conf.1, 1000 + round, per_round / 2, &mut confirmed);
        std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
        cloud.up();
    }
    let tally = up.settle(&confirmed, Duration::from_secs(20));
    drop(edge);
    rows.push(bridge_row(
        tally,
        format!("{} × cloud broker restart (SIGTERM)", size.broker_restarts),
        confirmed.len(),
        "broker restarts",
    ));
    rows
}

fn bridge_row(t: Tally, faults: String, confirmed: usize, what: &str) -> Row {
    Row {
        scenario: format!("mosquitto bridge, {what}"),
        faults,
        confirmed,
        delivered: t.delivered,
        lost: t.lost,
        duplicates: t.duplicates,
        notes: "the alternative: local Mosquitto, `persistence true`, bridged QoS 1; losses reported, not failed"
            .into(),
        broken: None,
    }
}

/// A cloud broker with a persistent subscriber, and the edge broker's config (path, port).
fn bridge_pair() -> (PersistentBroker, Upstream, (PathBuf, u16)) {
    let cloud = PersistentBroker::start("");
    let up = Upstream::connect(cloud.port, "edge/#");
    let dir = cloud._dir.path().join("edge");
    std::fs::create_dir_all(&dir).unwrap();
    writable_by_all(&dir);
    let edge_port = support::free_port();
    let conf = dir.join("edge.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {edge_port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
             max_queued_messages 1000000\n\
             connection cloud\naddress 127.0.0.1:{}\ntopic edge/# out 1\ncleansession false\nclientid edge-bridge\n\
             restart_timeout 1\n",
            dir.display(),
            cloud.port
        ),
    )
    .unwrap();
    (cloud, up, (conf, edge_port))
}

/// A child process killed when dropped (`Child` itself is not).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto(conf: &Path, port: u16) -> KillOnDrop {
    KillOnDrop(support::spawn_mosquitto(conf, port))
}

/// Publishes `n` QoS 1 messages to the edge broker; records those it acknowledged, keyed
/// like stationd's seqs so the same tally applies (`data.code` = the message).
fn publish_confirmed(port: u16, round: usize, n: usize, confirmed: &mut BTreeMap<u64, String>) {
    let mut o = rumqttc::MqttOptions::new(format!("producer-{round}"), "127.0.0.1", port);
    o.set_inflight(100);
    let (client, mut conn) = rumqttc::Client::new(o, 200);
    let base = (round as u64 + 1) * 1_000_000;
    std::thread::spawn(move || {
        for i in 0..n as u64 {
            let body =
                json!({"seq": base + i, "id": format!("m-{}", base + i), "data": {"code": format!("m-{}", base + i)}});
            if client.publish("edge/events", rumqttc::QoS::AtLeastOnce, false, body.to_string()).is_err() {
                break;
            }
        }
    });
    let mut in_flight = HashMap::new();
    let mut next = base;
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                in_flight.insert(pkid, next);
                next += 1;
            }
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(a))) => {
                if let Some(seq) = in_flight.remove(&a.pkid) {
                    confirmed.insert(seq, format!("m-{seq}"));
                    acked += 1;
                }
                if acked >= n {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
