//! Updates from outside the scanner: cloud commands, lookups, overdue levels, clock skew, cache expiry.

use super::*;

#[test]
fn a_hold_or_cancel_from_the_cloud_stops_the_pack_at_the_next_scan() {
    let mut t = packing();
    t.scan(EAN_A);
    let fx = t.cloud(CloudOrder::Hold { order: "SO-1".into(), reason: "address check".into() });
    assert_eq!(kinds(&fx), ["command.accepted", "order.state", "order.interrupted"]);
    assert!(matches!(feedback(&fx)[..], [Feedback::Alert { code: "order_held", .. }]));
    let Some(Effect::Reply { reply, .. }) = fx.last() else { panic!() };
    assert_eq!((reply.ok, reply.state), (true, Some(OrderState::Held)));
    assert!(matches!(&fx[fx.len() - 2], Effect::Save { remember: Some(_), .. }), "request id saved with the change");

    let fx = t.scan(EAN_A);
    assert_eq!(error_code(&fx), Some("order_held"));
    assert_eq!(t.s.order("SO-1").unwrap().progress.verified[&1], 1);
    // A packer cannot release; a supervisor can, back to packing.
    assert_eq!(error_code(&t.scan("CMD:RELEASE")), Some("supervisor_required"));
    t.scan(SUPERVISOR);
    let fx = t.scan("CMD:RELEASE");
    assert_eq!(transitions(&fx), [("held".into(), "packing".into())]);
    assert_eq!(kinds(&t.scan(EAN_A)), ["item.verified"]);

    t.cloud(CloudOrder::Cancel { order: "SO-1".into(), reason: Some("customer".into()) });
    let fx = t.scan("SKU-B");
    assert_eq!(error_code(&fx), Some("order_cancelled"));
    assert!(t.s.session().order.is_none());
    assert_eq!(t.state("SO-1"), OrderState::Cancelled);
}

#[test]
fn illegal_or_unknown_cloud_changes_are_refused_with_an_event_and_not_remembered() {
    let mut t = T::new(StationRole::Pack);
    let fx = t.cloud(CloudOrder::Release { order: "SO-9".into() });
    assert_eq!(kinds(&fx), ["command.refused"]);
    let Some(Effect::Reply { reply, .. }) = fx.last() else { panic!() };
    assert_eq!(reply.error.as_ref().map(|e| e.code.as_str()), Some("unknown_order"));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Save { .. })), "not remembered: may be retried");
    t.upsert("SO-1", "shipped");
    let fx = t.cloud(CloudOrder::Hold { order: "SO-1".into(), reason: "x".into() });
    assert_eq!(kinds(&fx), ["command.refused"]);
    let Some(Effect::Reply { reply, .. }) = fx.last() else { panic!() };
    assert_eq!(reply.error.as_ref().map(|e| e.code.as_str()), Some("illegal_transition"));
    assert_eq!(t.state("SO-1"), OrderState::Shipped);
}

#[test]
fn an_upsert_of_a_known_order_keeps_the_station_progress() {
    let mut t = packing();
    t.scan(EAN_A);
    let fx = t.upsert("SO-1", "released");
    assert_eq!(kinds(&fx), ["command.accepted", "order.received"]);
    assert_eq!(t.state("SO-1"), OrderState::Packing);
    assert_eq!(t.s.order("SO-1").unwrap().progress.verified[&1], 1);
}

#[test]
fn overdue_levels_are_raised_once_each_and_survive_a_restart() {
    let mut t = packing();
    assert!(kinds(&t.later(14)).is_empty());
    let fx = t.later(2);
    assert_eq!(kinds(&fx), ["order.overdue"]);
    assert_eq!(data(event(&fx, "order.overdue"))["level"], "reminder");
    assert!(matches!(feedback(&fx)[..], [Feedback::Alert { code: "order_overdue", .. }]));
    assert!(kinds(&t.later(1)).is_empty(), "once per level");
    // Restart: the stored times and levels come back; only the next level is raised.
    let mut r = t.restart();
    assert!(kinds(&r.later(1)).is_empty());
    let fx = r.later(20);
    assert_eq!(data(event(&fx, "order.overdue"))["level"], "escalate");
    // A new state starts its own clock.
    r.scan(EAN_A);
    r.scan(EAN_A);
    r.scan("SKU-B");
    assert!(kinds(&r.later(5)).is_empty());
}

#[test]
fn a_command_queued_for_minutes_tags_no_event_but_one_sent_from_the_future_does() {
    let mut t = packing();
    let queued = t.now - TimeDelta::minutes(5);
    assert!(kinds(&t.input(Input::ClockSample {
        source: crate::event::ClockSource::CloudCommand,
        remote: queued,
        max_delay: None
    }))
    .is_empty());
    assert!(data(event(&t.scan(EAN_A), "item.verified")).get("clock").is_none());
    let ahead = t.now + TimeDelta::minutes(2);
    let fx =
        t.input(Input::ClockSample { source: crate::event::ClockSource::CloudCommand, remote: ahead, max_delay: None });
    assert_eq!(data(event(&fx, "clock.skew"))["skew_ms"], -120_000);
    assert_eq!(t.s.view().clock_skew_ms, Some(-120_000));
}

#[test]
fn a_clock_skew_is_raised_once_and_marks_events_until_it_is_gone() {
    let mut t = packing();
    let remote = t.now - TimeDelta::seconds(45);
    let fx = t.input(Input::ClockSample {
        source: crate::event::ClockSource::OrderSystem,
        remote,
        max_delay: Some(std::time::Duration::ZERO),
    });
    assert_eq!(kinds(&fx), ["clock.skew"]);
    assert_eq!(data(event(&fx, "clock.skew"))["skew_ms"], 45_000);
    assert!(kinds(&t.input(Input::ClockSample {
        source: crate::event::ClockSource::OrderSystem,
        remote,
        max_delay: Some(std::time::Duration::ZERO)
    }))
    .is_empty());
    let fx = t.scan(EAN_A);
    assert_eq!(data(event(&fx, "item.verified"))["clock"]["skew_ms"], 45_000);
    assert_eq!(t.s.view().clock_skew_ms, Some(45_000));
    let fx = t.input(Input::ClockSample {
        source: crate::event::ClockSource::OrderSystem,
        remote: t.now,
        max_delay: Some(std::time::Duration::ZERO),
    });
    assert_eq!(data(event(&fx, "clock.skew"))["resolved"], true);
    assert!(data(event(&t.scan(EAN_A), "item.verified")).get("clock").is_none());
}

#[test]
fn an_uncached_order_is_looked_up_or_reported_unknown_without_blocking() {
    let mut t = T::new(StationRole::Pack);
    t.scan("OP:0017");
    let fx = t.scan("SO-5");
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["order.unknown"], Some("unknown_order")));

    let mut t =
        T { s: Station::new(Settings { lookup: true, ..settings(StationRole::Pack) }), ..T::new(StationRole::Pack) };
    t.scan("OP:0017");
    let fx = t.scan("SO-5");
    assert_eq!(kinds(&fx), ["order.lookup"]);
    assert!(fx.iter().any(|e| matches!(e, Effect::Lookup { id } if id == "SO-5")));
    let fx = t.input(Input::LookupAnswered { id: "SO-5".into(), result: Ok(Box::new(order("SO-5", "picked"))) });
    assert_eq!(kinds(&fx), ["order.received", "order.opened", "order.state"]);
    assert_eq!(t.state("SO-5"), OrderState::Packing);

    t.scan("SO-6");
    let fx = t.input(Input::LookupAnswered {
        id: "SO-6".into(),
        result: Err(LookupError::new("lookup_timeout", "no answer")),
    });
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["order.unknown"], Some("unknown_order")));
    assert!(t.s.session().lookup.is_none());
    // The packer went on meanwhile: a late answer is cached, not opened.
    t.scan("SO-7");
    t.scan("SO-5");
    let fx = t.input(Input::LookupAnswered { id: "SO-7".into(), result: Ok(Box::new(order("SO-7", "picked"))) });
    assert_eq!(kinds(&fx), ["order.received"]);
    assert_eq!(t.s.session().order.as_deref(), Some("SO-5"));
}

#[test]
fn orders_untouched_past_the_cache_window_are_forgotten_but_not_the_open_one() {
    let mut t = packing();
    t.upsert("SO-2", "picked");
    let fx = t.later(25 * 60);
    let forgotten: Vec<String> = fx
        .iter()
        .find_map(|e| match e {
            Effect::Save { forget, .. } => Some(forget.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(forgotten, ["SO-2"]);
    assert!(t.s.order("SO-1").is_some());
}
