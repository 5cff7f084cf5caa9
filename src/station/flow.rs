//! Scans: operator login, opening orders by station role, picking and pack verification,
//! shipping, and command barcodes. Every scan becomes exactly one event describing what it
//! did (`operator.login`, `item.verified`, `scan.rejected`, ...), plus an `order.state`
//! event for each transition it caused.

use serde_json::{json, Value};
use stationd_drivers::barcode::{ProductCode, ScanClass};
use stationd_drivers::framing::display_code;

use super::{
    Armed, Document, Feedback, LabelStatus, Line, Operator, OperatorRole, OrderState, StateChange, Station, StationRole,
};

/// What the scan's event records about the code itself.
fn scan_data(scanner: &str, code: &str, class: Option<&ScanClass>) -> Value {
    let mut d = json!({ "scanner": scanner, "code": code });
    let Some(class) = class else { return d };
    d["class"] = json!(class.name());
    if let ScanClass::Product(p) = class {
        d["symbology"] = json!(match p {
            ProductCode::Ean8(_) => "ean8",
            ProductCode::Ean13(_) => "ean13",
            ProductCode::UpcA(_) => "upca",
            ProductCode::Gs1(_) => "gs1",
        });
        if let Some(g) = p.gtin14() {
            d["gtin"] = json!(g);
        }
        if let ProductCode::Gs1(g) = p {
            d["ai"] = g.elements.iter().map(|(a, v)| (a.clone(), json!(v))).collect::<serde_json::Map<_, _>>().into();
        }
    }
    d
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

/// Which part of the flow an order is in at this station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pick,
    Pack,
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
                return self.refuse(scanner, code, None, "bad_barcode", e.to_string());
            }
        };
        let data = scan_data(scanner, code, Some(&class));
        let sc = Scan { code: code.to_string(), data };
        if let ScanClass::Badge(badge) = &class {
            return self.badge(sc, badge);
        }
        if self.session.operator.is_none() {
            let msg = format!("{} was not used: log in with your badge first", display_code(code));
            return self.refuse_scan(sc, "not_logged_in", msg);
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
    pub(super) fn refuse(
        &mut self,
        scanner: &str,
        code: &str,
        order: Option<&str>,
        err: &'static str,
        message: String,
    ) {
        let mut data = scan_data(scanner, code, None);
        data["class"] = json!("product");
        data["error"] = json!({ "code": err, "message": message });
        self.record("scan.rejected", order, data, Some(Feedback::Error { code: err, message }));
    }

    pub(super) fn refuse_scan(&mut self, sc: Scan, err: &'static str, message: String) {
        let order = self.session.order.clone();
        self.refuse_in(sc, order.as_deref(), "scan.rejected", err, message)
    }

    pub(super) fn refuse_in(&mut self, sc: Scan, order: Option<&str>, kind: &str, err: &'static str, message: String) {
        let mut data = sc.data;
        data["error"] = json!({ "code": err, "message": message });
        self.record(kind, order, data, Some(Feedback::Error { code: err, message }));
    }

    pub(super) fn accept(&mut self, sc: Scan, kind: &str, order: Option<&str>, extra: Value, what: String) {
        let mut data = sc.data;
        if let (Value::Object(d), Value::Object(x)) = (&mut data, extra) {
            d.extend(x);
        }
        self.record(kind, order, data, Some(Feedback::Ok { what }));
    }

    fn badge(&mut self, sc: Scan, badge: &str) {
        let known = self.settings.operators.iter().find(|o| o.badge == badge).cloned();
        let operator = match known {
            Some(o) => o,
            None if self.settings.allow_unlisted_packers => {
                Operator { badge: badge.to_string(), name: String::new(), role: OperatorRole::Packer }
            }
            None => {
                let msg = format!("badge {badge} is not listed for this station");
                return self.refuse_scan(sc, "unknown_badge", msg);
            }
        };
        let current = self.session.operator.clone();
        if current.as_ref().is_some_and(|c| c.badge == operator.badge) {
            // The same badge again logs out.
            let what = format!("operator.logout {}", operator.badge);
            self.accept(sc, "operator.logout", None, json!({ "reason": "badge" }), what);
            return self.set_session(|s| {
                s.operator = None;
                s.armed = None;
            });
        }
        if current.is_some() {
            // Stamped with the operator leaving (the session still holds them here).
            let ev = self.event("operator.logout", None, json!({ "reason": "switched", "next": operator.badge }));
            self.fx.push(super::Effect::Record { event: ev, feedback: None });
        }
        self.set_session(|s| {
            s.operator = Some(operator.clone());
            s.armed = None;
        });
        let what = format!("operator.login {} ({})", operator.badge, operator.role.as_str());
        let order = self.session.order.clone();
        self.accept(
            sc,
            "operator.login",
            order.as_deref(),
            json!({ "name": operator.name, "role": operator.role.as_str() }),
            what,
        );
    }

    /// What a scan of an order (or its tote) does, by station role and order state.
    fn open_order(&mut self, sc: Scan, id: &str) {
        if !self.orders.contains_key(id) {
            if self.settings.lookup {
                self.set_session(|s| {
                    s.lookup = Some(id.to_string());
                    s.armed = None;
                });
                self.accept(sc, "order.lookup", Some(id), json!({}), format!("looking up order {id}"));
                self.after.push(super::Effect::Lookup { id: id.to_string() });
                return;
            }
            let msg = format!("order {id} is not in this station's cache and no order system is configured");
            return self.refuse_in(sc, Some(id), "order.unknown", "unknown_order", msg);
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
            let msg = match state {
                OrderState::Held => {
                    self.set_session(|s| s.order = Some(id.to_string()));
                    let reason = self.orders[id].order.progress.hold_reason.clone().unwrap_or_default();
                    format!("order {id} is held ({reason}): put it aside or ask a supervisor to release it")
                }
                OrderState::Cancelled => format!("order {id} was cancelled: do not ship it"),
                OrderState::Shipped => format!("order {id} has already shipped"),
                OrderState::Packed => {
                    self.set_session(|s| s.order = Some(id.to_string()));
                    format!("order {id} is packed and waits for its label (CMD:REPRINT prints it again)")
                }
                OrderState::Labelled if matches!(role, StationRole::Ship | StationRole::Multi) => {
                    format!("order {id} is labelled: scan its tracking number to ship it")
                }
                other => format!("order {id} is {}; a {} station cannot work on it", other.as_str(), role.as_str()),
            };
            let code = match state {
                OrderState::Held => "order_held",
                OrderState::Cancelled => "order_cancelled",
                OrderState::Shipped | OrderState::Packed | OrderState::Labelled => "order_done",
                _ => "wrong_station",
            };
            return self.refuse_in(sc, Some(id), "scan.rejected", code, msg);
        };
        self.set_session(|s| s.order = Some(id.to_string()));
        let start = match (step, state) {
            (Step::Pick, OrderState::Released) => Some(OrderState::Picking),
            (Step::Pack, OrderState::Picked) => Some(OrderState::Packing),
            _ => None,
        };
        let (done, total) = self.counts(id, step);
        let lines = self.line_summary(id, step);
        let what = format!(
            "order.opened {id} for {} ({done}/{total} items)",
            if step == Step::Pick { "picking" } else { "packing" }
        );
        self.accept(
            sc,
            "order.opened",
            Some(id),
            {
                // `lines` moves in as it is: inside `json!` it would be serialised all over again.
                let mut d = json!({ "step": if step == Step::Pick { "pick" } else { "pack" } });
                d["lines"] = Value::Array(lines);
                d
            },
            what,
        );
        if let Some(to) = start {
            self.apply_checked(id, StateChange::Advance(to), "station", None, json!({}));
        }
    }

    fn line_summary(&self, id: &str, step: Step) -> Vec<Value> {
        let e = &self.orders[id];
        let p = &e.order.progress;
        e.lines
            .iter()
            .map(|l| {
                json!({ "line": l.line, "sku": l.sku, "qty": target(p, l, step), "done": done(p, l.line, step),
                        "cancelled": p.cancelled_lines.contains(&l.line) })
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
                self.accept(sc, "pick.location", Some(&id), json!({ "location": loc }), format!("at {loc}"));
            }
            _ => self.refuse_scan(sc, "no_order", format!("{loc}: open an order for picking first")),
        }
    }

    /// An item (or tote) scan for the open order.
    fn item(&mut self, sc: Scan, tote: Option<&str>, item: Option<(String, Option<String>)>) {
        let Some(id) = self.session.order.clone() else {
            let msg = format!("{} was not used: scan an order first", display_code(&sc.code));
            return self.refuse_scan(sc, "no_order", msg);
        };
        // A change from the cloud (hold, cancel) stops the flow here.
        let state = self.orders.get(&id).map(|e| e.order.state);
        let step = match state {
            Some(OrderState::Picking) => Step::Pick,
            Some(OrderState::Packing) => Step::Pack,
            Some(OrderState::Held) => {
                let reason = self.orders[&id].order.progress.hold_reason.clone().unwrap_or_default();
                let msg = format!("order {id} is held ({reason}): stop and put it aside");
                return self.refuse_in(sc, Some(&id), "scan.rejected", "order_held", msg);
            }
            Some(OrderState::Cancelled) => {
                self.set_session(|s| {
                    s.order = None;
                    s.armed = None;
                });
                let msg = format!("order {id} was cancelled: stop and return its items");
                return self.refuse_in(sc, Some(&id), "scan.rejected", "order_cancelled", msg);
            }
            other => {
                let st = other.map(OrderState::as_str).unwrap_or("gone");
                let msg = format!("order {id} is {st}: nothing more to scan for it");
                return self.refuse_in(sc, Some(&id), "scan.rejected", "order_done", msg);
            }
        };
        if let Some(tote) = tote {
            if step != Step::Pick {
                return self.refuse_scan(sc, "unknown_barcode", format!("tote {tote} is not the tote of order {id}"));
            }
            let o = self.order_mut(&id).expect("state read above");
            o.progress.tote = Some(tote.to_string());
            self.totes.insert(tote.to_string(), id.clone());
            return self.accept(
                sc,
                "pick.tote",
                Some(&id),
                json!({ "tote": tote }),
                format!("order {id} goes in {tote}"),
            );
        }
        let Some((code, gtin)) = item else { return };
        let is_product = sc.data["class"] == "product";
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
            let shown = display_code(&code);
            return if is_product {
                self.refuse_in(sc, Some(&id), "item.rejected", "wrong_item", format!("{shown} is not on order {id}"))
            } else {
                let msg = format!("{shown} is not a product barcode nor listed on order {id}");
                self.refuse_in(sc, Some(&id), "item.rejected", "unknown_barcode", msg)
            };
        }
        if let Some(Armed::CancelLine) = armed {
            self.set_session(|s| s.armed = None);
            let Some(l) = live.first() else {
                return self.refuse_scan(sc, "line_cancelled", format!("that line of order {id} is already cancelled"));
            };
            let line = l.line;
            let o = self.order_mut(&id).expect("present");
            o.progress.cancelled_lines.insert(line);
            let what = format!("line {line} ({}) of order {id} cancelled", l.sku);
            self.accept(sc, "line.cancelled", Some(&id), json!({ "line": line, "sku": l.sku }), what);
            return self.complete_if_done(&id, step);
        }
        if let Some(Armed::Damaged) = armed {
            self.set_session(|s| s.armed = None);
            let Some(l) = live.first() else {
                return self.refuse_scan(sc, "line_cancelled", format!("that line of order {id} is cancelled"));
            };
            let (line, sku) = (l.line, l.sku.clone());
            let o = self.order_mut(&id).expect("present");
            let n = o.progress.damaged.entry(line).or_insert(0);
            *n += 1;
            let damaged = *n;
            let what = format!("damaged {sku} on line {line} recorded; scan a replacement");
            return self.accept(
                sc,
                "item.damaged",
                Some(&id),
                json!({ "line": line, "sku": sku, "damaged": damaged }),
                what,
            );
        }
        if live.is_empty() {
            let msg = format!("{} belongs to a cancelled line of order {id}", display_code(&code));
            return self.refuse_in(sc, Some(&id), "item.rejected", "line_cancelled", msg);
        }
        let p = &self.orders[&id].order.progress;
        let open = live.iter().find(|l| done(p, l.line, step) < target(p, l, step));
        let Some(l) = open else {
            let l = live[0];
            let msg = format!(
                "over quantity: line {} ({}) of order {id} already has {} of {}",
                l.line,
                l.sku,
                done(p, l.line, step),
                target(p, l, step)
            );
            return self.refuse_in(sc, Some(&id), "item.rejected", "over_quantity", msg);
        };
        let (line, sku, of) = (l.line, l.sku.clone(), target(p, l, step));
        let o = self.order_mut(&id).expect("present");
        let m = if step == Step::Pick { &mut o.progress.picked } else { &mut o.progress.verified };
        let n = m.entry(line).or_insert(0);
        *n += 1;
        let count = *n;
        let kind = if step == Step::Pick { "item.picked" } else { "item.verified" };
        let what = format!("{kind} {sku} line {line} ({count}/{of})");
        self.accept(sc, kind, Some(&id), json!({ "line": line, "sku": sku, "qty": count, "of": of }), what);
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
            self.apply_checked(id, StateChange::Hold, "station", Some("all lines cancelled"), json!({}));
            return;
        }
        match step {
            Step::Pick => {
                self.apply_checked(id, StateChange::Advance(OrderState::Picked), "station", None, json!({}));
                self.set_session(|s| s.order = None);
            }
            Step::Pack => {
                // Before the pack's `order.state`, so the event names the SSCC its label carries.
                let sscc = if self.settings.label_printer { self.assign_sscc(id) } else { json!({}) };
                if self.change_state(id, StateChange::Advance(OrderState::Packed), "station", None, sscc).is_err() {
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
                    let msg = format!("order {id} is packed but no label printer is configured here");
                    self.record(
                        "label.failed",
                        Some(id),
                        json!({ "reason": msg }),
                        Some(Feedback::Alert { code: "no_label_printer", message: msg.clone() }),
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
            let msg = format!("tracking number {tracking} belongs to no order in this station's cache");
            return self.refuse_scan(sc, "unknown_tracking", msg);
        };
        if !matches!(self.settings.role, StationRole::Ship | StationRole::Multi) {
            let msg = format!("order {id} ships at a ship station, not at a {} station", self.settings.role.as_str());
            return self.refuse_in(sc, Some(&id), "scan.rejected", "wrong_station", msg);
        }
        let state = self.orders[&id].order.state;
        if state != OrderState::Labelled {
            let msg = match state {
                OrderState::Shipped => format!("order {id} has already shipped"),
                OrderState::Held => format!("order {id} is held: do not ship it"),
                OrderState::Cancelled => format!("order {id} was cancelled: do not ship it"),
                other => format!("order {id} is {}: only a labelled order ships", other.as_str()),
            };
            return self.refuse_in(sc, Some(&id), "scan.rejected", "not_shippable", msg);
        }
        self.accept(sc, "ship.scanned", Some(&id), json!({ "tracking": tracking }), format!("order {id} shipped"));
        self.apply_checked(
            &id,
            StateChange::Advance(OrderState::Shipped),
            "station",
            None,
            json!({ "tracking": tracking }),
        );
        if self.session.order.as_deref() == Some(id.as_str()) {
            self.set_session(|s| s.order = None);
        }
    }
}

/// A classified scan on its way through the flow: the code and what its event records.
pub(super) struct Scan {
    code: String,
    data: Value,
}

impl Scan {
    /// The stand-in for an order scan whose lookup just finished.
    pub(super) fn lookup(id: &str) -> Scan {
        Scan { code: id.to_string(), data: json!({ "scanner": "lookup", "code": id, "class": "order" }) }
    }
}
