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

#[test]
fn a_daemon_killed_mid_stream_loses_no_seq_upstream() {
    let broker = Broker::start();
    let station = StationDir::with_broker(broker.port, "");
    let monitor = Monitor::spawn(&broker.url(), &["--expect", "3000", "--duration", "60s"]);
    monitor.wait_subscribed();
    let mut daemon = station.spawn();
    feed(&mut daemon, "A", 0..1500);
    let first = collect_ok(&daemon, 700);
    daemon.kill9();
    let mut daemon = station.spawn();
    daemon.wait_started();
    let before = queue_status(&station)["next_seq"].as_u64().unwrap() - 1;
    assert!(before >= first.len() as u64);
    feed(&mut daemon, "B", 0..(3000 - before as usize));
    collect_ok(&daemon, 3000 - before as usize);
    let (code, summary) = monitor.wait(Duration::from_secs(90));
    let s = &summary["stations"][0];
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!((s["missing"].as_u64(), s["max_seq"].as_u64()), (Some(0), Some(3000)), "{summary}");
    assert_eq!(s["seq_conflicts"], 0, "no seq reused for another event: {summary}");
}

#[test]
fn a_black_holed_link_is_noticed_within_keep_alive_and_nothing_is_lost() {
    let broker = Broker::start();
    let proxy = Proxy::start(broker.port);
    let station = StationDir::with_broker(proxy.port, "");
    let monitor = Monitor::spawn(&broker.url(), &["--expect", "400", "--duration", "60s"]);
    monitor.wait_subscribed();
    let mut daemon = station.spawn();
    feed(&mut daemon, "UP", 0..100);
    collect_ok(&daemon, 100);
    wait_for(&station, Duration::from_secs(10), |s| s["pending"] == 0 && s["uplink"]["state"] == "connected");

    proxy.set_blackhole(true);
    let cut = std::time::Instant::now();
    feed(&mut daemon, "DARK", 0..200);
    collect_ok(&daemon, 200);
    // keep_alive = 2 s: the missing PINGRESP shows within about two keep-alive periods.
    wait_for(&station, Duration::from_secs(8), |s| s["uplink"]["state"] != "connected");
    let noticed = cut.elapsed();
    let st = queue_status(&station);
    assert!(st["pending"].as_u64().unwrap() >= 200, "{st}");
    assert!(st["uplink"]["last_error"].as_str().is_some(), "{st}");

    proxy.set_blackhole(false);
    feed(&mut daemon, "BACK", 0..100);
    collect_ok(&daemon, 100);
    let (code, summary) = monitor.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["stations"][0]["missing"], 0, "{summary}");
    eprintln!("dead link noticed after {noticed:?}");
}

#[test]
fn broker_crashes_lose_acked_events_and_monitor_repair_gets_them_back() {
    let mut broker = Broker::start();
    let station = StationDir::with_broker(broker.port, "");
    let monitor = Monitor::spawn(&broker.url(), &["--expect", "2001", "--repair", "--grace", "1s", "--duration", "120s"]);
    monitor.wait_subscribed();
    let mut daemon = station.spawn();
    for round in 0..5 {
        feed(&mut daemon, &format!("R{round}"), 0..400);
        collect_ok(&daemon, 400);
        broker.kill9();
        std::thread::sleep(Duration::from_millis(200));
        broker.restart();
    }
    // One more scan once things settle makes any loss at the tail visible as a gap.
    wait_for(&station, Duration::from_secs(20), |s| s["uplink"]["state"] == "connected");
    std::thread::sleep(Duration::from_millis(500));
    daemon.scan("LAST");
    collect_ok(&daemon, 1);
    let (code, summary) = monitor.wait(Duration::from_secs(120));
    let s = &summary["stations"][0];
    assert_eq!(code, Some(0), "{summary}\n{}", daemon.stderr());
    // Each resync the monitor asked for is itself journaled (command.accepted): seqs beyond 2001.
    assert_eq!(s["missing"], 0, "{summary}");
    assert!(s["max_seq"].as_u64().unwrap() >= 2001, "{summary}");
    assert_eq!(s["seq_conflicts"], 0, "{summary}");
    eprintln!("after 5 broker crashes: {s}");
}

/// Polls `queue status` until `ok` holds.
fn wait_for(station: &StationDir, timeout: Duration, ok: impl Fn(&serde_json::Value) -> bool) {
    let start = std::time::Instant::now();
    loop {
        let s = queue_status(station);
        if ok(&s) {
            return;
        }
        assert!(start.elapsed() < timeout, "condition not met within {timeout:?}: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
