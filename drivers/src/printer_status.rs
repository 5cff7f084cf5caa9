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
        // "Offline" with a known cause is reported as the cause. A warning that still
        // prints (paper near end) is no cause: the printer stays offline.
        if c.iter().any(|x| *x != Condition::Offline && !x.allows_printing()) {
            c.retain(|x| *x != Condition::Offline);
        }
        PrinterStatus::from(c)
    }

    /// Collects the three answer bytes, skipping bytes that cannot be status answers.
    #[derive(Debug, Default)]
    pub struct Reader {
        pub(super) got: Vec<u8>,
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
        pub(super) buf: Vec<u8>,
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
        let offline_near_end = escpos::decode(0x1A, 0x12, 0x1E);
        assert_eq!(offline_near_end.to_string(), "offline, paper_near_end");
        assert!(!offline_near_end.is_ready(), "offline with paper near its end is still offline");
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

    /// Bytes like a printer's answer, or a confused one's: STX/ETX, digits, commas, CR LF,
    /// and anything else.
    fn answer_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        let mix = |b: u8| match b {
            0..=19 => 0x02,
            20..=39 => 0x03,
            40..=79 => b',',
            80..=159 => b'0' + b % 2,
            160..=175 => b"\r\n"[usize::from(b % 2)],
            other => other.wrapping_mul(13),
        };
        proptest::collection::vec(any::<u8>(), 0..max).prop_map(move |v| v.into_iter().map(mix).collect())
    }

    /// The first two `STX … ETX` frames of `text` split into fields, if there are three.
    fn frames_of(text: &str) -> Option<(Vec<String>, Vec<String>)> {
        let mut frames = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('\u{2}') {
            let Some(end) = rest[start + 1..].find('\u{3}') else { break };
            frames.push(rest[start + 1..start + 1 + end].split(',').map(|f| f.trim().to_string()).collect::<Vec<_>>());
            rest = &rest[start + 1 + end + 1..];
        }
        (frames.len() >= 3).then(|| (frames[0].clone(), frames[1].clone()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any answer, in any pieces: the reader holds at most its limit, reads the same
        /// status as from one write, and says `ready` only for three well-formed frames with
        /// no flag set.
        #[test]
        fn any_zpl_answer_in_any_pieces_is_bounded_and_never_ready_by_accident(
            data in answer_bytes(700),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut r = zpl::Reader::default();
            let mut got = None;
            for chunk in stationd_testkit::split_at_cuts(&data, &cuts) {
                got = r.push(chunk);
                prop_assert!(r.buf.len() <= 512, "{} bytes held", r.buf.len());
                if got.is_some() {
                    break;
                }
            }
            if data.len() <= 512 {
                prop_assert_eq!(&got, &zpl::Reader::default().push(&data));
            }
            if let Some(status) = got.filter(PrinterStatus::is_ready) {
                let (f1, f2) = frames_of(&String::from_utf8_lossy(&data)).expect("three frames");
                prop_assert!(f1.len() >= 12 && f2.len() >= 11);
                prop_assert!([1, 2, 5, 9, 10, 11].iter().all(|&i| f1[i] != "1") && f2[2] != "1" && f2[3] != "1");
                prop_assert_eq!(status.state(), "ready");
            }
        }

        /// A real `~HS` answer after noise without STX, cut anywhere, reads as exactly its
        /// flags.
        #[test]
        fn a_host_status_answer_cut_anywhere_reads_as_its_flags(
            flags in proptest::collection::vec(any::<bool>(), 9),
            noise in "[ -~]{0,40}",
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let f = |i: usize| u8::from(flags[i]);
            let answer = format!(
                "{noise}\u{2}030,{},{},1245,000,{},0,0,000,{},{},{}\u{3}\r\n\u{2}000,0,{},{},0,2,6,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}\r\n",
                f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)
            ).into_bytes();
            let mut want = Vec::new();
            for (on, c) in [
                (flags[0], Condition::PaperOut), (flags[1], Condition::Paused), (flags[2], Condition::BufferFull),
                (flags[3] || flags[4] || flags[5], Condition::Error), (flags[6], Condition::HeadOpen), (flags[7], Condition::RibbonOut),
            ] {
                if on {
                    want.push(c);
                }
            }
            want.sort();
            let mut r = zpl::Reader::default();
            let mut got = None;
            for chunk in stationd_testkit::split_at_cuts(&answer, &cuts) {
                got = got.or(r.push(chunk));
            }
            prop_assert_eq!(got, Some(PrinterStatus { conditions: want }));
        }

        /// ESC/POS: the first three bytes that can be status answers decide, wherever the
        /// reads cut; anything else is skipped and the reader never holds more than three.
        #[test]
        fn any_escpos_answer_in_any_pieces_reads_its_first_three_status_bytes(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let valid: Vec<u8> = data.iter().copied().filter(|b| b & 0b1001_0011 == 0b0001_0010).take(3).collect();
            let mut r = escpos::Reader::default();
            let mut got = None;
            for chunk in stationd_testkit::split_at_cuts(&data, &cuts) {
                got = r.push(chunk);
                prop_assert!(r.got.len() <= 3);
            }
            let want = (valid.len() == 3).then(|| escpos::decode(valid[0], valid[1], valid[2]));
            prop_assert_eq!(&got, &want);
            if let Some(s) = got {
                prop_assert_eq!(s.is_ready(), valid[0] & 0x08 == 0 && valid[1] & 0x64 == 0 && valid[2] & 0x60 == 0);
            }
        }

        /// Any three bytes: `ready` only for three valid answers without a fault bit;
        /// anything invalid is `offline`.
        #[test]
        fn any_three_escpos_bytes_decode_to_a_status_that_follows_their_bits(a in any::<u8>(), b in any::<u8>(), c in any::<u8>()) {
            let s = escpos::decode(a, b, c);
            let valid = [a, b, c].iter().all(|x| x & 0b1001_0011 == 0b0001_0010);
            if !valid {
                prop_assert_eq!(&s, &PrinterStatus::offline());
            } else {
                prop_assert_eq!(s.is_ready(), a & 0x08 == 0 && b & 0x64 == 0 && c & 0x60 == 0);
                prop_assert_eq!(s.conditions.contains(&Condition::PaperNearEnd), c & 0x0C != 0);
            }
            prop_assert!(!s.to_string().is_empty());
        }
    }
}
