//! The consumer recipes of docs/CONSUMING.md, run for real: Node-RED (pinned in
//! tests/consumers/package-lock.json) loads docs/consumers/node-red-flow.json, takes a
//! station's events from a real Mosquitto, writes each one once (a resend is dropped by
//! `id`) and asks the station for a gap with `resync`.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{subscriber, Broker, StationDir};

const PREFIX: &str = "wh/WH1/st/PACK-T";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Node-RED running the documented flow; killed on drop.
struct NodeRed {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for NodeRed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeRed {
    /// Starts Node-RED on the flow and returns once its MQTT client is connected.
    fn start(broker_port: u16, user_dir: &std::path::Path, events_file: &std::path::Path) -> NodeRed {
        support::require_tool("node", "sudo apt-get install -y nodejs");
        let red = repo().join("tests/consumers/node_modules/node-red/red.js");
        assert!(
            red.is_file(),
            "Node-RED is not installed; install it with: npm ci --prefix tests/consumers (tests/ci.sh does this)"
        );
        let mut child = Command::new("node")
            .arg(red)
            .args(["--userDir"])
            .arg(user_dir)
            .args(["--port", &support::free_port().to_string()])
            .arg(repo().join("docs/consumers/node-red-flow.json"))
            .env("MQTT_HOST", "127.0.0.1")
            .env("MQTT_PORT", broker_port.to_string())
            .env("EVENTS_FILE", events_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn node-red");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (sink, out) = (log.clone(), child.stdout.take().unwrap());
        let (tx, connected) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.contains("Connected to broker") {
                    let _ = tx.send(());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let red = NodeRed { child, log };
        if connected.recv_timeout(Duration::from_secs(30)).is_err() {
            panic!("Node-RED did not connect to the broker within 30 s; its log:\n{}", red.log.lock().unwrap());
        }
        red
    }
}

/// The events file by seq (and how many lines it has).
fn written(file: &std::path::Path) -> (BTreeMap<u64, Value>, usize) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let n = lines.len();
    (lines.into_iter().map(|e| (e["seq"].as_u64().unwrap(), e)).collect(), n)
}

#[test]
fn the_documented_node_red_flow_passes_each_event_once_and_repairs_a_gap() {
    let broker = Broker::start();
    let tmp = tempfile::tempdir().unwrap();
    let events_file = tmp.path().join("events.jsonl");
    let red = NodeRed::start(broker.port, &tmp.path().join("node-red"), &events_file);
    let (_replies, replies) = subscriber(broker.port, &format!("{PREFIX}/reply"));

    let station = StationDir::with_broker(broker.port, "");
    let mut daemon = station.spawn();
    daemon.wait_started();
    for code in ["OP:1", "NOT-AN-ORDER", "OP:1"] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let start = Instant::now();
    while written(&events_file).0.len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(15), "Node-RED wrote {:?}", written(&events_file));
        std::thread::sleep(Duration::from_millis(50));
    }

    // A resend (the same event again) is dropped; a jump in seq asks the station for the gap.
    let exported = station.export();
    let (client, _) = subscriber(broker.port, "test/none");
    let topic = format!("{PREFIX}/events");
    client.publish(&topic, rumqttc::QoS::AtLeastOnce, false, exported[0].to_string()).unwrap();
    let mut ahead = exported[2].clone();
    ahead["id"] = Value::String("01a23122-0000-7000-8000-000000000000".into());
    ahead["seq"] = Value::from(9);
    client.publish(&topic, rumqttc::QoS::AtLeastOnce, false, ahead.to_string()).unwrap();
    let reply = loop {
        let (_, payload) =
            replies.recv_timeout(Duration::from_secs(15)).expect("the station answers Node-RED's resync");
        let v: Value = serde_json::from_slice(&payload).unwrap();
        if v["request_id"].as_str().is_some_and(|r| r.starts_with("node-red-WH1-PACK-T-4-")) {
            break v;
        }
    };
    // Seqs 4..=8 were never journaled: the station says so.
    assert_eq!(reply["error"]["code"], "not_retained", "{reply}");
    let (by_seq, lines) = written(&events_file);
    assert_eq!(lines, by_seq.len(), "no event written twice: {by_seq:?}");
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 9]);
    for e in &exported {
        assert_eq!(&by_seq[&e["seq"].as_u64().unwrap()], e, "written as published");
    }
    drop(red);
}
