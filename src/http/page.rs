//! The station screen: one HTML page with its style and script inline, embedded in the
//! binary (no internet, no files to install), and the Content-Security-Policy that pins them.
//!
//! The page gets its own words from the server, in a second data block: the screen catalog
//! of every shipped language at once (`locale::screen_texts`, about 2 KB of JSON each, made
//! once), and `[http] sounds`. The language in force changes with every badge login (an
//! operator's `locale`), and the screen must follow at once and offline, so the page picks
//! the language of each status's `workflow.locale` itself rather than asking the server
//! again; `<html lang>` is set here for the first paint and by the script after it.
//!
//! # Design constraints
//! - Text from scans and orders is data, never markup: the script sets it with
//!   `textContent`, and the status embedded in the page is a JSON data block
//!   (`<script type="application/json">`, which browsers never run) whose `<`, `>`, `&`,
//!   U+2028 and U+2029 are escaped.
//! - The policy allows exactly the page's one `<style>` and one executable `<script>`, by
//!   their SHA-256 (computed from the embedded page, so an edit to the page cannot leave a
//!   stale hash behind), nothing inline besides, and connections only to this origin (the
//!   live stream). No page may frame the screen.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Html;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::App;
use crate::locale::Locale;

const PAGE: &str = include_str!("page.html");
/// Where the status at the time of the request goes (the data block's content).
const INITIAL: &str = "/*INITIAL*/null";
/// Where the screen's words and settings go (the second data block's content).
const SCREEN: &str = "/*SCREEN*/null";
/// The page's language as written in the file, replaced by the one in force.
const LANG: &str = "<html lang=\"en\">";

/// The screen's data block — its words in every shipped language, by locale tag then key,
/// and whether it sounds — escaped once for each `[http] sounds`, not at every page load.
static SCREEN_BLOCKS: LazyLock<[String; 2]> = LazyLock::new(|| {
    let texts = Locale::ALL.into_iter().map(|l| (l.as_str().to_string(), json!(crate::locale::screen_texts(l))));
    let texts = Value::Object(texts.collect());
    [false, true].map(|sounds| script_safe_json(&json!({ "sounds": sounds, "texts": texts })))
});

/// The Content-Security-Policy of every response.
pub static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = policy(PAGE);
    HeaderValue::from_str(&policy).expect("a policy made of ASCII hashes is a header value")
});

/// The policy for `page`: its one inline style and one executable script, pinned by hash.
fn policy(page: &str) -> String {
    let style = element_text(page, "<style>", "</style>");
    let script = element_text(page, "<script>", "</script>");
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256_source(script),
        sha256_source(style)
    )
}

/// The text between `open` and the next `close` (the page has exactly one of each; a page
/// without them is a build mistake, caught by the tests).
fn element_text<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page.find(open).map(|i| i + open.len()).expect("the page has the element");
    let len = page[start..].find(close).expect("the element is closed");
    &page[start..start + len]
}

/// A CSP hash source: `sha256-` and the base64 of the element text's SHA-256.
fn sha256_source(text: &str) -> String {
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The page, with the current status in it (so it shows at once, also to a browser that
/// takes a snapshot on load), the screen's words and settings, and the language in force.
pub async fn page(State(app): State<App>) -> Html<String> {
    let status = super::snapshot(&app.sources).await;
    Html(fill(&status, app.sounds))
}

/// The page for `status`: both data blocks filled in and `<html lang>` the status's locale.
fn fill(status: &Value, sounds: bool) -> String {
    let locale = status["workflow"]["locale"].as_str().and_then(Locale::parse).unwrap_or_default();
    PAGE.replacen(LANG, &format!("<html lang=\"{locale}\">"), 1)
        .replacen(INITIAL, &script_safe_json(status), 1)
        .replacen(SCREEN, &SCREEN_BLOCKS[usize::from(sounds)], 1)
}

/// JSON that can stand inside a `<script>` element whatever its strings hold: `<`, `>` and
/// `&` (so no `</script>`, `<!--` or `<script` can change how the HTML parser reads the
/// element) and U+2028/U+2029 (line terminators in older JavaScript) become `\u` escapes,
/// which only occur inside JSON strings and mean the same characters there.
fn script_safe_json(doc: &Value) -> String {
    let text = doc.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_pins_the_pages_one_style_and_one_script_and_allows_nothing_inline_besides() {
        let p = policy(PAGE);
        assert!(!p.contains("unsafe"), "{p}");
        assert_eq!(PAGE.matches("<script>").count(), 1, "one executable script, hashed");
        assert_eq!(PAGE.matches("<style>").count(), 1, "one style element, hashed");
        assert!(!PAGE.contains(" style=\""), "inline style attributes need 'unsafe-hashes'");
        assert!(!has_inline_handler(PAGE), "inline event handlers are blocked by the policy");
        assert_eq!(PAGE.matches(INITIAL).count(), 1);
        assert_eq!(PAGE.matches(SCREEN).count(), 1);
        assert_eq!(PAGE.matches(LANG).count(), 1);
        for (id, content) in [("initial", INITIAL), ("screen", SCREEN)] {
            assert!(
                PAGE.contains(&format!("<script type=\"application/json\" id=\"{id}\">{content}</script>")),
                "{id} goes into a data block, which the policy need not allow"
            );
        }
        // The hash is over the exact text between the tags (what browsers hash).
        let script = element_text(PAGE, "<script>", "</script>");
        assert!(script.starts_with("\n\"use strict\";") && script.ends_with("\n"), "{:?}", &script[..20]);
        assert!(HeaderValue::from_str(&p).is_ok());
    }

    /// An attribute like `onclick=` in the markup (the style and script elements left out).
    fn has_inline_handler(page: &str) -> bool {
        let (style, script) = (element_text(page, "<style>", "</style>"), element_text(page, "<script>", "</script>"));
        let markup = page.replace(style, "").replace(script, "");
        let tags = markup.split('<').filter_map(|t| t.split('>').next());
        tags.flat_map(|t| t.split_whitespace().skip(1)).any(|a| a.starts_with("on") && a.contains('='))
    }

    #[test]
    fn the_page_carries_the_screens_words_in_every_language_and_the_language_in_force() {
        let status = json!({ "station": "WH1/PACK-7", "workflow": { "locale": "zh-CN" } });
        let page = fill(&status, false);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"zh-CN\">"), "{}", &page[..40]);
        let block = element_text(&page, "<script type=\"application/json\" id=\"screen\">", "</script>");
        let screen: Value = serde_json::from_str(block).unwrap();
        assert_eq!(screen["sounds"], false);
        for l in Locale::ALL {
            assert!(screen["texts"][l.as_str()]["scan-badge"].is_string(), "{l}: {screen}");
        }
        assert_eq!(screen["texts"]["de"]["scan-badge"], "Ausweis scannen");
        assert_eq!(screen["texts"]["zh-CN"]["state-packing"], "打包中");
        // The policy is the same whatever the blocks hold: they are data, not script.
        assert_eq!(policy(&page), policy(PAGE));
        // A status without a (known) locale is shown in English.
        assert!(fill(&json!({ "workflow": { "locale": "fr" } }), true).contains("<html lang=\"en\">"));
        assert!(block.len() < 24_000, "the words of every language stay small: {} bytes", block.len());
    }

    #[test]
    fn json_in_the_page_cannot_close_its_element() {
        let doc = serde_json::json!({ "t": "</script><!--\u{2028}&" });
        let s = script_safe_json(&doc);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&') && !s.contains('\u{2028}'), "{s}");
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), doc);
    }
}
