//! Inputs for the property tests of code that meets outside input: what a hostile cloud,
//! a broken broker or a careless admin sends. One place, so every parser of this crate is
//! tested against the same nastiness.

use proptest::prelude::*;
use serde_json::Value;

/// Text as a hostile or broken source sends it: control bytes, ZPL and ESC/POS command
/// starts, quotes, brackets, TOML and JSON punctuation, digits and any unicode.
pub fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "\\PC{0,12}",
        "[\\x00-\\x1f\\x7f]{1,4}",
        Just("^XZ^XA^FO0,0^FDX^FS".to_string()),
        Just("~JR~PS~HS".to_string()),
        Just("\u{1b}@\u{1d}V\u{0}\u{10}\u{4}\u{1}".to_string()),
        Just("\r\n\t\u{0}\u{7f}\u{85}\u{9b}".to_string()),
        Just("\u{202e}Ünïcödé 漢字 🚚".to_string()),
        Just("\"'[]{}=#\\,:".to_string()),
        "[0-9]{1,20}",
    ];
    proptest::collection::vec(pieces, 0..8).prop_map(move |v| {
        let mut s = v.concat();
        while s.len() > max {
            s.pop();
        }
        s
    })
}

/// Any JSON value (depth up to 4), with the keys of commands and orders among the keys so
/// the schema checks are reached, and hostile strings among the strings.
pub fn json_values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9 _.-]{0,12}".prop_map(Value::String),
        hostile_text(40).prop_map(Value::String),
        proptest::sample::select(&["label", "slip", "test", "zpl", "released", "2026-11-24T10:00:00.000Z"][..])
            .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(json_keys(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys of commands and orders, and others.
pub fn json_keys() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(
            &[
                "request_id", "order", "from", "to", "reason", "document", "printer", "copies", "sent_at", "id",
                "state", "lines", "line", "sku", "qty", "name", "barcodes", "ship_to", "label", "format", "data",
                "carrier", "tracking",
            ][..]
        )
        .prop_map(str::to_string),
        1 => "[a-z]{1,6}",
        1 => hostile_text(12),
    ]
}
