//! The workflow, input by input: every transition, every refusal, and properties over
//! random input sequences.

use std::collections::HashMap;

use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration as TimeDelta, OffsetDateTime};

use super::*;
use crate::event::{Event, NewEvent};
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
        operators: vec![Operator {
            badge: SUPERVISOR.into(),
            name: "Sam".into(),
            role: OperatorRole::Supervisor,
            locale: None,
        }],
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
            Effect::Record { event, .. } => Some(event.kind()),
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
            Effect::Record { event: NewEvent { event: Event::OrderState(d), .. }, .. } => {
                Some((d.from.as_str().to_string(), d.to.as_str().to_string()))
            }
            _ => None,
        })
        .collect()
}

/// An event's `data` as it goes on the wire.
fn data(event: &NewEvent) -> serde_json::Value {
    serde_json::to_value(&event.event).unwrap()["data"].take()
}

fn event<'a>(fx: &'a [Effect], kind: &str) -> &'a NewEvent {
    fx.iter()
        .find_map(|e| match e {
            Effect::Record { event, .. } if event.kind() == kind => Some(event),
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

mod locales;
mod properties;
mod say;
mod scans;
mod updates;
