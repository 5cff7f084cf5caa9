//! The workflow, input by input: every transition, every refusal, and properties over
//! random input sequences.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration as TimeDelta, OffsetDateTime};

use super::*;
use stationd_drivers::barcode::ClassRules;

const EAN_A: &str = "4006381333931";
const EAN_OTHER: &str = "5012345678900";
const SUPERVISOR: &str = "OP:SUP";

fn settings(role: StationRole) -> Settings {
    Settings {
        rules: ClassRules {
            order: Some(regex::Regex::new("^SO-[0-9]+$").unwrap()),
            tracking: Some(regex::Regex::new("^JJD[0-9]{10}$").unwrap()),
            ..ClassRules::default()
        },
        role,
        operators: vec![Operator { badge: SUPERVISOR.into(), name: "Sam".into(), role: OperatorRole::Supervisor }],
        allow_unlisted_packers: true,
        lookup: false,
        label_printer: true,
        slip_printer: true,
        ..Settings::default()
    }
}

/// SO-n with line 1: EAN_A ×2, line 2: SKU-B ×1.
fn order(id: &str, state: &str) -> OrderPayload {
    payload(json!({"id": id, "state": state, "carrier": "DHL", "tracking": format!("JJD000000000{}", &id[3..]),
           "lines": [{"line": 1, "sku": "SKU-A", "name": "Mug", "qty": 2, "barcodes": [EAN_A]},
                     {"line": 2, "sku": "SKU-B", "name": "Lid", "qty": 1}]}))
}

fn payload(v: Value) -> OrderPayload {
    OrderPayload::parse(&v).unwrap()
}

struct T {
    s: Station,
    now: OffsetDateTime,
    rid: u32,
    /// What the order store would hold: every save applied.
    saved: HashMap<String, StoredOrder>,
    saved_session: Option<Session>,
}

impl T {
    fn new(role: StationRole) -> T {
        T::with(Station::new(settings(role)))
    }

    fn with(s: Station) -> T {
        T { s, now: datetime!(2026-11-24 10:00 UTC), rid: 0, saved: HashMap::new(), saved_session: None }
    }

    fn input(&mut self, i: Input) -> Vec<Effect> {
        let fx = self.s.handle(i, self.now);
        for e in &fx {
            if let Effect::Save { orders, forget, session, .. } = e {
                self.saved.extend(orders.iter().map(|o| (o.id.clone(), (**o).clone())));
                for id in forget {
                    self.saved.remove(id);
                }
                if let Some(s) = session {
                    self.saved_session = Some(s.clone());
                }
            }
        }
        fx
    }

    /// A new station from what was saved, as after a restart.
    fn restart(&self) -> T {
        let mut s = Station::new(self.s.settings().clone());
        s.restore(self.saved.values().cloned().collect(), self.saved_session.clone());
        T { now: self.now, ..T::with(s) }
    }

    fn scan(&mut self, code: &str) -> Vec<Effect> {
        self.input(Input::Scan { scanner: "gun".into(), code: code.into() })
    }

    fn cloud(&mut self, command: CloudOrder) -> Vec<Effect> {
        self.rid += 1;
        self.input(Input::Cloud { request_id: format!("r-{}", self.rid), command })
    }

    fn upsert(&mut self, id: &str, state: &str) -> Vec<Effect> {
        self.cloud(CloudOrder::Upsert(Box::new(order(id, state))))
    }

    fn later(&mut self, minutes: i64) -> Vec<Effect> {
        self.now += TimeDelta::minutes(minutes);
        self.input(Input::Tick)
    }

    fn state(&self, id: &str) -> OrderState {
        self.s.order(id).unwrap().state
    }
}

fn kinds(fx: &[Effect]) -> Vec<&str> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Record { event, .. } => Some(event.kind.as_str()),
            _ => None,
        })
        .collect()
}

fn feedback(fx: &[Effect]) -> Vec<&Feedback> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Record { feedback: Some(f), .. } => Some(f),
            _ => None,
        })
        .collect()
}

fn error_code(fx: &[Effect]) -> Option<&'static str> {
    feedback(fx).into_iter().find_map(|f| match f {
        Feedback::Error { code, .. } => Some(*code),
        _ => None,
    })
}

fn transitions(fx: &[Effect]) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Record { event, .. } if event.kind == "order.state" => {
                Some((event.data["from"].as_str().unwrap().to_string(), event.data["to"].as_str().unwrap().to_string()))
            }
            _ => None,
        })
        .collect()
}

fn event<'a>(fx: &'a [Effect], kind: &str) -> &'a crate::event::NewEvent {
    fx.iter()
        .find_map(|e| match e {
            Effect::Record { event, .. } if event.kind == kind => Some(event),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} in {fx:#?}"))
}

fn prints(fx: &[Effect]) -> Vec<(Document, bool)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Print { document, reprint, .. } => Some((*document, *reprint)),
            _ => None,
        })
        .collect()
}

/// Logged in as a packer with SO-1 picked and open for packing.
fn packing() -> T {
    let mut t = T::new(StationRole::Pack);
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    let fx = t.scan("SO-1");
    assert_eq!(transitions(&fx), [("picked".into(), "packing".into())]);
    t
}

#[test]
fn nothing_happens_without_a_logged_in_operator_and_badges_log_in_and_out() {
    let mut t = T::new(StationRole::Pack);
    t.upsert("SO-1", "picked");
    let fx = t.scan("SO-1");
    assert_eq!(kinds(&fx), ["scan.rejected"]);
    assert_eq!(error_code(&fx), Some("not_logged_in"));
    assert_eq!(t.state("SO-1"), OrderState::Picked, "nothing applied");

    let fx = t.scan("OP:0017");
    assert_eq!(kinds(&fx), ["operator.login"]);
    assert_eq!(event(&fx, "operator.login").operator.as_deref(), Some("OP:0017"));
    assert_eq!(event(&fx, "operator.login").data["role"], "packer");
    // Another badge switches operators; the same badge again logs out.
    let fx = t.scan(SUPERVISOR);
    assert_eq!(kinds(&fx), ["operator.logout", "operator.login"]);
    assert_eq!(event(&fx, "operator.login").data["role"], "supervisor");
    let fx = t.scan(SUPERVISOR);
    assert_eq!(kinds(&fx), ["operator.logout"]);
    assert!(t.s.session().operator.is_none());
    t.scan("OP:0017");
    assert_eq!(kinds(&t.scan("CMD:LOGOUT")), ["operator.logout"]);

    let mut strict = Station::new(Settings { allow_unlisted_packers: false, ..settings(StationRole::Pack) });
    let fx = strict.handle(Input::Scan { scanner: "gun".into(), code: "OP:9999".into() }, t.now);
    assert_eq!(error_code(&fx), Some("unknown_badge"));
}

#[test]
fn a_pack_runs_from_order_scan_to_label_with_each_bad_item_refused_distinctly() {
    let mut t = packing();
    assert_eq!(t.state("SO-1"), OrderState::Packing);

    let fx = t.scan(EAN_OTHER);
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("wrong_item")));
    let fx = t.scan("NOT-A-THING");
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("unknown_barcode")));
    let fx = t.scan("4006381333932");
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["scan.rejected"], Some("bad_barcode")));

    let fx = t.scan(EAN_A);
    assert_eq!(kinds(&fx), ["item.verified"]);
    let ev = event(&fx, "item.verified");
    assert_eq!(
        (ev.order.as_deref(), &ev.data["line"], &ev.data["qty"], &ev.data["of"]),
        (Some("SO-1"), &json!(1), &json!(1), &json!(2))
    );
    // The GS1-128 of the same item is the same item.
    let fx = t.scan("]C10104006381333931");
    assert_eq!(kinds(&fx), ["item.verified"]);
    let fx = t.scan(EAN_A);
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("over_quantity")));
    assert_eq!(t.s.order("SO-1").unwrap().progress.verified[&1], 2, "refusals change nothing");

    let fx = t.scan("SKU-B");
    assert_eq!(kinds(&fx), ["item.verified", "order.state"]);
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
    assert_eq!(prints(&fx), [(Document::Label, false), (Document::Slip, false)]);
    assert_eq!(t.s.order("SO-1").unwrap().progress.label, LabelStatus::Requested);
    // Effects come in order: events, then one save, then the prints (never before the save).
    let save_at = fx.iter().position(|e| matches!(e, Effect::Save { .. })).unwrap();
    assert!(fx[..save_at].iter().all(|e| matches!(e, Effect::Record { .. })));
    assert!(fx[save_at + 1..].iter().all(|e| matches!(e, Effect::Print { .. })));

    let fx =
        t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
    assert_eq!(transitions(&fx), [("packed".into(), "labelled".into())]);
    assert_eq!(event(&fx, "order.state").data["by"], "printer");
    assert!(t.s.session().order.is_none(), "the next order may be scanned");

    // A pack station does not ship.
    let fx = t.scan("JJD0000000001");
    assert_eq!(error_code(&fx), Some("wrong_station"));
    assert_eq!(t.state("SO-1"), OrderState::Labelled);
}

#[test]
fn a_ship_station_ships_labelled_orders_by_tracking_number_only() {
    let mut t = T::new(StationRole::Ship);
    t.scan("OP:0017");
    t.upsert("SO-1", "labelled");
    t.upsert("SO-2", "packed");
    let fx = t.scan("JJD0000000002");
    assert_eq!(error_code(&fx), Some("not_shippable"));
    let fx = t.scan("JJD0000000001");
    assert_eq!(kinds(&fx), ["ship.scanned", "order.state"]);
    assert_eq!(transitions(&fx), [("labelled".into(), "shipped".into())]);
    assert_eq!(error_code(&t.scan("JJD0000000001")), Some("not_shippable"), "shipped once");
    assert_eq!(error_code(&t.scan("JJD9999999999")), Some("unknown_tracking"));
}

#[test]
fn an_order_in_the_wrong_state_for_the_station_is_refused_with_the_reason() {
    let mut t = T::new(StationRole::Pack);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    let fx = t.scan("SO-1");
    assert_eq!(error_code(&fx), Some("wrong_station"));
    assert_eq!(t.state("SO-1"), OrderState::Released);
    t.upsert("SO-2", "shipped");
    assert_eq!(error_code(&t.scan("SO-2")), Some("order_done"));
    t.upsert("SO-3", "cancelled");
    assert_eq!(error_code(&t.scan("SO-3")), Some("order_cancelled"));
    assert_eq!(error_code(&t.scan(EAN_A)), Some("no_order"));
}

#[test]
fn a_hold_or_cancel_from_the_cloud_stops_the_pack_at_the_next_scan() {
    let mut t = packing();
    t.scan(EAN_A);
    let fx = t.cloud(CloudOrder::Hold { order: "SO-1".into(), reason: "address check".into() });
    assert_eq!(kinds(&fx), ["command.accepted", "order.state", "order.interrupted"]);
    assert!(matches!(feedback(&fx)[..], [Feedback::Alert { code: "order_held", .. }]));
    let Some(Effect::Reply { reply, .. }) = fx.last() else { panic!() };
    assert_eq!((reply["ok"].clone(), reply["state"].clone()), (json!(true), json!("held")));
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
    assert_eq!(reply["error"]["code"], "unknown_order");
    assert!(!fx.iter().any(|e| matches!(e, Effect::Save { .. })), "not remembered: may be retried");
    t.upsert("SO-1", "shipped");
    let fx = t.cloud(CloudOrder::Hold { order: "SO-1".into(), reason: "x".into() });
    assert_eq!(kinds(&fx), ["command.refused"]);
    let Some(Effect::Reply { reply, .. }) = fx.last() else { panic!() };
    assert_eq!(reply["error"]["code"], "illegal_transition");
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
fn supervisor_commands_cancel_lines_record_damage_and_reprint() {
    let mut t = packing();
    assert_eq!(error_code(&t.scan("CMD:CANCEL-LINE")), Some("supervisor_required"));
    let fx = t.scan("CMD:DAMAGED");
    assert_eq!(kinds(&fx), ["command.scanned"]);
    let fx = t.scan(EAN_A);
    assert_eq!(kinds(&fx), ["item.damaged"]);
    assert!(!t.s.order("SO-1").unwrap().progress.verified.contains_key(&1), "a damaged item is not packed");
    t.scan(EAN_A);
    t.scan(EAN_A);
    t.scan(SUPERVISOR);
    t.scan("CMD:CANCEL-LINE");
    let fx = t.scan("SKU-B");
    assert_eq!(kinds(&fx), ["line.cancelled", "order.state"], "the remaining lines are complete");
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
    // Reprint before the label is confirmed: anyone; after: a supervisor.
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
    t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Unconfirmed });
    assert_eq!(t.state("SO-1"), OrderState::Labelled);
    t.scan("OP:0017");
    t.scan("SO-1");
    assert_eq!(error_code(&t.scan("CMD:REPRINT")), Some("no_order"), "a labelled order is not open at a pack station");
    assert_eq!(error_code(&t.scan("CMD:NOPE")), Some("unknown_command"));
}

#[test]
fn a_reprint_of_a_confirmed_label_needs_a_supervisor() {
    let mut t = packing();
    t.scan(EAN_A);
    t.scan(EAN_A);
    t.scan("SKU-B");
    t.input(Input::Printed {
        order: "SO-1".into(),
        document: Document::Label,
        outcome: PrintOutcome::Failed("paper out".into()),
    });
    assert_eq!(t.state("SO-1"), OrderState::Packed, "a failed label labels nothing");
    // The failed label leaves the order open: the packer may reprint.
    let fx = t.scan("SO-1");
    assert_eq!(error_code(&fx), Some("order_done"));
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
    t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
    // Labelled orders are closed; re-open as if a supervisor came to reprint.
    t.s.session.order = Some("SO-1".into());
    assert_eq!(error_code(&t.scan("CMD:REPRINT")), Some("supervisor_required"));
    t.scan(SUPERVISOR);
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
}

#[test]
fn a_pick_goes_by_location_tote_and_items_and_a_short_pick_sets_what_pack_expects() {
    let mut t = T::new(StationRole::Pick);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    assert_eq!(transitions(&t.scan("SO-1")), [("released".into(), "picking".into())]);
    assert_eq!(kinds(&t.scan("LOC:A-03-2")), ["pick.location"]);
    assert_eq!(kinds(&t.scan("TOTE:17")), ["pick.tote"]);
    assert_eq!(kinds(&t.scan(EAN_A)), ["item.picked"]);
    let fx = t.scan("CMD:SHORT");
    assert_eq!(kinds(&fx), ["pick.short", "order.state"]);
    assert_eq!(
        event(&fx, "pick.short").data["short"],
        json!([{"line": 1, "sku": "SKU-A", "missing": 1}, {"line": 2, "sku": "SKU-B", "missing": 1}])
    );
    assert_eq!(t.state("SO-1"), OrderState::Picked);

    // The same orders at a pack station: the tote opens the order; one item is expected.
    let saved: Vec<StoredOrder> = t.s.orders().cloned().collect();
    let mut p = T::new(StationRole::Pack);
    p.s.restore(saved, None);
    p.scan("OP:0017");
    let fx = p.scan("TOTE:17");
    assert_eq!(transitions(&fx), [("picked".into(), "packing".into())]);
    let fx = p.scan(EAN_A);
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
}

#[test]
fn a_full_pick_ends_picked() {
    let mut t = T::new(StationRole::Multi);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    t.scan("SO-1");
    t.scan(EAN_A);
    t.scan(EAN_A);
    assert_eq!(error_code(&t.scan(EAN_A)), Some("over_quantity"));
    assert_eq!(transitions(&t.scan("SKU-B")), [("picking".into(), "picked".into())]);
    // A multi station packs it next.
    assert_eq!(transitions(&t.scan("SO-1")), [("picked".into(), "packing".into())]);
}

#[test]
fn overdue_levels_are_raised_once_each_and_survive_a_restart() {
    let mut t = packing();
    assert!(kinds(&t.later(14)).is_empty());
    let fx = t.later(2);
    assert_eq!(kinds(&fx), ["order.overdue"]);
    assert_eq!(event(&fx, "order.overdue").data["level"], "reminder");
    assert!(matches!(feedback(&fx)[..], [Feedback::Alert { code: "order_overdue", .. }]));
    assert!(kinds(&t.later(1)).is_empty(), "once per level");
    // Restart: the stored times and levels come back; only the next level is raised.
    let mut r = t.restart();
    assert!(kinds(&r.later(1)).is_empty());
    let fx = r.later(20);
    assert_eq!(event(&fx, "order.overdue").data["level"], "escalate");
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
    assert!(kinds(&t.input(Input::ClockSample { source: "cloud command", remote: queued, max_delay: None })).is_empty());
    assert!(event(&t.scan(EAN_A), "item.verified").data.get("clock").is_none());
    let ahead = t.now + TimeDelta::minutes(2);
    let fx = t.input(Input::ClockSample { source: "cloud command", remote: ahead, max_delay: None });
    assert_eq!(event(&fx, "clock.skew").data["skew_ms"], -120_000);
    assert_eq!(t.s.view().clock_skew_ms, Some(-120_000));
}

#[test]
fn a_clock_skew_is_raised_once_and_marks_events_until_it_is_gone() {
    let mut t = packing();
    let remote = t.now - TimeDelta::seconds(45);
    let fx = t.input(Input::ClockSample { source: "order system", remote, max_delay: Some(std::time::Duration::ZERO) });
    assert_eq!(kinds(&fx), ["clock.skew"]);
    assert_eq!(event(&fx, "clock.skew").data["skew_ms"], 45_000);
    assert!(kinds(&t.input(Input::ClockSample {
        source: "order system",
        remote,
        max_delay: Some(std::time::Duration::ZERO)
    }))
    .is_empty());
    let fx = t.scan(EAN_A);
    assert_eq!(event(&fx, "item.verified").data["clock"]["skew_ms"], 45_000);
    assert_eq!(t.s.view().clock_skew_ms, Some(45_000));
    let fx = t.input(Input::ClockSample {
        source: "order system",
        remote: t.now,
        max_delay: Some(std::time::Duration::ZERO),
    });
    assert_eq!(event(&fx, "clock.skew").data["resolved"], true);
    assert!(event(&t.scan(EAN_A), "item.verified").data.get("clock").is_none());
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
    let fx = t.input(Input::LookupAnswered { id: "SO-6".into(), result: Err(("lookup_timeout", "no answer".into())) });
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

#[test]
fn the_view_shows_operator_order_lines_feedback_and_alerts() {
    let mut t = packing();
    t.scan(EAN_A);
    t.scan(EAN_OTHER);
    t.later(16);
    let v = t.s.view();
    assert_eq!(v.operator.as_ref().unwrap().badge, "OP:0017");
    let o = v.order.as_ref().unwrap();
    assert_eq!((o.id.as_str(), o.state), ("SO-1", "packing"));
    assert_eq!((o.lines[0].qty, o.lines[0].verified, o.lines[1].verified), (2, 1, 0));
    assert_eq!(v.last_feedback.as_ref().unwrap().kind, "alert");
    assert_eq!(v.alerts[0].code, "order_overdue");
    assert_eq!(v.orders_by_state["packing"], 1);
    serde_json::to_string(&v).unwrap();
}

#[test]
fn a_restart_resumes_the_session_and_the_progress_from_what_was_saved() {
    let mut t = packing();
    t.scan(EAN_A);
    let mut r = t.restart();
    assert_eq!(r.s.session().operator.as_ref().unwrap().badge, "OP:0017");
    assert_eq!(r.s.session().order.as_deref(), Some("SO-1"));
    let fx = r.scan(EAN_A);
    assert_eq!(event(&fx, "item.verified").data["qty"], 2, "the first verified item was kept");
}

#[test]
fn bad_frames_are_recorded_with_their_error() {
    let mut t = T::new(StationRole::Pack);
    let error = stationd_drivers::framing::FrameError::TooLong { len: 10_240, max: 512 };
    let fx = t.input(Input::BadScan { scanner: "gun".into(), error });
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["scan.rejected"], Some("scan_too_long")));
}

// ---- properties over random input sequences ----

#[derive(Debug, Clone)]
enum Step {
    Scan(&'static str),
    Upsert(usize, &'static str),
    Hold(usize),
    Release(usize),
    Cancel(usize),
    Printed(usize, bool),
    Later(i64),
}

const IDS: [&str; 3] = ["SO-1", "SO-2", "SO-3"];
const CODES: &[&str] = &[
    "OP:0017",
    SUPERVISOR,
    "SO-1",
    "SO-2",
    "SO-3",
    EAN_A,
    EAN_A,
    EAN_A,
    "SKU-B",
    "SKU-B",
    EAN_OTHER,
    "junk",
    "CMD:HOLD:DMG",
    "CMD:RELEASE",
    "CMD:REPRINT",
    "CMD:CANCEL-LINE",
    "CMD:DAMAGED",
    "CMD:SHORT",
    "CMD:LOGOUT",
    "JJD0000000001",
    "JJD0000000002",
    "TOTE:1",
    "LOC:A",
    "4006381333932",
];

fn step() -> impl Strategy<Value = Step> {
    let states = prop::sample::select(vec!["released", "picked", "packing", "labelled"]);
    prop_oneof![
        8 => prop::sample::select(CODES).prop_map(Step::Scan),
        2 => (0..3usize, states).prop_map(|(i, s)| Step::Upsert(i, s)),
        1 => (0..3usize).prop_map(Step::Hold),
        1 => (0..3usize).prop_map(Step::Release),
        1 => (0..3usize).prop_map(Step::Cancel),
        2 => (0..3usize, any::<bool>()).prop_map(|(i, ok)| Step::Printed(i, ok)),
        1 => (1..40i64).prop_map(Step::Later),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random sequences never reach an illegal state, emit exactly one `order.state` per
    /// accepted transition (a gap-free chain per order), never lose a verified scan, answer
    /// every scan exactly once, and hand out for saving exactly what the station holds.
    #[test]
    fn random_inputs_keep_every_invariant(role in prop::sample::select(vec![StationRole::Pick, StationRole::Pack, StationRole::Ship, StationRole::Multi]),
                                          steps in prop::collection::vec(step(), 1..120)) {
        let mut t = T::new(role);
        let mut chain: HashMap<String, String> = HashMap::new();
        let mut verified: HashMap<(String, u64), u64> = HashMap::new();
        for st in steps {
            let is_scan = matches!(st, Step::Scan(_));
            let fx = match st {
                Step::Scan(c) => t.scan(c),
                Step::Upsert(i, s) => t.upsert(IDS[i], s),
                Step::Hold(i) => t.cloud(CloudOrder::Hold { order: IDS[i].into(), reason: "r".into() }),
                Step::Release(i) => t.cloud(CloudOrder::Release { order: IDS[i].into() }),
                Step::Cancel(i) => t.cloud(CloudOrder::Cancel { order: IDS[i].into(), reason: None }),
                Step::Printed(i, ok) => {
                    let outcome = if ok { PrintOutcome::Confirmed } else { PrintOutcome::Failed("jam".into()) };
                    t.input(Input::Printed { order: IDS[i].into(), document: Document::Label, outcome })
                }
                Step::Later(m) => t.later(m),
            };
            if is_scan {
                let answers = fx.iter().filter(|e| matches!(e, Effect::Record { feedback: Some(Feedback::Ok { .. } | Feedback::Error { .. }), .. })).count();
                prop_assert_eq!(answers, 1, "one answer per scan: {:?}", fx);
            }
            let mut saves = 0;
            for e in &fx {
                match e {
                    Effect::Record { event, .. } if event.kind == "order.received" => {
                        let id = event.order.clone().unwrap();
                        chain.entry(id).or_insert_with(|| event.data["state"].as_str().unwrap().to_string());
                    }
                    Effect::Record { event, .. } if event.kind == "order.state" => {
                        let id = event.order.clone().unwrap();
                        let (from, to) = (event.data["from"].as_str().unwrap(), event.data["to"].as_str().unwrap());
                        prop_assert_eq!(chain.get(&id).map(String::as_str), Some(from), "chain broken for {}", id);
                        let from_state = OrderState::parse(from).unwrap();
                        let to_state = OrderState::parse(to).unwrap();
                        let legal = from_state.next() == Some(to_state)
                            || (to_state == OrderState::Held && !from_state.is_terminal() && from_state != OrderState::Held)
                            || (to_state == OrderState::Cancelled && !from_state.is_terminal())
                            || from_state == OrderState::Held;
                        prop_assert!(legal, "illegal {} -> {}", from, to);
                        chain.insert(id, to.to_string());
                    }
                    Effect::Record { event, .. } if event.kind == "item.verified" => {
                        let key = (event.order.clone().unwrap(), event.data["line"].as_u64().unwrap());
                        *verified.entry(key).or_insert(0) += 1;
                    }
                    Effect::Save { forget, .. } => {
                        saves += 1;
                        for id in forget {
                            chain.remove(id);
                            verified.retain(|(o, _), _| o != id);
                        }
                    }
                    _ => {}
                }
            }
            prop_assert!(saves <= 1, "one save per input");
            // Prints and lookups only after the save, events only before it.
            if let Some(at) = fx.iter().position(|e| matches!(e, Effect::Save { .. })) {
                prop_assert!(fx[..at].iter().all(|e| matches!(e, Effect::Record { .. })), "{:?}", fx);
                prop_assert!(fx[at..].iter().all(|e| !matches!(e, Effect::Record { .. })), "{:?}", fx);
            }
            // What was saved is what the station holds.
            for o in t.s.orders() {
                prop_assert_eq!(t.saved.get(&o.id), Some(o), "unsaved change to {}", o.id);
            }
            prop_assert_eq!(t.saved.len(), t.s.orders().count());
            let mut by_state = std::collections::BTreeMap::new();
            for o in t.s.orders().filter(|o| !o.state.is_terminal()) {
                *by_state.entry(o.state.as_str()).or_insert(0) += 1;
            }
            prop_assert_eq!(&t.s.view().orders_by_state, &by_state, "state counts kept in step");
            let saved_session = t.saved_session.clone().unwrap_or_default();
            prop_assert_eq!(&saved_session, t.s.session(), "unsaved session change");
        }
        for o in t.s.orders() {
            prop_assert_eq!(chain.get(&o.id).map(String::as_str), Some(o.state.as_str()));
            for (line, n) in &o.progress.verified {
                prop_assert_eq!(verified.get(&(o.id.clone(), u64::from(*line))).copied(), Some(u64::from(*n)), "verified scans of {} line {}", o.id, line);
            }
        }
    }
}

/// A multi station that makes SSCCs, with SO-1 open for packing (order without an SSCC).
fn packing_with_sscc() -> T {
    let mut settings = settings(StationRole::Multi);
    settings.sscc = Some(stationd_drivers::sscc::SsccPrefix::new("4012345", 3).unwrap());
    let mut t = T::with(Station::new(settings));
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    t.scan("SO-1");
    t
}

#[test]
fn a_packed_order_without_an_sscc_gets_the_next_serial_in_its_pack_event_and_the_same_save() {
    let mut t = packing_with_sscc();
    t.s.start_sscc_at(1);
    t.scan(EAN_A);
    t.scan(EAN_A);
    let fx = t.scan("SKU-B");
    let sscc = "340123450000000017";
    assert_eq!(event(&fx, "order.state").data["sscc"], sscc, "the cloud hears the SSCC with the pack");
    assert_eq!(t.s.order("SO-1").unwrap().sscc(), Some(sscc));
    assert_eq!(t.s.sscc_next(), 2);
    // The counter and the order are in the one save that comes before the label's print.
    let Some(Effect::Save { orders, session, .. }) = fx.iter().find(|e| matches!(e, Effect::Save { .. })) else {
        panic!("no save")
    };
    assert_eq!(orders[0].progress.sscc.as_deref(), Some(sscc));
    assert_eq!(session.as_ref().map(|s| s.sscc_next), Some(2));
    // After a restart the counter goes on from what was saved, or from a higher floor.
    let mut again = t.restart();
    assert_eq!(again.s.sscc_next(), 2);
    again.s.start_sscc_at(100);
    assert_eq!(again.s.sscc_next(), 100);
    again.s.start_sscc_at(50);
    assert_eq!(again.s.sscc_next(), 100, "a floor never lowers the counter");
}

#[test]
fn an_sscc_scanned_as_its_gs1_barcode_ships_the_order_like_its_bare_digits() {
    let sscc = "340123450000000017";
    for code in [sscc.to_string(), format!("00{sscc}"), format!("]C100{sscc}"), format!("]C100{sscc}4201010115")] {
        let mut t = packing_with_sscc();
        t.s.start_sscc_at(1);
        t.scan(EAN_A);
        t.scan(EAN_A);
        t.scan("SKU-B");
        t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
        let fx = t.scan(&code);
        assert_eq!(kinds(&fx), ["ship.scanned", "order.state"], "{code}");
        assert_eq!(event(&fx, "ship.scanned").data["tracking"], sscc, "{code}");
        assert_eq!(t.state("SO-1"), OrderState::Shipped, "{code}");
    }
    // An SSCC from the cloud that starts like an AI (00…) ships as its bare digits too.
    let mut t = T::new(StationRole::Ship);
    t.scan("OP:0017");
    let mut o = order("SO-7", "labelled");
    o.sscc = Some("001234560000000018".into());
    t.cloud(CloudOrder::Upsert(Box::new(o)));
    assert_eq!(kinds(&t.scan("001234560000000018")), ["ship.scanned", "order.state"]);
}
