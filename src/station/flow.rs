//! Scans: operator login, opening orders by station role, picking and pack verification,
//! shipping, and command barcodes. Every scan becomes exactly one event describing what it
//! did (`operator.login`, `item.verified`, `scan.rejected`, ...), plus an `order.state`
//! event for each transition it caused.

use stationd_drivers::barcode::{ProductCode, ScanClass};

use super::{
    Armed, Document, Feedback, LabelStatus, Line, Operator, OperatorRole, OrderState, Say, StateChange, Station,
    StationRole,
};
/// A classified scan on its way through the flow is what its event records.
pub(super) use crate::event::Scan;
use crate::event::{
    self, ChangedBy, DocumentFailed, ErrorInfo, Event, ItemCounted, ItemDamaged, ItemRefusal, ItemRejected,
    LineCancelled, LogoutReason, OpenedLine, OperatorLogin, OperatorLogout, OrderOpened, OrderUnknown, PickLocation,
    PickTote, ScanRead, ScanRefusal, ScanRejected, Scanned, ShipScanned, StateDetail, Step, Symbology,
};

/// What the scan's event records about the code itself.
fn scan_read(code: &str, class: &ScanClass) -> ScanRead {
    let mut read = ScanRead { code: code.to_string(), class: class_of(class), symbology: None, gtin: None, ai: None };
    if let ScanClass::Product(p) = class {
        read.symbology = Some(match p {
            ProductCode::Ean8(_) => Symbology::Ean8,
            ProductCode::Ean13(_) => Symbology::Ean13,
            ProductCode::UpcA(_) => Symbology::Upca,
            ProductCode::Gs1(_) => Symbology::Gs1,
        });
        read.gtin = p.gtin14();
        if let ProductCode::Gs1(g) = p {
            read.ai = Some(g.elements.iter().map(|(a, v)| (a.clone(), v.clone())).collect());
        }
    }
    read
}

/// The class a scan is recorded with.
fn class_of(class: &ScanClass) -> event::ScanClass {
    match class {
        ScanClass::Badge(_) => event::ScanClass::Badge,
        ScanClass::Command(_) => event::ScanClass::Command,
        ScanClass::Order(_) => event::ScanClass::Order,
        ScanClass::Tote(_) => event::ScanClass::Tote,
        ScanClass::Location(_) => event::ScanClass::Location,
        ScanClass::Product(_) => event::ScanClass::Product,
        ScanClass::Tracking(_) => event::ScanClass::Tracking,
        ScanClass::Unknown(_) => event::ScanClass::Unknown,
    }
}

/// How a scan is refused: the event kind and its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `scan.rejected`
    Scan(ScanRefusal),
    /// `item.rejected`
    Item(ItemRefusal),
    /// `order.unknown` (`unknown_order`): an order scanned that the station does not know.
    UnknownOrder,
}

impl Refusal {
    /// The code, also the packer's feedback code.
    fn code(self) -> &'static str {
        match self {
            Refusal::Scan(c) => c.as_str(),
            Refusal::Item(c) => c.as_str(),
            Refusal::UnknownOrder => "unknown_order",
        }
    }
}

/// Items a line needs: its quantity at pick; at pack what was picked when the pick was short.
fn target(p: &super::Progress, l: &Line, step: Step) -> u32 {
    match step {
        Step::Pack if p.short => p.picked.get(&l.line).copied().unwrap_or(0),
        _ => l.qty,
    }
}

/// Items of a line picked (at pick) or verified (at pack) so far.
fn done(p: &super::Progress, line: u32, step: Step) -> u32 {
    let m = if step == Step::Pick { &p.picked } else { &p.verified };
    m.get(&line).copied().unwrap_or(0)
}

impl Station {
    pub(super) fn scan(&mut self, scanner: &str, code: &str) {
        let class = {
            let (orders, totes) = (&self.orders, &self.totes);
            self.settings.rules.classify(code, |c| orders.contains_key(c) || totes.contains_key(c))
        };
        let class = match class {
            Ok(c) => c,
            // A label's own number (an SSCC that starts like an AI) ships as it is.
            Err(_) if self.tracking.contains_key(code) => ScanClass::Tracking(code.to_string()),
            Err(e) => {
                // A product code with a wrong check digit is a misread: reject, never guess.
                return self.refuse(scanner, code, None, Say::BadBarcode(e));
            }
        };
        let sc = Scan { scanner: scanner.to_string(), read: scan_read(code, &class) };
        if let ScanClass::Badge(badge) = &class {
            return self.badge(sc, badge);
        }
        if self.session.operator.is_none() {
            let msg = Say::LogInFirst { code: code.to_string() };
            return self.refuse_scan(sc, ScanRefusal::NotLoggedIn, msg);
        }
        match class {
            ScanClass::Badge(_) => unreachable!("handled above"),
            ScanClass::Command(name) => self.command(sc, &name),
            ScanClass::Order(id) => {
                let id = self.totes.get(&id).cloned().unwrap_or(id);
                self.open_order(sc, &id)
            }
            ScanClass::Tote(tote) => match self.totes.get(&tote).cloned() {
                Some(id) => self.open_order(sc, &id),
                None => self.item(sc, Some(&tote), None),
            },
            ScanClass::Tracking(t) => self.ship(sc, &t),
            ScanClass::Product(p) => {
                let gtin = p.gtin14();
                if self.tracking.contains_key(code) {
                    return self.ship(sc, code);
                }
                // The GS1-128 barcode of an SSCC: `]C1` 00 + 18 digits, maybe in a longer
                // element string.
                if let Some(sscc) = stationd_drivers::sscc::in_scan(code).filter(|s| self.tracking.contains_key(s)) {
                    return self.ship(sc, &sscc);
                }
                self.item(sc, None, Some((code.to_string(), gtin)))
            }
            ScanClass::Location(loc) => self.location(sc, &loc),
            ScanClass::Unknown(c) => match self.tracking.get(&c).cloned() {
                Some(_) => self.ship(sc, &c),
                None => self.item(sc, None, Some((c, None))),
            },
        }
    }

    /// A code that failed as a product code (a wrong check digit: a misread), so it has no
    /// other class.
    pub(super) fn refuse(&mut self, scanner: &str, code: &str, order: Option<&str>, message: Say) {
        let read = ScanRead {
            code: code.to_string(),
            class: event::ScanClass::Product,
            symbology: None,
            gtin: None,
            ai: None,
        };
        let err = ScanRefusal::BadBarcode;
        let data = ScanRejected {
            scanner: scanner.to_string(),
            read: Some(read),
            error: ErrorInfo::new(err, message.en()),
            clock: None,
        };
        self.record(Event::ScanRejected(data), order, Some(Feedback::Error { code: err.as_str(), message }));
    }

    pub(super) fn refuse_scan(&mut self, sc: Scan, err: ScanRefusal, message: Say) {
        let order = self.session.order.clone();
        self.refuse_in(sc, order.as_deref(), Refusal::Scan(err), message)
    }

    /// Refuses a scan: the event carries the English text, the packer hears `message` in
    /// the locale in force.
    pub(super) fn refuse_in(&mut self, sc: Scan, order: Option<&str>, refusal: Refusal, message: Say) {
        let code = refusal.code();
        let en = message.en();
        let event = match refusal {
            Refusal::Scan(c) => {
                let error = ErrorInfo::new(c, en);
                Event::ScanRejected(ScanRejected { scanner: sc.scanner, read: Some(sc.read), error, clock: None })
            }
            Refusal::Item(c) => {
                let error = ErrorInfo::new(c, en);
                Event::ItemRejected(ItemRejected { scan: sc, error, clock: None })
            }
            Refusal::UnknownOrder => {
                let error = ErrorInfo::new(code.to_string(), en);
                Event::OrderUnknown(OrderUnknown { scan: Some(sc), error, clock: None })
            }
        };
        self.record(event, order, Some(Feedback::Error { code, message }));
    }

    /// Records what an accepted scan did, and tells the packer `what`.
    pub(super) fn accept(&mut self, event: Event, order: Option<&str>, what: Say) {
        self.record(event, order, Some(Feedback::Ok { what }));
    }

    fn badge(&mut self, sc: Scan, badge: &str) {
        let known = self.settings.operators.iter().find(|o| o.badge == badge).cloned();
        let operator = match known {
            Some(o) => o,
            None if self.settings.allow_unlisted_packers => {
                Operator { badge: badge.to_string(), name: String::new(), role: OperatorRole::Packer, locale: None }
            }
            None => {
                let msg = Say::BadgeNotListed { badge: badge.to_string() };
                return self.refuse_scan(sc, ScanRefusal::UnknownBadge, msg);
            }
        };
        let current = self.session.operator.clone();
        if current.as_ref().is_some_and(|c| c.badge == operator.badge) {
            // The same badge again logs out.
            let what = Say::LoggedOut { badge: operator.badge.clone() };
            let data = OperatorLogout { scan: Some(sc), reason: LogoutReason::Badge, next: None, clock: None };
            self.accept(Event::OperatorLogout(data), None, what);
            return self.set_session(|s| {
                s.operator = None;
                s.armed = None;
            });
        }
        if current.is_some() {
            // Stamped with the operator leaving (the session still holds them here).
            let data = OperatorLogout {
                scan: None,
                reason: LogoutReason::Switched,
                next: Some(operator.badge.clone()),
                clock: None,
            };
            let ev = self.event(Event::OperatorLogout(data), None);
            self.fx.push(super::Effect::Record { event: ev, feedback: None });
        }
        self.set_session(|s| {
            s.operator = Some(operator.clone());
            s.armed = None;
        });
        let what = Say::LoggedIn { badge: operator.badge.clone(), role: operator.role };
        let order = self.session.order.clone();
        let data = OperatorLogin { scan: sc, name: operator.name, role: operator.role, clock: None };
        self.accept(Event::OperatorLogin(data), order.as_deref(), what);
    }

    /// What a scan of an order (or its tote) does, by station role and order state.
    fn open_order(&mut self, sc: Scan, id: &str) {
        if !self.orders.contains_key(id) {
            if self.settings.lookup {
                self.set_session(|s| {
                    s.lookup = Some(id.to_string());
                    s.armed = None;
                });
                let data = Scanned { scan: sc, clock: None };
                self.accept(Event::OrderLookup(data), Some(id), Say::LookingUp { order: id.to_string() });
                self.after.push(super::Effect::Lookup { id: id.to_string() });
                return;
            }
            let msg = Say::OrderNotCached { order: id.to_string() };
            return self.refuse_in(sc, Some(id), Refusal::UnknownOrder, msg);
        }
        self.open_known(sc, id);
    }

    pub(super) fn open_known(&mut self, sc: Scan, id: &str) {
        let state = self.orders[id].order.state;
        let role = self.settings.role;
        let step = match (role, state) {
            (StationRole::Pick | StationRole::Multi, OrderState::Released | OrderState::Picking) => Some(Step::Pick),
            (StationRole::Pack | StationRole::Multi, OrderState::Picked | OrderState::Packing) => Some(Step::Pack),
            _ => None,
        };
        self.set_session(|s| {
            s.armed = None;
            s.lookup = None;
        });
        let Some(step) = step else {
            let order = id.to_string();
            let msg = match state {
                OrderState::Held => {
                    self.set_session(|s| s.order = Some(id.to_string()));
                    let reason = self.orders[id].order.progress.hold_reason.clone().unwrap_or_default();
                    Say::HeldPutAside { order, reason }
                }
                OrderState::Cancelled => Say::CancelledDoNotShip { order },
                OrderState::Shipped => Say::AlreadyShipped { order },
                OrderState::Packed => {
                    self.set_session(|s| s.order = Some(id.to_string()));
                    Say::PackedWaitsForLabel { order }
                }
                OrderState::Labelled if matches!(role, StationRole::Ship | StationRole::Multi) => {
                    Say::LabelledScanTracking { order }
                }
                other => Say::WrongStation { order, state: other, role },
            };
            let code = match state {
                OrderState::Held => ScanRefusal::OrderHeld,
                OrderState::Cancelled => ScanRefusal::OrderCancelled,
                OrderState::Shipped | OrderState::Packed | OrderState::Labelled => ScanRefusal::OrderDone,
                _ => ScanRefusal::WrongStation,
            };
            return self.refuse_in(sc, Some(id), Refusal::Scan(code), msg);
        };
        self.set_session(|s| s.order = Some(id.to_string()));
        let start = match (step, state) {
            (Step::Pick, OrderState::Released) => Some(OrderState::Picking),
            (Step::Pack, OrderState::Picked) => Some(OrderState::Packing),
            _ => None,
        };
        let (done, total) = self.counts(id, step);
        let lines = self.line_summary(id, step);
        let what = Say::Opened { order: id.to_string(), step, done, total };
        let data = OrderOpened { scan: sc, step, lines, clock: None };
        self.accept(Event::OrderOpened(data), Some(id), what);
        if let Some(to) = start {
            self.apply_checked(id, StateChange::Advance(to), ChangedBy::Station, None, StateDetail::default());
        }
    }

    fn line_summary(&self, id: &str, step: Step) -> Vec<OpenedLine> {
        let e = &self.orders[id];
        let p = &e.order.progress;
        e.lines
            .iter()
            .map(|l| OpenedLine {
                line: l.line,
                sku: l.sku.clone(),
                qty: target(p, l, step),
                done: done(p, l.line, step),
                cancelled: p.cancelled_lines.contains(&l.line),
            })
            .collect()
    }

    /// Items done and items to do over the live lines of an order.
    fn counts(&self, id: &str, step: Step) -> (u32, u32) {
        let e = &self.orders[id];
        let p = &e.order.progress;
        let live = e.lines.iter().filter(|l| !p.cancelled_lines.contains(&l.line));
        live.fold((0, 0), |(d, t), l| (d + done(p, l.line, step).min(target(p, l, step)), t + target(p, l, step)))
    }

    fn location(&mut self, sc: Scan, loc: &str) {
        match self.session.order.clone() {
            Some(id) if self.orders.get(&id).is_some_and(|e| e.order.state == OrderState::Picking) => {
                let data = PickLocation { scan: sc, location: loc.to_string(), clock: None };
                self.accept(Event::PickLocation(data), Some(&id), Say::AtLocation { location: loc.to_string() });
            }
            _ => self.refuse_scan(sc, ScanRefusal::NoOrder, Say::LocationWithoutOrder { location: loc.to_string() }),
        }
    }

    /// An item (or tote) scan for the open order.
    fn item(&mut self, sc: Scan, tote: Option<&str>, item: Option<(String, Option<String>)>) {
        let Some(id) = self.session.order.clone() else {
            let msg = Say::ScanOrderFirst { code: sc.read.code.clone() };
            return self.refuse_scan(sc, ScanRefusal::NoOrder, msg);
        };
        // A change from the cloud (hold, cancel) stops the flow here.
        let state = self.orders.get(&id).map(|e| e.order.state);
        let step = match state {
            Some(OrderState::Picking) => Step::Pick,
            Some(OrderState::Packing) => Step::Pack,
            Some(OrderState::Held) => {
                let reason = self.orders[&id].order.progress.hold_reason.clone().unwrap_or_default();
                let msg = Say::HeldStop { order: id.clone(), reason };
                return self.refuse_in(sc, Some(&id), Refusal::Scan(ScanRefusal::OrderHeld), msg);
            }
            Some(OrderState::Cancelled) => {
                self.set_session(|s| {
                    s.order = None;
                    s.armed = None;
                });
                let msg = Say::CancelledReturnItems { order: id.clone() };
                return self.refuse_in(sc, Some(&id), Refusal::Scan(ScanRefusal::OrderCancelled), msg);
            }
            other => {
                let msg = Say::NothingMoreToScan { order: id.clone(), state: other };
                return self.refuse_in(sc, Some(&id), Refusal::Scan(ScanRefusal::OrderDone), msg);
            }
        };
        if let Some(tote) = tote {
            if step != Step::Pick {
                return self.refuse_scan(
                    sc,
                    ScanRefusal::UnknownBarcode,
                    Say::WrongTote { tote: tote.to_string(), order: id.clone() },
                );
            }
            let o = self.order_mut(&id).expect("state read above");
            o.progress.tote = Some(tote.to_string());
            self.totes.insert(tote.to_string(), id.clone());
            let data = PickTote { scan: sc, tote: tote.to_string(), clock: None };
            let what = Say::ToteAssigned { order: id.clone(), tote: tote.to_string() };
            return self.accept(Event::PickTote(data), Some(&id), what);
        }
        let Some((code, gtin)) = item else { return };
        let is_product = sc.read.class == event::ScanClass::Product;
        let e = &self.orders[&id];
        let lines = e.lines.clone();
        let cancelled_lines = &e.order.progress.cancelled_lines;
        let is_item = |l: &&Line| l.codes.iter().any(|c| *c == code || gtin.as_deref() == Some(c.as_str()));
        let any_match = lines.iter().any(|l| is_item(&l));
        // The lines this item may count for: those not cancelled.
        let live: Vec<&Line> = lines.iter().filter(is_item).filter(|l| !cancelled_lines.contains(&l.line)).collect();
        let armed = self.session.armed;
        if !any_match {
            if armed.is_some() {
                self.set_session(|s| s.armed = None);
            }
            return if is_product {
                let msg = Say::WrongItem { code, order: id.clone() };
                self.refuse_in(sc, Some(&id), Refusal::Item(ItemRefusal::WrongItem), msg)
            } else {
                let msg = Say::NotAProduct { code, order: id.clone() };
                self.refuse_in(sc, Some(&id), Refusal::Item(ItemRefusal::UnknownBarcode), msg)
            };
        }
        if let Some(Armed::CancelLine) = armed {
            self.set_session(|s| s.armed = None);
            let Some(l) = live.first() else {
                return self.refuse_scan(
                    sc,
                    ScanRefusal::LineCancelled,
                    Say::LineAlreadyCancelled { order: id.clone() },
                );
            };
            let line = l.line;
            let o = self.order_mut(&id).expect("present");
            o.progress.cancelled_lines.insert(line);
            let what = Say::LineCancelled { order: id.clone(), line, sku: l.sku.clone() };
            let data = LineCancelled { scan: sc, line, sku: l.sku.clone(), clock: None };
            self.accept(Event::LineCancelled(data), Some(&id), what);
            return self.complete_if_done(&id, step);
        }
        if let Some(Armed::Damaged) = armed {
            self.set_session(|s| s.armed = None);
            let Some(l) = live.first() else {
                return self.refuse_scan(sc, ScanRefusal::LineCancelled, Say::LineIsCancelled { order: id.clone() });
            };
            let (line, sku) = (l.line, l.sku.clone());
            let o = self.order_mut(&id).expect("present");
            let n = o.progress.damaged.entry(line).or_insert(0);
            *n += 1;
            let damaged = *n;
            let what = Say::DamagedRecorded { sku: sku.clone(), line };
            let data = ItemDamaged { scan: sc, line, sku, damaged, clock: None };
            return self.accept(Event::ItemDamaged(data), Some(&id), what);
        }
        if live.is_empty() {
            let msg = Say::OnCancelledLine { code, order: id.clone() };
            return self.refuse_in(sc, Some(&id), Refusal::Item(ItemRefusal::LineCancelled), msg);
        }
        let p = &self.orders[&id].order.progress;
        let open = live.iter().find(|l| done(p, l.line, step) < target(p, l, step));
        let Some(l) = open else {
            let l = live[0];
            let msg = Say::OverQuantity {
                order: id.clone(),
                line: l.line,
                sku: l.sku.clone(),
                done: done(p, l.line, step),
                of: target(p, l, step),
            };
            return self.refuse_in(sc, Some(&id), Refusal::Item(ItemRefusal::OverQuantity), msg);
        };
        let (line, sku, of) = (l.line, l.sku.clone(), target(p, l, step));
        let o = self.order_mut(&id).expect("present");
        let m = if step == Step::Pick { &mut o.progress.picked } else { &mut o.progress.verified };
        let n = m.entry(line).or_insert(0);
        *n += 1;
        let count = *n;
        let data = ItemCounted { scan: sc, line, sku: sku.clone(), qty: count, of, clock: None };
        let event = if step == Step::Pick { Event::ItemPicked(data) } else { Event::ItemVerified(data) };
        let what = Say::Counted { kind: event.kind(), sku, line, count, of };
        self.accept(event, Some(&id), what);
        self.complete_if_done(&id, step);
    }

    /// All live lines done: picked, or packed with the label and slip asked for.
    fn complete_if_done(&mut self, id: &str, step: Step) {
        let (done, total) = self.counts(id, step);
        if done < total {
            return;
        }
        if total == 0 {
            // Every line cancelled: nothing to ship; the office decides (hold, not fake progress).
            let reason = Some("all lines cancelled");
            self.apply_checked(id, StateChange::Hold, ChangedBy::Station, reason, StateDetail::default());
            return;
        }
        match step {
            Step::Pick => {
                let (to, detail) = (StateChange::Advance(OrderState::Picked), StateDetail::default());
                self.apply_checked(id, to, ChangedBy::Station, None, detail);
                self.set_session(|s| s.order = None);
            }
            Step::Pack => {
                // Before the pack's `order.state`, so the event names the SSCC its label carries.
                let sscc = if self.settings.label_printer { self.assign_sscc(id) } else { StateDetail::default() };
                let packed = StateChange::Advance(OrderState::Packed);
                if self.change_state(id, packed, ChangedBy::Station, None, sscc).is_err() {
                    return;
                }
                if self.settings.label_printer {
                    // Label first: its status changes the order, which the slip job then shares.
                    self.request_print(id, Document::Label, false);
                    if self.settings.slip_printer {
                        self.request_print(id, Document::Slip, false);
                    }
                } else {
                    if self.settings.slip_printer {
                        self.request_print(id, Document::Slip, false);
                    }
                    let msg = Say::PackedNoLabelPrinter { order: id.to_string() };
                    self.record(
                        Event::LabelFailed(DocumentFailed { reason: msg.en(), clock: None }),
                        Some(id),
                        Some(Feedback::Alert { code: "no_label_printer", message: msg }),
                    );
                }
            }
        }
    }

    pub(super) fn request_print(&mut self, id: &str, document: Document, reprint: bool) {
        if document == Document::Label {
            if let Some(o) = self.order_mut(id) {
                o.progress.label = LabelStatus::Requested;
            }
        }
        if let Some(e) = self.orders.get(id) {
            self.after.push(super::Effect::Print { order: e.order.clone(), document, reprint });
        }
    }

    /// A tracking number / label scan: a labelled order ships.
    fn ship(&mut self, sc: Scan, tracking: &str) {
        let Some(id) = self.tracking.get(tracking).cloned() else {
            let msg = Say::UnknownTracking { tracking: tracking.to_string() };
            return self.refuse_scan(sc, ScanRefusal::UnknownTracking, msg);
        };
        if !matches!(self.settings.role, StationRole::Ship | StationRole::Multi) {
            let msg = Say::ShipsAtShipStation { order: id.clone(), role: self.settings.role };
            return self.refuse_in(sc, Some(&id), Refusal::Scan(ScanRefusal::WrongStation), msg);
        }
        let state = self.orders[&id].order.state;
        if state != OrderState::Labelled {
            let order = id.clone();
            let msg = match state {
                OrderState::Shipped => Say::AlreadyShipped { order },
                OrderState::Held => Say::HeldDoNotShip { order },
                OrderState::Cancelled => Say::CancelledDoNotShip { order },
                other => Say::NotLabelled { order, state: other },
            };
            return self.refuse_in(sc, Some(&id), Refusal::Scan(ScanRefusal::NotShippable), msg);
        }
        let data = ShipScanned { scan: sc, tracking: tracking.to_string(), clock: None };
        self.accept(Event::ShipScanned(data), Some(&id), Say::Shipped { order: id.clone() });
        let detail = StateDetail { tracking: Some(tracking.to_string()), ..StateDetail::default() };
        self.apply_checked(&id, StateChange::Advance(OrderState::Shipped), ChangedBy::Station, None, detail);
        if self.session.order.as_deref() == Some(id.as_str()) {
            self.set_session(|s| s.order = None);
        }
    }
}

/// The stand-in for an order scan whose lookup just finished.
pub(super) fn lookup_scan(id: &str) -> Scan {
    Scan::new("lookup", id, event::ScanClass::Order)
}
