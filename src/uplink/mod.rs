//! The MQTT uplink: store-and-forward of journal events to `{prefix}/events`, the retained
//! station status and device states, and commands from `{prefix}/cmd/#` (a deeper topic is answered `unknown_command`).
//!
//! # Design constraints
//! - **The journal is the source of truth.** An event is acked in the journal only on the
//!   broker's PubAck for it. Every connection starts from the journal's first un-acked seq
//!   and re-sends everything un-acked in seq order: whatever rumqttc or the broker kept or
//!   dropped across the reconnect does not matter. Duplicates are possible (resends) and
//!   carry the same `id` and `seq`, so consumers drop them.
//! - **One publishing task per connection** owns the `AsyncClient` and the `EventLoop`, so
//!   the `Outgoing::Publish(pkid)` notifications arrive in the order it published and map to
//!   seqs exactly. A fresh `EventLoop` per connection: no state carries across reconnects.
//! - The session is persistent (`clean_session = false`), so commands the cloud sends while
//!   the station is offline are queued by the broker and arrive on reconnect; a command is
//!   acknowledged (manual PubAck) only after it was executed and answered.
//! - Reconnects back off exponentially with jitter between `reconnect_min` and
//!   `reconnect_max`; errors are logged once per kind and then at most once a minute.
//! - **Failover** (`[mqtt] urls`): the first URL first; a connection that is up stays where
//!   it is; every failure moves the next attempt to the next URL, wrapping around, with the
//!   same backoff ([`Failover`]). No broker is preferred once connected: a station does not
//!   leave a working node to go back to the first one.
//! - Scans keep being journaled whatever the uplink does: nothing here blocks the workflow.

pub(crate) mod commands;
pub(crate) mod execute;
mod flight;
pub mod presence;
mod resync;
mod session;
mod stale;
pub mod subscription;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use commands::{parse_command, CommandError, CommandRequest, MAX_COMMAND_BYTES};

use crate::config::MqttConfig;
use crate::devices::{DeviceReceiver, DeviceStates};
use crate::journal::Journal;
use crate::orders::OrderStore;
use crate::print::Printing;

/// Largest MQTT packet accepted from the broker; commands above [`MAX_COMMAND_BYTES`] but
/// below this are answered with `payload_too_large` instead of killing the connection.
pub const MAX_INCOMING_PACKET: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("mqtt.{key} {path}: {message}")]
    File { key: &'static str, path: String, message: String },
    #[error("cannot start the uplink's thread: {0}")]
    Thread(std::io::Error),
}

/// What the status command and page show about the broker connection.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UplinkStatus {
    /// `connecting`, `connected`, `backoff` or `stopped`.
    pub state: &'static str,
    pub broker: String,
    pub connected_since: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub reconnects: u64,
    /// Event publishes sent (including resends).
    pub published: u64,
    /// Events acked by the broker.
    pub acked: u64,
    /// The backlog drains at `[mqtt] drain_rate_in_use` because the station is in use.
    pub drain_paced: bool,
    /// How the broker last answered the `{prefix}/cmd/#` subscription (kept across
    /// reconnects until the next SubAck; `None` before the first connection).
    pub commands: Option<subscription::CommandSubscription>,
    /// SubAcks that refused or downgraded the command subscription.
    pub command_subscription_refusals: u64,
}

pub type SharedStatus = Arc<Mutex<UplinkStatus>>;

/// Handle to the running uplink.
pub struct Uplink {
    pub status: SharedStatus,
    devices: DeviceStates,
    /// Resolves when the uplink has stopped (after `shutdown`, once the offline status is out).
    pub task: tokio::sync::oneshot::Receiver<()>,
}

impl Uplink {
    pub fn devices(&self) -> DeviceStates {
        self.devices.clone()
    }

    /// Publishes a device's state, retained, on `{prefix}/devices/{device}` (now if
    /// connected, else on the next connection; only the latest state per device is kept).
    pub fn device_state(&self, device: &str, state: crate::devices::DeviceState) {
        self.devices.device_state(device, state);
    }
}

/// One broker of `[mqtt] urls` with its connection options, prepared once.
pub(crate) struct BrokerOptions {
    /// The URL without credentials, for logs and status.
    pub name: String,
    pub options: rumqttc::MqttOptions,
}

/// Which broker of `[mqtt] urls` the next connection attempt goes to. Pure bookkeeping,
/// asked before each attempt: start at the first; after any failure (lost, stalled, or
/// never up) the next in the list, wrapping around; a connection that holds keeps its
/// broker, so there is no preferred broker once connected.
#[derive(Debug)]
pub(crate) struct Failover {
    current: usize,
    len: usize,
}

impl Failover {
    pub fn new(len: usize) -> Self {
        Failover { current: 0, len: len.max(1) }
    }

    /// Index into `[mqtt] urls` for the next attempt.
    pub fn current(&self) -> usize {
        self.current
    }

    /// The broker at [`Failover::current`] failed: the next attempt goes to the next one.
    pub fn failed(&mut self) {
        self.current = (self.current + 1) % self.len;
    }
}

/// What every broker connection of the uplink works with, prepared once: the config and
/// brokers, the journal it drains, where commands go, the status it reports.
pub(crate) struct UplinkContext {
    pub cfg: MqttConfig,
    /// One per `[mqtt] urls` entry, in order.
    pub brokers: Vec<BrokerOptions>,
    pub journal: Journal,
    pub orders: OrderStore,
    pub status: SharedStatus,
    pub started_at: String,
    pub printing: Option<Printing>,
    pub workflow: Option<crate::workflow::WorkflowHandle>,
}

/// Starts the uplink with its own device channel and no printers (tests, benchmarks).
pub fn spawn(
    cfg: MqttConfig,
    journal: Journal,
    orders: OrderStore,
    shutdown: CancellationToken,
) -> Result<Uplink, UplinkError> {
    let (devices, rx) = crate::devices::channel();
    spawn_with(cfg, journal, orders, None, None, (devices, rx), shutdown)
}

/// Starts the uplink; order commands go to the `workflow`, `print` commands to `printing`,
/// device states come over `devices`.
pub fn spawn_with(
    cfg: MqttConfig,
    journal: Journal,
    orders: OrderStore,
    printing: Option<Printing>,
    workflow: Option<crate::workflow::WorkflowHandle>,
    (devices, devices_rx): (DeviceStates, DeviceReceiver),
    shutdown: CancellationToken,
) -> Result<Uplink, UplinkError> {
    let brokers = cfg
        .urls
        .iter()
        .map(|url| Ok(BrokerOptions { name: redact(url), options: tls::mqtt_options(&cfg, url)? }))
        .collect::<Result<Vec<_>, UplinkError>>()?;
    let broker = brokers.first().map(|b| b.name.clone()).unwrap_or_default();
    let status = Arc::new(Mutex::new(UplinkStatus { state: "connecting", broker, ..UplinkStatus::default() }));
    let context = UplinkContext {
        cfg,
        brokers,
        journal,
        orders,
        status: status.clone(),
        started_at: crate::event::format_at(time::OffsetDateTime::now_utc()),
        printing,
        workflow,
    };
    // Its own thread and single-threaded runtime: the session and rumqttc's event loop hand
    // each publish and PubAck back and forth, and on the shared runtime every hand-off woke
    // another worker thread (a drain ran at 0.75× a bare rumqttc publisher, 0.97× here,
    // benches/uplink.rs). It also keeps a long drain from holding the workers that read the
    // scanners.
    let (done, task) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("uplink".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(session::run(context, devices_rx.0, shutdown)),
                Err(e) => tracing::error!(error = %e, "cannot start the uplink's runtime"),
            }
            let _ = done.send(());
        })
        .map_err(UplinkError::Thread)?;
    Ok(Uplink { status, devices, task })
}

/// A connection error in words an admin can act on (also used by `stationd doctor`).
pub fn describe_error(e: &rumqttc::ConnectionError) -> String {
    session::describe(e)
}

/// The broker URL without credentials, for logs and status.
fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// Exponential backoff with jitter: attempt 0 waits about `min`, doubling up to `max`;
/// the wait is drawn from [50 %, 100 %] of that so a warehouse of stations that lost the
/// broker together does not reconnect in lockstep.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let base = min.saturating_mul(1u32 << attempt.min(16)).min(max);
    let jitter = 0.5 + rand::random::<f64>() * 0.5;
    base.mul_f64(jitter).max(Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..100 {
            let d0 = backoff(0, min, max);
            assert!(d0 >= Duration::from_millis(500) && d0 <= min, "{d0:?}");
            let d3 = backoff(3, min, max);
            assert!(d3 >= Duration::from_secs(4) && d3 <= Duration::from_secs(8), "{d3:?}");
            let d20 = backoff(20, min, max);
            assert!(d20 >= Duration::from_secs(30) && d20 <= max, "{d20:?}");
        }
    }

    #[test]
    fn failover_starts_at_the_first_broker_moves_on_each_failure_and_wraps() {
        let mut f = Failover::new(3);
        let mut seen = vec![f.current()];
        for _ in 0..4 {
            f.failed();
            seen.push(f.current());
        }
        assert_eq!(seen, [0, 1, 2, 0, 1]);
        let mut one = Failover::new(1);
        one.failed();
        assert_eq!(one.current(), 0, "a single broker is always tried again");
    }

    #[test]
    fn credentials_never_reach_the_status() {
        let u = url::Url::parse("mqtts://user:secret@broker.example:8883").unwrap();
        assert_eq!(redact(&u), "mqtts://broker.example:8883");
    }
}
