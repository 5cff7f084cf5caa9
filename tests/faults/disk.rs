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
    let alerted = daemon.stderr().contains("alert=\"journal_full\"");
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
