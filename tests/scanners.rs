//! Serial scanners on PTYs made by the test: framing by every suffix, garbage, and a
//! scanner that vanishes and comes back under the same by-id style path.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use support::{parse_confirmed, pty, StationDir};

fn station_with_serial(link: &Path) -> StationDir {
    let extra =
        format!("[[scanner]]\nname = \"gun\"\nkind = \"serial\"\npath = \"{}\"\nbaud = 115200\n", link.display());
    StationDir::new("", &extra)
}

#[test]
fn a_pty_scanner_frames_every_suffix_rejects_garbage_and_survives_replugging() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Honeywell_1900-if00");
    let mut p = pty(&link);
    let station = station_with_serial(&link);
    let daemon = station.spawn();
    daemon.wait_started();
    let ready = std::time::Instant::now();
    while !daemon.stderr().contains("scanner ready") {
        assert!(ready.elapsed() < Duration::from_secs(5), "{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }

    for (code, suffix) in [("4006381333931", "\r"), ("96385074", "\n"), ("036000291452", "\r\n"), ("SKU-9", "\t")] {
        p.master.write_all(format!("{code}{suffix}").as_bytes()).unwrap();
        let (_, got) = parse_confirmed(&daemon.expect_line()).unwrap_or_else(|| panic!("{code}"));
        assert_eq!(got, code);
    }
    let mut long = vec![b'7'; 10 * 1024];
    long.push(b'\r');
    p.master.write_all(&long).unwrap();
    assert!(daemon.expect_line().starts_with("error scan_too_long"));
    p.master.write_all(b"\x01\x02noise\x7f\r").unwrap();
    assert!(daemon.expect_line().starts_with("error scan_noise"));
    p.master.write_all(b"AFTER-NOISE\r").unwrap();
    assert_eq!(parse_confirmed(&daemon.expect_line()).unwrap().1, "AFTER-NOISE");

    // Unplug: the PTY goes away; the daemon says so and keeps trying.
    drop(p);
    let gone = std::time::Instant::now();
    while !daemon.stderr().contains("scanner offline") {
        assert!(gone.elapsed() < Duration::from_secs(5), "unplug not noticed:\n{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    // A new device appears under the same stable path.
    let mut p = pty(&link);
    let back = std::time::Instant::now();
    while daemon.stderr().matches("scanner ready").count() < 2 {
        assert!(back.elapsed() < Duration::from_secs(10), "not reopened:\n{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    p.master.write_all(b"REPLUGGED\r").unwrap();
    assert_eq!(parse_confirmed(&daemon.expect_line()).unwrap().1, "REPLUGGED");
    assert!(!daemon.stderr().contains("panicked"));
}

#[test]
fn a_missing_hid_scanner_is_reported_offline_and_the_station_keeps_working() {
    let extra = "[[scanner]]\nname = \"wedge\"\nkind = \"hid\"\npath = \"/dev/input/by-id/usb-nothing-event-kbd\"\n";
    let station = StationDir::new("", extra);
    let mut daemon = station.spawn();
    daemon.wait_started();
    let start = std::time::Instant::now();
    while !daemon.stderr().contains("scanner offline") {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(daemon.stderr().contains("cannot open /dev/input/by-id/usb-nothing-event-kbd"), "{}", daemon.stderr());
    daemon.scan("STILL-SCANNING");
    assert_eq!(parse_confirmed(&daemon.expect_line()).unwrap().1, "STILL-SCANNING");
}
