//! Scanner and printer transports for stationd, with the byte-level protocol code
//! (framing, barcode classification, printer status decoding, rendering) kept free of I/O
//! so it is unit- and property-tested on its own.
//!
//! Architecture invariant: this crate knows nothing of orders, the journal or MQTT.

pub mod barcode;
pub mod carrier_zpl;
pub mod discovery;
pub mod framing;
pub mod hid;
pub mod label;
pub mod printer;
pub mod printer_status;
pub mod scanner;
pub mod sim;
pub mod slip;
pub mod sscc;
pub mod usb_printer;
pub mod zpl;
pub mod zpl_state;
