//! What an order's documents say, and their bytes for a given printer: the shipping label
//! (the built-in layout of `stationd_drivers::label`, or the printer's own template) and the
//! packing slip (`stationd_drivers::slip`), plus the test page. Pure: the order and the
//! printer's settings in, bytes or a refusal out; the print queue (`print.rs`) sends them.

use std::collections::HashMap;

use stationd_drivers::label::{LabelData, LabelSpec};
use stationd_drivers::printer::Language;
use stationd_drivers::slip::{Slip, SlipSpec};
use stationd_drivers::zpl::Template;

use crate::event::format_at;
use crate::station::payload::ShipTo;
use crate::station::StoredOrder;

/// A document's bytes, and the order fields it had to print without a font for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub missing_glyphs: Vec<&'static str>,
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The ship-to address of an order, empty fields where it has none.
fn ship_to(o: &StoredOrder) -> ShipTo {
    o.payload.ship_to.clone().unwrap_or(ShipTo {
        name: String::new(),
        street: None,
        city: None,
        postcode: None,
        country: None,
    })
}

/// What the built-in label of an order shows.
pub fn label_data(o: &StoredOrder) -> LabelData {
    let p = &o.payload;
    let st = ship_to(o);
    LabelData {
        order: o.id.clone(),
        carrier: text(&p.carrier),
        service: text(&p.service),
        name: st.name,
        street: text(&st.street),
        postcode: text(&st.postcode),
        city: text(&st.city),
        country: text(&st.country),
        tracking: text(&p.tracking),
        sscc: o.sscc().unwrap_or_default().to_string(),
    }
}

/// Template values of an order's shipping label (for a printer's own template).
pub fn label_values(o: &StoredOrder) -> HashMap<&'static str, String> {
    let d = label_data(o);
    HashMap::from([
        ("order.id", d.order),
        ("carrier", d.carrier),
        ("service", d.service),
        ("tracking", d.tracking),
        ("sscc", d.sscc),
        ("ship_to.name", d.name),
        ("ship_to.street", d.street),
        ("ship_to.city", d.city),
        ("ship_to.postcode", d.postcode),
        ("ship_to.country", d.country),
    ])
}

/// The shipping label of `o`: the printer's template when it has one (as the admin wrote it,
/// after the station's resets), else the built-in layout for its resolution and font. `Err`
/// is why no valid label can be made.
pub fn label(template: Option<&Template>, spec: &LabelSpec, o: &StoredOrder) -> Result<Document, String> {
    match template {
        Some(t) => Ok(Document {
            bytes: stationd_drivers::zpl_state::with_resets(&t.render(&label_values(o)), spec.dpi),
            missing_glyphs: Vec::new(),
        }),
        None => stationd_drivers::label::render(spec, &label_data(o))
            .map(|l| Document { bytes: l.zpl, missing_glyphs: l.missing_glyphs })
            .map_err(|e| e.to_string()),
    }
}

/// The packing slip of an order.
pub fn slip_for(o: &StoredOrder, station: &str) -> Slip {
    let st = ship_to(o);
    let ship_to: Vec<String> = [
        st.name.clone(),
        text(&st.street),
        format!("{} {}", text(&st.postcode), text(&st.city)).trim().to_string(),
        text(&st.country),
    ]
    .into_iter()
    .filter(|l| !l.is_empty())
    .collect();
    let lines = o.payload.lines.iter().map(|l| (l.qty, l.sku.clone(), text(&l.name))).collect();
    Slip {
        title: "Packing slip".into(),
        order: o.id.clone(),
        ship_to,
        lines,
        qr: o.id.clone(),
        footer: format!("Packed at {station}"),
    }
}

/// The packing slip's bytes for a printer of `spec`.
pub fn slip(spec: &SlipSpec, o: &StoredOrder, station: &str) -> Vec<u8> {
    stationd_drivers::slip::render(spec, &slip_for(o, station))
}

/// A test page: station and time, in the printer's language (a ZPL one for a printer of
/// `spec`, from the station's known state).
pub fn test_page(language: Language, spec: &LabelSpec, station: &str) -> Vec<u8> {
    let at = format_at(time::OffsetDateTime::now_utc());
    match language {
        Language::Zpl => {
            let mut out = format!(
                "^XA{}^FO40,40^A0N,48,48^FDstationd test label^FS^FO40,110^A0N,32,32^FH^FD",
                stationd_drivers::zpl_state::resets(spec.dpi)
            )
            .into_bytes();
            stationd_drivers::zpl::escape_into(&format!("{station} {at}"), &mut out);
            out.extend_from_slice(b"^FS^FO40,170^BY2^BCN,100,Y,N,N^FD1234567890^FS^XZ");
            out
        }
        Language::Escpos => {
            let text: String =
                format!("{station} {at}").chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
            let mut out = b"\x1b@stationd test page\n".to_vec();
            out.extend_from_slice(text.as_bytes());
            // Feed and cut (GS V 66 n).
            out.extend_from_slice(b"\n\n\n\x1dVB\x03");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::payload::{OrderLine, OrderPayload};
    use crate::station::OrderState;

    /// An order with every text field hostile (control characters, `^XZ`, `~JR`, ESC, GS,
    /// any unicode) or missing: more than validation lets in, so the renderers are shown to
    /// hold on their own.
    fn hostile_order() -> impl proptest::strategy::Strategy<Value = StoredOrder> {
        use proptest::prelude::*;
        let field = || proptest::option::weighted(0.8, stationd_testkit::hostile_text(80));
        let line = (stationd_testkit::hostile_text(40), field(), any::<u32>());
        ("\\PC{1,40}", proptest::collection::vec(field(), 9), proptest::collection::vec(line, 0..5)).prop_map(
            |(id, f, lines)| {
                let mut payload = OrderPayload::minimal(&id, "SKU");
                payload.lines = lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, (sku, name, qty))| OrderLine {
                        line: i as u32,
                        sku,
                        name,
                        qty,
                        barcodes: Vec::new(),
                        extra: Default::default(),
                    })
                    .collect();
                let [carrier, service, tracking, sscc, name, street, city, postcode, country]: [Option<String>; 9] =
                    f.try_into().expect("nine fields");
                (payload.carrier, payload.service, payload.tracking, payload.sscc) = (carrier, service, tracking, sscc);
                payload.ship_to = Some(ShipTo { name: name.unwrap_or_default(), street, city, postcode, country });
                StoredOrder::new(payload, OrderState::Packed, String::new())
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(600))]

        /// Whatever an order holds, its label is refused with a reason naming the order, or
        /// is one ASCII label whose commands come from the layout only; its packing slip has
        /// exactly the ESC/POS commands of a slip with harmless text.
        #[test]
        fn no_order_field_adds_a_command_to_its_label_or_packing_slip(o in hostile_order(), dpi in 0usize..3) {
            let spec = LabelSpec { dpi: [203, 300, 600][dpi], font: None };
            match label(None, &spec, &o) {
                Ok(l) => {
                    proptest::prop_assert!(l.bytes.is_ascii());
                    proptest::prop_assert_eq!(l.bytes.windows(3).filter(|w| *w == b"^XA").count(), 1);
                    proptest::prop_assert_eq!(l.bytes.windows(3).filter(|w| *w == b"^XZ").count(), 1);
                    proptest::prop_assert!(l.bytes.iter().all(|b| *b == b'\n' || !b.is_ascii_control()));
                }
                Err(reason) => proptest::prop_assert!(reason.contains(&o.id), "{}", reason),
            }

            let spec = SlipSpec::default();
            let slip = slip_for(&o, "WH1/PACK-07");
            let same_length = |s: &str| "a".repeat(stationd_drivers::slip::clean(s).chars().count());
            // The QR payload is UTF-8 and its length a parameter: as many bytes, not characters.
            let same_bytes = |s: &str| "a".repeat(stationd_drivers::slip::clean(s).len());
            let harmless = Slip {
                title: same_length(&slip.title),
                order: same_length(&slip.order),
                ship_to: slip.ship_to.iter().map(|l| same_length(l)).collect(),
                lines: slip.lines.iter().map(|(q, s, n)| (*q, same_length(s), same_length(n))).collect(),
                qr: same_bytes(&slip.qr),
                footer: same_length(&slip.footer),
            };
            let without_newlines = |b: Vec<u8>| b.into_iter().filter(|c| *c < 0x20 && *c != b'\n').collect::<Vec<u8>>();
            proptest::prop_assert_eq!(
                without_newlines(stationd_drivers::slip::render(&spec, &slip)),
                without_newlines(stationd_drivers::slip::render(&spec, &harmless))
            );
        }
    }
}
