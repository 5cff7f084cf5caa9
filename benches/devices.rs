//! Device benchmark: `cargo bench --bench devices` (`-- --quick` for fewer samples).
//!
//! - render the built-in shipping label to ZPL (layout for the printer's resolution, text
//!   fitted, values escaped) vs a naive `str::replace` fill of the example template (no
//!   escaping, no layout) — medians;
//! - 100 labels queued → all confirmed by the TCP printer simulator, vs writing the same 100
//!   jobs over bare TCP connections without status checks or persistence;
//! - scan bytes written to a PTY → frame delivered on the scanner channel, vs a bare
//!   PTY write → read round trip.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use stationd_drivers::scanner::{ScannerEvent, ScannerLink, ScannerSpec};
use stationd_drivers::sim::PrinterSim;
use stationd_drivers::zpl::DEFAULT_LABEL;

mod common;
use common::{median, pct, record};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 200 } else { 2000 };
    println!("# devices benchmark (medians; {samples} samples where sampled)");
    println!();
    render(samples);
    labels();
    pty_latency(samples.min(1000));
}

fn values() -> HashMap<&'static str, String> {
    let mut v = HashMap::new();
    for (k, val) in [
        ("order.id", "SO-1001"),
        ("carrier", "DHL"),
        ("service", "parcel"),
        ("tracking", "JJD0001234567"),
        ("sscc", "001234567890000012"),
        ("ship_to.name", "Example Customer ^ with ~ odd _ chars and Ümlauts"),
        ("ship_to.street", "Hauptstr. 5"),
        ("ship_to.postcode", "10115"),
        ("ship_to.city", "Berlin"),
        ("ship_to.country", "DE"),
    ] {
        v.insert(k, val.to_string());
    }
    v
}

/// The bench order as the built-in label's data.
fn label_data() -> stationd_drivers::label::LabelData {
    let v = values();
    let text = |k: &str| v[k].clone();
    stationd_drivers::label::LabelData {
        order: text("order.id"),
        carrier: text("carrier"),
        service: text("service"),
        name: text("ship_to.name"),
        street: text("ship_to.street"),
        postcode: text("ship_to.postcode"),
        city: text("ship_to.city"),
        country: text("ship_to.country"),
        tracking: text("tracking"),
        sscc: text("sscc"),
    }
}

fn render(samples: usize) {
    let v = values();
    let data = label_data();
    let spec = stationd_drivers::label::LabelSpec::default();
    let mut ours = Vec::with_capacity(samples);
    let mut naive = Vec::with_capacity(samples);
    for _ in 0..samples {
        let s = Instant::now();
        let out = stationd_drivers::label::render(&spec, &data).expect("the bench order makes a valid label");
        ours.push(s.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(out);
        let s = Instant::now();
        let mut text = DEFAULT_LABEL.to_string();
        for (k, val) in &v {
            text = text.replace(&format!("{{{{{k}}}}}"), val);
        }
        naive.push(s.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(text);
    }
    let (o, n) = (median(ours), median(naive));
    println!("render shipping label (ZPL, escaped)            {o:>8.2} µs   baseline naive replace {n:>8.2} µs   {:.2}×   (target ≤ 100 µs)", o / n);
    let base = Some(("naive `str::replace` fill, no escaping", n));
    record("devices", "render the built-in shipping label to ZPL (escaped)", o, "µs", "lower", base, Some("<= 100"));
}

fn labels() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sim = PrinterSim::start();
    let job = stationd_drivers::label::render(&Default::default(), &label_data()).unwrap().zpl;

    // Baseline: 100 jobs over bare TCP, no status, no persistence.
    let start = Instant::now();
    for _ in 0..100 {
        let mut s = std::net::TcpStream::connect(sim.addr).unwrap();
        s.write_all(&job).unwrap();
    }
    while sim.jobs().len() < 100 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let bare = start.elapsed();

    // stationd: persisted queue, status before and after each job, journal events.
    let dir = std::env::temp_dir().join(format!("stationd-bench-labels-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (journal, _) =
        stationd::journal::Journal::open(stationd::journal::JournalOptions::new(&dir, "WH1", "BENCH")).unwrap();
    let spec = stationd_drivers::printer::PrinterSpec {
        name: "label".into(),
        link: stationd_drivers::printer::PrinterLink::Tcp { address: sim.addr.to_string() },
        language: stationd_drivers::printer::Language::Zpl,
        status_timeout: Duration::from_secs(2),
    };
    let printer = stationd::print::ConfiguredPrinter {
        spec,
        document: stationd::station::Document::Label,
        template: None,
        label: stationd_drivers::label::LabelSpec::default(),
        slip: stationd_drivers::slip::SlipSpec::default(),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let took = rt.block_on(async {
        let printing = stationd::print::Printing::start(
            journal.clone(),
            vec![printer],
            None,
            "WH1/BENCH".into(),
            None,
            stop.clone(),
        )
        .unwrap();
        let start = Instant::now();
        for _ in 0..100 {
            printing
                .submit_prepared(stationd::print::PreparedJob {
                    printer: "label".into(),
                    document: stationd::print::Printout::Order(stationd::station::Document::Label),
                    order: None,
                    bytes: job.clone(),
                    missing_glyphs: Vec::new(),
                })
                .await
                .unwrap();
        }
        loop {
            let done =
                printing.store().all().iter().filter(|j| j.state == stationd::print::JobState::Confirmed).count();
            if done == 100 {
                break start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    stop.cancel();
    println!(
        "100 labels queued → confirmed at the simulator  {:>8.0} ms   baseline bare TCP writes {:>8.0} ms   {:.1}×   (target < 1000 ms)",
        took.as_secs_f64() * 1e3,
        bare.as_secs_f64() * 1e3,
        took.as_secs_f64() / bare.as_secs_f64()
    );
    let base = Some(("100 bare TCP writes, no status, no persistence", bare.as_secs_f64() * 1e3));
    let name = "100 labels queued → all confirmed by the TCP simulator";
    record("devices", name, took.as_secs_f64() * 1e3, "ms", "lower", base, Some("< 1000"));
    journal.close();
    let _ = std::fs::remove_dir_all(&dir);
}

fn openpty() -> (std::fs::File, std::fs::File, String) {
    let p = stationd_testkit::open_pty(true);
    (p.master, p.slave, p.name)
}

fn pty_latency(samples: usize) {
    // Baseline: write to the master, blocking read on the slave.
    let (mut master, mut slave, _) = openpty();
    let mut bare = Vec::with_capacity(samples);
    let mut buf = [0u8; 64];
    for _ in 0..samples {
        let s = Instant::now();
        master.write_all(b"4006381333931\r").unwrap();
        let mut got = 0;
        while got < 14 {
            got += slave.read(&mut buf[got..]).unwrap();
        }
        bare.push(s.elapsed().as_secs_f64() * 1e3);
    }
    drop((master, slave));

    let (mut master, _slave, name) = openpty();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = tokio_util::sync::CancellationToken::new();
    let spec = ScannerSpec {
        name: "gun".into(),
        link: ScannerLink::Serial { path: name.into(), baud: 115_200, parity: Default::default() },
        max_len: 512,
        inter_key_timeout: None,
    };
    rt.spawn(stationd_drivers::scanner::run(spec, tx, cancel.clone()));
    let lat = rt.block_on(async {
        loop {
            if let Some(ScannerEvent::State { ready: true, .. }) = rx.recv().await {
                break;
            }
        }
        let mut lat = Vec::with_capacity(samples);
        for _ in 0..samples {
            let s = Instant::now();
            master.write_all(b"4006381333931\r").unwrap();
            loop {
                if let Some(ScannerEvent::Frame(Ok(code))) = rx.recv().await {
                    let classified = stationd_drivers::barcode::classify(&code);
                    std::hint::black_box(classified.ok());
                    break;
                }
            }
            lat.push(s.elapsed().as_secs_f64() * 1e3);
        }
        lat
    });
    cancel.cancel();
    let (p50, p99, b50, b99) = (pct(&lat, 0.5), pct(&lat, 0.99), pct(&bare, 0.5), pct(&bare, 0.99));
    println!(
        "PTY bytes → classified scan on the channel     p50 {p50:>6.3} ms  p99 {p99:>6.3} ms   baseline bare PTY p50 {b50:>6.3} ms  p99 {b99:>6.3} ms   (target p99 < 2 ms)",
    );
    let name = "PTY bytes → classified scan on the scanner channel";
    record("devices", &format!("{name}, p50"), p50, "ms", "lower", Some(("bare PTY write → read p50", b50)), None);
    record(
        "devices",
        &format!("{name}, p99"),
        p99,
        "ms",
        "lower",
        Some(("bare PTY write → read p99", b99)),
        Some("< 2"),
    );
}
