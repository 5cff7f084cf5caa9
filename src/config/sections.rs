//! Each table of the config file read into its typed struct, collecting every error with
//! its line (see [`super::reader`]); `read_config` is the whole file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use stationd_drivers::printer::Language;

use super::reader::{array_of_tables, table, Ctx, Section};
use super::*;

pub(super) fn read_config(cx: &mut Ctx, root: &mut Section, path: &Path) -> Option<Config> {
    let station = match table(cx, root, "station") {
        Some(s) => read_station(cx, s),
        None => {
            cx.error(None, "station", "missing required [station] table (warehouse, id, role)");
            None
        }
    };
    let journal = match table(cx, root, "journal") {
        Some(s) => read_journal(cx, s),
        None => {
            cx.error(None, "journal", "missing required [journal] table (path)");
            None
        }
    };
    let mqtt = table(cx, root, "mqtt").map(|s| read_mqtt(cx, s, station.as_ref()));
    let scanners: Vec<_> = array_of_tables(cx, root, "scanner").into_iter().map(|s| read_scanner(cx, s)).collect();
    let printers: Vec<_> = array_of_tables(cx, root, "printer").into_iter().map(|s| read_printer(cx, s)).collect();
    let orders = table(cx, root, "orders").map(|s| read_orders(cx, s));
    let operators: Vec<_> = array_of_tables(cx, root, "operator").into_iter().map(|s| read_operator(cx, s)).collect();
    let http = table(cx, root, "http").map(|s| read_http(cx, s));
    let barcodes = table(cx, root, "barcodes").map(|s| read_barcodes(cx, s)).unwrap_or_default();
    let labels = table(cx, root, "labels").map(|s| read_labels(cx, s)).unwrap_or_default();
    let overdue: Vec<_> = array_of_tables(cx, root, "overdue").into_iter().map(|s| read_overdue(cx, s)).collect();
    let mut overdue = if overdue.is_empty() { Some(default_overdue()) } else { overdue.into_iter().collect() };
    if let Some(rules) = &mut overdue {
        rules.sort_by_key(|r| r.after);
    }

    check_unique(cx, root, "scanner", scanners.iter().flatten().map(|s| (s.0.name.as_str(), s.1.clone())));
    check_unique(cx, root, "printer", printers.iter().flatten().map(|p| (p.0.name.as_str(), p.1.clone())));
    check_unique(cx, root, "operator", operators.iter().flatten().map(|o| (o.0.badge.as_str(), o.1.clone())));

    Some(Config {
        source: path.to_path_buf(),
        station: station?,
        journal: journal?,
        mqtt: mqtt.flatten(),
        scanners: collect_all(scanners)?,
        printers: collect_all(printers)?,
        orders: orders.unwrap_or(Some(OrdersConfig::default()))?,
        operators: collect_all(operators)?,
        http: http.flatten(),
        barcodes,
        labels,
        overdue: overdue?,
    })
}

type Spanned<T> = (T, Option<std::ops::Range<usize>>);

fn collect_all<T>(items: Vec<Option<Spanned<T>>>) -> Option<Vec<T>> {
    items.into_iter().map(|i| i.map(|(t, _)| t)).collect()
}

fn check_unique<'a>(
    cx: &mut Ctx,
    root: &Section,
    what: &str,
    names: impl Iterator<Item = (&'a str, Option<std::ops::Range<usize>>)>,
) {
    let mut seen: Vec<&str> = Vec::new();
    for (name, span) in names {
        if seen.contains(&name) {
            let key = if what == "operator" { "badge" } else { "name" };
            let msg = format!("duplicate {what} {key} {name:?}; each {what} needs its own");
            cx.error(span.or_else(|| root.key_span(what)), format!("{what}.{key}"), msg);
        } else {
            seen.push(name);
        }
    }
}

/// Warehouse and station ids and device names are MQTT topic levels (`{prefix}/devices/{name}`)
/// and parts of file names. They may hold only letters, digits, `-` and `_` (at most 64), an
/// allowlist rather than a list of MQTT's `/`, `+` and `#`: the brokers fleets run map topics
/// onto their own syntax, where more is special (NATS subjects: `.` separates levels, `*` and
/// `>` are wildcards; RabbitMQ routing keys: `.` separates), and `-` and `_` are carried by all
/// of them (docs/BROKERS.md).
fn check_id(cx: &mut Ctx, s: &Section, key: &'static str, value: &str) -> bool {
    let msg = if let Some(c) = value.chars().find(|c| !is_level_char(*c)) {
        format!("{value:?} holds {c:?}{}; it may only hold letters, digits, '-' and '_'", why_not(c))
    } else if value.len() > 64 {
        format!("{value:?} is {} characters long; at most 64", value.len())
    } else {
        return true;
    };
    cx.error(s.key_span(key), s.key_name(key), msg);
    false
}

/// What a topic level may hold (see [`check_id`]).
fn is_level_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Why `c` has no place in a topic level, when there is more to say than "not allowed".
fn why_not(c: char) -> &'static str {
    match c {
        '.' => " (NATS and RabbitMQ take it as a topic level separator)",
        '/' => " (the MQTT topic level separator)",
        '+' | '#' => " (an MQTT wildcard)",
        '*' | '>' => " (a NATS wildcard)",
        c if c.is_control() => " (a control character)",
        ' ' => " (a space)",
        _ => "",
    }
}

/// `[mqtt] prefix`: levels as ids are (see [`check_id`]), plus the placeholders `{warehouse}`
/// and `{station}`; no empty level (a leading, trailing or doubled `/`).
fn check_prefix(cx: &mut Ctx, s: &Section, raw: &str) {
    for level in raw.split('/') {
        let rest = level.replace("{warehouse}", "").replace("{station}", "");
        let msg = if level.is_empty() {
            format!("{raw:?} has an empty topic level (a leading, trailing or doubled '/')")
        } else if let Some(c) = rest.chars().find(|c| !is_level_char(*c)) {
            format!(
                "{raw:?}: level {level:?} holds {c:?}{}; a level may only hold letters, digits, '-', '_', \
                 {{warehouse}} and {{station}}",
                why_not(c)
            )
        } else {
            continue;
        };
        cx.error(s.key_span("prefix"), s.key_name("prefix"), msg);
        return;
    }
}

fn read_station(cx: &mut Ctx, mut s: Section) -> Option<StationConfig> {
    let warehouse = s.required_string(cx, "warehouse").filter(|v| check_id(cx, &s, "warehouse", v));
    let id = s.required_string(cx, "id").filter(|v| check_id(cx, &s, "id", v));
    let role = match s.choice(cx, "role", &["pick", "pack", "ship", "multi"]) {
        Some("pick") => Some(StationRole::Pick),
        Some("ship") => Some(StationRole::Ship),
        Some("multi") => Some(StationRole::Multi),
        Some(_) => Some(StationRole::Pack),
        None if s.has("role") => None,
        None => {
            s.missing(cx, "role");
            None
        }
    };
    let allow_unlisted_packers = s.bool(cx, "allow_unlisted_packers").unwrap_or(false);
    // Absent: English; not a shipped language: an error (named by `locale`), no station.
    let locale = s.locale(cx, "locale");
    let locale = if s.has("locale") { locale } else { Some(crate::locale::Locale::default()) };
    s.finish(cx);
    Some(StationConfig { warehouse: warehouse?, id: id?, role: role?, allow_unlisted_packers, locale: locale? })
}

fn read_journal(cx: &mut Ctx, mut s: Section) -> Option<JournalConfig> {
    let path = required_path(cx, &mut s);
    let max_bytes = s.bytes(cx, "max_bytes").unwrap_or(DEFAULT_JOURNAL_MAX_BYTES);
    if max_bytes < 64 * 1024 {
        cx.error(s.key_span("max_bytes"), s.key_name("max_bytes"), "must be at least 64KiB");
    }
    let min_free = s.bytes(cx, "min_free").unwrap_or(DEFAULT_JOURNAL_MIN_FREE);
    if min_free < 1024 * 1024 {
        cx.error(
            s.key_span("min_free"),
            s.key_name("min_free"),
            "must be at least 1MiB (sled writes in segments of 512KiB)",
        );
    }
    let retain_acked = s.duration(cx, "retain_acked").unwrap_or(DEFAULT_RETAIN_ACKED);
    s.finish(cx);
    Some(JournalConfig { path: path?, max_bytes, min_free, retain_acked })
}

fn read_mqtt(cx: &mut Ctx, mut s: Section, station: Option<&StationConfig>) -> Option<MqttConfig> {
    let urls = read_broker_urls(cx, &mut s);
    let default_client_id = station.map(|st| format!("stationd-{}-{}", st.warehouse, st.id)).unwrap_or_default();
    let client_id = s.string(cx, "client_id").unwrap_or(default_client_id);
    let username = s.string(cx, "username");
    let password_file = s.secret_path(cx, "password_file");
    let ca_file = s.path(cx, "ca_file", true);
    let cert_file = s.path(cx, "cert_file", true);
    let key_file = s.secret_path(cx, "key_file");
    if cert_file.is_some() != key_file.is_some() {
        cx.error(s.span.clone(), s.key_name("cert_file"), "cert_file and key_file go together (mutual TLS)");
    }
    let prefix_raw = s.string(cx, "prefix").unwrap_or_else(|| "wh/{warehouse}/st/{station}".into());
    check_prefix(cx, &s, &prefix_raw);
    let prefix = station
        .map(|st| prefix_raw.replace("{warehouse}", &st.warehouse).replace("{station}", &st.id))
        .unwrap_or(prefix_raw);
    let allow_insecure = s.bool(cx, "allow_insecure").unwrap_or(false);
    for (key, u) in urls.iter().flatten() {
        let loopback = matches!(u.host_str(), Some("localhost") | Some("127.0.0.1") | Some("[::1]") | Some("::1"))
            || u.host_str().is_some_and(|h| h.starts_with("127."));
        if u.scheme() == "mqtt" && !loopback && !allow_insecure {
            let msg = format!(
                "{:?}: plaintext mqtt:// to a non-loopback broker is refused; use mqtts:// or set allow_insecure = true",
                u.as_str()
            );
            cx.error(s.key_span(key), s.key_name(key), msg);
        }
    }
    let keep_alive = s.duration(cx, "keep_alive").unwrap_or(Duration::from_secs(15));
    let inflight = s.integer(cx, "inflight", 1..65536).unwrap_or(100) as u16;
    let drain_rate_in_use = match s.integer(cx, "drain_rate_in_use", 0..100_000_001).unwrap_or(20_000) {
        0 => None,
        // Below this a packer's own events (several per scan) could queue behind a backlog
        // for as long as they scan.
        rate @ 1..100 => {
            let msg =
                format!("{rate} events/s is too slow to keep up with a packer; give at least 100, or 0 for no limit");
            cx.error(s.key_span("drain_rate_in_use"), s.key_name("drain_rate_in_use"), msg);
            None
        }
        rate => Some(rate as u32),
    };
    let reconnect_min = s.duration(cx, "reconnect_min").unwrap_or(Duration::from_secs(1));
    let reconnect_max = s.duration(cx, "reconnect_max").unwrap_or(Duration::from_secs(60));
    if reconnect_min > reconnect_max {
        cx.error(s.key_span("reconnect_min"), s.key_name("reconnect_min"), "must not exceed reconnect_max");
    }
    s.finish(cx);
    Some(MqttConfig {
        urls: urls?.into_iter().map(|(_, u)| u).collect(),
        client_id,
        username,
        password_file,
        ca_file,
        cert_file,
        key_file,
        prefix,
        allow_insecure,
        keep_alive,
        inflight,
        drain_rate_in_use,
        reconnect_min,
        reconnect_max,
    })
}

/// `url = "..."` or `urls = ["...", ...]` (exactly one of them), each `mqtt://` or
/// `mqtts://` with a host; returned with the key they came from, for later errors.
fn read_broker_urls(cx: &mut Ctx, s: &mut Section) -> Option<Vec<(&'static str, url::Url)>> {
    let (key, raw): (&'static str, Vec<String>) = match (s.has("url"), s.has("urls")) {
        (true, true) => {
            let _ = (s.string(cx, "url"), s.string_list(cx, "urls"));
            cx.error(s.key_span("urls"), s.key_name("urls"), "give either `url` or `urls`, not both");
            return None;
        }
        (_, true) => {
            let errors_before = cx.errors.len();
            let list = s.string_list(cx, "urls");
            if list.is_empty() && cx.errors.len() == errors_before {
                cx.error(s.key_span("urls"), s.key_name("urls"), "must list at least one broker URL");
            }
            if list.is_empty() {
                return None;
            }
            ("urls", list)
        }
        _ => ("url", vec![s.required_string(cx, "url")?]),
    };
    let mut urls = Vec::with_capacity(raw.len());
    for r in raw {
        match url::Url::parse(&r) {
            Ok(u) if (u.scheme() == "mqtt" || u.scheme() == "mqtts") && u.host_str().is_some() => urls.push((key, u)),
            Ok(u) => {
                let msg = format!("{r:?}: scheme must be mqtt:// or mqtts:// with a host (got {}://)", u.scheme());
                cx.error(s.key_span(key), s.key_name(key), msg);
            }
            Err(e) => cx.error(s.key_span(key), s.key_name(key), format!("{r:?} is not a URL: {e}")),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, u) in &urls {
        if !seen.insert(u.as_str()) {
            cx.error(s.key_span(key), s.key_name(key), format!("{:?} is listed twice", u.as_str()));
        }
    }
    (urls.len() == seen.len() && !urls.is_empty()).then_some(urls)
}

fn read_name(cx: &mut Ctx, s: &mut Section) -> Option<String> {
    s.required_string(cx, "name").filter(|v| check_id(cx, s, "name", v))
}

fn read_suffix(cx: &mut Ctx, s: &mut Section) -> Vec<u8> {
    let Some(raw) = s.string(cx, "suffix") else {
        return b"\r\n".to_vec();
    };
    match raw.as_str() {
        "\r" | "\n" | "\r\n" | "\t" => raw.into_bytes(),
        _ => {
            let msg = format!("{raw:?} is not a scanner suffix; use \"\\r\", \"\\n\", \"\\r\\n\" or \"\\t\"");
            cx.error(s.key_span("suffix"), s.key_name("suffix"), msg);
            Vec::new()
        }
    }
}

fn required_path(cx: &mut Ctx, s: &mut Section) -> Option<PathBuf> {
    let path = s.path(cx, "path", false);
    if path.is_none() && !s.has("path") {
        s.missing(cx, "path");
    }
    path
}

fn read_address(cx: &mut Ctx, s: &mut Section) -> Option<String> {
    let addr = s.required_string(cx, "address")?;
    let ok = addr.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !ok {
        let msg = format!("{addr:?} is not host:port");
        cx.error(s.key_span("address"), s.key_name("address"), msg);
        return None;
    }
    Some(addr)
}

fn read_scanner(cx: &mut Ctx, mut s: Section) -> Option<Spanned<ScannerConfig>> {
    let span = s.span.clone();
    let name = read_name(cx, &mut s);
    let kind = match s.choice(cx, "kind", &["serial", "hid", "tcp", "stdin"]) {
        Some("serial") => {
            let path = required_path(cx, &mut s);
            let baud = s.integer(cx, "baud", 50..4_000_001).unwrap_or(9600) as u32;
            let parity = match s.choice(cx, "parity", &["none", "even", "odd"]) {
                Some("even") => Parity::Even,
                Some("odd") => Parity::Odd,
                _ => Parity::None,
            };
            path.map(|path| ScannerKind::Serial { path, baud, parity })
        }
        Some("hid") => required_path(cx, &mut s).map(|path| ScannerKind::Hid { path }),
        Some("tcp") => {
            let listen = s.choice(cx, "mode", &["connect", "listen"]) == Some("listen");
            read_address(cx, &mut s).map(|address| ScannerKind::Tcp { address, listen })
        }
        Some(_) => {
            let on_eof = s.choice(cx, "on_eof", &["shutdown", "ignore"]).unwrap_or("shutdown");
            Some(ScannerKind::Stdin { shutdown_on_eof: on_eof == "shutdown" })
        }
        None => {
            if !s.has("kind") {
                s.missing(cx, "kind");
            }
            None
        }
    };
    let suffix = read_suffix(cx, &mut s);
    let max_len = s.integer(cx, "max_len", 1..65_536).map(|n| n as usize).unwrap_or(DEFAULT_SCAN_MAX_LEN);
    let inter_key_timeout = s.duration(cx, "inter_key_timeout").filter(|d| !d.is_zero());
    s.finish(cx);
    Some((ScannerConfig { name: name?, kind: kind?, suffix, max_len, inter_key_timeout }, span))
}

fn read_printer(cx: &mut Ctx, mut s: Section) -> Option<Spanned<PrinterConfig>> {
    let span = s.span.clone();
    let name = read_name(cx, &mut s);
    let kind = match s.choice(cx, "kind", &["usb", "serial", "tcp", "file"]) {
        Some("usb") => s.required_string(cx, "device").and_then(|device| {
            let parts: Vec<&str> = device.split(':').collect();
            let hex_ok = parts.len() >= 2
                && parts.len() <= 3
                && parts[..2].iter().all(|p| p.len() == 4 && u16::from_str_radix(p, 16).is_ok());
            if hex_ok {
                Some(PrinterKind::Usb { device })
            } else {
                let msg = format!("{device:?} is not vid:pid[:serial] in hex, e.g. \"0a5f:0164\"");
                cx.error(s.key_span("device"), s.key_name("device"), msg);
                None
            }
        }),
        Some("serial") => {
            let path = required_path(cx, &mut s);
            let baud = s.integer(cx, "baud", 50..4_000_001).unwrap_or(9600) as u32;
            path.map(|path| PrinterKind::Serial { path, baud })
        }
        Some("tcp") => read_address(cx, &mut s).map(|address| PrinterKind::Tcp { address }),
        Some(_) => required_path(cx, &mut s).map(|path| PrinterKind::File { path }),
        None => {
            if !s.has("kind") {
                s.missing(cx, "kind");
            }
            None
        }
    };
    let language = match s.choice(cx, "language", &["zpl", "escpos"]) {
        Some("escpos") => Language::Escpos,
        _ => Language::Zpl,
    };
    let role = match s.choice(cx, "role", &["label", "slip"]) {
        Some("slip") => Document::Slip,
        _ => Document::Label,
    };
    let template = s.path(cx, "template", true).filter(|path| {
        let checked = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| stationd_drivers::zpl::Template::parse(&t).map(|_| ()).map_err(|e| e.to_string()));
        match checked {
            Ok(()) => true,
            Err(e) => {
                cx.error(s.key_span("template"), s.key_name("template"), format!("{}: {e}", path.display()));
                false
            }
        }
    });
    let dpi = s.integer(cx, "dpi", 1..10_000).map_or(DEFAULT_DPI, |d| d as u32);
    if ![203, 300, 600].contains(&dpi) {
        cx.error(
            s.key_span("dpi"),
            s.key_name("dpi"),
            format!("{dpi} is not a label printer resolution; use 203, 300 or 600"),
        );
    }
    let font = s.string(cx, "font").filter(|f| {
        let ok = f.len() <= 24
            && f.split_once(':').is_some_and(|(drive, file)| {
                matches!(drive, "R" | "E" | "B" | "A" | "Z")
                    && file.rsplit_once('.').is_some_and(|(stem, ext)| {
                        !stem.is_empty()
                            && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                            && ["TTF", "TTE", "FNT"].contains(&ext.to_ascii_uppercase().as_str())
                    })
            });
        if !ok {
            let msg =
                format!("{f:?} is not a printer font; name a resident font as DRIVE:NAME.TTF, e.g. \"E:ANMDJ.TTF\"");
            cx.error(s.key_span("font"), s.key_name("font"), msg);
        }
        ok
    });
    let codepage = s
        .choice(cx, "codepage", &stationd_drivers::slip::CodePage::NAMES)
        .and_then(stationd_drivers::slip::CodePage::parse)
        .unwrap_or_default();
    let columns = s.integer(cx, "columns", 1..1000).map_or(DEFAULT_COLUMNS, |c| c as usize);
    if ![48, 42, 32].contains(&columns) {
        let msg = format!("{columns} is not a receipt paper width; use 48 (80 mm), 42 or 32 (58 mm)");
        cx.error(s.key_span("columns"), s.key_name("columns"), msg);
    }
    for (key, for_language, set) in [
        ("dpi", Language::Zpl, s.has("dpi")),
        ("font", Language::Zpl, s.has("font")),
        ("codepage", Language::Escpos, s.has("codepage")),
        ("columns", Language::Escpos, s.has("columns")),
    ] {
        if set && language != for_language {
            let wanted = if for_language == Language::Zpl { "zpl" } else { "escpos" };
            cx.error(
                s.key_span(key),
                s.key_name(key),
                format!("applies to language = \"{wanted}\" printers only; remove it"),
            );
        }
    }
    s.finish(cx);
    Some((
        PrinterConfig { name: name?, kind: kind?, language, document: role, template, dpi, font, codepage, columns },
        span,
    ))
}

fn read_orders(cx: &mut Ctx, mut s: Section) -> Option<OrdersConfig> {
    let url = s.string(cx, "url").and_then(|raw| match url::Url::parse(&raw) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(u),
        Ok(_) | Err(_) => {
            let msg = format!("{raw:?} is not an http:// or https:// URL");
            cx.error(s.key_span("url"), s.key_name("url"), msg);
            None
        }
    });
    let token_file = s.secret_path(cx, "token_file");
    let cache_hours = s.integer(cx, "cache_hours", 1..24 * 30).unwrap_or(24) as u32;
    let id_pattern = regex_key(cx, &mut s, "id_pattern");
    let d = OrdersConfig::default();
    let fetch_labels = s.bool(cx, "fetch_labels").unwrap_or(false);
    if fetch_labels && url.is_none() && !s.has("url") {
        cx.error(
            s.key_span("fetch_labels"),
            s.key_name("fetch_labels"),
            "needs `url` (the order system to fetch from)",
        );
    }
    let label_timeout = s.duration(cx, "label_timeout").unwrap_or(d.label_timeout);
    let label_concurrency = s.integer(cx, "label_concurrency", 1..65).map(|n| n as u32).unwrap_or(d.label_concurrency);
    let preload = s.path(cx, "preload", true);
    if let Some(p) = &preload {
        if let Err(e) = read_preload(p) {
            cx.error(s.key_span("preload"), s.key_name("preload"), format!("{}: {e}", p.display()));
        }
    }
    s.finish(cx);
    Some(OrdersConfig {
        url,
        token_file,
        cache_hours,
        id_pattern,
        fetch_labels,
        label_timeout,
        label_concurrency,
        preload,
    })
}

/// A bearer token from its file (`token_file` of `[orders]` or `[http]`): trimmed, and not
/// empty. `section` names the config section in errors.
fn read_overdue(cx: &mut Ctx, mut s: Section) -> Option<OverdueRule> {
    let names: Vec<&'static str> =
        OrderState::ALL.into_iter().filter(|st| !st.is_terminal()).map(|st| st.as_str()).collect();
    let state = s.choice(cx, "state", &names).and_then(OrderState::parse);
    if !s.has("state") {
        s.missing(cx, "state");
    }
    let after = s.duration(cx, "after");
    if !s.has("after") {
        s.missing(cx, "after");
    }
    let level = s.required_string(cx, "level");
    s.finish(cx);
    Some(OverdueRule { state: state?, after: after?, level: level? })
}

/// A regular expression, compiled once here so a bad one is a config error with its line.
fn regex_key(cx: &mut Ctx, s: &mut Section, key: &'static str) -> Option<String> {
    let pattern = s.string(cx, key)?;
    match regex::Regex::new(&pattern) {
        Ok(_) => Some(pattern),
        Err(e) => {
            let first = e.to_string().lines().last().unwrap_or_default().trim().to_string();
            cx.error(
                s.key_span(key),
                s.key_name(key),
                format!("{pattern:?} is not a valid regular expression: {first}"),
            );
            None
        }
    }
}

fn read_barcodes(cx: &mut Ctx, mut s: Section) -> BarcodeConfig {
    let d = BarcodeConfig::default();
    let badge_prefix = s.string(cx, "badge_prefix").unwrap_or(d.badge_prefix);
    let command_prefix = s.string(cx, "command_prefix").unwrap_or(d.command_prefix);
    let tote_prefix = s.string(cx, "tote_prefix").unwrap_or(d.tote_prefix);
    let location_prefix = s.string(cx, "location_prefix").unwrap_or(d.location_prefix);
    let tracking_pattern = regex_key(cx, &mut s, "tracking_pattern");
    s.finish(cx);
    BarcodeConfig { badge_prefix, command_prefix, tote_prefix, location_prefix, tracking_pattern }
}

fn read_labels(cx: &mut Ctx, mut s: Section) -> LabelsConfig {
    let prefix = s.string(cx, "gs1_company_prefix");
    let extension = s.integer(cx, "extension_digit", 0..10).unwrap_or(0) as u8;
    if s.has("extension_digit") && prefix.is_none() && !s.has("gs1_company_prefix") {
        let msg = "goes with gs1_company_prefix (the SSCCs the station makes); add it or remove this";
        cx.error(s.key_span("extension_digit"), s.key_name("extension_digit"), msg);
    }
    let sscc = prefix.and_then(|p| match stationd_drivers::sscc::SsccPrefix::new(&p, extension) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.error(s.key_span("gs1_company_prefix"), s.key_name("gs1_company_prefix"), e.to_string());
            None
        }
    });
    s.finish(cx);
    LabelsConfig { sscc }
}

fn read_operator(cx: &mut Ctx, mut s: Section) -> Option<Spanned<Operator>> {
    let span = s.key_span("badge");
    let badge = s.required_string(cx, "badge");
    let name = s.string(cx, "name").unwrap_or_default();
    let role = match s.choice(cx, "role", &["packer", "supervisor"]) {
        Some("supervisor") => OperatorRole::Supervisor,
        _ => OperatorRole::Packer,
    };
    // Absent: the station's language while they are logged in.
    let locale = s.locale(cx, "locale");
    let refused = s.has("locale") && locale.is_none();
    s.finish(cx);
    if refused {
        return None;
    }
    Some((Operator { badge: badge?, name, role, locale }, span))
}

fn read_http(cx: &mut Ctx, mut s: Section) -> Option<HttpConfig> {
    let listen = s.string(cx, "listen").unwrap_or_else(|| HttpConfig::DEFAULT_LISTEN.into());
    let listen: Option<SocketAddr> = match listen.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            let msg = format!("{listen:?} is not ip:port, e.g. \"127.0.0.1:8080\"");
            cx.error(s.key_span("listen"), s.key_name("listen"), msg);
            None
        }
    };
    let token_file = s.secret_path(cx, "token_file");
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && token_file.is_none() {
            let msg = format!("{addr} is not loopback: set token_file so the API is not open to the LAN");
            cx.error(s.key_span("listen"), s.key_name("listen"), msg);
        }
    }
    let hosts = s.string_list(cx, "hosts");
    for h in &hosts {
        let bad = h.is_empty() || h.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/' || c == '@');
        if bad {
            cx.error(
                s.key_span("hosts"),
                s.key_name("hosts"),
                format!("{h:?} is not a host name (write e.g. \"station-7.local\")"),
            );
        }
    }
    let count = |s: &mut Section, cx: &mut Ctx, key, default: usize| {
        s.integer(cx, key, 1..4097).map_or(default, |n| n as usize)
    };
    let max_connections = count(&mut s, cx, "max_connections", HttpConfig::DEFAULT_MAX_CONNECTIONS);
    let max_streams = count(&mut s, cx, "max_streams", HttpConfig::DEFAULT_MAX_STREAMS);
    let header_timeout = s.duration(cx, "header_timeout").unwrap_or(HttpConfig::DEFAULT_HEADER_TIMEOUT);
    let idle_timeout = s.duration(cx, "idle_timeout").unwrap_or(HttpConfig::DEFAULT_IDLE_TIMEOUT);
    for (key, d) in [("header_timeout", header_timeout), ("idle_timeout", idle_timeout)] {
        if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
            cx.error(s.key_span(key), s.key_name(key), format!("{d:?} is outside 100ms..=1h"));
        }
    }
    if max_streams > max_connections {
        let msg = format!("{max_streams} live streams cannot exceed max_connections ({max_connections})");
        cx.error(s.key_span("max_streams"), s.key_name("max_streams"), msg);
    }
    let sounds = s.bool(cx, "sounds").unwrap_or(true);
    s.finish(cx);
    Some(HttpConfig {
        listen: listen?,
        token_file,
        hosts,
        max_connections,
        max_streams,
        header_timeout,
        idle_timeout,
        sounds,
    })
}
