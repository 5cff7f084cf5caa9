//! Updates from outside the scanner: cloud commands, order lookups, print outcomes, clock
//! samples and the timer tick (overdue levels, cache expiry).

use super::clock::SkewChange;
use super::flow::lookup_scan;
use super::{
    CloudOrder, Document, ErrorCode, Feedback, LabelStatus, OrderPayload, OrderState, PrintOutcome, Reply, Say,
    StateChange, Station, StoredOrder,
};
use crate::event::{
    ChangedBy, ClockSkew, ClockSource, CommandAccepted, CommandName, CommandRefusal, CommandRefused, DocumentFailed,
    ErrorInfo, Event, Interruption, LabelPrinted, OrderOverdue, OrderReceived, OrderSource, OrderUnknown, StateDetail,
};

/// How often the cache is swept for expired orders.
const EVICT_EVERY_MS: i64 = 60_000;

impl Station {
    pub(super) fn at(&self) -> String {
        super::at_string(self.now_ms)
    }

    pub(super) fn cloud(&mut self, rid: String, command: CloudOrder) {
        let (name, command_name) = (command.name(), command.command());
        let audit = |s: &Station, order: &str| {
            let data = CommandAccepted { name: command_name, request_id: rid.clone(), clock: None };
            s.event(Event::CommandAccepted(data), Some(order))
        };
        match command {
            CloudOrder::Upsert(order) => {
                let ev = audit(self, &order.id);
                self.fx.push(super::Effect::Record { event: ev, feedback: None });
                let st = self.receive(*order, OrderSource::Cloud, Some(rid.clone()));
                self.reply = Some((rid.clone(), Reply::order_state(&rid, st), Some(name)));
            }
            CloudOrder::Cancel { order, reason } => {
                self.cloud_change(rid, command_name, &order, StateChange::Cancel, reason)
            }
            CloudOrder::Hold { order, reason } => {
                self.cloud_change(rid, command_name, &order, StateChange::Hold, Some(reason))
            }
            CloudOrder::Release { order } => self.cloud_change(rid, command_name, &order, StateChange::Release, None),
        }
    }

    /// A command carried out outside the station: its audit event, then the reply,
    /// remembered with the request id.
    pub(super) fn executed(&mut self, rid: String, name: &'static str, order: Option<String>, reply: Reply) {
        // The uplink carries out only commands the contract names (`print`, `resync`). Another
        // name is a bug there: its tests stop on it; a station in use still answers (a panic
        // here would come back with every redelivery of the command).
        let command = CommandName::parse(name);
        debug_assert!(command.is_some(), "command {name:?} is not a CommandName");
        if let Some(command) = command {
            let data = CommandAccepted { name: command, request_id: rid.clone(), clock: None };
            let ev = self.event(Event::CommandAccepted(data), order.as_deref());
            self.fx.push(super::Effect::Record { event: ev, feedback: None });
        }
        self.reply = Some((rid, reply, Some(name)));
    }

    fn cloud_change(
        &mut self,
        rid: String,
        command: CommandName,
        id: &str,
        change: StateChange,
        reason: Option<String>,
    ) {
        let Some(e) = self.orders.get(id) else {
            let msg = format!("order {id} is not known at this station");
            return self.cloud_refuse(rid, command, Some(id), CommandRefusal::UnknownOrder, msg);
        };
        if let Err(msg) = super::transition(&e.order, change) {
            return self.cloud_refuse(rid, command, Some(id), CommandRefusal::IllegalTransition, msg.en());
        }
        let data = CommandAccepted { name: command, request_id: rid.clone(), clock: None };
        let ev = self.event(Event::CommandAccepted(data), Some(id));
        self.fx.push(super::Effect::Record { event: ev, feedback: None });
        let detail = StateDetail { request_id: Some(rid.clone()), ..StateDetail::default() };
        let to = self
            .change_state(id, change, ChangedBy::Cloud, reason.as_deref(), detail)
            .expect("transition checked above");
        if self.session.order.as_deref() == Some(id) && matches!(to, OrderState::Held | OrderState::Cancelled) {
            // The packer hears it now; the next scan of this order is refused.
            let msg = Say::StoppedByOffice { order: id.to_string(), to, reason: reason.clone() };
            let (code, state) = if to == OrderState::Held {
                ("order_held", Interruption::Held)
            } else {
                ("order_cancelled", Interruption::Cancelled)
            };
            self.record(
                Event::OrderInterrupted(crate::event::OrderInterrupted { state, clock: None }),
                Some(id),
                Some(Feedback::Alert { code, message: msg }),
            );
        }
        self.reply = Some((rid.clone(), Reply::order_state(&rid, to), Some(command.as_str())));
    }

    /// A well-formed command that cannot be carried out now: an event and an error reply,
    /// nothing changed and the request id not remembered, so the cloud may retry it.
    fn cloud_refuse(
        &mut self,
        rid: String,
        name: CommandName,
        order: Option<&str>,
        code: CommandRefusal,
        message: String,
    ) {
        let error = ErrorInfo::new(code, message.clone());
        let data = CommandRefused { name, request_id: rid.clone(), error, clock: None };
        self.record(Event::CommandRefused(data), order, None);
        let reply = Reply::refused(Some(&rid), ErrorCode::from(code), &message);
        self.reply = Some((rid, reply, None));
    }

    /// Caches an order's contents (`order.received`): a known order keeps the station's
    /// state and progress (the station owns progress); a new one takes `state` (default
    /// `released`). Returns the order's state.
    fn receive(&mut self, payload: OrderPayload, source: OrderSource, request_id: Option<String>) -> OrderState {
        let at = self.at();
        let id = payload.id.clone();
        let id = id.as_str();
        let order = match self.orders.get(id) {
            Some(e) => StoredOrder { payload: payload.into(), updated_at: at, ..(*e.order).clone() },
            None => {
                let state = payload.state.unwrap_or(OrderState::Released);
                let mut o = StoredOrder::new(payload, state, at);
                o.progress.since_ms = self.now_ms;
                o
            }
        };
        let st = order.state;
        let data = OrderReceived { state: st, source, request_id, clock: None };
        self.record(Event::OrderReceived(data), Some(id), None);
        self.put(order);
        self.dirty.insert(id.to_string());
        st
    }

    /// Orders from the config's `preload` file: cached when not known yet.
    pub(super) fn preload(&mut self, orders: Vec<OrderPayload>) {
        for payload in orders {
            if self.orders.contains_key(&payload.id) {
                continue;
            }
            self.receive(payload, OrderSource::Preload, None);
        }
    }

    pub(super) fn lookup_answered(&mut self, id: String, result: Result<Box<OrderPayload>, super::LookupError>) {
        let waiting = self.session.lookup.as_deref() == Some(id.as_str());
        match result {
            Ok(payload) => {
                self.receive(*payload, OrderSource::Lookup, None);
                if waiting && self.session.operator.is_some() {
                    let sc = lookup_scan(&id);
                    self.open_known(sc, &id);
                }
            }
            Err(super::LookupError { code, message }) => {
                if waiting {
                    self.set_session(|s| s.lookup = None);
                }
                let msg = Say::NotFound { order: id.clone(), detail: message };
                let error = ErrorInfo::new(code.to_string(), msg.en());
                // The packer may have moved on: then it is an alert, not the answer to a scan.
                let fb = if waiting {
                    Feedback::Error { code: "unknown_order", message: msg }
                } else {
                    Feedback::Alert { code: "unknown_order", message: msg }
                };
                let data = OrderUnknown { scan: None, error, clock: None };
                self.record(Event::OrderUnknown(data), Some(&id), Some(fb));
            }
        }
    }

    pub(super) fn printed(&mut self, id: &str, document: Document, outcome: PrintOutcome) {
        let Some(e) = self.orders.get(id) else { return };
        let state = e.order.state;
        let how = match outcome {
            PrintOutcome::Confirmed => "label confirmed by the printer",
            PrintOutcome::Unconfirmed => "label sent; the printer cannot confirm",
            PrintOutcome::Written => "label written to a file; no printer answered",
            PrintOutcome::Failed(_) => "",
        };
        match (document, outcome) {
            (Document::Label, PrintOutcome::Confirmed | PrintOutcome::Unconfirmed | PrintOutcome::Written)
                if state == OrderState::Packed =>
            {
                self.set_label(id, LabelStatus::Printed);
                let labelled = StateChange::Advance(OrderState::Labelled);
                let _ = self.change_state(id, labelled, ChangedBy::Printer, Some(how), StateDetail::default());
                let msg = Say::Labelled { order: id.to_string() };
                let event = Event::LabelPrinted(LabelPrinted::default());
                self.record(event, Some(id), Some(Feedback::Ok { what: msg }));
                if self.session.order.as_deref() == Some(id) {
                    self.set_session(|s| s.order = None);
                }
            }
            (Document::Label, PrintOutcome::Confirmed | PrintOutcome::Unconfirmed | PrintOutcome::Written) => {
                self.set_label(id, LabelStatus::Printed);
            }
            (doc, PrintOutcome::Failed(reason)) => {
                if doc == Document::Label {
                    self.set_label(id, LabelStatus::Failed);
                }
                let msg = Say::DidNotPrint { document: doc, order: id.to_string(), reason: reason.clone() };
                let code = if doc == Document::Label { "label_failed" } else { "slip_failed" };
                let data = DocumentFailed { reason, clock: None };
                let event = if doc == Document::Label { Event::LabelFailed(data) } else { Event::SlipFailed(data) };
                self.record(event, Some(id), Some(Feedback::Alert { code, message: msg }));
            }
            (Document::Slip, _) => {}
        }
    }

    fn set_label(&mut self, id: &str, status: LabelStatus) {
        if let Some(o) = self.order_mut(id) {
            o.progress.label = status;
        }
    }

    pub(super) fn clock_sample(&mut self, source: ClockSource, remote_ms: i64, max_delay_ms: Option<i64>) {
        match self.clock.sample(self.now_ms, remote_ms, max_delay_ms) {
            Some(SkewChange::Raised(skew)) => {
                // Whole seconds, rounded half to even as `{:.0}` does.
                let seconds = ((skew.unsigned_abs() as f64) / 1000.0).round_ties_even() as u64;
                let msg = Say::ClockSkew { seconds, ahead: skew > 0, source };
                let data = ClockSkew { source, skew_ms: skew, resolved: false, clock: None };
                self.record(Event::ClockSkew(data), None, Some(Feedback::Alert { code: "clock_skew", message: msg }));
            }
            Some(SkewChange::Resolved(skew)) => {
                let data = ClockSkew { source, skew_ms: skew, resolved: true, clock: None };
                self.record(Event::ClockSkew(data), None, None);
            }
            None => {}
        }
    }

    pub(super) fn tick(&mut self) {
        let now = self.now_ms;
        let rules = std::mem::take(&mut self.settings.overdue);
        let mut raised = Vec::new();
        for (id, e) in &self.orders {
            let p = &e.order.progress;
            let state = e.order.state;
            let elapsed = now - p.since_ms;
            // Levels of this state passed and not raised yet (rules are sorted by `after`).
            let passed = rules
                .iter()
                .filter(|r| r.state == state)
                .take_while(|r| elapsed >= r.after.as_millis() as i64)
                .enumerate()
                .skip(p.overdue_level);
            for (i, r) in passed {
                raised.push((id.clone(), state, r.level.clone(), r.after, i + 1));
            }
        }
        self.settings.overdue = rules;
        raised.sort_by(|a, b| a.0.cmp(&b.0).then(a.3.cmp(&b.3)));
        for (id, state, level, after, reached) in raised {
            let mins = after.as_secs() / 60;
            let msg = Say::Overdue { order: id.clone(), state, minutes: mins, level: level.clone() };
            let data = OrderOverdue { state, level, after_s: after.as_secs(), clock: None };
            self.record(
                Event::OrderOverdue(data),
                Some(&id),
                Some(Feedback::Alert { code: "order_overdue", message: msg }),
            );
            if let Some(o) = self.order_mut(&id) {
                o.progress.overdue_level = reached;
            }
        }
        if now - self.last_evict_ms >= EVICT_EVERY_MS {
            self.last_evict_ms = now;
            let cache_ms = self.settings.cache_ms;
            let open = self.session.order.clone();
            let old: Vec<String> = self
                .orders
                .values()
                .filter(|e| Some(&e.order.id) != open.as_ref())
                .filter(|e| {
                    let updated = crate::event::parse_at(&e.order.updated_at).map(super::ms).unwrap_or(0);
                    now - updated.max(e.order.progress.since_ms) > cache_ms
                })
                .map(|e| e.order.id.clone())
                .collect();
            for id in old {
                self.remove(&id);
            }
        }
    }
}
