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

/// Counts a modifier held on either side (left and right may overlap).
fn hold(count: &mut u8, down: bool) {
    *count = if down { count.saturating_add(1) } else { count.saturating_sub(1) };
}

/// Turns key events into bytes.
#[derive(Debug, Default, Clone)]
pub struct HidDecoder {
    shift: u8,
    ctrl: u8,
    alt: u8,
    caps: bool,
    /// Keypad digits typed while Alt is held (Alt+0029 → GS).
    alt_code: Option<u32>,
}

impl HidDecoder {
    /// Feeds one key event (`value`: 1 press, 0 release, 2 auto-repeat); returns the byte it
    /// produced, if any.
    pub fn key(&mut self, code: u16, value: i32) -> Option<u8> {
        let down = value != RELEASE;
        match code {
            KEY_LEFTSHIFT | KEY_RIGHTSHIFT => {
                hold(&mut self.shift, down);
                return None;
            }
            KEY_LEFTCTRL | KEY_RIGHTCTRL => {
                hold(&mut self.ctrl, down);
                return None;
            }
            KEY_LEFTALT | KEY_RIGHTALT => {
                if value == PRESS {
                    self.alt = self.alt.saturating_add(1);
                    self.alt_code = Some(0);
                } else if value == RELEASE {
                    self.alt = self.alt.saturating_sub(1);
                    if self.alt == 0 {
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
        if self.alt > 0 {
            if let (Some(d), Some(acc)) = (keypad_digit(code), self.alt_code.as_mut()) {
                *acc = (*acc * 10 + u32::from(d)).min(1000);
            }
            return None;
        }
        if self.ctrl > 0 {
            return (code == KEY_RIGHTBRACE).then_some(crate::framing::GS);
        }
        let (plain, shifted) = us_key(code)?;
        let is_letter = plain.is_ascii_lowercase();
        let upper = if is_letter { (self.shift > 0) ^ self.caps } else { self.shift > 0 };
        Some(if upper { shifted } else { plain })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn releases_repeats_and_unknown_keys_produce_nothing() {
        let mut d = HidDecoder::default();
        assert_eq!(d.key(30, 2), None);
        assert_eq!(d.key(30, 0), None);
        assert_eq!(d.key(240, 1), None);
        assert_eq!(d.key(1, 1), None, "Esc");
    }
}
