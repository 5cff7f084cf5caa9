//! The station workflow as a pure state machine: an [`Input`] (a scan, a rejected frame,
//! later commands and timer ticks) goes in with the current time, [`Effect`]s come out.
//! It does no I/O; the daemon performs the effects (journal append, then feedback).
//!
//! Architecture invariant: nothing here touches the disk, the network or the clock.
//!
//! What it does today: every good scan becomes a `scan.received` event and every rejected
//! frame a `scan.rejected` event, each confirmed to the packer only once durable. Barcode
//! classification and the pick / pack / ship order flow build on this same interface.

use serde_json::json;
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
    scans: u64,
}

impl Station {
    pub fn new() -> Self {
        Station::default()
    }

    pub fn handle(&mut self, input: Input, _now: OffsetDateTime) -> Vec<Effect> {
        match input {
            Input::Scan { scanner, code } => {
                self.scans += 1;
                let what = format!("scan.received code={}", display_code(&code));
                let event = NewEvent::new("scan.received", json!({ "scanner": scanner, "code": code }));
                vec![Effect::Record { event, feedback: Feedback::Ok { what } }]
            }
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
        let mut s = Station::new();
        let fx = s.handle(Input::Scan { scanner: "gun".into(), code: "4006381333931".into() }, now());
        let [Effect::Record { event, feedback }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(event.kind, "scan.received");
        assert_eq!(event.data["code"], "4006381333931");
        assert_eq!(feedback, &Feedback::Ok { what: "scan.received code=4006381333931".into() });
        assert_eq!(s.scans(), 1);
    }

    #[test]
    fn a_bad_frame_is_recorded_as_an_error_event_with_error_feedback() {
        let mut s = Station::new();
        let error = FrameError::TooLong { len: 10_240, max: 512 };
        let fx = s.handle(Input::BadScan { scanner: "gun".into(), error }, now());
        let [Effect::Record { event, feedback }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(event.kind, "scan.rejected");
        assert_eq!(event.data["error"]["code"], "scan_too_long");
        assert!(matches!(feedback, Feedback::Error { code: "scan_too_long", .. }));
        assert_eq!(s.scans(), 0);
    }
}
