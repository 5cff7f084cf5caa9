//! Shared harness for integration tests: builds on the real `stationd` binary, spawns it as
//! a child process, feeds its stdin scanner, reads its feedback lines, kills it.
//!
//! Every integration test goes through this module so that process handling, temp folders
//! and tool checks live in one place. Children are killed when their handle is dropped.

#![allow(dead_code)]

pub mod brokers;
mod browser;
pub mod guest;
mod http;
mod mqtt;
mod pty;

// Each test binary uses some of these; the rest are unused there.
#[allow(unused_imports)]
pub use browser::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use mqtt::*;
#[allow(unused_imports)]
pub use pty::*;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The file this test process appends the MQTT messages it receives and the commands it
/// publishes to, when `STATIOND_CAPTURE_DIR` is set (tests/ci.sh sets it, then validates
/// every line against docs/asyncapi.yaml with tests/contract/validate.py and
/// validate.mjs). One file per test process.
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

/// Records one received message as a JSON line `{topic, retain, payload, client: null}`
/// (see [`capture_file`]); `topic` is `(queue export)` for events read from the journal.
pub fn capture(topic: &str, retain: bool, payload: &[u8]) {
    capture_by(None, topic, retain, payload)
}

/// [`capture`] with the test's MQTT client id that received or published the message: the
/// validators pair a command with the reply its sender received.
pub fn capture_by(client: Option<&str>, topic: &str, retain: bool, payload: &[u8]) {
    let Some(file) = capture_file() else { return };
    let line = serde_json::json!({
        "topic": topic,
        "retain": retain,
        "payload": String::from_utf8_lossy(payload),
        "client": client,
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

    /// A station on the broker at `port` whose label printer is the ZPL printer (simulator)
    /// at `printer`.
    pub fn with_label_printer(port: u16, printer: &str) -> StationDir {
        StationDir::with_broker(
            port,
            &format!(
                "\n[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"{printer}\"\nlanguage = \"zpl\"\nrole = \"label\"\n"
            ),
        )
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

    /// Next feedback line; panics with the daemon's log (and its threads' stacks) if none
    /// comes within 10 s.
    pub fn expect_line(&self) -> String {
        self.line(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no feedback line; stderr:\n{}\n{}", self.stderr(), self.thread_stacks()))
    }

    /// Every thread's stack of the running daemon (by gdb), for a daemon that stopped
    /// answering: where it waits is the first thing to know.
    pub fn thread_stacks(&self) -> String {
        let pid = self.pid().to_string();
        match Command::new("gdb").args(["-p", &pid, "-batch", "-nx", "-ex", "thread apply all bt"]).output() {
            Ok(o) => format!("threads of stationd {pid}:\n{}", String::from_utf8_lossy(&o.stdout)),
            Err(e) => format!("no thread stacks ({e}); install gdb (apt-get install gdb) to see them"),
        }
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
pub fn queue_status(station: &StationDir) -> serde_json::Value {
    let o = stationd(&["queue", "status", "--json", "--config", station.config_str()]);
    assert!(o.status.success(), "queue status: {}", stderr_of(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}
