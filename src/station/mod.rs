//! The station workflow as a pure state machine: an [`Input`] (a scan, a cloud order
//! command, an order lookup result, a print outcome, a clock sample, a timer tick) goes in
//! with the current time, [`Effect`]s come out. The daemon performs the effects in order:
//! journal the events, save the orders and the session, then give feedback and replies.
//!
//! Architecture invariant: nothing here touches the disk, the network or the clock; all
//! order data the workflow needs is held here (restored from the order store at start).
//!
//! What the station owns:
//! - the operator session (who is logged in, which order is open, an armed command);
//! - the order cache in memory, with each order's progress (picked / verified quantities,
//!   state timers, label status) — every change is handed out in one [`Effect::Save`];
//! - the order state rules ([`order::transition`]): each accepted transition becomes exactly
//!   one `order.state` event; an illegal one is refused with a reason and never applied;
//! - overdue levels, clock skew, and the [`View`] for the status page.
//!
//! The flow itself (scans by station role, command barcodes) lives in `flow.rs`; cloud
//! commands, lookups, print outcomes and timers in `updates.rs`.

mod barcode_commands;
mod clock;
mod flow;
pub mod order;
pub mod payload;
pub mod reply;
pub use reply::{ErrorCode, Reply};
mod say;
pub use say::{NotRecorded, Say, SupervisorAction};
mod settings;
mod sscc;
#[cfg(test)]
mod tests;
mod updates;
mod view;

use std::collections::{BTreeSet, VecDeque};

use rustc_hash::FxHashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stationd_drivers::framing::FrameError;
use time::OffsetDateTime;

use crate::event::{
    ChangedBy, Clock, ClockSource, CommandName, ErrorInfo, Event, NewEvent, OrderStateChanged, ScanRefusal,
    ScanRejected, StateDetail,
};
use crate::locale::Locale;
pub use order::{lines_of, transition, LabelStatus, Line, OrderState, Progress, StateChange, StoredOrder};
pub use payload::OrderPayload;
pub use settings::{default_overdue, Document, Operator, OperatorRole, OverdueRule, Settings, StationRole};
pub use view::View;

pub use clock::SKEW_LIMIT_MS;
/// Recent alerts kept for the view.
const ALERTS_KEPT: usize = 20;

/// An order command from the cloud (already validated by `uplink::commands`).
#[derive(Debug, Clone, PartialEq)]
pub enum CloudOrder {
    Upsert(Box<OrderPayload>),
    Cancel { order: String, reason: Option<String> },
    Hold { order: String, reason: String },
    Release { order: String },
}

impl CloudOrder {
    pub fn name(&self) -> &'static str {
        self.command().as_str()
    }

    pub fn command(&self) -> CommandName {
        match self {
            CloudOrder::Upsert { .. } => CommandName::OrderUpsert,
            CloudOrder::Cancel { .. } => CommandName::OrderCancel,
            CloudOrder::Hold { .. } => CommandName::OrderHold,
            CloudOrder::Release { .. } => CommandName::OrderRelease,
        }
    }
}

/// How a print job the workflow asked for ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    /// The printer confirmed it.
    Confirmed,
    /// Sent to a printer that cannot answer (a device node): as far as it can get.
    Unconfirmed,
    /// Written to a file in a folder: no printer involved.
    Written,
    /// Not printed: the reason.
    Failed(String),
}

/// Why the order system gave no order: a stable code (`not_found`, `lookup_timeout`, ...)
/// and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct LookupError {
    pub code: &'static str,
    pub message: String,
}

impl LookupError {
    pub fn new(code: &'static str, message: impl Into<String>) -> LookupError {
        LookupError { code, message: message.into() }
    }
}

/// Something that happened at the station.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A complete, well-formed barcode from a scanner.
    Scan { scanner: String, code: String },
    /// A frame the scanner framing rejected (too long, noise, not UTF-8).
    BadScan { scanner: String, error: FrameError },
    /// An order command from the cloud.
    Cloud { request_id: String, command: CloudOrder },
    /// A command the uplink carried out itself (`print`, `resync`): audited with a
    /// `command.accepted` event and remembered with its reply in this input's one commit,
    /// before the reply goes out.
    CommandExecuted { request_id: String, command: &'static str, order: Option<String>, reply: Reply },
    /// The order system answered a lookup: the order (validated) or why not (code, message).
    LookupAnswered { id: String, result: Result<Box<OrderPayload>, LookupError> },
    /// Orders to cache at start (`[orders] preload`), validated; known ones are left alone.
    Preload(Vec<OrderPayload>),
    /// A print job the workflow asked for ended.
    Printed { order: String, document: Document, outcome: PrintOutcome },
    /// A remote clock reading: the order system's `Date` with `max_delay` its round trip
    /// (plus the header's 1 s resolution), or a command's `sent_at` with `max_delay: None`
    /// (it may have waited in the broker for any time). See `clock.rs`.
    ClockSample { source: ClockSource, remote: OffsetDateTime, max_delay: Option<std::time::Duration> },
    /// Time passes (about once a second).
    Tick,
}

/// What the packer is told once the effect's event is durable. The words are a [`Say`]:
/// the edge renders them in the locale in force ([`Station::locale`]); the code is English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Good beep / green: `ok seq=N <what>`.
    Ok { what: Say },
    /// Error beep / red: `error <code>: <message>`.
    Error { code: &'static str, message: Say },
    /// Not an answer to a scan: something the packer should notice (`alert <code>: ...`).
    Alert { code: &'static str, message: Say },
}

impl Feedback {
    /// What it says.
    pub fn say(&self) -> &Say {
        match self {
            Feedback::Ok { what } => what,
            Feedback::Error { message, .. } | Feedback::Alert { message, .. } => message,
        }
    }

    /// The feedback line: `ok seq=N what code=X`, `error code: message (seq=N code=X)`,
    /// `alert code: message (seq=N)` — the words in `locale`; what a script reads (`ok`,
    /// `error`, `alert`, the code, `seq=`, `code=`) the same in every locale.
    pub fn line(&self, seq: u64, scanned: Option<&str>, locale: Locale) -> String {
        let code = scanned.map(|c| format!(" code={}", stationd_drivers::framing::display_code(c))).unwrap_or_default();
        let text = self.say().render(locale);
        match self {
            Feedback::Ok { .. } => format!("ok seq={seq} {text}{code}"),
            Feedback::Error { code: e, .. } => format!("error {e}: {text} (seq={seq}{code})"),
            Feedback::Alert { code: e, .. } => format!("alert {e}: {text} (seq={seq})"),
        }
    }
}

/// The operator session, saved with the orders so a restart resumes where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub operator: Option<Operator>,
    /// The order open at the station.
    pub order: Option<String>,
    /// A command waiting for the item it applies to.
    pub armed: Option<Armed>,
    /// An order being looked up in the order system.
    pub lookup: Option<String>,
    /// The next SSCC serial reference (see `sscc.rs`).
    #[serde(default)]
    pub sscc_next: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Armed {
    CancelLine,
    Damaged,
}

/// What the edges must do, in this order: the events (`Record`), one `Save`, then the
/// actions that must only follow a saved change (`Print`, `Lookup`), then the `Reply`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Make `event` durable; then (after the whole input's effects) give `feedback`.
    Record { event: NewEvent, feedback: Option<Feedback> },
    /// Persist these orders and the session (one commit), forget evicted orders, and for
    /// a cloud command remember its request id with the reply, in the same commit.
    /// `session` is there when it changed.
    Save { orders: Vec<Arc<StoredOrder>>, forget: Vec<String>, session: Option<Session>, remember: Option<Remembered> },
    /// Ask the order system for an order not in the cache.
    Lookup { id: String },
    /// Print a document for an order.
    Print { order: Arc<StoredOrder>, document: Document, reprint: bool },
    /// Answer a cloud command.
    Reply { request_id: String, reply: Reply },
}

/// A command carried out, remembered by its request id so a redelivery is answered the
/// same and never applied twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    pub request_id: String,
    /// The command's name (`order-upsert`, `print`, ...).
    pub command: &'static str,
    pub reply: Reply,
}

/// An order in memory with its parsed lines. Shared with the effects that carry it (saved
/// and printed without copying); changed copy-on-write through [`Station::order_mut`].
#[derive(Debug, Clone)]
struct Entry {
    order: Arc<StoredOrder>,
    lines: Arc<Vec<Line>>,
}

#[derive(Debug, Clone)]
pub struct Alert {
    pub code: &'static str,
    pub message: Say,
    pub at_ms: i64,
}

/// The workflow state of one station.
#[derive(Debug)]
pub struct Station {
    settings: Settings,
    // Fx hashing: ids are short and come from the station's own cloud; lookups sit on the
    // path of every scan.
    orders: FxHashMap<String, Entry>,
    /// Tracking numbers / SSCCs and totes → order id.
    tracking: FxHashMap<String, String>,
    totes: FxHashMap<String, String>,
    session: Session,
    /// What the clock samples proved (the known skew, box minus remote, when over the limit).
    clock: clock::ClockState,
    alerts: VecDeque<Alert>,
    last_feedback: Option<(Feedback, i64)>,
    scans: u64,
    /// Cached orders not shipped or cancelled, by state: kept as orders come, change and
    /// go, so the view (built after every input) never walks the whole cache.
    by_state: std::collections::BTreeMap<&'static str, usize>,
    /// Answers given, by result: `ok` or the refusal's code (for metrics).
    results: std::collections::BTreeMap<&'static str, u64>,
    last_evict_ms: i64,
    // Per-input scratch: events so far, actions to take once the input is saved (print,
    // lookup), orders changed, a reply to send last.
    fx: Vec<Effect>,
    after: Vec<Effect>,
    dirty: BTreeSet<String>,
    forget: Vec<String>,
    session_dirty: bool,
    /// The answer to the input's command: request id, reply, and the command's name when
    /// the request id is remembered with it (carried out; refusals are not remembered).
    reply: Option<(String, Reply, Option<&'static str>)>,
    now_ms: i64,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds since the epoch as an envelope time (`2026-11-24T10:00:00.000Z`).
fn at_string(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    crate::event::format_at(t)
}

impl Station {
    pub fn new(settings: Settings) -> Self {
        Station {
            settings,
            orders: FxHashMap::default(),
            tracking: FxHashMap::default(),
            totes: FxHashMap::default(),
            session: Session::default(),
            clock: clock::ClockState::default(),
            alerts: VecDeque::new(),
            last_feedback: None,
            scans: 0,
            by_state: std::collections::BTreeMap::new(),
            results: std::collections::BTreeMap::new(),
            last_evict_ms: 0,
            fx: Vec::new(),
            after: Vec::new(),
            dirty: BTreeSet::new(),
            forget: Vec::new(),
            session_dirty: false,
            reply: None,
            now_ms: 0,
        }
    }

    /// Loads what the order store kept: the cached orders and the last session.
    pub fn restore(&mut self, orders: Vec<StoredOrder>, session: Option<Session>) {
        for o in orders {
            self.put(o);
        }
        if let Some(s) = session {
            // An open order that is no longer cached cannot be resumed.
            let order = s.order.filter(|id| self.orders.contains_key(id));
            self.session = Session { order, ..s };
        }
    }

    /// Puts the orders and the session back to what is saved (after an input whose events
    /// could not all be journaled); alerts and clock state stay.
    pub fn reload(&mut self, orders: Vec<StoredOrder>, session: Option<Session>) {
        self.orders.clear();
        self.by_state.clear();
        self.tracking.clear();
        self.totes.clear();
        self.session = Session::default();
        self.fx.clear();
        self.after.clear();
        self.dirty.clear();
        self.forget.clear();
        self.reply = None;
        self.restore(orders, session);
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn order(&self, id: &str) -> Option<&StoredOrder> {
        self.orders.get(id).map(|e| &*e.order)
    }

    pub fn orders(&self) -> impl Iterator<Item = &StoredOrder> {
        self.orders.values().map(|e| &*e.order)
    }

    /// Scans taken since start.
    pub fn scans(&self) -> u64 {
        self.scans
    }

    pub fn handle(&mut self, input: Input, now: OffsetDateTime) -> Vec<Effect> {
        self.now_ms = ms(now);
        match input {
            Input::Scan { scanner, code } => {
                self.scans += 1;
                self.scan(&scanner, &code);
            }
            Input::BadScan { scanner, error } => {
                let code = framing_refusal(&error);
                let say = Say::BadFrame(error);
                let error = ErrorInfo::new(code, say.en());
                let fb = Feedback::Error { code: code.as_str(), message: say };
                let data = ScanRejected { scanner, read: None, error, clock: None };
                self.record(Event::ScanRejected(data), None, Some(fb));
            }
            Input::Cloud { request_id, command } => self.cloud(request_id, command),
            Input::CommandExecuted { request_id, command, order, reply } => {
                self.executed(request_id, command, order, reply)
            }
            Input::LookupAnswered { id, result } => self.lookup_answered(id, result),
            Input::Preload(orders) => self.preload(orders),
            Input::Printed { order, document, outcome } => self.printed(&order, document, outcome),
            Input::ClockSample { source, remote, max_delay } => {
                self.clock_sample(source, ms(remote), max_delay.map(|d| d.as_millis() as i64))
            }
            Input::Tick => self.tick(),
        }
        self.finish()
    }

    /// Closes one input: the save (if anything changed), then the reply.
    fn finish(&mut self) -> Vec<Effect> {
        let remember = match &self.reply {
            Some((rid, reply, Some(command))) => {
                Some(Remembered { request_id: rid.clone(), command, reply: reply.clone() })
            }
            _ => None,
        };
        if !self.dirty.is_empty() || !self.forget.is_empty() || self.session_dirty || remember.is_some() {
            let orders = std::mem::take(&mut self.dirty)
                .into_iter()
                .filter_map(|id| self.orders.get(&id).map(|e| e.order.clone()))
                .collect();
            self.fx.push(Effect::Save {
                orders,
                forget: std::mem::take(&mut self.forget),
                session: self.session_dirty.then(|| self.session.clone()),
                remember,
            });
            self.session_dirty = false;
        }
        // Only once the change is saved: a label printed for an order whose packing a crash
        // then forgot would be printed again when the packer redoes it.
        self.fx.append(&mut self.after);
        if let Some((request_id, reply, _)) = self.reply.take() {
            self.fx.push(Effect::Reply { request_id, reply });
        }
        std::mem::take(&mut self.fx)
    }

    /// Adds or replaces an order in memory and its indexes.
    fn put(&mut self, order: StoredOrder) {
        let p = &order.payload;
        for t in [p.tracking.as_deref(), p.sscc.as_deref(), order.progress.sscc.as_deref()].into_iter().flatten() {
            self.tracking.insert(t.to_string(), order.id.clone());
        }
        for t in [p.extra_text("tote").map(str::to_string), order.progress.tote.clone()].into_iter().flatten() {
            self.totes.insert(t, order.id.clone());
        }
        let lines = Arc::new(lines_of(&order.payload));
        self.count(order.state, 1);
        if let Some(old) = self.orders.insert(order.id.clone(), Entry { order: Arc::new(order), lines }) {
            self.count(old.order.state, -1);
        }
    }

    fn count(&mut self, state: OrderState, delta: isize) {
        if state.is_terminal() {
            return;
        }
        let n = self.by_state.entry(state.as_str()).or_insert(0);
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            self.by_state.remove(state.as_str());
        }
    }

    /// The order to change; marks it for the save at the end of this input.
    fn order_mut(&mut self, id: &str) -> Option<&mut StoredOrder> {
        let e = self.orders.get_mut(id)?;
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_string());
        }
        Some(Arc::make_mut(&mut e.order))
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.orders.remove(id) {
            self.count(old.order.state, -1);
            self.tracking.retain(|_, o| o != id);
            self.totes.retain(|_, o| o != id);
            self.forget.push(id.to_string());
        }
    }

    fn set_session(&mut self, f: impl FnOnce(&mut Session)) {
        f(&mut self.session);
        self.session_dirty = true;
    }

    /// Builds an event stamped with the operator and, when the clock is off, the skew.
    fn event(&self, mut event: Event, order: Option<&str>) -> NewEvent {
        if let (Some(skew_ms), Some(clock)) = (self.clock.skew_ms(), event.clock_mut()) {
            *clock = Some(Clock { skew_ms });
        }
        NewEvent {
            event,
            order: order.map(str::to_string),
            operator: self.session.operator.as_ref().map(|o| o.badge.clone()),
        }
    }

    fn record(&mut self, event: Event, order: Option<&str>, feedback: Option<Feedback>) {
        let event = self.event(event, order);
        if let Some(fb) = &feedback {
            match fb {
                Feedback::Alert { code, message } => self.alert(code, message.clone()),
                Feedback::Ok { .. } => *self.results.entry("ok").or_insert(0) += 1,
                Feedback::Error { code, .. } => *self.results.entry(code).or_insert(0) += 1,
            }
            self.last_feedback = Some((fb.clone(), self.now_ms));
        }
        self.fx.push(Effect::Record { event, feedback });
    }

    fn alert(&mut self, code: &'static str, message: Say) {
        if self.alerts.len() == ALERTS_KEPT {
            self.alerts.pop_front();
        }
        self.alerts.push_back(Alert { code, message, at_ms: self.now_ms });
    }

    /// Applies a state change to an order: exactly one `order.state` event when accepted,
    /// an error (nothing applied) when not.
    /// [`Station::change_state`] for a change the caller has already checked is allowed:
    /// a refusal here is a bug in the flow (the property tests would catch it).
    fn apply_checked(
        &mut self,
        id: &str,
        change: StateChange,
        by: ChangedBy,
        reason: Option<&str>,
        extra: StateDetail,
    ) {
        let applied = self.change_state(id, change, by, reason, extra);
        debug_assert!(applied.is_ok(), "checked state change refused for {id}: {applied:?}");
    }

    fn change_state(
        &mut self,
        id: &str,
        change: StateChange,
        by: ChangedBy,
        reason: Option<&str>,
        detail: StateDetail,
    ) -> Result<OrderState, Say> {
        let entry = self.orders.get(id).ok_or_else(|| Say::NotKnownHere { order: id.to_string() })?;
        let from = entry.order.state;
        let (to, held_from) = transition(&entry.order, change)?;
        let data = OrderStateChanged { from, to, by, reason: reason.map(str::to_string), detail, clock: None };
        self.record(Event::OrderState(data), Some(id), None);
        let (now_ms, at) = (self.now_ms, self.at());
        let o = self.order_mut(id).expect("checked above");
        o.state = to;
        o.held_from = held_from;
        o.updated_at = at;
        o.progress.since_ms = now_ms;
        o.progress.overdue_level = 0;
        match change {
            StateChange::Hold => o.progress.hold_reason = reason.map(str::to_string),
            StateChange::Release => o.progress.hold_reason = None,
            _ => {}
        }
        self.count(from, -1);
        self.count(to, 1);
        Ok(to)
    }

    /// The language the station speaks now: the logged-in operator's, else the station's.
    pub fn locale(&self) -> Locale {
        self.session.operator.as_ref().and_then(|o| o.locale).unwrap_or(self.settings.locale)
    }

    fn operator_role(&self) -> Option<OperatorRole> {
        self.session.operator.as_ref().map(|o| o.role)
    }

    /// Builds the status page's view of the station.
    pub fn view(&self) -> View {
        view::build(self)
    }
}

/// The refusal code of a scan the framer rejected.
fn framing_refusal(error: &FrameError) -> ScanRefusal {
    match error {
        FrameError::TooLong { .. } => ScanRefusal::ScanTooLong,
        FrameError::ControlByte { .. } => ScanRefusal::ScanNoise,
        FrameError::NotUtf8 { .. } => ScanRefusal::ScanNotUtf8,
    }
}
