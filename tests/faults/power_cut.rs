//! Scenario: real power cuts. A QEMU guest boots Debian's stock kernel with the journal on a
//! virtio-blk ext4 disk (tests/hil: `build.sh` makes the guest, `init` runs in it); killing
//! QEMU is a power cut for the guest: what it had not fsynced is gone, ext4 replays its own
//! journal at the next boot. The station scans steadily, publishes to this host's broker
//! (through QEMU's `guestfwd`, the guest network restricted to it) and trims acked events
//! after a second, so cuts land while scanning, acking and trimming; the first cut lands
//! during the first start on an empty disk.
//!
//! Promises: every scan confirmed on the guest's console reaches the cloud subscriber with the
//! same seq and code; at every boot the journal opens without quarantine, without sled's
//! `empty/corrupt configuration file found` (its `conf` is synced at open) and its seqs are
//! gap-free; duplicates are same-id resends.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::support::{self, guest::Guest};
use super::{record, PersistentBroker, Row, Size, Upstream};

const HIL_PREFIX: &str = "wh/WH1/st/HIL-1";

/// What a boot showed of the journal the previous cut left.
struct Opened {
    seqs: Vec<u64>,
    problem: Option<String>,
}

/// Reads the console up to `HIL-RUN`, checking the journal export printed before it.
fn read_export(console: &mpsc::Receiver<String>, round: usize) -> Opened {
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut seqs, mut problem, mut inside) = (Vec::new(), None, false);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = console.recv_timeout(left).unwrap_or_else(|e| {
            let why = match e {
                mpsc::RecvTimeoutError::Timeout => "no HIL-RUN within 180 s",
                mpsc::RecvTimeoutError::Disconnected => "QEMU ended before HIL-RUN",
            };
            let tail = seen[seen.len().saturating_sub(40)..].join("\n");
            panic!("round {round}: the guest never started scanning ({why}); its console ended with:\n{tail}")
        });
        seen.push(line.clone());
        if inside && line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["kind"] == "journal.recovered" {
                problem.get_or_insert(format!("round {round}: the journal was quarantined: {line}"));
            }
            seqs.extend(v["seq"].as_u64());
            continue;
        }
        // Markers are matched within the line: the firmware's screen clearing shares a
        // console line with the first one.
        if line.contains("HIL-EXPORT-BEGIN") {
            inside = true;
        } else if line.contains("HIL-EXPORT-END") {
            inside = false;
        } else if line.contains("HIL-RUN") {
            break;
        } else if ["HIL-ERROR", "HIL-QUARANTINE", "HIL-EXPORT-FAILED", "HIL-CONF-DAMAGED"]
            .iter()
            .any(|m| line.contains(m))
        {
            problem.get_or_insert(format!("round {round}: {line}"));
        }
    }
    if seqs.windows(2).any(|w| w[1] != w[0] + 1) {
        problem.get_or_insert(format!("round {round}: the journal's seqs are not gap-free"));
    }
    Opened { seqs, problem }
}

pub fn power_cuts(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{HIL_PREFIX}/events"));
    support::require_tool("socat", "apt-get install -y socat");
    let guest = Guest::build().with_disk(256);
    // The guest's network is restricted to one forward: its broker address to ours.
    let net = [
        "-netdev".to_string(),
        format!("user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-cmd:socat - TCP:127.0.0.1:{}", broker.port),
        "-device".to_string(),
        "virtio-net-pci,netdev=n0,romfile=".to_string(),
    ];
    let mut confirmed = BTreeMap::new();
    let (mut problems, mut in_first_start, mut in_start_up, mut events_seen) = (Vec::new(), 0, 0, 0);
    let started = Instant::now();
    for round in 0..=size.power_cuts {
        let mut booted = guest.boot(&format!("hil.round={round}"), &net);
        let console = &booted.console;
        let last = round == size.power_cuts;
        if round == 0 {
            // The first start on an empty disk: cut at a random moment of it, at the latest
            // when the first scan is confirmed (the start is over then).
            problems.extend(read_export(console, round).problem);
            in_first_start += 1;
            let until = Instant::now() + Duration::from_millis(rng.random_range(0..1500));
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if console.recv_timeout(left).is_ok_and(|line| record(&mut confirmed, &line)) {
                    break;
                }
            }
        } else {
            let opened = read_export(console, round);
            events_seen = events_seen.max(opened.seqs.len());
            problems.extend(opened.problem);
            // A random moment: one cut in five during start-up, the others while scanning,
            // acking and trimming (the last round drains instead).
            let mut run_for = Duration::from_millis(rng.random_range(100..2500));
            if !last && rng.random_range(0..5) == 0 {
                in_start_up += 1;
                run_for = Duration::from_millis(rng.random_range(0..800));
            } else {
                let first = console.recv_timeout(Duration::from_secs(120)).unwrap_or_default();
                record(&mut confirmed, &first);
            }
            if last {
                run_for = Duration::from_secs(120);
            }
            let until = Instant::now() + run_for;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if let Ok(line) = console.recv_timeout(left.min(Duration::from_millis(200))) {
                    record(&mut confirmed, &line);
                }
                if last && up.tally(&confirmed).lost == 0 {
                    break;
                }
            }
        }
        // The power cut.
        let _ = booted.qemu.kill();
        let _ = booted.qemu.wait();
        while let Ok(line) = booted.console.try_recv() {
            record(&mut confirmed, &line);
        }
    }
    // The last cut, like any, can land between a scan's confirmation and its publish: that scan
    // is on the guest's disk, not lost, and a station that starts again sends it. One more start
    // shows the journal the last cut left and delivers; its own scans are not counted.
    let booted = guest.boot(&format!("hil.round={}", size.power_cuts + 1), &net);
    let opened = read_export(&booted.console, size.power_cuts + 1);
    events_seen = events_seen.max(opened.seqs.len());
    problems.extend(opened.problem);
    let tally = up.settle(&confirmed, Duration::from_secs(120));
    drop(booted);
    let mut row = tally.row(
        "power cut (QEMU, stock kernel, ext4)",
        format!(
            "{} × QEMU killed ({in_first_start} during the first start on an empty disk, {in_start_up} during a start) while scanning ~50/s, acking and trimming; one more start delivers what the last cut left",
            size.power_cuts
        ),
        confirmed.len(),
        format!(
            "journal on a virtio-blk ext4 disk, Debian's stock kernel under TCG; every boot: no quarantine, seqs gap-free \
             (up to {events_seen} events kept); {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
    if let Some(p) = problems.first() {
        row.broken = row.broken.or_else(|| Some(format!("{p} ({} problems)", problems.len())));
    }
    vec![row]
}
