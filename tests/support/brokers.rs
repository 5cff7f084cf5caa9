//! Brokers other than the single Mosquitto of [`super::Broker`]: several nodes on loopback
//! ports, each with its own temp dir, killed (`kill -9`) one by one and cleaned up on drop.
//!
//! - [`Nodes::mosquittos`]: independent Mosquittos (no cluster: a standby broker).
//! - [`Nodes::nats`]: a NATS cluster, every node with JetStream and its MQTT gateway;
//!   [`Nodes::nats_denying_subscribe`] the same with a subscribe permission denied (an ACL),
//!   changed for the next restart by [`Nodes::set_nats_subscribe_deny`].
//! - [`Nodes::rabbitmq`]: RabbitMQ nodes with the MQTT plugin, joined into one cluster.
//!
//! docs/BROKERS.md records what each holds and what differs; the configs here are the
//! ones it quotes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, require_tool, spawn_mosquitto};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mosquitto,
    Nats,
    RabbitMq,
}

/// One broker process and how to start it again.
struct Node {
    child: Option<Child>,
    mqtt_port: u16,
    start: Box<dyn Fn() -> Child + Send>,
    /// NATS: the config file and its text without the authorization block.
    conf: Option<(PathBuf, String)>,
}

/// Broker nodes, each with an MQTT listener on loopback.
pub struct Nodes {
    pub kind: Kind,
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

impl Nodes {
    /// `n` independent Mosquittos without persistence.
    pub fn mosquittos(n: usize) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let nodes = (0..n)
            .map(|i| {
                let port = free_port();
                let conf = dir.path().join(format!("mosquitto-{i}.conf"));
                std::fs::write(
                    &conf,
                    format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 0\n"),
                )
                .unwrap();
                Node { child: None, mqtt_port: port, start: Box::new(move || spawn_mosquitto(&conf, port)), conf: None }
            })
            .collect();
        let mut all = Nodes { kind: Kind::Mosquitto, nodes, dir };
        all.start_all();
        all
    }

    /// A NATS cluster of `n` nodes with JetStream (file store in the temp dir) and MQTT.
    /// MQTT on NATS needs JetStream and a `server_name`; in a cluster, also a cluster name.
    /// The ports are picked free but not held, so a test running beside this one can take
    /// one first (the node then exits at once): the cluster is started again on other ports.
    pub fn nats(n: usize) -> Nodes {
        Nodes::nats_denying_subscribe(n, &[])
    }

    /// [`Nodes::nats`] whose one user (taken by every client without credentials) may not
    /// subscribe to the NATS subjects `deny` (`wh.WH1.st.X.cmd.>`; an MQTT topic's `/` is a
    /// `.` there): such an MQTT subscription is answered SUBACK 0x80.
    pub fn nats_denying_subscribe(n: usize, deny: &[&str]) -> Nodes {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let mut all = Nodes::nats_on_free_ports(n);
            if !deny.is_empty() {
                all.set_nats_subscribe_deny(deny);
            }
            match all.try_start_all() {
                Ok(()) => return all,
                Err(e) => failures.push(e),
            }
        }
        panic!("no NATS cluster of {n} came up in 3 tries: {failures:?}");
    }

    fn nats_on_free_ports(n: usize) -> Nodes {
        let nats = require_tool("nats-server", "apt-get install -y nats-server");
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let routes: Vec<String> = ports.iter().map(|(_, route, _)| format!("nats-route://127.0.0.1:{route}")).collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, &(client, route, mqtt))| {
                let conf = dir.path().join(format!("nats-{i}.conf"));
                let store = dir.path().join(format!("js-{i}"));
                let text = nats_conf(i, client, route, mqtt, &store, &routes);
                std::fs::write(&conf, &text).unwrap();
                let kept = Some((conf.clone(), text));
                let log = dir.path().join(format!("nats-{i}.log"));
                let nats = nats.clone();
                let start = move || {
                    Command::new(&nats)
                        .arg("-c")
                        .arg(&conf)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(log_file(&log))
                        .spawn()
                        .expect("spawn nats-server")
                };
                Node { child: None, mqtt_port: mqtt, start: Box::new(start), conf: kept }
            })
            .collect();
        Nodes { kind: Kind::Nats, nodes, dir }
    }

    /// Rewrites every NATS node's config so its one user may not subscribe to `deny`
    /// (nothing denied when empty); nodes read it when they are (re)started.
    pub fn set_nats_subscribe_deny(&mut self, deny: &[&str]) {
        let list: Vec<String> = deny.iter().map(|s| format!("\"{s}\"")).collect();
        let permissions = if deny.is_empty() {
            String::new()
        } else {
            format!(", permissions: {{ subscribe: {{ deny: [{}] }} }}", list.join(", "))
        };
        for node in &self.nodes {
            let (path, text) = node.conf.as_ref().expect("a NATS node");
            let auth = format!(
                "authorization {{ users = [ {{ user: anyone, password: anyone{permissions} }} ] }}\nno_auth_user: anyone\n"
            );
            std::fs::write(path, format!("{text}{auth}")).unwrap();
        }
    }

    /// `n` RabbitMQ nodes with the MQTT plugin, the second and later joined to the first.
    /// Each node has its own name, ports, Mnesia and log dirs under the temp dir; epmd is
    /// shared. The Erlang cookie lives in the temp `HOME`, the same for every node.
    pub fn rabbitmq(n: usize) -> Nodes {
        let server = rabbit_tool("rabbitmq-server");
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let plugins = dir.path().join("enabled_plugins");
        let tag = format!("st{}x{}", std::process::id(), free_port());
        let mut nodes = Vec::new();
        for i in 0..n {
            let env = RabbitNode::new(dir.path(), &home, &plugins, &format!("{tag}{i}"));
            if i == 0 {
                env.ctl("rabbitmq-plugins", &["enable", "--offline", "rabbitmq_mqtt"]);
            }
            let mqtt_port = env.mqtt_port;
            let log = dir.path().join(format!("rabbit-{i}.out"));
            let server = server.clone();
            let start = {
                let env = env.clone();
                move || {
                    let mut cmd = Command::new(&server);
                    env.apply(&mut cmd);
                    cmd.stdin(Stdio::null()).stdout(log_file(&log)).stderr(Stdio::null());
                    // Its own process group, so a kill -9 of the node takes no helper along.
                    use std::os::unix::process::CommandExt;
                    cmd.process_group(0);
                    cmd.spawn().expect("spawn rabbitmq-server")
                }
            };
            nodes.push((env, Node { child: None, mqtt_port, start: Box::new(start), conf: None }));
        }
        let (envs, nodes): (Vec<RabbitNode>, Vec<Node>) = nodes.into_iter().unzip();
        let mut all = Nodes { kind: Kind::RabbitMq, nodes, dir };
        all.start_all();
        for env in &envs[1..] {
            env.ctl("rabbitmqctl", &["stop_app"]);
            env.ctl("rabbitmqctl", &["join_cluster", &envs[0].node]);
            env.ctl("rabbitmqctl", &["start_app"]);
            wait_mqtt(env.mqtt_port, Duration::from_secs(60));
        }
        if n > 1 {
            // A station's persistent session is a durable classic queue on one node; without
            // mirrors, no node takes the station back while that node is down.
            envs[0].ctl(
                "rabbitmqctl",
                &["set_policy", "--apply-to", "queues", "mqtt-sessions", "^mqtt-subscription-", RABBIT_SESSION_POLICY],
            );
        }
        all
    }

    fn start_all(&mut self) {
        if let Err(e) = self.try_start_all() {
            panic!("{e}");
        }
    }

    /// Starts every node and waits until each takes MQTT; a node that exits meanwhile (its
    /// port taken) fails it at once, with the node's log.
    fn try_start_all(&mut self) -> Result<(), String> {
        for n in &mut self.nodes {
            n.child = Some((n.start)());
        }
        let timeout = Duration::from_secs(if self.kind == Kind::RabbitMq { 60 } else { 30 });
        for i in 0..self.nodes.len() {
            let start = Instant::now();
            let port = self.nodes[i].mqtt_port;
            loop {
                let last = match mqtt_round_trip(port) {
                    Ok(()) => break,
                    Err(e) => e,
                };
                let exited = self.nodes[i].child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                if let Some(status) = exited {
                    let log = self.log_tail(i);
                    return Err(format!("{:?} node {i} (MQTT port {port}) exited ({status}): {log}", self.kind));
                }
                if start.elapsed() >= timeout {
                    return Err(format!("no MQTT broker answers on port {port} after {timeout:?}: {last}"));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// The last lines of node `i`'s log, if it has one.
    fn log_tail(&self, i: usize) -> String {
        let read = |name: String| std::fs::read_to_string(self.dir.path().join(name)).ok();
        let text = read(format!("nats-{i}.log")).or_else(|| read(format!("rabbit-{i}.out"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].mqtt_port
    }

    pub fn url(&self, i: usize) -> String {
        format!("mqtt://127.0.0.1:{}", self.port(i))
    }

    /// `urls = [...]` for a station's `[mqtt]`, in node order.
    pub fn urls_toml(&self) -> String {
        let list: Vec<String> = (0..self.len()).map(|i| format!("\"{}\"", self.url(i))).collect();
        format!("urls = [{}]", list.join(", "))
    }

    /// Kills node `i` with SIGKILL (the whole process group for RabbitMQ).
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            if self.kind == Kind::RabbitMq {
                // SAFETY: kill(2) on the process group we created for this child.
                unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again (same ports and data dir) and waits until it answers MQTT. A
    /// RabbitMQ node restarted while twenty stations fsync their journals on the same 2-core
    /// box has taken over 60 s to boot (24 s before its logging was even set up; its boot
    /// syncs files of its own behind theirs), so it gets 180 s; a failure names its last log lines.
    pub fn restart(&mut self, i: usize) {
        let child = (self.nodes[i].start)();
        self.nodes[i].child = Some(child);
        if let Err(e) = try_wait_mqtt(self.nodes[i].mqtt_port, Duration::from_secs(180)) {
            panic!(
                "{:?} node {i} did not come back after a restart: {e}; its log ends: {}",
                self.kind,
                self.log_tail(i)
            );
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
        if std::thread::panicking() {
            // The brokers' logs, for the failure at hand.
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("{:?} broker logs kept in {}", self.kind, kept.display());
        }
    }
}

/// Mirrors every MQTT session queue on all nodes, promoting a mirror when the queue's node dies.
pub const RABBIT_SESSION_POLICY: &str =
    r#"{"ha-mode":"all","ha-promote-on-failure":"always","ha-promote-on-shutdown":"always"}"#;

/// A node's config; a single node is no cluster (JetStream in clustered mode waits for peers).
fn nats_conf(i: usize, client: u16, route: u16, mqtt: u16, store: &Path, routes: &[String]) -> String {
    if routes.len() == 1 {
        return format!(
            "server_name: n{i}\nlisten: 127.0.0.1:{client}\njetstream {{ store_dir: \"{}\" }}\nmqtt {{ listen: 127.0.0.1:{mqtt} }}\n",
            store.display()
        );
    }
    format!(
        "server_name: n{i}\nlisten: 127.0.0.1:{client}\n\
         jetstream {{ store_dir: \"{}\" }}\n\
         cluster {{ name: stationd, listen: 127.0.0.1:{route}, routes: [{}] }}\n\
         mqtt {{ listen: 127.0.0.1:{mqtt} }}\n",
        store.display(),
        routes.join(", ")
    )
}

fn log_file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).expect("broker log file"))
}

fn rabbit_tool(name: &str) -> PathBuf {
    let install = "apt-get install -y rabbitmq-server";
    require_tool("rabbitmq-server", install);
    // The /usr/sbin wrappers switch to the rabbitmq user; the scripts themselves do not.
    let p = Path::new("/usr/lib/rabbitmq/bin").join(name);
    assert!(p.is_file(), "{} missing; install it with: {install}", p.display());
    p
}

/// The environment of one RabbitMQ node.
#[derive(Clone)]
struct RabbitNode {
    node: String,
    env: Vec<(&'static str, String)>,
    mqtt_port: u16,
}

impl RabbitNode {
    fn new(dir: &Path, home: &Path, plugins: &Path, name: &str) -> RabbitNode {
        let (amqp, dist, mqtt) = (free_port(), free_port(), free_port());
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp}\nmqtt.listeners.tcp.default = 127.0.0.1:{mqtt}\n\
                 mqtt.allow_anonymous = true\nloopback_users = none\n"
            ),
        )
        .unwrap();
        let node = format!("{name}@localhost");
        let d = |s: &str| dir.join(format!("{name}-{s}")).display().to_string();
        let env = vec![
            ("HOME", home.display().to_string()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_NODE_PORT", amqp.to_string()),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            ("RABBITMQ_MNESIA_BASE", d("mnesia")),
            ("RABBITMQ_LOG_BASE", d("log")),
            ("RABBITMQ_PID_FILE", d("pid")),
            ("RABBITMQ_CONFIG_FILE", conf.display().to_string()),
            ("RABBITMQ_ADVANCED_CONFIG_FILE", d("advanced.config")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", plugins.display().to_string()),
        ];
        RabbitNode { node, env, mqtt_port: mqtt }
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
    }

    /// Runs `rabbitmqctl`/`rabbitmq-plugins` for this node; panics with its output on failure.
    fn ctl(&self, tool: &str, args: &[&str]) {
        let mut cmd = Command::new(rabbit_tool(tool));
        self.apply(&mut cmd);
        if tool == "rabbitmqctl" {
            cmd.args(["-n", &self.node]);
        }
        let out = cmd.args(args).stdin(Stdio::null()).output().expect("run a rabbitmq tool");
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Waits until the broker at `port` takes an MQTT connection and acks a QoS 1 publish (NATS
/// listens before JetStream is ready; RabbitMQ before its MQTT plugin is).
pub fn wait_mqtt(port: u16, timeout: Duration) {
    if let Err(e) = try_wait_mqtt(port, timeout) {
        panic!("{e}");
    }
}

/// [`wait_mqtt`] that says why instead of failing the test.
fn try_wait_mqtt(port: u16, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match mqtt_round_trip(port) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("no MQTT broker answers on port {port} after {timeout:?}: {last}"))
}

fn mqtt_round_trip(port: u16) -> Result<(), String> {
    let mut opts = rumqttc::MqttOptions::new(format!("probe-{port}"), "127.0.0.1", port);
    opts.set_clean_session(true);
    let (client, mut conn) = rumqttc::Client::new(opts, 10);
    client.publish("stationd-probe", rumqttc::QoS::AtLeastOnce, false, "x").map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return Ok(());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {}
        }
    }
    Err("no PubAck within 3 s".into())
}
