//! Brokers and MQTT clients for tests: free ports, Mosquitto on one, the `stationd monitor`
//! consumer, a black-holing TCP proxy, the cloud side of commands, subscribers.

#![allow(dead_code)]

use super::*;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_port(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing listens on port {port} after 10 s");
}

/// Starts Mosquitto with `conf` and waits until it listens on `port`.
pub fn spawn_mosquitto(conf: &Path, port: u16) -> Child {
    let mosquitto = require_tool("mosquitto", "apt-get install -y mosquitto");
    let child = Command::new(mosquitto)
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mosquitto");
    wait_port(port);
    child
}

/// A real Mosquitto broker on a free loopback port, without persistence.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        Self::start_on(free_port(), "")
    }

    /// `listener_extra` goes under the listener line (TLS settings, ...).
    pub fn start_on(port: u16, listener_extra: &str) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n{listener_extra}\n{}persistence false\nmax_queued_messages 100000\nmax_inflight_messages 0\n",
                if listener_extra.contains("allow_anonymous") { "" } else { "allow_anonymous true\n" }
            ),
        )
        .unwrap();
        let mut b = Broker { child: None, port, conf, _dir: dir };
        b.restart();
        b
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port.
    pub fn restart(&mut self) {
        self.child = Some(spawn_mosquitto(&self.conf, self.port));
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `stationd monitor` as a child; `wait` returns its JSON summary and exit code.
pub struct Monitor {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Monitor {
    pub fn spawn(url: &str, args: &[&str]) -> Monitor {
        let mut child = Command::new(bin())
            .args(["monitor", "--json", "--broker", url])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn monitor");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Monitor { child, stderr }
    }

    /// Blocks until the monitor has subscribed.
    pub fn wait_subscribed(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.stderr.lock().unwrap().contains("subscribing") {
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("monitor did not subscribe:\n{}", self.stderr.lock().unwrap());
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for exit (it exits on --expect / --duration); returns (exit code, summary).
    pub fn wait(mut self, timeout: Duration) -> (Option<i32>, serde_json::Value) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut out = String::new();
                use std::io::Read;
                self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
                let last = out.lines().last().unwrap_or("{}").to_string();
                let v = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {out}\n{}", self.stderr()));
                return (status.code(), v);
            }
            if start.elapsed() > timeout {
                // SAFETY: plain kill(2) on our own child; SIGTERM makes it print its summary.
                unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
                std::thread::sleep(Duration::from_millis(500));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of a port, to cut the network: `pass` forwards, `blackhole` keeps
/// every connection open but moves no byte either way until it is lifted (a dead link that
/// never closes: both ends' TCP stalls and retransmits, as on a real black-holed route, and
/// what was sent arrives late if the ends are still there).
pub struct Proxy {
    pub port: u16,
    blackhole: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        Self::start_on(free_port(), target)
    }

    pub fn start_on(port: u16, target: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("proxy bind");
        let blackhole = std::sync::Arc::new(AtomicBool::new(false));
        let bh = blackhole.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let bh = bh.clone();
                std::thread::spawn(move || {
                    let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else { return };
                    let pump =
                        |mut from: std::net::TcpStream, mut to: std::net::TcpStream, bh: std::sync::Arc<AtomicBool>| {
                            std::thread::spawn(move || {
                                use std::io::Read;
                                let mut buf = [0u8; 16384];
                                let hold = || {
                                    while bh.load(Ordering::SeqCst) {
                                        std::thread::sleep(Duration::from_millis(5));
                                    }
                                };
                                loop {
                                    hold();
                                    match from.read(&mut buf) {
                                        Ok(0) | Err(_) => {
                                            let _ = to.shutdown(std::net::Shutdown::Both);
                                            break;
                                        }
                                        Ok(n) => {
                                            // Bytes read just as the link went dark wait for it too.
                                            hold();
                                            if to.write_all(&buf[..n]).is_err() {
                                                break;
                                            }
                                        }
                                    }
                                }
                            });
                        };
                    pump(client.try_clone().unwrap(), upstream.try_clone().unwrap(), bh.clone());
                    pump(upstream, client, bh);
                });
            }
        });
        Proxy { port, blackhole }
    }

    pub fn set_blackhole(&self, on: bool) {
        self.blackhole.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `stationd queue status --json` of a station (works while its daemon runs).
/// The cloud side of the command topic: sends commands to a station and reads its replies.
pub struct Cloud {
    client: rumqttc::Client,
    /// The MQTT client id, recorded with each captured command (see [`capture_by`]).
    id: String,
    replies: Receiver<serde_json::Value>,
    prefix: String,
}

/// An MQTT client on the test broker subscribed to `topic`; messages arrive on the receiver
/// as (topic, payload). Returns once the subscription is acknowledged.
pub fn subscriber(port: u16, topic: &str) -> (rumqttc::Client, Receiver<(String, Vec<u8>)>) {
    subscriber_as(port, topic, None)
}

/// [`subscriber`] with a broker username and password.
pub fn subscriber_as(
    port: u16,
    topic: &str,
    login: Option<(&str, &str)>,
) -> (rumqttc::Client, Receiver<(String, Vec<u8>)>) {
    subscriber_with_id(port, topic, login, &format!("test-sub-{}-{}", std::process::id(), free_port()))
}

/// [`subscriber_as`] with the MQTT client id `id`.
fn subscriber_with_id(
    port: u16,
    topic: &str,
    login: Option<(&str, &str)>,
    id: &str,
) -> (rumqttc::Client, Receiver<(String, Vec<u8>)>) {
    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(4 << 20, 4 << 20);
    if let Some((user, pass)) = login {
        opts.set_credentials(user, pass);
    }
    let (client, mut conn) = rumqttc::Client::new(opts, 100);
    client.subscribe(topic, rumqttc::QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let id = id.to_string();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    capture_by(Some(&id), &p.topic, p.retain, &p.payload);
                    if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    ready.recv_timeout(Duration::from_secs(10)).expect("subscribed");
    (client, rx)
}

impl Cloud {
    pub fn connect(port: u16, prefix: &str) -> Cloud {
        Self::connect_as(port, prefix, None)
    }

    /// [`Cloud::connect`] with a broker username and password.
    pub fn connect_as(port: u16, prefix: &str, login: Option<(&str, &str)>) -> Cloud {
        let id = format!("test-cloud-{}-{}", std::process::id(), free_port());
        let (client, raw) = subscriber_with_id(port, &format!("{prefix}/reply"), login, &id);
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for (_, payload) in raw {
                if let Ok(v) = serde_json::from_slice(&payload) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Cloud { client, id, replies, prefix: prefix.to_string() }
    }

    /// Publishes raw bytes to `{prefix}/cmd/{name}` and returns the next reply.
    pub fn send_raw(&self, name: &str, payload: &[u8]) -> serde_json::Value {
        self.publish(name, payload, false);
        self.replies.recv_timeout(Duration::from_secs(10)).expect("a reply within 10 s")
    }

    /// Publishes without waiting for a reply.
    pub fn publish_only(&self, name: &str, payload: &[u8]) {
        self.publish(name, payload, false);
    }

    /// Publishes with the retain flag set or not, without waiting for a reply.
    /// Captured (see [`capture_by`]) before it is sent, so it precedes its reply.
    pub fn publish(&self, name: &str, payload: &[u8], retain: bool) {
        let topic = format!("{}/cmd/{name}", self.prefix);
        capture_by(Some(&self.id), &topic, retain, payload);
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload.to_vec()).unwrap();
    }

    /// The next `n` replies (panics if they do not come within 20 s).
    pub fn replies(&self, n: usize) -> Vec<serde_json::Value> {
        (0..n).map(|_| self.replies.recv_timeout(Duration::from_secs(20)).expect("reply")).collect()
    }

    /// Sends the command `name` (one topic level: `order-upsert`, `order-cancel`, `order-hold`,
    /// `order-release`, `print`, `resync`; a deprecated v1 name only where a test means it)
    /// and returns the next reply.
    pub fn send(&self, name: &str, payload: serde_json::Value) -> serde_json::Value {
        self.send_raw(name, payload.to_string().as_bytes())
    }
}

/// A PTY pair: the test writes to `master`; the daemon opens the slave via a symlink
/// (like `/dev/serial/by-id/...`).
/// A TCP proxy in front of an MQTT broker that, when told to, silently drops the PUBLISH
/// packets the client sends (`set_eating`) or the PUBACKs the broker sends back
/// (`set_eating_acks`) while forwarding everything else (pings, subscribes): a connection
/// that stays alive but loses publishes or their acks, which plain TCP faults cannot make.
/// Every PUBLISH the client sends is recorded ([`SentPublish`]: DUP flag, packet id, topic).
pub struct PublishEater {
    pub port: u16,
    eat: std::sync::Arc<std::sync::atomic::AtomicBool>,
    eat_acks: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub eaten: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    sent: std::sync::Arc<std::sync::Mutex<Vec<SentPublish>>>,
}

/// A PUBLISH packet as the client sent it.
#[derive(Debug, Clone)]
pub struct SentPublish {
    /// Which TCP connection of the client carried it (0 for the first).
    pub connection: usize,
    pub dup: bool,
    pub pkid: Option<u16>,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Reads one MQTT packet (fixed header, remaining length, body) into `packet`.
fn read_packet(from: &mut std::net::TcpStream, packet: &mut Vec<u8>) -> bool {
    use std::io::Read;
    packet.clear();
    let mut byte = [0u8; 1];
    if from.read_exact(&mut byte).is_err() {
        return false;
    }
    packet.push(byte[0]);
    let (mut len, mut shift) = (0usize, 0);
    loop {
        if from.read_exact(&mut byte).is_err() {
            return false;
        }
        packet.push(byte[0]);
        len |= ((byte[0] & 0x7f) as usize) << shift;
        shift += 7;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    from.read_exact(&mut packet[start..]).is_ok()
}

/// The PUBLISH in `packet` (MQTT 3.1.1 §3.3), if it is one.
fn parse_publish(packet: &[u8], connection: usize) -> Option<SentPublish> {
    if packet[0] >> 4 != 3 {
        return None;
    }
    let mut i = 1;
    while packet[i] & 0x80 != 0 {
        i += 1;
    }
    i += 1;
    let topic_len = u16::from_be_bytes([packet[i], packet[i + 1]]) as usize;
    let topic = String::from_utf8_lossy(&packet[i + 2..i + 2 + topic_len]).into_owned();
    i += 2 + topic_len;
    let qos = (packet[0] >> 1) & 0x03;
    let pkid = (qos > 0).then(|| u16::from_be_bytes([packet[i], packet[i + 1]]));
    if qos > 0 {
        i += 2;
    }
    Some(SentPublish { connection, dup: packet[0] & 0x08 != 0, pkid, topic, payload: packet[i..].to_vec() })
}

impl PublishEater {
    pub fn start(target: u16) -> PublishEater {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("proxy bind");
        let port = listener.local_addr().unwrap().port();
        let eat = std::sync::Arc::new(AtomicBool::new(false));
        let eat_acks = std::sync::Arc::new(AtomicBool::new(false));
        let eaten = std::sync::Arc::new(AtomicUsize::new(0));
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, ack_flag, count, record) = (eat.clone(), eat_acks.clone(), eaten.clone(), sent.clone());
        std::thread::spawn(move || {
            for (connection, client) in listener.incoming().enumerate() {
                let Ok(mut client) = client else { break };
                let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (mut down_from, mut down_to) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                let ack_flag = ack_flag.clone();
                std::thread::spawn(move || {
                    // Broker to client, packet by packet: PUBACKs (type 4) dropped when told.
                    let mut packet = Vec::new();
                    while read_packet(&mut down_from, &mut packet) {
                        if packet[0] >> 4 == 4 && ack_flag.load(Ordering::SeqCst) {
                            continue;
                        }
                        if down_to.write_all(&packet).is_err() {
                            break;
                        }
                    }
                    let _ = down_to.shutdown(std::net::Shutdown::Both);
                });
                let (flag, count, record, mut up) = (flag.clone(), count.clone(), record.clone(), upstream);
                std::thread::spawn(move || {
                    // Client to broker, packet by packet.
                    let mut packet = Vec::new();
                    while read_packet(&mut client, &mut packet) {
                        if let Some(p) = parse_publish(&packet, connection) {
                            record.lock().unwrap().push(p);
                            if flag.load(Ordering::SeqCst) {
                                count.fetch_add(1, Ordering::SeqCst);
                                continue;
                            }
                        }
                        if up.write_all(&packet).is_err() {
                            break;
                        }
                    }
                    let _ = up.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        PublishEater { port, eat, eat_acks, eaten, sent }
    }

    pub fn set_eating(&self, on: bool) {
        self.eat.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Drops the broker's PUBACKs (the broker has the publishes; the client never hears so).
    pub fn set_eating_acks(&self, on: bool) {
        self.eat_acks.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every PUBLISH the client sent so far, in order.
    pub fn publishes(&self) -> Vec<SentPublish> {
        self.sent.lock().unwrap().clone()
    }
}
