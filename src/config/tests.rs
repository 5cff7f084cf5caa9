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
fn ids_that_would_break_mqtt_topics_are_refused_naming_the_character() {
    let e = one_error(&GOOD.replace("\"PACK-07\"", "\"PACK/#\""));
    assert_eq!(
        e,
        "4: station.id: \"PACK/#\" holds '/' (the MQTT topic level separator); it may only hold letters, digits, '-' and '_'"
    );
    let e = one_error(&GOOD.replace("\"WH1\"", "\"WH.1\""));
    assert_eq!(
        e,
        "3: station.warehouse: \"WH.1\" holds '.' (NATS and RabbitMQ take it as a topic level separator); it may only \
         hold letters, digits, '-' and '_'"
    );
    for (id, named) in [
        ("PACK+", "'+' (an MQTT wildcard)"),
        ("PACK#1", "'#' (an MQTT wildcard)"),
        ("PACK*", "'*' (a NATS wildcard)"),
        ("P>", "'>' (a NATS wildcard)"),
        ("PACK\\u0000", "'\\0' (a control character)"),
        ("PACK\\t7", "'\\t' (a control character)"),
        ("PACK\\u001b", "'\\u{1b}' (a control character)"),
        ("PACK 7", "' ' (a space)"),
        ("PACKÉ", "'É';"),
    ] {
        let e = one_error(&GOOD.replace("\"PACK-07\"", &format!("\"{id}\"")));
        assert!(e.starts_with("4: station.id: ") && e.contains(&format!(" holds {named}")), "{id}: {e}");
        assert!(!e.contains(char::is_control), "{e:?}");
    }
    let long = "P".repeat(65);
    let e = one_error(&GOOD.replace("\"PACK-07\"", &format!("\"{long}\"")));
    assert_eq!(e, format!("4: station.id: \"{long}\" is 65 characters long; at most 64"));
    parse(&GOOD.replace("\"PACK-07\"", &format!("\"{}\"", "p_Q-9".repeat(12)))).unwrap();
}

#[test]
fn device_names_are_topic_levels_and_follow_the_id_rule() {
    let e = one_error(&format!("{GOOD}[[scanner]]\nname = \"gun.1\"\nkind = \"stdin\"\n"));
    assert!(e.starts_with("10: scanner[1].name: \"gun.1\" holds '.' (NATS and RabbitMQ"), "{e}");
    let e = one_error(&format!("{GOOD}[[printer]]\nname = \"lab/el\"\nkind = \"file\"\npath = \"x\"\n"));
    assert!(e.starts_with("10: printer[1].name: \"lab/el\" holds '/' (the MQTT topic level separator)"), "{e}");
}

#[test]
fn topic_prefix_levels_follow_the_id_rule_with_the_placeholders() {
    let with = |prefix: &str| format!("{GOOD}[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\nprefix = \"{prefix}\"\n");
    let c = parse(&with("acme_eu/{warehouse}/st-{station}")).unwrap();
    assert_eq!(c.mqtt.unwrap().prefix, "acme_eu/WH1/st-PACK-07");
    assert_eq!(
        one_error(&with("acme.eu/{warehouse}/{station}")),
        "11: mqtt.prefix: \"acme.eu/{warehouse}/{station}\": level \"acme.eu\" holds '.' (NATS and RabbitMQ take it \
         as a topic level separator); a level may only hold letters, digits, '-', '_', {warehouse} and {station}"
    );
    for (prefix, named) in [
        ("wh/+/st/{station}", "holds '+'"),
        ("wh/#", "holds '#'"),
        ("wh/{site}/{station}", "holds '{'"),
        ("wh/{warehouse}\\u0000", "holds '\\0'"),
        ("/wh/{station}", "empty topic level"),
        ("wh/{station}/", "empty topic level"),
        ("wh//{station}", "empty topic level"),
    ] {
        let e = one_error(&with(prefix));
        assert!(e.starts_with("11: mqtt.prefix: ") && e.contains(named), "{prefix}: {e}");
    }
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
fn the_drain_rate_in_use_defaults_to_20000_0_lifts_it_and_a_bad_one_is_refused() {
    let rate = |extra: &str| parse(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\n{extra}")).unwrap().mqtt.unwrap();
    assert_eq!(rate("").drain_rate_in_use, Some(20_000));
    assert_eq!(rate("drain_rate_in_use = 500\n").drain_rate_in_use, Some(500));
    assert_eq!(rate("drain_rate_in_use = 0\n").drain_rate_in_use, None);
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\ndrain_rate_in_use = -1\n"));
    assert_eq!(e, "11: mqtt.drain_rate_in_use: -1 is out of range 0..=100000000");
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\ndrain_rate_in_use = \"fast\"\n"));
    assert_eq!(e, "11: mqtt.drain_rate_in_use: expected an integer, found string");
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\ndrain_rate_in_use = 50\n"));
    assert_eq!(
        e,
        "11: mqtt.drain_rate_in_use: 50 events/s is too slow to keep up with a packer; give at least 100, or 0 for no limit"
    );
}

#[test]
fn urls_lists_the_brokers_in_order_and_url_is_a_list_of_one() {
    let c = parse(&format!("{GOOD}[mqtt]\nurls = [\"mqtts://a:8883\", \"mqtts://b:8883\"]\n")).unwrap();
    let urls: Vec<String> = c.mqtt.unwrap().urls.iter().map(|u| u.to_string()).collect();
    assert_eq!(urls, ["mqtts://a:8883", "mqtts://b:8883"]);
    let c = parse(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\n")).unwrap();
    assert_eq!(c.mqtt.unwrap().urls.len(), 1);
}

#[test]
fn url_and_urls_together_an_empty_list_and_a_bad_entry_are_refused_with_their_line() {
    let e = one_error(&format!("{GOOD}[mqtt]\nurl = \"mqtts://a:8883\"\nurls = [\"mqtts://b:8883\"]\n"));
    assert_eq!(e, "11: mqtt.urls: give either `url` or `urls`, not both");
    let e = one_error(&format!("{GOOD}[mqtt]\nurls = []\n"));
    assert_eq!(e, "10: mqtt.urls: must list at least one broker URL");
    let e = one_error(&format!("{GOOD}[mqtt]\nurls = [\"mqtts://a:8883\", \"http://b\"]\n"));
    assert!(e.starts_with("10: mqtt.urls: \"http://b\": scheme must be mqtt:// or mqtts://"), "{e}");
    let e = one_error(&format!("{GOOD}[mqtt]\nurls = [\"mqtts://a:8883\", \"mqtts://a:8883\"]\n"));
    assert_eq!(e, "10: mqtt.urls: \"mqtts://a:8883\" is listed twice");
    let e = one_error(&format!("{GOOD}[mqtt]\nurls = [\"mqtts://a:8883\", 7]\n"));
    assert!(e.starts_with("10: mqtt.urls: expected a list of strings"), "{e}");
    let e = one_error(&format!("{GOOD}[mqtt]\nurls = [\"mqtt://127.0.0.1:1883\", \"mqtt://10.0.0.5:1883\"]\n"));
    assert!(e.starts_with("10: mqtt.urls: \"mqtt://10.0.0.5:1883\": plaintext mqtt://"), "{e}");
    let e = one_error(&format!("{GOOD}[mqtt]\nprefix = \"p\"\n"));
    assert!(e.contains("mqtt.url: missing required key"), "{e}");
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
fn the_screen_plays_sounds_unless_http_sounds_is_false() {
    let http = |extra: &str| parse(&format!("{GOOD}[http]\n{extra}")).unwrap().http.unwrap();
    assert!(http("").sounds, "on by default");
    assert!(!http("sounds = false\n").sounds);
    assert!(http("sounds = true\n").sounds);
    let e = one_error(&format!("{GOOD}[http]\nsounds = \"off\"\n"));
    assert!(e.starts_with("10: http.sounds: expected true or false, found string"), "{e}");
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
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Err(e) = Config::load(&root.join("config/demo.toml")) {
        panic!("config/demo.toml:\n{e}");
    }
    // The example is installed as /etc/stationd/stationd.toml beside the http.token the
    // package makes (mode 0640).
    let etc = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("config/stationd.example.toml"), etc.path().join("stationd.toml")).unwrap();
    std::fs::write(etc.path().join("http.token"), "0123abcd").unwrap();
    std::fs::set_permissions(etc.path().join("http.token"), std::fs::Permissions::from_mode(0o640)).unwrap();
    if let Err(e) = Config::load(&etc.path().join("stationd.toml")) {
        panic!("config/stationd.example.toml:\n{e}");
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
fn secrets_in_a_folder_others_can_write_are_refused_with_the_folder_and_the_fix() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let secret_in = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        let secret = dir.join("http.token");
        std::fs::write(&secret, "t0ken\n").unwrap();
        mode(&secret, 0o600);
        secret
    };
    let config = |secret: &Path| format!("{GOOD}[http]\ntoken_file = \"{}\"\n", secret.display());
    let refused = |secret: &Path, folder: &Path, m: &str| {
        let e = one_error(&config(secret));
        let says = format!("lies under {}, a folder others can write (mode {m})", folder.display());
        assert!(e.starts_with("10: http.token_file:") && e.contains(&says), "{e}");
        assert!(e.contains("move it to a folder only root and stationd can write"), "{e}");
    };
    // Its own folder open to all, sticky or not.
    let open = tmp.path().join("open");
    let secret = secret_in(&open);
    mode(&open, 0o777);
    refused(&secret, &open, "0777");
    mode(&open, 0o1777);
    refused(&secret, &open, "1777");
    // A folder further up open to all: the folder below it can be renamed away and replaced.
    let above = tmp.path().join("shared");
    let secret = secret_in(&above.join("private"));
    mode(&above.join("private"), 0o700);
    mode(&above, 0o777);
    refused(&secret, &above, "0777");
    // …unless it is sticky and the folder below belongs to this user (as /tmp and a private
    // folder in it).
    mode(&above, 0o1777);
    parse(&config(&secret)).unwrap();
    if unsafe { libc::geteuid() } == 0 {
        // Sticky, but the folder below belongs to someone else, who may swap it.
        std::os::unix::fs::chown(above.join("private"), Some(4242), None).unwrap();
        refused(&secret, &above, "1777");
    }
    // A link from an open folder to a safe place: the link itself can be swapped.
    let safe = secret_in(&tmp.path().join("etc"));
    let link = open.join("link.token");
    symlink(&safe, &link).unwrap();
    refused(&link, &open, "1777");
    parse(&config(&safe)).unwrap();
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

#[test]
fn keys_that_are_not_bare_are_shown_quoted() {
    assert_eq!(
        one_error(&format!("{GOOD}\"\" = 1\n")),
        "9: journal.\"\": unknown key (known keys here: path, max_bytes, min_free, retain_acked)"
    );
    let e = one_error(&format!("{GOOD}\"a.b\\n[x]\" = 1\n"));
    assert!(e.starts_with("9: journal.\"a.b\\n[x]\": unknown key"), "{e}");
    // A value quoted in a message keeps the error on one line, too.
    let e = one_error(&format!("{GOOD}[orders]\ntoken_file = \"\"\"two\nlines\"\"\"\n"));
    assert!(e.starts_with("10: orders.token_file: cannot read /etc/stationd/two\\nlines:"), "{e}");
}

/// A config using every section that needs no file on disk, one key per line.
const FULL: &str = r#"[station]
warehouse = "WH1"
id = "PACK-07"
role = "pack"
allow_unlisted_packers = true

[journal]
path = "state"
max_bytes = "64MiB"
min_free = "16MiB"
retain_acked = "24h"

[mqtt]
url = "mqtt://127.0.0.1:1883"
client_id = "stationd-WH1-PACK-07"
username = "pack07"
prefix = "wh/{warehouse}/st/{station}"
allow_insecure = false
keep_alive = "15s"
inflight = 100
drain_rate_in_use = 20000
reconnect_min = "1s"
reconnect_max = "60s"

[[scanner]]
name = "gun"
kind = "serial"
path = "/dev/ttyACM0"
baud = 9600
parity = "none"
suffix = "\r"
max_len = 512
inter_key_timeout = "0ms"

[[scanner]]
name = "dock"
kind = "tcp"
address = "10.0.0.60:51236"
mode = "connect"

[[printer]]
name = "label"
kind = "tcp"
address = "10.0.0.50:9100"
language = "zpl"
role = "label"

[[printer]]
name = "slip"
kind = "usb"
device = "04b8:0e28"
language = "escpos"
role = "slip"

[orders]
url = "https://oms.example/api"
cache_hours = 24
id_pattern = "^SO-[0-9]+$"
fetch_labels = false
label_timeout = "5s"
label_concurrency = 2

[[overdue]]
state = "packing"
after = "15m"
level = "reminder"

[[operator]]
badge = "OP:0017"
name = "Shift lead"
role = "supervisor"

[barcodes]
badge_prefix = "OP:"
command_prefix = "CMD:"
tote_prefix = "TOTE:"
"#;

/// Any result of config text: a config, or errors in line order, each `line: key: what` with
/// a line of the file (0 only for what is missing from the whole file), a key the file names
/// (or that is missing) and a one-line message.
fn check_result(src: &str) -> Result<Option<Config>, proptest::test_runner::TestCaseError> {
    use proptest::prop_assert;
    let lines = src.split('\n').count();
    let errs = match parse(src) {
        Ok(c) => return Ok(Some(c)),
        Err(e) => e.0,
    };
    prop_assert!(!errs.is_empty());
    prop_assert!(errs.windows(2).all(|w| w[0].line <= w[1].line), "errors in line order: {errs:?}");
    for e in &errs {
        let shown = e.to_string();
        prop_assert!(shown.starts_with(&format!("/etc/stationd/stationd.toml:{}: {}: ", e.line, e.key)), "{shown}");
        prop_assert!(e.line <= lines, "{shown}: the file has {lines} lines");
        let missing = e.message.starts_with("missing required") || e.message == "config is incomplete";
        prop_assert!(e.line > 0 || missing, "{shown}");
        prop_assert!(!e.key.is_empty() && !e.message.trim().is_empty(), "{shown}");
        prop_assert!(!e.message.contains('\n'), "one line per error: {shown:?}");
        prop_assert!(!e.key.chars().any(char::is_control), "{shown:?}");
        // The key is one the file names (quoted when it is not a bare key), or one it lacks.
        let plain = e.key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b));
        prop_assert!(plain || e.key.ends_with('"'), "{shown}: a key that is not bare is quoted");
        let last = e.key.rsplit('.').next().unwrap_or_default();
        let last = last.split('[').next().unwrap_or_default();
        prop_assert!(e.key == "-" || missing || !plain || src.contains(last), "{shown}: {last:?} is not in the file");
    }
    Ok(None)
}

/// TOML-shaped text: headers (known, unknown, malformed), known and unknown keys, values of
/// every TOML type (and broken ones), comments and garbage.
fn toml_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let key = prop_oneof![
        4 => proptest::sample::select(
            &[
                "warehouse", "id", "role", "path", "max_bytes", "min_free", "retain_acked", "url", "prefix", "name",
                "kind", "address", "baud", "suffix", "max_len", "language", "device", "template", "cache_hours",
                "id_pattern", "state", "after", "level", "badge", "listen", "token_file", "inflight", "keep_alive",
                "allow_insecure", "preload", "password_file", "parity", "mode", "on_eof", "drain_rate_in_use", "locale",
            ][..]
        )
        .prop_map(str::to_string),
        1 => "[a-z_]{1,8}",
        1 => "\"[^\"\\\\\n]{0,8}\"",
    ];
    let value = prop_oneof![
        4 => "[a-zA-Z0-9:/._ {}-]{0,16}".prop_map(|s| format!("{s:?}")),
        1 => stationd_testkit::hostile_text(24).prop_map(|s| format!("{s:?}")),
        1 => stationd_testkit::hostile_text(24).prop_map(|s| format!("'{s}'")),
        2 => any::<i64>().prop_map(|i| i.to_string()),
        1 => (0i64..100_000).prop_map(|i| i.to_string()),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => Just("[1, \"x\", [true]]".to_string()),
        1 => Just("{ a = 1, b = \"x\" }".to_string()),
        1 => Just("1979-05-27T07:32:00Z".to_string()),
        1 => Just("\"unterminated".to_string()),
        1 => Just("\"\"\"multi\nline\"\"\"".to_string()),
    ];
    let line = prop_oneof![
        6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => proptest::sample::select(
            &["station", "journal", "mqtt", "orders", "http", "barcodes", "scanner", "printer", "overdue", "operator"][..]
        )
        .prop_flat_map(|t| prop_oneof![Just(format!("[{t}]")), Just(format!("[[{t}]]"))]),
        1 => Just(String::new()),
        1 => Just("# a comment".to_string()),
        1 => stationd_testkit::hostile_text(30),
    ];
    proptest::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
}

/// A value of a type no key accepts (keys take strings, integers or booleans).
const WRONG_TYPES: &[&str] = &["[1, 2]", "{ a = 1 }", "1.5", "1979-05-27T07:32:00Z", "[]", "-0.0", "inf"];

#[test]
fn the_full_config_of_the_property_tests_is_good() {
    let c = parse(FULL).unwrap();
    assert_eq!((c.scanners.len(), c.printers.len(), c.operators.len(), c.overdue.len()), (2, 2, 1, 1));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    #[test]
    fn toml_shaped_text_is_a_config_or_errors_of_the_form_line_key_what(src in toml_text()) {
        check_result(&src)?;
    }

    /// Any value of the full config replaced by a value of a type no key takes is reported
    /// at exactly that line and key; replaced by any text, it is a config or precise errors.
    #[test]
    fn a_value_of_a_good_config_replaced_is_reported_at_its_line_and_key(
        pick in proptest::prelude::any::<proptest::sample::Index>(),
        wrong in proptest::sample::select(WRONG_TYPES),
        text in stationd_testkit::hostile_text(40),
    ) {
        let lines: Vec<&str> = FULL.lines().collect();
        let values: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
        let at = values[pick.index(values.len())];
        let key = lines[at].split(" = ").next().unwrap();
        let with = |v: &str| {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l[at] = format!("{key} = {v}");
            l.join("\n")
        };
        let errs = parse(&with(wrong)).expect_err("a value of the wrong type is refused").0;
        proptest::prop_assert!(
            errs.iter().any(|e| e.line == at + 1 && (e.key == key || e.key.ends_with(&format!(".{key}")))),
            "{key} on line {}: {errs:?}", at + 1
        );
        check_result(&with(&format!("{text:?}")))?;
        check_result(&with(&text))?;
    }

    /// Lines of the full config dropped, repeated or swapped: a config or precise errors.
    #[test]
    fn a_good_config_cut_and_shuffled_is_a_config_or_precise_errors(
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..3), 1..6),
    ) {
        let mut lines: Vec<&str> = FULL.lines().collect();
        for (at, how) in edits {
            let i = at.index(lines.len());
            match how {
                0 => { lines.remove(i); }
                1 => lines.insert(i, lines[i]),
                _ => {
                    let j = (i + 1) % lines.len();
                    lines.swap(i, j);
                }
            }
            if lines.is_empty() {
                lines.push("");
            }
        }
        check_result(&lines.join("\n"))?;
    }
}

#[test]
fn label_and_slip_printer_keys_and_the_sscc_prefix_are_read_and_checked_at_load() {
    let base = "[station]\nwarehouse = \"W\"\nid = \"S\"\nrole = \"pack\"\n[journal]\npath = \"/tmp/j\"\n";
    let good = format!(
        "{base}[labels]\ngs1_company_prefix = \"4012345\"\nextension_digit = 3\n\
         [[printer]]\nname = \"l\"\nkind = \"tcp\"\naddress = \"h:9100\"\ndpi = 300\nfont = \"E:ANMDJ.TTF\"\n\
         [[printer]]\nname = \"s\"\nkind = \"tcp\"\naddress = \"h:9101\"\nlanguage = \"escpos\"\nrole = \"slip\"\ncodepage = \"gb18030\"\ncolumns = 32\n"
    );
    let c = parse(&good).unwrap();
    assert_eq!(c.labels.sscc.as_ref().unwrap().make(1).unwrap(), "340123450000000017");
    assert_eq!((c.printers[0].dpi, c.printers[0].font.as_deref()), (300, Some("E:ANMDJ.TTF")));
    assert_eq!((c.printers[1].codepage, c.printers[1].columns), (stationd_drivers::slip::CodePage::Gb18030, 32));
    let defaults = parse(&format!("{base}[[printer]]\nname = \"l\"\nkind = \"tcp\"\naddress = \"h:9100\"\n")).unwrap();
    assert_eq!((defaults.printers[0].dpi, defaults.printers[0].columns), (DEFAULT_DPI, DEFAULT_COLUMNS));
    assert!(defaults.labels.sscc.is_none());

    let bad = format!(
        "{base}[labels]\ngs1_company_prefix = \"123\"\n\
         [[printer]]\nname = \"l\"\nkind = \"tcp\"\naddress = \"h:9100\"\ndpi = 250\ncodepage = \"pc858\"\nfont = \"ANMDJ\"\n"
    );
    let e = errors(&bad);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].contains("8: labels.gs1_company_prefix: GS1 company prefix \"123\" must be 7 to 10 digits"), "{e:#?}");
    assert!(e[1].contains("printer[1].dpi: 250 is not a label printer resolution; use 203, 300 or 600"), "{e:#?}");
    assert!(e[2].contains("printer[1].codepage: applies to language = \"escpos\" printers only"), "{e:#?}");
    assert!(e[3].contains("printer[1].font: \"ANMDJ\" is not a printer font"), "{e:#?}");
}

#[test]
fn the_station_speaks_english_unless_told_and_an_operator_may_have_a_language_of_their_own() {
    use crate::locale::Locale;
    let c = parse(GOOD).unwrap();
    assert_eq!(c.station_settings().locale, Locale::En);
    let src = GOOD.replace("role = \"pack\"\n", "role = \"pack\"\nlocale = \"de\"\n")
        + "\n[[operator]]\nbadge = \"OP:1\"\nlocale = \"zh-CN\"\n\n[[operator]]\nbadge = \"OP:2\"\n";
    let settings = parse(&src).unwrap().station_settings();
    assert_eq!(settings.locale, Locale::De);
    let locales: Vec<_> = settings.operators.iter().map(|o| o.locale).collect();
    assert_eq!(locales, [Some(Locale::ZhCn), None], "without one, the station's");
}

#[test]
fn an_unknown_locale_is_refused_with_its_line_naming_the_shipped_ones() {
    let src = GOOD.replace("role = \"pack\"\n", "role = \"pack\"\nlocale = \"fr\"\n");
    assert_eq!(
        one_error(&src),
        "6: station.locale: \"fr\" is not a language the station ships; use one of en, de, pl, es, cs, zh-CN \
         (tags as written, e.g. \"zh-CN\")"
    );
    let src = format!("{GOOD}\n[[operator]]\nbadge = \"OP:1\"\nlocale = \"zh_CN\"\n");
    let e = one_error(&src);
    assert!(e.starts_with("12: operator[1].locale: \"zh_CN\" is not a language the station ships"), "{e}");
}
