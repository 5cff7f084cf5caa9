//! Many stations against one broker: `cargo bench --bench scale` (`-- --quick`: 10 and 50
//! stations, shorter phases; `-- --stations 10,50,200` to choose). Needs `mosquitto`.
//!
//! Every station is a real `stationd` daemon (its own process, journal and MQTT session)
//! with a stdin scanner; all publish to one Mosquitto on loopback, where one cloud
//! subscriber on `wh/+/st/+/events` (QoS 1) counts events and measures each one's age
//! (receive time minus the envelope's `at`, millisecond resolution, same clock). Per
//! station count N, two phases: a packer's pace (one scan per 2 s per station) and a burst
//! (5 scans/s per station). Each scan is written to the station's stdin and its feedback
//! line awaited (the scan is durable then), so a station never has more than one scan
//! in flight — as with a packer.
//!
//! Figures per phase: events/s received at the cloud vs offered, end-to-end age p50/p99,
//! scan → feedback p50/p99 at the stations, RSS per station, CPU of the broker and of the
//! stations. Baseline in the same run: a bare rumqttc QoS 1 publisher sending envelopes at
//! the same aggregate rate to the same broker and subscriber (broker + subscriber alone).

use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{pct, record, rss_mb};

struct Phase {
    name: &'static str,
    per_station: f64,
    secs: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let counts: Vec<usize> = match args.iter().position(|a| a == "--stations") {
        Some(i) => args[i + 1].split(',').map(|v| v.parse().expect("--stations 10,50,200")).collect(),
        None if quick => vec![10, 50],
        None => vec![10, 50, 200],
    };
    let (steady, burst) = if quick { (12.0, 5.0) } else { (30.0, 10.0) };
    let phases = [
        Phase { name: "packer pace, 0.5 scans/s per station", per_station: 0.5, secs: steady },
        Phase { name: "burst, 5 scans/s per station", per_station: 5.0, secs: burst },
    ];
    let base = common::bench_dir("scale");
    let (port, broker) = common::plain_mosquitto(&base, "cloud");
    std::thread::sleep(Duration::from_millis(300));
    println!("# scale: N stationd daemons → one mosquitto → one cloud subscriber (wh/+/st/+/events)");
    let broker_idle = rss_mb(broker.pid());
    println!("machine: {}; mosquitto idle RSS {broker_idle:.1} MB", common::machine());
    println!();
    println!(
        "{:>5} {:<38} {:>9} {:>9} {:>13} {:>15} {:>14} {:>18} {:>8} {:>10} {:>12}",
        "N",
        "phase",
        "offered/s",
        "cloud/s",
        "e2e p50/p99",
        "bare e2e p50/99",
        "scan→ok p50/99",
        "RSS (anon)/station",
        "B/event",
        "broker CPU",
        "stations CPU"
    );
    for &n in &counts {
        run(&base, port, (&broker, broker_idle), n, &phases);
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&base);
}

fn run(base: &std::path::Path, port: u16, broker: (&common::Proc, f64), n: usize, phases: &[Phase]) {
    let (broker, broker_idle) = broker;
    // Start N daemons, all at once, each waited for with its own notify socket.
    let t = Instant::now();
    let mut stations = Vec::with_capacity(n);
    for i in 0..n {
        let dir = base.join(format!("n{n}/st{i:03}"));
        let config = common::station_config(&dir, &format!("PACK-{i:03}"), port);
        let (sock, path) = common::notify_socket(&dir);
        let daemon = support::Daemon::spawn_with_env(&config, &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
        stations.push((daemon, sock));
    }
    let mut daemons: Vec<support::Daemon> = stations
        .into_iter()
        .map(|(d, sock)| {
            common::wait_ready(&sock);
            d
        })
        .collect();
    let started = t.elapsed().as_secs_f64();
    for (i, d) in daemons.iter_mut().enumerate() {
        d.scan(&format!("OP:{i:04}"));
        d.expect_line();
    }
    let counter = common::Counter::start(port, "wh/+/st/+/events", true);
    let bare_counter = common::Counter::start(port, "bare/#", true);
    std::thread::sleep(Duration::from_secs(1));
    let per_conn_kb = (rss_mb(broker.pid()) - broker_idle) * 1024.0 / n as f64;
    println!("{n} stations started in {started:.1} s (spawn → READY=1 of all); broker RSS {per_conn_kb:.0} KB per connected station");
    record("scale", &format!("{n} stations: broker RSS per connected station"), per_conn_kb, "KB", "lower", None, None);

    for phase in phases {
        counter.ages.lock().unwrap().clear();
        let (c0, b0) = (counter.count(), counter.bytes.load(std::sync::atomic::Ordering::Relaxed));
        let pids: Vec<u32> = daemons.iter().map(|d| d.pid() as u32).collect();
        let broker_cpu = common::cpu_seconds(broker.pid());
        let stations_cpu: f64 = pids.iter().map(|p| common::cpu_seconds(*p)).sum();
        let per = (phase.per_station * phase.secs).round() as usize;
        let gap = Duration::from_secs_f64(1.0 / phase.per_station);
        let start = Instant::now() + Duration::from_millis(100);
        let threads: Vec<_> = daemons
            .drain(..)
            .enumerate()
            .map(|(i, mut d)| {
                // Stations start spread over one interval, as packers do not scan in step.
                let first = start + gap.mul_f64(i as f64 / n as f64);
                std::thread::spawn(move || {
                    let mut lat = Vec::with_capacity(per);
                    for k in 0..per {
                        let at = first + gap * k as u32;
                        std::thread::sleep(at.saturating_duration_since(Instant::now()));
                        let t = Instant::now();
                        d.scan(&format!("40063813{i:03}{k:04}"));
                        let line = d.expect_line();
                        assert!(support::parse_confirmed(&line).is_some(), "not durable: {line}");
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    (d, lat)
                })
            })
            .collect();
        let mut scan_lat = Vec::new();
        for th in threads {
            let (d, lat) = th.join().expect("station thread");
            daemons.push(d);
            scan_lat.extend(lat);
        }
        let expected = c0 + (n * per) as u64;
        let got = counter.wait_for(expected, Duration::from_secs(60)) - c0;
        let wall = start.elapsed().as_secs_f64().max(phase.secs);
        let rate = got as f64 / wall;
        let offered = n as f64 * phase.per_station;
        let bytes = (counter.bytes.load(std::sync::atomic::Ordering::Relaxed) - b0) as f64 / got.max(1) as f64;
        let broker_cpu = (common::cpu_seconds(broker.pid()) - broker_cpu) / wall * 100.0;
        let stations_cpu = (pids.iter().map(|p| common::cpu_seconds(*p)).sum::<f64>() - stations_cpu) / wall * 100.0;
        let rss: Vec<f64> = pids.iter().map(|p| rss_mb(*p)).collect();
        let rss_mean = rss.iter().sum::<f64>() / rss.len() as f64;
        let anon = pids.iter().map(|p| common::status_mb(&p.to_string(), "RssAnon")).sum::<f64>() / n as f64;
        let ages = counter.ages.lock().unwrap().clone();
        let (e50, e99) = (pct(&ages, 0.5), pct(&ages, 0.99));
        let (s50, s99) = (pct(&scan_lat, 0.5), pct(&scan_lat, 0.99));
        let (b50, b99) = bare_e2e(port, &bare_counter, offered, phase.secs.min(10.0));
        println!(
            "{n:>5} {:<38} {offered:>9.1} {rate:>9.1} {:>13} {:>15} {:>14} {:>18} {bytes:>8.0} {:>9.1}% {:>11.1}%",
            phase.name,
            format!("{e50:.0}/{e99:.0} ms"),
            format!("{b50:.0}/{b99:.0} ms"),
            format!("{s50:.1}/{s99:.1} ms"),
            format!("{rss_mean:.1} ({anon:.1}) MB"),
            broker_cpu,
            stations_cpu,
        );
        if got < (n * per) as u64 {
            println!("      ({} of {} events had not arrived 60 s after the last scan)", got, n * per);
        }
        let what = format!("{n} stations, {}", phase.name);
        let offered_b = Some(("offered, scans/s", offered));
        record("scale", &format!("{what}: events/s at the cloud"), rate, "events/s", "higher", offered_b, None);
        let bare = Some(("bare rumqttc publisher at the same rate, p50", b50));
        record("scale", &format!("{what}: end-to-end age p50"), e50, "ms", "lower", bare, None);
        let bare = Some(("bare rumqttc publisher at the same rate, p99", b99));
        record("scale", &format!("{what}: end-to-end age p99"), e99, "ms", "lower", bare, None);
        record("scale", &format!("{what}: scan → feedback p99"), s99, "ms", "lower", None, None);
        record("scale", &format!("{what}: RSS per station (mean)"), rss_mean, "MB", "lower", None, None);
        record("scale", &format!("{what}: anonymous RSS per station (mean)"), anon, "MB", "lower", None, None);
        record("scale", &format!("{what}: broker CPU"), broker_cpu, "% of a core", "lower", None, None);
        record(
            "scale",
            &format!("{what}: stations' CPU per station"),
            stations_cpu / n as f64,
            "% of a core",
            "lower",
            None,
            None,
        );
        if n == 10 && phase.per_station < 1.0 {
            record("scale", "bytes per event on the wire (payload)", bytes, "B", "lower", None, None);
        }
    }
    drop(counter);
    drop(bare_counter);
    for d in &daemons {
        d.signal(libc::SIGTERM);
    }
    for mut d in daemons {
        d.wait_exit(Duration::from_secs(20));
    }
    let _ = std::fs::remove_dir_all(base.join(format!("n{n}")));
}

/// Broker + subscriber alone: a bare rumqttc QoS 1 publisher sending envelopes stamped
/// with the current time at `rate` per second for `secs`; the subscriber's age p50/p99.
fn bare_e2e(port: u16, counter: &common::Counter, rate: f64, secs: f64) -> (f64, f64) {
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    counter.ages.lock().unwrap().clear();
    let c0 = counter.count();
    let total = (rate * secs).round() as usize;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new(format!("bare-e2e-{}", std::process::id()), "127.0.0.1", port);
        o.set_inflight(100);
        let (client, mut el) = AsyncClient::new(o, 200);
        let poller = tokio::spawn(async move { while el.poll().await.is_ok() {} });
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        for seq in 0..total {
            tick.tick().await;
            // Milliseconds, as the journal stamps `at`.
            let now = time::OffsetDateTime::now_utc();
            let now = now.replace_millisecond(now.millisecond()).unwrap();
            let at = now.format(&time::format_description::well_known::Rfc3339).unwrap();
            let env = serde_json::json!({"v":1,"id":"01937c2e-7d0a-7b7c-9c1e-2b0f3c4d5e6f","seq":seq,"warehouse":"WH1",
                "station":"BARE","at":at,"kind":"scan.received","data":{"scanner":"gun","code":"4006381333931"}});
            client.publish("bare/events", QoS::AtLeastOnce, false, env.to_string()).await.unwrap();
        }
        let _ = tokio::task::spawn_blocking({
            let want = c0 + total as u64;
            let count = counter.count.clone();
            move || {
                let start = Instant::now();
                while count.load(std::sync::atomic::Ordering::Relaxed) < want
                    && start.elapsed() < Duration::from_secs(30)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
        .await;
        let _ = client.disconnect().await;
        poller.abort();
    });
    let ages = counter.ages.lock().unwrap().clone();
    (pct(&ages, 0.5), pct(&ages, 0.99))
}
