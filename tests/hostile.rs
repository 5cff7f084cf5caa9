//! Hostile and malformed input, property-tested with many cases on the public parsers and
//! renderers: config files, scanner byte streams, barcodes and GS1, printer status answers,
//! cloud commands, what the monitor reads from the broker, and order text reaching ZPL and
//! ESC/POS. Each property says what must hold, not only "no panic": precise errors, recovery
//! after garbage, bounded work, and no text that can become a printer command.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;
use stationd::config::Config;
use stationd::uplink::parse_command;
use stationd_drivers::barcode::{parse_gs1, ClassRules};
use stationd_drivers::framing::ScanFramer;
use stationd_drivers::printer_status::{escpos, zpl as zpl_status};
use stationd_drivers::slip::{self, Slip};
use stationd_drivers::zpl::{Template, DEFAULT_LABEL};
use stationd_testkit::{hostile_text, zpl_commands};

/// A valid config; mutations of it must give a config or errors that point at a line.
const GOOD: &str = "[station]\nwarehouse = \"WH1\"\nid = \"PACK-07\"\nrole = \"pack\"\n\n\
[journal]\npath = \"state\"\nmax_bytes = \"64MiB\"\n\n\
[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\nkeep_alive = \"15s\"\n\n\
[[scanner]]\nname = \"gun\"\nkind = \"serial\"\npath = \"/dev/ttyACM0\"\nbaud = 9600\n\n\
[[printer]]\nname = \"label\"\nkind = \"tcp\"\naddress = \"10.0.0.9:9100\"\nlanguage = \"zpl\"\nrole = \"label\"\n";

fn check_config_result(src: &str) -> Result<(), TestCaseError> {
    let lines = src.lines().count().max(1);
    match Config::parse(src, Path::new("/etc/stationd/stationd.toml")) {
        Ok(_) => Ok(()),
        Err(errs) => {
            prop_assert!(!errs.0.is_empty(), "an error result lists at least one error");
            for e in &errs.0 {
                prop_assert!(e.line <= lines + 1, "line {} of a {lines}-line file: {e}", e.line);
                prop_assert!(!e.message.is_empty(), "{e}");
                let shown = e.to_string();
                prop_assert!(shown.starts_with("/etc/stationd/stationd.toml:"), "{shown}");
            }
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_as_a_config_gives_a_config_or_errors_with_their_line(src in "\\PC{0,400}") {
        check_config_result(&src)?;
    }

    #[test]
    fn a_good_config_mutated_line_by_line_gives_errors_that_point_at_a_line(
        edits in proptest::collection::vec((0usize..40, 0u8..4, hostile_text(40)), 1..6)
    ) {
        let mut lines: Vec<String> = GOOD.lines().map(str::to_string).collect();
        for (at, how, text) in edits {
            let i = at % lines.len();
            match how {
                0 => { lines.remove(i); if lines.is_empty() { lines.push(String::new()); } }
                1 => lines.insert(i, text),
                2 => {
                    // Replace a value: keep the key, put hostile text after `=`.
                    if let Some((k, _)) = lines[i].clone().split_once('=') {
                        lines[i] = format!("{k}= {text}");
                    }
                }
                _ => { let l = lines[i].clone(); lines.insert(i, l); }
            }
        }
        check_config_result(&lines.join("\n"))?;
    }

    #[test]
    fn whatever_garbage_came_before_the_next_good_scan_is_read_exactly(
        garbage in proptest::collection::vec(any::<u8>(), 0..20_000),
        cuts in proptest::collection::vec(1usize..4096, 0..8),
    ) {
        let mut stream = garbage.clone();
        stream.extend_from_slice(b"\rGOOD-0042\r");
        let mut framer = ScanFramer::new(512);
        let mut frames = Vec::new();
        let mut rest = stream.as_slice();
        for c in cuts {
            let (a, b) = rest.split_at(c.min(rest.len()));
            frames.extend(framer.push(a));
            rest = b;
        }
        frames.extend(framer.push(rest));
        prop_assert_eq!(frames.last().cloned(), Some(Ok("GOOD-0042".to_string())));
        // Each frame is bounded: a 20 kB run is refused, never kept whole.
        for code in frames.iter().flatten() {
            prop_assert!(code.len() <= 512);
        }
        prop_assert!(!framer.in_frame());
    }

    #[test]
    fn any_scan_text_classifies_or_gets_a_precise_error(code in hostile_text(200), digits in "[0-9\\x1d()]{0,60}") {
        let rules = ClassRules::default();
        for c in [code.as_str(), digits.as_str()] {
            match rules.classify(c, |id| id == "SO-1") {
                Ok(class) => prop_assert!(!class.name().is_empty()),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            if let Err(e) = parse_gs1(c) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn printer_status_answers_of_any_shape_decode_without_claiming_ready_for_garbage(
        a in any::<u8>(), b in any::<u8>(), c in any::<u8>(),
        frames in proptest::collection::vec("[\\x02\\x030-9,A-Z]{0,40}", 0..5),
    ) {
        let s = escpos::decode(a, b, c);
        prop_assert!(!s.state().is_empty());
        let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
        let z = zpl_status::decode(&refs);
        if frames.len() < 2 {
            prop_assert!(!z.is_ready(), "too few ~HS frames cannot say ready: {:?}", frames);
        }
    }

    #[test]
    fn cloud_commands_of_any_shape_are_parsed_or_refused_with_a_code(
        name in prop_oneof![Just("order-upsert".to_string()), Just("print".to_string()), Just("resync".to_string()), "[a-z.-]{0,16}"],
        payload in hostile_text(2000),
    ) {
        if let Err(e) = parse_command(&name, payload.as_bytes()) {
            prop_assert!(!e.code.as_str().is_empty() && !e.message.is_empty(), "{:?}", e);
            prop_assert!(e.message.len() < 1024, "the reply stays small: {} bytes", e.message.len());
        }
    }

    #[test]
    fn what_the_monitor_reads_from_the_broker_is_an_envelope_or_skipped(payload in hostile_text(600), seq in any::<u64>()) {
        use stationd::event::AnyEnvelope;
        let mut tracker = stationd::monitor::Tracker::default();
        let now = time::OffsetDateTime::now_utc();
        if let Ok(env) = serde_json::from_str::<AnyEnvelope>(&payload) {
            tracker.observe("wh/x", &env, now, std::time::Instant::now());
        }
        // A well-formed envelope with any seq and hostile names is tracked, not trusted.
        let env = AnyEnvelope {
            v: 1, id: uuid::Uuid::now_v7(), seq, warehouse: payload.clone(), station: payload.clone(),
            at: payload.clone(), kind: payload.clone(), order: None, operator: None, data: serde_json::Value::Null,
        };
        tracker.observe("wh/x", &env, now, std::time::Instant::now());
        prop_assert_eq!(tracker.summary().iter().map(|s| s.received).sum::<u64>() >= 1, true);
    }

    #[test]
    fn order_text_never_changes_the_commands_of_a_zpl_label(values in proptest::collection::vec(hostile_text(120), 12)) {
        let template = Template::parse(DEFAULT_LABEL).unwrap();
        let names: Vec<String> = template.fields().map(str::to_string).collect();
        let hostile: HashMap<&str, String> = names.iter().map(String::as_str).zip(values.iter().cycle().cloned()).collect();
        let plain: HashMap<&str, String> = names.iter().map(|n| (n.as_str(), "x".to_string())).collect();
        let label = template.render(&hostile);
        prop_assert_eq!(zpl_commands(&label), zpl_commands(&template.render(&plain)));
        prop_assert!(label.iter().all(|b| *b >= 0x20 || *b == b'\n' || *b == b'\r'), "no control byte from a field");
    }

    #[test]
    fn order_text_never_adds_an_escpos_command_to_a_packing_slip(
        title in hostile_text(60), order in hostile_text(40), ship_to in proptest::collection::vec(hostile_text(60), 0..4),
        lines in proptest::collection::vec((1u32..999, hostile_text(30), hostile_text(60)), 0..6), qr in hostile_text(60),
    ) {
        let hostile = Slip { title, order, ship_to, lines, qr, footer: "thank you".into() };
        // The same slip with every text replaced by as many harmless letters as survive cleaning
        // (for the QR code as many bytes: its payload is UTF-8, and its length a parameter).
        let same_length = |s: &str| "a".repeat(slip::clean(s).chars().count());
        let same_bytes = |s: &str| "a".repeat(slip::clean(s).len());
        let plain = Slip {
            title: same_length(&hostile.title),
            order: same_length(&hostile.order),
            ship_to: hostile.ship_to.iter().map(|l| same_length(l)).collect(),
            lines: hostile.lines.iter().map(|(q, s, n)| (*q, same_length(s), same_length(n))).collect(),
            qr: same_bytes(&hostile.qr),
            footer: hostile.footer.clone(),
        };
        let spec = slip::SlipSpec::default();
        let (a, b) = (slip::render(&spec, &hostile), slip::render(&spec, &plain));
        // Lines wrap where the words are, so newlines may differ; no other control byte may.
        let commands = |b: &[u8]| b.iter().copied().filter(|c| *c < 0x20 && *c != b'\n').collect::<Vec<u8>>();
        prop_assert_eq!(commands(&a), commands(&b), "the printer commands are the slip's only");
    }
}

/// 100 000 levels of nesting are refused with a precise error on a quarter of a tokio
/// worker's stack (512 KiB, debug build): the parser stops at its depth limit (128)
/// instead of recursing.
#[test]
fn deeply_nested_commands_are_refused_on_a_small_stack() {
    let outcome = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let mut codes = Vec::new();
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let depth = 100_000;
                let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                codes.push(parse_command("order-cancel", body.as_bytes()).expect_err("refused").code.to_string());
                // Under the size limit: the nesting, not the size, is what is refused.
                let small = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
                codes.push(parse_command("order-cancel", small.as_bytes()).expect_err("refused").code.to_string());
            }
            codes
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert!(outcome.iter().all(|c| !c.is_empty()), "{outcome:?}");
    assert!(outcome.contains(&"payload_too_large".to_string()), "{outcome:?}");
    assert!(outcome.contains(&"bad_json".to_string()), "{outcome:?}");
}
