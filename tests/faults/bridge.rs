//! Side by side: the usual edge store-and-forward, a local Mosquitto with `persistence true`
//! bridging to the cloud broker. A producer publishes QoS 1 to the local broker; its PubAck
//! is the confirmation. The same rounds as stationd: kill -9 of the edge process at random
//! points, and cloud broker restarts.

use super::*;

pub(super) fn bridge_side_by_side(size: &Size, rng: &mut StdRng) -> Vec<Row> {
    let rounds = size.kill_rounds;
    let per_round = size.kill_scans / rounds;
    let mut rows = Vec::new();

    // kill -9 rounds, the cloud broker stopped for the same stretches as for stationd.
    let (mut cloud, up, edge_conf) = bridge_pair();
    let mut confirmed = BTreeMap::new();
    let mut edge = Some(mosquitto(&edge_conf.0, edge_conf.1));
    let stretch = (rounds / 5).max(2);
    let mut downs = 0;
    for round in 0..rounds {
        downs += cloud.flip_every(round, stretch) as usize;
        let want = rng.random_range(1..2 * per_round);
        publish_confirmed(edge_conf.1, round, want, &mut confirmed);
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        // kill -9 the edge broker, then its service manager starts it again.
        drop(edge.take());
        edge = Some(mosquitto(&edge_conf.0, edge_conf.1));
    }
    cloud.up();
    let tally = up.settle(&confirmed, Duration::from_secs(15));
    drop(edge);
    drop(cloud);
    rows.push(bridge_row(
        tally,
        format!("{rounds} × kill -9 of the edge broker, cloud broker stopped {downs} × for {stretch} rounds"),
        confirmed.len(),
        "kill -9",
    ));

    // Cloud broker restarts.
    let (mut cloud, up, edge_conf) = bridge_pair();
    let edge = mosquitto(&edge_conf.0, edge_conf.1);
    let mut confirmed = BTreeMap::new();
    for round in 0..size.broker_restarts {
        publish_confirmed(edge_conf.1, round, per_round, &mut confirmed);
        cloud.down();
        publish_confirmed(edge_conf.1, 1000 + round, per_round / 2, &mut confirmed);
        std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
        cloud.up();
    }
    let tally = up.settle(&confirmed, Duration::from_secs(20));
    drop(edge);
    rows.push(bridge_row(
        tally,
        format!("{} × cloud broker restart (SIGTERM)", size.broker_restarts),
        confirmed.len(),
        "broker restarts",
    ));
    rows
}

fn bridge_row(t: Tally, faults: String, confirmed: usize, what: &str) -> Row {
    Row {
        scenario: format!("mosquitto bridge, {what}"),
        faults,
        confirmed,
        delivered: t.delivered,
        lost: t.lost,
        duplicates: t.duplicates,
        notes: "the alternative: local Mosquitto, `persistence true`, bridged QoS 1; losses reported, not failed"
            .into(),
        broken: None,
    }
}

/// A cloud broker with a persistent subscriber, and the edge broker's config (path, port).
fn bridge_pair() -> (PersistentBroker, Upstream, (PathBuf, u16)) {
    let cloud = PersistentBroker::start("");
    let up = Upstream::connect(cloud.port, "edge/#");
    let dir = cloud._dir.path().join("edge");
    std::fs::create_dir_all(&dir).unwrap();
    writable_by_all(&dir);
    let edge_port = support::free_port();
    let conf = dir.join("edge.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {edge_port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
             max_queued_messages 1000000\n\
             connection cloud\naddress 127.0.0.1:{}\ntopic edge/# out 1\ncleansession false\nclientid edge-bridge\n\
             restart_timeout 1\n",
            dir.display(),
            cloud.port
        ),
    )
    .unwrap();
    (cloud, up, (conf, edge_port))
}

/// A child process killed when dropped (`Child` itself is not).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto(conf: &Path, port: u16) -> KillOnDrop {
    KillOnDrop(support::spawn_mosquitto(conf, port))
}

/// Publishes `n` QoS 1 messages to the edge broker; records those it acknowledged, keyed
/// like stationd's seqs so the same tally applies (`data.code` = the message).
fn publish_confirmed(port: u16, round: usize, n: usize, confirmed: &mut BTreeMap<u64, String>) {
    let mut o = rumqttc::MqttOptions::new(format!("producer-{round}"), "127.0.0.1", port);
    o.set_inflight(100);
    let (client, mut conn) = rumqttc::Client::new(o, 200);
    let base = (round as u64 + 1) * 1_000_000;
    std::thread::spawn(move || {
        for i in 0..n as u64 {
            let body =
                json!({"seq": base + i, "id": format!("m-{}", base + i), "data": {"code": format!("m-{}", base + i)}});
            if client.publish("edge/events", rumqttc::QoS::AtLeastOnce, false, body.to_string()).is_err() {
                break;
            }
        }
    });
    let mut in_flight = HashMap::new();
    let mut next = base;
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                in_flight.insert(pkid, next);
                next += 1;
            }
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(a))) => {
                if let Some(seq) = in_flight.remove(&a.pkid) {
                    confirmed.insert(seq, format!("m-{seq}"));
                    acked += 1;
                }
                if acked >= n {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
