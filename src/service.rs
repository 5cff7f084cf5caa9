//! systemd integration (`Type=notify`): `READY=1` once the journal is open and the devices
//! are started, `WATCHDOG=1` pings while the workflow loop is alive, `STOPPING=1` at
//! shutdown, and a one-line `STATUS=`. Outside systemd (no `NOTIFY_SOCKET`) all of this
//! does nothing.
//!
//! The watchdog pings only while the workflow loop has beaten recently: a loop stuck on a
//! hung disk or a deadlock stops the pings, and systemd restarts the service.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// Liveness of the workflow loop: it calls [`Heartbeat::beat`] on every input and tick.
#[derive(Clone)]
pub struct Heartbeat {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat { start: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// When a scanner last gave the workflow an input (a packer at work), for the uplink to
/// pace a backlog's drain meanwhile (`[mqtt] drain_rate_in_use`).
#[derive(Clone, Default)]
pub struct InUse {
    last: Heartbeat,
    ever: Arc<AtomicBool>,
}

impl InUse {
    pub fn scanned(&self) {
        self.last.beat();
        self.ever.store(true, Ordering::Relaxed);
    }

    /// Time since the last scan; `None` before the first.
    pub fn idle_for(&self) -> Option<Duration> {
        self.ever.load(Ordering::Relaxed).then(|| self.last.age())
    }
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Pings the systemd watchdog at half its period while the workflow loop is alive.
pub fn spawn_watchdog(heartbeat: Heartbeat, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period / 2);
        let mut stalled = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            if heartbeat.age() < period {
                if stalled {
                    warn!("workflow loop is alive again; watchdog pings resume");
                    stalled = false;
                }
                notify(&[NotifyState::Watchdog]);
            } else if !stalled {
                error!(stalled_for = ?heartbeat.age(), "workflow loop stalled; no longer pinging the watchdog (systemd will restart the service)");
                stalled = true;
            }
        }
    }))
}
