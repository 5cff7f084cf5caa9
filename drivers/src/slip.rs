//! Packing slips for ESC/POS receipt printers, rendered to bytes without I/O (the bytes go
//! to whichever transport the printer has).
//!
//! # Design constraints
//! - A code page is always selected and the text encoded to it: `ESC t 19` PC858 (Latin
//!   with €, the default: almost every receipt printer has it), `ESC t 16` WPC1252, or
//!   `FS &` GB18030 (Chinese printers' double-byte mode: CJK, kana, hangul and Latin).
//!   A character the code page lacks prints as `?`.
//! - Lines are wrapped at word boundaries at the paper's width (`columns` 48, 42 or 32,
//!   counting a wide CJK character as two); item lines are three columns (quantity, SKU,
//!   name) that stay aligned however long the SKU: a long SKU or name wraps in its column.
//! - The QR code is Model 2 (`GS ( k` fn 65, n1 = 50), error correction M.
//! - Text from orders is cleaned first: control characters are dropped (an ESC or GS in a
//!   product name could otherwise switch printer modes or cut the paper).

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

    /// The command selecting it.
    fn select(self) -> &'static [u8] {
        match self {
            CodePage::Pc858 => b"\x1bt\x13",
            CodePage::Wpc1252 => b"\x1bt\x10",
            CodePage::Gb18030 => b"\x1c&",
        }
    }

    /// Columns `c` takes on the paper.
    fn columns(self, c: char) -> f64 {
        if self == CodePage::Gb18030 && is_wide(c) {
            2.0
        } else {
            1.0
        }
    }

    fn encode_into(self, text: &str, out: &mut Vec<u8>) {
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c as u8);
                continue;
            }
            match self {
                CodePage::Pc858 => {
                    let high = PC858_HIGH.chars().position(|h| h == c).map(|i| 0x80 + i as u8);
                    out.push(high.or(ascii_stand_in(c).map(|a| a as u8)).unwrap_or(b'?'))
                }
                CodePage::Wpc1252 | CodePage::Gb18030 => {
                    let encoding =
                        if self == CodePage::Gb18030 { encoding_rs::GB18030 } else { encoding_rs::WINDOWS_1252 };
                    let mut buf = [0u8; 4];
                    let (bytes, _, unmappable) = encoding.encode(c.encode_utf8(&mut buf));
                    if unmappable {
                        out.push(b'?');
                    } else {
                        out.extend_from_slice(&bytes);
                    }
                }
            }
        }
    }
}

/// Typographic punctuation PC858 lacks, as the ASCII a typewriter would use.
fn ascii_stand_in(c: char) -> Option<char> {
    Some(match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => '\'',
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => '"',
        _ => return None,
    })
}

/// Code page 858 from 0x80 up (code page 850 with `€` at 0xD5).
const PC858_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";

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

/// Writes the bytes of a slip.
struct Writer {
    spec: SlipSpec,
    out: Vec<u8>,
}

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn width(&self, text: &str) -> usize {
        text.chars().map(|c| self.spec.codepage.columns(c) as usize).sum()
    }

    /// Wrapped lines of `text` at `width` columns.
    fn wrap(&self, text: &str, width: usize) -> Vec<String> {
        fit(&clean(text), width as f64, usize::MAX, |c| self.spec.codepage.columns(c))
    }

    fn line(&mut self, text: &str) {
        self.spec.codepage.encode_into(text, &mut self.out);
        self.out.push(b'\n');
    }

    fn paragraph(&mut self, text: &str) {
        for l in self.wrap(text, self.spec.columns) {
            self.line(&l);
        }
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
    fn items(&mut self, lines: &[(u32, String, String)]) {
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
                self.line(row.trim_end());
            }
        }
    }

    /// A Model 2 QR code with `data` (GS ( k: model, module size, error correction, store, print).
    fn qr(&mut self, data: &[u8]) {
        self.raw(b"\x1d(k\x04\x001A2\x00");
        self.raw(b"\x1d(k\x03\x001C\x06");
        self.raw(b"\x1d(k\x03\x001E1");
        let len = data.len() + 3;
        self.raw(&[0x1d, b'(', b'k', (len % 256) as u8, (len / 256) as u8, b'1', b'P', b'0']);
        self.raw(data);
        self.raw(b"\x1d(k\x03\x001Q0");
        self.raw(b"\n");
    }
}

/// Longest QR payload printed (bytes); the order id is far shorter.
const QR_MAX: usize = 1000;

/// Renders a slip to ESC/POS bytes: init, code page, text, QR, feed and cut.
pub fn render(spec: &SlipSpec, slip: &Slip) -> Vec<u8> {
    let mut w = Writer { spec: *spec, out: Vec::with_capacity(1024) };
    w.raw(b"\x1b@");
    w.raw(spec.codepage.select());
    w.raw(b"\x1ba\x01\x1bE\x01");
    w.paragraph(&slip.title);
    w.paragraph(&format!("Order {}", slip.order));
    w.raw(b"\x1bE\x00\x1ba\x00\n");
    for l in &slip.ship_to {
        w.paragraph(l);
    }
    w.raw(b"\n");
    w.items(&slip.lines);
    w.raw(b"\n");
    // Judged after cleaning: a field of control characters alone prints nothing (not an
    // empty QR code).
    let qr = clean(&slip.qr);
    if !qr.is_empty() {
        w.raw(b"\x1ba\x01");
        let mut data = Vec::new();
        spec.codepage.encode_into(&qr, &mut data);
        data.truncate(QR_MAX);
        w.qr(&data);
    }
    let footer = clean(&slip.footer);
    if !footer.is_empty() {
        w.paragraph(&footer);
    }
    w.raw(b"\x1ba\x00\n\n\n");
    // Feed 3 lines and cut (GS V 66 n).
    w.raw(b"\x1dVB\x03");
    w.out
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
        assert!(b.ends_with(b"\x1dVB\x03"), "ends with a cut");
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
