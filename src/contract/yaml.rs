//! Writes the document as YAML: block style for objects and lists, every string
//! double-quoted with JSON's escapes (valid YAML), so no reader takes a time, a version or
//! `no` for anything but a string (YAML 1.1 readers turn an unquoted
//! `2026-12-01T10:24:41.975Z` into a timestamp).

use serde_json::Value;

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => object(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => array(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        // JSON's text of a string, number, bool or null is a YAML scalar of the same value.
        other => other.to_string(),
    }
}

fn key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$' || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || "$_.-".contains(c))
        && !matches!(k, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n");
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn object(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key(k));
        out.push(':');
        if is_block(v) {
            out.push('\n');
            nested(v, indent + 2, out);
        } else {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn array(a: &[Value], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        if is_block(v) {
            // The first line of a nested block goes after the dash, the rest under it.
            let mut inner = String::new();
            nested(v, indent + 2, &mut inner);
            out.push(' ');
            out.push_str(inner.trim_start());
        } else {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn nested(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) => object(m, indent, out),
        Value::Array(a) => array(a, indent, out),
        other => out.push_str(&scalar(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_yaml_reads_back_as_the_same_value_with_every_string_a_string() {
        let v = json!({
            "at": "2026-12-01T10:24:41.975Z", "version": "2.0.0", "no": "no", "n": 1, "f": 1.5, "ok": true,
            "nothing": null, "empty": {}, "none": [], "multi": "two\nlines: \"quoted\" #not a comment",
            "list": [{"a": 1, "b": [1, 2]}, [3, [4]], "x", {}], "$ref": "#/$defs/X", "200": "ok", "a b": "c",
            "nested": {"deeper": {"deepest": ["é", "\u{1b}"]}}
        });
        let text = to_yaml(&v);
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
        assert!(text.contains("at: \"2026-12-01T10:24:41.975Z\""), "{text}");
    }
}
