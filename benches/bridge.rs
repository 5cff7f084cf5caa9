//! Side by side: `kill -9` of the edge store-and-forward, stationd vs the usual alternative.
//! `cargo bench --bench bridge` (`-- --quick` for fewer messages). Needs `mosquitto`.
//!
//! The usual alternative is a local Mosquitto with `persistence true` bridging to the cloud
//! broker: the station's software publishes QoS 1 to the local broker, which forwards.
//! Both sides get the same round, a network outage with a crash in it: the link to the
//! cloud is down; N/2 messages are confirmed to the producer; the edge process is killed
//! with `kill -9` and restarted; the link comes back; the other N/2 are sent. Loss =
//! messages confirmed to the producer that never reach a subscriber on the cloud broker.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

mod common;
use common::{free_port, mosquitto, record, Proc};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 2_000 } else { 10_000 };
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-bridge");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    println!("# kill -9 of the edge store-and-forward mid-stream, {n} QoS 1 messages");
    println!();
    let (b_confirmed, b_lost) = bridge_round(&base.join("bridge"), n);
    println!("mosquitto bridge (persistence true)   confirmed {b_confirmed:>6}   lost {b_lost:>6}");
    let (confirmed, lost) = stationd_round(&base.join("stationd"), n);
    println!("stationd journal                      confirmed {confirmed:>6}   lost {lost:>6}");
    let bridge = Some(("Mosquitto bridge, `persistence true`, messages lost", b_lost as f64));
    let name = format!("kill -9 mid-outage: confirmed messages lost (of {confirmed} confirmed)");
    record("bridge", &name, lost as f64, "messages", "lower", bridge, Some("== 0"));
    let _ = std::fs::remove_dir_all(&base);
}

/// The cloud broker with a subscriber on `topic` already in place.
fn cloud(dir: &Path, topic: &str) -> (u16, Proc, mpsc::Receiver<String>, rumqttc::Client) {
    let port = free_port();
    let conf =
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n");
    let broker = mosquitto(dir, "cloud", &conf, port);
    let (rx, sub) = cloud_subscriber(port, topic);
    (port, broker, rx, sub)
}

/// A subscriber on the cloud broker collecting message bodies (the tests' subscriber).
fn cloud_subscriber(port: u16, topic: &str) -> (mpsc::Receiver<String>, rumqttc::Client) {
    let (client, raw) = support::subscriber(port, topic);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (_, payload) in raw {
            if tx.send(String::from_utf8_lossy(&payload).into_owned()).is_err() {
                break;
            }
        }
    });
    (rx, client)
}

/// The WAN link: a TCP forwarder from `port` to the cloud broker, started when the link
/// "comes back" (before that, nothing listens on `port`).
fn link_up(port: u16, target: u16) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(a) = conn else { break };
            let Ok(b) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
            for (mut from, mut to) in [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

/// Collects what the cloud got until `quiet` passes with nothing new.
fn drain(rx: &mpsc::Receiver<String>, quiet: Duration, into: &mut HashSet<String>) {
    while let Ok(m) = rx.recv_timeout(quiet) {
        into.insert(m);
    }
}

fn bridge_round(dir: &Path, n: usize) -> (usize, usize) {
    let (cloud_port, _cloud, rx, _sub) = cloud(dir, "edge/#");
    let link = free_port();
    let edge_port = free_port();
    let edge_conf = format!(
        "listener {edge_port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 1000000\n\
         connection cloud\naddress 127.0.0.1:{link}\ntopic edge/# out 1\ncleansession false\nclientid edge-bridge\nrestart_timeout 1\n",
        dir.display()
    );
    // Mosquitto started as root drops to its own user: it must be able to save its state here.
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mut edge = mosquitto(dir, "edge", &edge_conf, edge_port);
    let mut confirmed = HashSet::new();
    let mut sent = 0;
    let mut round = 0;
    while sent < n {
        // A producer on the station publishing QoS 1 to the local broker; a PubAck from the
        // local broker is the confirmation.
        let mut o = rumqttc::MqttOptions::new(format!("producer-{round}"), "127.0.0.1", edge_port);
        o.set_inflight(100);
        let (client, mut conn) = rumqttc::Client::new(o, 200);
        let target = if round == 0 { n / 2 } else { n };
        let start = sent;
        let publisher = std::thread::spawn(move || {
            for i in start..target {
                if client.publish("edge/events", rumqttc::QoS::AtLeastOnce, false, format!("m-{i}")).is_err() {
                    break;
                }
            }
            client
        });
        let mut pkid_to_msg = std::collections::HashMap::new();
        let mut next = start;
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                    pkid_to_msg.insert(pkid, format!("m-{next}"));
                    next += 1;
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(a))) => {
                    if let Some(m) = pkid_to_msg.remove(&a.pkid) {
                        confirmed.insert(m);
                    }
                    if confirmed.len() >= target {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = publisher.join();
        sent = target;
        if round == 0 {
            // kill -9 the edge broker right after half was confirmed, then restart it.
            drop(edge);
            edge = mosquitto(dir, "edge", &edge_conf, edge_port);
            link_up(link, cloud_port);
        }
        round += 1;
    }
    let mut got = HashSet::new();
    // The bridge reconnects within its restart_timeout (1 s) and forwards its queue.
    std::thread::sleep(Duration::from_secs(3));
    drain(&rx, Duration::from_secs(3), &mut got);
    drop(edge);
    let lost = confirmed.iter().filter(|m| !got.contains(*m)).count();
    (confirmed.len(), lost)
}

fn stationd_round(dir: &Path, n: usize) -> (usize, usize) {
    let (cloud_port, _cloud, rx, _sub) = cloud(dir, "wh/#");
    let link = free_port();
    let config = dir.join("stationd.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nwarehouse = \"WH1\"\nid = \"BENCH\"\nrole = \"pack\"\n[journal]\npath = \"journal\"\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{link}\"\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\n\
             [[scanner]]\nname = \"in\"\nkind = \"stdin\"\n"
        ),
    )
    .unwrap();
    let mut confirmed = HashSet::new();
    for (round, range) in [(0, 0..n / 2), (1, n / 2..n)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stationd"))
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let want = range.len();
        std::thread::spawn(move || {
            let lines: String = range.map(|i| format!("m-{i}\n")).collect();
            let _ = stdin.write_all(lines.as_bytes());
            // Keep stdin open so the daemon runs until killed.
            std::thread::sleep(Duration::from_secs(3600));
        });
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut got = 0;
        for line in out.lines().map_while(Result::ok) {
            // A durable scan, accepted (`ok seq=N … code=X`) or refused (`error … (seq=N code=X)`).
            if let Some((_, code)) = support::parse_confirmed(&line) {
                confirmed.insert(code);
                got += 1;
                if got >= want {
                    break;
                }
            }
        }
        if round == 0 {
            // kill -9 right after half was confirmed, as for the bridge.
            let _ = child.kill();
            let _ = child.wait();
            link_up(link, cloud_port);
        } else {
            // Let the restarted daemon drain its journal, then stop it.
            std::thread::sleep(Duration::from_secs(3));
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
    let mut codes = HashSet::new();
    let mut got = HashSet::new();
    drain(&rx, Duration::from_secs(3), &mut got);
    for m in got {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&m) {
            if let Some(c) = v["data"]["code"].as_str() {
                codes.insert(c.to_string());
            }
        }
    }
    let lost = confirmed.iter().filter(|c| !codes.contains(*c)).count();
    (confirmed.len(), lost)
}
