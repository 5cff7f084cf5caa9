use std::path::Path;

use super::*;

const GOOD: &str = r#"
[station]
warehouse = "WH1"
id = "PACK-07"
role = "pack"

[journal]
path = "state"
"#;

fn parse(src: &str) -> Result<Config, ConfigErrors> {
    Config::parse(src, Path::new("/etc/stationd/stationd.toml"))
}

/// The errors of `src` as `line: key: message` (file name left out).
fn errors(src: &str) -> Vec<String> {
    match parse(src) {
        Ok(_) => panic!("config was accepted:\n{src}"),
        Err(e) => e.0.iter().map(|e| format!("{}: {}: {}", e.line, e.key, e.message)).collect(),
    }
}

fn one_error(src: &str) -> String {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn a_minimal_config_gets_the_documented_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.station_identity(), "WH1/PACK-07");
    assert_eq!(c.station.role, StationRole::Pack);
    assert_eq!(c.journal.path, Path::new("/etc/stationd/state"), "relative to the config's folder");
    assert_eq!(c.journal.max_bytes, 512 * 1024 * 1024);
    assert_eq!(c.journal.min_free, 64 * 1024 * 1024);
    assert_eq!(c.journal.retain_acked, Duration::from_secs(86_400));
    assert!(c.mqtt.is_none() && c.http.is_none() && c.scanners.is_empty());
    assert_eq!(c.orders.cache_hours, 24);
}

#[test]
fn errors_display_as_file_line_key_message() {
    let e = parse(&format!("{GOOD}colour = 1\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/stationd/stationd.toml:9: journal.colour: unknown key (known keys here: path, max_bytes, min_free, retain_acked)"
    );
}

#[test]
fn an_unknown_key_is_an_error_with_its_line() {
    let src = GOOD.replace("role = \"pack\"", "role = \"pack\"\nallow_unlisted_packer = true");
    assert_eq!(one_error(&src).split(": unknown").next().unwrap(), "6: station.allow_unlisted_packer");
}

#[test]
fn an_unknown_table_is_an_error() {
    assert!(one_error(&format!("{GOOD}[printers]\nname = \"x\"\n")).starts_with("9: printers: unknown key"));
}

#[test]
fn a_wrong_type_names_the_expected_type() {
    let src = format!("{GOOD}max_bytes = true\n");
    assert_eq!(one_error(&src), "9: journal.max_bytes: expected a size like \"512MiB\", found boolean");
    let src = GOOD.replace("role = \"pack\"", "role = \"pack\"\nallow_unlisted_packers = \"yes\"");
    assert_eq!(one_error(&src), "6: station.allow_unlisted_packers: expected true or false, found string");
}

#[test]
fn sizes_and_durations_are_parsed_with_units() {
    let c = parse(&format!("{GOOD}max_bytes = \"64MiB\"\nretain_acked = \"90m\"\n")).unwrap();
    assert_eq!(c.journal.max_bytes, 64 << 20);
    assert_eq!(c.journal.retain_acked, Duration::from_secs(5400));
    let e = one_error(&format!("{GOOD}retain_acked = \"a day\"\n"));
    assert!(e.starts_with("9: journal.retain_acked: \"a day\" is not a duration"), "{e}");
    let e = one_error(&format!("{GOOD}max_bytes = \"lots\"\n"));
    assert!(e.starts_with("9: journal.max_bytes: \"lots\" is not a size"), "{e}");
}

#[test]
fn an_empty_station_id_is_refused() {
    assert_eq!(one_error(&GOOD.replace("\"PACK-07\"", "\"  \"")), "4: station.id: must not be empty");
}

#[test]
fn ids_that_would_break_mqtt_topics_are_refused() {
    let e = one_error(&GOOD.replace("\"PACK-07\"", "\"PACK/#\""));
    assert!(e.starts_with("4: station.id: \"PACK/#\" may only hold"), "{e}");
}

#[test]
fn missing_required_sections_and_keys_are_reported() {
    let errs = errors("[station]\nwarehouse = \"WH1\"\n");
    assert!(errs.iter().any(|e| e.contains("station.id: missing required key")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("station.role: missing required key")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("journal: missing required [journal] table")), "{errs:?}");
}

#[test]
fn a_bad_url_is_refused() {
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"http://broker:1883\"\n"));
    assert!(e.starts_with("10: mqtt.url: \"http://broker:1883\": scheme must be mqtt:// or mqtts://"), "{e}");
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"not a url\"\n"));
    assert!(e.starts_with("10: mqtt.url: \"not a url\" is not a URL"), "{e}");
}

#[test]
fn plaintext_to_a_remote_broker_needs_allow_insecure() {
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtt://10.0.0.5:1883\"\n"));
    assert!(e.contains("plaintext mqtt:// to a non-loopback broker is refused"), "{e}");
    parse(&format!("{GOOD}[mqtt]\nurl = \"mqtt://10.0.0.5:1883\"\nallow_insecure = true\n")).unwrap();
    let c = parse(&format!("{GOOD}[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n")).unwrap();
    let m = c.mqtt.unwrap();
    assert_eq!(m.prefix, "wh/WH1/st/PACK-07");
    assert_eq!(m.client_id, "stationd-WH1-PACK-07");
}

#[test]
fn a_missing_secret_file_is_reported_with_its_resolved_path() {
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtts://b:8883\"\npassword_file = \"nope.pass\"\n"));
    assert!(e.starts_with("11: mqtt.password_file: cannot read /etc/stationd/nope.pass"), "{e}");
}

#[test]
fn duplicate_device_names_are_refused() {
    let src = format!(
        "{GOOD}[[scanner]]\nname = \"gun\"\nkind = \"stdin\"\n[[scanner]]\nname = \"gun\"\nkind = \"tcp\"\naddress = \"10.0.0.1:1\"\n\
         [[printer]]\nname = \"p\"\nkind = \"tcp\"\naddress = \"h:9100\"\n[[printer]]\nname = \"p\"\nkind = \"file\"\npath = \"x\"\n"
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("12: scanner.name: duplicate scanner name \"gun\""), "{errs:?}");
    assert!(errs[1].starts_with("20: printer.name: duplicate printer name \"p\""), "{errs:?}");
}

#[test]
fn device_kinds_need_their_own_keys() {
    let e = one_error(&format!("{GOOD}[[scanner]]\nname = \"gun\"\nkind = \"serial\"\n"));
    assert_eq!(e, "9: scanner[1].path: missing required key");
    let e = one_error(&format!("{GOOD}[[printer]]\nname = \"p\"\nkind = \"usb\"\ndevice = \"zebra\"\n"));
    assert!(e.starts_with("12: printer[1].device: \"zebra\" is not vid:pid[:serial]"), "{e}");
    let e = one_error(&format!("{GOOD}[[scanner]]\nname = \"gun\"\nkind = \"laser\"\n"));
    assert!(e.starts_with("11: scanner[1].kind: \"laser\" is not one of serial | hid | tcp | stdin"), "{e}");
    let e = one_error(&format!("{GOOD}[[scanner]]\nname = \"gun\"\nkind = \"tcp\"\naddress = \"nohost\"\n"));
    assert!(e.starts_with("12: scanner[1].address: \"nohost\" is not host:port"), "{e}");
}

#[test]
fn the_http_api_off_loopback_needs_a_token() {
    let e = one_error(&format!("{GOOD}[http]\nlisten = \"0.0.0.0:8080\"\n"));
    assert!(e.contains("is not loopback: set token_file"), "{e}");
}

#[test]
fn invalid_toml_reports_the_line() {
    let e = one_error(&format!("{GOOD}[[scanner]\nname = 1\n"));
    assert!(e.starts_with("9: -: invalid TOML"), "{e}");
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let src = r#"
[station]
warehouse = "WH1"
id = ""
role = "packing"
colour = "blue"

[journal]
path = "/var/lib/stationd"
max_bytes = -5
"#;
    let errs = errors(src);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with("4: station.id"));
    assert!(errs[1].starts_with("5: station.role"));
    assert!(errs[2].starts_with("6: station.colour"));
    assert!(errs[3].starts_with("10: journal.max_bytes: must not be negative"));
}

#[test]
fn the_shipped_example_and_demo_configs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["config/stationd.example.toml", "config/demo.toml"] {
        if let Err(e) = Config::load(&root.join(f)) {
            panic!("{f}:\n{e}");
        }
    }
}

#[test]
fn barcode_classes_default_and_bad_patterns_are_refused_with_their_line() {
    let c = parse(GOOD).unwrap();
    assert_eq!((c.barcodes.badge_prefix.as_str(), c.barcodes.command_prefix.as_str()), ("OP:", "CMD:"));
    let e = one_error(&format!("{GOOD}[barcodes]\ntracking_pattern = \"^(JJD\"\n"));
    assert!(e.starts_with("10: barcodes.tracking_pattern: \"^(JJD\" is not a valid regular expression"), "{e}");
    let e = one_error(&format!("{GOOD}[orders]\nid_pattern = \"[\"\n"));
    assert!(e.starts_with("10: orders.id_pattern:"), "{e}");
    let c = parse(&format!("{GOOD}[barcodes]\nbadge_prefix = \"B-\"\ntracking_pattern = \"^1Z\"\n")).unwrap();
    let r = c.class_rules();
    assert_eq!(r.classify("B-7", |_| false).unwrap().name(), "badge");
    assert_eq!(r.classify("1Z999", |_| false).unwrap().name(), "tracking");
}

#[test]
fn secrets_readable_by_others_are_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("mqtt.pass");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let src = format!("{GOOD}[mqtt]\nurl = \"mqtts://b:8883\"\npassword_file = \"{}\"\n", secret.display());
    let e = one_error(&src);
    assert!(e.starts_with("11: mqtt.password_file:") && e.contains("readable by others (mode 0644)"), "{e}");
    assert!(e.contains("chmod o-rwx"), "{e}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    parse(&src).unwrap();
}

#[test]
fn overdue_levels_default_per_state_and_bad_ones_are_refused_with_their_line() {
    let c = parse(GOOD).unwrap();
    let packing: Vec<_> = c.overdue.iter().filter(|r| r.state == crate::station::OrderState::Packing).collect();
    assert_eq!(
        packing.iter().map(|r| (r.after.as_secs(), r.level.as_str())).collect::<Vec<_>>(),
        [(900, "reminder"), (1800, "escalate")]
    );
    let c =
        parse(&format!("{GOOD}[[overdue]]\nstate = \"packed\"\nafter = \"5m\"\nlevel = \"call the lead\"\n")).unwrap();
    assert_eq!(c.overdue.len(), 1, "a configured list replaces the defaults");
    let e = one_error(&format!("{GOOD}[[overdue]]\nstate = \"shipped\"\nafter = \"5m\"\nlevel = \"x\"\n"));
    assert!(e.starts_with("10: overdue[1].state: \"shipped\" is not one of released | picking"), "{e}");
    let e = one_error(&format!("{GOOD}[[overdue]]\nstate = \"packing\"\nlevel = \"x\"\n"));
    assert!(e.contains("overdue[1].after: missing required key"), "{e}");
}

#[test]
fn a_preload_file_is_validated_order_by_order() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("orders.json");
    std::fs::write(&file, r#"[{"id":"A-1","lines":[{"line":1,"sku":"S","qty":1}]},{"id":"A-2","lines":[]}]"#).unwrap();
    let e = one_error(&format!("{GOOD}[orders]\npreload = \"{}\"\n", file.display()));
    assert!(
        e.starts_with("10: orders.preload:") && e.contains("order 2: invalid_field: order.lines must hold 1 to"),
        "{e}"
    );
    std::fs::write(&file, r#"{"id":"A-1"}"#).unwrap();
    assert!(one_error(&format!("{GOOD}[orders]\npreload = \"{}\"\n", file.display())).contains("expected a JSON array"));
    let e = one_error(&format!("{GOOD}[orders]\nfetch_labels = true\n"));
    assert!(e.contains("orders.fetch_labels: needs `url`"), "{e}");
}
