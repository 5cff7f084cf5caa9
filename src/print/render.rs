//! Which printer a document goes to and the bytes it gets: the order's label (carrier ZPL as
//! it came after the station's resets, or the printer's template / the built-in label), the
//! packing slip, the test page. Pure: the printers and the order are passed in; the bytes come out as a
//! [`PreparedJob`] for the queue.

use stationd_drivers::printer::Language;

use super::error::PrintError;
use super::job::Printout;
use super::printers::ConfiguredPrinter;
use crate::documents::test_page;
use crate::orders::StoredOrder;
use crate::station::Document;

/// A job ready to queue.
#[derive(Debug, Clone)]
pub struct PreparedJob {
    pub printer: String,
    pub document: Printout,
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
    document: Printout,
) -> Result<&'a ConfiguredPrinter, PrintError> {
    // The test page goes where labels go.
    let wanted = match document {
        Printout::Order(d) => d,
        Printout::TestPage => Document::Label,
    };
    let chosen = match printer {
        Some(name) => printers.iter().find(|p| p.spec.name == name),
        None => printers.iter().find(|p| p.document == wanted).or_else(|| printers.first()),
    };
    chosen.ok_or_else(|| match printer {
        Some(name) => PrintError::UnknownPrinter { name: name.to_string() },
        None => PrintError::NoPrinterFor { document: document.as_str().to_string() },
    })
}

/// A carrier's label (checked to only draw) as `printer` gets it: after the station's resets,
/// so it prints from the station's known state whatever printed before it.
pub fn carrier_label(printer: &ConfiguredPrinter, zpl: &[u8]) -> Vec<u8> {
    stationd_drivers::zpl_state::with_resets(zpl, printer.label.dpi)
}

/// Picks the printer and renders the bytes of `document` for it.
pub fn prepare(
    printers: &[ConfiguredPrinter],
    station: &str,
    printer: Option<&str>,
    document: Printout,
    order: Option<&StoredOrder>,
) -> Result<PreparedJob, PrintError> {
    let p = route(printers, printer, document)?;
    let mut missing_glyphs = Vec::new();
    let bytes = match (document, p.spec.language) {
        (Printout::TestPage, lang) => test_page(lang, &p.label, station),
        (Printout::Order(Document::Label), Language::Zpl) => {
            let Some(o) = order else {
                return Err(PrintError::MissingOrder { document: "label" });
            };
            match o.payload.label.as_ref().filter(|l| l.format == "zpl").map(|l| l.data.as_str()) {
                // Carrier ZPL goes through as it came once it is known to only draw (it
                // was checked on the way in; checked again for orders stored before).
                Some(data) => {
                    stationd_drivers::carrier_zpl::check(data.as_bytes())
                        .map_err(|e| PrintError::CarrierLabel { order: o.id.clone(), reason: e.to_string() })?;
                    carrier_label(p, data.as_bytes())
                }
                _ => {
                    let label = crate::documents::label(p.template.as_deref(), &p.label, o)
                        .map_err(|reason| PrintError::Render { reason })?;
                    missing_glyphs = label.missing_glyphs;
                    label.bytes
                }
            }
        }
        (Printout::Order(Document::Label), Language::Escpos) => {
            return Err(PrintError::WrongLanguage {
                printer: p.spec.name.clone(),
                speaks: "ESC/POS",
                needs: "labels need a ZPL printer",
            });
        }
        (Printout::Order(Document::Slip), Language::Escpos) => {
            let Some(o) = order else {
                return Err(PrintError::MissingOrder { document: "packing slip" });
            };
            crate::documents::slip(&p.slip, o, station)
        }
        (Printout::Order(Document::Slip), Language::Zpl) => {
            return Err(PrintError::WrongLanguage {
                printer: p.spec.name.clone(),
                speaks: "ZPL",
                needs: "packing slips need an ESC/POS printer",
            });
        }
    };
    Ok(PreparedJob {
        printer: p.spec.name.clone(),
        document,
        order: order.map(|o| o.id.clone()),
        bytes,
        missing_glyphs,
    })
}
