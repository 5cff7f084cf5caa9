//! The one place for the inputs of the property tests of code that meets outside input:
//! what a hostile cloud, a broken broker, a careless admin, a broken scanner, a hostile
//! order or a confused printer sends. Every parser and renderer of `stationd` and
//! `stationd-drivers` is tested against the same nastiness, so it is written once, here.
//!
//! It owns the hostile text and byte generators ([`hostile_text`], [`scanner_bytes`]), the
//! JSON ones ([`json_values`], [`json_keys`]), cutting a stream into chunks
//! ([`split_at_cuts`]) and reading back a ZPL label's commands ([`zpl_commands`]); and the
//! pseudo-terminals that stand in for serial scanners and printers ([`open_pty`]).
//!
//! Dev-only (`publish = false`) and depends on proptest, serde_json and libc only, not on
//! `stationd` or `stationd-drivers`, so both use it as a dev-dependency without cycles.

use proptest::prelude::*;
use serde_json::Value;

/// ASCII group separator (0x1D): the FNC1 stand-in inside GS1 element strings.
pub const GS: u8 = 0x1D;

/// Text as a hostile or broken source sends it: control bytes, ZPL and ESC/POS command
/// starts, `^FH` escapes, the GS1 separator, quotes, brackets, TOML and JSON punctuation,
/// long runs of digits and any unicode. At most `max` bytes.
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
        Just("\"'[]{}=#\\,:".to_string()),
        "[0-9]{1,20}",
    ];
    proptest::collection::vec(pieces, 0..8).prop_map(move |v| truncate(v.concat(), max))
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

/// Bytes from a scanner line: mostly barcode characters, with suffixes, the GS1 separator,
/// other control bytes and bytes that are not UTF-8 mixed in. Fewer than `max` bytes.
pub fn scanner_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    // Drawn as plain bytes (cheap to generate and shrink) and mapped onto the mix.
    let mix = |b: u8| match b {
        0..=149 => 0x20 + b % 95,
        150..=169 => b"\r\n\t"[usize::from(b % 3)],
        170..=184 => GS,
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

/// The `^`/`~` commands of a ZPL label, in order, each with its two-letter name: what a
/// field value must never change.
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

/// A pseudo-terminal: the test plays the device on `master`; the code under test opens
/// `name` (the slave's path). `slave` stays open so the PTY lives as long as this does.
pub struct OpenPty {
    pub master: std::fs::File,
    pub slave: std::fs::File,
    pub name: String,
}

/// Opens a PTY (both ends close-on-exec, so a spawned daemon sees it go away when the test
/// drops it); `raw` puts the slave in raw mode (no echo, no line editing), as a serial port.
pub fn open_pty(raw: bool) -> OpenPty {
    use std::os::fd::FromRawFd;
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty fills two fds we then own.
    let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty failed: {}", std::io::Error::last_os_error());
    // SAFETY: both fds come from openpty and are owned from here on.
    let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s)) };
    // SAFETY: fcntl/termios calls on fds we own, into a local struct.
    unsafe {
        libc::fcntl(m, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(s, libc::F_SETFD, libc::FD_CLOEXEC);
        if raw {
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(s, &mut t);
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(s, libc::TCSANOW, &t);
        }
    }
    // `ttyname_r`, not `ttyname`: tests run on parallel threads and `ttyname` returns a
    // static buffer, so two tests opening PTYs at once could both get the same name (a
    // daemon then read another test's scanner, and its own scans went nowhere).
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: `s` is an open tty fd; `buf` is ours and its length is passed.
    let rc = unsafe { libc::ttyname_r(s, buf.as_mut_ptr(), buf.len()) };
    assert_eq!(rc, 0, "ttyname_r failed");
    // SAFETY: ttyname_r wrote a NUL-terminated name into `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    OpenPty { master, slave, name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_every_byte_in_order() {
        let parts = split_at_cuts(b"abcdef", &[4, 9, 5]);
        assert_eq!(parts, vec![&b"ab"[..], b"cd", b"e", b"f"]);
        assert_eq!(parts.concat(), b"abcdef");
    }

    #[test]
    fn zpl_commands_are_the_caret_and_tilde_commands_in_order() {
        assert_eq!(
            zpl_commands(b"^XA^FDa~b^FS^X"),
            vec![b"^XA".to_vec(), b"^FD".to_vec(), b"~b^".to_vec(), b"^FS".to_vec(), b"^X".to_vec()]
        );
    }

    proptest! {
        #[test]
        fn hostile_text_is_at_most_max_bytes(s in hostile_text(17)) {
            prop_assert!(s.len() <= 17);
        }
    }
}
