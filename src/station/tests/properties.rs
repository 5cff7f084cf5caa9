//! Properties over random input sequences.

use proptest::prelude::*;

use super::*;

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
                    Effect::Record { event: NewEvent { event: Event::OrderReceived(d), order, .. }, .. } => {
                        let id = order.clone().unwrap();
                        chain.entry(id).or_insert_with(|| d.state.as_str().to_string());
                    }
                    Effect::Record { event: NewEvent { event: Event::OrderState(d), order, .. }, .. } => {
                        let id = order.clone().unwrap();
                        let (from, to) = (d.from.as_str(), d.to.as_str());
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
                    Effect::Record { event: NewEvent { event: Event::ItemVerified(d), order, .. }, .. } => {
                        let key = (order.clone().unwrap(), u64::from(d.line));
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
