//! The MQTT uplink against a real Mosquitto: at-least-once delivery from the journal across
//! broker outages, daemon crashes and dead links, TLS, and commands from the cloud.

mod support;

use std::time::Duration;

use support::{collect_ok, queue_status, Broker, Daemon, Monitor, Proxy, StationDir};

fn feed(daemon: &mut Daemon, prefix: &str, range: std::ops::Range<usize>) {
    let mut stdin = daemon.take_stdin();
    let lines: String = range.map(|i| format!("{prefix}-{i}\n")).collect();
    std::io::Write::write_all(&mut stdin, lines.as_bytes()).unwrap();
    daemon.give_stdin(stdin);
}

#[test]
fn scans_confirmed_while_the_broker_is_absent_all_arrive_once_in_order() {
    let broker = Broker::start();
    let link = support::free_port();
    let station = StationDir::with_broker(link, "");
    let mut daemon = station.spawn();
    feed(&mut daemon, "OFF", 0..10_000);
    let confirmed = collect_ok(&daemon, 10_000);
    assert_eq!(confirmed.last().unwrap().0, 10_000);
    assert_eq!(queue_status(&station)["pending"], 10_000);

    // The broker "comes up" for the station once the consumer listens.
    let monitor = Monitor::spawn(&broker.url(), &["--expect", "10000", "--duration", "60s"]);
    monitor.wait_subscribed();
    let _proxy = Proxy::start_on(link, broker.port);
    let (code, summary) = monitor.wait(Duration::from_secs(90));
    let s = &summary["stations"][0];
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!((s["unique"].as_u64(), s["missing"].as_u64()), (Some(10_000), Some(0)), "{summary}");
    assert_eq!(s["duplicates"], 0, "each arrives once: {summary}");
    assert_eq!(s["out_of_order"], 0, "in seq order: {summary}");
    let start = std::time::Instant::now();
    while queue_status(&station)["pending"] != 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "journal still has pending events after PubAcks");
        std::thread::sleep(Duration::from_millis(50));
    }
}
