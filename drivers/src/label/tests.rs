//! The built-in label: refusals, geometry per resolution, fonts, and property tests over
//! hostile text.

use super::*;
use proptest::prelude::*;

fn data() -> LabelData {
    LabelData {
        order: "SO-1001".into(),
        carrier: "DHL".into(),
        service: "parcel".into(),
        name: "Jürgen Müller".into(),
        street: "Hauptstr. 5".into(),
        postcode: "10115".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        tracking: "JJD0001234567".into(),
        sscc: "340123450000000017".into(),
    }
}

fn zpl(spec: &LabelSpec, d: &LabelData) -> String {
    String::from_utf8(render(spec, d).unwrap().zpl).unwrap()
}

#[test]
fn an_absent_sscc_or_tracking_number_prints_no_barcode_at_all() {
    let spec = LabelSpec::default();
    let no_sscc = zpl(&spec, &LabelData { sscc: String::new(), ..data() });
    assert!(!no_sscc.contains("(00)") && !no_sscc.contains(",D^"), "{no_sscc}");
    let no_tracking = zpl(&spec, &LabelData { tracking: String::new(), ..data() });
    assert_eq!(no_tracking.matches("^BC").count(), 1, "{no_tracking}");
    assert!(!no_tracking.contains("^FD^FS"), "{no_tracking}");
}

#[test]
fn a_label_that_cannot_be_valid_is_refused_with_the_field_and_the_fix() {
    let spec = LabelSpec::default();
    let none = render(&spec, &LabelData { sscc: String::new(), tracking: String::new(), ..data() }).unwrap_err();
    assert!(none.to_string().contains("gs1_company_prefix"), "{none}");
    let bad = render(&spec, &LabelData { sscc: "340123450000000018".into(), ..data() }).unwrap_err();
    assert_eq!(bad, LabelError::BadSscc { order: "SO-1001".into(), value: "340123450000000018".into() });
    let long = render(&spec, &LabelData { tracking: "X".repeat(80), ..data() }).unwrap_err();
    assert!(long.to_string().contains("too long"), "{long}");
    let odd = render(&spec, &LabelData { tracking: "JJD^XZ".into(), ..data() }).unwrap_err();
    assert!(matches!(odd, LabelError::BadTracking { .. }), "{odd}");
}

/// (module in mm, bar height in mm) of the SSCC barcode.
fn sscc_size(z: &str, dpi: u32) -> (f64, f64) {
    let field = z.lines().find(|l| l.contains("(00)")).unwrap();
    let by: f64 = field.split("^BY").nth(1).unwrap().split('^').next().unwrap().parse().unwrap();
    let h: f64 = field.split("^BCN,").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let mm = 25.4 / f64::from(dpi);
    (by * mm, h * mm)
}

#[test]
fn the_sscc_meets_gs1_sizes_at_every_resolution() {
    for dpi in [203, 300, 600] {
        let z = zpl(&LabelSpec { dpi, font: None }, &data());
        let (module, height) = sscc_size(&z, dpi);
        assert!((0.495..0.6).contains(&module), "{dpi} dpi: module {module}");
        assert!(height >= 31.75, "{dpi} dpi: height {height}");
        let width: String = z.split("^PW").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
        let width: usize = width.parse().unwrap();
        assert_eq!(width, (4.0 * f64::from(dpi)).round() as usize);
    }
}

#[test]
fn non_latin_text_uses_the_printers_unicode_font_or_is_reported() {
    let cjk = LabelData { name: "山田太郎".into(), ..data() };
    let with_font = render(&LabelSpec { dpi: 203, font: Some("E:ANMDJ.TTF".into()) }, &cjk).unwrap();
    let z = String::from_utf8(with_font.zpl).unwrap();
    assert!(z.contains("^A@N,40,40,E:ANMDJ.TTF"), "{z}");
    assert!(with_font.missing_glyphs.is_empty());
    let without = render(&LabelSpec::default(), &cjk).unwrap();
    assert_eq!(without.missing_glyphs, vec!["ship_to.name"]);
    assert!(String::from_utf8(without.zpl).unwrap().contains("^FD????^FS"));
}

#[test]
fn long_text_is_cut_at_a_word_with_an_ellipsis() {
    let lines = fit("Maximilian Alexander Friedrich von und zu Hohenzollern", 12.0, 2, width_em);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].ends_with("..."), "{lines:?}");
    assert!(!lines[1].trim_end_matches("...").ends_with(' '));
    assert_eq!(fit("short", 12.0, 2, width_em), vec!["short"]);
    assert_eq!(fit("", 12.0, 2, width_em), Vec::<String>::new());
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![stationd_testkit::hostile_text(160), "[a-zA-Z ]{0,200}", "[\\p{Han}\\p{Hangul} ]{0,60}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever an order's text holds, each text field fits its lines and width, and the
    /// label carries only the commands of the built-in layout, in ASCII.
    #[test]
    fn no_text_adds_a_command_or_runs_off_the_label(
        texts in proptest::collection::vec(hostile(), 8),
        dpi in prop_oneof![Just(203u32), Just(300), Just(600)],
        font in any::<bool>(),
    ) {
        let d = LabelData {
            carrier: texts[0].clone(), service: texts[1].clone(), name: texts[2].clone(),
            street: texts[3].clone(), postcode: texts[4].clone(), city: texts[5].clone(),
            country: texts[6].clone(), order: texts[7].clone(), ..data()
        };
        let spec = LabelSpec { dpi, font: font.then(|| "E:ANMDJ.TTF".to_string()) };
        let label = render(&spec, &d).unwrap();
        prop_assert!(label.zpl.is_ascii());
        let x = |t: &str| if t.chars().any(|c| !c.is_control() && !c.is_whitespace()) { "x".to_string() } else { String::new() };
        let plain = LabelData {
            carrier: x(&texts[0]), service: x(&texts[1]), name: x(&texts[2]), street: x(&texts[3]),
            postcode: x(&texts[4]), city: x(&texts[5]), country: x(&texts[6]), order: x(&texts[7]), ..data()
        };
        let plain = render(&spec, &plain).unwrap();
        let commands = |z: &[u8]| -> Vec<Vec<u8>> {
            stationd_testkit::zpl_commands(z).into_iter().map(|c| if c == b"^A@" { b"^A0".to_vec() } else { c }).collect()
        };
        prop_assert_eq!(commands(&label.zpl), commands(&plain.zpl));
    }

    #[test]
    fn fitted_text_never_exceeds_its_lines_or_width(text in hostile(), width in 4.0f64..40.0, lines in 1usize..4) {
        let out = fit(&text, width, lines, width_em);
        prop_assert!(out.len() <= lines);
        for l in &out {
            let w: f64 = l.chars().map(width_em).sum();
            prop_assert!(w <= width + 1e-9, "{:?} is {} wide, more than {}", l, w, width);
        }
    }
}
