//! What the station says, in the packer's language: message catalogs in Project Fluent
//! (`locales/<lang>/station.ftl`), embedded in the binary so a box needs no files, and the one
//! function that turns a message key and its arguments into text in a [`Locale`]. The station
//! screen's own words (`locales/<lang>/screen.ftl`) are handed to the page as templates it
//! fills in itself ([`screen_texts`]).
//!
//! Why Fluent rather than gettext: a Fluent message is a function of named arguments, so a
//! translator can reorder them and choose words by them (a selector on `$step` or on a
//! count, with each locale's CLDR plural rules: Czech and Polish have several forms), and
//! the catalogs are read as they are: no `msgfmt` step, no `.mo` files to ship.
//!
//! Design constraints:
//! - the catalogs are data, not code: this module knows no message by name; the station's
//!   `Say` maps its variants to keys and arguments (`station/say.rs`);
//! - `en` is the reference: every other catalog has exactly its keys with the same
//!   arguments (checked by `tests.rs`), and a message missing at run time falls back to `en`;
//! - codes, SKUs, order ids, badges and event kinds are arguments, never catalog text;
//! - Unicode isolation marks are off: the feedback line is plain text read in a terminal
//!   and a log, where `FeedbackOut` would print the marks as escapes; the screen isolates
//!   free text itself (`dir=auto`);
//! - rendering is pure: no I/O, no clock. The bundles are built once, on first use.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

mod screen;
#[cfg(test)]
mod tests;

pub use screen::screen_texts;

/// A language the station speaks (a catalog it ships).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "de")]
    De,
    #[serde(rename = "pl")]
    Pl,
    #[serde(rename = "es")]
    Es,
    #[serde(rename = "cs")]
    Cs,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 6] = [Locale::En, Locale::De, Locale::Pl, Locale::Es, Locale::Cs, Locale::ZhCn];

    /// The BCP 47 tag, as written in the config and shown to the screen (`<html lang>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
            Locale::Pl => "pl",
            Locale::Es => "es",
            Locale::Cs => "cs",
            Locale::ZhCn => "zh-CN",
        }
    }

    pub fn parse(s: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The shipped tags, for error messages (`en, de, pl, es, cs, zh-CN`).
    pub fn shipped() -> String {
        Locale::ALL.map(Locale::as_str).join(", ")
    }

    /// The catalog's source, embedded at build time.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Locale::En => include_str!("../../locales/en/station.ftl"),
            Locale::De => include_str!("../../locales/de/station.ftl"),
            Locale::Pl => include_str!("../../locales/pl/station.ftl"),
            Locale::Es => include_str!("../../locales/es/station.ftl"),
            Locale::Cs => include_str!("../../locales/cs/station.ftl"),
            Locale::ZhCn => include_str!("../../locales/zh-CN/station.ftl"),
        }
    }

    /// The screen's catalog, embedded at build time.
    pub(crate) fn screen_source(self) -> &'static str {
        match self {
            Locale::En => include_str!("../../locales/en/screen.ftl"),
            Locale::De => include_str!("../../locales/de/screen.ftl"),
            Locale::Pl => include_str!("../../locales/pl/screen.ftl"),
            Locale::Es => include_str!("../../locales/es/screen.ftl"),
            Locale::Cs => include_str!("../../locales/cs/screen.ftl"),
            Locale::ZhCn => include_str!("../../locales/zh-CN/screen.ftl"),
        }
    }

    /// Its place in [`Locale::ALL`] (declared in the same order), and so in the bundles.
    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One argument of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as it is: a code, an id, a SKU, a reason from the office.
    Text(String),
    /// A count or a quantity: plural selectors and `NUMBER()` see a number.
    Number(u64),
    /// Another message of the same catalog (a state's or a role's name), rendered first.
    Word(String),
}

/// A message: its key in the catalogs and its named arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

type Bundle = FluentBundle<FluentResource>;

/// The bundles, one per locale in [`Locale::ALL`] order. A catalog that does not parse
/// keeps what parsed (the tests refuse such a catalog; at run time `en` fills the gaps).
static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| Locale::ALL.into_iter().map(bundle).collect());

fn bundle(locale: Locale) -> Bundle {
    let id: unic_langid::LanguageIdentifier = locale.as_str().parse().unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    b.set_use_isolating(false);
    // NUMBER() only: no function is named twice, so this cannot fail.
    let _ = b.add_builtins();
    let res = FluentResource::try_new(locale.source().to_string()).unwrap_or_else(|(partial, _)| partial);
    // Keys are unique per catalog (tested); a duplicate would keep the first.
    let _ = b.add_resource(res);
    b
}

/// Why a message could not be rendered as the catalog says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The catalog has no such message (or it has no value).
    Missing { locale: Locale, key: String },
    /// Fluent reported errors (an argument missing, a bad reference): their text.
    Fluent { locale: Locale, key: String, errors: Vec<String> },
}

/// The text of `message` in `locale`, exactly as the catalog says, or why not.
pub fn try_render(locale: Locale, message: &Message) -> Result<String, RenderError> {
    try_render_key(locale, message.key, &message.args)
}

fn try_render_key(locale: Locale, key: &str, args: &[(&'static str, Arg)]) -> Result<String, RenderError> {
    let bundle = &BUNDLES[locale.index()];
    let missing = || RenderError::Missing { locale, key: key.to_string() };
    let pattern = bundle.get_message(key).and_then(|m| m.value()).ok_or_else(missing)?;
    let mut fargs = FluentArgs::with_capacity(args.len());
    for (name, arg) in args {
        let value = match arg {
            Arg::Text(s) => FluentValue::from(s.clone()),
            Arg::Number(n) => FluentValue::from(*n),
            Arg::Word(k) => FluentValue::from(try_render_key(locale, k, &[])?),
        };
        fargs.set(*name, value);
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fargs), &mut errors).into_owned();
    if errors.is_empty() {
        Ok(text)
    } else {
        let errors = errors.iter().map(ToString::to_string).collect();
        Err(RenderError::Fluent { locale, key: key.to_string(), errors })
    }
}

/// The text of `message` in `locale`; what the catalog lacks is said in English (and an
/// English gap shows the key, so nothing is silently dropped). The tests keep both from
/// happening with the shipped catalogs.
pub fn render(locale: Locale, message: &Message) -> String {
    match try_render(locale, message) {
        Ok(text) => text,
        Err(_) if locale != Locale::En => render(Locale::En, message),
        Err(_) => message.key.to_string(),
    }
}
