//! Scanner framing: bytes from a scanner in, whole barcodes (or precise errors) out.
//!
//! Pure and incremental: a transport feeds whatever bytes arrived ([`ScanFramer::push`])
//! and, when the line went quiet for the inter-key timeout, calls [`ScanFramer::flush`].
//! Scanners end a barcode with a suffix (CR, LF, CRLF or TAB). A frame longer than
//! `max_len`, one with control characters, or one that is not UTF-8 becomes a
//! [`FrameError`], never a scan, and the framer is ready for the next good scan right away.
//! The GS1 group separator (0x1D) is data, not noise, and is kept.

/// ASCII group separator: the FNC1 stand-in inside GS1-128 / DataMatrix element strings.
pub const GS: u8 = 0x1D;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("scan of {len} bytes exceeds the {max}-byte limit")]
    TooLong { len: usize, max: usize },
    #[error("scan contains control byte 0x{byte:02x} at offset {offset}; noise on the line?")]
    ControlByte { byte: u8, offset: usize },
    #[error("scan is not valid UTF-8 (offset {offset})")]
    NotUtf8 { offset: usize },
}

impl FrameError {
    /// Short machine-readable reason for events and feedback.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLong { .. } => "scan_too_long",
            FrameError::ControlByte { .. } => "scan_noise",
            FrameError::NotUtf8 { .. } => "scan_not_utf8",
        }
    }
}

/// What the framer produced: a barcode, or why a frame was rejected.
pub type Frame = Result<String, FrameError>;

#[derive(Debug, Clone)]
pub struct ScanFramer {
    max_len: usize,
    buf: Vec<u8>,
    /// Bytes seen in the current frame, including those dropped after `max_len`.
    seen: usize,
}

impl ScanFramer {
    pub fn new(max_len: usize) -> Self {
        ScanFramer { max_len, buf: Vec::new(), seen: 0 }
    }

    /// Feeds bytes; returns every frame they completed, in order. Memory stays bounded by
    /// `max_len` whatever arrives.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &b in bytes {
            if matches!(b, b'\r' | b'\n' | b'\t') {
                // CRLF and blank lines produce no empty scans.
                if self.seen > 0 {
                    out.push(self.finish());
                }
                continue;
            }
            self.seen += 1;
            if self.buf.len() < self.max_len {
                self.buf.push(b);
            }
        }
        out
    }

    /// Ends the current frame after the inter-key timeout (scanners without a suffix).
    pub fn flush(&mut self) -> Option<Frame> {
        (self.seen > 0).then(|| self.finish())
    }

    /// True while a frame is partly received (the transport then arms the inter-key timer).
    pub fn in_frame(&self) -> bool {
        self.seen > 0
    }

    fn finish(&mut self) -> Frame {
        let seen = std::mem::take(&mut self.seen);
        let bytes = std::mem::take(&mut self.buf);
        if seen > self.max_len {
            return Err(FrameError::TooLong { len: seen, max: self.max_len });
        }
        if let Some((offset, &byte)) = bytes.iter().enumerate().find(|(_, b)| (**b < 0x20 && **b != GS) || **b == 0x7f)
        {
            return Err(FrameError::ControlByte { byte, offset });
        }
        String::from_utf8(bytes).map_err(|e| FrameError::NotUtf8 { offset: e.utf8_error().valid_up_to() })
    }
}

/// Renders a barcode for a log line or a feedback line: printable, GS shown as `<GS>`,
/// other control characters as `\xNN`, invisible ones as `\u{...}` ([`is_invisible`]).
pub fn display_code(code: &str) -> String {
    code.chars()
        .map(|c| match c {
            '\u{1d}' => "<GS>".to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c if is_invisible(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Text for a terminal or a log line with control and invisible characters escaped
/// (`\xNN`, `\u{...}`), so a scanned U+202E cannot reverse what the packer reads and a
/// stray escape sequence cannot drive the terminal. Borrowed when nothing needs escaping.
pub fn escape_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_invisible(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                c if c.is_control() => format!("\\x{:02x}", c as u32),
                c if is_invisible(c) => format!("\\u{{{:x}}}", c as u32),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// Format characters (Unicode category Cf: bidi overrides and isolates, zero-width
/// characters, the BOM, tags) and the line and paragraph separators: they change how text
/// around them shows, or show as nothing.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use stationd_testkit::{scanner_bytes, split_at_cuts};

    #[test]
    fn every_suffix_ends_a_scan_and_crlf_gives_one_scan() {
        let mut f = ScanFramer::new(64);
        let out = f.push(b"A1\rB2\nC3\r\nD4\t");
        assert_eq!(out, vec![Ok("A1".into()), Ok("B2".into()), Ok("C3".into()), Ok("D4".into())]);
    }

    #[test]
    fn a_scan_split_across_reads_is_joined() {
        let mut f = ScanFramer::new(64);
        assert!(f.push(b"40063").is_empty());
        assert!(f.in_frame());
        assert_eq!(f.push(b"81333931\r"), vec![Ok("4006381333931".into())]);
    }

    #[test]
    fn a_10_kb_line_is_one_error_and_the_next_scan_still_works() {
        let mut f = ScanFramer::new(512);
        let mut input = vec![b'9'; 10_240];
        input.extend_from_slice(b"\rOK\r");
        let out = f.push(&input);
        assert_eq!(out, vec![Err(FrameError::TooLong { len: 10_240, max: 512 }), Ok("OK".into())]);
    }

    #[test]
    fn control_bytes_are_noise_but_the_gs1_separator_is_kept() {
        let mut f = ScanFramer::new(64);
        let out = f.push(b"01095011010209171719050810ABCD\x1d21XYZ\rAB\x07C\r");
        assert_eq!(out[0], Ok("01095011010209171719050810ABCD\u{1d}21XYZ".into()));
        assert_eq!(out[1], Err(FrameError::ControlByte { byte: 0x07, offset: 2 }));
        assert_eq!(display_code("10AB\u{1d}21X"), "10AB<GS>21X");
        assert_eq!(display_code("AB\u{202e}CD\u{200b}"), "AB\\u{202e}CD\\u{200b}");
        assert_eq!(escape_invisible("ok \u{202e}x\u{1b}[2J"), "ok \\u{202e}x\\x1b[2J");
        assert!(matches!(escape_invisible("Müller 東京"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_offset() {
        let mut f = ScanFramer::new(64);
        assert_eq!(f.push(b"AB\xff\xfe\r"), vec![Err(FrameError::NotUtf8 { offset: 2 })]);
    }

    #[test]
    fn flush_ends_a_scan_without_suffix() {
        let mut f = ScanFramer::new(64);
        assert!(f.push(b"12345").is_empty());
        assert_eq!(f.flush(), Some(Ok("12345".into())));
        assert_eq!(f.flush(), None);
    }

    /// The frames of `data` by the definition: split at CR, LF and TAB, empty pieces
    /// dropped, each piece judged on its own; plus the unterminated rest.
    fn reference(data: &[u8], max: usize) -> (Vec<Frame>, Vec<u8>) {
        let judge = |piece: &[u8]| -> Frame {
            if piece.len() > max {
                return Err(FrameError::TooLong { len: piece.len(), max });
            }
            if let Some(offset) = piece.iter().position(|b| (*b < 0x20 && *b != GS) || *b == 0x7f) {
                return Err(FrameError::ControlByte { byte: piece[offset], offset });
            }
            String::from_utf8(piece.to_vec()).map_err(|e| FrameError::NotUtf8 { offset: e.utf8_error().valid_up_to() })
        };
        let mut pieces: Vec<&[u8]> = data.split(|b| matches!(b, b'\r' | b'\n' | b'\t')).collect();
        let rest = pieces.pop().unwrap_or_default().to_vec();
        (pieces.into_iter().filter(|p| !p.is_empty()).map(judge).collect(), rest)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn any_stream_cut_anywhere_gives_exactly_the_frames_of_its_definition(
            data in scanner_bytes(600),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            max in 1usize..48,
        ) {
            let (expected, rest) = reference(&data, max);
            let mut f = ScanFramer::new(max);
            let mut got = Vec::new();
            for chunk in split_at_cuts(&data, &cuts) {
                got.extend(f.push(chunk));
                prop_assert!(f.buf.len() <= max, "{} bytes held for a {max}-byte limit", f.buf.len());
            }
            // The same frames as one write of the whole stream, and as the definition.
            prop_assert_eq!(&got, &ScanFramer::new(max).push(&data));
            prop_assert_eq!(&got, &expected);
            for code in got.iter().flatten() {
                prop_assert!(!code.is_empty() && code.len() <= max);
                prop_assert!(!code.bytes().any(|b| (b < 0x20 && b != GS) || b == 0x7f));
            }
            // The unterminated rest is one frame at the inter-key timeout, then nothing.
            prop_assert_eq!(f.in_frame(), !rest.is_empty());
            let flushed = f.flush();
            prop_assert_eq!(flushed, reference(&[rest.as_slice(), b"\r"].concat(), max).0.pop());
            prop_assert_eq!(f.flush(), None);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A line that never ends (a stuck scanner, a 100 kB "barcode") costs at most
        /// `max_len` bytes of memory and is one `TooLong` with its true length; the next
        /// scan is read as usual.
        #[test]
        fn a_never_terminated_stream_stays_bounded_and_is_one_precise_error(
            chunks in proptest::collection::vec((1usize..16_384, 0x21u8..0x7f), 1..12),
            max in 1usize..1024,
        ) {
            let mut f = ScanFramer::new(max);
            let mut total = 0;
            for (len, byte) in &chunks {
                prop_assert!(f.push(&vec![*byte; *len]).is_empty());
                total += len;
                prop_assert!(f.buf.len() <= max && f.buf.capacity() <= (2 * max).max(8), "capacity {}", f.buf.capacity());
                prop_assert!(f.in_frame());
            }
            let ended = f.push(b"\rNEXT-1\r");
            let first = if total > max {
                Err(FrameError::TooLong { len: total, max })
            } else {
                Ok(String::from_utf8(chunks.iter().flat_map(|(n, b)| vec![*b; *n]).collect()).unwrap())
            };
            let next = if max >= 6 { Ok("NEXT-1".to_string()) } else { Err(FrameError::TooLong { len: 6, max }) };
            prop_assert_eq!(ended, vec![first, next]);
            prop_assert!(!f.in_frame() && f.buf.capacity() == 0, "the buffer is given back");
        }
    }
}
