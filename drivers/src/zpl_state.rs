//! The format settings a Zebra keeps from one label to the next, the resets that put them
//! back to a known state, and a model of a printer that keeps them (for the simulator).
//!
//! A ZPL printer applies some settings to every later format until it is switched off, not
//! only to the format that sent them: label shift `^LS`, reverse `^LR`, mirror `^PM`,
//! orientation `^PO`, label top `^LT`, field orientation `^FW`, default font `^CF`, encoding
//! `^CI`, label home `^LH`, bar code defaults `^BY`, print width `^PW` and label length
//! `^LL` (ZPL II Programming Guide: "Once you have issued an ^LS command, the setting is
//! retained until you turn off the printer or send a new ^LS command to the printer").
//! So whatever printed before — a carrier's label, another program on the printer's port —
//! would shift, mirror or turn the station's next label.
//!
//! # Design constraints
//! - [`Settings::station`] is the one state every label the station sends starts from, and
//!   [`resets`] is the one place that writes it; [`with_resets`] puts it right after a
//!   format's `^XA` (the built-in label, a printer's template, a carrier's label). A format's
//!   own commands come after the resets, so a label still sets what it needs for itself.
//! - The known state is the printer's power-up state, except where the station has its own:
//!   UTF-8 (`^CI28`, as every text the station writes is UTF-8), label home 0,0 and the 4×6 in
//!   label (`^PW`/`^LL`) at the printer's resolution.
//! - [`Printer`] is pure: it is fed each job's bytes and records, per printed format, the
//!   settings in force when it printed (at its `^XZ`). Only format commands inside
//!   `^XA` … `^XZ` change the state; commands are read case-insensitively, and both `^` and
//!   `~` start a command, also inside field data (as the printer reads them).

use std::fmt::Write as _;

/// Label width and length the station prints, in mm (4 × 6 in).
pub const LABEL_WIDTH_MM: f64 = 101.6;
pub const LABEL_LENGTH_MM: f64 = 152.4;

/// Field orientation (`^FW`, `^PO`): normal, rotated 90°, inverted 180°, bottom-up 270°.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Normal,
    Rotated,
    Inverted,
    BottomUp,
}

impl Orientation {
    fn parse(c: char) -> Option<Orientation> {
        match c {
            'N' => Some(Orientation::Normal),
            'R' => Some(Orientation::Rotated),
            'I' => Some(Orientation::Inverted),
            'B' => Some(Orientation::BottomUp),
            _ => None,
        }
    }
}

/// The persistent format settings of a Zebra printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `^LS`: every field shifted left by this many dots.
    pub label_shift: i32,
    /// `^LR`: every field printed white on black.
    pub reverse: bool,
    /// `^PM`: the label printed as a mirror image.
    pub mirror: bool,
    /// `^PO`: the label printed upside down (`true` for `^POI`).
    pub inverted: bool,
    /// `^LT`: the label moved down (or up, negative) by this many dot rows.
    pub label_top: i32,
    /// `^FW`: orientation of fields that do not name one, and their justification (x.14).
    pub field_orientation: Orientation,
    pub field_justification: u8,
    /// `^CF`: default font, its height and width in dots.
    pub font: (char, u32, u32),
    /// `^CI`: character set (28 is UTF-8).
    pub encoding: u32,
    /// `^LH`: label home, x and y in dots.
    pub home: (i32, i32),
    /// `^BY`: module width in dots, wide-to-narrow ratio (tenths) and bar height in dots.
    pub bar_code: (u32, u32, u32),
    /// `^PW`: print width in dots; `None` is the width the printer was set up with.
    pub print_width: Option<u32>,
    /// `^LL`: label length in dots; `None` is the length the printer was set up with.
    pub label_length: Option<u32>,
}

impl Default for Settings {
    /// A printer just switched on (the guide's "Initial Value at Power-up" of each command).
    fn default() -> Settings {
        Settings {
            label_shift: 0,
            reverse: false,
            mirror: false,
            inverted: false,
            label_top: 0,
            field_orientation: Orientation::Normal,
            field_justification: 0,
            font: ('A', 9, 5),
            encoding: 0,
            home: (0, 0),
            bar_code: (2, 30, 10),
            print_width: None,
            label_length: None,
        }
    }
}

impl Settings {
    /// The state every label the station sends starts from, for a printer of `dpi`.
    pub fn station(dpi: u32) -> Settings {
        let dots = |mm: f64| (mm * f64::from(dpi) / 25.4).round() as u32;
        Settings {
            encoding: 28,
            print_width: Some(dots(LABEL_WIDTH_MM)),
            label_length: Some(dots(LABEL_LENGTH_MM)),
            ..Settings::default()
        }
    }

    /// Applies one format command (name in upper case, its parameters as sent); other
    /// commands leave the settings as they are. A parameter left out or out of range keeps
    /// its value, as the printer ignores it.
    pub fn apply(&mut self, name: &str, params: &str) {
        let p: Vec<&str> = params.split(',').map(str::trim).collect();
        let int = |i: usize| p.get(i).and_then(|s| s.parse::<i32>().ok());
        let uint = |i: usize| p.get(i).and_then(|s| s.parse::<u32>().ok());
        // A one-letter parameter is its first letter (`^PMY` and `^PMYes` alike).
        let letter = |i: usize| p.get(i).and_then(|s| s.chars().next()).map(|c| c.to_ascii_uppercase());
        let yes_no = |i: usize| match letter(i) {
            Some('Y') => Some(true),
            Some('N') => Some(false),
            _ => None,
        };
        match name {
            "LS" => self.label_shift = int(0).filter(|v| (-9999..=9999).contains(v)).unwrap_or(self.label_shift),
            "LR" => self.reverse = yes_no(0).unwrap_or(self.reverse),
            "PM" => self.mirror = yes_no(0).unwrap_or(self.mirror),
            "PO" => match letter(0) {
                Some('N') => self.inverted = false,
                Some('I') => self.inverted = true,
                _ => {}
            },
            "LT" => self.label_top = int(0).filter(|v| (-120..=120).contains(v)).unwrap_or(self.label_top),
            "FW" => {
                if let Some(o) = letter(0).and_then(Orientation::parse) {
                    self.field_orientation = o;
                }
                if let Some(j) = uint(1).filter(|j| *j <= 2) {
                    self.field_justification = j as u8;
                }
            }
            "CF" => {
                if let Some(f) = p[0].chars().next().filter(char::is_ascii_alphanumeric) {
                    self.font.0 = f.to_ascii_uppercase();
                }
                self.font.1 = uint(1).unwrap_or(self.font.1);
                self.font.2 = uint(2).unwrap_or(self.font.2);
            }
            "CI" => self.encoding = uint(0).unwrap_or(self.encoding),
            "LH" => self.home = (int(0).unwrap_or(self.home.0), int(1).unwrap_or(self.home.1)),
            "BY" => {
                let ratio = p.get(1).and_then(|s| s.parse::<f64>().ok()).map(|r| (r * 10.0).round() as u32);
                self.bar_code = (
                    uint(0).unwrap_or(self.bar_code.0),
                    ratio.unwrap_or(self.bar_code.1),
                    uint(2).unwrap_or(self.bar_code.2),
                );
            }
            "PW" => self.print_width = uint(0).or(self.print_width),
            "LL" => self.label_length = uint(0).or(self.label_length),
            _ => {}
        }
    }
}

/// The commands that put a printer of `dpi` into [`Settings::station`], whatever an earlier
/// format left set. Written once here for every label the station sends.
pub fn resets(dpi: u32) -> String {
    let s = Settings::station(dpi);
    let mut out = String::with_capacity(96);
    let _ = write!(
        out,
        "^LS{}^LRN^PMN^PON^LT{}^FWN,{}^CF{},{},{}^CI{}^LH{},{}^BY{},{}.{},{}",
        s.label_shift,
        s.label_top,
        s.field_justification,
        s.font.0,
        s.font.1,
        s.font.2,
        s.encoding,
        s.home.0,
        s.home.1,
        s.bar_code.0,
        s.bar_code.1 / 10,
        s.bar_code.1 % 10,
        s.bar_code.2
    );
    if let (Some(w), Some(l)) = (s.print_width, s.label_length) {
        let _ = write!(out, "^PW{w}^LL{l}");
    }
    out
}

/// `zpl` with [`resets`] right after its first `^XA` (found case-insensitively); a text
/// without `^XA` is returned as it is (the printer would print nothing of it).
pub fn with_resets(zpl: &[u8], dpi: u32) -> Vec<u8> {
    let Some(at) = zpl.windows(3).position(|w| w.eq_ignore_ascii_case(b"^XA")) else {
        return zpl.to_vec();
    };
    let resets = resets(dpi);
    let mut out = Vec::with_capacity(zpl.len() + resets.len());
    out.extend_from_slice(&zpl[..at + 3]);
    out.extend_from_slice(resets.as_bytes());
    out.extend_from_slice(&zpl[at + 3..]);
    out
}

/// One printed format and the settings in force when it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// The job it came in (counted from 0).
    pub job: usize,
    pub settings: Settings,
}

/// A model of a Zebra's persistent format state across jobs.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    settings: Settings,
    jobs: usize,
    printed: Vec<Printed>,
}

impl Printer {
    /// A printer just switched on.
    pub fn new() -> Printer {
        Printer::default()
    }

    /// Reads one job: each `^XA` … `^XZ` format changes the settings and prints with them.
    pub fn feed(&mut self, job: &[u8]) {
        let mut inside = false;
        let mut i = 0;
        while i < job.len() {
            if job[i] != b'^' && job[i] != b'~' {
                i += 1;
                continue;
            }
            let end = job[i + 1..].iter().position(|&c| c == b'^' || c == b'~').map_or(job.len(), |p| i + 1 + p);
            let body = String::from_utf8_lossy(&job[i + 1..end]);
            let name: String = body.chars().take(2).collect::<String>().to_ascii_uppercase();
            let params = body.get(2..).unwrap_or("");
            match (job[i], name.as_str()) {
                (b'^', "XA") => inside = true,
                (b'^', "XZ") if inside => {
                    inside = false;
                    self.printed.push(Printed { job: self.jobs, settings: self.settings.clone() });
                }
                (b'^', _) if inside => self.settings.apply(&name, params),
                _ => {}
            }
            i = end;
        }
        self.jobs += 1;
    }

    /// The settings now in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every format printed so far, in order.
    pub fn printed(&self) -> &[Printed] {
        &self.printed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOSTILE: &[u8] = b"^XA^LS9999^LRY^PMY^POI^LT120^FWR,1^CFD,40,20^CI27^LH50,60^BY5,2.5,99^PW400^LL300\
        ^FO10,10^FDhostile^FS^XZ";

    #[test]
    fn a_setting_persists_into_the_next_job() {
        let mut p = Printer::new();
        p.feed(HOSTILE);
        p.feed(b"^XA^FO10,10^A0N,30,30^FDnext^FS^XZ");
        let next = &p.printed()[1].settings;
        assert_eq!(p.printed()[1].job, 1);
        assert_eq!(
            (next.label_shift, next.reverse, next.mirror, next.inverted, next.label_top),
            (9999, true, true, true, 120)
        );
        assert_eq!((next.field_orientation, next.field_justification), (Orientation::Rotated, 1));
        assert_eq!((next.font, next.encoding, next.home), (('D', 40, 20), 27, (50, 60)));
        assert_eq!((next.bar_code, next.print_width, next.label_length), ((5, 25, 99), Some(400), Some(300)));
    }

    #[test]
    fn the_station_resets_restore_its_known_state_after_any_earlier_job() {
        for dpi in [203, 300, 600] {
            let mut p = Printer::new();
            p.feed(HOSTILE);
            p.feed(&with_resets(b"^XA\n^FO10,10^FDstation^FS\n^XZ\n", dpi));
            assert_eq!(p.printed()[1].settings, Settings::station(dpi), "{dpi} dpi");
        }
        assert_eq!(Settings::station(203).print_width, Some(812));
        assert_eq!(Settings::station(203).label_length, Some(1218));
    }

    #[test]
    fn the_known_state_is_power_up_but_for_utf8_home_and_the_label_size() {
        let mut p = Printer::new();
        p.feed(resets(300).replace("^CI28", "^CI0").replace("^PW1200^LL1800", "").as_bytes());
        p.feed(format!("^XA{}^XZ", resets(300).replace("^CI28", "^CI0").replace("^PW1200^LL1800", "")).as_bytes());
        // Outside a format nothing changes; inside, the same commands print power-up settings.
        assert_eq!(p.printed().len(), 1);
        assert_eq!(p.printed()[0].settings, Settings::default());
        assert_eq!(resets(203), "^LS0^LRN^PMN^PON^LT0^FWN,0^CFA,9,5^CI28^LH0,0^BY2,3.0,10^PW812^LL1218");
    }

    #[test]
    fn a_format_sets_its_own_settings_after_the_resets() {
        let label = with_resets(b"  ^xa^CI0^PW600^FO1,1^FDx^FS^XZ", 203);
        assert!(label.starts_with(b"  ^xa^LS0^LRN"), "{}", String::from_utf8_lossy(&label));
        let mut p = Printer::new();
        p.feed(&label);
        let s = &p.printed()[0].settings;
        assert_eq!((s.encoding, s.print_width, s.label_length), (0, Some(600), Some(1218)));
        assert_eq!(with_resets(b"no format", 203), b"no format");
    }

    #[test]
    fn commands_outside_a_format_and_bad_parameters_change_nothing() {
        let mut p = Printer::new();
        p.feed(b"^LS50^POI ~JR ^XA^LSx^PMQ^POZ^LT500^FWQ^XZ^LRY");
        assert_eq!(p.printed()[0].settings, Settings::default());
        assert_eq!(p.settings(), &Settings::default());
    }

    #[test]
    fn a_command_inside_field_data_is_read_as_a_command() {
        let mut p = Printer::new();
        p.feed(b"^XA^FO1,1^FDhello ^PMY world^FS^XZ");
        assert!(p.printed()[0].settings.mirror);
    }

    proptest! {
        /// Whatever jobs came before, a label with the station's resets prints in the
        /// station's known state.
        #[test]
        fn resets_win_over_any_earlier_jobs(
            jobs in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![
                    proptest::sample::select(&["^XA", "^XZ", "^LS", "^LR", "^PM", "^PO", "^LT", "^FW", "^CF", "^CI", "^LH", "^BY", "^PW", "^LL", "^FD", "~JR"][..]).prop_map(str::to_string),
                    "[-0-9A-Za-z,.]{0,6}",
                ], 0..30).prop_map(|p| p.concat()),
                0..4,
            ),
            dpi in proptest::sample::select(&[203u32, 300, 600][..]),
        ) {
            let mut p = Printer::new();
            for j in &jobs {
                p.feed(j.as_bytes());
            }
            let before = p.printed().len();
            p.feed(&with_resets(b"^XA^FO1,1^FDx^FS^XZ", dpi));
            prop_assert_eq!(p.printed().len(), before + 1);
            prop_assert_eq!(&p.printed()[before].settings, &Settings::station(dpi));
        }
    }
}
