//! The station screen's own words — its labels, column heads, verdict names, device and
//! broker states, the alerts the page makes itself — for the page to show in the language in
//! force. They live in `locales/<lang>/screen.ftl`; the names of order states and roles are
//! the station's (`state-*`, `station-*`, `operator-*` in `station.ftl`), so a state reads
//! the same on the screen as in the feedback line.
//!
//! The page formats these itself (the locale in force changes with each login, and the
//! screen must switch at once, offline), so each message becomes a template: its text, with
//! `{name}` where the message has `{ $name }`. A screen message is therefore plain text and
//! variables only — no selectors, no functions (the tests refuse anything else) — so the
//! page's substitution says exactly what Fluent would.

use std::collections::BTreeMap;

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::{try_render_key, Locale};

/// Prefixes of the station catalog's words that the screen shows (order states, roles).
const STATION_WORDS: [&str; 3] = ["state-", "station-", "operator-"];

/// Every screen template of `locale`, by key: the screen catalog's messages and the
/// station's words. What the locale lacks is taken from `en`.
pub fn screen_texts(locale: Locale) -> BTreeMap<&'static str, String> {
    let mut texts = BTreeMap::new();
    for l in [Locale::En, locale] {
        texts.extend(templates(l.screen_source()));
        for key in message_ids(l.source()).filter(|k| STATION_WORDS.iter().any(|p| k.starts_with(p))) {
            if let Ok(word) = try_render_key(l, key, &[]) {
                texts.insert(key, word);
            }
        }
    }
    texts
}

/// The messages of a screen catalog as templates; one that is not plain text and
/// variables is left out (the `en` one stands in; the tests refuse such a catalog).
pub(super) fn templates(source: &'static str) -> impl Iterator<Item = (&'static str, String)> {
    let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(partial, _)| partial);
    resource.body.into_iter().filter_map(|entry| match entry {
        Entry::Message(m) => Some((m.id.name, template(m.value.as_ref()?)?)),
        _ => None,
    })
}

fn message_ids(source: &'static str) -> impl Iterator<Item = &'static str> {
    let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(partial, _)| partial);
    resource.body.into_iter().filter_map(|entry| match entry {
        Entry::Message(m) => Some(m.id.name),
        _ => None,
    })
}

/// `text { $name } text` as `text {name} text`; `None` for anything but text, variables and
/// string literals.
pub(super) fn template(pattern: &Pattern<&str>) -> Option<String> {
    let mut out = String::new();
    for element in &pattern.elements {
        match element {
            PatternElement::TextElement { value } => out.push_str(value),
            PatternElement::Placeable { expression: Expression::Inline(inline) } => match inline {
                InlineExpression::VariableReference { id } => {
                    out.push('{');
                    out.push_str(id.name);
                    out.push('}');
                }
                InlineExpression::StringLiteral { value } if !value.contains(['{', '}', '\\']) => out.push_str(value),
                _ => return None,
            },
            PatternElement::Placeable { .. } => return None,
        }
    }
    Some(out)
}
