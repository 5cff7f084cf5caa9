//! Packing slips for ESC/POS receipt printers, built with the `escpos` crate into bytes
//! (no I/O: the bytes go to whichever transport the printer has).
//!
//! Text from orders is cleaned first: control characters are dropped (an ESC or GS in a
//! product name could otherwise switch printer modes or cut the paper), and characters the
//! printer's code page cannot show become `?`.

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol};

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

/// Collects the bytes `escpos` would send.
#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Driver for Buffer {
    fn name(&self) -> String {
        "buffer".into()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// Printable ASCII only: control characters dropped, anything else `?`.
pub fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).map(|c| if c.is_ascii() { c } else { '?' }).collect()
}

/// Renders a slip to ESC/POS bytes (init, text, QR, feed and cut).
pub fn render(slip: &Slip) -> Result<Vec<u8>, String> {
    let buffer = Buffer::default();
    let mut p = Printer::new(buffer.clone(), Protocol::default(), None);
    let e = |e: escpos::errors::PrinterError| e.to_string();
    p.init().map_err(e)?;
    p.justify(JustifyMode::CENTER).map_err(e)?.bold(true).map_err(e)?;
    p.writeln(&clean(&slip.title)).map_err(e)?;
    p.writeln(&format!("Order {}", clean(&slip.order))).map_err(e)?;
    p.bold(false).map_err(e)?.justify(JustifyMode::LEFT).map_err(e)?;
    p.feed().map_err(e)?;
    for l in &slip.ship_to {
        p.writeln(&clean(l)).map_err(e)?;
    }
    p.feed().map_err(e)?;
    for (qty, sku, name) in &slip.lines {
        p.writeln(&format!("{qty:>3} x {:<16} {}", clean(sku), clean(name))).map_err(e)?;
    }
    p.feed().map_err(e)?;
    // Judged after cleaning: a field of control characters alone prints nothing (not an
    // empty QR code).
    let qr = clean(&slip.qr);
    if !qr.is_empty() {
        p.justify(JustifyMode::CENTER).map_err(e)?;
        p.qrcode(&qr).map_err(e)?;
    }
    let footer = clean(&slip.footer);
    if !footer.is_empty() {
        p.writeln(&footer).map_err(e)?;
    }
    p.feeds(3).map_err(e)?;
    p.print_cut().map_err(e)?;
    let bytes = buffer.0.borrow().clone();
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slip() -> Slip {
        Slip {
            title: "Packing slip".into(),
            order: "SO-1001".into(),
            ship_to: vec!["Example Customer".into(), "Hauptstr. 5".into(), "10115 Berlin".into()],
            lines: vec![(2, "SKU-1".into(), "Mug".into()), (1, "SKU-2".into(), "Tea\u{1b}i\u{1d}V".into())],
            qr: "SO-1001".into(),
            footer: "Thank you".into(),
        }
    }

    #[test]
    fn a_slip_has_init_lines_qr_and_a_cut() {
        let b = render(&slip()).unwrap();
        assert!(b.starts_with(b"\x1b@"), "starts with ESC @");
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("Order SO-1001") && text.contains("  2 x SKU-1"), "{text:?}");
        assert!(b.windows(3).any(|w| w == b"\x1d(k"), "QR code commands present");
        assert!(b.windows(2).any(|w| w == b"\x1dV"), "ends with a cut");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Cleaned text is printable ASCII only, one character per character kept, and
        /// cleaning it again changes nothing.
        #[test]
        fn cleaned_text_is_printable_ascii_and_stays_as_it_is(text in crate::hostile::hostile_text(200)) {
            let c = clean(&text);
            proptest::prop_assert!(c.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", c);
            proptest::prop_assert_eq!(c.len(), text.chars().filter(|ch| !ch.is_control()).count());
            proptest::prop_assert_eq!(clean(&c), c);
        }
    }

    #[test]
    fn control_characters_in_order_text_cannot_reach_the_printer() {
        assert_eq!(clean("Tea\u{1b}i\u{1d}V Müller"), "TeaiV M?ller");
        let b = render(&slip()).unwrap();
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("TeaiV"), "{text:?}");
    }
}
