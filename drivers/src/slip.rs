//! Packing slips for ESC/POS receipt printers, rendered to bytes without I/O (the bytes go
//! to whichever transport the printer has). The commands and the text encoding are the
//! `escpos` crate's (its `Printer` writing into `JobBuffer`); the layout is the station's.
//!
//! # Design constraints
//! - A code page is always selected and the text encoded to it: `ESC t 19` PC858 (Latin
//!   with €, the default: almost every receipt printer has it), `ESC t 16` WPC1252, or
//!   `FS &` GB18030 (Chinese printers' double-byte mode: CJK, kana, hangul and Latin).
//!   A character the code page lacks prints as the ASCII a typewriter would use (`-`, `'`,
//!   `"` for typographic dashes and quotes) or as `?`.
//! - Lines are wrapped at word boundaries at the paper's width (`columns` 48, 42 or 32,
//!   counting a wide CJK character as two); item lines are three columns (quantity, SKU,
//!   name) that stay aligned however long the SKU: a long SKU or name wraps in its column.
//!   A line ends with LF, not escpos' `feed()` (`ESC d 1`): how many lines a slip has
//!   depends on the order's text, and LF is the only byte order text may add.
//! - The QR code is Model 2 (`GS ( k` fn 65, n1 = 50), module size 6, error correction M;
//!   its payload is the text's UTF-8 (escpos sends a QR payload as UTF-8 whatever the page).
//! - The slip ends with three blank lines and a full cut (escpos' `cut`, `GS V 65 0`; its
//!   `partial_cut` is `GS V 65 1`, a full cut after one motion unit): a packing slip goes
//!   into the parcel on its own.
//! - Text from orders is cleaned first: control characters are dropped (an ESC or GS in a
//!   product name could otherwise switch printer modes or cut the paper).
//! - Rendering cannot fail: every error escpos can return is ruled out here (the buffer
//!   takes every write, text escpos refuses is replaced, the QR payload is bounded).
//!
//! # What the station adds to escpos 0.17
//! - **A byte-buffer driver**: escpos' drivers write to a socket, a file, USB, or stdout
//!   (`ConsoleDriver`, which keeps nothing); `JobBuffer` implements its `Driver` for a
//!   shared `Vec<u8>`, so a slip is bytes for the print queue.
//! - **GB18030**: escpos has no page code for it and no command for the double-byte mode.
//!   `FS &` goes through `Printer::custom`, and the text through escpos' own `Encoder`
//!   (GB18030, from encoding_rs) with no page code selected.
//! - **`?` for what a page lacks**: escpos writes a character of the page's table as its
//!   byte and hands any other to its `Encoder`, which by default (UTF-8) would print a
//!   character the page lacks as two to four stray glyphs. The slip's encoder for PC858
//!   and WPC1252 is `x-user-defined`, which takes ASCII and refuses everything else, so
//!   escpos refuses a character the page lacks and the slip writes a stand-in instead.
//!   (`x-user-defined` would pass U+F780–U+F7FF as raw bytes: those are stand-ins too.)
//! - **PC858 table corrections**: escpos' PC858 table differs from code page 858 in four
//!   places: 0xF0 is the ASCII hyphen instead of the soft hyphen (every `-` would print as
//!   0xF0), 0xA8 is `®` instead of `¿`, 0xA9 `⌐` instead of `®`, and 0xE3 repeats `Ô`
//!   instead of `Ò`. The slip writes those characters' right bytes with `custom`
//!   (`CodePage::corrected`); the tests below read every character of the page back.

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::errors::Result as EscposResult;
use escpos::printer::Printer;
use escpos::utils::{Encoder, JustifyMode, PageCode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};

use crate::label::{fit, is_wide};

/// What a packing slip shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slip {
    pub title: String,
    pub order: String,
    pub ship_to: Vec<String>,
    /// (quantity, sku, name)
    pub lines: Vec<(u32, String, String)>,
    /// Encoded in a QR code at the bottom (e.g. the order id).
    pub qr: String,
    pub footer: String,
}

/// The printer's character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodePage {
    #[default]
    Pc858,
    Wpc1252,
    Gb18030,
}

impl CodePage {
    pub const NAMES: [&'static str; 3] = ["pc858", "wpc1252", "gb18030"];

    pub fn parse(name: &str) -> Option<CodePage> {
        match name {
            "pc858" => Some(CodePage::Pc858),
            "wpc1252" => Some(CodePage::Wpc1252),
            "gb18030" => Some(CodePage::Gb18030),
            _ => None,
        }
    }

    /// escpos' page code (`ESC t n`); GB18030 has none (it is a mode, `FS &`).
    fn page_code(self) -> Option<PageCode> {
        match self {
            CodePage::Pc858 => Some(PageCode::PC858),
            CodePage::Wpc1252 => Some(PageCode::WPC1252),
            CodePage::Gb18030 => None,
        }
    }

    /// The encoder escpos uses for a character outside the page's table: for a table page
    /// one that refuses anything but ASCII, so a character the page lacks is refused.
    fn encoder(self) -> Encoder {
        match self {
            CodePage::Pc858 | CodePage::Wpc1252 => Encoder::new(encoding_rs::X_USER_DEFINED),
            CodePage::Gb18030 => Encoder::new(encoding_rs::GB18030),
        }
    }

    /// The byte of `c` where escpos would write a wrong one: its PC858 table's errors, and
    /// the range `x-user-defined` passes through as raw bytes.
    fn corrected(self, c: char) -> Option<u8> {
        if self == CodePage::Gb18030 {
            return None;
        }
        if ('\u{f780}'..='\u{f7ff}').contains(&c) {
            return Some(b'?');
        }
        if self == CodePage::Pc858 {
            return PC858_CORRECTIONS.iter().find(|(k, _)| *k == c).map(|(_, b)| *b);
        }
        None
    }

    /// Columns `c` takes on the paper.
    fn columns(self, c: char) -> f64 {
        if self == CodePage::Gb18030 && is_wide(c) {
            2.0
        } else {
            1.0
        }
    }
}

/// Where escpos' PC858 table differs from code page 858 (`⌐` is not in the page).
const PC858_CORRECTIONS: [(char, u8); 7] =
    [('-', b'-'), ('\u{ad}', 0xF0), ('¿', 0xA8), ('®', 0xA9), ('⌐', b'?'), ('Ò', 0xE3), ('Ô', 0xE2)];

/// Typographic punctuation, as the ASCII a typewriter would use; `?` for anything else.
fn stand_in(c: char) -> u8 {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => b'-',
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => b'\'',
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => b'"',
        _ => b'?',
    }
}

/// The printer a slip is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlipSpec {
    pub codepage: CodePage,
    /// Characters per line: 48 (80 mm paper, font A), 42 or 32 (58 mm).
    pub columns: usize,
}

impl Default for SlipSpec {
    fn default() -> Self {
        SlipSpec { codepage: CodePage::Pc858, columns: 48 }
    }
}

/// Text with control characters dropped.
pub fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// An escpos driver that keeps what it is given: the bytes of one job. The `Printer` owns
/// one handle and the renderer keeps another to take the bytes out.
#[derive(Clone, Default)]
struct JobBuffer(Rc<RefCell<Vec<u8>>>);

impl JobBuffer {
    /// The bytes written so far, leaving the buffer empty.
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

impl Driver for JobBuffer {
    fn name(&self) -> String {
        "job buffer".to_string()
    }

    fn write(&self, data: &[u8]) -> EscposResult<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> EscposResult<usize> {
        Ok(0)
    }

    fn flush(&self) -> EscposResult<()> {
        Ok(())
    }
}

/// Writes a slip through an escpos `Printer`.
struct Writer {
    spec: SlipSpec,
    printer: Printer<JobBuffer>,
    buffer: JobBuffer,
}

impl Writer {
    fn new(spec: SlipSpec) -> Writer {
        let buffer = JobBuffer::default();
        let printer = Printer::new(buffer.clone(), Protocol::new(spec.codepage.encoder()), None);
        Writer { spec, printer, buffer }
    }

    /// Reset, then the code page: `ESC @`, then `ESC t n` or `FS &`.
    fn init(&mut self) -> EscposResult<()> {
        self.printer.init()?;
        match self.spec.codepage.page_code() {
            Some(page) => self.printer.page_code(page)?,
            None => self.printer.custom(b"\x1c&")?,
        };
        Ok(())
    }

    fn width(&self, text: &str) -> usize {
        text.chars().map(|c| self.spec.codepage.columns(c) as usize).sum()
    }

    /// Wrapped lines of `text` at `width` columns.
    fn wrap(&self, text: &str, width: usize) -> Vec<String> {
        fit(&clean(text), width as f64, usize::MAX, |c| self.spec.codepage.columns(c))
    }

    /// `text` in the code page, a character at a time (so one escpos refuses is replaced
    /// alone).
    fn text(&mut self, text: &str) -> EscposResult<()> {
        let page = self.spec.codepage;
        for c in text.chars() {
            if let Some(byte) = page.corrected(c) {
                self.printer.custom(&[byte])?;
            } else if self.printer.write(c.encode_utf8(&mut [0; 4])).is_err() {
                // ASCII: the same byte on every page the slips use.
                self.printer.custom(&[stand_in(c)])?;
            }
        }
        Ok(())
    }

    fn newline(&mut self) -> EscposResult<()> {
        self.printer.write("\n")?;
        Ok(())
    }

    fn line(&mut self, text: &str) -> EscposResult<()> {
        self.text(text)?;
        self.newline()
    }

    fn paragraph(&mut self, text: &str) -> EscposResult<()> {
        for l in self.wrap(text, self.spec.columns) {
            self.line(&l)?;
        }
        Ok(())
    }

    fn pad(&self, text: &str, width: usize, right: bool) -> String {
        let fill = " ".repeat(width.saturating_sub(self.width(text)));
        if right {
            format!("{fill}{text}")
        } else {
            format!("{text}{fill}")
        }
    }

    /// Item lines: quantity, SKU and name columns, each wrapping in its own column.
    fn items(&mut self, lines: &[(u32, String, String)]) -> EscposResult<()> {
        let columns = self.spec.columns;
        let qty_w = 4;
        let longest = lines.iter().map(|(_, sku, _)| self.width(&clean(sku))).max().unwrap_or(0);
        let sku_w = longest.clamp(6, columns / 3);
        let name_w = columns - qty_w - sku_w - 2;
        for (qty, sku, name) in lines {
            let qty = self.wrap(&qty.to_string(), qty_w);
            let sku = self.wrap(sku, sku_w);
            let name = self.wrap(name, name_w);
            let rows = qty.len().max(sku.len()).max(name.len()).max(1);
            for r in 0..rows {
                let cell = |v: &[String]| v.get(r).cloned().unwrap_or_default();
                let row = format!(
                    "{} {} {}",
                    self.pad(&cell(&qty), qty_w, true),
                    self.pad(&cell(&sku), sku_w, false),
                    cell(&name)
                );
                self.line(row.trim_end())?;
            }
        }
        Ok(())
    }

    /// A Model 2 QR code with `data`, centred: escpos sends model, module size, error
    /// correction, the data and print (`GS ( k` fn 65, 67, 69, 80, 81).
    fn qr(&mut self, data: &str) -> EscposResult<()> {
        self.printer.justify(JustifyMode::CENTER)?;
        self.printer.qrcode_option(data, QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M))?;
        self.newline()
    }

    fn slip(&mut self, slip: &Slip) -> EscposResult<()> {
        self.init()?;
        self.printer.justify(JustifyMode::CENTER)?.bold(true)?;
        self.paragraph(&slip.title)?;
        self.paragraph(&format!("Order {}", slip.order))?;
        self.printer.bold(false)?.justify(JustifyMode::LEFT)?;
        self.newline()?;
        for l in &slip.ship_to {
            self.paragraph(l)?;
        }
        self.newline()?;
        self.items(&slip.lines)?;
        self.newline()?;
        // Judged after cleaning: a field of control characters alone prints nothing (not an
        // empty QR code).
        let qr = clean(&slip.qr);
        if !qr.is_empty() {
            self.qr(truncate(&qr, QR_MAX))?;
        }
        let footer = clean(&slip.footer);
        if !footer.is_empty() {
            self.paragraph(&footer)?;
        }
        self.printer.justify(JustifyMode::LEFT)?;
        for _ in 0..3 {
            self.newline()?;
        }
        // Full cut (`GS V 65 0`), then the instructions go to the buffer.
        self.printer.print_cut()?;
        Ok(())
    }
}

/// Longest QR payload printed (bytes); the order id is far shorter.
const QR_MAX: usize = 1000;

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let end = (0..=max.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    &text[..end]
}

/// Renders a slip to ESC/POS bytes: init, code page, text, QR, feed and cut.
pub fn render(spec: &SlipSpec, slip: &Slip) -> Vec<u8> {
    let mut w = Writer::new(*spec);
    // Broken invariant if it fails: the buffer takes every write, refused text is replaced,
    // and the QR payload is at most QR_MAX bytes (escpos takes 7089).
    w.slip(slip).expect("escpos refuses nothing a slip sends it");
    w.buffer.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slip() -> Slip {
        Slip {
            title: "Packing slip".into(),
            order: "SO-1001".into(),
            ship_to: vec!["Jürgen Müller".into(), "Hauptstr. 5".into(), "10115 Berlin".into()],
            lines: vec![(2, "SKU-1".into(), "Mug €".into()), (1, "SKU-2".into(), "Tea\u{1b}i\u{1d}V".into())],
            qr: "SO-1001".into(),
            footer: "Thank you".into(),
        }
    }

    #[test]
    fn a_slip_selects_its_code_page_and_has_lines_a_model_2_qr_and_a_cut() {
        let b = render(&SlipSpec::default(), &slip());
        assert!(b.starts_with(b"\x1b@\x1bt\x13"), "ESC @ then ESC t 19 (PC858)");
        assert!(b.windows(9).any(|w| w == b"\x1d(k\x04\x001A2\x00"), "QR Model 2");
        assert!(b.windows(11).any(|w| w == b"J\x81rgen M\x81ll"), "ü is 0x81 in PC858");
        assert!(b.windows(5).any(|w| w == b"Mug \xd5"), "€ is 0xD5 in PC858");
        assert!(b.windows(18).any(|w| w == b"   2 SKU-1  Mug \xd5\n"), "{:?}", String::from_utf8_lossy(&b));
        assert!(b.ends_with(b"\x1dVA\x00"), "ends with a full cut");
    }

    #[test]
    fn each_code_page_encodes_its_own_characters() {
        let cjk = Slip { ship_to: vec!["山田太郎 Müller".into()], ..slip() };
        let b = render(&SlipSpec { codepage: CodePage::Gb18030, columns: 32 }, &cjk);
        assert!(b.starts_with(b"\x1b@\x1c&"));
        let (text, _, _) = encoding_rs::GB18030.encode("山田太郎 Müller");
        assert!(b.windows(text.len()).any(|w| w == &*text));
        let b = render(&SlipSpec { codepage: CodePage::Wpc1252, columns: 42 }, &cjk);
        assert!(b.starts_with(b"\x1b@\x1bt\x10"));
        assert!(
            b.windows(11).any(|w| w == b"???? M\xfcller"),
            "unmappable is ?, ü is 0xFC in 1252: {:?}",
            String::from_utf8_lossy(&b)
        );
    }

    /// `text` as the slip writes it in `page` (through escpos), without the slip around it.
    fn encoded(page: CodePage, text: &str) -> Vec<u8> {
        let mut w = Writer::new(SlipSpec { codepage: page, columns: 48 });
        w.init().unwrap();
        w.printer.print().unwrap();
        w.buffer.take();
        w.text(text).unwrap();
        w.printer.print().unwrap();
        w.buffer.take()
    }

    /// Code page 858 from 0x80 up (code page 850 with `€` at 0xD5), as the printer has it.
    const PC858_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";

    #[test]
    fn every_character_of_code_page_858_prints_as_its_own_byte() {
        let ascii: String = (0x20u8..0x7f).map(char::from).collect();
        assert_eq!(encoded(CodePage::Pc858, &ascii), ascii.as_bytes(), "ASCII, the hyphen too");
        let high: Vec<u8> = (0x80..=0xff).collect();
        assert_eq!(encoded(CodePage::Pc858, PC858_HIGH), high);
    }

    #[test]
    fn every_character_of_windows_1252_prints_as_its_own_byte() {
        for b in 0x20u8..=0xff {
            let byte = [b];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            if text.chars().any(char::is_control) {
                continue;
            }
            assert_eq!(encoded(CodePage::Wpc1252, &text), [b], "{text:?}");
        }
    }

    #[test]
    fn a_character_the_code_page_lacks_prints_as_a_stand_in_or_a_question_mark() {
        let text = "Tee \u{2013} \u{201c}Gr\u{fc}n\u{201d} \u{2018}s\u{2019} \u{2310} \u{5c71} \u{1f600} \u{f7a9}";
        assert_eq!(encoded(CodePage::Pc858, text), b"Tee - \"Gr\x81n\" 's' ? ? ? ?");
        assert_eq!(encoded(CodePage::Wpc1252, text), b"Tee \x96 \x93Gr\xfcn\x94 \x91s\x92 ? ? ? ?");
        // GB18030 has every character (the emoji and U+F7A9 as four- and two-byte codes).
        let (gb, _, unmappable) = encoding_rs::GB18030.encode(text);
        assert!(!unmappable);
        assert_eq!(encoded(CodePage::Gb18030, text), &*gb);
    }

    #[test]
    fn a_long_sku_keeps_the_name_column_aligned() {
        let s = Slip {
            lines: vec![(1, "A-VERY-LONG-SKU-0123456789".into(), "Name".into()), (10, "B".into(), "Other".into())],
            ..slip()
        };
        let b = render(&SlipSpec { codepage: CodePage::Pc858, columns: 32 }, &s);
        let text = String::from_utf8_lossy(&b);
        let rows: Vec<&str> = text.lines().filter(|l| l.contains("Name") || l.contains("Other")).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(rows[0].find("Name"), rows[1].find("Other"), "{rows:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Whatever an order holds, a slip has exactly the commands of a harmless one and no
        /// line wider than the paper.
        #[test]
        fn no_order_text_adds_a_command_or_runs_past_the_paper(
            texts in proptest::collection::vec(stationd_testkit::hostile_text(120), 5),
            page in 0usize..3, columns in proptest::prop_oneof![proptest::strategy::Just(48usize), proptest::strategy::Just(42), proptest::strategy::Just(32)],
        ) {
            let spec = SlipSpec { codepage: CodePage::parse(CodePage::NAMES[page]).unwrap(), columns };
            let s = Slip { title: "Packing slip".into(), order: texts[0].clone(), ship_to: vec![texts[1].clone()],
                lines: vec![(1, texts[2].clone(), texts[3].clone())], qr: "SO-1".into(), footer: texts[4].clone() };
            let b = render(&spec, &s);
            let controls: Vec<u8> = b.iter().copied().filter(|c| *c < 0x20 && *c != b'\n').collect();
            let harmless = render(&spec, &Slip { order: String::new(), ship_to: vec![], lines: vec![], footer: "x".into(), ..s.clone() });
            let expected: Vec<u8> = harmless.iter().copied().filter(|c| *c < 0x20 && *c != b'\n').collect();
            proptest::prop_assert_eq!(controls, expected);
            let text_start = b.windows(3).position(|w| w == b"\x1bE\x00").unwrap();
            let qr_start = b.windows(3).position(|w| w == b"\x1d(k").unwrap();
            for line in b[text_start + 6..qr_start].split(|c| *c == b'\n') {
                let width: usize = if spec.codepage == CodePage::Gb18030 {
                    encoding_rs::GB18030.decode(line).0.chars().map(|c| spec.codepage.columns(c) as usize).sum()
                } else {
                    line.len()
                };
                proptest::prop_assert!(width <= columns, "{:?}", line);
            }
        }
    }
}
