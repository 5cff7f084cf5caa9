//! Which printer a document goes to and the bytes it gets: the order's label (carrier ZPL as
//! it came, or the printer's template / the built-in label), the packing slip, the test
//! page. Pure: the printers and the order are passed in; the bytes come out as a
//! [`PreparedJob`] for the queue.

use stationd_drivers::printer::Language;

use super::error::PrintError;
use super::printers::ConfiguredPrinter;
use crate::config::PrinterRole;
use crate::documents::test_page;
use crate::orders::StoredOrder;

/// A job ready to queue.
#[derive(Debug, Clone)]
pub struct PreparedJob {
    pub printer: String,
    pub document: String,
    pub order: Option<String>,
    pub bytes: Vec<u8>,
    /// Order fields printed without a font for some of their characters (`?` instead).
    pub missing_glyphs: Vec<&'static str>,
}

/// The printer for `document`: the one named, else the first with the document's role,
/// else the first printer.
fn route<'a>(
    printers: &'a [ConfiguredPrinter],
    printer: Option<&str>,
    document: &str,
) -> Result<&'a ConfiguredPrinter, PrintError> {
    let wanted = if document == "slip" { PrinterRole::Slip } else { PrinterRole::Label };
    let chosen = match printer {
        Some(name) => printers.iter().find(|p| p.spec.name == name),
        None => printers.iter().find(|p| p.role == wanted).or_else(|| printers.first()),
    };
    chosen.ok_or_else(|| match printer {
        Some(name) => PrintError::UnknownPrinter { name: name.to_string() },
        None => PrintError::NoPrinterFor { document: document.to_string() },
    })
}

/// Picks the printer and renders the bytes of `document` for it.
pub fn prepare(
    printers: &[ConfiguredPrinter],
    station: &str,
    printer: Option<&str>,
    document: &str,
    order: Option<&StoredOrder>,
) -> Result<PreparedJob, PrintError> {
    let p = route(printers, printer, document)?;
    let mut missing_glyphs = Vec::new();
    let bytes = match (document, p.spec.language) {
        ("test", lang) => test_page(lang, station),
        ("label", Language::Zpl) => {
            let Some(o) = order else {
                return Err(PrintError::MissingOrder { document: "label" });
            };
            match o.payload["label"]["data"].as_str() {
                // Carrier ZPL goes through as it came once it is known to only draw (it
                // was checked on the way in; checked again for orders stored before).
                Some(data) if o.payload["label"]["format"] == "zpl" => {
                    stationd_drivers::carrier_zpl::check(data.as_bytes())
                        .map_err(|e| PrintError::CarrierLabel { order: o.id.clone(), reason: e.to_string() })?;
                    data.as_bytes().to_vec()
                }
                _ => {
                    let label = crate::documents::label(p.template.as_deref(), &p.label, o)
                        .map_err(|reason| PrintError::Render { reason })?;
                    missing_glyphs = label.missing_glyphs;
                    label.bytes
                }
            }
        }
        ("label", Language::Escpos) => {
            return Err(PrintError::WrongLanguage {
                printer: p.spec.name.clone(),
                speaks: "ESC/POS",
                needs: "labels need a ZPL printer",
            });
        }
        ("slip", Language::Escpos) => {
            let Some(o) = order else {
                return Err(PrintError::MissingOrder { document: "packing slip" });
            };
            crate::documents::slip(&p.slip, o, station)
        }
        ("slip", Language::Zpl) => {
            return Err(PrintError::WrongLanguage {
                printer: p.spec.name.clone(),
                speaks: "ZPL",
                needs: "packing slips need an ESC/POS printer",
            });
        }
        (other, _) => return Err(PrintError::UnknownDocument { document: other.to_string() }),
    };
    Ok(PreparedJob {
        printer: p.spec.name.clone(),
        document: document.to_string(),
        order: order.map(|o| o.id.clone()),
        bytes,
        missing_glyphs,
    })
}
