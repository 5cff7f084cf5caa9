//! systemd `Type=notify`: READY once started, watchdog pings while alive, STOPPING at the
//! end — checked with a notify socket of our own, as systemd would provide it.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::{Daemon, StationDir};

fn next_message(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).expect("a notify message within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_watchdog_and_stopping_reach_the_notify_socket() {
    let station = StationDir::new("", "");
    let path = station.tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut daemon = Daemon::spawn_with_env(
        &station.config,
        &[("NOTIFY_SOCKET", path.to_str().unwrap()), ("WATCHDOG_USEC", "400000")],
    );
    let first = next_message(&sock);
    assert!(first.contains("READY=1") && first.contains("STATUS=station WH1/PACK-T ready"), "{first}");
    let start = Instant::now();
    let mut pings = 0;
    while pings < 3 {
        if next_message(&sock).contains("WATCHDOG=1") {
            pings += 1;
        }
    }
    assert!(start.elapsed() < Duration::from_secs(3), "pings at half the 400 ms period");
    daemon.signal(libc::SIGTERM);
    while !next_message(&sock).contains("STOPPING=1") {}
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)).0, Some(0));
}
