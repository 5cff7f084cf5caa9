//! The command line and the daemon's error paths, on the real binary: every bad input gets
//! a precise error and loses nothing.

mod support;

use std::time::Duration;

use support::{parse_confirmed, stationd, stderr_of, stdout_of, StationDir};

#[test]
fn check_config_accepts_a_valid_file_and_lists_every_error_of_a_bad_one() {
    let station = StationDir::new("", "");
    let o = stationd(&["check-config", station.config_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert!(stdout_of(&o).contains(": ok (station WH1/PACK-T"), "{}", stdout_of(&o));

    let bad = station.tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[station]\nwarehouse = \"WH1\"\nid = \"\"\nrole = \"pack\"\n\n[journal]\npath = \"j\"\nmax_bytes = \"huge\"\n\n\
         [[scanner]]\nname = \"a\"\nkind = \"stdin\"\n[[scanner]]\nname = \"a\"\nkind = \"stdin\"\nsufix = \"\\r\"\n\n\
         [mqtt]\nurl = \"mqtts://broker:8883\"\nca_file = \"missing-ca.pem\"\n",
    )
    .unwrap();
    let o = stationd(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    let file = bad.display().to_string();
    for expected in [
        format!("{file}:3: station.id: must not be empty"),
        format!("{file}:8: journal.max_bytes: \"huge\" is not a size"),
        format!("{file}:13: scanner.name: duplicate scanner name \"a\""),
        format!("{file}:16: scanner[2].sufix: unknown key"),
        format!("{file}:20: mqtt.ca_file: cannot read"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("5 error(s)"), "{err}");

    let o = stationd(&["check-config", "--json", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"].as_array().unwrap().len(), 5);

    let o = stationd(&["check-config", "/nonexistent/stationd.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("cannot read config file"), "{}", stderr_of(&o));
}

#[test]
fn check_config_refuses_ids_device_names_and_prefix_levels_that_brokers_split_naming_the_character() {
    let station = StationDir::new("", "");
    let bad = station.tmp.path().join("dots.toml");
    std::fs::write(
        &bad,
        "[station]\nwarehouse = \"WH.1\"\nid = \"PACK#7\"\nrole = \"pack\"\n\n[journal]\npath = \"j\"\n\n\
         [[scanner]]\nname = \"gun.1\"\nkind = \"stdin\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\nprefix = \"acme.eu/{warehouse}/{station}\"\n",
    )
    .unwrap();
    let o = stationd(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    let file = bad.display().to_string();
    for expected in [
        format!(
            "{file}:2: station.warehouse: \"WH.1\" holds '.' (NATS and RabbitMQ take it as a topic level separator)"
        ),
        format!("{file}:3: station.id: \"PACK#7\" holds '#' (an MQTT wildcard)"),
        format!("{file}:10: scanner[1].name: \"gun.1\" holds '.'"),
        format!("{file}:15: mqtt.prefix: \"acme.eu/{{warehouse}}/{{station}}\": level \"acme.eu\" holds '.'"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("4 error(s)"), "{err}");
}

#[test]
fn run_refuses_an_invalid_config_with_exit_1_and_starts_nothing() {
    let station = StationDir::new("colour = \"red\"", "");
    let o = stationd(&["run", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("journal.colour: unknown key"), "{}", stderr_of(&o));
    assert!(!station.journal().exists(), "nothing created for a config that does not validate");
}

#[test]
fn json_logs_are_one_object_per_line_on_stderr() {
    let station = StationDir::new("", "");
    let o = std::process::Command::new(support::bin())
        .args(["--log-format", "json", "run", "--config", station.config_str()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = stderr_of(&o);
    let started = err
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|v| v["message"] == "stationd started")
        .expect("start line");
    assert_eq!(started["station"], "WH1/PACK-T");
    assert_eq!(started["level"], "INFO");
}

#[test]
fn version_and_help_work_for_every_command() {
    let o = stationd(&["version"]);
    assert!(stdout_of(&o).starts_with("stationd "), "{}", stdout_of(&o));
    let o = stationd(&["version", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["check-config", "--help"],
        &["queue", "--help"],
        &["queue", "status", "--help"],
        &["queue", "export", "--help"],
        &["queue", "salvage", "--help"],
        &["version", "--help"],
    ] {
        let o = stationd(cmd);
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
        assert!(stdout_of(&o).contains("Usage: stationd"), "{cmd:?}: {}", stdout_of(&o));
    }
    assert!(stdout_of(&stationd(&["--help"])).contains("Exit codes"));
    assert_eq!(stationd(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn sigterm_and_sigint_stop_within_2_s_with_every_confirmed_scan_on_disk() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let station = StationDir::new("", "");
        let mut daemon = station.spawn();
        let mut confirmed = Vec::new();
        for i in 0..50 {
            assert!(daemon.scan(&format!("SIG-{i}")));
        }
        for _ in 0..50 {
            confirmed.push(parse_confirmed(&daemon.expect_line()).unwrap());
        }
        daemon.signal(sig);
        let (code, took) = daemon.wait_exit(Duration::from_secs(5));
        assert_eq!(code, Some(0), "signal {sig}: {}", daemon.stderr());
        assert!(took < Duration::from_secs(2), "signal {sig}: shutdown took {took:?}");
        assert!(daemon.stderr().contains("everything confirmed is on disk"));
        let events = station.export();
        assert_eq!(events.len(), 50);
        for (seq, code) in confirmed {
            assert_eq!(events[seq as usize - 1]["data"]["code"], code.as_str());
        }
    }
}

#[test]
fn a_second_daemon_on_the_same_journal_is_refused_and_the_first_keeps_working() {
    let station = StationDir::new("", "");
    let mut first = station.spawn();
    first.wait_started();
    let o = stationd(&["run", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr_of(&o);
    assert!(err.contains("is in use by another stationd process"), "{err}");
    assert!(err.contains(&format!("pid {}", first.pid())), "{err}");
    assert!(first.scan("STILL-HERE"));
    assert_eq!(parse_confirmed(&first.expect_line()).unwrap(), (1, "STILL-HERE".to_string()));
}

#[test]
fn queue_status_and_export_work_while_the_daemon_runs_and_after() {
    let station = StationDir::new("", "");
    let mut daemon = station.spawn();
    for code in ["A1", "B2", "C3"] {
        daemon.scan(code);
        parse_confirmed(&daemon.expect_line()).unwrap();
    }
    // While running: answered over the control socket.
    let o = stationd(&["queue", "status", "--json", "--config", station.config_str()]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["pending"].as_u64(), v["next_seq"].as_u64()), (Some(3), Some(4)));
    assert!(v["oldest_pending_age_seconds"].as_f64().unwrap() >= 0.0);
    assert!(v["disk_bytes"].as_u64().unwrap() > 0);
    assert_eq!(station.export().len(), 3);

    daemon.close_stdin();
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)).0, Some(0));
    let o = stationd(&["queue", "status", "--config", station.config_str()]);
    let text = stdout_of(&o);
    assert!(text.contains("pending        3 event(s)"), "{text}");
    assert!(text.contains("next seq       4"), "{text}");
    let o = stationd(&["queue", "export", "--from", "2", "--config", station.config_str()]);
    let seqs: Vec<u64> = stdout_of(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3]);
}

#[test]
fn a_full_journal_refuses_scans_loudly_and_keeps_every_accepted_one() {
    let station = StationDir::new("max_bytes = \"64KiB\"", "");
    let mut daemon = station.spawn();
    let mut accepted = Vec::new();
    let refusal = loop {
        daemon.scan(&format!("FULL-{:04}-{}", accepted.len(), "x".repeat(100)));
        let line = daemon.expect_line();
        match parse_confirmed(&line) {
            Some(ok) => accepted.push(ok),
            None => break line,
        }
        assert!(accepted.len() < 1000, "journal never filled");
    };
    assert!(refusal.starts_with("error journal_full: journal is full"), "{refusal}");
    // Still refused, still running, and it says so in the log.
    daemon.scan(&format!("ONE-MORE-{}", "x".repeat(100)));
    assert!(daemon.expect_line().starts_with("error journal_full"));
    let full = |log: &str| log.contains("alert=\"journal_full\"") || log.contains("alert=journal_full");
    let log = daemon.stderr_showing(full);
    assert!(full(&log), "{log}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let events = station.export();
    assert_eq!(events.len(), accepted.len());
    for (e, (seq, code)) in events.iter().zip(&accepted) {
        assert_eq!((e["seq"].as_u64().unwrap(), e["data"]["code"].as_str().unwrap()), (*seq, code.as_str()));
    }
    // A German station says it in German after the stable prefix; the log keeps the detail.
    let text = std::fs::read_to_string(&station.config).unwrap();
    let german = text.replace("allow_unlisted_packers = true\n", "allow_unlisted_packers = true\nlocale = \"de\"\n");
    assert_ne!(text, german, "the station section moved");
    std::fs::write(&station.config, german).unwrap();
    let mut daemon = station.spawn();
    daemon.scan(&format!("IN-GERMAN-{}", "x".repeat(100)));
    let line = daemon.expect_line();
    assert!(line.starts_with("error journal_full: Journal voll: Scan NICHT gespeichert"), "{line}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(station.export().len(), accepted.len());
}

#[test]
fn scanner_garbage_gets_precise_errors_and_the_next_scan_works() {
    let station = StationDir::new("", "");
    let mut daemon = station.spawn();
    let mut long = vec![b'7'; 10 * 1024];
    long.push(b'\n');
    daemon.scan_bytes(&long);
    let line = daemon.expect_line();
    assert!(line.starts_with("error scan_too_long: scan of 10240 bytes exceeds the 512-byte limit (seq=1)"), "{line}");
    daemon.scan_bytes(b"\x00\x01\x02\xff\n");
    assert!(daemon.expect_line().starts_with("error scan_noise: scan contains control byte 0x00"));
    daemon.scan_bytes(b"\xc3\x28OK\n");
    assert!(daemon.expect_line().starts_with("error scan_not_utf8"));
    daemon.scan("OP:0017");
    let line = daemon.expect_line();
    assert!(line.starts_with("ok seq=4 operator.login OP:0017"), "{line}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let kinds: Vec<String> = station.export().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["scan.rejected", "scan.rejected", "scan.rejected", "operator.login"]);
}

/// `control.sock` lets the service group ask the running daemon (as the docs tell admins to
/// do) and nobody else: a user in the daemon's group gets the status and the events, a user
/// outside it a refusal naming the socket and the fix.
#[test]
fn the_service_group_can_ask_the_running_daemon_and_other_users_cannot() {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test switches users with setpriv: run it as root (CI does)");
    let setpriv = support::require_tool("setpriv", "apt-get install -y util-linux");
    let station = StationDir::new("", "");
    // Everyone may read the config here, so the one thing between a user and the daemon is
    // the socket (on a box /etc/stationd is 0750 root:stationd as well).
    std::fs::set_permissions(station.tmp.path(), std::fs::Permissions::from_mode(0o751)).unwrap();
    std::fs::set_permissions(&station.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut daemon = station.spawn();
    for code in ["A1", "B2"] {
        daemon.scan(code);
        parse_confirmed(&daemon.expect_line()).unwrap();
    }
    let socket = station.journal().join("control.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "control.sock is {mode:o}");
    let as_user = |groups: &str, args: &[&str]| {
        std::process::Command::new(&setpriv)
            .args(["--reuid=4242", "--regid=4242", groups, "--"])
            .arg(support::bin())
            .args(args)
            .args(["--config", station.config_str()])
            .output()
            .unwrap()
    };
    // A member of the daemon's group (gid 0 here).
    let o = as_user("--groups=0", &["queue", "status", "--json"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pending"].as_u64(), Some(2), "{v}");
    let o = as_user("--groups=0", &["queue", "export", "--from", "1"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(stdout_of(&o).lines().count(), 2);
    // Anyone else.
    let o = as_user("--clear-groups", &["queue", "status"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(err.contains(&format!("cannot ask the running daemon through {}", socket.display())), "{err}");
    assert!(err.contains("Permission denied") && err.contains("usermod -aG stationd"), "{err}");
    // Nothing of the journal changed hands: the daemon still confirms scans.
    daemon.scan("C3");
    assert_eq!(parse_confirmed(&daemon.expect_line()).unwrap().0, 3);
}

#[test]
fn an_unwritable_journal_folder_stops_start_up_with_the_fix() {
    let station = StationDir::new("", "");
    let journal = station.journal();
    std::fs::create_dir(&journal).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(station.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&station.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root ignores permissions: run the daemon as `nobody` to see what a service user sees.
    let o = if unsafe { libc::geteuid() } == 0 {
        let setpriv = support::require_tool("setpriv", "apt-get install -y util-linux");
        std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(support::bin())
            .args(["run", "--config", station.config_str()])
            .output()
            .unwrap()
    } else {
        stationd(&["run", "--config", station.config_str()])
    };
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(err.contains(&format!("{}", journal.display())), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("must be writable by the user stationd runs as"), "{err}");
}

#[test]
fn a_damaged_journal_is_quarantined_and_the_station_keeps_working() {
    let station = StationDir::new("", "");
    let mut daemon = station.spawn();
    for i in 0..40 {
        daemon.scan(&format!("PRE-{i}"));
        parse_confirmed(&daemon.expect_line()).unwrap();
    }
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let db_file = station.journal().join("db").join("db");
    let len = std::fs::metadata(&db_file).unwrap().len() as usize;
    let mut garbage = vec![0u8; len];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    std::fs::write(&db_file, garbage).unwrap();

    let mut daemon = station.spawn();
    let alert = daemon.expect_line();
    assert!(alert.starts_with("alert journal_recovered: damaged journal moved to "), "{alert}");
    daemon.scan("AFTER");
    let (seq, _) = parse_confirmed(&daemon.expect_line()).unwrap();
    assert!(seq > 41, "seq {seq} continues above every seq issued before");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    assert!(daemon.stderr().contains("journal recovered from a damaged database"));

    let events = station.export();
    assert_eq!(events[0]["kind"], "journal.recovered");
    assert_eq!(events[0]["seq"].as_u64().unwrap() + 1, seq);
    let quarantined = events[0]["data"]["quarantined"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&quarantined).join("db").exists(), "damaged files kept at {quarantined}");
    assert!(events[0]["data"]["may_be_lost"]["to"].as_u64().unwrap() >= 40);

    let o = stationd(&["queue", "salvage", &quarantined]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("salvaged"), "{}", stderr_of(&o));
}

#[test]
fn devices_lists_usb_and_serial_or_says_plainly_why_not() {
    let station = StationDir::new("", "");
    let o = stationd(&["devices", "--json", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    match v["usb"]["status"].as_str() {
        Some("available") => assert!(v["usb"]["devices"].is_array()),
        Some("unavailable") => assert!(v["usb"]["reason"].as_str().unwrap().contains("libusb"), "{v}"),
        other => panic!("usb status {other:?}: {v}"),
    }
    assert!(v["serial"].is_array());
    let o = stationd(&["devices", "--config", "/nonexistent.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout_of(&o).contains("USB"), "{}", stdout_of(&o));
}

#[test]
fn doctor_passes_a_healthy_box_and_names_each_problem_with_its_fix() {
    let broker = support::Broker::start();
    let sim = stationd_drivers::sim::PrinterSim::start();
    let healthy = StationDir::with_broker(
        broker.port,
        &format!("[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\n", sim.addr),
    );
    let o = stationd(&["doctor", "--config", healthy.config_str()]);
    let out = stdout_of(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ok    broker") && out.contains("connected (TLS and credentials accepted)"), "{out}");
    assert!(out.contains("ok    printer label") && out.contains("all checks passed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");

    let dead_port = support::free_port();
    let sick = StationDir::with_broker(
        dead_port,
        "[[scanner]]\nname = \"gun\"\nkind = \"serial\"\npath = \"/dev/serial/by-id/usb-gone-if00\"\n",
    );
    let o = stationd(&["doctor", "--json", "--config", sick.config_str()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let find = |check: &str| v["findings"].as_array().unwrap().iter().find(|f| f["check"] == check).cloned().unwrap();
    assert_eq!(find("scanner gun")["verdict"], "fail");
    assert!(find("scanner gun")["fix"].as_str().unwrap().contains("stationd devices"));
    assert_eq!(find("broker")["verdict"], "fail");
    assert!(find("broker")["detail"].as_str().unwrap().contains("nothing listens"), "{v}");
    assert_eq!(find("clock")["verdict"], "skip", "unchecked is never ok");

    let o = stationd(&["doctor", "--config", "/nonexistent.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout_of(&o).contains("FAIL  config"), "{}", stdout_of(&o));
}

#[test]
fn doctor_checks_the_order_system_and_the_clock_against_its_date() {
    let doctor = |clock_offset: i64| {
        let oms = support::OrderSystem::start(vec![], clock_offset);
        let station = StationDir::new("", &format!("[orders]\nurl = \"{}\"\n", oms.url));
        let o = stationd(&["doctor", "--json", "--config", station.config_str()]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let find =
            |check: &str| v["findings"].as_array().unwrap().iter().find(|f| f["check"] == check).cloned().unwrap();
        (find("order system"), find("clock"))
    };
    let (system, clock) = doctor(0);
    assert_eq!((system["verdict"].as_str(), clock["verdict"].as_str()), (Some("ok"), Some("ok")), "{system} {clock}");
    assert!(system["detail"].as_str().unwrap().contains("answers HTTP 404"), "{system}");
    // The order system's clock two minutes behind: the box is ahead, and that fails.
    let (_, clock) = doctor(-120);
    assert_eq!(clock["verdict"], "fail", "{clock}");
    assert!(clock["detail"].as_str().unwrap().contains("s ahead of the order system's"), "{clock}");
    assert!(clock["fix"].as_str().unwrap().contains("timedatectl set-ntp true"), "{clock}");
}

#[test]
fn a_journal_folder_open_to_other_users_is_reported_and_made_private_at_start() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let station = StationDir::new("", "");
    let journal = station.journal();
    // As an admin might have made it: world-readable, with a database from an older release.
    std::fs::create_dir(&journal).unwrap();
    let daemon = station.spawn();
    daemon.wait_started();
    drop(daemon);
    for entry in walk(&journal) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let o = stationd(&["doctor", "--json", "--config", station.config_str()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let privacy = v["findings"].as_array().unwrap().iter().find(|f| f["check"] == "journal privacy").cloned().unwrap();
    assert_eq!(privacy["verdict"], "warn", "{privacy}");
    assert!(privacy["detail"].as_str().unwrap().contains("open to other users"), "{privacy}");
    assert!(privacy["fix"].as_str().unwrap().starts_with("chmod -R g-w,o-rwx"), "{privacy}");

    let mut daemon = station.spawn();
    daemon.wait_started();
    daemon.scan("OP:0017");
    assert!(daemon.expect_line().starts_with("ok seq="));
    let log = daemon.stderr_showing(|l| l.contains("made private (0750/0640)"));
    assert!(log.contains("made private (0750/0640)"), "{log}");
    // Everything the daemon keeps, old or new, is now private to its user and group.
    // (The control socket keeps group write: connecting needs it, and the group may ask.)
    for entry in walk(&journal) {
        let mode = std::fs::symlink_metadata(&entry).unwrap().mode() & 0o777;
        let forbidden = if entry.ends_with("control.sock") { 0o007 } else { 0o027 };
        assert_eq!(mode & forbidden, 0, "{} is {mode:04o}", entry.display());
    }
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let o = stationd(&["doctor", "--json", "--config", station.config_str()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let privacy = v["findings"].as_array().unwrap().iter().find(|f| f["check"] == "journal privacy").cloned().unwrap();
    assert_eq!(privacy["verdict"], "ok", "{privacy}");
}

/// A folder and everything below it.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if dir.is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

#[test]
fn a_scanned_bidi_override_or_terminal_escape_is_shown_escaped_to_the_packer() {
    let station = StationDir::new("", "");
    let mut daemon = station.spawn();
    daemon.scan("OP:0017");
    daemon.expect_line();
    daemon.scan("ABC\u{202e}FED\u{200b}");
    let line = daemon.expect_line();
    assert!(line.contains("code=ABC\\u{202e}FED\\u{200b})"), "{line}");
    assert!(!line.contains('\u{202e}') && !line.contains('\u{200b}'), "{line:?}");
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    // The journal keeps what was scanned, exactly.
    let last = station.export().pop().unwrap();
    assert_eq!(last["data"]["code"], "ABC\u{202e}FED\u{200b}");
}

/// One preloaded order (SO-1, packed at this station) for the locale tests.
const LOCALE_ORDERS: &str = r#"[{"id": "SO-1", "state": "picked", "carrier": "DHL", "tracking": "JJD0000000001",
  "lines": [{"line": 1, "sku": "MUG-RED", "name": "Mug, red", "qty": 2, "barcodes": ["4006381333931"]}]}]"#;

/// A German station with a Polish packer: the feedback line speaks the language in force
/// after each scan, keeps its machine-readable parts, and the journal stays English.
#[test]
fn a_german_station_answers_in_german_a_polish_packer_in_polish_and_the_journal_stays_english() {
    let station = StationDir::new("", "");
    std::fs::write(station.tmp.path().join("orders.json"), LOCALE_ORDERS).unwrap();
    let text = std::fs::read_to_string(&station.config)
        .unwrap()
        .replace("allow_unlisted_packers = true\n", "allow_unlisted_packers = true\nlocale = \"de\"\n")
        + "[orders]\npreload = \"orders.json\"\n\n[[operator]]\nbadge = \"OP:PL\"\nlocale = \"pl\"\n";
    std::fs::write(&station.config, text).unwrap();
    let mut daemon = station.spawn();
    let mut say = |code: &str| {
        daemon.scan(code);
        daemon.expect_line()
    };
    let line = say("OP:0017");
    assert!(line.starts_with("ok seq=2 operator.login OP:0017 (Packer) code=OP:0017"), "{line}");
    say("SO-1");
    let line = say("5012345678900");
    assert!(
        line.starts_with("error wrong_item: 5012345678900 gehört nicht zu Auftrag SO-1 (seq="),
        "a German station answers in German after the stable prefix: {line}"
    );
    let line = say("OP:PL");
    assert!(line.contains("operator.login OP:PL (pakowacz)"), "{line}");
    let line = say("5012345678900");
    assert!(line.starts_with("error wrong_item: 5012345678900 nie ma w zamówieniu SO-1 (seq="), "{line}");
    let line = say("OP:PL");
    assert!(line.contains(" operator.logout OP:PL code=OP:PL"), "{line}");
    let line = say("5012345678900");
    assert!(
        line.starts_with("error not_logged_in: 5012345678900 nicht verwendet: zuerst mit Ausweis anmelden"),
        "{line}"
    );
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
    let messages: Vec<String> = station
        .export()
        .iter()
        .filter(|e| e["kind"] == "item.rejected" || e["kind"] == "scan.rejected")
        .map(|e| e["data"]["error"]["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "5012345678900 is not on order SO-1",
            "5012345678900 is not on order SO-1",
            "5012345678900 was not used: log in with your badge first"
        ],
        "events keep the English text of the contract"
    );
}

#[test]
fn check_config_refuses_a_language_the_station_does_not_ship_naming_the_ones_it_does() {
    let station = StationDir::new("", "[[operator]]\nbadge = \"OP:1\"\nlocale = \"fr\"\n");
    let o = stationd(&["check-config", station.config_str()]);
    assert_eq!(o.status.code(), Some(1));
    let expected = format!(
        "{}:17: operator[1].locale: \"fr\" is not a language the station ships; use one of en, de, pl, es, cs, zh-CN",
        station.config.display()
    );
    assert!(stderr_of(&o).contains(&expected), "missing {expected:?} in:\n{}", stderr_of(&o));
}
