//! Station configuration: the TOML file, validated once at load into typed structs.
//!
//! Design constraints:
//! - every error carries `file:line: key: what is wrong`, and all errors of a file are
//!   reported together (see [`reader`]);
//! - unknown keys are errors, so a typo never silently disables a device;
//! - defaults live here and nowhere else; relative paths resolve against the config's folder;
//! - nothing after load looks keys up by string.

mod reader;
mod sections;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reader::{Ctx, Section};
use stationd_drivers::printer::Language;

pub use crate::station::{
    default_overdue, Document, Operator, OperatorRole, OrderPayload, OrderState, OverdueRule, StationRole,
};

/// Default bound on the journal's stored event bytes.
pub const DEFAULT_JOURNAL_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// Free space kept on the journal's filesystem: room for sled's segment writes, the order
/// and print-job stores and the acks that let events drain.
pub const DEFAULT_JOURNAL_MIN_FREE: u64 = 64 * 1024 * 1024;
/// Default time published events stay readable for `resync`.
pub const DEFAULT_RETAIN_ACKED: Duration = Duration::from_secs(24 * 3600);
/// Default longest accepted barcode, in bytes.
pub const DEFAULT_SCAN_MAX_LEN: usize = 512;

/// One precise problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a line (e.g. the file cannot be read).
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file.display(), self.line, self.key, self.message)
    }
}

/// Every problem found in a config file, in file order.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct StationConfig {
    pub warehouse: String,
    pub id: String,
    pub role: StationRole,
    pub allow_unlisted_packers: bool,
    /// The language the station speaks when no operator with their own is logged in.
    pub locale: crate::locale::Locale,
}

#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Folder holding the sled database, the seq reservation file and the lock.
    pub path: PathBuf,
    pub max_bytes: u64,
    /// Free space kept on the journal's filesystem; below it new scans are refused.
    pub min_free: u64,
    pub retain_acked: Duration,
}

#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// The brokers, in the order they are tried (`url` or `urls`; never empty). The uplink
    /// connects to the first that answers and fails over in order (docs/MQTT.md).
    pub urls: Vec<url::Url>,
    pub client_id: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Topic prefix with `{warehouse}` and `{station}` already substituted.
    pub prefix: String,
    pub allow_insecure: bool,
    pub keep_alive: Duration,
    pub inflight: u16,
    /// Events per second the backlog drains at while the station is in use (a scanner input
    /// in the last 2 s); `None`: no limit.
    pub drain_rate_in_use: Option<u32>,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerKind {
    Serial { path: PathBuf, baud: u32, parity: Parity },
    Hid { path: PathBuf },
    Tcp { address: String, listen: bool },
    Stdin { shutdown_on_eof: bool },
}

pub use stationd_drivers::scanner::Parity;

#[derive(Debug, Clone)]
pub struct ScannerConfig {
    pub name: String,
    pub kind: ScannerKind,
    /// Accepted frame terminators as bytes (CR, LF, CRLF, TAB).
    pub suffix: Vec<u8>,
    pub max_len: usize,
    /// End a scan after this long without bytes (scanners without a suffix).
    pub inter_key_timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterKind {
    Usb { device: String },
    Serial { path: PathBuf, baud: u32 },
    Tcp { address: String },
    File { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct PrinterConfig {
    pub name: String,
    pub kind: PrinterKind,
    pub language: Language,
    /// The document it prints.
    pub document: Document,
    /// A ZPL label template replacing the built-in one (checked at load).
    pub template: Option<PathBuf>,
    /// Print resolution (ZPL printers): 203, 300 or 600 dpi; label geometry follows it.
    pub dpi: u32,
    /// A resident Unicode font (ZPL printers, `E:ANMDJ.TTF`) for text the built-in font lacks.
    pub font: Option<String>,
    /// Character set of an ESC/POS printer's slips.
    pub codepage: stationd_drivers::slip::CodePage,
    /// Characters per slip line (ESC/POS): 48, 42 or 32.
    pub columns: usize,
}

/// Default print resolution of a label printer.
pub const DEFAULT_DPI: u32 = 203;
/// Default characters per line of a slip printer (80 mm paper, font A).
pub const DEFAULT_COLUMNS: usize = 48;

/// `[labels]`: what the station's own labels carry.
#[derive(Debug, Clone, Default)]
pub struct LabelsConfig {
    /// Company prefix and extension digit of the SSCCs this station makes for orders that
    /// come without one; `None`: the station makes none.
    pub sscc: Option<stationd_drivers::sscc::SsccPrefix>,
}

#[derive(Debug, Clone)]
pub struct OrdersConfig {
    pub url: Option<url::Url>,
    pub token_file: Option<PathBuf>,
    pub cache_hours: u32,
    pub id_pattern: Option<String>,
    /// Fetch carrier labels from `{url}/orders/{id}/label` when an order carries none.
    pub fetch_labels: bool,
    /// Longest a carrier label fetch may take; per carrier, so one slow carrier delays only its own.
    pub label_timeout: Duration,
    /// Label fetches in flight per carrier.
    pub label_concurrency: u32,
    /// A JSON file of orders (an array of `order-upsert` order objects) cached at start when
    /// not known yet: for demos, training and stations without an order system.
    pub preload: Option<PathBuf>,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            url: None,
            token_file: None,
            cache_hours: 24,
            id_pattern: None,
            fetch_labels: false,
            label_timeout: Duration::from_secs(5),
            label_concurrency: 2,
            preload: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub token_file: Option<PathBuf>,
    /// Host names (besides the listen address, and `localhost` on loopback) that requests
    /// may name in `Host`; anything else is answered 421 (DNS rebinding).
    pub hosts: Vec<String>,
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Live streams (`/api/stream`) at once; one more is answered 503.
    pub max_streams: usize,
    /// Request headers must arrive within this; an idle keep-alive connection and one that
    /// sends nothing are closed after it.
    pub header_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed (a live stream
    /// whose client stopped reading).
    pub idle_timeout: Duration,
    /// Whether the screen plays a short sound for each verdict (ok, error, alert); a packer
    /// can still mute one screen.
    pub sounds: bool,
}

impl HttpConfig {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
    pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
    pub const DEFAULT_MAX_STREAMS: usize = 16;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
}

/// How scans are classified (docs/DESIGN.md, barcode classes).
#[derive(Debug, Clone)]
pub struct BarcodeConfig {
    pub badge_prefix: String,
    pub command_prefix: String,
    pub tote_prefix: String,
    pub location_prefix: String,
    /// Tracking numbers (ship stations), a regular expression.
    pub tracking_pattern: Option<String>,
}

impl Default for BarcodeConfig {
    fn default() -> Self {
        BarcodeConfig {
            badge_prefix: "OP:".into(),
            command_prefix: "CMD:".into(),
            tote_prefix: "TOTE:".into(),
            location_prefix: "LOC:".into(),
            tracking_pattern: None,
        }
    }
}

impl Config {
    /// The classification rules of this config (patterns were checked at load).
    pub fn class_rules(&self) -> stationd_drivers::barcode::ClassRules {
        let re = |p: &Option<String>| p.as_deref().and_then(|p| regex::Regex::new(p).ok());
        stationd_drivers::barcode::ClassRules {
            badge_prefix: self.barcodes.badge_prefix.clone(),
            command_prefix: self.barcodes.command_prefix.clone(),
            tote_prefix: self.barcodes.tote_prefix.clone(),
            location_prefix: self.barcodes.location_prefix.clone(),
            order: re(&self.orders.id_pattern),
            tracking: re(&self.barcodes.tracking_pattern),
        }
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub source: PathBuf,
    pub station: StationConfig,
    pub journal: JournalConfig,
    pub mqtt: Option<MqttConfig>,
    pub scanners: Vec<ScannerConfig>,
    pub printers: Vec<PrinterConfig>,
    pub orders: OrdersConfig,
    pub operators: Vec<Operator>,
    pub http: Option<HttpConfig>,
    pub barcodes: BarcodeConfig,
    pub labels: LabelsConfig,
    /// Overdue levels per order state (`[[overdue]]`), sorted by `after`.
    pub overdue: Vec<OverdueRule>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let src = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                key: "-".into(),
                message: format!("cannot read config file: {e}"),
            }])
        })?;
        Self::parse(&src, path)
    }

    /// Validates config text as if it were the file at `path` (used for relative paths and
    /// error messages).
    pub fn parse(src: &str, path: &Path) -> Result<Config, ConfigErrors> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let mut cx = Ctx { src, file: path, dir: &dir, errors: Vec::new() };
        let doc = match toml_edit::Document::parse(src) {
            Ok(doc) => doc,
            Err(e) => {
                let msg = e.message().trim().to_string();
                cx.error(e.span(), "-", format!("invalid TOML: {msg}"));
                return Err(ConfigErrors(cx.errors));
            }
        };
        let root_table = doc.as_table();
        let mut root = Section::new(root_table, "", None);
        let config = sections::read_config(&mut cx, &mut root, path);
        root.finish(&mut cx);
        match config {
            Some(c) if cx.errors.is_empty() => Ok(c),
            _ => {
                if cx.errors.is_empty() {
                    cx.error(None, "-", "config is incomplete");
                }
                cx.errors.sort_by_key(|e| e.line);
                Err(ConfigErrors(cx.errors))
            }
        }
    }

    /// `warehouse/station`, the identity the journal is bound to.
    /// What the station workflow is set up for.
    pub fn station_settings(&self) -> crate::station::Settings {
        crate::station::Settings {
            rules: self.class_rules(),
            role: self.station.role,
            operators: self.operators.clone(),
            allow_unlisted_packers: self.station.allow_unlisted_packers,
            lookup: self.orders.url.is_some(),
            label_printer: self.printers.iter().any(|p| p.document == Document::Label),
            slip_printer: self.printers.iter().any(|p| p.document == Document::Slip),
            overdue: self.overdue.clone(),
            cache_ms: i64::from(self.orders.cache_hours) * 3600 * 1000,
            sscc: self.labels.sscc.clone(),
            locale: self.station.locale,
        }
    }

    pub fn station_identity(&self) -> String {
        format!("{}/{}", self.station.warehouse, self.station.id)
    }
}

pub fn read_token(section: &str, path: Option<&Path>) -> Result<Option<String>, String> {
    let Some(path) = path else { return Ok(None) };
    let token = std::fs::read_to_string(path)
        .map_err(|e| format!("{section} token_file {}: {e}", path.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        return Err(format!("{section} token_file {} is empty", path.display()));
    }
    Ok(Some(token))
}

/// The orders of a preload file, each validated like `order-upsert`.
pub fn read_preload(path: &Path) -> Result<Vec<OrderPayload>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Array(orders) = v else {
        return Err("expected a JSON array of orders".into());
    };
    orders
        .iter()
        .enumerate()
        .map(|(i, o)| OrderPayload::parse(o).map_err(|e| format!("order {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests;
