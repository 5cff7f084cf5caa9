//! The printers of the config, as the print queues need them: how to reach each one
//! ([`PrinterSpec`]), what it is for, and its rendering settings (template, resolution and
//! font of a label printer, code page and width of a slip printer). Files named in the
//! config (templates) are read and checked here, once, at start-up.

use std::sync::Arc;
use std::time::Duration;

use stationd_drivers::label::LabelSpec;
use stationd_drivers::printer::{PrinterLink, PrinterSpec};
use stationd_drivers::slip::SlipSpec;
use stationd_drivers::zpl::Template;

use crate::station::Document;

/// A printer as configured: how to reach it and what it is for.
#[derive(Debug, Clone)]
pub struct ConfiguredPrinter {
    pub spec: PrinterSpec,
    /// The document it is set up for (where a label or slip goes by default).
    pub document: Document,
    /// The printer's own label template, if configured (else the built-in label).
    pub template: Option<Arc<Template>>,
    /// Resolution and font of a label printer.
    pub label: LabelSpec,
    /// Code page and width of a slip printer.
    pub slip: SlipSpec,
}

/// Builds printer specs from the config; kinds this build cannot drive are refused here.
pub fn printers_from_config(config: &crate::config::Config) -> Result<Vec<ConfiguredPrinter>, String> {
    use crate::config::PrinterKind;
    let mut out = Vec::new();
    for p in &config.printers {
        let link = match &p.kind {
            PrinterKind::Tcp { address } => PrinterLink::Tcp { address: address.clone() },
            PrinterKind::File { path } => {
                // A character device (/dev/usb/lp0) is written as is; anything else is a folder.
                use std::os::unix::fs::FileTypeExt;
                let is_device = std::fs::metadata(path).map(|m| m.file_type().is_char_device()).unwrap_or(false);
                if is_device {
                    PrinterLink::Device { path: path.clone() }
                } else {
                    std::fs::create_dir_all(path)
                        .map_err(|e| format!("printer {:?}: cannot create {}: {e}", p.name, path.display()))?;
                    PrinterLink::Folder { path: path.clone() }
                }
            }
            PrinterKind::Serial { path, baud } => PrinterLink::Serial { path: path.clone(), baud: *baud },
            PrinterKind::Usb { device } => PrinterLink::Usb {
                target: stationd_drivers::usb_printer::UsbTarget::parse(device)
                    .ok_or_else(|| format!("printer {:?}: {device:?} is not vid:pid[:serial]", p.name))?,
            },
        };
        let language = p.language;
        let template = match &p.template {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("printer {:?}: {}: {e}", p.name, path.display()))?;
                let t = Template::parse(&text).map_err(|e| format!("printer {:?}: {}: {e}", p.name, path.display()))?;
                Some(Arc::new(t))
            }
            None => None,
        };
        out.push(ConfiguredPrinter {
            spec: PrinterSpec { name: p.name.clone(), link, language, status_timeout: Duration::from_secs(2) },
            document: p.document,
            template,
            label: LabelSpec { dpi: p.dpi, font: p.font.clone() },
            slip: SlipSpec { codepage: p.codepage, columns: p.columns },
        });
    }
    Ok(out)
}
