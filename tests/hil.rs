//! Devices on the real Linux USB stack: a QEMU guest on Debian's stock kernel plugs a
//! composite gadget into its own `dummy_hcd` host controller (tests/hil/usb-gadget.sh), and
//! stationd, inside the guest, talks to it through usbcore, usblp, libusb, evdev and cdc-acm
//! as it would to devices on a station box. The device side (`gprinter`, `ghid`, the
//! gadget's serial port) sets the printer-class status, records what is printed and types
//! scans; tests/hil/station.sh runs each scenario inside the guest and prints markers
//! (`HIL-<WHAT> <phase> <value>`) read here. One boot per test.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::guest::Guest;

/// Console lines of one boot up to its power-off.
fn console_of(guest: &Guest, cmdline: &str, extra: &[String]) -> Vec<String> {
    let booted = guest.boot(cmdline, extra);
    let mut lines = Vec::new();
    while let Ok(line) = booted.console.recv_timeout(Duration::from_secs(180)) {
        let done = line.contains("reboot: Power down");
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("the guest did not finish:\n{}", lines.join("\n"));
}

fn after<'a>(lines: &'a [String], marker: &str) -> &'a str {
    lines.iter().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim_start())).unwrap_or_else(|| {
        panic!("no {marker} in the guest's console:\n{}", lines.join("\n"));
    })
}

#[test]
fn a_usb_printer_on_the_kernel_stack_is_listed_held_for_paper_and_prints_byte_for_byte() {
    let guest = Guest::build();
    let lines = console_of(&guest, "hil.mode=usb", &[]);
    let text = lines.join("\n");
    // Listed, with the printer interface found behind a keyboard and a serial port.
    assert!(text.contains("1d6b:0104") && text.contains("<- printer usb"), "{text}");
    assert!(text.contains("/dev/ttyACM0"), "the CDC-ACM function is a serial port: {text}");
    // Paper out, read with GET_PORT_STATUS from interface 3 (not interface 0): nothing sent.
    assert!(text.lines().any(|l| l.starts_with("usb: status before:") && l.contains("paper_out")), "{text}");
    assert_eq!(after(&lines, "HIL-PRINT-TEST paper-out"), "rc=4", "{text}");
    let paper_out_stream = after(&lines, "HIL-PAPER-OUT-STREAM");
    assert!(!paper_out_stream.contains("^XA"), "a label was sent to a printer without paper: {paper_out_stream}");
    // Ready: the label arrives at the device side exactly as the file printer has it, once;
    // only the status queries (`~HS`, unanswered by this printer) come besides it.
    assert_eq!(after(&lines, "HIL-PRINT-TEST ready"), "rc=0", "{text}");
    let usb = after(&lines, "HIL-USB-STREAM").replace("~HS", "");
    let file = after(&lines, "HIL-FILE-STREAM");
    let without_time =
        |s: &str| s.split("HIL-USB ").next().unwrap_or("").to_string() + s.split("^FS^FO40,170").nth(1).unwrap_or("");
    assert_eq!(usb.matches("^XA").count(), 1, "printed once: {usb}");
    assert_eq!(without_time(&usb), without_time(file), "the bytes at the printer differ from the label");
}

/// The text after `marker` on the first console line that has it.
fn after_marker<'a>(lines: &'a [String], marker: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim_start()))
}

/// The text after `marker` on every console line that has it.
fn all_after<'a>(lines: &'a [String], marker: &str) -> Vec<&'a str> {
    lines.iter().filter_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim())).collect()
}

/// The journal events the guest exported between `HIL-EXPORT-BEGIN` and `HIL-EXPORT-END`.
fn exported(lines: &[String]) -> Vec<Value> {
    let begin = lines.iter().position(|l| l.contains("HIL-EXPORT-BEGIN")).expect("an export");
    lines[begin..]
        .iter()
        .take_while(|l| !l.contains("HIL-EXPORT-END"))
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("export line {l}: {e}")))
        .collect()
}

/// `HIL-STREAM <phase> bytes=.. starts=.. ends=.. sha256=..` as (key, value) pairs.
fn stream_facts(lines: &[String], phase: &str) -> std::collections::HashMap<String, String> {
    let text = after_marker(lines, &format!("HIL-STREAM {phase} ")).unwrap_or_else(|| panic!("no stream {phase}"));
    text.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

/// The bytes a device-side stream received (status queries taken out), from `HIL-BYTES`.
fn stream_bytes(lines: &[String], phase: &str) -> Vec<u8> {
    let b64 = after_marker(lines, &format!("HIL-BYTES {phase} ")).unwrap_or("");
    base64_decode(b64)
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The built-in label stationd makes for one of tests/hil/orders.json's orders.
fn label_of(order: &str) -> Vec<u8> {
    let orders: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/hil/orders.json").unwrap().replace("@GRAPHIC@", ""))
            .unwrap();
    let o = orders.as_array().unwrap().iter().find(|o| o["id"] == order).unwrap();
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let data = stationd_drivers::label::LabelData {
        order: order.into(),
        carrier: text(&o["carrier"]),
        service: text(&o["service"]),
        name: text(&o["ship_to"]["name"]),
        street: text(&o["ship_to"]["street"]),
        postcode: text(&o["ship_to"]["postcode"]),
        city: text(&o["ship_to"]["city"]),
        country: text(&o["ship_to"]["country"]),
        tracking: text(&o["tracking"]),
        sscc: String::new(),
    };
    stationd_drivers::label::render(&stationd_drivers::label::LabelSpec::default(), &data).unwrap().zpl
}

/// The printer's state in the screen's document (`/api/status`) at a phase.
fn screen_state(lines: &[String], phase: &str) -> String {
    let doc: Value = serde_json::from_str(after_marker(lines, &format!("HIL-STATUS {phase} ")).unwrap_or("null"))
        .unwrap_or_else(|e| panic!("status at {phase}: {e}"));
    doc["devices"]["label"]["state"].as_str().unwrap_or_else(|| panic!("no printer state at {phase}: {doc}")).into()
}

/// `/metrics` lines at a phase that start with `name{` and hold every one of `labels`.
fn metric(lines: &[String], phase: &str, name: &str, labels: &[&str]) -> Option<f64> {
    all_after(lines, &format!("HIL-METRICS {phase} "))
        .into_iter()
        .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

#[test]
fn order_labels_from_the_running_station_reach_a_usb_printer_wait_out_paper_and_offline_and_an_unplug_mid_job_fails_once(
) {
    let started = Instant::now();
    let broker = support::Broker::start();
    let (_client, mqtt) = support::subscriber(broker.port, "wh/WH1/st/HIL-USB/#");
    support::require_tool("socat", "apt-get install -y socat");
    let guest = Guest::build();
    let net = [
        "-netdev".to_string(),
        format!("user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-cmd:socat - TCP:127.0.0.1:{}", broker.port),
        "-device".to_string(),
        "virtio-net-pci,netdev=n0,romfile=".to_string(),
    ];
    let lines = console_of(&guest, "hil.mode=labels", &net);
    let text = lines.join("\n");
    assert!(!text.contains("HIL-TIMEOUT"), "{text}");

    // Ready: login, order, item: the order's label arrives byte for byte, once.
    assert_eq!(stream_bytes(&lines, "ready"), label_of("HIL-1001"), "the first label at the printer:\n{text}");
    assert_eq!(screen_state(&lines, "ready"), "ready");

    // Paper out, then not selected: the next label waits; the screen and /metrics say why.
    for state in ["paper_out", "offline"] {
        assert_eq!(screen_state(&lines, state), state, "{text}");
        let labels = ["device=\"label\"", &format!("state=\"{state}\"")];
        assert_eq!(metric(&lines, state, "stationd_device_state", &labels), Some(1.0), "{text}");
        // Waiting `queued`, not `sending`: only the printer's status is read while it waits.
        let queued = metric(&lines, state, "stationd_print_jobs", &["state=\"queued\""]);
        assert_eq!(queued, Some(1.0), "one job waits, queued, while the printer is {state}:\n{text}");
    }
    // Ready again: that label goes out exactly once, and nothing of it went out before.
    assert_eq!(stream_bytes(&lines, "held"), label_of("HIL-1002"), "the held label at the printer:\n{text}");
    assert_eq!(screen_state(&lines, "ready_again"), "ready");

    // Unplugged mid-job: the job ends failed, saying how far it got; nothing is resent
    // after the replug, and the label never arrives whole.
    let events = exported(&lines);
    let of = |order: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["kind"].as_str().unwrap_or("").starts_with("print.") && e["order"] == order)
            .collect()
    };
    let kinds = |order: &str| of(order).iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(kinds("HIL-1001"), ["print.queued", "print.confirmed"], "{text}");
    assert_eq!(kinds("HIL-1002"), ["print.queued", "print.confirmed"], "{text}");
    assert_eq!(kinds("HIL-1003"), ["print.queued", "print.failed"], "the job cut by the unplug:\n{text}");
    let failed = of("HIL-1003")[1];
    assert_eq!(failed["data"]["attempts"], 1, "sent once: {failed}");
    let detail = failed["data"]["detail"].as_str().unwrap_or("");
    // The carrier's label as the station sends it: its printer-state resets after `^XA` (203 dpi).
    let carrier = format!("^XA^FO0,0^GFA,80000,80000,100,{}^FS^XZ", "F".repeat(160_000));
    let big = stationd_drivers::zpl_state::with_resets(carrier.as_bytes(), 203);
    assert!(detail.contains(&format!("of {} bytes", big.len())), "the failure says how far it got: {failed}");
    assert!(!detail.contains("timed out"), "the write timed out before the unplug: {failed}");
    let (stalled, after) = (stream_facts(&lines, "stalled"), stream_facts(&lines, "after"));
    assert_eq!(after["starts"], "0", "a label was sent again after the replug:\n{text}");
    assert_eq!(stalled["ends"], "0", "the cut label arrived whole before the unplug:\n{text}");
    assert_eq!(screen_state(&lines, "replugged"), "ready", "{text}");

    // MQTT: the printer's states as the cloud saw them, and the jobs' outcomes.
    let mut states = Vec::new();
    let mut outcomes = Vec::new();
    while let Ok((topic, payload)) = mqtt.recv_timeout(Duration::from_secs(2)) {
        let v: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if topic.ends_with("/devices/label") {
            states.push(v["state"].as_str().unwrap_or("").to_string());
        } else if v["kind"].as_str().is_some_and(|k| k.starts_with("print.") && k != "print.queued") {
            outcomes.push(format!("{} {}", v["order"].as_str().unwrap_or(""), v["kind"].as_str().unwrap()));
        }
    }
    states.dedup();
    let seen = |want: &[&str]| {
        let mut it = states.iter();
        want.iter().all(|w| it.any(|s| s == w))
    };
    assert!(seen(&["ready", "paper_out", "offline", "ready", "error"]), "printer states on MQTT: {states:?}");
    assert_eq!(
        outcomes,
        ["HIL-1001 print.confirmed", "HIL-1002 print.confirmed", "HIL-1003 print.failed"],
        "print outcomes on MQTT"
    );
    eprintln!(
        "labels on the kernel stack: {:.0} s; printer states on MQTT {states:?}; HIL-1003: {detail}",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn hid_and_cdc_acm_scanners_by_their_by_id_paths_type_exactly_are_grabbed_and_resume_after_a_replug() {
    let started = Instant::now();
    let guest = Guest::build();
    let lines = console_of(&guest, "hil.mode=scanners", &[]);
    let text = lines.join("\n");
    assert!(!text.contains("HIL-TIMEOUT"), "{text}");
    let kbd = "/dev/input/by-id/usb-stationd_HIL_composite_HIL0001-event-kbd";
    let tty = "/dev/serial/by-id/usb-stationd_HIL_composite_HIL0001-if01";
    let by_id = all_after(&lines, "HIL-BY-ID ");
    assert!(by_id.iter().any(|l| l.starts_with(&format!("{kbd} -> ../../input/event"))), "{text}");
    assert!(by_id.iter().any(|l| l.starts_with(&format!("{tty} -> ../../ttyACM"))), "{text}");

    // Grabbed: a second reader of the event device sees the keys typed before stationd
    // holds it, and none of those typed while it does.
    let keys = |phase: &str| after_marker(&lines, &format!("HIL-LISTEN {phase} ")).and_then(|n| n.parse::<u64>().ok());
    assert!(keys("ungrabbed").is_some_and(|n| n > 0), "the control reader saw no keys:\n{text}");
    assert_eq!(keys("grabbed"), Some(0), "keys reached another reader while stationd held the scanner:\n{text}");

    // Exactly what was typed, in order, on each scanner; after the replug too.
    let events = exported(&lines);
    let codes = |scanner: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["data"]["scanner"] == scanner)
            .filter_map(|e| e["data"]["code"].as_str().map(str::to_string))
            .collect()
    };
    // Typed while stationd was stopped, keys overflowed the kernel's buffer: what is left of
    // the code cut by the loss is rejected as noise, whole codes after it pass, nothing else.
    let typed = (1..=8).map(|i| format!("BURST-{i:04}")).collect::<Vec<_>>();
    let mut wedge = codes("wedge");
    // Five codes before the burst; what passed of it comes before AFTER-BURST.
    let after_burst = wedge.iter().position(|c| c == "AFTER-BURST").unwrap_or(wedge.len());
    let whole = wedge.drain(5.min(after_burst)..after_burst).collect::<Vec<_>>();
    assert!(whole.iter().all(|c| typed.contains(c)), "a broken code passed: {whole:?}\n{text}");
    let noise =
        events.iter().filter(|e| e["data"]["scanner"] == "wedge" && e["data"]["error"]["code"] == "scan_noise").count();
    assert!(noise >= 1, "the keys lost while stationd stalled went unnoticed: {whole:?}\n{text}");
    assert_eq!(
        wedge,
        [
            "OP:0001",
            "Abc-XYZ_42!",
            "a@#$%^&*()+{}|:\"<>?~",
            "01095011015300031726123110LOT-7A\u{1d}21SN/42",
            "0109501101530003\u{1d}10BATCH9",
            "AFTER-BURST",
            "AFTER-REPLUG-HID",
        ],
        "HID scans:\n{text}"
    );
    assert_eq!(codes("gun"), ["SER-0001", "0109501101530003\u{1d}21ACM", "AFTER-REPLUG-ACM"], "serial scans:\n{text}");

    // Unplugged: both reported offline and the by-id names gone; back under the same names.
    let log = all_after(&lines, "HIL-LOG ");
    for name in ["wedge", "gun"] {
        let said = |what: &str| log.iter().filter(|l| l.contains(what) && l.contains(name)).count();
        assert!(said("scanner offline") >= 1 && said("scanner ready") >= 2, "{name}: {log:#?}");
    }
    let unplugged = all_after(&lines, "HIL-UNPLUGGED ");
    assert!(!unplugged.iter().any(|l| l.starts_with("usb-")), "by-id names left while unplugged: {unplugged:?}");
    let replugged = all_after(&lines, "HIL-REPLUGGED ");
    for name in [kbd, tty] {
        let file = name.rsplit('/').next().unwrap();
        assert!(replugged.contains(&file), "{file} not back after the replug: {replugged:?}");
    }
    eprintln!(
        "scanners on the kernel stack: {:.0} s; key events seen by a second reader: {:?} before the grab, {:?} during it; {by_id:?}; \
         of 8 codes typed while stationd was stopped: {whole:?} passed whole, {noise} rejected as noise",
        started.elapsed().as_secs_f64(),
        keys("ungrabbed"),
        keys("grabbed"),
    );
}
