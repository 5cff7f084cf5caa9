//! Device discovery for `stationd devices`: USB devices through libusb (rusb, vendored) and
//! serial ports with their stable `/dev/serial/by-id` names.
//!
//! libusb may be unable to start at all (a container without `/dev/bus/usb`):
//! [`usb_devices`] then says so as a value, never a panic, and everything else works.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsbDevice {
    /// `vid:pid` in hex, as the config's `device =` expects.
    pub id: String,
    pub class: &'static str,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub bus: u8,
    pub address: u8,
}

/// The USB side of discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum UsbScan {
    Available { devices: Vec<UsbDevice> },
    Unavailable { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SerialPort {
    /// The stable name to put in the config (`/dev/serial/by-id/...`) when there is one.
    pub path: PathBuf,
    /// The kernel's name (`/dev/ttyACM0`).
    pub device: PathBuf,
}

fn class_name(code: u8) -> &'static str {
    match code {
        0x02 | 0x0a => "cdc-serial",
        0x03 => "hid",
        0x07 => "printer",
        0x08 => "mass-storage",
        0x09 => "hub",
        0x0e => "video",
        0xe0 => "wireless",
        0xef => "misc",
        0xff => "vendor",
        0x00 => "per-interface",
        _ => "other",
    }
}

pub fn usb_devices() -> UsbScan {
    use rusb::UsbContext;
    let context = match rusb::Context::new() {
        Ok(c) => c,
        Err(e) => {
            return UsbScan::Unavailable {
                reason: format!(
                    "libusb cannot initialise ({e}); is /dev/bus/usb available (containers often lack it)?"
                ),
            }
        }
    };
    let list = match context.devices() {
        Ok(l) => l,
        Err(e) => return UsbScan::Unavailable { reason: format!("libusb cannot list devices: {e}") },
    };
    let mut devices = Vec::new();
    for d in list.iter() {
        let Ok(desc) = d.device_descriptor() else { continue };
        // A composite device (class 0) says what it is in its interfaces: report the most
        // telling one (printer, HID, CDC) rather than "per-interface".
        let mut class = class_name(desc.class_code());
        if desc.class_code() == 0 {
            if let Ok(cfg) = d.active_config_descriptor() {
                let codes: Vec<u8> = cfg
                    .interfaces()
                    .flat_map(|i| i.descriptors().map(|d| d.class_code()).collect::<Vec<_>>())
                    .collect();
                class = [0x07, 0x03, 0x02, 0x0a, 0x08]
                    .into_iter()
                    .find(|c| codes.contains(c))
                    .map(class_name)
                    .unwrap_or_else(|| codes.first().map_or("per-interface", |c| class_name(*c)));
            }
        }
        // Strings need the device open, which may be refused (permissions): leave them out.
        let (manufacturer, product, serial) = match d.open() {
            Ok(h) => (
                h.read_manufacturer_string_ascii(&desc).ok(),
                h.read_product_string_ascii(&desc).ok(),
                h.read_serial_number_string_ascii(&desc).ok(),
            ),
            Err(_) => (None, None, None),
        };
        devices.push(UsbDevice {
            id: format!("{:04x}:{:04x}", desc.vendor_id(), desc.product_id()),
            class,
            manufacturer,
            product,
            serial,
            bus: d.bus_number(),
            address: d.address(),
        });
    }
    UsbScan::Available { devices }
}

/// Serial ports: every `/dev/serial/by-id` link, plus `ttyACM*` / `ttyUSB*` devices that
/// have no such link.
pub fn serial_ports() -> Vec<SerialPort> {
    serial_ports_in(Path::new("/dev/serial/by-id"), Path::new("/dev"))
}

fn serial_ports_in(by_id: &Path, dev: &Path) -> Vec<SerialPort> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(by_id) {
        for e in entries.flatten() {
            let path = e.path();
            let device = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            out.push(SerialPort { path, device });
        }
    }
    if let Ok(entries) = std::fs::read_dir(dev) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if (name.starts_with("ttyACM") || name.starts_with("ttyUSB")) && !out.iter().any(|p| p.device == e.path()) {
                out.push(SerialPort { path: e.path(), device: e.path() });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_id_links_are_listed_with_their_device_and_bare_ttys_too() {
        let tmp = std::env::temp_dir().join(format!("stationd-disc-{}", std::process::id()));
        let (by_id, dev) = (tmp.join("by-id"), tmp.join("dev"));
        std::fs::create_dir_all(&by_id).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("ttyACM0"), b"").unwrap();
        std::fs::write(dev.join("ttyUSB3"), b"").unwrap();
        std::fs::write(dev.join("null"), b"").unwrap();
        std::os::unix::fs::symlink(dev.join("ttyACM0"), by_id.join("usb-Honeywell_1900-if00")).unwrap();
        let ports = serial_ports_in(&by_id, &dev);
        let names: Vec<String> =
            ports.iter().map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["usb-Honeywell_1900-if00", "ttyUSB3"]);
        assert_eq!(ports[0].device, std::fs::canonicalize(dev.join("ttyACM0")).unwrap());
        let _ = std::fs::remove_dir_all(tmp);
    }

    #[test]
    fn usb_scan_never_panics_and_explains_itself() {
        match usb_devices() {
            UsbScan::Available { devices } => {
                for d in devices {
                    assert_eq!(d.id.len(), 9, "{d:?}");
                }
            }
            UsbScan::Unavailable { reason } => assert!(reason.contains("libusb"), "{reason}"),
        }
    }
}
