//! The cloud contract as a third-party client sees it, against a real Mosquitto: every
//! command that can be attributed gets an answer echoing its request_id, `sent_at` is a
//! one-sided clock sample, a folder printer says `written`, events journaled outside the
//! station carry the operator, scanners publish their state. What arrives is also checked
//! against docs/asyncapi.yaml by tests/contract/validate.py (tests/ci.sh).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{subscriber, Broker, Cloud, Daemon, StationDir};

const PREFIX: &str = "wh/WH1/st/PACK-T";

fn wait_for(daemon: &Daemon, what: &str, want: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(l) = daemon.line(Duration::from_millis(200)) {
            if want(&l) {
                return l;
            }
        }
    }
    panic!("no {what} within 10 s; stderr:\n{}", daemon.stderr());
}

/// The station's cloud side, once the station is online (its birth comes after its
/// command subscription, so nothing sent from here is lost).
fn cloud_of(broker: &Broker) -> Cloud {
    let (_sub, status) = subscriber(broker.port, &format!("{PREFIX}/status"));
    let start = Instant::now();
    loop {
        let left = Duration::from_secs(10).saturating_sub(start.elapsed());
        let (_, payload) = status.recv_timeout(left).expect("the station's birth within 10 s");
        if serde_json::from_slice::<Value>(&payload).is_ok_and(|v| v["online"] == true) {
            return Cloud::connect(broker.port, PREFIX);
        }
    }
}

/// A station (`extra` appended to its config) on a fresh broker, started and online, with
/// its cloud side.
fn online(extra: &str) -> (Broker, StationDir, Daemon, Cloud) {
    let broker = Broker::start();
    let station = StationDir::with_broker(broker.port, extra);
    let daemon = station.spawn();
    daemon.wait_started();
    let cloud = cloud_of(&broker);
    (broker, station, daemon, cloud)
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

fn upsert(cloud: &Cloud, rid: &str, id: &str, extra: Value) -> Value {
    let mut cmd = json!({"request_id": rid, "order": {"id": id, "state": "picked", "tracking": format!("JJD-{id}"),
        "lines": [{"line": 1, "sku": "MUG", "qty": 1, "barcodes": ["4006381333931"]}]}});
    if let (Value::Object(c), Value::Object(x)) = (&mut cmd, extra) {
        c.extend(x);
    }
    cloud.send("order-upsert", cmd)
}

/// Adds the kinds of arriving events to `kinds` until all of `want` are there (15 s at most).
fn kinds_until(
    events: &std::sync::mpsc::Receiver<(String, Vec<u8>)>,
    kinds: &mut std::collections::BTreeSet<String>,
    want: &[&str],
) {
    let start = Instant::now();
    while !want.iter().all(|k| kinds.contains(*k)) {
        assert!(start.elapsed() < Duration::from_secs(15), "not all of {want:?} within 15 s; saw {kinds:?}");
        if let Ok((_, payload)) = events.recv_timeout(Duration::from_millis(200)) {
            let e: Value = serde_json::from_slice(&payload).unwrap();
            kinds.insert(e["kind"].as_str().unwrap().to_string());
        }
    }
}

fn time_from_now(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

#[test]
fn a_label_written_to_a_folder_says_written_and_print_events_carry_the_operator() {
    let printer = "\n[[printer]]\nname = \"virtual\"\nkind = \"file\"\npath = \"labels\"\nrole = \"label\"\n";
    let (_broker, station, mut daemon, cloud) = online(printer);
    assert_eq!(upsert(&cloud, "u1", "SO-1", json!({}))["ok"], true);
    daemon.scan("OP:17");
    wait_for(&daemon, "login", |l| l.starts_with("ok ") && l.contains("OP:17"));
    let r = cloud.send("print", json!({"request_id": "p1", "document": "test"}));
    assert_eq!(r["ok"], true, "{r}");
    daemon.scan("SO-1");
    daemon.scan("4006381333931");
    wait_for(&daemon, "labelled", |l| l.contains("order SO-1 labelled"));

    let events = station.export();
    let labelled = of_kind(&events, "order.state").into_iter().find(|e| e["data"]["to"] == "labelled").cloned();
    let labelled = labelled.expect("packed→labelled");
    assert_eq!(labelled["data"]["reason"], "label written to a file; no printer answered", "{labelled}");
    assert!(of_kind(&events, "print.confirmed").is_empty(), "a file is not a printer's confirmation");
    let written = of_kind(&events, "print.written");
    assert_eq!(written.len(), 2, "the test page and the label: {written:?}");
    for e in written.iter().chain(&of_kind(&events, "print.queued")) {
        assert_eq!(e["operator"], "OP:17", "{e}");
        assert!(e["data"]["detail"].is_string() || e["kind"] == "print.queued", "{e}");
        assert!(e["data"].get("reprint_of").is_none(), "absent, not null: {e}");
    }
    let audit = of_kind(&events, "command.accepted").into_iter().find(|e| e["data"]["name"] == "print").cloned();
    assert_eq!(audit.expect("print audited")["operator"], "OP:17");
}

#[test]
fn every_attributable_command_is_answered_with_the_request_id_it_sent() {
    let (_broker, _station, daemon, cloud) = online("");

    let r = cloud.send("order-hold", json!({"request_id": 42, "order": "SO-1", "reason": "x"}));
    assert_eq!((r["request_id"].as_str(), r["error"]["code"].as_str()), (Some("42"), Some("invalid_field")), "{r}");
    let long = "r".repeat(300);
    let r = cloud.send("order-hold", json!({"request_id": long, "order": "SO-1", "reason": "x"}));
    let echoed = r["request_id"].as_str().unwrap_or_else(|| panic!("echoed: {r}"));
    assert!(echoed.starts_with(&"r".repeat(128)) && echoed.ends_with('…') && echoed.chars().count() == 129, "{r}");
    let r = cloud.send("order-hold/x", json!({"request_id": "deep-1", "order": "SO-1", "reason": "x"}));
    assert_eq!(
        (r["request_id"].as_str(), r["error"]["code"].as_str()),
        (Some("deep-1"), Some("unknown_command")),
        "{r}"
    );
    drop(daemon);
}

#[test]
fn a_command_that_waited_minutes_in_the_broker_raises_no_clock_alarm_but_one_from_the_future_does() {
    let (_broker, station, mut daemon, cloud) = online("");
    // Queued for five minutes (an offline station): its sent_at proves nothing about the clock.
    let r = upsert(&cloud, "old-1", "SO-1", json!({"sent_at": time_from_now(-300)}));
    assert_eq!(r["ok"], true, "{r}");
    let r = cloud.send(
        "order-hold",
        json!({"request_id": "old-2", "order": "SO-1", "reason": "x", "sent_at": time_from_now(-120)}),
    );
    assert_eq!(r["ok"], true, "{r}");
    daemon.scan("OP:1");
    wait_for(&daemon, "login", |l| l.starts_with("ok "));
    let events = station.export();
    assert!(of_kind(&events, "clock.skew").is_empty(), "{:?}", of_kind(&events, "clock.skew"));
    assert!(events.iter().all(|e| e["data"].get("clock").is_none()), "no event is tagged");

    // Sent two minutes after the box's now: the box is at least that far behind.
    let r = cloud.send("order-release", json!({"request_id": "new-1", "order": "SO-1", "sent_at": time_from_now(120)}));
    assert_eq!(r["ok"], true, "{r}");
    let events = station.export();
    let skew = of_kind(&events, "clock.skew");
    assert_eq!(skew.len(), 1, "{skew:?}");
    let ms = skew[0]["data"]["skew_ms"].as_i64().unwrap();
    assert!((-125_000..=-115_000).contains(&ms), "box behind by about 2 min: {}", skew[0]);
    assert_eq!(skew[0]["data"]["source"], "cloud command");
}

#[test]
fn scanners_and_printers_publish_device_states_without_nulls() {
    let broker = Broker::start();
    let (_sub, rx) = subscriber(broker.port, &format!("{PREFIX}/devices/+"));
    let station = StationDir::with_broker(
        broker.port,
        "\n[[printer]]\nname = \"virtual\"\nkind = \"file\"\npath = \"labels\"\nrole = \"label\"\n",
    );
    let daemon = station.spawn();
    daemon.wait_started();
    let mut seen = std::collections::BTreeMap::new();
    let start = Instant::now();
    while seen.len() < 2 && start.elapsed() < Duration::from_secs(10) {
        if let Ok((topic, payload)) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: Value = serde_json::from_slice(&payload).unwrap();
            seen.insert(topic, v);
        }
    }
    let scanner = &seen[&format!("{PREFIX}/devices/stdin")];
    assert_eq!((scanner["kind"].as_str(), scanner["state"].as_str()), (Some("scanner"), Some("ready")), "{scanner}");
    let printer = &seen[&format!("{PREFIX}/devices/virtual")];
    assert_eq!(printer["kind"], "printer", "{printer}");
    for v in seen.values() {
        assert!(v.as_object().unwrap().values().all(|x| !x.is_null()), "no nulls: {v}");
    }
    drop(daemon);
}

#[test]
fn sent_at_counts_on_commands_the_workflow_does_not_execute_too() {
    let (_broker, station, mut daemon, cloud) = online("");
    daemon.scan("OP:1");
    wait_for(&daemon, "login", |l| l.starts_with("ok "));
    let r = cloud.send("resync", json!({"request_id": "rs-1", "from": 1, "sent_at": time_from_now(600)}));
    assert_eq!(r["ok"], true, "{r}");
    let alert = wait_for(&daemon, "the clock alert", |l| l.starts_with("alert clock_skew"));
    assert!(alert.contains("behind"), "{alert}");
    let skew = of_kind(&station.export(), "clock.skew").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!((skew.len(), skew[0]["data"]["source"].as_str()), (1, Some("cloud command")), "{skew:?}");
}

/// A pick and a pack at a `multi` station with every command barcode, a cloud hold of the
/// open order and an overdue level: the event kinds the other suites rarely produce, on the
/// wire for tests/contract/validate.py to check against their schemas.
#[test]
fn a_pick_and_pack_with_every_command_barcode_publishes_each_kind_as_documented() {
    let broker = Broker::start();
    let (_events, events) = subscriber(broker.port, &format!("{PREFIX}/events"));
    let tmp = tempfile::tempdir().unwrap();
    let station = StationDir::with_broker(
        broker.port,
        &format!(
            "\n[[printer]]\nname = \"virtual\"\nkind = \"file\"\npath = \"{}\"\nrole = \"label\"\n\n\
             [[operator]]\nbadge = \"OP:SUP\"\nname = \"Sue\"\nrole = \"supervisor\"\n\n\
             [[overdue]]\nstate = \"held\"\nafter = \"1s\"\nlevel = \"reminder\"\n",
            tmp.path().join("labels").display()
        ),
    );
    let text = std::fs::read_to_string(&station.config).unwrap().replace("role = \"pack\"", "role = \"multi\"");
    std::fs::write(&station.config, text).unwrap();
    let mut daemon = station.spawn();
    daemon.wait_started();
    let cloud = cloud_of(&broker);
    let order = json!({"request_id": "u-p", "order": {"id": "SO-P", "state": "released", "tracking": "JJD-P",
        "lines": [{"line": 1, "sku": "MUG", "qty": 2, "barcodes": ["4006381333931"]},
                  {"line": 2, "sku": "CUP", "qty": 1, "barcodes": ["96385074"]},
                  {"line": 3, "sku": "LID", "qty": 1, "barcodes": ["5901234123457"]}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    for code in [
        "OP:SUP",
        "SO-P",
        "LOC:A-01",
        "TOTE:T1",
        "4006381333931",
        "4006381333931",
        "96385074",
        "CMD:SHORT",
        "SO-P",
        "CMD:DAMAGED",
        "4006381333931",
        "CMD:CANCEL-LINE",
        "96385074",
        "4006381333932",
        "CMD:HOLD:dented",
        "CMD:RELEASE",
        "4006381333931",
    ] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let r = cloud.send("order-hold", json!({"request_id": "h-1", "order": "SO-P", "reason": "address check"}));
    assert_eq!(r["ok"], true, "{r}");
    let mut kinds = std::collections::BTreeSet::new();
    kinds_until(&events, &mut kinds, &["order.overdue"]);
    // An order without tracking number or SSCC: its label cannot be made.
    let order = json!({"request_id": "u-n", "order": {"id": "SO-N", "state": "picked",
        "lines": [{"line": 1, "sku": "LID", "qty": 1, "barcodes": ["5901234123457"]}]}});
    assert_eq!(cloud.send("order-upsert", order)["ok"], true);
    daemon.scan("SO-N");
    daemon.scan("5901234123457");
    kinds_until(&events, &mut kinds, &["label.failed", "print.failed"]);
    for kind in [
        "pick.location",
        "pick.tote",
        "item.picked",
        "pick.short",
        "command.scanned",
        "item.damaged",
        "line.cancelled",
        "order.interrupted",
        "order.overdue",
        "scan.rejected",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
}
