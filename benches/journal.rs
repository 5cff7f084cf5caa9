//! Journal benchmark: `cargo bench --bench journal` (add `-- --quick` for a short run).
//!
//! Everything is measured in one run on the same disk and printed beside its baseline:
//! a raw loop of 200-byte `write` + `fdatasync` (the physical limit of durable single
//! writes here). Throughput and latency figures are medians of several repetitions.
//! Set `STATIOND_BENCH_DIR` to measure another disk (default: `target/bench-tmp`).
//!
//! Phases that need a clean memory figure (open with 1 M pending, ack 1 M) run in a child
//! process: this same binary re-executed with `--phase`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stationd::event::{Event, NewEvent, Scan, ScanClass, Scanned};
use stationd::journal::{dir_size, Journal, JournalOptions};

mod common;
use common::{median, record};

const WAREHOUSE: &str = "WH1";
const STATION: &str = "BENCH-01";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        let phase = args[i + 1].as_str();
        let dir = PathBuf::from(&args[i + 2]);
        match phase {
            "ack" => phase_ack(&dir),
            "open" => phase_open(&dir),
            _ => panic!("unknown phase {phase}"),
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let base = std::env::var_os("STATIOND_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-tmp"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("bench dir");
    let reps = if quick { 1 } else { 3 };
    let big = if quick { 100_000 } else { 1_000_000 };

    println!("# journal benchmark ({} repetitions, medians)", reps);
    println!("machine: {}", common::machine());
    println!("disk: {}", base.display());
    println!();

    // Baseline: raw durable single writes (and the bytes each one costs the disk).
    let mut raw_bytes = Vec::new();
    let raw: Vec<Lat> = (0..reps)
        .map(|_| {
            let written_before = common::io_write_bytes("self");
            let (rate, lats) = common::raw_fdatasync(&base, Duration::from_secs(2));
            raw_bytes.push((common::io_write_bytes("self") - written_before) as f64 / lats.len() as f64);
            let (p50, p99) = common::percentiles_us(&lats);
            Lat { rate, p50, p99 }
        })
        .collect();
    let raw_bpw = median(raw_bytes);
    let raw_rate = median(raw.iter().map(|l| l.rate).collect());
    let raw_p50 = median(raw.iter().map(|l| l.p50).collect());
    let raw_p99 = median(raw.iter().map(|l| l.p99).collect());
    println!(
        "baseline  raw write(200 B)+fdatasync      {:>10.0} /s   p50 {:>7.1} µs   p99 {:>7.1} µs",
        raw_rate, raw_p50, raw_p99
    );
    println!("baseline  raw write(200 B)+fdatasync      {raw_bpw:>10.0} B written to disk per write");
    println!();

    // Durable appends with 1, 8 and 64 concurrent producers.
    println!("{:<44} {:>12} {:>10} {:>12}", "durable appends", "events/s", "× raw", "disk B/event");
    let mut single = Vec::new();
    for producers in [1usize, 8, 64] {
        let mut rates = Vec::new();
        let mut bpe = Vec::new();
        for r in 0..reps {
            let dir = base.join(format!("p{producers}-{r}"));
            let (j, _) = Journal::open(opts(&dir)).expect("open");
            let per = if producers == 1 { 4000 } else { 200_000 / producers };
            let written_before = common::io_write_bytes("self");
            let (rate, lats) = run_producers(&j, producers, per);
            let written = common::io_write_bytes("self") - written_before;
            bpe.push(written as f64 / (producers * per) as f64);
            rates.push(rate);
            if producers == 1 {
                single.push(common::percentiles_us(&lats));
            }
            j.close();
            let _ = std::fs::remove_dir_all(&dir);
        }
        let rate = median(rates);
        let bpe = median(bpe);
        println!("{:<44} {:>12.0} {:>9.1}× {:>12.0}", format!("  {producers} producer(s)"), rate, rate / raw_rate, bpe);
        let target = (producers == 64).then_some(">= 50000");
        let raw = Some(("raw 200 B write + fdatasync, writes/s", raw_rate));
        record(
            "journal",
            &format!("durable appends/s, {producers} producer(s)"),
            rate,
            "events/s",
            "higher",
            raw,
            target,
        );
        // A single producer is one scan at a time: each append pays a sync, like a raw write.
        let (bpe_base, bpe_target) = match producers {
            1 => (Some(("raw 200 B write + fdatasync, B per write", raw_bpw)), Some("ratio <= 1.5")),
            64 => (None, Some("<= 2048")),
            _ => (None, None),
        };
        let name = format!("disk bytes written per event, {producers} producer(s)");
        record("journal", &name, bpe, "B", "lower", bpe_base, bpe_target);
    }
    let p50 = median(single.iter().map(|l| l.0).collect());
    let p99 = median(single.iter().map(|l| l.1).collect());
    println!();
    println!(
        "single-producer append latency            p50 {:>7.1} µs ({:.2}× raw)   p99 {:>7.1} µs ({:.2}× raw)",
        p50,
        p50 / raw_p50,
        p99,
        p99 / raw_p99
    );
    println!();
    let (b50, b99) = (Some(("raw write + fdatasync p50", raw_p50)), Some(("raw write + fdatasync p99", raw_p99)));
    record("journal", "single-producer append p50", p50, "µs", "lower", b50, None);
    record("journal", "single-producer append p99", p99, "µs", "lower", b99, Some("ratio <= 1.5"));

    // Scale: 1 M events.
    big_journal(&base, big);
    let _ = std::fs::remove_dir_all(&base);
}

fn opts(dir: &Path) -> JournalOptions {
    let mut o = JournalOptions::new(dir, WAREHOUSE, STATION);
    o.max_bytes = 4 << 30;
    o
}

/// A scan event of realistic size (~250 B envelope).
fn scan(i: usize) -> NewEvent {
    let scan = Scan::new("pack-gun", format!("40063813{i:05}"), ScanClass::Product);
    NewEvent::new(Event::OrderLookup(Scanned { scan, clock: None }))
}

struct Lat {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// Runs `producers` tasks appending `per` events each; returns events/s and latencies.
fn run_producers(j: &Journal, producers: usize, per: usize) -> (f64, Vec<Duration>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for p in 0..producers {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                let mut lats = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    j.append(scan(p * per + i)).await.expect("append");
                    lats.push(t.elapsed());
                }
                lats
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        ((producers * per) as f64 / start.elapsed().as_secs_f64(), all)
    })
}

fn big_journal(base: &Path, n: usize) {
    let dir = base.join("big");
    println!("## {n} events");
    let (j, _) = Journal::open(opts(&dir)).expect("open");
    let producers = 64;
    let t = Instant::now();
    let (rate, _) = run_producers(&j, producers, n / producers);
    println!(
        "append {n} (64 producers)                 {:>8.1} s   {:>10.0} events/s",
        t.elapsed().as_secs_f64(),
        rate
    );
    let logical = j.status().unwrap().stored_bytes;
    j.close();
    let disk = dir_size(&dir);
    println!(
        "disk after append                         {:>8.1} MB   (stored event bytes {:.1} MB)",
        mb(disk),
        mb(logical)
    );
    record("journal", &format!("append {n} events, 64 producers"), rate, "events/s", "higher", None, None);
    let stored = Some(("stored event bytes, MB", mb(logical)));
    record("journal", &format!("disk after {n} events"), mb(disk), "MB", "lower", stored, None);

    // Start-up with the backlog, in fresh processes: the library open, and the binary.
    let me = std::env::current_exe().unwrap();
    let (took, rss) = child(&[me.to_str().unwrap(), "--phase", "open", dir.to_str().unwrap()]);
    println!("start-up with {n} pending (open+status)  {:>8.3} s   peak RSS {:>6.1} MB", took, rss);
    record("journal", &format!("open + status with {n} pending"), took, "s", "lower", None, Some("<= 1"));
    record("journal", &format!("peak RSS of open + status with {n} pending"), rss, "MB", "lower", None, Some("<= 64"));
    let config = write_config(base, &dir);
    let t = Instant::now();
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_stationd"))
        .args(["queue", "status", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let took = t.elapsed().as_secs_f64();
    println!("`stationd queue status` wall time         {:>8.3} s", took);
    record("journal", &format!("`stationd queue status` with {n} pending"), took, "s", "lower", None, None);

    // Ack everything in a fresh process, then trim.
    let (took, rss) = child(&[me.to_str().unwrap(), "--phase", "ack", dir.to_str().unwrap()]);
    println!("ack {n} + trim (child process)          {:>8.1} s   peak RSS {:>6.1} MB", took, rss);
    record("journal", &format!("ack + trim {n} (pages of 1000)"), took, "s", "lower", None, None);
    record("journal", &format!("peak RSS of ack + trim {n}"), rss, "MB", "lower", None, None);
    let after = mb(dir_size(&dir));
    println!("disk after ack + trim                     {:>8.1} MB", after);
    let (j, _) = Journal::open(opts(&dir)).expect("reopen");
    j.close();
    let reopened = mb(dir_size(&dir));
    println!("disk after reopen                         {:>8.1} MB", reopened);
    record("journal", &format!("disk after ack + trim of {n}"), after, "MB", "lower", None, None);
    record("journal", &format!("disk after ack + trim of {n}, reopened"), reopened, "MB", "lower", None, None);
}

/// Child phase: what the daemon does at start-up, timed, then the process's peak RSS.
fn phase_open(dir: &Path) {
    let t = Instant::now();
    let (j, _) = Journal::open(opts(dir)).expect("open");
    let st = j.status().unwrap();
    let took = t.elapsed();
    assert!(st.pending > 0);
    j.close();
    report_child(took);
}

/// A child's result line: seconds and peak RSS (VmHWM: exact for this process, unlike
/// rusage of a forked child, which counts the parent's pages before exec).
fn report_child(took: Duration) {
    println!("{} {}", took.as_secs_f64(), vm_hwm_mb());
}

fn vm_hwm_mb() -> f64 {
    common::status_mb("self", "VmHWM")
}

/// Child phase: ack every pending event in pages, then trim with zero retention.
fn phase_ack(dir: &Path) {
    let mut o = opts(dir);
    o.retain_acked = Duration::ZERO;
    let (j, _) = Journal::open(o).expect("open");
    let t = Instant::now();
    loop {
        let page = j.pending(0, 1000).unwrap();
        if page.is_empty() {
            break;
        }
        j.ack_blocking(page.iter().map(|r| r.seq).collect()).unwrap();
    }
    let acked = t.elapsed();
    eprintln!("  (peak RSS after ack: {:.1} MB)", vm_hwm_mb());
    while j.status().unwrap().retained_from < j.durable_next() {
        j.trim_blocking().unwrap();
    }
    eprintln!("  (ack {:.1} s, trim {:.1} s)", acked.as_secs_f64(), (t.elapsed() - acked).as_secs_f64());
    let took = t.elapsed();
    j.close();
    report_child(took);
}

fn write_config(base: &Path, journal: &Path) -> PathBuf {
    let p = base.join("bench.toml");
    let text = format!(
        "[station]\nwarehouse = \"{WAREHOUSE}\"\nid = \"{STATION}\"\nrole = \"pack\"\n[journal]\npath = \"{}\"\nmax_bytes = \"4GiB\"\n",
        journal.display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs a bench phase in a child; returns its (seconds, peak RSS MB) result line.
fn child(argv: &[&str]) -> (f64, f64) {
    let out = std::process::Command::new(argv[0]).args(&argv[1..]).output().unwrap();
    assert!(out.status.success(), "{argv:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    (it.next().unwrap_or(f64::NAN), it.next().unwrap_or(f64::NAN))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
