//! Scanner tasks: read bytes from a scanner transport, frame them with the drivers'
//! [`ScanFramer`], and send station [`Input`]s. One task per configured scanner; each
//! reports its state (ready, offline) to the [`DeviceStates`].

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use stationd_drivers::framing::{Frame, ScanFramer};
use stationd_drivers::scanner::{ScannerEvent, ScannerLink, ScannerSpec};

use crate::config::{ScannerConfig, ScannerKind};
use crate::devices::{DeviceKind, DeviceStates};
use crate::station::Input;

pub fn kind_name(kind: &ScannerKind) -> &'static str {
    match kind {
        ScannerKind::Serial { .. } => "serial",
        ScannerKind::Hid { .. } => "hid",
        ScannerKind::Tcp { .. } => "tcp",
        ScannerKind::Stdin { .. } => "stdin",
    }
}

/// Starts the task of one scanner; its state goes to `devices` whenever it becomes ready
/// or offline.
pub fn spawn(
    cfg: ScannerConfig,
    tx: mpsc::Sender<Input>,
    shutdown: CancellationToken,
    devices: DeviceStates,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let link = match &cfg.kind {
            ScannerKind::Serial { path, baud, parity } => {
                Some(ScannerLink::Serial { path: path.clone(), baud: *baud, parity: *parity })
            }
            ScannerKind::Tcp { address, listen: false } => Some(ScannerLink::TcpConnect { address: address.clone() }),
            ScannerKind::Tcp { address, listen: true } => Some(ScannerLink::TcpListen { address: address.clone() }),
            ScannerKind::Hid { path } => Some(ScannerLink::Hid { path: path.clone() }),
            _ => None,
        };
        if let Some(link) = link {
            let spec = ScannerSpec {
                name: cfg.name.clone(),
                link,
                max_len: cfg.max_len,
                inter_key_timeout: cfg.inter_key_timeout,
            };
            device_scanner(spec, tx, shutdown, devices).await;
            return;
        }
        match cfg.kind {
            ScannerKind::Stdin { shutdown_on_eof } => {
                // Published like any scanner's, so the cloud sees every configured device.
                devices.report(&cfg.name, DeviceKind::Scanner, "ready", Some("reading standard input"));
                stdin_scanner(&cfg.name, cfg.max_len, &tx, &shutdown).await;
                devices.report(&cfg.name, DeviceKind::Scanner, "offline", Some("standard input closed"));
                if shutdown_on_eof {
                    info!(scanner = %cfg.name, "stdin closed; shutting down (on_eof = \"shutdown\")");
                    shutdown.cancel();
                } else {
                    info!(scanner = %cfg.name, "stdin closed; scanner idle");
                }
            }
            other => warn!(scanner = %cfg.name, kind = kind_name(&other), "scanner kind not available in this build"),
        }
    })
}

/// Runs a device scanner from the drivers crate and turns its events into inputs.
async fn device_scanner(
    spec: ScannerSpec,
    tx: mpsc::Sender<Input>,
    shutdown: CancellationToken,
    devices: DeviceStates,
) {
    let (events_tx, mut events) = mpsc::channel(64);
    let name = spec.name.clone();
    let task = tokio::spawn(stationd_drivers::scanner::run(spec, events_tx, shutdown.clone()));
    while let Some(ev) = events.recv().await {
        match ev {
            ScannerEvent::Frame(frame) => {
                if tx.send(to_input(&name, frame)).await.is_err() {
                    break;
                }
            }
            ScannerEvent::State { ready, detail } => {
                let state = if ready { "ready" } else { "offline" };
                if ready {
                    info!(scanner = %name, %detail, "scanner ready");
                } else {
                    warn!(scanner = %name, %detail, "scanner offline; reopening with backoff");
                }
                devices.report(&name, DeviceKind::Scanner, state, Some(detail.as_str()));
            }
        }
    }
    let _ = task.await;
}

/// Every line typed (or piped) on stdin is a scan. Returns at EOF or shutdown.
async fn stdin_scanner(name: &str, max_len: usize, tx: &mpsc::Sender<Input>, shutdown: &CancellationToken) {
    let mut stdin = tokio::io::stdin();
    let mut framer = ScanFramer::new(max_len);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::select! {
            r = stdin.read(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    warn!(scanner = name, error = %e, "reading stdin failed");
                    0
                }
            },
            _ = shutdown.cancelled() => return,
        };
        let frames = if n == 0 { framer.flush().into_iter().collect() } else { framer.push(&buf[..n]) };
        for frame in frames {
            if tx.send(to_input(name, frame)).await.is_err() {
                return;
            }
        }
        if n == 0 {
            return;
        }
    }
}

fn to_input(scanner: &str, frame: Frame) -> Input {
    match frame {
        Ok(code) => Input::Scan { scanner: scanner.to_string(), code },
        Err(error) => {
            warn!(scanner, error = %error, "scan rejected");
            Input::BadScan { scanner: scanner.to_string(), error }
        }
    }
}
