//! The layering of the crate: each module may use only the modules below it, so the map in
//! docs/ARCHITECTURE.md reads bottom-up and no change to a lower layer needs the ones above.
//! This test reads every source file and fails on a `crate::` path that points upward (or
//! at a module missing from the list), naming the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The modules of `src/`, lowest first. A module may use any module listed before it.
const LAYERS: &[&str] = &[
    // The process and the event envelope: used by everything, use nothing.
    "process",
    "logging",
    "event",
    // The catalogs of what the station says, and their rendering (pure).
    "locale",
    // The domain, pure: the station workflow and its types (orders, roles, payloads).
    "station",
    // The config file, read into the domain's types.
    "config",
    // What an order's documents say (pure).
    "documents",
    // Storage.
    "journal",
    "orders",
    // Devices: their states, scanner tasks, print jobs.
    "devices",
    "scanner",
    "print",
    // The order system over HTTP, the systemd link.
    "oms",
    "service",
    // The edge around the station.
    "workflow",
    // The uplink to the cloud, and what reads everything.
    "uplink",
    "http",
    "control",
    "monitor",
    "doctor",
    // The contract document, made from every layer's wire types.
    "contract",
    // Wiring and the command line.
    "daemon",
    "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/uplink/session.rs` → `uplink`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    Some(first.trim_end_matches(".rs").to_string())
}

/// Every module a line names through `crate::name` or `crate::{a, b::c}`.
fn used_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `other::crate::…` or a longer identifier ending in `crate` is not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(inner.split(',').map(|p| p.trim().split("::").next().unwrap_or("").to_string()));
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push(name);
        }
    }
    out.retain(|m| !m.is_empty() && m.chars().next().is_some_and(|c| c.is_lowercase()));
    out
}

#[test]
fn every_module_uses_only_the_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank: BTreeMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file).unwrap();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&own) = rank.get(module.as_str()) else {
            wrong.push(format!("{}: module `{module}` is not in LAYERS (tests/layers.rs): place it", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in used_modules(line) {
                if used == module {
                    continue;
                }
                match rank.get(used.as_str()) {
                    Some(&r) if r < own => {}
                    Some(_) => wrong.push(format!(
                        "{}:{}: `{module}` uses `{used}`, which is above it (allowed: {})",
                        file.display(),
                        n + 1,
                        LAYERS[..own].join(", ")
                    )),
                    None => {
                        wrong.push(format!("{}:{}: `crate::{used}` is not a module in LAYERS", file.display(), n + 1))
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "modules that lean on the ones above them:\n{}", wrong.join("\n"));
}

#[test]
fn every_module_of_the_crate_is_placed() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    for m in &declared {
        assert!(LAYERS.contains(m), "src/lib.rs declares `{m}`, which LAYERS in tests/layers.rs does not place");
    }
    for m in LAYERS {
        assert!(declared.contains(m), "LAYERS places `{m}`, which src/lib.rs does not declare");
    }
}

#[test]
fn a_use_line_is_read_as_the_modules_it_names() {
    assert_eq!(used_modules("use crate::journal::{Journal, JournalError};"), ["journal"]);
    assert_eq!(used_modules("use crate::{config, station::Input};"), ["config", "station"]);
    assert_eq!(used_modules("let x = crate::print::Job::new(); crate::event::format_at(t)"), ["print", "event"]);
    assert_eq!(used_modules("use stationd_drivers::crate::x; // not ours"), Vec::<String>::new());
    assert_eq!(used_modules("use crate::Config;"), Vec::<String>::new());
}
