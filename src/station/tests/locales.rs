//! Who the station speaks to: the station's locale, an operator's own while logged in, and
//! what stays English whatever the locale (codes, events).

use super::*;
use crate::locale::Locale;

const POLISH_PACKER: &str = "OP:PL";

fn speaking(locale: Locale) -> T {
    let mut settings = settings(StationRole::Pack);
    settings.locale = locale;
    settings.operators.push(Operator {
        badge: POLISH_PACKER.into(),
        name: "Ola".into(),
        role: OperatorRole::Packer,
        locale: Some(Locale::Pl),
    });
    T::with(Station::new(settings))
}

/// The feedback line of the input's refusal, as the edge writes it (seq 7).
fn error_line(t: &T, fx: &[Effect]) -> String {
    let (event, fb) = fx
        .iter()
        .find_map(|e| match e {
            Effect::Record { event, feedback: Some(fb @ Feedback::Error { .. }) } => Some((event, fb)),
            _ => None,
        })
        .expect("a refusal");
    fb.line(7, event.event.scanned().map(|r| r.code.as_str()), t.s.locale())
}

/// The English `message` the refusal's event carries.
fn event_message(fx: &[Effect], kind: &str) -> String {
    data(event(fx, kind))["error"]["message"].as_str().unwrap().to_string()
}

#[test]
fn a_german_station_answers_a_wrong_item_in_german_after_the_stable_prefix() {
    let mut t = speaking(Locale::De);
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    t.scan("SO-1");
    let fx = t.scan(EAN_OTHER);
    assert_eq!(
        error_line(&t, &fx),
        "error wrong_item: 5012345678900 gehört nicht zu Auftrag SO-1 (seq=7 code=5012345678900)"
    );
    assert_eq!(event_message(&fx, "item.rejected"), "5012345678900 is not on order SO-1", "events stay English");
    let view = t.s.view();
    assert_eq!(view.locale, "de");
    let fb = view.last_feedback.unwrap();
    assert_eq!((fb.kind, fb.code), ("error", Some("wrong_item")));
    assert_eq!(fb.text, "5012345678900 gehört nicht zu Auftrag SO-1");
}

#[test]
fn an_operator_with_a_locale_is_answered_in_it_while_logged_in_and_the_station_after_logout() {
    let mut t = speaking(Locale::De);
    t.upsert("SO-1", "picked");
    let fx = t.scan(POLISH_PACKER);
    assert_eq!(t.s.locale(), Locale::Pl);
    assert_eq!(t.s.view().last_feedback.unwrap().text, "operator.login OP:PL (pakowacz)");
    assert_eq!(kinds(&fx), ["operator.login"]);
    t.scan("SO-1");
    let fx = t.scan(EAN_OTHER);
    assert_eq!(
        error_line(&t, &fx),
        "error wrong_item: 5012345678900 nie ma w zamówieniu SO-1 (seq=7 code=5012345678900)"
    );
    assert_eq!(event_message(&fx, "item.rejected"), "5012345678900 is not on order SO-1");

    // The same badge again logs out: the station's own language from then on.
    t.scan(POLISH_PACKER);
    assert_eq!(t.s.locale(), Locale::De);
    assert_eq!(t.s.view().last_feedback.unwrap().text, "operator.logout OP:PL");
    let fx = t.scan(EAN_OTHER);
    assert_eq!(
        error_line(&t, &fx),
        "error not_logged_in: 5012345678900 nicht verwendet: zuerst mit Ausweis anmelden (seq=7 code=5012345678900)"
    );
    assert_eq!(event_message(&fx, "scan.rejected"), "5012345678900 was not used: log in with your badge first");
}

#[test]
fn an_operator_without_a_locale_hears_the_stations() {
    let mut t = speaking(Locale::Cs);
    t.scan("OP:0017");
    assert_eq!(t.s.locale(), Locale::Cs);
    assert_eq!(t.s.view().locale, "cs");
}

#[test]
fn alerts_on_the_screen_are_in_the_locale_spoken_now_and_their_codes_stay_english() {
    let mut t = speaking(Locale::ZhCn);
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    t.scan("SO-1");
    let fx = t.cloud(CloudOrder::Hold { order: "SO-1".into(), reason: "address check".into() });
    assert!(matches!(feedback(&fx)[..], [Feedback::Alert { code: "order_held", .. }]));
    let alert = &t.s.view().alerts[0];
    assert_eq!(alert.code, "order_held");
    assert_eq!(alert.message, "办公室已将订单 SO-1 设为“已暂停”（address check）：请停止并放到一边");
    // The Polish packer logging in reads the same alert in Polish.
    t.scan(POLISH_PACKER);
    assert_eq!(
        t.s.view().alerts[0].message,
        "Zamówienie SO-1 zostało wstrzymane przez biuro (address check): przerwij i odłóż je"
    );
}

#[test]
fn an_english_station_says_what_it_always_said() {
    let mut t = speaking(Locale::En);
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    t.scan("SO-1");
    let fx = t.scan(EAN_OTHER);
    assert_eq!(error_line(&t, &fx), "error wrong_item: 5012345678900 is not on order SO-1 (seq=7 code=5012345678900)");
    assert_eq!(t.s.view().locale, "en");
}
