//! The pack flow on the real binary: a PTY scanner, the TCP printer simulator, a real
//! Mosquitto and an in-test order system over HTTP. The cloud must see the right events in
//! the right order, whether the broker is up, down throughout and back, or the order system
//! fails.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stationd_drivers::sim::PrinterSim;
use support::{pty, Answer, Broker, Cloud, Daemon, OrderSystem, Proxy, Pty, StationDir};

const PREFIX: &str = "wh/WH1/st/PACK-T";
const EAN: &str = "4006381333931";

fn order(id: &str, state: &str, tracking: &str) -> Value {
    json!({"id": id, "state": state, "carrier": "DHL", "tracking": tracking,
           "ship_to": {"name": "Example Customer", "city": "Berlin", "country": "DE"},
           "lines": [{"line": 1, "sku": "SKU-1", "name": "Mug", "qty": 2, "barcodes": [EAN]},
                     {"line": 2, "sku": "SKU-B", "name": "Lid", "qty": 1}]})
}

/// A multi-role station (pack and ship) with a PTY scanner and a ZPL label printer.
fn station(mqtt_port: u16, sim: &PrinterSim, link: &std::path::Path, orders: &str) -> StationDir {
    let extra = format!(
        "[[scanner]]\nname = \"gun\"\nkind = \"serial\"\npath = \"{}\"\nbaud = 115200\n\n\
         [[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"zpl\"\nrole = \"label\"\n\n\
         [barcodes]\ntracking_pattern = \"^JJD[0-9]{{10}}$\"\n\n{orders}",
        link.display(),
        sim.addr
    );
    let s = StationDir::with_broker(mqtt_port, &extra);
    let text = std::fs::read_to_string(&s.config).unwrap().replace("role = \"pack\"", "role = \"multi\"");
    std::fs::write(&s.config, text).unwrap();
    s
}

/// Scans `code` on the PTY and returns the feedback line that answers it.
fn scan(daemon: &Daemon, pty: &mut Pty, code: &str) -> String {
    pty.master.write_all(format!("{code}\r").as_bytes()).unwrap();
    wait_line(daemon, Duration::from_secs(10), |l| l.starts_with("ok ") || l.starts_with("error "))
}

fn wait_line(daemon: &Daemon, timeout: Duration, want: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        match daemon.line(left) {
            Some(l) if want(&l) => return l,
            Some(_) => {}
            None => {
                panic!("no such feedback within {timeout:?}; stderr:\n{}\n{}", daemon.stderr(), daemon.thread_stacks())
            }
        }
    }
}

fn wait_scanner(daemon: &Daemon) {
    let start = Instant::now();
    // Generous: on a loaded 2-core CI box the first open can take a while; this is not a latency check.
    while !daemon.stderr().contains("scanner ready") {
        assert!(start.elapsed() < Duration::from_secs(15), "scanner not ready in 15 s:\n{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Events of the cloud's subscription until `done` holds for one.
fn events_until(rx: &std::sync::mpsc::Receiver<(String, Vec<u8>)>, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let (_, p) = rx.recv_timeout(Duration::from_secs(20)).expect("events keep coming");
        let e: Value = serde_json::from_slice(&p).unwrap();
        let stop = done(&e);
        out.push(e);
        if stop {
            return out;
        }
    }
}

fn transitions(events: &[Value], id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "order.state" && e["order"] == id)
        .map(|e| format!("{}>{}", e["data"]["from"].as_str().unwrap(), e["data"]["to"].as_str().unwrap()))
        .collect()
}

/// Order, items (one wrong), label confirmed, ship scan; returns the label bytes.
fn pack_and_ship(daemon: &Daemon, p: &mut Pty, sim: &PrinterSim, id: &str, tracking: &str) {
    let l = scan(daemon, p, id);
    assert!(l.contains(&format!("order.opened {id} for packing (0/3 items)")), "{l}");
    assert!(scan(daemon, p, EAN).contains("item.verified SKU-1 line 1 (1/2)"));
    let l = scan(daemon, p, "5012345678900");
    assert!(l.starts_with(&format!("error wrong_item: 5012345678900 is not on order {id}")), "{l}");
    assert!(scan(daemon, p, EAN).contains("(2/2)"));
    let jobs_before = sim.jobs().len();
    assert!(scan(daemon, p, "SKU-B").contains("item.verified SKU-B"));
    let l = wait_line(daemon, Duration::from_secs(10), |l| l.contains("labelled"));
    assert!(l.starts_with("ok ") && l.contains(&format!("order {id} labelled")), "{l}");
    let jobs = sim.wait_jobs(jobs_before + 1, Duration::from_secs(2));
    assert_eq!(jobs.len(), jobs_before + 1, "one label");
    let label = String::from_utf8_lossy(jobs.last().unwrap()).to_string();
    assert!(label.contains(tracking) && label.contains("Example Customer"), "{label}");
    assert!(scan(daemon, p, tracking).contains(&format!("order {id} shipped")));
}

/// The station's devices: a label printer simulator and a PTY scanner under a by-id style
/// link in `dir`.
struct Devices {
    sim: PrinterSim,
    dir: tempfile::TempDir,
    link: std::path::PathBuf,
    pty: Pty,
}

fn devices() -> Devices {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Honeywell_1900-if00");
    let pty = pty(&link);
    Devices { sim: PrinterSim::start(), dir, link, pty }
}

#[test]
fn a_packer_packs_and_ships_an_order_and_the_cloud_sees_each_step_in_order() {
    let broker = Broker::start();
    let Devices { sim, dir: _dir, link, pty: mut p } = devices();
    let station = station(broker.port, &sim, &link, "");
    let (_sub, events) = support::subscriber(broker.port, &format!("{PREFIX}/events"));
    let daemon = station.spawn();
    daemon.wait_started();
    wait_scanner(&daemon);
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let r =
        cloud.send("order-upsert", json!({"request_id": "u-1", "order": order("SO-1001", "picked", "JJD0000000001")}));
    assert_eq!(r["ok"], true, "{r}");

    assert!(scan(&daemon, &mut p, "OP:0017").starts_with("ok "), "login");
    pack_and_ship(&daemon, &mut p, &sim, "SO-1001", "JJD0000000001");

    let seen = events_until(&events, |e| e["kind"] == "order.state" && e["data"]["to"] == "shipped");
    assert_eq!(
        transitions(&seen, "SO-1001"),
        ["picked>packing", "packing>packed", "packed>labelled", "labelled>shipped"]
    );
    let kinds: Vec<&str> =
        seen.iter().map(|e| e["kind"].as_str().unwrap()).filter(|k| !k.starts_with("print.")).collect();
    assert_eq!(
        kinds,
        [
            "command.accepted",
            "order.received",
            "operator.login",
            "order.opened",
            "order.state",
            "item.verified",
            "item.rejected",
            "item.verified",
            "item.verified",
            "order.state",
            "order.state",
            "label.printed",
            "ship.scanned",
            "order.state"
        ]
    );
    let seqs: Vec<u64> = seen.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap-free, in order: {seqs:?}");
    let rejected = seen.iter().find(|e| e["kind"] == "item.rejected").unwrap();
    assert_eq!(
        (rejected["data"]["error"]["code"].as_str(), rejected["operator"].as_str()),
        (Some("wrong_item"), Some("OP:0017"))
    );
    // A second order straight after: nothing blocks the next one.
    cloud.send("order-upsert", json!({"request_id": "u-2", "order": order("SO-1002", "picked", "JJD0000000002")}));
    pack_and_ship(&daemon, &mut p, &sim, "SO-1002", "JJD0000000002");
}

#[test]
fn with_the_broker_down_throughout_the_station_works_from_its_cache_and_the_order_system_and_catches_up() {
    let broker = Broker::start();
    let proxy = Proxy::start(broker.port);
    let Devices { sim, dir, link, pty: mut p } = devices();
    // The order system fails twice with 500 before answering, and its clock is 90 s behind.
    let oms = OrderSystem::start(
        vec![
            (
                "/api/orders/SO-7",
                vec![
                    Answer::Status(500),
                    Answer::Status(500),
                    Answer::Json(json!({"order": order("SO-7", "picked", "JJD0000000007")})),
                ],
            ),
            ("/api/orders/SO-7/label", vec![Answer::Text("^XA^FO50,50^FDCARRIER LABEL SO-7^FS^XZ".into())]),
        ],
        -90,
    );
    let token = dir.path().join("oms.token");
    std::fs::write(&token, "s3cret\n").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let orders = format!(
        "[orders]\nurl = \"{}\"\ntoken_file = \"{}\"\nid_pattern = \"^SO-[0-9]+$\"\nfetch_labels = true\n",
        oms.url,
        token.display()
    );
    proxy.set_blackhole(true);
    let station = station(proxy.port, &sim, &link, &orders);
    let daemon = station.spawn();
    daemon.wait_started();
    wait_scanner(&daemon);

    assert!(scan(&daemon, &mut p, "OP:0017").starts_with("ok "));
    let l = scan(&daemon, &mut p, "SO-7");
    assert!(l.starts_with("ok ") && l.contains("looking up order SO-7"), "{l}");
    // The order system's clock is 90 s behind: an alert, then the order opens.
    let alert = wait_line(&daemon, Duration::from_secs(10), |l| l.starts_with("alert clock_skew"));
    assert!(alert.contains("ahead of order system"), "{alert}");
    let l = wait_line(&daemon, Duration::from_secs(10), |l| l.contains("order.opened"));
    assert!(l.contains("order.opened SO-7 for packing"), "{l}");
    let hits = oms.hits.lock().unwrap().clone();
    assert_eq!(hits.iter().filter(|h| h.starts_with("/api/orders/SO-7 ")).count(), 3, "two 500s retried: {hits:?}");
    assert!(hits.iter().all(|h| h.ends_with("Bearer s3cret")), "{hits:?}");
    for code in [EAN, EAN, "SKU-B"] {
        assert!(scan(&daemon, &mut p, code).starts_with("ok "));
    }
    wait_line(&daemon, Duration::from_secs(10), |l| l.contains("order SO-7 labelled"));
    // The order carried no label: the carrier's came from the order system, and is printed
    // as it came after the station's resets (so it starts from the station's known state).
    let label = String::from_utf8_lossy(sim.wait_jobs(1, Duration::from_secs(2)).last().unwrap()).to_string();
    let resets = stationd_drivers::zpl_state::resets(203);
    assert_eq!(label, format!("^XA{resets}^FO50,50^FDCARRIER LABEL SO-7^FS^XZ"));
    assert_eq!(sim.labels().last().unwrap().settings, stationd_drivers::zpl_state::Settings::station(203));
    assert!(scan(&daemon, &mut p, "JJD0000000007").contains("order SO-7 shipped"));
    assert!(support::queue_status(&station)["pending"].as_u64().unwrap() > 10, "all of it waits in the journal");

    // The broker comes back: the cloud gets everything, in order, with the skew marked.
    let (_sub, events) = support::subscriber(broker.port, &format!("{PREFIX}/events"));
    proxy.set_blackhole(false);
    let seen = events_until(&events, |e| e["kind"] == "order.state" && e["data"]["to"] == "shipped");
    assert_eq!(transitions(&seen, "SO-7"), ["picked>packing", "packing>packed", "packed>labelled", "labelled>shipped"]);
    assert_eq!(seen[0]["seq"], 1, "from the first event");
    let skew = seen.iter().find(|e| e["kind"] == "clock.skew").expect("clock.skew event");
    assert!(skew["data"]["skew_ms"].as_i64().unwrap() > 80_000, "{skew}");
    let shipped = seen.last().unwrap();
    assert!(shipped["data"]["clock"]["skew_ms"].as_i64().unwrap() > 80_000, "events carry the skew: {shipped}");
}

#[test]
fn an_order_system_that_stalls_or_fails_gives_unknown_order_and_blocks_nothing() {
    let broker = Broker::start();
    let Devices { sim, dir: _dir, link, pty: mut p } = devices();
    let oms = OrderSystem::start(
        vec![("/api/orders/SO-8", vec![Answer::Stall]), ("/api/orders/SO-9", vec![Answer::Status(503)])],
        0,
    );
    let orders = format!("[orders]\nurl = \"{}\"\nid_pattern = \"^SO-[0-9]+$\"\n", oms.url);
    let station = station(broker.port, &sim, &link, &orders);
    let daemon = station.spawn();
    daemon.wait_started();
    wait_scanner(&daemon);
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    cloud.send("order-upsert", json!({"request_id": "u-1", "order": order("SO-1", "picked", "JJD0000000001")}));

    assert!(scan(&daemon, &mut p, "OP:0017").starts_with("ok "));
    let asked = Instant::now();
    assert!(scan(&daemon, &mut p, "SO-8").contains("looking up order SO-8"));
    // While the order system stalls, the packer goes on with a cached order at once.
    let opened = Instant::now();
    let l = scan(&daemon, &mut p, "SO-1");
    assert!(l.contains("order.opened SO-1"), "{l}");
    assert!(opened.elapsed() < Duration::from_secs(1), "not blocked by the lookup");
    // The station's view (what the status page shows) while the daemon runs.
    let w = support::queue_status(&station)["workflow"].clone();
    assert_eq!((w["operator"]["badge"].as_str(), w["order"]["id"].as_str()), (Some("OP:0017"), Some("SO-1")), "{w}");
    assert_eq!(w["order"]["lines"][0]["qty"], 2, "{w}");
    let l = wait_line(&daemon, Duration::from_secs(15), |l| l.contains("SO-8 could not be found"));
    // The packer moved on: an alert, not an error answer to a scan.
    assert!(
        l.starts_with("alert unknown_order: order SO-8 could not be found: the order system did not answer"),
        "{l}"
    );
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_secs(6) && waited < Duration::from_secs(10), "3 attempts of 2 s: {waited:?}");
    // 503 thrice: unknown order, reported with the reason; the next scan works.
    scan(&daemon, &mut p, "SO-9");
    let l = wait_line(&daemon, Duration::from_secs(10), |l| l.contains("SO-9 could not be found"));
    assert!(l.starts_with("error unknown_order:") && l.contains("503"), "{l}");
    assert!(scan(&daemon, &mut p, EAN).contains("item.verified"), "SO-1 is still open");
    let kinds: Vec<String> = station.export().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "order.unknown").count(), 2, "{kinds:?}");
}

/// Carrier label fetches are limited per carrier: a carrier whose service stalls uses up its
/// own slots and times out; another carrier's label comes at once.
#[test]
fn one_stalling_carrier_never_delays_another_carriers_labels() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let oms_server = OrderSystem::start(
        vec![
            ("/api/orders/SLOW-1/label", vec![Answer::Stall]),
            ("/api/orders/SLOW-2/label", vec![Answer::Stall]),
            ("/api/orders/SLOW-3/label", vec![Answer::Stall]),
            ("/api/orders/FAST-1/label", vec![Answer::Text("^XA^FDfast^FS^XZ".into())]),
            ("/api/orders/BAD-1/label", vec![Answer::Text("<html>oops</html>".into())]),
        ],
        0,
    );
    let cfg = stationd::config::OrdersConfig {
        url: Some(oms_server.url.parse().unwrap()),
        fetch_labels: true,
        label_timeout: Duration::from_millis(1500),
        label_concurrency: 2,
        ..Default::default()
    };
    let oms = stationd::oms::Oms::from_config(&cfg).unwrap().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let slow: Vec<_> = (1..=3)
            .map(|i| {
                let oms = oms.clone();
                tokio::spawn(async move { oms.fetch_label(&format!("SLOW-{i}"), "SLOWPOST").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fast = oms.fetch_label("FAST-1", "DHL").await;
        assert_eq!(fast.unwrap(), b"^XA^FDfast^FS^XZ");
        assert!(start.elapsed() < Duration::from_millis(800), "not held up by the stalling carrier");
        for s in slow {
            let e = s.await.unwrap().unwrap_err();
            assert!(e.starts_with("SLOWPOST label: no answer within"), "{e}");
        }
        let e = oms.fetch_label("BAD-1", "DHL").await.unwrap_err();
        assert_eq!(e, "DHL label: refused: text at byte 0 is outside the ^XA ... ^XZ format");
    });
}
