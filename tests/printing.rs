//! Printing through the daemon to the TCP printer simulator: labels rendered from orders,
//! printer states, a connection dropped mid-job (never resent), repeats never print twice,
//! and labels that print the same whatever an earlier job left set on the printer.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use stationd_drivers::sim::{PrinterSim, SimState};
use stationd_drivers::zpl_state::{Printer, Settings};
use support::{Broker, Cloud, StationDir};

const PREFIX: &str = "wh/WH1/st/PACK-T";

fn station(broker: &Broker, sim: &PrinterSim) -> StationDir {
    StationDir::with_label_printer(broker.port, &sim.addr.to_string())
}

/// A running station with the simulator as its label printer, and a cloud client on its
/// command topics.
fn running(broker: &Broker, sim: &PrinterSim) -> (StationDir, support::Daemon, Cloud) {
    let station = station(broker, sim);
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    (station, daemon, cloud)
}

fn wait_until(what: &str, timeout: Duration, ok: impl Fn() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what} not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kinds(station: &StationDir, prefix: &str) -> Vec<String> {
    station
        .export()
        .iter()
        .filter_map(|e| e["kind"].as_str().filter(|k| k.starts_with(prefix)).map(str::to_string))
        .collect()
}

#[test]
fn an_order_label_is_rendered_escaped_printed_once_and_confirmed() {
    let broker = Broker::start();
    let sim = PrinterSim::start();
    let (station, _daemon, cloud) = running(&broker, &sim);
    let order = json!({"request_id":"u1","order":{"id":"SO-1001","carrier":"DHL","service":"parcel","tracking":"JJD0001234567",
        "ship_to":{"name":"Evil ^XZ Customer","street":"Hauptstr. 5","city":"Berlin","postcode":"10115","country":"DE"},
        "lines":[{"line":1,"sku":"SKU-1","qty":1}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    let r = cloud.send("print", json!({"request_id":"p1","document":"label","order":"SO-1001"}));
    assert_eq!((r["ok"].as_bool(), r["printer"].as_str()), (Some(true), Some("label")), "{r}");
    wait_until("label at the printer", Duration::from_secs(10), || sim.jobs().len() == 1);
    let zpl = String::from_utf8(sim.jobs()[0].clone()).unwrap();
    assert!(zpl.starts_with("^XA") && zpl.trim_end().ends_with("^XZ"), "{zpl}");
    assert!(zpl.contains("Evil _5EXZ Customer"), "the address cannot end the label early: {zpl}");
    assert!(zpl.contains("JJD0001234567") && zpl.contains("SO-1001"));
    wait_until("print.confirmed journaled", Duration::from_secs(10), || {
        kinds(&station, "print.").contains(&"print.confirmed".to_string())
    });

    // The same request again: answered as a repeat, nothing printed.
    let r = cloud.send("print", json!({"request_id":"p1","document":"label","order":"SO-1001"}));
    assert_eq!(r["duplicate"], true, "{r}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.jobs().len(), 1, "a repeated command never prints twice");

    // Unknown printers and orders are refused.
    let r = cloud.send("print", json!({"request_id":"p2","document":"label","order":"SO-404"}));
    assert_eq!(r["error"]["code"], "unknown_order", "{r}");
    let r = cloud.send("print", json!({"request_id":"p3","document":"test","printer":"nope"}));
    assert_eq!(r["error"]["code"], "unknown_printer", "{r}");
}

#[test]
fn paper_out_holds_the_job_and_it_prints_once_when_paper_is_back() {
    let broker = Broker::start();
    let sim = PrinterSim::start();
    sim.set_state(SimState::PaperOut);
    let station = station(&broker, &sim);
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    let (_c, devices) = support::subscriber(broker.port, &format!("{PREFIX}/devices/label"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cloud.send("print", json!({"request_id":"t1","document":"test"}))["ok"], true);
    let (_, state) = devices.recv_timeout(Duration::from_secs(10)).expect("device state published");
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    assert_eq!((state["kind"].as_str(), state["state"].as_str()), (Some("printer"), Some("paper_out")), "{state}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(sim.jobs().is_empty(), "nothing sent to a printer without paper");
    assert!(daemon.stderr().contains("printer cannot print"), "{}", daemon.stderr());

    // Held for a while: the printer's status is read again and again, but the job is not
    // recorded `sending` for each look (a crash then would fail a label never sent).
    std::thread::sleep(Duration::from_millis(1500));

    sim.set_state(SimState::Ready);
    wait_until("the job after paper is loaded", Duration::from_secs(10), || sim.jobs().len() == 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.jobs().len(), 1);
    let (_, state) = devices.recv_timeout(Duration::from_secs(10)).expect("ready again");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&state).unwrap()["state"], "ready");
    let confirmed = station.export().into_iter().find(|e| e["kind"] == "print.confirmed").expect("print.confirmed");
    assert_eq!(confirmed["data"]["attempts"], 2, "the refused first attempt and the one that printed: {confirmed}");
}

#[test]
fn a_connection_dropped_mid_job_is_never_resent_and_100_labels_all_print() {
    let broker = Broker::start();
    let sim = PrinterSim::start();
    sim.set_state(SimState::DropAfter(40));
    let (station, _daemon, cloud) = running(&broker, &sim);
    assert_eq!(cloud.send("print", json!({"request_id":"d1","document":"test"}))["ok"], true);
    wait_until("the outcome journaled", Duration::from_secs(10), || {
        let k = kinds(&station, "print.");
        k.contains(&"print.failed".to_string()) || k.contains(&"print.sent".to_string())
    });
    sim.set_state(SimState::Ready);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sim.jobs().len(), 1, "the cut job is not sent a second time");
    assert!(sim.jobs()[0].len() <= 40);

    let start = Instant::now();
    for i in 0..10 {
        let r = cloud.send("print", json!({"request_id":format!("many-{i}"),"document":"test","copies":10}));
        assert_eq!(r["ok"], true, "{r}");
    }
    wait_until("100 labels", Duration::from_secs(30), || sim.jobs().len() == 101);
    eprintln!("100 labels queued and printed in {:?}", start.elapsed());
    wait_until("100 confirmations", Duration::from_secs(10), || kinds(&station, "print.confirmed").len() == 100);
}

#[test]
fn print_test_reports_what_the_printer_said() {
    let sim = PrinterSim::start();
    let station =
        StationDir::new("", &format!("[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\n", sim.addr));
    let o = support::stationd(&["print-test", "--printer", "label", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr_of(&o));
    assert!(support::stdout_of(&o).contains("label: printed and confirmed"), "{}", support::stdout_of(&o));
    assert!(String::from_utf8_lossy(&sim.wait_jobs(1, Duration::from_secs(2))[0]).contains("stationd test label"));
    sim.set_state(SimState::PaperOut);
    let o = support::stationd(&["print-test", "--printer", "label", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(support::stderr_of(&o).contains("not printed: printer is paper_out"), "{}", support::stderr_of(&o));
    let o = support::stationd(&["print-test", "--printer", "nope", "--config", station.config_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(support::stderr_of(&o).contains("no printer named \"nope\" (configured: label)"));
}

#[test]
fn a_custom_label_template_is_checked_at_load_and_used() {
    let broker = Broker::start();
    let sim = PrinterSim::start();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.zpl");
    std::fs::write(&bad, "^XA\n^FO1,1^FD{{order.id}}^FS\n^XZ\n").unwrap();
    let station = StationDir::new(
        "",
        &format!(
            "[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\ntemplate = \"{}\"\n",
            sim.addr,
            bad.display()
        ),
    );
    let o = support::stationd(&["check-config", station.config_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        support::stderr_of(&o).contains("line 2: placeholder {{order.id}} is not in a ^FH^FD field"),
        "{}",
        support::stderr_of(&o)
    );

    let good = dir.path().join("mine.zpl");
    std::fs::write(&good, "^XA\n^FO1,1^FH^FDMY LABEL {{order.id}} {{ship_to.name}}^FS\n^XZ\n").unwrap();
    let station = StationDir::with_broker(
        broker.port,
        &format!(
            "[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\ntemplate = \"{}\"\n",
            sim.addr,
            good.display()
        ),
    );
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let order =
        json!({"request_id":"u","order":{"id":"SO-7","ship_to":{"name":"Ann"},"lines":[{"line":1,"sku":"A","qty":1}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    assert_eq!(cloud.send("print", json!({"request_id":"p","document":"label","order":"SO-7"}))["ok"], true);
    wait_until("custom label", Duration::from_secs(10), || sim.jobs().len() == 1);
    let resets = stationd_drivers::zpl_state::resets(203);
    assert_eq!(
        String::from_utf8_lossy(&sim.jobs()[0]),
        format!("^XA{resets}\n^FO1,1^FH^FDMY LABEL SO-7 Ann^FS\n^XZ\n")
    );
}

#[test]
fn an_absent_usb_printer_is_offline_and_the_station_runs() {
    let station = StationDir::new("", "[[printer]]\nname = \"zebra\"\nkind = \"usb\"\ndevice = \"dead:beef\"\n");
    let daemon = station.spawn();
    daemon.wait_started();
    wait_until("printer reported offline", Duration::from_secs(10), || {
        daemon.stderr().contains("printer cannot print")
    });
    assert!(daemon.stderr().contains("state=offline"), "{}", daemon.stderr());
}

#[test]
fn a_packing_slip_goes_to_the_escpos_slip_printer() {
    let broker = Broker::start();
    let labels = PrinterSim::start();
    let slips = PrinterSim::start();
    let station = StationDir::with_broker(
        broker.port,
        &format!(
            "[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\n[[printer]]\nname = \"slip\"\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"escpos\"\nrole = \"slip\"\n",
            labels.addr, slips.addr
        ),
    );
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let order = json!({"request_id":"u","order":{"id":"SO-9","ship_to":{"name":"Ann","city":"Berlin"},
        "lines":[{"line":1,"sku":"SKU-1","name":"Müg","qty":2}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    let r = cloud.send("print", json!({"request_id":"s","document":"slip","order":"SO-9"}));
    assert_eq!(r["printer"], "slip", "{r}");
    wait_until("slip printed", Duration::from_secs(10), || slips.jobs().len() == 1);
    let slip = slips.jobs()[0].clone();
    let text = String::from_utf8_lossy(&slip);
    assert!(slip.starts_with(b"\x1b@\x1bt\x13"), "code page PC858 selected: {text:?}");
    // Quantity, SKU and name in their columns; ü is 0x81 in PC858.
    assert!(text.contains("Order SO-9") && slip.windows(15).any(|w| w == b"   2 SKU-1  M\x81g"), "{text:?}");
    assert!(labels.jobs().is_empty());
}

/// A job that leaves the printer shifted, reversed, mirrored, upside down, moved down, with
/// rotated fields and another default font: sent straight to the printer's port, as another
/// program (or an old carrier label) would, not through the station.
const HOSTILE_JOB: &[u8] = b"^XA^LS9999^LRY^PMY^POI^LT120^FWR^CFD,40,20^FO10,10^FDleft behind^FS^XZ";

fn send_straight(sim: &PrinterSim, bytes: &[u8]) {
    use std::io::Write;
    let mut printer = std::net::TcpStream::connect(sim.addr).unwrap();
    printer.write_all(bytes).unwrap();
    drop(printer);
    wait_until("the job left on the printer", Duration::from_secs(10), || sim.labels().len() == 1);
    let left = &sim.labels()[0].settings;
    assert!(
        left.label_shift == 9999 && left.reverse && left.mirror && left.inverted && left.label_top == 120,
        "{left:?}"
    );
}

/// Prints SO-31's label through a station using `printer` (a `[[printer]]` table) after
/// [`HOSTILE_JOB`]; returns the settings the simulator printed it with, and those the same
/// bytes print with on a printer just switched on.
fn print_after_a_hostile_job(sim: &PrinterSim, printer: &str) -> (Settings, Settings) {
    let broker = Broker::start();
    send_straight(sim, HOSTILE_JOB);
    let station = StationDir::with_broker(broker.port, printer);
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let order = json!({"request_id":"u","order":{"id":"SO-31","carrier":"DHL","tracking":"JJD0001234567",
        "ship_to":{"name":"Ann","city":"Berlin"},"lines":[{"line":1,"sku":"A","qty":1}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    assert_eq!(cloud.send("print", json!({"request_id":"p","document":"label","order":"SO-31"}))["ok"], true);
    wait_until("the station's label", Duration::from_secs(10), || sim.labels().len() == 2);
    let printed = sim.labels()[1].clone();
    assert_eq!(printed.job, 1, "{:?}", sim.labels());
    let mut fresh = Printer::new();
    fresh.feed(&sim.jobs()[1]);
    (printed.settings, fresh.printed()[0].settings.clone())
}

#[test]
fn the_built_in_label_prints_unchanged_after_a_job_that_shifted_mirrored_and_turned_the_printer() {
    let sim = PrinterSim::start();
    let printer = format!("[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\n", sim.addr);
    let (after, fresh) = print_after_a_hostile_job(&sim, &printer);
    assert_eq!(after, fresh, "the label prints as on a printer just switched on");
    let station = Settings::station(203);
    assert_eq!(Settings { bar_code: station.bar_code, ..after }, station, "only its own bar code module differs");
    let zpl = String::from_utf8(sim.jobs()[1].clone()).unwrap();
    assert!(zpl.contains("JJD0001234567"), "the built-in label: {zpl}");
}

#[test]
fn a_template_label_prints_unchanged_after_a_job_that_shifted_mirrored_and_turned_the_printer() {
    let sim = PrinterSim::start();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("mine.zpl");
    // A template that sets nothing but its fields, as an admin may write one.
    std::fs::write(&template, "^XA\n^FO40,40^A0N,30,30^FH^FDMY LABEL {{order.id}}^FS\n^XZ\n").unwrap();
    let printer = format!(
        "[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{}\"\ndpi = 300\ntemplate = \"{}\"\n",
        sim.addr,
        template.display()
    );
    let (after, fresh) = print_after_a_hostile_job(&sim, &printer);
    assert_eq!((&after, &fresh), (&Settings::station(300), &Settings::station(300)));
    let zpl = String::from_utf8(sim.jobs()[1].clone()).unwrap();
    assert!(zpl.starts_with("^XA^LS0^LRN^PMN^PON^LT0^FWN"), "the station's resets right after ^XA: {zpl}");
    assert!(zpl.ends_with("\n^FO40,40^A0N,30,30^FH^FDMY LABEL SO-31^FS\n^XZ\n"), "then the template as written: {zpl}");
}

#[test]
fn a_carrier_label_that_would_change_later_labels_is_refused_by_command_and_byte_and_changes_nothing() {
    let broker = Broker::start();
    let sim = PrinterSim::start();
    let (station, _daemon, cloud) = running(&broker, &sim);
    let order = |rid: &str, zpl: &str| {
        json!({"request_id": rid, "order": {"id": "SO-50", "carrier": "DHL", "label": {"format": "zpl", "data": zpl},
               "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}})
    };
    let good = "^XA^CI28^FWN^CF0,30^FO50,50^FDDHL Paket^FS^BY3^FO50,100^BCN,100^FDJJD01^FS^XZ";
    assert_eq!(cloud.send("order-upsert", order("good", good))["ok"], true);
    let orders_journal = || -> Vec<serde_json::Value> {
        station.export().into_iter().filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("order."))).collect()
    };
    let before = orders_journal();
    for (i, (zpl, named)) in [
        ("^XA^LS9999^FO1,1^FDx^FS^XZ", "^LS9999 at byte 3"),
        ("^XA^FO1,1^LRY^FDx^FS^XZ", "^LRY at byte 9"),
        ("^XA^PMY^FO1,1^FDx^FS^XZ", "^PMY at byte 3"),
        ("^XA^FO1,1^FDx^FS^POI^XZ", "^POI at byte 16"),
        ("^XA^LT120^FO1,1^FDx^FS^XZ", "^LT120 at byte 3"),
        ("^XA^FO1,1^FDa ^LS10 b^FS^XZ", "^LS10 at byte 14"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = cloud.send("order-upsert", order(&format!("bad-{i}"), zpl));
        assert_eq!(r["error"]["code"], "invalid_field", "{zpl}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("order.label.data: {named} ")), "{zpl}: {message}");
        assert!(message.contains("every later label"), "{message}");
    }
    assert_eq!(orders_journal(), before, "a refused order changes nothing in the journal");

    // The stored label is still the good one, and it prints from the station's known state.
    assert_eq!(cloud.send("print", json!({"request_id":"p","document":"label","order":"SO-50"}))["ok"], true);
    wait_until("the carrier label", Duration::from_secs(10), || sim.labels().len() == 1);
    let zpl = String::from_utf8(sim.jobs()[0].clone()).unwrap();
    assert!(zpl.contains("DHL Paket") && !zpl.contains("^LS9") && !zpl.contains("^LRY"), "{zpl}");
    let mut expected = Settings::station(203);
    expected.font = ('0', 30, 5);
    expected.bar_code.0 = 3;
    assert_eq!(sim.labels()[0].settings, expected, "{zpl}");
}
