//! Device states: what scanners and printers report about themselves (`ready`, `offline`,
//! `paper_out`, …) and where it goes. Each device's latest state is kept for the station
//! screen and `/metrics`, and every state is handed to the uplink, which publishes it
//! retained on `{prefix}/devices/{device}`.
//!
//! It sits below the device tasks (`scanner`, `print`) and below its readers (`uplink`,
//! `http`), so none of them needs another to report or read a state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::mpsc;

/// The receiving end of [`DeviceStates`], consumed by the uplink.
pub struct DeviceReceiver(pub(crate) mpsc::UnboundedReceiver<(String, Value)>);

/// A channel for device states: device tasks hold the sender, the uplink the receiver.
pub fn channel() -> (DeviceStates, DeviceReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (DeviceStates { tx, latest: Arc::default() }, DeviceReceiver(rx))
}

/// A cheap handle for reporting device states, for the device tasks: each state goes to the
/// uplink (when there is one) and is kept as the device's latest for the station screen.
#[derive(Clone)]
pub struct DeviceStates {
    tx: mpsc::UnboundedSender<(String, Value)>,
    latest: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl DeviceStates {
    /// Records `state` (the JSON published on the device's topic) as the device's latest
    /// and hands it to the uplink.
    pub fn device_state(&self, device: &str, state: Value) {
        self.latest.lock().expect("device states poisoned").insert(device.to_string(), state.clone());
        // No uplink: nobody receives, and that is fine.
        let _ = self.tx.send((device.to_string(), state));
    }

    /// A device's state as `{ "kind", "state", "detail", "at" }`, stamped now; `detail` is
    /// left out when there is none.
    pub fn report(&self, device: &str, kind: &str, state: &str, detail: Option<&str>) {
        let at = crate::event::format_at(time::OffsetDateTime::now_utc());
        let mut s = json!({ "kind": kind, "state": state, "at": at });
        if let Some(detail) = detail {
            s["detail"] = json!(detail);
        }
        self.device_state(device, s);
    }

    /// The latest state of every device that reported one.
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.latest.lock().expect("device states poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_state_per_device_is_kept_and_every_state_reaches_the_receiver() {
        let (devices, mut rx) = channel();
        devices.report("label", "printer", "paper_out", Some("load paper"));
        devices.report("label", "printer", "ready", None);
        devices.report("s1", "scanner", "ready", Some("reading standard input"));
        let snap = devices.snapshot();
        assert_eq!(snap["label"]["state"], "ready");
        assert!(snap["label"].get("detail").is_none(), "absent, not null");
        assert_eq!(snap["s1"]["kind"], "scanner");
        let got: Vec<_> = std::iter::from_fn(|| rx.0.try_recv().ok()).map(|(d, s)| (d, s["state"].clone())).collect();
        assert_eq!(
            got,
            [("label".into(), json!("paper_out")), ("label".into(), json!("ready")), ("s1".into(), json!("ready"))]
        );
    }

    #[test]
    fn reporting_without_an_uplink_still_keeps_the_state_for_the_screen() {
        let (devices, rx) = channel();
        drop(rx);
        devices.report("s1", "scanner", "offline", Some("unplugged"));
        assert_eq!(devices.snapshot()["s1"]["detail"], "unplugged");
    }
}
