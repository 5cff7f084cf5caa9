//! USB printer-class transport through libusb (rusb, vendored), for printers addressed by
//! `vid:pid[:serial]`. Blocking: callers run it on a blocking thread (see
//! [`crate::printer::send`]).
//!
//! Unlike `escpos`'s `UsbDriver` (fine for a one-off receipt, wrong for a daemon), it
//! - writes in chunks and never ignores a short or timed-out write: a timeout after the
//!   first byte ends the job `failed` (bytes may have printed), never silently cut;
//! - clears a halted endpoint once and retries that chunk (a stall transfers nothing);
//! - uses one libusb context for the process and lets libusb detach `usblp` while it holds
//!   the interface and re-attach it on release, so the kernel driver gets the printer back;
//! - turns `NoDevice` into `offline` (before the first byte) so the queue waits and reopens.
//!
//! Status: the language's query (`~HS`, `DLE EOT`) on bulk OUT with the answer on bulk IN
//! when the printer has an IN endpoint and answers on it; otherwise (no IN endpoint, or no
//! answer) the printer class `GET_PORT_STATUS` request (paper empty, selected, error).

use std::sync::OnceLock;
use std::time::Duration;

use rusb::{Direction, TransferType, UsbContext};

use crate::printer::{outcome_after_job, refuse_unless_ready, Language, SendOutcome};
use crate::printer_status::{escpos, zpl, Condition, PrinterStatus, StatusReader};

/// Which USB printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbTarget {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
}

impl UsbTarget {
    /// Parses `vid:pid[:serial]` (hex ids).
    pub fn parse(s: &str) -> Option<UsbTarget> {
        let mut parts = s.splitn(3, ':');
        let vid = u16::from_str_radix(parts.next()?, 16).ok()?;
        let pid = u16::from_str_radix(parts.next()?, 16).ok()?;
        Some(UsbTarget { vid, pid, serial: parts.next().map(str::to_string) })
    }
}

const CHUNK: usize = 16 * 1024;
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn context() -> Result<&'static rusb::Context, String> {
    static CONTEXT: OnceLock<Result<rusb::Context, String>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| rusb::Context::new().map_err(|e| format!("libusb cannot initialise: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// An opened printer interface; released (and `usblp` re-attached) on drop.
struct Opened {
    handle: rusb::DeviceHandle<rusb::Context>,
    iface: u8,
    out_ep: u8,
    in_ep: Option<u8>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.iface);
    }
}

fn open(target: &UsbTarget) -> Result<Opened, String> {
    let ctx = context()?;
    let devices = ctx.devices().map_err(|e| format!("libusb cannot list devices: {e}"))?;
    for dev in devices.iter() {
        let Ok(desc) = dev.device_descriptor() else { continue };
        if desc.vendor_id() != target.vid || desc.product_id() != target.pid {
            continue;
        }
        let handle = match dev.open() {
            Ok(h) => h,
            Err(e) => {
                return Err(format!(
                    "cannot open USB {:04x}:{:04x}: {e} (udev rule / group lp?)",
                    target.vid, target.pid
                ))
            }
        };
        if let Some(want) = &target.serial {
            if handle.read_serial_number_string_ascii(&desc).ok().as_ref() != Some(want) {
                continue;
            }
        }
        let config = dev.active_config_descriptor().map_err(|e| format!("USB config descriptor: {e}"))?;
        for iface in config.interfaces() {
            for alt in iface.descriptors().filter(|d| d.class_code() == 0x07) {
                let bulk = |dir| {
                    alt.endpoint_descriptors()
                        .find(|e| e.transfer_type() == TransferType::Bulk && e.direction() == dir)
                        .map(|e| e.address())
                };
                let Some(out_ep) = bulk(Direction::Out) else { continue };
                let number = alt.interface_number();
                // libusb detaches usblp now and re-attaches it when we release the interface.
                let _ = handle.set_auto_detach_kernel_driver(true);
                handle.claim_interface(number).map_err(|e| format!("cannot claim the printer interface: {e}"))?;
                return Ok(Opened { handle, iface: number, out_ep, in_ep: bulk(Direction::In) });
            }
        }
        return Err(format!(
            "USB {:04x}:{:04x} has no printer-class interface with a bulk OUT endpoint",
            target.vid, target.pid
        ));
    }
    Err(format!("USB printer {:04x}:{:04x} is not connected", target.vid, target.pid))
}

fn read_status(p: &Opened, language: Language, timeout: Duration) -> PrinterStatus {
    let Some(in_ep) = p.in_ep else { return port_status(p, timeout) };
    let (query, mut reader): (&[u8], Box<dyn StatusReader>) = match language {
        Language::Zpl => (zpl::QUERY, Box::new(zpl::Reader::default())),
        Language::Escpos => (&escpos::QUERY, Box::new(escpos::Reader::default())),
    };
    if p.handle.write_bulk(p.out_ep, query, timeout).is_err() {
        return PrinterStatus::offline();
    }
    // A printer that does not answer its language's query (many USB printers never send on
    // their IN endpoint) still answers the class request every printer supports.
    let deadline = std::time::Instant::now() + timeout;
    let mut buf = [0u8; 512];
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match p.handle.read_bulk(in_ep, &mut buf, left) {
            Ok(n) => {
                if let Some(s) = reader.push(&buf[..n]) {
                    return s;
                }
            }
            Err(_) => break,
        }
    }
    port_status(p, timeout)
}

/// A class-specific control request: (bmRequestType, bRequest, wValue, wIndex).
type ControlRequest = (u8, u8, u16, u16);

/// Printer class GET_PORT_STATUS (USB printer class 1.1, 4.2.2): wIndex is the interface
/// number itself. (Only GET_DEVICE_ID puts the interface in wIndex's high byte, beside the
/// alternate setting; with the printer on interface 3, `iface << 8` asked interface 0.)
fn port_status_request(iface: u8) -> ControlRequest {
    (0xA1, 1, 0, u16::from(iface))
}

/// Printer class GET_PORT_STATUS: bit 5 paper empty, bit 4 selected, bit 3 not error.
fn port_status(p: &Opened, timeout: Duration) -> PrinterStatus {
    let mut b = [0u8; 1];
    let (request_type, request, value, index) = port_status_request(p.iface);
    match p.handle.read_control(request_type, request, value, index, &mut b, timeout) {
        Ok(1) => PrinterStatus { conditions: port_conditions(b[0]) },
        _ => PrinterStatus::offline(),
    }
}

fn port_conditions(b: u8) -> Vec<Condition> {
    let mut c = Vec::new();
    if b & 0x20 != 0 {
        c.push(Condition::PaperOut);
    }
    if b & 0x10 == 0 {
        c.push(Condition::Offline);
    }
    if b & 0x08 == 0 {
        c.push(Condition::Error);
    }
    c.sort();
    c
}

/// Current status, or `offline` when the printer is not there.
pub fn status_blocking(target: &UsbTarget, language: Language, timeout: Duration) -> PrinterStatus {
    match open(target) {
        Ok(p) => read_status(&p, language, timeout),
        Err(_) => PrinterStatus::offline(),
    }
}

/// Sends one job: status before, every byte, status after.
pub fn send_blocking(target: &UsbTarget, language: Language, timeout: Duration, bytes: &[u8]) -> SendOutcome {
    let p = match open(target) {
        Ok(p) => p,
        Err(detail) => return SendOutcome::NotSent { status: PrinterStatus::offline(), detail },
    };
    let before = read_status(&p, language, timeout);
    if let Some(refused) = refuse_unless_ready(before) {
        return refused;
    }
    let mut written = 0;
    while written < bytes.len() {
        let chunk = &bytes[written..(written + CHUNK).min(bytes.len())];
        match p.handle.write_bulk(p.out_ep, chunk, WRITE_TIMEOUT) {
            Ok(n) => written += n,
            Err(rusb::Error::Pipe) => {
                // A stall transfers nothing: clear it once and try the chunk again.
                if p.handle.clear_halt(p.out_ep).is_err() {
                    return SendOutcome::Failed { detail: format!("endpoint stalled after {written} bytes") };
                }
                match p.handle.write_bulk(p.out_ep, chunk, WRITE_TIMEOUT) {
                    Ok(n) => written += n,
                    Err(e) => {
                        return SendOutcome::Failed { detail: format!("USB write failed after {written} bytes: {e}") }
                    }
                }
            }
            Err(rusb::Error::NoDevice) if written == 0 => {
                return SendOutcome::NotSent { status: PrinterStatus::offline(), detail: "printer unplugged".into() }
            }
            Err(e) => {
                // Part of this chunk may have reached the printer: never resend automatically.
                return SendOutcome::Failed {
                    detail: format!("USB write failed after {written} of {} bytes: {e}", bytes.len()),
                };
            }
        }
    }
    let after = read_status(&p, language, timeout);
    outcome_after_job(after)
}

#[cfg(test)]
mod tests {

    #[test]
    fn get_port_status_addresses_the_printer_interface_itself() {
        assert_eq!(port_status_request(0), (0xA1, 1, 0, 0));
        assert_eq!(port_status_request(3), (0xA1, 1, 0, 3), "not 3 << 8: that is interface 0");
    }

    use super::*;

    #[test]
    fn targets_parse_from_the_config_form() {
        assert_eq!(UsbTarget::parse("0a5f:0164"), Some(UsbTarget { vid: 0x0a5f, pid: 0x0164, serial: None }));
        assert_eq!(UsbTarget::parse("04b8:0e28:J6FF012345").unwrap().serial.as_deref(), Some("J6FF012345"));
        assert_eq!(UsbTarget::parse("zebra"), None);
    }

    #[test]
    fn port_status_bits_decode() {
        assert!(port_conditions(0x18).is_empty(), "selected, no error: ready");
        assert_eq!(port_conditions(0x38), vec![Condition::PaperOut]);
        assert_eq!(port_conditions(0x00), vec![Condition::Offline, Condition::Error]);
    }

    #[test]
    fn an_absent_printer_is_offline_and_not_sent() {
        let t = UsbTarget { vid: 0xdead, pid: 0xbeef, serial: None };
        assert_eq!(status_blocking(&t, Language::Zpl, Duration::from_millis(100)).state(), "offline");
        assert!(matches!(
            send_blocking(&t, Language::Zpl, Duration::from_millis(100), b"^XA^XZ"),
            SendOutcome::NotSent { .. }
        ));
    }
}
