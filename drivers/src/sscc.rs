//! SSCCs (GS1 Serial Shipping Container Codes), without I/O: making one from a company
//! prefix, an extension digit and a serial reference, and finding one in a scan.
//!
//! An SSCC is 18 digits: extension digit, GS1 company prefix (7 to 10 digits), serial
//! reference (the rest), mod-10 check digit. Which serial comes next is not decided here: the
//! station holds a durable counter and passes the serial in (see `src/station/sscc.rs`).
//!
//! A scanner reading the GS1-128 barcode of an SSCC sends `00` + 18 digits, often after the
//! AIM symbology identifier `]C1`, and the SSCC may sit inside a longer element string
//! (`(00)…(420)…`); [`in_scan`] finds the 18 digits in all of these.

use crate::barcode::{gs1_check_digit, parse_gs1};

/// What a station's SSCCs are made of (`[labels]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsccPrefix {
    /// GS1 company prefix, 7 to 10 digits.
    pub company_prefix: String,
    /// The extension digit, 0 to 9.
    pub extension: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsccError {
    #[error(
        "GS1 company prefix {prefix:?} must be 7 to 10 digits (as GS1 assigned it); fix [labels] gs1_company_prefix"
    )]
    BadPrefix { prefix: String },
    #[error("extension digit {digit} must be 0 to 9; fix [labels] extension_digit")]
    BadExtension { digit: u8 },
    #[error(
        "serial reference {serial} does not fit the {digits} digits company prefix {prefix} leaves; \
         every SSCC of extension digit {extension} is used: configure another extension digit"
    )]
    Exhausted { serial: u64, digits: usize, prefix: String, extension: u8 },
}

impl SsccPrefix {
    pub fn new(company_prefix: &str, extension: u8) -> Result<SsccPrefix, SsccError> {
        let ok = (7..=10).contains(&company_prefix.len()) && company_prefix.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(SsccError::BadPrefix { prefix: company_prefix.to_string() });
        }
        if extension > 9 {
            return Err(SsccError::BadExtension { digit: extension });
        }
        Ok(SsccPrefix { company_prefix: company_prefix.to_string(), extension })
    }

    /// Digits left for the serial reference.
    pub fn serial_digits(&self) -> usize {
        16 - self.company_prefix.len()
    }

    /// How many serial references there are (`10^serial_digits`).
    pub fn capacity(&self) -> u64 {
        10u64.pow(self.serial_digits() as u32)
    }

    /// The SSCC with serial reference `serial`: 18 digits, check digit last.
    pub fn make(&self, serial: u64) -> Result<String, SsccError> {
        let digits = self.serial_digits();
        if serial >= self.capacity() {
            return Err(SsccError::Exhausted {
                serial,
                digits,
                prefix: self.company_prefix.clone(),
                extension: self.extension,
            });
        }
        let mut s = format!("{}{}{serial:0digits$}", self.extension, self.company_prefix);
        let check = gs1_check_digit(s.as_bytes());
        s.push(char::from(b'0' + check));
        Ok(s)
    }
}

/// Whether `s` is an SSCC: 18 digits with a right check digit.
pub fn is_sscc(s: &str) -> bool {
    s.len() == 18
        && s.bytes().all(|b| b.is_ascii_digit())
        && gs1_check_digit(&s.as_bytes()[..17]) == s.as_bytes()[17] - b'0'
}

/// The SSCC a scan carries as GS1 AI (00): `00` + 18 digits, with or without `]C1`, alone
/// or inside a longer element string.
pub fn in_scan(code: &str) -> Option<String> {
    let (symbology, body) = match code.strip_prefix("]C1") {
        Some(body) => (true, body),
        None => (false, code),
    };
    if !symbology && !body.starts_with("00") && !body.starts_with('\u{1d}') {
        return None;
    }
    parse_gs1(body).ok()?.get("00").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_sscc_is_extension_prefix_serial_and_check_digit() {
        let p = SsccPrefix::new("4012345", 3).unwrap();
        assert_eq!(p.make(1).unwrap(), "340123450000000017");
        assert_eq!(p.make(2).unwrap(), "340123450000000024");
        assert_eq!(p.capacity(), 1_000_000_000);
        let short = SsccPrefix::new("4012345678", 0).unwrap();
        assert_eq!(short.capacity(), 1_000_000);
        let e = short.make(1_000_000).unwrap_err();
        assert!(e.to_string().contains("configure another extension digit"), "{e}");
    }

    #[test]
    fn a_bad_prefix_or_extension_is_refused_with_the_key_to_fix() {
        assert!(SsccPrefix::new("12345", 0).unwrap_err().to_string().contains("gs1_company_prefix"));
        assert!(SsccPrefix::new("40123A5", 0).is_err());
        assert!(SsccPrefix::new("4012345", 10).unwrap_err().to_string().contains("extension_digit"));
    }

    #[test]
    fn an_sscc_is_found_in_every_form_a_scanner_sends() {
        let s = "340123450000000017";
        for code in [
            format!("00{s}"),
            format!("]C100{s}"),
            format!("]C100{s}420101150"),
            format!("]C1420101150\u{1d}00{s}"),
            format!("\u{1d}00{s}"),
        ] {
            assert_eq!(in_scan(&code).as_deref(), Some(s), "{code:?}");
        }
        assert_eq!(in_scan(s), None, "the bare 18 digits are matched as they are, not as AI 00");
        assert_eq!(in_scan("00340123450000000018"), None, "wrong check digit");
        assert_eq!(in_scan("]C10104012345000017"), None, "a GTIN is not an SSCC");
    }

    proptest! {
        /// Every serial that fits makes a valid SSCC that a scan of its GS1-128 barcode finds
        /// again, and distinct serials make distinct SSCCs.
        #[test]
        fn every_serial_makes_a_valid_sscc_found_again_in_its_scan(
            prefix in "[0-9]{7,10}", extension in 0u8..10, a in any::<u64>(), b in any::<u64>(),
        ) {
            let p = SsccPrefix::new(&prefix, extension).unwrap();
            let (a, b) = (a % p.capacity(), b % p.capacity());
            let s = p.make(a).unwrap();
            prop_assert!(is_sscc(&s));
            let head = format!("{extension}{prefix}");
            prop_assert!(s.starts_with(&head));
            prop_assert_eq!(in_scan(&format!("]C100{s}")), Some(s.clone()));
            prop_assert_eq!(a == b, s == p.make(b).unwrap());
        }
    }
}
