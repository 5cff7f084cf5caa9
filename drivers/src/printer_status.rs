//! Printer status: the queries to send and the decoding of the answers, without I/O.
//!
//! - ESC/POS: `DLE EOT n` (0x10 0x04 n) real-time status; each answer is one byte whose
//!   bits 0, 1, 4, 7 are fixed (`0xx1 xx10`), which tells an answer from stray data.
//!   n = 1 printer (offline), 2 offline cause (cover open, paper end, error),
//!   4 roll paper sensor (near end, end).
//! - ZPL: `~HS` host status; the answer is three `STX … ETX CR LF` frames of comma-separated
//!   fields (paper out, pause, buffer full in the first; head up, ribbon out in the second).
//!
//! A transport sends [`escpos::QUERY`] or [`zpl::QUERY`], feeds whatever comes back into a
//! [`StatusReader`] and, if no complete answer arrives within its timeout, reports the
//! printer `offline` — never `ready`.

use std::fmt;

/// One thing that keeps a printer from printing (or warns that it soon will).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    /// No (valid) answer to a status query, or the printer says it is offline.
    Offline,
    CoverOpen,
    HeadOpen,
    PaperOut,
    RibbonOut,
    Error,
    Paused,
    BufferFull,
    /// Still prints; the operator should load paper soon.
    PaperNearEnd,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Offline => "offline",
            Condition::CoverOpen => "cover_open",
            Condition::HeadOpen => "head_open",
            Condition::PaperOut => "paper_out",
            Condition::RibbonOut => "ribbon_out",
            Condition::Error => "error",
            Condition::Paused => "paused",
            Condition::BufferFull => "buffer_full",
            Condition::PaperNearEnd => "paper_near_end",
        }
    }

    /// True when the printer can still take a job.
    pub fn allows_printing(self) -> bool {
        matches!(self, Condition::PaperNearEnd)
    }
}

/// A decoded status: the conditions present, most severe first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    pub conditions: Vec<Condition>,
}

impl PrinterStatus {
    pub fn offline() -> Self {
        PrinterStatus { conditions: vec![Condition::Offline] }
    }

    fn from(mut conditions: Vec<Condition>) -> Self {
        conditions.sort();
        conditions.dedup();
        PrinterStatus { conditions }
    }

    /// True when a job may be sent now.
    pub fn is_ready(&self) -> bool {
        self.conditions.iter().all(|c| c.allows_printing())
    }

    /// One word for the device topic and the status page: the most severe condition, or
    /// `ready`.
    pub fn state(&self) -> &'static str {
        self.conditions.first().map_or("ready", |c| c.as_str())
    }
}

impl fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conditions.is_empty() {
            return f.write_str("ready");
        }
        let words: Vec<&str> = self.conditions.iter().map(|c| c.as_str()).collect();
        f.write_str(&words.join(", "))
    }
}

/// Incremental reader of a status answer: feed bytes as they arrive.
pub trait StatusReader {
    /// Consumes bytes; returns the status once the answer is complete.
    fn push(&mut self, bytes: &[u8]) -> Option<PrinterStatus>;
}

pub mod escpos {
    use super::{Condition, PrinterStatus, StatusReader};

    /// `DLE EOT 1`, `DLE EOT 2`, `DLE EOT 4`: printer, offline cause, paper sensor.
    pub const QUERY: [u8; 9] = [0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4];

    fn valid(b: u8) -> bool {
        b & 0b1001_0011 == 0b0001_0010
    }

    /// Decodes the three answer bytes of [`QUERY`].
    pub fn decode(printer: u8, offline_cause: u8, paper: u8) -> PrinterStatus {
        if !(valid(printer) && valid(offline_cause) && valid(paper)) {
            return PrinterStatus::offline();
        }
        let mut c = Vec::new();
        if printer & 0x08 != 0 {
            c.push(Condition::Offline);
        }
        if offline_cause & 0x04 != 0 {
            c.push(Condition::CoverOpen);
        }
        if offline_cause & 0x20 != 0 || paper & 0x60 != 0 {
            c.push(Condition::PaperOut);
        }
        if offline_cause & 0x40 != 0 {
            c.push(Condition::Error);
        }
        if paper & 0x0C != 0 {
            c.push(Condition::PaperNearEnd);
        }
        // "Offline" with a known cause is reported as the cause.
        if c.len() > 1 {
            c.retain(|x| *x != Condition::Offline);
        }
        PrinterStatus::from(c)
    }

    /// Collects the three answer bytes, skipping bytes that cannot be status answers.
    #[derive(Debug, Default)]
    pub struct Reader {
        got: Vec<u8>,
    }

    impl StatusReader for Reader {
        fn push(&mut self, bytes: &[u8]) -> Option<PrinterStatus> {
            for &b in bytes {
                if valid(b) && self.got.len() < 3 {
                    self.got.push(b);
                }
            }
            (self.got.len() == 3).then(|| decode(self.got[0], self.got[1], self.got[2]))
        }
    }
}

pub mod zpl {
    use super::{Condition, PrinterStatus, StatusReader};

    /// Host status query.
    pub const QUERY: &[u8] = b"~HS";
    /// Longest answer accepted; more is noise.
    const MAX_ANSWER: usize = 512;

    /// Decodes the three frames of a `~HS` answer (the text between STX and ETX).
    pub fn decode(frames: &[&str]) -> PrinterStatus {
        let [first, second, ..] = frames else { return PrinterStatus::offline() };
        let f1: Vec<&str> = first.split(',').map(str::trim).collect();
        let f2: Vec<&str> = second.split(',').map(str::trim).collect();
        if f1.len() < 12 || f2.len() < 11 {
            return PrinterStatus::offline();
        }
        let flag = |v: &str| v == "1";
        let mut c = Vec::new();
        if flag(f1[1]) {
            c.push(Condition::PaperOut);
        }
        if flag(f1[2]) {
            c.push(Condition::Paused);
        }
        if flag(f1[5]) {
            c.push(Condition::BufferFull);
        }
        if flag(f1[9]) || flag(f1[10]) || flag(f1[11]) {
            // Corrupt RAM, under- or over-temperature.
            c.push(Condition::Error);
        }
        if flag(f2[2]) {
            c.push(Condition::HeadOpen);
        }
        if flag(f2[3]) {
            c.push(Condition::RibbonOut);
        }
        PrinterStatus::from(c)
    }

    /// Collects `STX … ETX` frames until three are complete.
    #[derive(Debug, Default)]
    pub struct Reader {
        buf: Vec<u8>,
    }

    impl StatusReader for Reader {
        fn push(&mut self, bytes: &[u8]) -> Option<PrinterStatus> {
            if self.buf.len() + bytes.len() > MAX_ANSWER {
                self.buf.clear();
                return Some(PrinterStatus::offline());
            }
            self.buf.extend_from_slice(bytes);
            let text = String::from_utf8_lossy(&self.buf);
            let mut frames = Vec::new();
            let mut rest = text.as_ref();
            while let Some(start) = rest.find('\u{2}') {
                let after = &rest[start + 1..];
                let Some(end) = after.find('\u{3}') else { break };
                frames.push(&after[..end]);
                rest = &after[end + 1..];
            }
            (frames.len() >= 3).then(|| decode(&frames))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escpos_ready_and_each_condition() {
        assert_eq!(escpos::decode(0x12, 0x12, 0x12).state(), "ready");
        assert!(escpos::decode(0x12, 0x12, 0x12).is_ready());
        assert_eq!(escpos::decode(0x1A, 0x16, 0x12).state(), "cover_open");
        assert_eq!(escpos::decode(0x1A, 0x32, 0x72).state(), "paper_out");
        assert_eq!(escpos::decode(0x1A, 0x52, 0x12).state(), "error");
        assert_eq!(escpos::decode(0x1A, 0x12, 0x12).state(), "offline");
        let near = escpos::decode(0x12, 0x12, 0x1E);
        assert_eq!(near.state(), "paper_near_end");
        assert!(near.is_ready(), "near end still prints");
    }

    #[test]
    fn escpos_garbage_is_offline_never_ready() {
        assert_eq!(escpos::decode(0xFF, 0x12, 0x12).state(), "offline");
        let mut r = escpos::Reader::default();
        assert_eq!(r.push(&[0x00, 0xFF, 0x12, 0x12]), None, "invalid bytes are skipped");
        assert_eq!(r.push(&[0x12]).unwrap().state(), "ready");
    }

    fn hs(paper_out: u8, pause: u8, head_up: u8, ribbon_out: u8) -> Vec<u8> {
        format!(
            "\u{2}030,{paper_out},{pause},1245,000,0,0,0,000,0,0,0\u{3}\r\n\
             \u{2}000,0,{head_up},{ribbon_out},0,2,6,0,00000000,1,000\u{3}\r\n\
             \u{2}1234,0\u{3}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn zpl_host_status_is_decoded() {
        let ready = zpl::Reader::default().push(&hs(0, 0, 0, 0)).unwrap();
        assert_eq!(ready.state(), "ready");
        let bad = zpl::Reader::default().push(&hs(1, 1, 1, 1)).unwrap();
        assert_eq!(bad.to_string(), "head_open, paper_out, ribbon_out, paused");
        assert_eq!(bad.state(), "head_open");
    }

    #[test]
    fn zpl_answer_split_across_reads_and_a_short_answer_waits() {
        let all = hs(1, 0, 0, 0);
        let mut r = zpl::Reader::default();
        assert_eq!(r.push(&all[..20]), None);
        assert_eq!(r.push(&all[20..50]), None);
        assert_eq!(r.push(&all[50..]).unwrap().state(), "paper_out");
        assert_eq!(zpl::decode(&["030,0", "x", "y"]).state(), "offline", "too few fields");
    }

    proptest! {
        #[test]
        fn readers_never_panic_and_garbage_is_never_ready(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut z = zpl::Reader::default();
            if let Some(s) = z.push(&data) {
                // Random bytes that happen to frame three fields lists are not a printer.
                prop_assert!(s.state() != "ready" || data.iter().filter(|b| **b == 2).count() >= 3);
            }
            let mut e = escpos::Reader::default();
            let _ = e.push(&data);
        }
    }
}
