//! Command line: the clap definitions and the small commands that are not the daemon.
//!
//! Exit codes (also in the README):
//! 0 success · 1 invalid config or a failed check (`monitor`: gaps remain) · 2 usage error ·
//! 3 journal unavailable (locked, permissions, another station's) · 4 other runtime failure.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::journal::{self, Journal, JournalError, JournalOptions};

use crate::logging::LogFormat;
use crate::process::{EXIT_CONFIG, EXIT_JOURNAL, EXIT_OK, EXIT_RUNTIME};

pub const DEFAULT_CONFIG: &str = "/etc/stationd/stationd.toml";

#[derive(Debug, Parser)]
#[command(
    name = "stationd",
    version,
    about = "Warehouse station daemon: scanners, printers, pick/pack/ship, durable journal, MQTT uplink"
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 invalid config or failed check, 2 usage, 3 journal unavailable, 4 runtime failure."
)]
pub struct Cli {
    /// Log format on stderr: `human`, `json` for log shippers, `journald` for native journal
    /// entries (chosen automatically under systemd when left at `human`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `stationd=debug` (RUST_LOG overrides).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run the daemon. Feedback lines for the packer go to stdout, logs to stderr.
    Run {
        /// Config file.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a config file: exit 0 when valid, else 1 with every error as `file:line: key: problem`.
    CheckConfig {
        /// Config file to check.
        path: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect the event journal.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Cloud-side view: subscribe to stations' events, drop duplicates by id, report seq
    /// gaps, duplicates and lag; exit 0 when complete (no gaps), 1 when not.
    Monitor(MonitorArgs),
    /// Check this box: config, journal folder and disk, devices, broker, order system,
    /// systemd unit; each finding with its fix. Exit 0 only when nothing failed.
    Doctor {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List USB devices and serial ports (with their stable by-id names), marking the ones
    /// the config uses.
    Devices {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Send a test page straight to a configured printer (bypasses the job queue) and say
    /// what the printer answered. Exit 0 when printed, 4 when not.
    PrintTest {
        /// The printer's `name` in the config.
        #[arg(long)]
        printer: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the station's MQTT contract (AsyncAPI 3.0, YAML): every message and its JSON
    /// Schema, made from the wire types of this build (docs/asyncapi.yaml is its output).
    Contract,
    /// Print the version.
    Version {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Broker URL, mqtt:// or mqtts://.
    #[arg(long)]
    pub broker: url::Url,
    /// Topic filter of the events to watch.
    #[arg(long, default_value = "wh/+/st/+/events")]
    pub topic: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Ask a station for `resync` when a gap does not close within --grace.
    #[arg(long)]
    pub repair: bool,
    /// How long a gap may stay open before --repair asks for it.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub grace: std::time::Duration,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop as soon as every station seen has all seqs 1..=N.
    #[arg(long)]
    pub expect: Option<u64>,
    /// Print each new (deduplicated) event as a JSON line on stdout.
    #[arg(long)]
    pub print_events: bool,
    /// CA bundle for mqtts://.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS.
    #[arg(long, requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// Client key for mutual TLS.
    #[arg(long, requires = "cert_file")]
    pub key_file: Option<PathBuf>,
    #[arg(long)]
    pub username: Option<String>,
    /// File whose first line is the password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

pub fn monitor(a: MonitorArgs) -> i32 {
    let opts = crate::monitor::MonitorOptions {
        broker: a.broker,
        topic: a.topic,
        json: a.json,
        repair: a.repair,
        grace: a.grace,
        duration: a.duration,
        expect: a.expect,
        print_events: a.print_events,
        ca_file: a.ca_file,
        cert_file: a.cert_file,
        key_file: a.key_file,
        username: a.username,
        password_file: a.password_file,
    };
    let json = opts.json;
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stationd: cannot start the runtime: {e}");
            return EXIT_RUNTIME;
        }
    };
    match rt.block_on(crate::monitor::run(opts)) {
        Ok((summary, complete)) => {
            crate::monitor::print_summary(&summary, complete, json);
            if complete {
                EXIT_OK
            } else {
                EXIT_CONFIG
            }
        }
        Err(e) => {
            eprintln!("stationd: monitor: {e:#}");
            EXIT_RUNTIME
        }
    }
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Config file naming the journal.
    #[arg(long, short, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Pending events, next seq, oldest pending age, disk use. Works while the daemon runs.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// Write the stored events (pending and retained) as JSON lines to stdout.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// First seq to export.
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
    /// Export what is still readable from a quarantined journal database as JSON lines.
    Salvage {
        /// A folder under `<journal>/quarantine/` (or any sled journal database folder).
        path: PathBuf,
    },
}

/// An error with the exit code it should produce.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
}

impl From<JournalError> for Failure {
    fn from(e: JournalError) -> Self {
        let code = match e {
            JournalError::Locked { .. } | JournalError::Access { .. } | JournalError::WrongStation { .. } => {
                EXIT_JOURNAL
            }
            _ => EXIT_RUNTIME,
        };
        Failure::new(code, e.to_string())
    }
}

pub fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|errs| Failure::new(EXIT_CONFIG, errs.to_string()))
}

pub fn check_config(path: &Path, json: bool) -> i32 {
    let result = Config::load(path);
    if json {
        let v = match &result {
            Ok(_) => serde_json::json!({ "ok": true, "file": path.display().to_string(), "errors": [] }),
            Err(errs) => serde_json::json!({
                "ok": false,
                "file": path.display().to_string(),
                "errors": errs.0.iter().map(|e| serde_json::json!({
                    "line": e.line, "key": e.key, "message": e.message
                })).collect::<Vec<_>>(),
            }),
        };
        println!("{v}");
        return if result.is_ok() { EXIT_OK } else { EXIT_CONFIG };
    }
    match result {
        Ok(c) => {
            println!(
                "{}: ok (station {}, role {:?}, {} scanner(s), {} printer(s), mqtt {})",
                path.display(),
                c.station_identity(),
                c.station.role,
                c.scanners.len(),
                c.printers.len(),
                if c.mqtt.is_some() { "configured" } else { "off: events wait in the journal" },
            );
            EXIT_OK
        }
        Err(errs) => {
            eprintln!("{errs}");
            eprintln!("{}: {} error(s)", path.display(), errs.0.len());
            EXIT_CONFIG
        }
    }
}

/// Runs `f` on the journal: through the control socket while a daemon runs (it holds the
/// journal), else directly.
fn with_journal<T>(
    config: &Config,
    direct: impl FnOnce(&Journal) -> Result<T, Failure>,
    via_daemon: impl FnOnce(UnixStream) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let dir = &config.journal.path;
    match crate::control::connect(dir) {
        Ok(Some(stream)) => return via_daemon(stream),
        Ok(None) => {}
        Err(e) => {
            let socket = crate::control::socket_path(dir);
            let msg = format!(
                "cannot ask the running daemon through {}: {e}; run this as the service user \
                 (sudo -u stationd …) or add your user to its group (usermod -aG stationd $USER, then log in again)",
                socket.display()
            );
            return Err(Failure::new(EXIT_JOURNAL, msg));
        }
    }
    match Journal::open(JournalOptions::from_config(config)) {
        Ok((j, _)) => {
            let r = direct(&j);
            j.close();
            r
        }
        // A daemon that holds the journal but does not listen yet (starting) or any more.
        Err(JournalError::Locked { owner, .. }) => Err(Failure::new(
            EXIT_JOURNAL,
            format!(
                "a daemon (pid {owner}) holds the journal but does not answer on {}; if it is starting, try again in a moment",
                crate::control::socket_path(dir).display()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

pub fn queue_status(config_path: &Path, json: bool) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let status = with_journal(
        &config,
        |j| serde_json::to_value(j.status()?).map_err(|e| Failure::new(EXIT_RUNTIME, e.to_string())),
        |stream| {
            let mut buf = Vec::new();
            crate::control::request(stream, "status", &mut buf).map_err(daemon_silent)?;
            serde_json::from_slice(&buf)
                .map_err(|e| Failure::new(EXIT_RUNTIME, format!("bad status from the daemon: {e}")))
        },
    )?;
    print_status_value(&status, json);
    Ok(())
}

fn daemon_silent(e: std::io::Error) -> Failure {
    Failure::new(EXIT_JOURNAL, format!("the daemon holds the journal but its control socket did not answer: {e}"))
}

fn print_status_value(v: &serde_json::Value, json: bool) {
    if json {
        println!("{v}");
        return;
    }
    let num = |k: &str| v[k].as_u64().unwrap_or(0);
    let oldest = match (v["oldest_pending_at"].as_str(), v["oldest_pending_age_seconds"].as_f64()) {
        (Some(at), Some(age)) => format!(
            " (oldest {at}, {} ago)",
            humantime::format_duration(std::time::Duration::from_secs(age.max(0.0) as u64))
        ),
        _ => String::new(),
    };
    println!("station        {}", v["station"].as_str().unwrap_or("?"));
    println!("pending        {} event(s){oldest}", num("pending"));
    println!("next seq       {}", num("next_seq"));
    println!("acked below    {}", num("acked_below"));
    println!("retained from  {}", num("retained_from"));
    println!("stored         {} of {}", bytesize::ByteSize(num("stored_bytes")), bytesize::ByteSize(num("max_bytes")));
    println!("disk           {}", bytesize::ByteSize(num("disk_bytes")));
    if let Some(free) = v["disk_free"].as_u64() {
        let kept = bytesize::ByteSize(num("min_free"));
        let verdict = if free < num("min_free") { "  DISK FULL: new scans are refused" } else { "" };
        println!("disk free      {} ({kept} kept free){verdict}", bytesize::ByteSize(free));
    }
    let up = &v["uplink"];
    match up["state"].as_str() {
        Some(state) => {
            let err = up["last_error"].as_str().map(|e| format!("; last error: {e}")).unwrap_or_default();
            let broker = up["broker"].as_str().map(|b| format!(" {b}")).unwrap_or_default();
            let paced = if up["drain_paced"] == true { "; backlog paced (station in use)" } else { "" };
            println!("uplink         {state}{broker}{paced}{err}");
            if let Some(c) = up["commands"].as_object() {
                let code = c
                    .get("return_code")
                    .and_then(serde_json::Value::as_u64)
                    .map(|c| format!(" (SubAck 0x{c:02x})"))
                    .unwrap_or_default();
                let state = c.get("state").and_then(serde_json::Value::as_str).unwrap_or("?");
                let topic = c.get("topic").and_then(serde_json::Value::as_str).unwrap_or("?");
                let verdict = match state {
                    "refused" => {
                        "  NO COMMAND REACHES THIS STATION: grant the station's broker account subscribe on it"
                    }
                    "downgraded" => "  commands sent while offline are lost: allow QoS 1",
                    _ => "",
                };
                println!("commands       {topic} {state}{code}{verdict}");
            }
        }
        None => println!("uplink         (daemon not running)"),
    }
    let w = &v["workflow"];
    if w.is_object() {
        let operator =
            w["operator"]["badge"].as_str().map(|b| format!("{b} ({})", w["operator"]["role"].as_str().unwrap_or("?")));
        println!("operator       {}", operator.unwrap_or_else(|| "nobody logged in".into()));
        match w["order"].as_object() {
            Some(o) => {
                let lines = o["lines"].as_array().map(Vec::len).unwrap_or(0);
                println!(
                    "open order     {} ({}, {lines} line(s))",
                    o["id"].as_str().unwrap_or("?"),
                    o["state"].as_str().unwrap_or("?")
                );
            }
            None => println!("open order     none"),
        }
        println!("orders cached  {}", w["orders_cached"].as_u64().unwrap_or(0));
        if let Some(a) = w["alerts"].as_array().and_then(|a| a.first()) {
            println!(
                "last alert     {} {}: {}",
                a["at"].as_str().unwrap_or(""),
                a["code"].as_str().unwrap_or(""),
                a["message"].as_str().unwrap_or("")
            );
        }
    }
}

pub fn queue_export(config_path: &Path, from: u64) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let stdout = std::io::stdout();
    with_journal(
        &config,
        |j| {
            let mut out = stdout.lock();
            let mut next = from;
            loop {
                let page = j.read_from(next, crate::control::EXPORT_PAGE)?;
                let Some(last) = page.last().map(|r| r.seq) else { break };
                for r in &page {
                    out.write_all(&r.payload).and_then(|_| out.write_all(b"\n")).map_err(broken_pipe)?;
                }
                next = last + 1;
            }
            Ok(())
        },
        |stream| crate::control::request(stream, &format!("export {from}"), &mut stdout.lock()).map_err(daemon_silent),
    )
}

fn broken_pipe(e: std::io::Error) -> Failure {
    Failure::new(EXIT_RUNTIME, format!("writing the export: {e}"))
}

pub fn queue_salvage(path: &Path) -> Result<(), Failure> {
    let events = journal::recovery::salvage(path).map_err(|m| Failure::new(EXIT_RUNTIME, m))?;
    let mut out = std::io::stdout().lock();
    for e in &events {
        let line = serde_json::to_string(e).map_err(|e| Failure::new(EXIT_RUNTIME, e.to_string()))?;
        writeln!(out, "{line}").map_err(broken_pipe)?;
    }
    let range = match (events.first(), events.last()) {
        (Some(a), Some(b)) => format!(", seq {}..={}", a.seq, b.seq),
        _ => String::new(),
    };
    eprintln!("salvaged {} event(s) from {}{range}", events.len(), path.display());
    Ok(())
}

pub fn version(json: bool) {
    let v = env!("CARGO_PKG_VERSION");
    if json {
        println!("{}", serde_json::json!({ "name": "stationd", "version": v }));
    } else {
        println!("stationd {v}");
    }
}

pub fn print_test(config_path: &Path, printer: &str) -> Result<(), Failure> {
    use stationd_drivers::printer::SendOutcome;
    let config = load_config(config_path)?;
    let printers = crate::print::printers_from_config(&config).map_err(|m| Failure::new(EXIT_CONFIG, m))?;
    let Some(p) = printers.into_iter().find(|p| p.spec.name == printer) else {
        let names: Vec<&str> = config.printers.iter().map(|p| p.name.as_str()).collect();
        return Err(Failure::new(
            EXIT_CONFIG,
            format!("no printer named {printer:?} (configured: {})", names.join(", ")),
        ));
    };
    let rt = tokio::runtime::Runtime::new().map_err(|e| Failure::new(EXIT_RUNTIME, e.to_string()))?;
    let bytes = crate::documents::test_page(p.spec.language, &p.label, &config.station_identity());
    let (before, outcome) = rt.block_on(async {
        let before = stationd_drivers::printer::status(&p.spec).await;
        (before, stationd_drivers::printer::send(&p.spec, "print-test", &bytes).await)
    });
    println!("{printer}: status before: {before}");
    match outcome {
        SendOutcome::Confirmed => println!("{printer}: printed and confirmed"),
        SendOutcome::Sent { detail } => println!("{printer}: sent ({detail})"),
        SendOutcome::Written { detail } => println!("{printer}: {detail} (a folder: nothing confirms it)"),
        SendOutcome::NotSent { detail, .. } => {
            return Err(Failure::new(EXIT_RUNTIME, format!("{printer}: not printed: {detail}")))
        }
        SendOutcome::Failed { detail } => {
            return Err(Failure::new(EXIT_RUNTIME, format!("{printer}: failed: {detail}")))
        }
    }
    Ok(())
}

/// Which configured device (if any) uses a discovered USB device or serial port.
fn used_by(
    config: Option<&Config>,
    usb_id: Option<(&str, Option<&str>)>,
    port: Option<(&Path, &Path)>,
) -> Option<String> {
    use crate::config::{PrinterKind, ScannerKind};
    let config = config?;
    for p in &config.printers {
        match (&p.kind, usb_id, port) {
            (PrinterKind::Usb { device }, Some((id, serial)), _) => {
                let mut parts = device.splitn(3, ':');
                let want = format!("{}:{}", parts.next()?, parts.next()?).to_lowercase();
                let serial_ok = parts.next().is_none_or(|s| Some(s) == serial);
                if want == id && serial_ok {
                    return Some(format!("printer {}", p.name));
                }
            }
            (PrinterKind::Serial { path, .. }, _, Some((a, b))) if path == a || path == b => {
                return Some(format!("printer {}", p.name))
            }
            _ => {}
        }
    }
    for s in &config.scanners {
        if let (ScannerKind::Serial { path, .. } | ScannerKind::Hid { path }, Some((a, b))) = (&s.kind, port) {
            if path == a || path == b {
                return Some(format!("scanner {}", s.name));
            }
        }
    }
    None
}

pub fn devices(config_path: &Path, json: bool) -> Result<(), Failure> {
    use stationd_drivers::discovery::{serial_ports, usb_devices, UsbScan};
    // The config is optional here: without it nothing is marked.
    let config = if config_path.exists() { Some(load_config(config_path)?) } else { None };
    let usb = usb_devices();
    let ports = serial_ports();
    if json {
        let usb_json = match &usb {
            UsbScan::Available { devices } => serde_json::json!({
                "status": "available",
                "devices": devices.iter().map(|d| {
                    let mut v = serde_json::to_value(d).unwrap_or_default();
                    v["used_by"] = serde_json::json!(used_by(config.as_ref(), Some((&d.id, d.serial.as_deref())), None));
                    v
                }).collect::<Vec<_>>(),
            }),
            UsbScan::Unavailable { reason } => serde_json::json!({ "status": "unavailable", "reason": reason }),
        };
        let serial_json: Vec<_> = ports
            .iter()
            .map(|p| {
                serde_json::json!({ "path": p.path, "device": p.device,
                    "used_by": used_by(config.as_ref(), None, Some((&p.path, &p.device))) })
            })
            .collect();
        println!("{}", serde_json::json!({ "usb": usb_json, "serial": serial_json }));
        return Ok(());
    }
    match &usb {
        UsbScan::Available { devices } if devices.is_empty() => println!("USB: no devices"),
        UsbScan::Available { devices } => {
            println!("USB:");
            for d in devices {
                let name = [d.manufacturer.as_deref(), d.product.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let serial = d.serial.as_deref().map(|s| format!(" serial {s}")).unwrap_or_default();
                let used = used_by(config.as_ref(), Some((&d.id, d.serial.as_deref())), None)
                    .map(|u| format!("   <- {u}"))
                    .unwrap_or_default();
                println!("  {} {:<14} {name}{serial} (bus {} addr {}){used}", d.id, d.class, d.bus, d.address);
            }
        }
        UsbScan::Unavailable { reason } => println!("USB: unavailable: {reason}"),
    }
    if ports.is_empty() {
        println!("serial: no ports");
    } else {
        println!("serial:");
        for p in &ports {
            let used = used_by(config.as_ref(), None, Some((&p.path, &p.device)))
                .map(|u| format!("   <- {u}"))
                .unwrap_or_default();
            println!("  {} -> {}{used}", p.path.display(), p.device.display());
        }
    }
    Ok(())
}

pub fn doctor(config_path: &Path, json: bool) -> i32 {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => {
            let findings = rt.block_on(crate::doctor::run(config_path));
            crate::doctor::report(&findings, json)
        }
        Err(e) => {
            eprintln!("stationd: cannot start the runtime: {e}");
            EXIT_RUNTIME
        }
    }
}
