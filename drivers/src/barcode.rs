//! Product barcode classification, without I/O: EAN-8, EAN-13 and UPC-A with their check
//! digits, and GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR) parsed into
//! application identifiers with check digits and dates validated.
//!
//! Scanners may send an AIM symbology identifier first (`]C1` GS1-128, `]d2` GS1
//! DataMatrix, `]Q3` GS1 QR, `]E0` EAN/UPC); it is recognised and removed. Variable-length
//! fields end at the group separator (0x1D) that the scanner framing keeps.

use std::fmt;

use crate::framing::GS;

/// A classified product code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCode {
    Ean8(String),
    Ean13(String),
    UpcA(String),
    Gs1(Gs1),
}

impl ProductCode {
    /// The GTIN-14 this code identifies a trade item by, if it does (EAN/UPC padded with
    /// zeros; GS1 AI 01 or 02): the key to compare against an order line.
    pub fn gtin14(&self) -> Option<String> {
        match self {
            ProductCode::Ean8(c) | ProductCode::Ean13(c) | ProductCode::UpcA(c) => Some(format!("{c:0>14}")),
            ProductCode::Gs1(g) => g.get("01").or_else(|| g.get("02")).map(str::to_string),
        }
    }
}

/// Why a code that looked like a product code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("check digit of {what} {code} is wrong (expected {expected})")]
    CheckDigit { what: &'static str, code: String, expected: u8 },
    #[error("GS1 AI ({ai}) {problem}")]
    Gs1Field { ai: String, problem: String },
    #[error("unknown GS1 application identifier at \"{rest}\"")]
    UnknownAi { rest: String },
}

/// A parsed GS1 element string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1 {
    /// (AI, value) in the order they appear.
    pub elements: Vec<(String, String)>,
}

impl Gs1 {
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements.iter().find(|(a, _)| a == ai).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Gs1 {
    /// Human-readable form: `(01)09501101020917(17)190508(10)ABCD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (ai, v) in &self.elements {
            write!(f, "({ai}){v}")?;
        }
        Ok(())
    }
}

/// GS1 mod-10 check digit of `digits` (without the check digit).
pub fn gs1_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 =
        digits.iter().rev().enumerate().map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

fn check(what: &'static str, code: &str) -> Result<(), BarcodeError> {
    let b = code.as_bytes();
    let expected = gs1_check_digit(&b[..b.len() - 1]);
    if b[b.len() - 1] - b'0' == expected {
        Ok(())
    } else {
        Err(BarcodeError::CheckDigit { what, code: code.to_string(), expected })
    }
}

/// Classifies a scanned code as a product code. `Ok(None)`: not a product code at all
/// (a badge, an order id, a command, …); `Err`: it claims to be one but is invalid (a
/// misread or a damaged label — reject it, do not guess).
pub fn classify(raw: &str) -> Result<Option<ProductCode>, BarcodeError> {
    let (gs1_symbology, code) = match raw.get(..3) {
        Some("]C1") | Some("]d2") | Some("]Q3") | Some("]e0") => (true, &raw[3..]),
        Some("]E0") | Some("]E4") | Some("]X0") => (false, &raw[3..]),
        _ => (false, raw),
    };
    if gs1_symbology || code.as_bytes().contains(&GS) {
        return parse_gs1(code).map(|g| Some(ProductCode::Gs1(g)));
    }
    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
        return match code.len() {
            8 => check("EAN-8", code).map(|_| Some(ProductCode::Ean8(code.to_string()))),
            12 => check("UPC-A", code).map(|_| Some(ProductCode::UpcA(code.to_string()))),
            13 => check("EAN-13", code).map(|_| Some(ProductCode::Ean13(code.to_string()))),
            // A bare GTIN-14 or an SSCC element string without symbology identifier.
            14 => check("GTIN-14", code)
                .map(|_| Some(ProductCode::Gs1(Gs1 { elements: vec![("01".into(), code.into())] }))),
            _ if code.starts_with("00") || code.starts_with("01") => parse_gs1(code).map(|g| Some(ProductCode::Gs1(g))),
            _ => Ok(None),
        };
    }
    if code.starts_with("01") && code.len() > 16 && code.as_bytes()[..16].iter().all(u8::is_ascii_digit) {
        return parse_gs1(code).map(|g| Some(ProductCode::Gs1(g)));
    }
    Ok(None)
}

/// How an AI's value is shaped.
#[derive(Clone, Copy)]
enum Field {
    /// Exactly n digits, with a GS1 check digit.
    DigitsCheck(usize),
    /// Exactly n digits.
    Digits(usize),
    /// A date YYMMDD.
    Date,
    /// Up to n digits, ended by GS or the end.
    VarDigits(usize),
    /// Up to n characters of GS1's character set 82, ended by GS or the end.
    VarText(usize),
}

fn field_of(ai: &str) -> Option<Field> {
    Some(match ai {
        "00" => Field::DigitsCheck(18),
        "01" | "02" => Field::DigitsCheck(14),
        "10" | "21" | "22" => Field::VarText(20),
        "11" | "12" | "13" | "15" | "16" | "17" => Field::Date,
        "20" => Field::Digits(2),
        "30" | "37" => Field::VarDigits(8),
        "240" | "241" | "400" | "401" => Field::VarText(30),
        "410" | "411" | "412" | "413" | "414" | "415" => Field::DigitsCheck(13),
        "420" => Field::VarText(20),
        a if a.len() == 4 && (a.starts_with("310") || a.starts_with("330")) => Field::Digits(6),
        _ => return None,
    })
}

/// Parses a GS1 element string (no symbology identifier).
pub fn parse_gs1(s: &str) -> Result<Gs1, BarcodeError> {
    let mut elements = Vec::new();
    let mut rest = s.trim_start_matches('\u{1d}');
    while !rest.is_empty() {
        let (ai, field) = (2..=4)
            .filter_map(|n| rest.get(..n).and_then(|ai| field_of(ai).map(|f| (ai, f))))
            .next()
            .ok_or_else(|| BarcodeError::UnknownAi { rest: rest.chars().take(12).collect() })?;
        let body = &rest[ai.len()..];
        let bad = |problem: String| BarcodeError::Gs1Field { ai: ai.to_string(), problem };
        let (value, next) = match field {
            Field::DigitsCheck(n) | Field::Digits(n) => {
                take_fixed(body, n).ok_or_else(|| bad(format!("needs {n} digits")))?
            }
            Field::Date => take_fixed(body, 6).ok_or_else(|| bad("needs a date YYMMDD".into()))?,
            Field::VarDigits(n) | Field::VarText(n) => {
                let end = body.find('\u{1d}').unwrap_or(body.len());
                let v = &body[..end];
                if v.is_empty() || v.len() > n {
                    return Err(bad(format!("must hold 1 to {n} characters")));
                }
                let ok = match field {
                    Field::VarDigits(_) => v.bytes().all(|b| b.is_ascii_digit()),
                    _ => v.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
                };
                if !ok {
                    return Err(bad(format!("has characters not allowed: {v:?}")));
                }
                (v, &body[end..])
            }
        };
        match field {
            Field::DigitsCheck(_) => check("GS1 key", value).map_err(|_| {
                let expected = gs1_check_digit(&value.as_bytes()[..value.len() - 1]);
                bad(format!("check digit of {value} is wrong (expected {expected})"))
            })?,
            Field::Date => {
                let month: u32 = value[2..4].parse().unwrap_or(0);
                let day: u32 = value[4..6].parse().unwrap_or(99);
                // Day 00 means "end of the month" in GS1.
                if !(1..=12).contains(&month) || day > 31 {
                    return Err(bad(format!("{value} is not a date YYMMDD")));
                }
            }
            _ => {}
        }
        elements.push((ai.to_string(), value.to_string()));
        rest = next.trim_start_matches('\u{1d}');
    }
    if elements.is_empty() {
        return Err(BarcodeError::UnknownAi { rest: String::new() });
    }
    Ok(Gs1 { elements })
}

fn take_fixed(s: &str, n: usize) -> Option<(&str, &str)> {
    let v = s.get(..n)?;
    v.bytes().all(|b| b.is_ascii_digit()).then(|| (v, &s[n..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ean_and_upc_with_check_digits() {
        assert_eq!(classify("4006381333931").unwrap(), Some(ProductCode::Ean13("4006381333931".into())));
        assert_eq!(classify("96385074").unwrap(), Some(ProductCode::Ean8("96385074".into())));
        assert_eq!(classify("036000291452").unwrap(), Some(ProductCode::UpcA("036000291452".into())));
        let e = classify("4006381333932").unwrap_err();
        assert_eq!(e.to_string(), "check digit of EAN-13 4006381333932 is wrong (expected 1)");
        assert_eq!(classify("]E04006381333931").unwrap().unwrap().gtin14().unwrap(), "04006381333931");
    }

    #[test]
    fn codes_that_are_not_products_are_left_alone() {
        for code in ["OP:0017", "SO-1001", "CMD:HOLD", "JJD0001234567", "12345", ""] {
            assert_eq!(classify(code).unwrap(), None, "{code}");
        }
    }

    #[test]
    fn gs1_128_with_fixed_and_variable_fields() {
        let g = parse_gs1("01095011010209171719050810ABCD1234\u{1d}2112345").unwrap();
        assert_eq!(g.to_string(), "(01)09501101020917(17)190508(10)ABCD1234(21)12345");
        let ProductCode::Gs1(g2) = classify("]C101095011010209171719050810ABCD1234\u{1d}2112345").unwrap().unwrap()
        else {
            panic!()
        };
        assert_eq!(g2, g);
        assert_eq!(g.get("10"), Some("ABCD1234"));
    }

    #[test]
    fn sscc_and_count_and_datamatrix() {
        let ProductCode::Gs1(g) = classify("]d2000012345678900000123712\u{1d}0209501101020917").unwrap().unwrap()
        else {
            panic!()
        };
        assert_eq!(g.get("00"), Some("001234567890000012"));
        assert_eq!(g.elements.len(), 3);
        assert_eq!(g.get("37"), Some("12"));
    }

    #[test]
    fn bad_gs1_strings_say_what_is_wrong() {
        let e = parse_gs1("0109501101020918").unwrap_err();
        assert_eq!(e.to_string(), "GS1 AI (01) check digit of 09501101020918 is wrong (expected 7)");
        assert!(parse_gs1("17191308").unwrap_err().to_string().contains("is not a date"));
        assert!(parse_gs1("99ABC").unwrap_err().to_string().starts_with("unknown GS1 application identifier"));
        assert!(parse_gs1(&format!("10{}", "A".repeat(21))).unwrap_err().to_string().contains("1 to 20"));
        assert!(parse_gs1("0109501").unwrap_err().to_string().contains("needs 14 digits"));
    }

    /// A value for `ai` shaped as its field demands (check digits and dates valid).
    fn gs1_value(ai: &str) -> BoxedStrategy<String> {
        let with_check = |n: usize| {
            proptest::string::string_regex(&format!("[0-9]{{{}}}", n - 1))
                .unwrap()
                .prop_map(|d| format!("{d}{}", gs1_check_digit(d.as_bytes())))
                .boxed()
        };
        let text = |n: usize| proptest::string::string_regex(&format!("[!-\\[\\]-~]{{1,{n}}}")).unwrap().boxed();
        match field_of(ai).expect("a known AI") {
            Field::DigitsCheck(n) => with_check(n),
            Field::Digits(n) => proptest::string::string_regex(&format!("[0-9]{{{n}}}")).unwrap().boxed(),
            Field::Date => (0u32..100, 1u32..13, 0u32..32).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}")).boxed(),
            Field::VarDigits(n) => proptest::string::string_regex(&format!("[0-9]{{1,{n}}}")).unwrap().boxed(),
            Field::VarText(n) => text(n),
        }
    }

    const AIS: &[&str] = &[
        "00", "01", "02", "10", "11", "12", "13", "15", "16", "17", "20", "21", "22", "30", "37", "240", "241", "400",
        "401", "410", "411", "412", "413", "414", "415", "420", "3100", "3103", "3105", "3300", "3302",
    ];

    fn gs1_elements() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(
            proptest::sample::select(AIS).prop_flat_map(|ai| (Just(ai.to_string()), gs1_value(ai))),
            1..8,
        )
    }

    /// The element string of `elements`: fixed fields run on, variable ones end with GS.
    fn element_string(elements: &[(String, String)], leading_gs: bool) -> String {
        let mut s = if leading_gs { "\u{1d}".to_string() } else { String::new() };
        for (i, (ai, v)) in elements.iter().enumerate() {
            s.push_str(ai);
            s.push_str(v);
            let variable = matches!(field_of(ai), Some(Field::VarDigits(_) | Field::VarText(_)));
            if variable && i + 1 < elements.len() {
                s.push('\u{1d}');
            }
        }
        s
    }

    /// A refusal must name what is wrong with *this* input.
    fn check_error(input: &str, e: &BarcodeError) -> Result<(), TestCaseError> {
        match e {
            BarcodeError::CheckDigit { code, expected, .. } => {
                let b = code.as_bytes();
                prop_assert!(input.contains(code.as_str()) && b.iter().all(u8::is_ascii_digit), "{e}");
                prop_assert_eq!(gs1_check_digit(&b[..b.len() - 1]), *expected);
                prop_assert_ne!(b[b.len() - 1] - b'0', *expected);
            }
            BarcodeError::Gs1Field { ai, problem } => {
                prop_assert!(field_of(ai).is_some() && input.contains(ai.as_str()), "{e}");
                prop_assert!(!problem.is_empty());
            }
            BarcodeError::UnknownAi { rest } => {
                prop_assert!(rest.chars().count() <= 12 && input.contains(rest.as_str()), "{e}");
            }
        }
        prop_assert!(!e.to_string().is_empty());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any text (unicode, control characters, GS, symbology identifiers, digits) is a
        /// product code that round-trips, "not a product code", or an error naming its part.
        #[test]
        fn any_text_is_a_product_code_not_one_or_a_precise_error(
            text in prop_oneof![stationd_testkit::hostile_text(80), "[0-9\u{1d}]{0,40}", "(01|00|10|17|21)[0-9A-Z\u{1d}]{0,40}"],
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            symbology in proptest::sample::select(&["", "]C1", "]d2", "]Q3", "]e0", "]E0", "]E4", "]X0", "]C", "]"][..]),
        ) {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for body in [text.as_str(), lossy.as_str()] {
                let raw = format!("{symbology}{body}");
                match classify(&raw) {
                    Ok(Some(ProductCode::Gs1(g))) => {
                        prop_assert!(!g.elements.is_empty());
                        prop_assert!(g.elements.iter().all(|(ai, _)| field_of(ai).is_some()));
                        // What was read is written back as an element string that reads the same.
                        prop_assert_eq!(parse_gs1(&element_string(&g.elements, false)), Ok(g.clone()));
                    }
                    Ok(Some(p @ (ProductCode::Ean8(_) | ProductCode::Ean13(_) | ProductCode::UpcA(_)))) => {
                        let gtin = p.gtin14().unwrap();
                        prop_assert!(gtin.len() == 14 && gtin.bytes().all(|b| b.is_ascii_digit()));
                        prop_assert_eq!(gs1_check_digit(&gtin.as_bytes()[..13]), gtin.as_bytes()[13] - b'0');
                    }
                    Ok(None) => {}
                    Err(e) => check_error(&raw, &e)?,
                }
                if let Err(e) = parse_gs1(body) {
                    check_error(body, &e)?;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A GS1 element string built from random AIs and valid values reads back as the
        /// same AIs and values, bare or behind a GS1 symbology identifier, with or without
        /// a leading FNC1 (GS).
        #[test]
        fn gs1_element_strings_of_random_ais_parse_back_to_the_same_ais(
            elements in gs1_elements(),
            leading_gs in any::<bool>(),
            symbology in proptest::sample::select(&["]C1", "]d2", "]Q3", "]e0"][..]),
        ) {
            let s = element_string(&elements, leading_gs);
            let g = parse_gs1(&s).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
            prop_assert_eq!(&g.elements, &elements);
            let shown: String = elements.iter().map(|(ai, v)| format!("({ai}){v}")).collect();
            prop_assert_eq!(g.to_string(), shown);
            prop_assert_eq!(classify(&format!("{symbology}{s}")), Ok(Some(ProductCode::Gs1(g))));
        }

        /// One wrong digit in a key with a check digit (SSCC, GTIN, GLN) is refused for that
        /// AI, never read as another valid string.
        #[test]
        fn one_wrong_digit_in_a_gs1_key_is_refused_for_its_ai(
            elements in gs1_elements(),
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            plus in 1u8..10,
        ) {
            let keys: Vec<usize> = (0..elements.len())
                .filter(|&i| matches!(field_of(&elements[i].0), Some(Field::DigitsCheck(_))))
                .collect();
            prop_assume!(!keys.is_empty());
            let i = keys[pick.index(keys.len())];
            let mut bad = elements.clone();
            let mut digits = bad[i].1.clone().into_bytes();
            let j = at.index(digits.len());
            digits[j] = b'0' + (digits[j] - b'0' + plus) % 10;
            bad[i].1 = String::from_utf8(digits).unwrap();
            match parse_gs1(&element_string(&bad, false)) {
                Err(BarcodeError::Gs1Field { ai, problem }) => {
                    prop_assert_eq!(&ai, &elements[i].0);
                    prop_assert!(problem.starts_with(&format!("check digit of {} is wrong", bad[i].1)), "{}", problem);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        /// The same for EAN-8, UPC-A and EAN-13: the right check digit is accepted, any
        /// other is refused naming the expected one.
        #[test]
        fn ean_and_upc_take_only_their_check_digit(len in proptest::sample::select(&[8usize, 12, 13][..]), d in "[0-9]{12}", wrong in 1u8..10) {
            let body = &d[..len - 1];
            let check = gs1_check_digit(body.as_bytes());
            let good = format!("{body}{check}");
            let want = match len {
                8 => ProductCode::Ean8(good.clone()),
                12 => ProductCode::UpcA(good.clone()),
                _ => ProductCode::Ean13(good.clone()),
            };
            prop_assert_eq!(classify(&good), Ok(Some(want)));
            let bad = format!("{body}{}", (check + wrong) % 10);
            match classify(&bad) {
                Err(BarcodeError::CheckDigit { code, expected, .. }) => prop_assert_eq!((code, expected), (bad, check)),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}

/// What a scanned code is, for the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanClass {
    /// An operator badge (`OP:0017` with the default prefix); the whole code is the badge.
    Badge(String),
    /// A command barcode; the name after the prefix (`CMD:HOLD` → `HOLD`).
    Command(String),
    Order(String),
    /// A tote (`TOTE:17`): a box an order travels in from pick to pack.
    Tote(String),
    /// A storage location (`LOC:A-03-2`) at a pick station.
    Location(String),
    Product(ProductCode),
    Tracking(String),
    Unknown(String),
}

impl ScanClass {
    pub fn name(&self) -> &'static str {
        match self {
            ScanClass::Badge(_) => "badge",
            ScanClass::Command(_) => "command",
            ScanClass::Order(_) => "order",
            ScanClass::Tote(_) => "tote",
            ScanClass::Location(_) => "location",
            ScanClass::Product(_) => "product",
            ScanClass::Tracking(_) => "tracking",
            ScanClass::Unknown(_) => "unknown",
        }
    }
}

/// The configurable classes: prefixes for badges, commands, totes and locations, patterns
/// for order ids and tracking numbers. Checked in that order, then product codes, then
/// `unknown`.
#[derive(Debug, Clone)]
pub struct ClassRules {
    pub badge_prefix: String,
    pub command_prefix: String,
    pub tote_prefix: String,
    pub location_prefix: String,
    pub order: Option<regex::Regex>,
    pub tracking: Option<regex::Regex>,
}

impl Default for ClassRules {
    fn default() -> Self {
        ClassRules {
            badge_prefix: "OP:".into(),
            command_prefix: "CMD:".into(),
            tote_prefix: "TOTE:".into(),
            location_prefix: "LOC:".into(),
            order: None,
            tracking: None,
        }
    }
}

impl ClassRules {
    /// Classifies a code. `known_order` says whether a code is an order id the station knows
    /// (cached orders are orders even when they match no pattern). A code that claims to be a
    /// product code but fails its check digits is an error, not a guess.
    pub fn classify(&self, code: &str, known_order: impl Fn(&str) -> bool) -> Result<ScanClass, BarcodeError> {
        if !self.badge_prefix.is_empty() && code.starts_with(&self.badge_prefix) {
            return Ok(ScanClass::Badge(code.to_string()));
        }
        if let Some(name) = code.strip_prefix(&self.command_prefix).filter(|_| !self.command_prefix.is_empty()) {
            return Ok(ScanClass::Command(name.to_string()));
        }
        if !self.tote_prefix.is_empty() && code.starts_with(&self.tote_prefix) {
            return Ok(ScanClass::Tote(code.to_string()));
        }
        if !self.location_prefix.is_empty() && code.starts_with(&self.location_prefix) {
            return Ok(ScanClass::Location(code.to_string()));
        }
        if known_order(code) || self.order.as_ref().is_some_and(|r| r.is_match(code)) {
            return Ok(ScanClass::Order(code.to_string()));
        }
        if self.tracking.as_ref().is_some_and(|r| r.is_match(code)) {
            return Ok(ScanClass::Tracking(code.to_string()));
        }
        Ok(match classify(code)? {
            Some(p) => ScanClass::Product(p),
            None => ScanClass::Unknown(code.to_string()),
        })
    }
}

#[cfg(test)]
mod class_tests {
    use super::*;

    fn rules() -> ClassRules {
        ClassRules {
            order: Some(regex::Regex::new("^SO-[0-9]+$").unwrap()),
            tracking: Some(regex::Regex::new("^JJD[0-9]{10}$").unwrap()),
            ..ClassRules::default()
        }
    }

    #[test]
    fn each_class_is_recognised_in_order() {
        let r = rules();
        let none = |_: &str| false;
        assert_eq!(r.classify("OP:0017", none).unwrap(), ScanClass::Badge("OP:0017".into()));
        assert_eq!(r.classify("CMD:HOLD", none).unwrap(), ScanClass::Command("HOLD".into()));
        assert_eq!(r.classify("SO-1001", none).unwrap(), ScanClass::Order("SO-1001".into()));
        assert_eq!(r.classify("TOTE:17", none).unwrap(), ScanClass::Tote("TOTE:17".into()));
        assert_eq!(r.classify("LOC:A-03-2", none).unwrap(), ScanClass::Location("LOC:A-03-2".into()));
        assert_eq!(r.classify("JJD0001234567", none).unwrap(), ScanClass::Tracking("JJD0001234567".into()));
        assert_eq!(r.classify("4006381333931", none).unwrap().name(), "product");
        assert_eq!(r.classify("hello", none).unwrap(), ScanClass::Unknown("hello".into()));
        assert_eq!(r.classify("A-77", |c| c == "A-77").unwrap(), ScanClass::Order("A-77".into()), "cached order ids");
        assert!(r.classify("4006381333932", none).is_err(), "a misread EAN is an error, not unknown");
    }
}
