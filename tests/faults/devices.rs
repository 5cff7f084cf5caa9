//! Devices going away: a printer silent mid-job, a serial scanner unplugged and back.

use super::*;

/// Order labels printed while the printer goes silent (takes bytes, answers nothing) and
/// drops a connection mid-job, then comes back: no label is printed twice.
pub(super) fn printer_silent_mid_job(size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let broker = support::Broker::start();
    let sim = PrinterSim::start();
    let station = StationDir::with_label_printer(broker.port, &sim.addr.to_string());
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let n = size.print_jobs;
    let id = |i: usize| format!("SO-F{i:04}");
    for i in 0..n {
        let order = json!({"request_id": format!("u{i}"), "order": {"id": id(i), "carrier": "DHL", "tracking": format!("JJD{i:010}"),
            "ship_to": {"name": "Customer", "city": "Berlin", "country": "DE"}, "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}});
        assert_eq!(cloud.send("order-upsert", order)["ok"], true);
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
pub(super) fn scanner_vanishing(size: &Size, rng: &mut StdRng) -> Vec<Row> {
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
