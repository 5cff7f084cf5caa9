//! Device states: what scanners and printers report about themselves (`ready`, `offline`,
//! `paper_out`, …) and where it goes. Each device's latest state is kept for the station
//! screen and `/metrics`, and every state is handed to the uplink, which publishes it
//! retained on `{prefix}/devices/{device}`.
//!
//! It sits below the device tasks (`scanner`, `print`) and below its readers (`uplink`,
//! `http`), so none of them needs another to report or read a state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A device's state as published, retained, on `{prefix}/devices/{device}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceState {
    pub kind: DeviceKind,
    /// Printers: ready, paper_out, cover_open, offline, error, …; scanners: ready, offline.
    #[schemars(extend("examples" = ["ready", "paper_out", "cover_open", "offline"]))]
    pub state: String,
    /// When it was reported (UTC, milliseconds).
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    /// Why (absent when there is nothing to add).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What kind of device reports.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Printer,
    Scanner,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Printer => "printer",
            DeviceKind::Scanner => "scanner",
        }
    }
}

/// The receiving end of [`DeviceStates`], consumed by the uplink.
pub struct DeviceReceiver(pub(crate) mpsc::UnboundedReceiver<(String, DeviceState)>);

/// A channel for device states: device tasks hold the sender, the uplink the receiver.
pub fn channel() -> (DeviceStates, DeviceReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (DeviceStates { tx, latest: Arc::default() }, DeviceReceiver(rx))
}

/// A cheap handle for reporting device states, for the device tasks: each state goes to the
/// uplink (when there is one) and is kept as the device's latest for the station screen.
#[derive(Clone)]
pub struct DeviceStates {
    tx: mpsc::UnboundedSender<(String, DeviceState)>,
    latest: Arc<Mutex<BTreeMap<String, DeviceState>>>,
}

impl DeviceStates {
    /// Records `state` (what is published on the device's topic) as the device's latest
    /// and hands it to the uplink.
    pub fn device_state(&self, device: &str, state: DeviceState) {
        self.latest.lock().expect("device states poisoned").insert(device.to_string(), state.clone());
        // No uplink: nobody receives, and that is fine.
        let _ = self.tx.send((device.to_string(), state));
    }

    /// A device's state, stamped now.
    pub fn report(&self, device: &str, kind: DeviceKind, state: &str, detail: Option<&str>) {
        let at = crate::event::format_at(time::OffsetDateTime::now_utc());
        let s = DeviceState { kind, state: state.to_string(), at, detail: detail.map(str::to_string) };
        self.device_state(device, s);
    }

    /// The latest state of every device that reported one.
    pub fn snapshot(&self) -> BTreeMap<String, DeviceState> {
        self.latest.lock().expect("device states poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_state_per_device_is_kept_and_every_state_reaches_the_receiver() {
        let (devices, mut rx) = channel();
        devices.report("label", DeviceKind::Printer, "paper_out", Some("load paper"));
        devices.report("label", DeviceKind::Printer, "ready", None);
        devices.report("s1", DeviceKind::Scanner, "ready", Some("reading standard input"));
        let snap = devices.snapshot();
        assert_eq!(snap["label"].state, "ready");
        let json = serde_json::to_value(&snap["label"]).unwrap();
        assert!(json.get("detail").is_none(), "absent, not null: {json}");
        assert_eq!(snap["s1"].kind, DeviceKind::Scanner);
        let got: Vec<_> = std::iter::from_fn(|| rx.0.try_recv().ok()).map(|(d, s)| (d, s.state)).collect();
        let want = [("label", "paper_out"), ("label", "ready"), ("s1", "ready")];
        assert_eq!(got, want.map(|(d, s)| (d.to_string(), s.to_string())));
    }

    #[test]
    fn reporting_without_an_uplink_still_keeps_the_state_for_the_screen() {
        let (devices, rx) = channel();
        drop(rx);
        devices.report("s1", DeviceKind::Scanner, "offline", Some("unplugged"));
        assert_eq!(devices.snapshot()["s1"].detail.as_deref(), Some("unplugged"));
    }
}
