//! Crashes and links: kill -9 of stationd, broker restarts, a black-holed and flapping network.

use super::*;

/// `kill -9` at random points during a stream of scans; the broker is stopped for a stretch
/// of rounds and back for the next (the journal must hold what the broker cannot take).
pub(super) fn kill_9_rounds(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let station = StationDir::with_broker(broker.port, "");
    let mut confirmed = BTreeMap::new();
    let per_round = size.kill_scans / size.kill_rounds;
    let stretch = (size.kill_rounds / 5).max(2);
    let (mut downs, mut early) = (0, 0);
    for round in 0..size.kill_rounds {
        downs += broker.flip_every(round, stretch) as usize;
        let mut daemon = station.spawn();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = scan_writer(&mut daemon, format!("K{round}"), Duration::ZERO, stop.clone());
        // A random point: during start-up (no scan confirmed yet) or after k confirmations.
        let want = rng.random_range(0..2 * per_round);
        if want < per_round / 10 {
            early += 1;
            std::thread::sleep(Duration::from_millis(rng.random_range(0..60)));
        } else {
            let mut got = 0;
            let deadline = Instant::now() + Duration::from_secs(30);
            while got < want {
                let line = daemon
                    .line(Duration::from_secs(10))
                    .unwrap_or_else(|| panic!("round {round}: no feedback; stderr:\n{}", daemon.stderr()));
                got += record(&mut confirmed, &line) as usize;
                assert!(Instant::now() < deadline, "round {round}: too slow");
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        }
        daemon.kill9();
        for line in daemon.drain_lines() {
            record(&mut confirmed, &line);
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.join().unwrap();
    }
    broker.up();
    let tally = drain_and_stop(&station, &up, &confirmed, Duration::from_secs(120));
    let mut row = tally.row(
        "kill -9 of stationd",
        format!(
            "{} × kill -9 ({early} during start-up), broker stopped {downs} × for {stretch} rounds",
            size.kill_rounds
        ),
        confirmed.len(),
        "journal gap-free, no quarantine".into(),
    );
    row.broken = row.broken.or_else(|| journal_intact(&station));
    vec![row]
}

/// The broker restarted (gracefully, saving its state) while a packer scans steadily.
pub(super) fn broker_restarts(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let mut broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let station = StationDir::with_broker(broker.port, "");
    let mut scanning = Scanning::start(&station, "B", Duration::from_millis(3));
    for _ in 0..size.broker_restarts {
        scanning.for_ms(rng.random_range(200..900));
        broker.down();
        scanning.for_ms(rng.random_range(50..600));
        broker.up();
    }
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(60));
    vec![tally.row(
        "broker restarts under stationd",
        format!("{} × broker restart (SIGTERM, 50–600 ms down) while scanning ~300/s", size.broker_restarts),
        confirmed,
        String::new(),
    )]
}

/// The station's link black-holed (nothing crosses, nothing closes) and flapping.
pub(super) fn network_flapping(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let proxy = Proxy::start(broker.port);
    let station = StationDir::with_broker(proxy.port, "");
    let mut scanning = Scanning::start(&station, "N", Duration::from_millis(3));
    for flap in 0..size.flaps {
        scanning.for_ms(rng.random_range(100..1000));
        proxy.set_blackhole(true);
        // One long outage, past the keep-alive (2 s), so the station must notice by itself.
        scanning.for_ms(if flap == size.flaps / 2 { 5000 } else { rng.random_range(50..1500) });
        proxy.set_blackhole(false);
    }
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(60));
    vec![tally.row(
        "network black-holed and flapping",
        format!("{} × link black-holed 50–1500 ms (one 5 s, past keep-alive) through a TCP proxy", size.flaps),
        confirmed,
        String::new(),
    )]
}
