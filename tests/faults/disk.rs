//! A full disk: the journal on a small filesystem of its own.

use super::*;

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
pub(super) fn disk_full(_size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let disk = SmallDisk::mount(24);
    let station = StationDir::new("", "");
    journal_on(&station, &disk);
    // Other files on the disk leave 4 MiB of room above what the journal keeps free.
    let ballast = disk.mount.join("ballast");
    std::fs::write(&ballast, vec![0u8; 12 << 20]).unwrap();

    let mut daemon = station.spawn();
    daemon.wait_started();
    let mut accepted = BTreeMap::new();
    scan(&mut daemon, "OP:0042");
    let refusal = scan_until_refused(&mut daemon, &mut accepted, "D", 100_000);
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
pub(super) fn disk_space_comes_back(_size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    // Scans after delivery: ~4 MB of events, more than the filesystem has free, so sled must
    // reuse the room of the trimmed ones.
    const AFTER: usize = 10_000;
    let disk = SmallDisk::mount(16);
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    broker.down();
    let station = StationDir::with_broker(broker.port, "");
    journal_on(&station, &disk);
    let mut daemon = station.spawn();
    daemon.wait_started();
    let mut confirmed = BTreeMap::new();
    let refusal = scan_until_refused(&mut daemon, &mut confirmed, "F", 200_000);
    let filler = "x".repeat(200);
    let filled = confirmed.len();
    let files_before = files_under(&station.journal());
    broker.up();
    let tally = up.settle(&confirmed, Duration::from_secs(120));
    // Delivered: the room comes back without a restart; scanning resumes within seconds.
    let resumed_at = Instant::now();
    let mut first_ok = None;
    let (mut resumed, mut refusals, mut last_refusal) = (0, 0, String::new());
    // A scan refused while the room is briefly short (new events not yet delivered and
    // trimmed) is scanned again a moment later, as a packer would.
    while resumed < AFTER && resumed_at.elapsed() < Duration::from_secs(120) {
        let line = scan(&mut daemon, &format!("AFTER-{resumed}-{refusals}-{filler}"));
        if record(&mut confirmed, &line) {
            first_ok.get_or_insert(resumed_at.elapsed());
            resumed += 1;
            // Several hundred scans a second, far above a packer's pace: sled's flusher
            // cleans segments every 500 ms; at the pipe's full speed it can fall behind until
            // the filesystem reaches the 1 MiB hard floor (then scans wait for space).
            std::thread::sleep(Duration::from_millis(2));
        } else {
            refusals += 1;
            last_refusal = line;
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if refusals > 0 {
        eprintln!("disk-drain: {refusals} refusals after delivery; the last: {last_refusal}");
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
            "{filled} scans until refused, all delivered ({} lost before resuming); scanning resumed {} after delivery, {resumed} accepted after (one every 2 ms or more; {refusals} refused on the way and scanned again 50 ms later); early trim alert {alerted}, journal.trimmed event {announced}",
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

/// Puts the station's journal on `disk`, keeping 4 MiB of it free (`min_free`).
fn journal_on(station: &StationDir, disk: &SmallDisk) {
    let text = std::fs::read_to_string(&station.config)
        .unwrap()
        .replace("path = \"journal\"", &format!("path = \"{}/journal\"\nmin_free = \"4MiB\"", disk.mount.display()));
    std::fs::write(&station.config, text).unwrap();
}

/// One scan and its feedback line.
fn scan(daemon: &mut Daemon, code: &str) -> String {
    daemon.scan(code);
    daemon.expect_line()
}

/// Scans `<prefix>-<n>-<200 x>` until one is refused (at most `most`), recording the
/// confirmed ones; returns the refusal.
fn scan_until_refused(daemon: &mut Daemon, confirmed: &mut BTreeMap<u64, String>, prefix: &str, most: usize) -> String {
    let filler = "x".repeat(200);
    loop {
        let line = scan(daemon, &format!("{prefix}-{}-{filler}", confirmed.len()));
        if !record(confirmed, &line) {
            return line;
        }
        assert!(confirmed.len() < most, "the disk never filled");
    }
}
