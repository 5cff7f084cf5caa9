//! The built-in shipping label, rendered to ZPL without I/O, sized for the printer.
//!
//! # Design constraints
//! - Geometry follows the printer's resolution (`dpi` 203, 300 or 600): positions are in
//!   millimetres and converted to dots, so a label looks the same on every printer.
//! - The SSCC is a GS1-128 barcode (`^BC…,D` UCC/EAN mode: FNC1, AI 00) with a module of at
//!   least 0.495 mm and bars 32 mm high (GS1 General Specifications, logistic label); the
//!   tracking number is Code 128 in automatic mode with 0.495 mm modules narrowed (never
//!   below 0.25 mm) only as far as the label's width needs.
//! - A field that is absent is not printed: no empty barcode, no empty text. A label that
//!   cannot be made valid (an SSCC with a wrong check digit, a tracking number Code 128 cannot
//!   carry or the label cannot hold, neither tracking number nor SSCC) is refused with a
//!   [`LabelError`] naming the field, the value and the fix.
//! - Every text field is a `^FB` field block with a line limit; text is cut at a word with
//!   `...` so it never runs off the label or over the next field (widths are estimated on the
//!   safe side). Lines are broken here and joined with `\&`, so the printer breaks exactly here.
//! - Text outside the printer's built-in font (Latin, Greek, Cyrillic) prints in the
//!   printer's resident Unicode font (`^A@`) when one is configured; without one those
//!   characters print as `?` and the field is named in [`Label::missing_glyphs`] (the caller
//!   logs it and puts it in the print event), never as empty boxes.
//! - Values are written with `^FH` escapes ([`crate::zpl::escape_into`]): no value can add a
//!   ZPL command.
//! - The label starts from the station's known printer state ([`crate::zpl_state::resets`]:
//!   UTF-8, home 0,0, the 4×6 in size, no shift, reverse, mirror or turn), whatever an
//!   earlier label left set on the printer.

use std::fmt::Write as _;

use crate::sscc::is_sscc;
use crate::zpl::escape_into;
use crate::zpl_state::resets;

/// The printer a label is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSpec {
    /// 203, 300 or 600.
    pub dpi: u32,
    /// A resident Unicode font (`E:ANMDJ.TTF`), used with `^A@` for text the built-in font lacks.
    pub font: Option<String>,
}

impl Default for LabelSpec {
    fn default() -> Self {
        LabelSpec { dpi: 203, font: None }
    }
}

/// What a shipping label shows. Empty strings are absent fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelData {
    pub order: String,
    pub carrier: String,
    pub service: String,
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
    pub tracking: String,
    pub sscc: String,
}

/// A rendered label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub zpl: Vec<u8>,
    /// Fields with characters the printer has no font for (printed as `?`).
    pub missing_glyphs: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("order {order} has neither a tracking number nor an SSCC, so its label could not be scanned to ship it; set [labels] gs1_company_prefix so the station makes SSCCs, or send the order with its tracking number")]
    NoIdentifier { order: String },
    #[error("SSCC {value:?} of order {order} is not 18 digits with a right check digit; correct the order's `sscc`")]
    BadSscc { order: String, value: String },
    #[error("tracking number {value:?} of order {order} {problem}; correct the order's `tracking`")]
    BadTracking { order: String, value: String, problem: &'static str },
}

/// Label width in mm (4 in; its length, 6 in, is set with the resets).
const WIDTH_MM: f64 = crate::zpl_state::LABEL_WIDTH_MM;
const MARGIN_MM: f64 = 4.0;
/// GS1 logistic label: smallest SSCC module and its bar height.
pub const SSCC_MODULE_MM: f64 = 0.495;
pub const SSCC_HEIGHT_MM: f64 = 32.0;
/// Narrowest module a tracking barcode is shrunk to (scanners at a hub read 0.25 mm).
pub const TRACKING_MIN_MODULE_MM: f64 = 0.25;
const TRACKING_HEIGHT_MM: f64 = 22.0;
/// Code 128 quiet zone on each side, in modules.
const QUIET_MODULES: usize = 10;
const CUT: &str = "...";

struct Geometry {
    dots_per_mm: f64,
}

impl Geometry {
    fn dots(&self, mm: f64) -> usize {
        (mm * self.dots_per_mm).round() as usize
    }

    /// The smallest whole number of dots at least `mm` wide.
    fn at_least(&self, mm: f64) -> usize {
        ((mm * self.dots_per_mm) - 1e-9).ceil().max(1.0) as usize
    }
}

/// Renders the built-in label of `data` for the printer `spec`.
pub fn render(spec: &LabelSpec, data: &LabelData) -> Result<Label, LabelError> {
    let tracking = data.tracking.trim();
    let sscc = data.sscc.trim();
    if tracking.is_empty() && sscc.is_empty() {
        return Err(LabelError::NoIdentifier { order: data.order.clone() });
    }
    if !sscc.is_empty() && !is_sscc(sscc) {
        return Err(LabelError::BadSscc { order: data.order.clone(), value: sscc.to_string() });
    }
    let bad_tracking =
        |problem| LabelError::BadTracking { order: data.order.clone(), value: tracking.to_string(), problem };
    if !tracking.bytes().all(|b| b.is_ascii_alphanumeric() || b"-./ ".contains(&b)) {
        return Err(bad_tracking("has characters other than letters, digits, '-', '.', '/' and space"));
    }
    let g = Geometry { dots_per_mm: f64::from(spec.dpi) / 25.4 };
    let mut out = String::with_capacity(2048);
    let _ = writeln!(out, "^XA\n{}", resets(spec.dpi));
    let mut missing = Vec::new();
    let mut zpl = out.into_bytes();
    let m = MARGIN_MM;
    let qr_left = WIDTH_MM - m - 24.0;
    let mut text = |zpl: &mut Vec<u8>, field: &'static str, value: &str, (x, y, w): (f64, f64, f64), h: f64, lines| {
        if text_field(zpl, &g, spec, value, (x, y, w), h, lines) {
            missing.push(field);
        }
    };
    let order: String = data.order.chars().filter(|c| !c.is_control()).collect();
    let order = order.trim();
    let head = format!("{} {}", data.carrier.trim(), data.service.trim());
    text(&mut zpl, "carrier", head.trim(), (m, m, qr_left - m - 2.0), 5.0, 2);
    if !order.is_empty() {
        text(&mut zpl, "order.id", &format!("Order {order}"), (m, 17.0, qr_left - m - 2.0), 3.5, 1);
    }
    let full = WIDTH_MM - 2.0 * m;
    let place = format!("{} {}", data.postcode.trim(), data.city.trim());
    text(&mut zpl, "ship_to.name", &data.name, (m, 30.0, full), 5.0, 2);
    text(&mut zpl, "ship_to.street", &data.street, (m, 43.0, full), 4.0, 2);
    text(&mut zpl, "ship_to.city", place.trim(), (m, 53.5, full), 4.0, 1);
    text(&mut zpl, "ship_to.country", &data.country, (m, 59.0, full), 4.0, 1);
    if !order.is_empty() {
        // QR codes: about 0.6 mm modules; `QA,` = error correction Q, automatic data mode.
        let _ = write!(zpl_str(&mut zpl), "^FO{},{}^BQN,2,{}^FH^FDQA,", g.dots(qr_left), g.dots(m), g.at_least(0.6));
        escape_into(order, &mut zpl);
        zpl.extend_from_slice(b"^FS\n");
    }
    if !tracking.is_empty() {
        let modules = code128_modules(tracking);
        let room = g.dots(full) / (modules + 2 * QUIET_MODULES);
        let module = g.at_least(SSCC_MODULE_MM).min(room);
        if (module as f64) < TRACKING_MIN_MODULE_MM * g.dots_per_mm - 1e-9 {
            return Err(bad_tracking("is too long for a barcode on a 4 in label"));
        }
        code128(&mut zpl, &g, module, (68.0, g.dots(TRACKING_HEIGHT_MM)), "A", tracking);
    }
    if !sscc.is_empty() {
        let sscc = format!("(00){sscc}");
        code128(&mut zpl, &g, g.at_least(SSCC_MODULE_MM), (98.0, g.at_least(SSCC_HEIGHT_MM)), "D", &sscc);
    }
    zpl.extend_from_slice(b"^XZ\n");
    Ok(Label { zpl, missing_glyphs: missing })
}

/// A Code 128 field (`mode` A: automatic; D: GS1-128) left of its quiet zone at `y_mm`,
/// `height` dots high, human-readable line below.
fn code128(zpl: &mut Vec<u8>, g: &Geometry, module: usize, (y_mm, height): (f64, usize), mode: &str, data: &str) {
    let x = MARGIN_MM + (QUIET_MODULES * module) as f64 / g.dots_per_mm;
    let _ = write!(zpl_str(zpl), "^FO{},{}^BY{module}^BCN,{height},Y,N,N,{mode}^FH^FD", g.dots(x), g.dots(y_mm));
    escape_into(data, zpl);
    zpl.extend_from_slice(b"^FS\n");
}

/// `out` as a `fmt::Write` target (it holds ASCII only).
fn zpl_str(out: &mut Vec<u8>) -> impl std::fmt::Write + '_ {
    struct W<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    W(out)
}

/// Modules of a Code 128 symbol (auto mode) holding `data`, on the safe side: start, data,
/// check and stop, with digit runs in code set C and one switch per run.
pub fn code128_modules(data: &str) -> usize {
    let b = data.as_bytes();
    let mut symbols = 0;
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 4 {
            symbols += run / 2 + 1;
            i += run - run % 2;
        } else {
            symbols += 1;
            i += 1;
        }
    }
    11 * (symbols + 2) + 13
}

/// Whether the printer's built-in font (`^A0` with `^CI28`) has `c`: Latin, Greek, Cyrillic
/// and common punctuation.
pub fn in_builtin_font(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0x24F | 0x370..=0x3FF | 0x400..=0x4FF | 0x2010..=0x2027 | 0x20AC)
}

/// East Asian wide characters take about a full em; everything else is estimated by shape.
fn width_em(c: char) -> f64 {
    match c {
        ' ' => 0.3,
        'M' | 'W' | 'm' | 'w' | '@' => 0.85,
        c if is_wide(c) => 1.0,
        _ => 0.56,
    }
}

pub fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Breaks `text` into at most `lines` lines of at most `width` (in ems), at spaces where it
/// can (a word longer than a line is split); cut with [`CUT`] when it does not fit.
pub fn fit(text: &str, width: f64, lines: usize, em: impl Fn(char) -> f64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    let mut truncated = false;
    'words: for word in text.split_whitespace() {
        let w: f64 = word.chars().map(&em).sum();
        let space = if line.is_empty() { 0.0 } else { em(' ') };
        if used + space + w <= width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            used += space + w;
            continue;
        }
        if !line.is_empty() {
            out.push(std::mem::take(&mut line));
            used = 0.0;
            if out.len() == lines {
                truncated = true;
                break;
            }
        }
        for c in word.chars() {
            if used + em(c) > width {
                out.push(std::mem::take(&mut line));
                used = 0.0;
                if out.len() == lines {
                    truncated = true;
                    break 'words;
                }
            }
            line.push(c);
            used += em(c);
        }
    }
    if !line.is_empty() && !truncated {
        out.push(line);
    }
    if truncated {
        let last = out.last_mut().expect("a truncated text has a line");
        let cut: f64 = CUT.chars().map(&em).sum();
        let mut used: f64 = last.chars().map(&em).sum();
        while used + cut > width {
            match last.pop() {
                Some(c) => used -= em(c),
                None => break,
            }
        }
        // A clean cut: at the last word, unless that would drop most of the line.
        if let Some(space) = last.rfind(' ').filter(|&i| i > 0) {
            let kept: f64 = last[..space].chars().map(&em).sum();
            if kept >= width / 2.0 {
                last.truncate(space);
            }
        }
        let trimmed = last.trim_end().len();
        last.truncate(trimmed);
        last.push_str(CUT);
    }
    out
}

/// Writes one text field as a `^FB` block; returns whether some characters had no font.
fn text_field(
    zpl: &mut Vec<u8>,
    g: &Geometry,
    spec: &LabelSpec,
    value: &str,
    (x, y, width_mm): (f64, f64, f64),
    height_mm: f64,
    lines: usize,
) -> bool {
    let clean: String = value.chars().filter(|c| !c.is_control()).collect();
    if clean.trim().is_empty() {
        return false;
    }
    let foreign = clean.chars().any(|c| !in_builtin_font(c));
    let (font, missing, text) = match (&spec.font, foreign) {
        (Some(f), true) => (format!("^A@N,{h},{h},{f}", h = g.dots(height_mm)), false, clean),
        (_, foreign) => {
            let text = clean.chars().map(|c| if in_builtin_font(c) { c } else { '?' }).collect();
            (format!("^A0N,{h},{h}", h = g.dots(height_mm)), foreign, text)
        }
    };
    let broken = fit(&text, width_mm / height_mm, lines, width_em);
    let _ = write!(
        zpl_str(zpl),
        "^FO{},{}{font}^FB{},{lines},{},L,0^FH^FD",
        g.dots(x),
        g.dots(y),
        g.dots(width_mm),
        g.dots(height_mm * 0.2)
    );
    for (i, l) in broken.iter().enumerate() {
        if i > 0 {
            zpl.extend_from_slice(b"\\&");
        }
        escape_into(l, zpl);
    }
    zpl.extend_from_slice(b"^FS\n");
    missing
}

#[cfg(test)]
mod tests;
