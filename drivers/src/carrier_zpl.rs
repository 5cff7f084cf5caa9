//! The allowlist for ZPL that comes from outside (a carrier label in an order, or fetched
//! from the order system): it may draw one label, and nothing else.
//!
//! A ZPL printer obeys every command it is sent. `~JR` resets it, `^JUF` restores factory
//! settings, `^ND` changes its network settings, `^KP` its password, `~DG`/`^DF` write its
//! memory, `^PQ99` prints 99 copies, and `^LS`, `^LR`, `^PM`, `^PO`, `^LT` shift, reverse,
//! mirror, turn or move every later label until the printer is switched off. One compromised
//! account upstream must not be able to do that to every station's printer, so carrier ZPL
//! is checked before it is stored or sent:
//!
//! - only the label-drawing commands in [`ALLOWED`] (fields, fonts, barcodes, graphics, the
//!   size and home of this label) — every tilde (`~`) command is refused, as they act on the
//!   printer at once, and so is every setting the printer keeps for later labels that the
//!   station does not put back itself ([`LASTING`]; docs/DEVICES.md lists each decision);
//! - exactly one format, `^XA` … `^XZ`, and nothing but white space around it;
//! - `^PQ` only with a quantity of 1 (a label prints once; reprints are asked for);
//! - no control bytes but CR, LF and TAB (no ESC, no NUL).
//!
//! The allowed commands that also outlast the label (`^CI`, `^CF`, `^FW`, `^BY`, `^LH`,
//! `^PW`, `^LL`) are put back before every label the station sends
//! ([`crate::zpl_state::resets`]), so a carrier's label cannot change the next one.
//!
//! Both `^` and `~` start a command everywhere, also inside `^FD` data (that is how the
//! printer reads it), so the check splits on both and sees every command the printer will.

use std::fmt;

/// Commands (after `^`) that only draw a label. `A` stands for every font selection
/// (`^A0`, `^AD`, `^A@`). `CF CI FW BY LH LL PW` outlast the label on the printer, and the
/// station resets them before each of its labels.
pub const ALLOWED: &[&str] = &[
    // Format and fields.
    "XA", "XZ", "FO", "FT", "FD", "FS", "FH", "FB", "FR", "FW", "FX", "FP", "FV", "FM", // Fonts and encoding.
    "A", "CF", "CI", // Barcodes and their defaults.
    "BY", "B0", "B1", "B2", "B3", "B4", "B5", "B7", "B8", "B9", "BA", "BB", "BC", "BD", "BE", "BF", "BI", "BJ", "BK",
    "BL", "BM", "BO", "BP", "BQ", "BR", "BS", "BT", "BU", "BX", "BZ",
    // Graphics drawn in this label (not stored).
    "GB", "GC", "GD", "GE", "GF", "GS", // Layout of this label.
    "LH", "LL", "PW", // Quantity: 1 only (checked below).
    "PQ",
];

/// Settings a printer keeps for every later label, refused in a carrier label with what they
/// would change (their command and what the refusal says). Other printer settings (`^MD`,
/// `^PR`, `^MU`, `^JM`, `^MN`, `^MT`, `^MM`, `^CW`, `^SZ`…) are refused as not drawing.
pub const LASTING: &[(&str, &str)] = &[
    ("LS", "label shift"),
    ("LR", "reverse printing"),
    ("PM", "mirror printing"),
    ("PO", "print orientation"),
    ("LT", "label top"),
];

/// The same rules as [`check`], as an ECMAScript regular expression for the contract's JSON
/// Schema (`order.label.data`), so a cloud's validator refuses such a label before sending it.
/// Made from [`ALLOWED`]; a property test holds it to [`check`].
pub fn schema_pattern() -> String {
    // A command's parameters: anything up to the next command, no control byte but CR LF TAB.
    const BODY: &str = r"[^\^~\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*";
    const SPACE: &str = r"[ \t\r\n]*";
    let either = |c: char| {
        if c.is_ascii_alphabetic() {
            format!("{}{}", c.to_ascii_uppercase(), c.to_ascii_lowercase())
        } else {
            c.to_string()
        }
    };
    let command = |name: &str| name.chars().map(|c| format!("[{}]", either(c))).collect::<String>();
    // Drawing commands, grouped by their first letter: `[Ll][HLRSThlrst]`.
    let mut groups: Vec<(char, String)> = Vec::new();
    for name in ALLOWED.iter().filter(|n| !matches!(**n, "XA" | "XZ" | "PQ")) {
        let mut chars = name.chars();
        let first = chars.next().expect("a command name");
        let rest: String = chars.map(either).collect();
        match groups.iter_mut().find(|(f, _)| *f == first) {
            Some((_, seconds)) => seconds.push_str(&rest),
            None => groups.push((first, rest)),
        }
    }
    let drawing: Vec<String> = groups
        .iter()
        .map(|(first, seconds)| {
            if seconds.is_empty() {
                format!("[{}]", either(*first))
            } else {
                format!("[{}][{seconds}]", either(*first))
            }
        })
        .collect();
    let quantity = format!(r"\^{}{SPACE}(?:0*1{SPACE})?(?:,{BODY})?", command("PQ"));
    let end = format!(r"\^{}{BODY}", command("XZ"));
    let between = format!("(?:{end}|{quantity})*");
    format!(
        r"^{SPACE}{between}\^{}{BODY}(?:\^(?:{}){BODY}|{quantity})*{end}{between}$",
        command("XA"),
        drawing.join("|")
    )
}

/// Why a carrier label was refused; the message names the command and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A command outside [`ALLOWED`].
    Command { command: String, at: usize },
    /// `^PQ` asking for more than one copy.
    Copies { copies: String, at: usize },
    /// A control byte other than CR, LF, TAB.
    ControlByte { byte: u8, at: usize },
    /// Not exactly one `^XA` … `^XZ` format.
    Formats { found: usize },
    /// Text outside the format.
    Outside { at: usize },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Command { command, at } if command.starts_with('~') => write!(
                f,
                "{command} at byte {at} is a printer control command (tilde commands act on the printer itself); a carrier label may only draw"
            ),
            Refusal::Command { command, at } if lasting(command).is_some() => write!(
                f,
                "{command} at byte {at} changes {}, which the printer keeps for every later label until it is switched off; a carrier label may only draw",
                lasting(command).unwrap_or_default()
            ),
            Refusal::Command { command, at } => write!(
                f,
                "{command} at byte {at} is not a label-drawing command (it changes printer settings, memory, network, passwords or firmware, or is unknown); a carrier label may only draw"
            ),
            Refusal::Copies { copies, at } => write!(
                f,
                "^PQ{copies} at byte {at} asks for more than one copy; a label prints once (reprints are asked for explicitly)"
            ),
            Refusal::ControlByte { byte, at } => {
                write!(f, "control byte 0x{byte:02X} at byte {at} is not allowed in a ZPL label")
            }
            Refusal::Formats { found } => {
                write!(f, "a carrier label must be exactly one ^XA ... ^XZ format, found {found}")
            }
            Refusal::Outside { at } => write!(f, "text at byte {at} is outside the ^XA ... ^XZ format"),
        }
    }
}

impl std::error::Error for Refusal {}

/// What a refused `^` command shown as `command` would keep changing, if it is in [`LASTING`].
fn lasting(command: &str) -> Option<&'static str> {
    let name = command.strip_prefix('^')?.get(..2)?.to_ascii_uppercase();
    LASTING.iter().find(|(n, _)| *n == name).map(|(_, what)| *what)
}

/// Checks carrier ZPL against the allowlist; `Ok` means it only draws one label.
pub fn check(zpl: &[u8]) -> Result<(), Refusal> {
    if let Some(at) = zpl.iter().position(|&b| (b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t')) || b == 0x7F) {
        return Err(Refusal::ControlByte { byte: zpl[at], at });
    }
    let mut formats = 0;
    let mut inside = false;
    let mut i = 0;
    while i < zpl.len() {
        let b = zpl[i];
        if b != b'^' && b != b'~' {
            if !inside && !b.is_ascii_whitespace() {
                return Err(Refusal::Outside { at: i });
            }
            i += 1;
            continue;
        }
        let end = zpl[i + 1..].iter().position(|&c| c == b'^' || c == b'~').map_or(zpl.len(), |p| i + 1 + p);
        let body = &zpl[i + 1..end];
        let code: String = body.iter().take(2).map(|&c| c.to_ascii_uppercase() as char).collect();
        let shown = || {
            let context: String =
                String::from_utf8_lossy(body).chars().take_while(|c| !c.is_whitespace()).take(6).collect();
            format!("{}{context}", b as char)
        };
        if b == b'~' {
            return Err(Refusal::Command { command: shown(), at: i });
        }
        let name = if code.starts_with('A') { "A" } else { code.as_str() };
        if !ALLOWED.contains(&name) {
            return Err(Refusal::Command { command: shown(), at: i });
        }
        match name {
            "XA" => {
                if inside {
                    return Err(Refusal::Formats { found: formats + 1 });
                }
                inside = true;
                formats += 1;
            }
            "XZ" => inside = false,
            "PQ" => {
                let copies = String::from_utf8_lossy(&body[2..]).split(',').next().unwrap_or("").trim().to_string();
                if !copies.is_empty() && copies.trim_start_matches('0') != "1" {
                    return Err(Refusal::Copies { copies, at: i });
                }
            }
            _ if !inside => return Err(Refusal::Outside { at: i }),
            _ => {}
        }
        i = end;
    }
    if formats != 1 || inside {
        return Err(Refusal::Formats { found: formats });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The schema's pattern and the check agree on labels made of allowed and refused
        /// commands, quantities, text outside the format, tildes and control bytes.
        #[test]
        fn the_schema_pattern_accepts_exactly_what_the_check_accepts(
            parts in proptest::collection::vec(prop_oneof![
                4 => proptest::sample::select(ALLOWED).prop_map(|c| format!("^{c}")),
                2 => proptest::sample::select(ALLOWED).prop_map(|c| format!("^{}", c.to_ascii_lowercase())),
                3 => Just("^XA".to_string()),
                3 => Just("^XZ".to_string()),
                1 => proptest::sample::select(&["^PQ1", "^PQ2", "^PQ 01 ", "^PQ1,0,1", "^PQ", "^PQ10", "^pq001"][..]).prop_map(str::to_string),
                1 => proptest::sample::select(&["^JUF", "~JR", "^ND", "^KP", "^", "~", "^DF", "^A0N", "^A@", "^B6", "^CC", "^LS9999", "^LRY", "^pmy", "^POI", "^LT120", "^MUI"][..]).prop_map(str::to_string),
                3 => "[ a-zA-Z0-9,.:\r\n\t]{0,6}",
                1 => proptest::sample::select(&["\u{1b}", "\u{0}", "\u{7f}", "é", "\u{b}"][..]).prop_map(str::to_string),
            ], 0..10)
        ) {
            let label = parts.concat();
            let pattern = regex::Regex::new(&schema_pattern()).unwrap();
            prop_assert_eq!(pattern.is_match(&label), check(label.as_bytes()).is_ok(), "{:?}", label);
        }
    }

    /// A carrier label of the kind carriers send: fields, fonts, barcodes, a hex graphic.
    const CARRIER: &str = "^XA\r\n^CI28^PW812^LL1218^LH0,0\n^FO50,50^GB700,3,3^FS\n^FO60,80^A0N,30,30^FDDHL Paket^FS\n\
        ^FO60,130^ADN,18,10^FH^FDMüller_5F Straße^FS\n^BY3,2,120^FO60,200^BCN,,Y,N^FD>;JJD0000000001^FS\n\
        ^FO60,400^BQN,2,5^FDQA,https://track.example/JJD1^FS\n^FO600,50^GFA,8,8,1,FF00FF00FF00FF00^FS\n\
        ^FX comment^FS^PQ1,0,1,Y^XZ\r\n";

    #[test]
    fn a_label_that_only_draws_passes() {
        assert_eq!(check(CARRIER.as_bytes()), Ok(()));
    }

    #[test]
    fn printer_settings_memory_network_and_passwords_are_refused_by_name() {
        for (cmd, shown) in [
            ("~JR", "~JR"),
            ("^JUF", "^JUF"),
            ("^NDx", "^NDx"),
            ("^NC2", "^NC2"),
            ("~JA", "~JA"),
            ("^KP1234", "^KP1234"),
            ("~DGR:X.GRF,4,1,FF", "~DGR:X."),
            ("^DFR:F.ZPL", "^DFR:F."),
            ("^MD30", "^MD30"),
            ("^CC+", "^CC+"),
            ("^SZ1", "^SZ1"),
            ("^HH", "^HH"),
            ("~HS", "~HS"),
            ("^IDR:*.*", "^IDR:*."),
            ("^LS9999", "^LS9999"),
            ("^LRY", "^LRY"),
            ("^PMY", "^PMY"),
            ("^POI", "^POI"),
            ("^LT120", "^LT120"),
        ] {
            let label = CARRIER.replace("^FX comment^FS", &format!("^FO1,1{cmd}^FS"));
            let at = label.find(cmd).unwrap();
            match check(label.as_bytes()) {
                Err(Refusal::Command { command, at: found }) => {
                    assert_eq!((command.as_str(), found), (shown, at), "{cmd}");
                }
                other => panic!("{cmd}: {other:?}"),
            }
        }
    }

    /// Settings a printer keeps for every later label (label shift, reverse, mirror,
    /// orientation, label top) and its configuration, wherever they stand.
    #[test]
    fn settings_that_outlast_the_label_are_refused_by_name_also_inside_field_data() {
        for cmd in [
            "^LS9999", "^LS-20", "^LRY", "^LRN", "^PMY", "^POI", "^PON", "^LT120", "^lt-5", "^MUI", "^JMB", "^MD30",
            "^PR2",
        ] {
            for label in [
                format!("^XA{cmd}^FO1,1^FDx^FS^XZ"),
                format!("^XA^FO1,1^FDx^FS{cmd}^XZ"),
                format!("^XA^FO1,1^FDa {cmd} b^FS^XZ"),
                CARRIER.replace("^FX comment^FS", &format!("^FO1,1{cmd}^FS")),
            ] {
                let at = label.find(cmd).unwrap();
                match check(label.as_bytes()) {
                    Err(e @ Refusal::Command { .. }) => {
                        assert_eq!(e, Refusal::Command { command: cmd.to_string(), at }, "{label}");
                        assert!(e.to_string().starts_with(&format!("{cmd} at byte {at} ")), "{e}");
                    }
                    other => panic!("{label}: {other:?}"),
                }
            }
        }
        let e = check(b"^XA^FO1,1^FDx^FS^POI^XZ").unwrap_err();
        assert_eq!(
            e.to_string(),
            "^POI at byte 16 changes print orientation, which the printer keeps for every later label until it is switched off; a carrier label may only draw"
        );
    }

    #[test]
    fn a_tilde_inside_field_data_is_a_command_too() {
        let e = check(b"^XA^FO1,1^FDhello ~JR world^FS^XZ").unwrap_err();
        assert!(e.to_string().starts_with("~JR at byte 18 is a printer control command"), "{e}");
    }

    #[test]
    fn control_bytes_and_extra_copies_and_second_formats_are_refused() {
        let e = check(b"^XA^FO1,1^FD\x1b@^FS^XZ").unwrap_err();
        assert_eq!(e.to_string(), "control byte 0x1B at byte 12 is not allowed in a ZPL label");
        assert!(matches!(check(b"^XA^FDa\0^FS^XZ"), Err(Refusal::ControlByte { byte: 0, at: 7 })));
        assert_eq!(check(b"^XA^PQ2^XZ"), Err(Refusal::Copies { copies: "2".into(), at: 3 }));
        assert_eq!(check(b"^XA^PQ01,0,1^XZ"), Ok(()));
        assert_eq!(check(b"^XA^XZ^XA^XZ"), Err(Refusal::Formats { found: 2 }));
        assert_eq!(check(b"^XA^FDx^FS"), Err(Refusal::Formats { found: 1 }));
        assert_eq!(check(b"  "), Err(Refusal::Formats { found: 0 }));
        assert_eq!(check(b"junk^XA^XZ"), Err(Refusal::Outside { at: 0 }));
        assert_eq!(check(b"^XA^XZ^FO1,1"), Err(Refusal::Outside { at: 6 }));
    }

    proptest! {
        /// A setting the printer keeps for later labels is refused at its byte wherever it
        /// stands: between commands or inside a command's data (`^FDa^LS9999b`).
        #[test]
        fn a_lasting_setting_is_refused_wherever_it_stands(
            cmds in proptest::collection::vec(allowed_command(), 1..20),
            lasting in proptest::sample::select(&["^LS9999", "^LS0", "^LRY", "^LRN", "^PMY", "^PMN", "^POI", "^PON", "^LT120", "^LT0", "^ls5", "^poi"][..]),
            at in any::<proptest::sample::Index>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut parts = cmds.clone();
            let k = at.index(parts.len());
            // Inside the k-th command, after its name: in its parameters or field data.
            let host = &parts[k];
            let name_len = if host.starts_with("^A") { 3.min(host.len()) } else { 3 };
            let split = name_len + cut.index(host.len() - name_len + 1);
            let offset = 3 + parts[..k].iter().map(String::len).sum::<usize>() + split;
            parts[k] = format!("{}{lasting}{}", &host[..split], &host[split..]);
            let label = format!("^XA{}^XZ", parts.concat());
            match check(label.as_bytes()) {
                Err(Refusal::Command { at, command }) => {
                    prop_assert_eq!(at, offset, "{}", label);
                    prop_assert!(command.to_ascii_uppercase().starts_with(&lasting.to_ascii_uppercase()), "{} {}", command, label);
                }
                other => prop_assert!(false, "{lasting} in {label} not refused: {other:?}"),
            }
        }
    }

    fn allowed_command() -> impl Strategy<Value = String> {
        let names: Vec<&str> = ALLOWED.iter().copied().filter(|n| !matches!(*n, "XA" | "XZ" | "PQ")).collect();
        (proptest::sample::select(names), "[0-9A-Za-z ,.:>;]{0,12}").prop_map(|(n, args)| {
            let n = if n == "A" { "A0" } else { n };
            format!("^{n}{args}")
        })
    }

    proptest! {
        #[test]
        fn drawing_commands_pass_and_any_other_command_is_refused_where_it_stands(
            cmds in proptest::collection::vec(allowed_command(), 0..30),
            bad in "[~^][A-Z@0-9]{2}[0-9,]{0,4}",
            at in any::<proptest::sample::Index>(),
        ) {
            let body: String = cmds.concat();
            let good = format!("^XA{body}^XZ");
            prop_assert_eq!(check(good.as_bytes()), Ok(()));
            let upper = bad[1..3].to_ascii_uppercase();
            let allowed = bad.starts_with('^')
                && (ALLOWED.contains(&upper.as_str()) || upper.starts_with('A'));
            prop_assume!(!allowed);
            let mut parts = cmds.clone();
            let k = at.index(parts.len() + 1);
            parts.insert(k, bad.clone());
            let label = format!("^XA{}^XZ", parts.concat());
            let offset = 3 + parts[..k].iter().map(String::len).sum::<usize>();
            match check(label.as_bytes()) {
                Err(Refusal::Command { at, .. }) => prop_assert_eq!(at, offset),
                other => prop_assert!(false, "{bad} not refused: {other:?}"),
            }
        }
    }
}
