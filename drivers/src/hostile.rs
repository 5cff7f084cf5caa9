//! Inputs for the property tests of code that meets outside bytes: what a broken scanner,
//! a hostile order or a confused printer sends. One place, so each parser is tested
//! against the same nastiness.

use proptest::prelude::*;

/// Text as a hostile or broken source sends it: control bytes, ZPL and ESC/POS command
/// starts, the GS1 separator, quotes, brackets, long runs and any unicode.
pub fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "\\PC{0,12}",
        "[\\x00-\\x1f\\x7f]{1,4}",
        Just("^XZ^XA^FO0,0^FDX^FS".to_string()),
        Just("~JR~PS~HS".to_string()),
        Just("_5E_7E_".to_string()),
        Just("\u{1b}@\u{1d}V\u{0}\u{10}\u{4}\u{1}".to_string()),
        Just("\r\n\t\u{0}\u{7f}\u{85}\u{9b}".to_string()),
        Just("\u{202e}Ünïcödé 漢字 🚚".to_string()),
        Just("\"'[]{}=#\\".to_string()),
        "[0-9]{1,20}",
    ];
    proptest::collection::vec(pieces, 0..8).prop_map(move |v| truncate(v.concat(), max))
}

/// Bytes from a scanner line: mostly barcode characters, with suffixes, the GS1 separator,
/// other control bytes and bytes that are not UTF-8 mixed in.
pub fn scanner_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    // Drawn as plain bytes (cheap to generate and shrink) and mapped onto the mix.
    let mix = |b: u8| match b {
        0..=149 => 0x20 + b % 95,
        150..=169 => b"\r\n\t"[usize::from(b % 3)],
        170..=184 => crate::framing::GS,
        other => other.wrapping_mul(7),
    };
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(move |v| v.into_iter().map(mix).collect())
}

/// `data` cut at `cuts` (positions taken modulo the length, in any order).
pub fn split_at_cuts<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for c in at {
        out.push(&data[from..c]);
        from = c;
    }
    out.push(&data[from..]);
    out
}

/// The `^`/`~` commands of a ZPL label, in order, each with its two-letter name.
pub fn zpl_commands(label: &[u8]) -> Vec<Vec<u8>> {
    (0..label.len())
        .filter(|&i| label[i] == b'^' || label[i] == b'~')
        .map(|i| label[i..(i + 3).min(label.len())].to_vec())
        .collect()
}

fn truncate(mut s: String, max: usize) -> String {
    while s.len() > max {
        s.pop();
    }
    s
}
