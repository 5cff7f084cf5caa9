//! Shared harness for integration tests: builds on the real `stationd` binary, spawns it as
//! a child process, feeds its stdin scanner, reads its feedback lines, kills it.
//!
//! Every integration test goes through this module so that process handling, temp folders
//! and tool checks live in one place. Children are killed when their handle is dropped.

#![allow(dead_code)]

pub mod brokers;
pub mod guest;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The file this test process appends the MQTT messages it receives to, when
/// `STATIOND_CAPTURE_DIR` is set (tests/ci.sh sets it, then validates every line against
/// docs/asyncapi.yaml with tests/contract/validate.py). One file per test process.
fn capture_file() -> Option<&'static std::sync::Mutex<std::fs::File>> {
    static FILE: std::sync::OnceLock<Option<std::sync::Mutex<std::fs::File>>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os("STATIOND_CAPTURE_DIR")?);
        std::fs::create_dir_all(&dir).expect("create STATIOND_CAPTURE_DIR");
        let exe = std::env::current_exe().ok();
        let name = exe.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
        let path = dir.join(format!("{}-{}.jsonl", name.unwrap_or_default(), std::process::id()));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open capture file");
        Some(std::sync::Mutex::new(file))
    })
    .as_ref()
}

/// Records one received message as a JSON line `{topic, retain, payload}` (see
/// [`capture_file`]); `topic` is `(queue export)` for events read from the journal.
pub fn capture(topic: &str, retain: bool, payload: &[u8]) {
    let Some(file) = capture_file() else { return };
    let line = serde_json::json!({
        "topic": topic,
        "retain": retain,
        "payload": String::from_utf8_lossy(payload),
    });
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(f, "{line}").expect("write capture file");
}

/// Path of the binary cargo built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stationd"))
}

/// Runs a `stationd` command to completion.
pub fn stationd(args: &[&str]) -> Output {
    Command::new(bin()).args(args).stdin(Stdio::null()).output().expect("stationd runs")
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails the test, loudly, when a tool it needs is missing: tests never skip silently.
pub fn require_tool(tool: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        None => panic!(
            "this test needs `{tool}`, which is not installed; install it with: {install} (tests/ci.sh does this)"
        ),
    }
}

/// A station folder: config + journal under one temp dir.
pub struct StationDir {
    pub tmp: tempfile::TempDir,
    pub config: PathBuf,
}

impl StationDir {
    /// A station whose uplink goes to `mqtt://127.0.0.1:{port}` with short reconnect delays.
    pub fn with_broker(port: u16, mqtt_extra: &str) -> StationDir {
        let mqtt = format!(
            "[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\nkeep_alive = \"2s\"\n{mqtt_extra}\n"
        );
        StationDir::new("", &mqtt)
    }

    /// A stdin-scanner station; `extra` is appended to the config (more sections or keys).
    pub fn new(journal_extra: &str, extra: &str) -> StationDir {
        let tmp = tempfile::tempdir().expect("temp dir");
        let config = tmp.path().join("stationd.toml");
        let text = format!(
            "[station]\nwarehouse = \"WH1\"\nid = \"PACK-T\"\nrole = \"pack\"\nallow_unlisted_packers = true\n\n\
             [journal]\npath = \"journal\"\n{journal_extra}\n\n\
             [[scanner]]\nname = \"stdin\"\nkind = \"stdin\"\n\n{extra}"
        );
        std::fs::write(&config, text).expect("write config");
        StationDir { tmp, config }
    }

    pub fn journal(&self) -> PathBuf {
        self.tmp.path().join("journal")
    }

    pub fn config_str(&self) -> &str {
        self.config.to_str().expect("utf-8 path")
    }

    pub fn spawn(&self) -> Daemon {
        Daemon::spawn(&self.config)
    }

    /// `stationd queue export` as parsed JSON events.
    pub fn export(&self) -> Vec<serde_json::Value> {
        let o = stationd(&["queue", "export", "--config", self.config_str()]);
        assert!(o.status.success(), "queue export failed: {}", stderr_of(&o));
        let out = stdout_of(&o);
        for line in out.lines() {
            capture("(queue export)", false, line.as_bytes());
        }
        out.lines().map(|l| serde_json::from_str(l).expect("export line is JSON")).collect()
    }
}

/// A running `stationd run` child.
pub struct Daemon {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    pub fn spawn(config: &Path) -> Daemon {
        Self::spawn_with_env(config, &[])
    }

    /// Like [`Daemon::spawn`], with extra environment variables.
    pub fn spawn_with_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::spawn_command(Command::new(bin()).args(["run", "--config"]).arg(config).envs(env.iter().copied()))
    }

    /// Like [`Daemon::spawn`], with `RLIMIT_NOFILE` set to `open_files` (soft and hard), as
    /// on a box whose service manager keeps the old default of 1 024.
    pub fn spawn_with_open_files(config: &Path, open_files: u64) -> Daemon {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(bin());
        cmd.args(["run", "--config"]).arg(config);
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: open_files, rlim_max: open_files };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Self::spawn_command(&mut cmd)
    }

    fn spawn_command(cmd: &mut Command) -> Daemon {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stationd");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let stdin = child.stdin.take();
        Daemon { child, stdin, lines, stderr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Writes one scan line; false if the daemon is gone.
    pub fn scan(&mut self, code: &str) -> bool {
        match self.stdin.as_mut() {
            Some(s) => s.write_all(format!("{code}\n").as_bytes()).and_then(|_| s.flush()).is_ok(),
            None => false,
        }
    }

    /// Writes raw bytes to the scanner.
    pub fn scan_bytes(&mut self, bytes: &[u8]) -> bool {
        match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).and_then(|_| s.flush()).is_ok(),
            None => false,
        }
    }

    /// Hands the stdin pipe to the caller (e.g. a writer thread).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin still here")
    }

    /// Gives back a stdin taken with [`Daemon::take_stdin`].
    pub fn give_stdin(&mut self, stdin: ChildStdin) {
        self.stdin = Some(stdin);
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Next feedback line, or None after `timeout`.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Next feedback line; panics with the daemon's log if none comes within 10 s.
    pub fn expect_line(&self) -> String {
        self.line(Duration::from_secs(10)).unwrap_or_else(|| panic!("no feedback line; stderr:\n{}", self.stderr()))
    }

    /// Lines already received, without waiting.
    pub fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to 5 s for the log to show something (it is read on its own thread, so a
    /// line logged before a feedback line may arrive after it); returns the log.
    pub fn stderr_showing(&self, found: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let log = self.stderr();
            if found(&log) || start.elapsed() > Duration::from_secs(5) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits for exit; returns the exit code and how long it took.
    pub fn wait_exit(&mut self, timeout: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("stationd did not exit within {timeout:?}; stderr:\n{}", self.stderr());
    }

    /// Waits until the log shows the daemon is up (it has opened the journal).
    pub fn wait_started(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.stderr().contains("stationd started") {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("stationd did not start; stderr:\n{}", self.stderr());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a feedback line for a durable scan into (seq, scanned code): a good one
/// (`ok seq=N what code=X`) or a refused one (`error c: message (seq=N code=X)`). Both mean
/// the scan's event is on disk. Lines without a seq (not recorded) give `None`.
pub fn parse_confirmed(line: &str) -> Option<(u64, String)> {
    if let Some(rest) = line.strip_prefix("ok seq=") {
        let (seq, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = rest.rsplit_once(" code=").map(|(_, c)| c.to_string()).unwrap_or_default();
        return Some((seq.parse().ok()?, code));
    }
    if line.starts_with("error ") {
        let tail = line.strip_suffix(')')?.rsplit_once("(seq=")?.1;
        let (seq, code) = tail.split_once(" code=").unwrap_or((tail, ""));
        return Some((seq.parse().ok()?, code.to_string()));
    }
    None
}

/// Reads feedback until `n` durable scans were answered; returns them.
pub fn collect_confirmed(daemon: &Daemon, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let line = daemon.expect_line();
        match parse_confirmed(&line) {
            Some(ok) => out.push(ok),
            None if line.starts_with("alert ") => {}
            None => panic!("unexpected feedback {line:?}"),
        }
    }
    out
}

/// A free TCP port on loopback (bound and released; fine for tests on one box).
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
pub fn queue_status(station: &StationDir) -> serde_json::Value {
    let o = stationd(&["queue", "status", "--json", "--config", station.config_str()]);
    assert!(o.status.success(), "queue status: {}", stderr_of(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The cloud side of the command topic: sends commands to a station and reads its replies.
pub struct Cloud {
    client: rumqttc::Client,
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
    let id = format!("test-sub-{}-{}", std::process::id(), free_port());
    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(4 << 20, 4 << 20);
    if let Some((user, pass)) = login {
        opts.set_credentials(user, pass);
    }
    let (client, mut conn) = rumqttc::Client::new(opts, 100);
    client.subscribe(topic, rumqttc::QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    capture(&p.topic, p.retain, &p.payload);
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
        let (client, raw) = subscriber_as(port, &format!("{prefix}/reply"), login);
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
        Cloud { client, replies, prefix: prefix.to_string() }
    }

    /// Publishes raw bytes to `{prefix}/cmd/{name}` and returns the next reply.
    pub fn send_raw(&self, name: &str, payload: &[u8]) -> serde_json::Value {
        let topic = format!("{}/cmd/{name}", self.prefix);
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_vec()).unwrap();
        self.replies.recv_timeout(Duration::from_secs(10)).expect("a reply within 10 s")
    }

    /// Publishes without waiting for a reply.
    pub fn publish_only(&self, name: &str, payload: &[u8]) {
        self.publish(name, payload, false);
    }

    /// Publishes with the retain flag set or not, without waiting for a reply.
    pub fn publish(&self, name: &str, payload: &[u8], retain: bool) {
        let topic = format!("{}/cmd/{name}", self.prefix);
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload.to_vec()).unwrap();
    }

    /// The next `n` replies (panics if they do not come within 20 s).
    pub fn replies(&self, n: usize) -> Vec<serde_json::Value> {
        (0..n).map(|_| self.replies.recv_timeout(Duration::from_secs(20)).expect("reply")).collect()
    }

    pub fn send(&self, name: &str, payload: serde_json::Value) -> serde_json::Value {
        self.send_raw(name, payload.to_string().as_bytes())
    }
}

/// A PTY pair: the test writes to `master`; the daemon opens the slave via a symlink
/// (like `/dev/serial/by-id/...`).
pub struct Pty {
    pub master: std::fs::File,
    _slave: std::os::fd::OwnedFd,
}

pub fn pty(link: &Path) -> Pty {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty fills two fds we then own.
    let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty failed");
    // Not inherited by the daemon we spawn: it must see the PTY go away when we close it.
    // SAFETY: fcntl on fds we own.
    unsafe {
        libc::fcntl(m, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(s, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: `s` is a valid open fd returned by openpty.
    let name = unsafe { std::ffi::CStr::from_ptr(libc::ttyname(s)) }.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&name, link).unwrap();
    // SAFETY: both fds come from openpty and are owned from here on.
    let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    Pty { master, _slave: slave }
}

/// How the in-test order system answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(serde_json::Value),
    /// 200 with this text body (a ZPL label).
    Text(String),
    /// This status, empty body.
    Status(u16),
    /// Never answers (holds the connection for 30 s).
    Stall,
}

/// An HTTP order system on loopback: per path, a list of answers used in turn (the last
/// one repeats). Its `Date` header is `clock_offset` seconds off real time.
pub struct OrderSystem {
    pub url: String,
    pub hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl OrderSystem {
    pub fn start(answers: Vec<(&str, Vec<Answer>)>, clock_offset: i64) -> OrderSystem {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let plan: std::collections::HashMap<String, Vec<Answer>> =
            answers.into_iter().map(|(p, a)| (p.to_string(), a)).collect();
        let plan = std::sync::Arc::new(std::sync::Mutex::new(plan));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (plan, hits) = (plan.clone(), h.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut request = String::new();
                    if reader.read_line(&mut request).is_err() {
                        return;
                    }
                    let path = request.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap().to_string();
                    let mut auth = String::new();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                        if l.to_ascii_lowercase().starts_with("authorization:") {
                            auth = l.trim().to_string();
                        }
                    }
                    hits.lock().unwrap().push(format!("{path} {auth}"));
                    let answer = {
                        let mut plan = plan.lock().unwrap();
                        match plan.get_mut(&path) {
                            Some(list) if list.len() > 1 => list.remove(0),
                            Some(list) => list[0].clone(),
                            None => Answer::Status(404),
                        }
                    };
                    let date = std::time::SystemTime::now()
                        .checked_add_signed(clock_offset)
                        .unwrap_or_else(std::time::SystemTime::now);
                    let (status, body) = match answer {
                        Answer::Stall => {
                            std::thread::sleep(Duration::from_secs(30));
                            return;
                        }
                        Answer::Status(s) => (s, String::new()),
                        Answer::Json(v) => (200, v.to_string()),
                        Answer::Text(t) => (200, t),
                    };
                    let mut conn = conn;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nDate: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len(),
                        httpdate::fmt_http_date(date)
                    );
                });
            }
        });
        OrderSystem { url, hits }
    }
}

trait AddSigned {
    fn checked_add_signed(self, secs: i64) -> Option<std::time::SystemTime>;
}

impl AddSigned for std::time::SystemTime {
    fn checked_add_signed(self, secs: i64) -> Option<std::time::SystemTime> {
        if secs >= 0 {
            self.checked_add(Duration::from_secs(secs as u64))
        } else {
            self.checked_sub(Duration::from_secs(secs.unsigned_abs()))
        }
    }
}

/// A plain HTTP/1.1 GET on loopback: (status, body). `headers` are extra header lines.
pub fn http_get(port: u16, path: &str, headers: &[&str]) -> (u16, String) {
    try_http_get(port, path, headers, Duration::from_secs(10)).expect("an answer from the http server")
}

/// [`http_get`] that gives up after `timeout` (connect and answer) instead of panicking.
/// A `Host` header among `headers` replaces the default `Host: 127.0.0.1`.
pub fn try_http_get(port: u16, path: &str, headers: &[&str], timeout: Duration) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    c.set_read_timeout(Some(timeout))?;
    let host =
        if headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:")) { "" } else { "Host: 127.0.0.1\r\n" };
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(c, "GET {path} HTTP/1.1\r\n{host}Connection: close\r\n{extra}\r\n")?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // Chunked bodies (axum's default for streams) are not used by these routes.
    Ok((status, body.to_string()))
}

/// A TCP proxy in front of an MQTT broker that, when told to, silently drops the PUBLISH
/// packets the client sends while forwarding everything else (pings, acks, subscribes):
/// a connection that stays alive but loses publishes, which plain TCP faults cannot make.
pub struct PublishEater {
    pub port: u16,
    eat: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub eaten: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl PublishEater {
    pub fn start(target: u16) -> PublishEater {
        use std::io::Read;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("proxy bind");
        let port = listener.local_addr().unwrap().port();
        let eat = std::sync::Arc::new(AtomicBool::new(false));
        let eaten = std::sync::Arc::new(AtomicUsize::new(0));
        let (flag, count) = (eat.clone(), eaten.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { break };
                let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (mut down_from, mut down_to) = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut down_from, &mut down_to);
                    let _ = down_to.shutdown(std::net::Shutdown::Both);
                });
                let (flag, count, mut up) = (flag.clone(), count.clone(), upstream);
                std::thread::spawn(move || {
                    // Client to broker, packet by packet: fixed header byte, remaining length
                    // (variable-length integer), body.
                    let mut packet = Vec::new();
                    loop {
                        packet.clear();
                        let mut byte = [0u8; 1];
                        if client.read_exact(&mut byte).is_err() {
                            break;
                        }
                        packet.push(byte[0]);
                        let (mut len, mut shift) = (0usize, 0);
                        loop {
                            if client.read_exact(&mut byte).is_err() {
                                let _ = up.shutdown(std::net::Shutdown::Both);
                                return;
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
                        if client.read_exact(&mut packet[start..]).is_err() {
                            break;
                        }
                        if packet[0] >> 4 == 3 && flag.load(Ordering::SeqCst) {
                            count.fetch_add(1, Ordering::SeqCst);
                            continue;
                        }
                        if up.write_all(&packet).is_err() {
                            break;
                        }
                    }
                    let _ = up.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        PublishEater { port, eat, eaten }
    }

    pub fn set_eating(&self, on: bool) {
        self.eat.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}
