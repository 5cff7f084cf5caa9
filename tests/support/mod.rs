//! Shared harness for integration tests: builds on the real `stationd` binary, spawns it as
//! a child process, feeds its stdin scanner, reads its feedback lines, kills it.
//!
//! Every integration test goes through this module so that process handling, temp folders
//! and tool checks live in one place. Children are killed when their handle is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

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
    /// A stdin-scanner station; `extra` is appended to the config (more sections or keys).
    pub fn new(journal_extra: &str, extra: &str) -> StationDir {
        let tmp = tempfile::tempdir().expect("temp dir");
        let config = tmp.path().join("stationd.toml");
        let text = format!(
            "[station]\nwarehouse = \"WH1\"\nid = \"PACK-T\"\nrole = \"pack\"\n\n\
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
        stdout_of(&o).lines().map(|l| serde_json::from_str(l).expect("export line is JSON")).collect()
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
        let mut child = Command::new(bin())
            .args(["run", "--config"])
            .arg(config)
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

/// Parses `ok seq=N scan.received code=X` into (N, X).
pub fn parse_ok(line: &str) -> Option<(u64, String)> {
    let rest = line.strip_prefix("ok seq=")?;
    let (seq, rest) = rest.split_once(' ')?;
    let code = rest.split_once("code=").map(|(_, c)| c.to_string()).unwrap_or_default();
    Some((seq.parse().ok()?, code))
}
