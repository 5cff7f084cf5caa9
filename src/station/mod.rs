//! The station workflow as a pure state machine: an [`Input`] (a scan, a rejected frame,
//! later commands and timer ticks) goes in with the current time, [`Effect`]s come out.
//! It does no I/O; the daemon performs the effects (journal append, then feedback).
//!
//! Architecture invariant: nothing here touches the disk, the network or the clock.
//!
//! What it does today: every good scan is classified (badge, command, order, product with
//! its GTIN / GS1 fields, tracking, unknown) and becomes a `scan.received` event; rejected
//! frames and misread product codes become `scan.rejected`; each is confirmed to the packer
//! only once durable. Barcode
//! classification and the pick / pack / ship order flow build on this same interface.

use serde_json::json;
use stationd_drivers::barcode::{ClassRules, ProductCode, ScanClass};
use stationd_drivers::framing::{display_code, FrameError};
use time::OffsetDateTime;

use crate::event::NewEvent;

/// Something that happened at the station.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A complete, well-formed barcode from a scanner.
    Scan { scanner: String, code: String },
    /// A frame the scanner framing rejected (too long, noise, not UTF-8).
    BadScan { scanner: String, error: FrameError },
}

/// What the packer is told once the effect's event is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Good beep / green: `ok seq=N <what>`.
    Ok { what: String },
    /// Error beep / red: `error <code>: <message>`.
    Error { code: &'static str, message: String },
}

/// What the edges must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Make `event` durable, then give `feedback` (never before: a confirmed scan is never lost).
    Record { event: NewEvent, feedback: Feedback },
}

/// The workflow state of one station.
#[derive(Debug, Default)]
pub struct Station {
    rules: ClassRules,
    scans: u64,
}

/// What the event records about a classified code.
fn class_data(class: &ScanClass) -> serde_json::Value {
    match class {
        ScanClass::Product(p) => {
            let mut d = json!({ "class": "product", "symbology": match p {
                ProductCode::Ean8(_) => "ean8",
                ProductCode::Ean13(_) => "ean13",
                ProductCode::UpcA(_) => "upca",
                ProductCode::Gs1(_) => "gs1",
            }});
            if let Some(g) = p.gtin14() {
                d["gtin"] = json!(g);
            }
            if let ProductCode::Gs1(g) = p {
                d["ai"] =
                    g.elements.iter().map(|(a, v)| (a.clone(), json!(v))).collect::<serde_json::Map<_, _>>().into();
            }
            d
        }
        ScanClass::Command(name) => json!({ "class": "command", "command": name }),
        other => json!({ "class": other.name() }),
    }
}

impl Station {
    pub fn new(rules: ClassRules) -> Self {
        Station { rules, scans: 0 }
    }

    pub fn handle(&mut self, input: Input, _now: OffsetDateTime) -> Vec<Effect> {
        match input {
            Input::Scan { scanner, code } => match self.rules.classify(&code, |_| false) {
                Ok(class) => {
                    self.scans += 1;
                    let what = format!("scan.received class={} code={}", class.name(), display_code(&code));
                    let mut data = class_data(&class);
                    data["scanner"] = json!(scanner);
                    data["code"] = json!(code);
                    let event = NewEvent::new("scan.received", data);
                    vec![Effect::Record { event, feedback: Feedback::Ok { what } }]
                }
                Err(e) => {
                    // A product code with a wrong check digit is a misread: reject, never guess.
                    let event = NewEvent::new(
                        "scan.rejected",
                        json!({ "scanner": scanner, "code": code, "error": { "code": "bad_barcode", "message": e.to_string() } }),
                    );
                    vec![Effect::Record {
                        event,
                        feedback: Feedback::Error { code: "bad_barcode", message: e.to_string() },
                    }]
                }
            },
            Input::BadScan { scanner, error } => {
                let event = NewEvent::new(
                    "scan.rejected",
                    json!({ "scanner": scanner, "error": { "code": error.code(), "message": error.to_string() } }),
                );
                let feedback = Feedback::Error { code: error.code(), message: error.to_string() };
                vec![Effect::Record { event, feedback }]
            }
        }
    }

    /// Scans accepted since start.
    pub fn scans(&self) -> u64 {
        self.scans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-24 10:00 UTC)
    }

    #[test]
    fn a_good_scan_is_recorded_then_confirmed() {
        let mut s = Station::new(ClassRules::default());
        let fx = s.handle(Input::Scan { scanner: "gun".into(), code: "4006381333931".into() }, now());
        let [Effect::Record { event, feedback }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(event.kind, "scan.received");
        assert_eq!(event.data["code"], "4006381333931");
        assert_eq!(
            (event.data["class"].as_str(), event.data["gtin"].as_str()),
            (Some("product"), Some("04006381333931"))
        );
        assert_eq!(feedback, &Feedback::Ok { what: "scan.received class=product code=4006381333931".into() });
        assert_eq!(s.scans(), 1);
    }

    #[test]
    fn a_misread_product_code_is_rejected_not_guessed() {
        let mut s = Station::new(ClassRules::default());
        let fx = s.handle(Input::Scan { scanner: "gun".into(), code: "4006381333932".into() }, now());
        let [Effect::Record { event, feedback }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(event.kind, "scan.rejected");
        assert_eq!(event.data["error"]["code"], "bad_barcode");
        assert!(matches!(feedback, Feedback::Error { code: "bad_barcode", .. }));
        let fx =
            s.handle(Input::Scan { scanner: "gun".into(), code: "]C10109501101020917172512311012AB".into() }, now());
        let [Effect::Record { event, .. }] = fx.as_slice() else { panic!() };
        assert_eq!(event.data["ai"]["17"], "251231");
        assert_eq!(event.data["ai"]["10"], "12AB");
    }

    #[test]
    fn a_bad_frame_is_recorded_as_an_error_event_with_error_feedback() {
        let mut s = Station::new(ClassRules::default());
        let error = FrameError::TooLong { len: 10_240, max: 512 };
        let fx = s.handle(Input::BadScan { scanner: "gun".into(), error }, now());
        let [Effect::Record { event, feedback }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(event.kind, "scan.rejected");
        assert_eq!(event.data["error"]["code"], "scan_too_long");
        assert!(matches!(feedback, Feedback::Error { code: "scan_too_long", .. }));
        assert_eq!(s.scans(), 0);
    }
}
