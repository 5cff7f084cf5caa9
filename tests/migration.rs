//! Upgrading a station in place: a journal made by release 0.1.0 (three sled databases:
//! `db/`, `state/`, `print/`; tests/fixtures/README.md says how it was made) is opened by this
//! binary. The orders, the open session, the remembered request ids and the print jobs must
//! survive, moved into the one database, and the old folders must be renamed aside, not
//! deleted.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::{Broker, Cloud, Daemon};

const PREFIX: &str = "wh/WH1/st/PACK-FX";

/// Unpacks the fixture into `dir` (as `dir/journal`) and writes a config for it.
fn unpack(dir: &Path, port: u16, http: u16) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v0.1.0.tar.gz");
    let out = Command::new("tar").arg("-xzf").arg(&fixture).arg("-C").arg(dir).output().expect("run tar");
    assert!(out.status.success(), "unpacking {}: {}", fixture.display(), String::from_utf8_lossy(&out.stderr));
    let config = dir.join("stationd.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nwarehouse = \"WH1\"\nid = \"PACK-FX\"\nrole = \"multi\"\nallow_unlisted_packers = true\n\n\
             [journal]\npath = \"journal\"\n\n[[scanner]]\nname = \"stdin\"\nkind = \"stdin\"\n\n\
             [[printer]]\nname = \"label\"\nkind = \"file\"\npath = \"labels\"\nlanguage = \"zpl\"\nrole = \"label\"\n\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\n"
        ),
    )
    .unwrap();
    config
}

/// The answer to the last scan: the next `ok`/`error` line (alerts, such as the fixture's
/// orders being overdue by now, are skipped).
fn answer(daemon: &Daemon) -> String {
    loop {
        let line = daemon.expect_line();
        if !line.starts_with("alert ") {
            return line;
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_journal_of_release_0_1_0_keeps_its_orders_session_and_request_ids_after_the_upgrade() {
    let broker = Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let http = support::free_port();
    let config = unpack(tmp.path(), broker.port, http);
    let journal = tmp.path().join("journal");
    assert!(journal.join("state").is_dir(), "the fixture has the old layout: {:?}", entries(&journal));

    let mut daemon = Daemon::spawn(&config);
    daemon.wait_started();
    let names = entries(&journal);
    for old in ["state", "print"] {
        assert!(!names.contains(&old.to_string()), "the old {old}/ was moved aside: {names:?}");
        let migrated: Vec<&String> = names.iter().filter(|n| n.starts_with(&format!("{old}.migrated-"))).collect();
        assert_eq!(migrated.len(), 1, "renamed aside, not deleted: {names:?}");
        assert!(journal.join(migrated[0]).join("db").is_file(), "its files are kept");
    }
    // The print job of DEMO-1002's label came over (the screen's metrics count the jobs).
    support::wait_port(http);
    let (_, metrics) = support::http_get(http, "/metrics", &[]);
    let jobs: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("stationd_print_jobs{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(jobs, 1.0, "the label job of the old print/ store: {metrics}");

    // The session survived: the operator is still logged in with DEMO-1001 open, and the
    // order's progress too (one of two mugs was verified before the upgrade).
    daemon.scan("4006381333931");
    let line = answer(&daemon);
    assert!(line.starts_with("ok ") && line.contains("2/2"), "second mug of DEMO-1001 verified: {line}");
    daemon.scan("4006381333931");
    let line = answer(&daemon);
    assert!(line.starts_with("error "), "a third mug is one too many: {line}");

    // The remembered request id: the same command again is answered as a duplicate.
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let order = json!({"id": "DEMO-3001", "state": "picked", "carrier": "DHL", "tracking": "JJD0000003001",
        "ship_to": {"name": "Fixture Customer", "city": "Berlin", "country": "DE"},
        "lines": [{"line": 1, "sku": "MUG-RED", "name": "Mug, red", "qty": 1, "barcodes": ["4006381333931"]}]});
    let r = cloud.send("order-upsert", json!({"request_id": "fixture-u1", "order": order}));
    assert_eq!(r["duplicate"], true, "{r}");

    // Preloaded orders came over too: DEMO-1002 opens once DEMO-1001 is done.
    daemon.scan("96385074");
    let line = answer(&daemon);
    assert!(line.starts_with("ok "), "the lid completes DEMO-1001: {line}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));

    // A second start has nothing left to migrate and keeps what was moved in.
    let mut daemon = Daemon::spawn(&config);
    daemon.wait_started();
    let names = entries(&journal);
    assert_eq!(names.iter().filter(|n| n.contains(".migrated-")).count(), 2, "{names:?}");
    let r = cloud.send("order-upsert", json!({"request_id": "fixture-u1", "order": order}));
    assert_eq!(r["duplicate"], true, "{r}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
}

/// The log's segment files in a journal folder, with their first bytes.
fn log_segments(journal: &Path) -> Vec<(String, Vec<u8>)> {
    let wal = journal.join("db").join("wal");
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    found.sort();
    found
}

/// A journal whose write-ahead log has no segment headers (format 0), stopped by kill -9 with
/// its newest commits only in the log (tests/fixtures/README.md says how it was made): every
/// confirmed scan is there after the upgrade, seqs go on without a gap, and the log goes on in
/// segments with a header.
#[test]
fn a_journal_whose_log_has_no_segment_headers_keeps_every_event_and_goes_on_with_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-wal-format-0.tar.gz");
    let out = Command::new("tar").arg("-xzf").arg(&fixture).arg("-C").arg(tmp.path()).output().expect("run tar");
    assert!(out.status.success(), "unpacking {}: {}", fixture.display(), String::from_utf8_lossy(&out.stderr));
    let config = tmp.path().join("stationd.toml");
    std::fs::write(
        &config,
        "[station]\nwarehouse = \"WH1\"\nid = \"PACK-W0\"\nrole = \"pack\"\nallow_unlisted_packers = true\n\n\
         [journal]\npath = \"journal\"\nmin_free = \"1MiB\"\n\n[[scanner]]\nname = \"stdin\"\nkind = \"stdin\"\n",
    )
    .unwrap();
    let journal = tmp.path().join("journal");
    let before = log_segments(&journal);
    assert!(!before.is_empty(), "the fixture's log holds segments");
    for (name, bytes) in &before {
        assert!(!bytes.starts_with(b"STATIONDWAL"), "the fixture's {name} is of format 0");
    }

    let mut daemon = Daemon::spawn(&config);
    daemon.wait_started();
    assert!(daemon.scan("NEW-1"));
    let line = daemon.expect_line();
    let (seq, _) = support::parse_confirmed(&line).unwrap_or_else(|| panic!("{line}\n{}", daemon.stderr()));
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let log = daemon.stderr();
    assert!(log.contains("replayed the write-ahead log"), "the newest commits were only in the log:\n{log}");
    assert!(!journal.join("quarantine").exists(), "{log}");

    let o = support::stationd(&["queue", "export", "--config", config.to_str().unwrap()]);
    assert!(o.status.success(), "{}", support::stderr_of(&o));
    let events: Vec<serde_json::Value> =
        support::stdout_of(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(seq > 1500, "every one of the fixture's 1500 confirmed scans came before: {line}");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seq).collect::<Vec<_>>(), "gap-free, the new scan last");
    for e in &events[..1500] {
        assert_eq!(e["data"]["code"], format!("W0-{}", e["seq"]), "{e}");
    }
    assert_eq!(events.last().unwrap()["data"]["code"], "NEW-1");
    for (name, bytes) in log_segments(&journal) {
        assert!(bytes.starts_with(b"STATIONDWAL\0"), "{name} has the header: {:?}", &bytes[..16.min(bytes.len())]);
    }
}
