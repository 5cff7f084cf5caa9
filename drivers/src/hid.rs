//! USB HID keyboard-wedge scanners: Linux input key events in, bytes out, without I/O.
//!
//! A scanner in keyboard mode "types" each code as key presses. The keys are decoded by
//! their *physical* key code with a fixed US map — the layout the scanners emulate — so the
//! result does not depend on the keyboard layout configured on the box. Shift and Caps Lock
//! are applied; Enter and Tab come out as CR and TAB for the framer. The GS1 group
//! separator arrives as Ctrl+] or as Alt + keypad `0029`, and both become 0x1D.

/// Key event values from the kernel.
const RELEASE: i32 = 0;
const PRESS: i32 = 1;

const KEY_LEFTCTRL: u16 = 29;
const KEY_RIGHTCTRL: u16 = 97;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_LEFTALT: u16 = 56;
const KEY_RIGHTALT: u16 = 100;
const KEY_CAPSLOCK: u16 = 58;
const KEY_RIGHTBRACE: u16 = 27;

/// (unshifted, shifted) of the US layout by Linux key code.
fn us_key(code: u16) -> Option<(u8, u8)> {
    const DIGITS: &[u8; 10] = b"1234567890";
    const SHIFTED_DIGITS: &[u8; 10] = b"!@#$%^&*()";
    Some(match code {
        2..=11 => (DIGITS[(code - 2) as usize], SHIFTED_DIGITS[(code - 2) as usize]),
        12 => (b'-', b'_'),
        13 => (b'=', b'+'),
        15 => (b'\t', b'\t'),
        16..=25 => letter(b"qwertyuiop"[(code - 16) as usize]),
        26 => (b'[', b'{'),
        27 => (b']', b'}'),
        28 | 96 => (b'\r', b'\r'),
        30..=38 => letter(b"asdfghjkl"[(code - 30) as usize]),
        39 => (b';', b':'),
        40 => (b'\'', b'"'),
        41 => (b'`', b'~'),
        43 => (b'\\', b'|'),
        44..=50 => letter(b"zxcvbnm"[(code - 44) as usize]),
        51 => (b',', b'<'),
        52 => (b'.', b'>'),
        53 => (b'/', b'?'),
        55 => (b'*', b'*'),
        57 => (b' ', b' '),
        74 => (b'-', b'-'),
        78 => (b'+', b'+'),
        83 => (b'.', b'.'),
        98 => (b'/', b'/'),
        c => return keypad_digit(c).map(|d| (b'0' + d, b'0' + d)),
    })
}

fn letter(c: u8) -> (u8, u8) {
    (c, c.to_ascii_uppercase())
}

fn keypad_digit(code: u16) -> Option<u8> {
    Some(match code {
        82 => 0,
        79 => 1,
        80 => 2,
        81 => 3,
        75 => 4,
        76 => 5,
        77 => 6,
        71 => 7,
        72 => 8,
        73 => 9,
        _ => return None,
    })
}

/// Which side of a modifier is down. A side is down from its press to its release,
/// whatever comes in between: key auto-repeat (value 2) or a press whose release was lost
/// must not leave the modifier stuck for every later scan.
#[derive(Debug, Default, Clone, Copy)]
struct Sides(u8);

impl Sides {
    fn set(&mut self, code: u16, left: u16, down: bool) {
        let bit = if code == left { 1 } else { 2 };
        self.0 = if down { self.0 | bit } else { self.0 & !bit };
    }

    fn any(self) -> bool {
        self.0 != 0
    }
}

/// Turns key events into bytes.
#[derive(Debug, Default, Clone)]
pub struct HidDecoder {
    shift: Sides,
    ctrl: Sides,
    alt: Sides,
    caps: bool,
    /// Keypad digits typed while Alt is held (Alt+0029 → GS).
    alt_code: Option<u32>,
}

/// What a code typed across lost key events becomes: a control byte, so the framer rejects
/// that code as noise (`scan_noise`) instead of passing on what is left of it.
pub const KEYS_LOST: u8 = 0x18;

impl HidDecoder {
    /// The kernel dropped key events (`SYN_DROPPED`: its buffer for this reader overflowed, as
    /// when the reader stalls while a scanner types): keys of the code being typed are gone,
    /// and so may be the release of a modifier. Forgets the modifiers and returns
    /// [`KEYS_LOST`] to put in that code.
    pub fn keys_lost(&mut self) -> u8 {
        *self = HidDecoder::default();
        KEYS_LOST
    }

    /// Feeds one key event (`value`: 1 press, 0 release, 2 auto-repeat); returns the byte it
    /// produced, if any.
    pub fn key(&mut self, code: u16, value: i32) -> Option<u8> {
        let down = value != RELEASE;
        match code {
            KEY_LEFTSHIFT | KEY_RIGHTSHIFT => {
                self.shift.set(code, KEY_LEFTSHIFT, down);
                return None;
            }
            KEY_LEFTCTRL | KEY_RIGHTCTRL => {
                self.ctrl.set(code, KEY_LEFTCTRL, down);
                return None;
            }
            KEY_LEFTALT | KEY_RIGHTALT => {
                if value == PRESS {
                    self.alt.set(code, KEY_LEFTALT, true);
                    self.alt_code = Some(0);
                } else if value == RELEASE {
                    self.alt.set(code, KEY_LEFTALT, false);
                    if !self.alt.any() {
                        return self.alt_code.take().and_then(|c| u8::try_from(c).ok()).filter(|c| *c != 0);
                    }
                }
                return None;
            }
            KEY_CAPSLOCK if value == PRESS => {
                self.caps = !self.caps;
                return None;
            }
            _ => {}
        }
        if value != PRESS {
            // Releases carry nothing; auto-repeat is not something a scanner means.
            return None;
        }
        if self.alt.any() {
            if let (Some(d), Some(acc)) = (keypad_digit(code), self.alt_code.as_mut()) {
                *acc = (*acc * 10 + u32::from(d)).min(1000);
            }
            return None;
        }
        if self.ctrl.any() {
            return (code == KEY_RIGHTBRACE).then_some(crate::framing::GS);
        }
        let (plain, shifted) = us_key(code)?;
        let is_letter = plain.is_ascii_lowercase();
        let upper = if is_letter { self.shift.any() ^ self.caps } else { self.shift.any() };
        Some(if upper { shifted } else { plain })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Presses and releases `code`, with shift held when `shift`.
    fn tap(d: &mut HidDecoder, code: u16, shift: bool, out: &mut Vec<u8>) {
        if shift {
            d.key(KEY_LEFTSHIFT, 1);
        }
        out.extend(d.key(code, 1));
        out.extend(d.key(code, 0));
        if shift {
            d.key(KEY_LEFTSHIFT, 0);
        }
    }

    #[test]
    fn digits_letters_shift_and_enter_decode_as_on_a_us_keyboard() {
        let mut d = HidDecoder::default();
        let mut out = Vec::new();
        for code in [5u16, 11, 6] {
            tap(&mut d, code, false, &mut out);
        }
        tap(&mut d, 25, true, &mut out); // P
        tap(&mut d, 12, false, &mut out); // -
        tap(&mut d, 30, false, &mut out); // a
        tap(&mut d, 28, false, &mut out); // Enter
        assert_eq!(out, b"405P-a\r");
    }

    #[test]
    fn lost_keys_break_the_code_being_typed_and_release_the_modifiers() {
        let mut d = HidDecoder::default();
        let mut out = Vec::new();
        d.key(KEY_LEFTSHIFT, 1);
        out.extend(d.key(30, 1)); // A, then the shift's release is lost
        out.push(d.keys_lost());
        tap(&mut d, 30, false, &mut out); // a
        tap(&mut d, 28, false, &mut out); // Enter
        let mut framer = crate::framing::ScanFramer::new(64);
        let frames = framer.push(&out);
        assert_eq!(out, b"A\x18a\r");
        assert!(matches!(frames.as_slice(), [Err(e)] if e.code() == "scan_noise"), "{frames:?}");
    }

    #[test]
    fn caps_lock_affects_letters_only() {
        let mut d = HidDecoder::default();
        let mut out = Vec::new();
        d.key(KEY_CAPSLOCK, 1);
        d.key(KEY_CAPSLOCK, 0);
        tap(&mut d, 46, false, &mut out); // C
        tap(&mut d, 46, true, &mut out); // c (shift undoes caps)
        tap(&mut d, 2, false, &mut out); // 1
        assert_eq!(out, b"Cc1");
    }

    #[test]
    fn the_gs1_separator_arrives_as_ctrl_bracket_or_alt_0029() {
        let mut d = HidDecoder::default();
        let mut out = Vec::new();
        d.key(KEY_LEFTCTRL, 1);
        tap(&mut d, KEY_RIGHTBRACE, false, &mut out);
        d.key(KEY_LEFTCTRL, 0);
        d.key(KEY_LEFTALT, 1);
        for kp in [82u16, 82, 80, 73] {
            tap(&mut d, kp, false, &mut out);
        }
        out.extend(d.key(KEY_LEFTALT, 0));
        assert_eq!(out, [0x1D, 0x1D]);
    }

    /// Key presses that type `text` on the US layout (with shift where needed), then Enter.
    fn typed(text: &str) -> Vec<(u16, i32)> {
        let mut keys = [None; 128];
        for code in (0u16..256).rev() {
            if let Some((plain, shifted)) = us_key(code) {
                keys[usize::from(shifted)] = Some((code, true));
                keys[usize::from(plain)] = Some((code, false));
            }
        }
        let mut events = Vec::new();
        for c in text.bytes() {
            let (code, shift) = keys[usize::from(c)].expect("a key for every printable character");
            if shift {
                events.push((KEY_LEFTSHIFT, PRESS));
            }
            events.extend([(code, PRESS), (code, RELEASE)]);
            if shift {
                events.push((KEY_LEFTSHIFT, RELEASE));
            }
        }
        events.extend([(28, PRESS), (28, RELEASE)]);
        events
    }

    fn decode(d: &mut HidDecoder, events: &[(u16, i32)]) -> Vec<u8> {
        events.iter().filter_map(|(code, value)| d.key(*code, *value)).collect()
    }

    #[test]
    fn a_modifier_held_long_enough_to_auto_repeat_is_released_by_one_release() {
        let mut d = HidDecoder::default();
        let mut events = vec![(KEY_LEFTSHIFT, PRESS), (KEY_LEFTSHIFT, 2), (KEY_LEFTSHIFT, 2)];
        events.extend(typed("A"));
        events.push((KEY_LEFTSHIFT, RELEASE));
        events.extend([(KEY_RIGHTCTRL, PRESS), (KEY_RIGHTCTRL, 2), (KEY_RIGHTCTRL, RELEASE)]);
        events.extend([(KEY_LEFTALT, PRESS), (KEY_LEFTALT, 2), (KEY_LEFTALT, RELEASE)]);
        assert_eq!(decode(&mut d, &events), b"A\r");
        assert_eq!(decode(&mut d, &typed("4006381333931")), b"4006381333931\r", "no modifier stays stuck");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// What a scanner types comes out byte for byte and, through the framer, as the scan.
        #[test]
        fn any_printable_text_typed_on_the_wedge_comes_out_as_the_scan(text in "[ -~]{1,60}") {
            let mut d = HidDecoder::default();
            let bytes = decode(&mut d, &typed(&text));
            prop_assert_eq!(&bytes, &[text.as_bytes(), b"\r"].concat());
            let mut framer = crate::framing::ScanFramer::new(512);
            let text_frame = if text.trim_matches('\t').is_empty() { vec![] } else { framer.push(&bytes) };
            if !text_frame.is_empty() {
                prop_assert_eq!(text_frame.last().cloned(), Some(Ok(text.rsplit('\t').next().unwrap().to_string())));
            }
        }

        /// Any key events (unknown codes, odd values, modifiers pressed, repeated and
        /// released in any order) never panic, give only bytes the layout or an Alt code can
        /// give, and once every modifier is up again the next scan reads exactly.
        #[test]
        fn any_key_events_decode_to_known_bytes_and_leave_no_modifier_stuck(
            raw in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<i32>()), 0..80),
        ) {
            // Drawn as plain numbers (cheap) and mapped: mostly modifiers and known keys.
            const MODIFIERS: [u16; 8] = [
                KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTCTRL, KEY_RIGHTCTRL,
                KEY_LEFTALT, KEY_RIGHTALT, KEY_CAPSLOCK, KEY_RIGHTBRACE,
            ];
            let events: Vec<(u16, i32)> = raw
                .iter()
                .map(|&(key, how, wide)| {
                    let code = match key {
                        0..=95 => MODIFIERS[usize::from(key % 8)],
                        96..=223 => u16::from(key - 96),
                        _ => (wide >> 16) as u16,
                    };
                    (code, if how < 200 { i32::from(how % 3) } else { wide })
                })
                .collect();
            let mut d = HidDecoder::default();
            let alt_used = events.iter().any(|(c, _)| matches!(*c, KEY_LEFTALT | KEY_RIGHTALT));
            let mut layout = [false; 256];
            for (plain, shifted) in (0u16..256).filter_map(us_key) {
                layout[usize::from(plain)] = true;
                layout[usize::from(shifted)] = true;
            }
            for (code, value) in &events {
                if let Some(b) = d.key(*code, *value) {
                    let known = layout[usize::from(b)] || b == crate::framing::GS;
                    prop_assert!(known || (alt_used && b != 0), "byte 0x{b:02x}");
                }
            }
            for m in [KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT] {
                d.key(m, RELEASE);
            }
            if d.caps {
                d.key(KEY_CAPSLOCK, PRESS);
            }
            prop_assert_eq!(decode(&mut d, &typed("SO-1001 4006381333931")), b"SO-1001 4006381333931\r");
        }
    }

    #[test]
    fn releases_repeats_and_unknown_keys_produce_nothing() {
        let mut d = HidDecoder::default();
        assert_eq!(d.key(30, 2), None);
        assert_eq!(d.key(30, 0), None);
        assert_eq!(d.key(240, 1), None);
        assert_eq!(d.key(1, 1), None, "Esc");
    }
}
