//! The catalogs themselves — the station's (`station.ftl`) and the screen's (`screen.ftl`):
//! each parses without errors, has no key twice, and has exactly the keys of `en`, each with
//! the same arguments. (That every message the station can say renders in every locale is
//! checked beside `Say`, in `station/tests/say.rs`.)

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;

/// Every variable a pattern uses (`$order`), through selectors and function calls.
fn variables<'s>(pattern: &Pattern<&'s str>, out: &mut BTreeSet<&'s str>) {
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn expression_variables<'s>(expression: &Expression<&'s str>, out: &mut BTreeSet<&'s str>) {
    match expression {
        Expression::Inline(inline) => inline_variables(inline, out),
        Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for v in variants {
                variables(&v.value, out);
            }
        }
    }
}

fn inline_variables<'s>(inline: &InlineExpression<&'s str>, out: &mut BTreeSet<&'s str>) {
    match inline {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name);
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_variables(a, out);
            }
            for a in &arguments.named {
                inline_variables(&a.value, out);
            }
        }
        InlineExpression::Placeable { expression } => expression_variables(expression, out),
        _ => {}
    }
}

/// The two catalogs of every locale.
#[derive(Debug, Clone, Copy)]
enum File {
    Station,
    Screen,
}

impl File {
    const ALL: [File; 2] = [File::Station, File::Screen];

    fn source(self, locale: Locale) -> &'static str {
        match self {
            File::Station => locale.source(),
            File::Screen => locale.screen_source(),
        }
    }
}

/// The station catalog as key → the arguments its message uses.
fn catalog(locale: Locale) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    catalog_of(locale, File::Station)
}

/// A catalog as key → the arguments its message uses; fails on a parse error, a term, a
/// message without a value, or a key given twice.
fn catalog_of(locale: Locale, file: File) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let resource = match fluent_syntax::parser::parse(file.source(locale)) {
        Ok(r) => r,
        Err((_, errors)) => panic!("locales/{locale}: {file:?} catalog does not parse: {errors:#?}"),
    };
    let mut keys = BTreeMap::new();
    for entry in &resource.body {
        match entry {
            Entry::Message(m) => {
                let value = m.value.as_ref().unwrap_or_else(|| panic!("{locale}: {} has no text", m.id.name));
                let mut args = BTreeSet::new();
                variables(value, &mut args);
                assert!(keys.insert(m.id.name, args).is_none(), "{locale}: {} is given twice", m.id.name);
            }
            Entry::Term(t) => panic!("{locale}: term -{} (the catalogs use messages only)", t.id.name),
            Entry::Junk { content } => panic!("{locale}: junk {content:?}"),
            _ => {}
        }
    }
    keys
}

#[test]
fn every_catalog_parses_without_errors() {
    for (locale, file) in Locale::ALL.into_iter().flat_map(|l| File::ALL.map(|f| (l, f))) {
        assert!(!catalog_of(locale, file).is_empty(), "{locale} {file:?}");
        // And the runtime builds its bundle from it without complaint.
        let res = FluentResource::try_new(file.source(locale).to_string());
        assert!(res.is_ok(), "{locale} {file:?}: {:?}", res.err().map(|(_, e)| e));
    }
}

#[test]
fn every_catalog_has_exactly_the_keys_of_english_with_the_same_arguments() {
    for file in File::ALL {
        let en = catalog_of(Locale::En, file);
        for locale in Locale::ALL {
            let other = catalog_of(locale, file);
            let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{locale} {file:?}: missing {missing:?}, not in en {extra:?}"
            );
            for (key, args) in &en {
                assert_eq!(&other[key], args, "{locale} {file:?}: {key} takes other arguments than en");
            }
        }
    }
}

/// The page fills in `{name}` itself: a selector or a function would be lost on it.
#[test]
fn screen_messages_are_plain_text_and_variables_so_the_page_formats_them_exactly() {
    for locale in Locale::ALL {
        let resource = fluent_syntax::parser::parse(locale.screen_source()).expect("parses");
        for entry in &resource.body {
            if let Entry::Message(m) = entry {
                let value = m.value.as_ref().expect("has text");
                assert!(screen::template(value).is_some(), "{locale}: screen message {} is not plain", m.id.name);
            }
        }
        let texts = screen_texts(locale);
        // The screen's messages and the station's 17 words (states, station and operator roles).
        let keys = catalog_of(Locale::En, File::Screen).len() + 17;
        assert_eq!(texts.len(), keys, "{locale}: {:?}", texts.keys());
        for (key, text) in &texts {
            assert!(!text.trim().is_empty(), "{locale}: {key} is empty");
        }
    }
}

#[test]
fn screen_templates_name_their_arguments_and_carry_the_stations_words() {
    let en = screen_texts(Locale::En);
    assert_eq!(en["updated"], "updated {time}");
    assert_eq!(en["clock-off"], "clock off by {seconds} s");
    assert_eq!(en["state-packing"], "packing", "order states come from station.ftl");
    let de = screen_texts(Locale::De);
    assert_eq!(de["scan-badge"], "Ausweis scannen");
    assert_eq!(de["operator-supervisor"], render(Locale::De, &Message { key: "operator-supervisor", args: vec![] }));
    let zh = screen_texts(Locale::ZhCn);
    assert_eq!(zh["looking-up"], "正在查找 {order}…");
}

#[test]
fn words_take_no_arguments_so_they_render_inside_other_messages() {
    for (key, args) in catalog(Locale::En) {
        if ["state-", "station-", "operator-"].iter().any(|p| key.starts_with(p)) {
            assert!(args.is_empty(), "{key} takes {args:?}");
        }
    }
}

#[test]
fn plural_selectors_follow_each_locales_rules() {
    let opened = |locale, total| {
        let args = vec![
            ("kind", Arg::Text("order.opened".into())),
            ("order", Arg::Text("SO-1".into())),
            ("step", Arg::Text("pick".into())),
            ("done", Arg::Number(0)),
            ("total", Arg::Number(total)),
        ];
        try_render(locale, &Message { key: "opened", args }).unwrap()
    };
    assert_eq!(opened(Locale::Pl, 1), "order.opened SO-1: kompletacja (0/1 sztuka)");
    assert_eq!(opened(Locale::Pl, 3), "order.opened SO-1: kompletacja (0/3 sztuki)");
    assert_eq!(opened(Locale::Pl, 5), "order.opened SO-1: kompletacja (0/5 sztuk)");
    assert_eq!(opened(Locale::Pl, 22), "order.opened SO-1: kompletacja (0/22 sztuki)");
    assert_eq!(opened(Locale::Cs, 1), "order.opened SO-1: vychystávání (0/1 kus)");
    assert_eq!(opened(Locale::Cs, 4), "order.opened SO-1: vychystávání (0/4 kusy)");
    assert_eq!(opened(Locale::Cs, 5), "order.opened SO-1: vychystávání (0/5 kusů)");
    assert_eq!(opened(Locale::Es, 1), "order.opened SO-1 para preparar (0/1 artículo)");
    assert_eq!(opened(Locale::Es, 2), "order.opened SO-1 para preparar (0/2 artículos)");
    // English keeps the text it always had.
    assert_eq!(opened(Locale::En, 1), "order.opened SO-1 for picking (0/1 items)");
}

#[test]
fn texts_carry_no_isolation_marks_for_the_terminal() {
    let args = vec![("code", Arg::Text("5012345678900".into())), ("order", Arg::Text("SO-1".into()))];
    for locale in Locale::ALL {
        let text = try_render(locale, &Message { key: "wrong-item", args: args.clone() }).unwrap();
        assert!(!text.contains(['\u{2068}', '\u{2069}']), "{locale}: {text:?}");
        assert!(text.contains("5012345678900") && text.contains("SO-1"), "{locale}: {text}");
    }
}

#[test]
fn a_missing_message_falls_back_to_english_then_to_its_key() {
    let m = Message { key: "no-such-message", args: vec![] };
    assert!(matches!(try_render(Locale::De, &m), Err(RenderError::Missing { .. })));
    assert_eq!(render(Locale::De, &m), "no-such-message");
}

#[test]
fn locales_parse_from_their_tags_only() {
    for l in Locale::ALL {
        assert_eq!(Locale::parse(l.as_str()), Some(l));
        assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
    }
    assert_eq!(Locale::parse("zh-cn"), None);
    assert_eq!(Locale::parse("fr"), None);
    assert_eq!(Locale::shipped(), "en, de, pl, es, cs, zh-CN");
}
