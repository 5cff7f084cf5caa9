//! ZPL label rendering from a user-editable template, without I/O.
//!
//! A template is a ZPL file with `{{name}}` placeholders. Every placeholder must sit in a
//! field that starts with `^FH` (field hex) — `^FH^FD{{ship_to.name}}^FS` — because values
//! are written with `^FH` escapes: `^`, `~`, `_` and every non-ASCII byte become `_XX`, so an
//! address containing `^XZ` or `~JR` can never change the label's commands (no template
//! injection). Control characters are dropped. A template that changes the command characters
//! (`^CC`, `^CT`) is refused. Templates are checked once, at load.

use std::collections::HashMap;

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Literal text and placeholders, in order.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("line {line}: placeholder {{{{{name}}}}} is not in a ^FH^FD field; write ^FH^FD{{{{{name}}}}}^FS so its value is escaped")]
    Unescaped { line: usize, name: String },
    #[error("line {line}: unclosed placeholder (missing `}}}}`)")]
    Unclosed { line: usize },
    #[error("line {line}: empty or invalid placeholder name {name:?}")]
    BadName { line: usize, name: String },
    #[error("template does not start with ^XA and end with ^XZ")]
    NotAFormat,
    #[error(
        "line {line}: {command} changes ZPL's command characters, so values could no longer be escaped; remove it"
    )]
    CommandPrefixChanged { line: usize, command: String },
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let trimmed = src.trim();
        if !trimmed.starts_with("^XA") || !trimmed.ends_with("^XZ") {
            return Err(TemplateError::NotAFormat);
        }
        // `^CC`/`~CC` and `^CT`/`~CT` make another character start commands; the `^FH`
        // escaping of values knows only `^` and `~`.
        let upper = src.to_ascii_uppercase();
        if let Some(at) = ["^CC", "~CC", "^CT", "~CT"].iter().filter_map(|c| upper.find(c)).min() {
            let line = src[..at].matches('\n').count() + 1;
            return Err(TemplateError::CommandPrefixChanged { line, command: src[at..at + 3].to_string() });
        }
        let mut parts = Vec::new();
        let mut rest = src;
        let mut consumed = 0;
        while let Some(start) = rest.find("{{") {
            let line = src[..consumed + start].matches('\n').count() + 1;
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(TemplateError::Unclosed { line })?;
            let name = after[..end].trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                return Err(TemplateError::BadName { line, name: name.to_string() });
            }
            // The field this placeholder is in starts at the last ^FD, which must follow ^FH
            // (default `_` indicator) and must not be closed by a ^FS yet.
            let before = &src[..consumed + start];
            let escaped = before.rfind("^FD").is_some_and(|fd| {
                let head = before[..fd].trim_end();
                !before[fd..].contains("^FS") && (head.ends_with("^FH") || head.ends_with("^FH_"))
            });
            if !escaped {
                return Err(TemplateError::Unescaped { line, name: name.to_string() });
            }
            parts.push(Part::Text(rest[..start].to_string()));
            parts.push(Part::Field(name.to_string()));
            let used = start + 2 + end + 2;
            consumed += used;
            rest = &rest[used..];
        }
        parts.push(Part::Text(rest.to_string()));
        Ok(Template { parts })
    }

    /// Placeholder names used by the template.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(n) => Some(n.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Renders with `values`; a placeholder without a value renders empty.
    pub fn render(&self, values: &HashMap<&str, String>) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Field(name) => escape_into(values.get(name.as_str()).map_or("", String::as_str), &mut out),
            }
        }
        out
    }
}

/// Writes `value` as `^FH` field data: `^`, `~`, `_`, `\` (which starts `\&` line breaks in a
/// `^FB` block), non-ASCII bytes as `_XX`; control characters dropped.
pub fn escape_into(value: &str, out: &mut Vec<u8>) {
    for &b in value.as_bytes() {
        match b {
            b'^' | b'~' | b'_' | b'\\' | 0x80..=0xFF => {
                out.extend_from_slice(format!("_{b:02X}").as_bytes());
            }
            0x00..=0x1F | 0x7F => {}
            _ => out.push(b),
        }
    }
}

/// An example label template (`drivers/templates/label.zpl`; copy it to make a printer's
/// own): 4x6 in at 203 dpi, UTF-8 (`^CI28`), ship-to block, Code 128 tracking, GS1-128 SSCC
/// (0.5 mm modules, 32 mm bars), QR. A template prints its fields as written, also empty
/// ones; the built-in label (`crate::label`) leaves out absent fields and fits long text.
pub const DEFAULT_LABEL: &str = include_str!("../templates/label.zpl");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn the_default_label_parses_and_names_its_fields() {
        let t = Template::parse(DEFAULT_LABEL).unwrap();
        let fields: Vec<&str> = t.fields().collect();
        for f in ["order.id", "ship_to.name", "ship_to.city", "carrier", "tracking", "sscc"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn values_cannot_inject_zpl_commands() {
        let t = Template::parse("^XA^FO10,10^FH^FD{{name}}^FS^XZ").unwrap();
        let out = String::from_utf8(t.render(&values(&[("name", "Evil ^XZ~JR_x\u{7}Müller")]))).unwrap();
        assert_eq!(out, "^XA^FO10,10^FH^FDEvil _5EXZ_7EJR_5FxM_C3_BCller^FS^XZ");
    }

    #[test]
    fn unescaped_and_malformed_placeholders_are_refused_at_load() {
        let e = Template::parse("^XA\n^FO10,10^FD{{name}}^FS\n^XZ").unwrap_err();
        assert_eq!(e, TemplateError::Unescaped { line: 2, name: "name".into() });
        assert!(matches!(Template::parse("^XA^FH^FD{{name^FS^XZ"), Err(TemplateError::Unclosed { line: 1 })));
        assert!(matches!(Template::parse("^XA^FH^FD{{a b}}^FS^XZ"), Err(TemplateError::BadName { .. })));
        assert_eq!(Template::parse("hello"), Err(TemplateError::NotAFormat));
    }

    /// What a printer prints for `^FH` field data: `_XX` decoded to its byte.
    fn fh_decode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == b'_' {
                let hex = std::str::from_utf8(&data[i + 1..i + 3]).expect("ASCII");
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits after _"));
                i += 3;
            } else {
                out.push(data[i]);
                i += 1;
            }
        }
        out
    }

    /// A template built from ZPL commands and `^FH^FD{{name}}^FS` fields.
    fn templates() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("^FO40,40^A0N,30,30".to_string()),
            Just("^BY3^BCN,160,Y,N,N".to_string()),
            Just("^BQN,2,6".to_string()),
            Just("\n".to_string()),
            Just("^CI28".to_string()),
            "[a-z]{1,3}".prop_map(|n| format!("^FH^FD{{{{{n}}}}}^FS")),
            "[a-z]{1,3}".prop_map(|n| format!("^FH_^FDQA,{{{{{n}}}}} ({{{{{n}.x}}}})^FS")),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| format!("^XA{}^XZ", p.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever an order holds, a label rendered from it has exactly the commands of the
        /// template (the same as with harmless values), no control byte from a value, and
        /// prints each value as written, minus control characters.
        #[test]
        fn no_field_value_changes_the_commands_of_a_label(
            template in prop_oneof![Just(DEFAULT_LABEL.to_string()), templates()],
            values in proptest::collection::vec(stationd_testkit::hostile_text(120), 1..6),
            missing in any::<prop::sample::Index>(),
        ) {
            let t = Template::parse(&template).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let names: Vec<&str> = t.fields().collect();
            let mut hostile: HashMap<&str, String> = names.iter().copied().zip(values.iter().cycle().cloned()).collect();
            if let Some(name) = names.get(missing.index(names.len().max(1))) {
                hostile.remove(name);
            }
            let plain: HashMap<&str, String> = names.iter().map(|n| (*n, "x".to_string())).collect();
            let label = t.render(&hostile);
            prop_assert_eq!(stationd_testkit::zpl_commands(&label), stationd_testkit::zpl_commands(&t.render(&plain)));
            let template_controls = template.bytes().filter(u8::is_ascii_control).count();
            prop_assert_eq!(label.iter().filter(|b| b.is_ascii_control()).count(), template_controls);
            prop_assert!(label.is_ascii());
        }

        #[test]
        fn a_value_prints_as_written_minus_control_characters(v in stationd_testkit::hostile_text(200)) {
            let t = Template::parse("^XA^FH^FD{{v}}^FS^XZ").unwrap();
            let out = t.render(&values(&[("v", &v)]));
            let body = &out[b"^XA^FH^FD".len()..out.len() - b"^FS^XZ".len()];
            prop_assert!(!body.contains(&b'^') && !body.contains(&b'~'));
            prop_assert!(body.iter().all(|b| b.is_ascii() && !b.is_ascii_control()));
            let printed: String = v.chars().filter(|c| !(c.is_ascii_control())).collect();
            prop_assert_eq!(fh_decode(body), printed.into_bytes());
        }

        /// Any template text is a template or a refusal naming a line of it; a template
        /// that is accepted escapes every placeholder.
        #[test]
        fn any_template_text_parses_or_is_refused_with_its_line(
            src in prop_oneof![
                stationd_testkit::hostile_text(300),
                templates(),
                (templates(), stationd_testkit::hostile_text(40), any::<prop::sample::Index>()).prop_map(|(t, junk, at)| {
                    let mut cut = at.index(t.len() + 1);
                    while !t.is_char_boundary(cut) { cut -= 1; }
                    format!("{}{{{{{junk}{}", &t[..cut], &t[cut..])
                }),
            ],
        ) {
            let lines = src.matches('\n').count() + 1;
            match Template::parse(&src) {
                Ok(t) => {
                    let v: HashMap<&str, String> = t.fields().map(|n| (n, "^XZ~JR".to_string())).collect();
                    let label = t.render(&v);
                    prop_assert!(!label.windows(6).any(|w| w == b"^XZ~JR"), "a value went out unescaped");
                }
                Err(TemplateError::Unescaped { line, .. } | TemplateError::Unclosed { line } | TemplateError::BadName { line, .. } | TemplateError::CommandPrefixChanged { line, .. }) => {
                    prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
                }
                Err(TemplateError::NotAFormat) => prop_assert!(!(src.trim().starts_with("^XA") && src.trim().ends_with("^XZ"))),
            }
        }
    }

    #[test]
    fn a_template_that_changes_the_command_characters_is_refused() {
        let e = Template::parse("^XA\n^CC#\n#FO10,10^FH^FD{{name}}^FS^XZ").unwrap_err();
        assert_eq!(e, TemplateError::CommandPrefixChanged { line: 2, command: "^CC".into() });
        assert!(matches!(Template::parse("^XA~ct+^FH^FD{{n}}^FS^XZ"), Err(TemplateError::CommandPrefixChanged { .. })));
    }
}
