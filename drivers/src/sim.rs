//! A TCP printer simulator for tests and the demo: it records every job and answers
//! status queries (ESC/POS `DLE EOT n`, ZPL `~HS`) according to a state the caller sets —
//! ready, paper out, cover open, head open, silent, or dropping the connection mid-job.
//!
//! It runs on its own thread with its own runtime, so synchronous tests can use it.
//! Each connection's job bytes (queries removed) are recorded as one job when it closes.
//! Like a Zebra, it keeps ZPL format settings from one job to the next
//! ([`crate::zpl_state::Printer`]); [`PrinterSim::labels`] shows each printed format with the
//! settings it printed with.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::zpl_state::{Printed, Printer};

/// What the simulated printer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimState {
    Ready,
    PaperOut,
    CoverOpen,
    HeadOpen,
    /// Takes data but never answers a status query.
    Silent,
    /// Closes the connection after this many job bytes (a cable pulled mid-job).
    DropAfter(usize),
    /// Answers status queries until this many job bytes arrived on a connection, then takes
    /// data but never answers again (a printer hanging mid-job).
    SilentAfter(usize),
}

#[derive(Default)]
struct Shared {
    state: Option<SimState>,
    jobs: Vec<Vec<u8>>,
    /// When the first job byte of each job arrived.
    first_bytes: Vec<std::time::Instant>,
    queries: usize,
    /// The ZPL format settings kept across jobs, and the formats printed with them.
    zpl: Printer,
}

impl Shared {
    fn record(&mut self, job: Vec<u8>) {
        self.zpl.feed(&job);
        self.jobs.push(job);
    }
}

/// A running simulator; stops when dropped.
pub struct PrinterSim {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    /// Notified when a job's first byte arrives (so a waiting benchmark sleeps, not spins).
    first_byte: Arc<Condvar>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl PrinterSim {
    /// Starts on a free loopback port.
    pub fn start() -> PrinterSim {
        let shared = Arc::new(Mutex::new(Shared { state: Some(SimState::Ready), ..Shared::default() }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let first_byte = Arc::new(Condvar::new());
        let fb = first_byte.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("sim runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("sim bind");
                let _ = addr_tx.send(listener.local_addr().expect("sim addr"));
                let accept = async {
                    while let Ok((conn, _)) = listener.accept().await {
                        tokio::spawn(serve(conn, sh.clone(), fb.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("simulator started");
        PrinterSim { addr, shared, first_byte, stop: Some(stop) }
    }

    pub fn set_state(&self, state: SimState) {
        self.shared.lock().expect("sim poisoned").state = Some(state);
    }

    /// Jobs received so far, in order.
    pub fn jobs(&self) -> Vec<Vec<u8>> {
        self.shared.lock().expect("sim poisoned").jobs.clone()
    }

    /// Every ZPL format printed so far, with the settings in force when it printed (kept
    /// from earlier jobs as a Zebra keeps them).
    pub fn labels(&self) -> Vec<Printed> {
        self.shared.lock().expect("sim poisoned").zpl.printed().to_vec()
    }

    /// The jobs once there are at least `n` (or what there is after `timeout`). A job is
    /// recorded when its connection closes, which can come a moment after the station has
    /// seen the printer confirm it.
    pub fn wait_jobs(&self, n: usize, timeout: std::time::Duration) -> Vec<Vec<u8>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let jobs = self.jobs();
            if jobs.len() >= n || std::time::Instant::now() >= deadline {
                return jobs;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// When the first byte of each job arrived, in order (for latency measurements).
    pub fn first_byte_times(&self) -> Vec<std::time::Instant> {
        self.shared.lock().expect("sim poisoned").first_bytes.clone()
    }

    /// When the first byte of job number `n` (counted from 0) arrived, waiting for it up to
    /// `timeout` without spinning (a spinning waiter would take a core from what it measures).
    pub fn wait_first_byte(&self, n: usize, timeout: std::time::Duration) -> Option<std::time::Instant> {
        let deadline = std::time::Instant::now() + timeout;
        let mut shared = self.shared.lock().expect("sim poisoned");
        loop {
            if let Some(at) = shared.first_bytes.get(n) {
                return Some(*at);
            }
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            shared = self.first_byte.wait_timeout(shared, left).expect("sim poisoned").0;
        }
    }

    /// Status queries answered or ignored so far.
    pub fn queries(&self) -> usize {
        self.shared.lock().expect("sim poisoned").queries
    }
}

impl Drop for PrinterSim {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn escpos_answer(state: SimState, n: u8) -> u8 {
    let base = 0x12;
    match (state, n) {
        (SimState::CoverOpen, 1) | (SimState::PaperOut, 1) | (SimState::HeadOpen, 1) => base | 0x08,
        (SimState::CoverOpen, 2) | (SimState::HeadOpen, 2) => base | 0x04,
        (SimState::PaperOut, 2) => base | 0x20,
        (SimState::PaperOut, 4) => base | 0x60,
        _ => base,
    }
}

fn zpl_answer(state: SimState) -> Vec<u8> {
    let paper = u8::from(state == SimState::PaperOut);
    let head = u8::from(matches!(state, SimState::HeadOpen | SimState::CoverOpen));
    format!(
        "\u{2}030,{paper},0,1245,000,0,0,0,000,0,0,0\u{3}\r\n\u{2}000,0,{head},0,0,2,6,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}\r\n"
    )
    .into_bytes()
}

async fn serve(mut conn: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>, first_byte: Arc<Condvar>) {
    let mut job = Vec::new();
    let mut buf = vec![0u8; 16384];
    let mut pending = Vec::new();
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let state = shared.lock().expect("sim poisoned").state.unwrap_or(SimState::Ready);
        let mut answers = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            let silent = match state {
                SimState::Silent => true,
                SimState::SilentAfter(limit) => job.len() >= limit,
                _ => false,
            };
            if pending[i..].starts_with(b"~HS") {
                shared.lock().expect("sim poisoned").queries += 1;
                if !silent {
                    answers.extend(zpl_answer(state));
                }
                i += 3;
            } else if pending[i] == 0x10 && pending.get(i + 1) == Some(&0x04) {
                let Some(&q) = pending.get(i + 2) else { break };
                shared.lock().expect("sim poisoned").queries += 1;
                if !silent {
                    answers.push(escpos_answer(state, q));
                }
                i += 3;
            } else if pending[i] == 0x10 && i + 1 == pending.len() || pending[i] == b'~' && pending.len() - i < 3 {
                // A query may be split across reads: wait for the rest.
                break;
            } else {
                if job.is_empty() {
                    shared.lock().expect("sim poisoned").first_bytes.push(std::time::Instant::now());
                    first_byte.notify_all();
                }
                job.push(pending[i]);
                i += 1;
                if let SimState::DropAfter(limit) = state {
                    if job.len() >= limit {
                        shared.lock().expect("sim poisoned").record(std::mem::take(&mut job));
                        return;
                    }
                }
            }
        }
        pending.drain(..i);
        if !answers.is_empty() && conn.write_all(&answers).await.is_err() {
            break;
        }
    }
    job.extend_from_slice(&pending);
    if !job.is_empty() {
        shared.lock().expect("sim poisoned").record(job);
    }
}
