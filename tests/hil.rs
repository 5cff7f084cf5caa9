//! Devices on the real Linux USB stack: a QEMU guest on Debian's stock kernel plugs a
//! composite gadget into its own `dummy_hcd` host controller (tests/hil/usb-gadget.sh), and
//! stationd, inside the guest, talks to it through usbcore, usblp and libusb as it would to
//! a printer on a station box. The device side (`gprinter`) sets the printer-class status
//! and records what arrives.

mod support;

use std::time::Duration;

use support::guest::Guest;

/// Console lines of one boot up to its power-off.
fn console_of(guest: &Guest, cmdline: &str) -> Vec<String> {
    let booted = guest.boot(cmdline, &[]);
    let mut lines = Vec::new();
    while let Ok(line) = booted.console.recv_timeout(Duration::from_secs(180)) {
        let done = line.contains("reboot: Power down");
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("the guest did not finish:\n{}", lines.join("\n"));
}

fn after<'a>(lines: &'a [String], marker: &str) -> &'a str {
    lines.iter().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim_start())).unwrap_or_else(|| {
        panic!("no {marker} in the guest's console:\n{}", lines.join("\n"));
    })
}

#[test]
fn a_usb_printer_on_the_kernel_stack_is_listed_held_for_paper_and_prints_byte_for_byte() {
    let guest = Guest::build();
    let lines = console_of(&guest, "hil.mode=usb");
    let text = lines.join("\n");
    // Listed, with the printer interface found behind a keyboard and a serial port.
    assert!(text.contains("1d6b:0104") && text.contains("<- printer usb"), "{text}");
    assert!(text.contains("/dev/ttyACM0"), "the CDC-ACM function is a serial port: {text}");
    // Paper out, read with GET_PORT_STATUS from interface 3 (not interface 0): nothing sent.
    assert!(text.lines().any(|l| l.starts_with("usb: status before:") && l.contains("paper_out")), "{text}");
    assert_eq!(after(&lines, "HIL-PRINT-TEST paper-out"), "rc=4", "{text}");
    let paper_out_stream = after(&lines, "HIL-PAPER-OUT-STREAM");
    assert!(!paper_out_stream.contains("^XA"), "a label was sent to a printer without paper: {paper_out_stream}");
    // Ready: the label arrives at the device side exactly as the file printer has it, once;
    // only the status queries (`~HS`, unanswered by this printer) come besides it.
    assert_eq!(after(&lines, "HIL-PRINT-TEST ready"), "rc=0", "{text}");
    let usb = after(&lines, "HIL-USB-STREAM").replace("~HS", "");
    let file = after(&lines, "HIL-FILE-STREAM");
    let without_time =
        |s: &str| s.split("HIL-USB ").next().unwrap_or("").to_string() + s.split("^FS^FO40,170").nth(1).unwrap_or("");
    assert_eq!(usb.matches("^XA").count(), 1, "printed once: {usb}");
    assert_eq!(without_time(&usb), without_time(file), "the bytes at the printer differ from the label");
}
