//! ZPL label rendering from a user-editable template, without I/O.
//!
//! A template is a ZPL file with `{{name}}` placeholders. Every placeholder must sit in a
//! field that starts with `^FH` (field hex) — `^FH^FD{{ship_to.name}}^FS` — because values
//! are written with `^FH` escapes: `^`, `~`, `_` and every non-ASCII byte become `_XX`, so an
//! address containing `^XZ` or `~JR` can never change the label's commands (no template
//! injection). Control characters are dropped. Templates are checked once, at load.

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
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let trimmed = src.trim();
        if !trimmed.starts_with("^XA") || !trimmed.ends_with("^XZ") {
            return Err(TemplateError::NotAFormat);
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

/// Writes `value` as `^FH` field data: `^`, `~`, `_`, non-ASCII bytes as `_XX`; control
/// characters dropped.
pub fn escape_into(value: &str, out: &mut Vec<u8>) {
    for &b in value.as_bytes() {
        match b {
            b'^' | b'~' | b'_' | 0x80..=0xFF => {
                out.extend_from_slice(format!("_{b:02X}").as_bytes());
            }
            0x00..=0x1F | 0x7F => {}
            _ => out.push(b),
        }
    }
}

/// The shipping label built into stationd (`drivers/templates/label.zpl`; copy it to edit):
/// 4x6 in at 203 dpi, UTF-8 (`^CI28`), ship-to block, Code 128 tracking, GS1-128 SSCC, QR.
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

    proptest! {
        #[test]
        fn rendered_values_never_contain_a_command_prefix(v in "\\PC{0,80}") {
            let t = Template::parse("^XA^FH^FD{{v}}^FS^XZ").unwrap();
            let out = t.render(&values(&[("v", &v)]));
            let body = &out[b"^XA^FH^FD".len()..out.len() - b"^FS^XZ".len()];
            prop_assert!(!body.contains(&b'^') && !body.contains(&b'~'));
            prop_assert!(body.iter().all(|b| b.is_ascii() && !b.is_ascii_control()));
        }
    }
}
