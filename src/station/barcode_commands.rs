//! Command barcodes (`CMD:LOGOUT`, `CMD:HOLD:reason`, `CMD:REPRINT`, `CMD:CANCEL-LINE`,
//! `CMD:DAMAGED`, `CMD:SHORT`, ...): what each does to the open order, and who may scan it.

use super::flow::Scan;
use super::*;
use crate::event::{
    ChangedBy, CommandScanned, LogoutReason, OperatorLogout, PickShort, ScanRefusal, ShortLine, StateDetail,
};

impl Station {
    pub(super) fn command(&mut self, sc: Scan, raw: &str) {
        let (name, arg) = match raw.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (raw, None),
        };
        let name = name.to_ascii_uppercase();
        let order = self.session.order.clone();
        let supervisor = self.operator_role() == Some(OperatorRole::Supervisor);
        match name.as_str() {
            "LOGOUT" => {
                let badge = self.session.operator.as_ref().map(|o| o.badge.clone()).unwrap_or_default();
                let data = OperatorLogout { scan: Some(sc), reason: LogoutReason::Command, next: None, clock: None };
                self.accept(Event::OperatorLogout(data), None, format!("operator.logout {badge}"));
                self.set_session(|s| {
                    s.operator = None;
                    s.armed = None;
                });
            }
            "HOLD" | "RELEASE" | "REPRINT" | "CANCEL-LINE" | "DAMAGED" | "SHORT" => {
                let Some(id) = order else {
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::NoOrder,
                        format!("CMD:{name} needs an open order: scan the order first"),
                    );
                };
                self.order_command(sc, &name, arg, &id, supervisor);
            }
            _ => {
                let msg = format!("CMD:{name} is not a command this station knows (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)");
                self.refuse_scan(sc, ScanRefusal::UnknownCommand, msg)
            }
        }
    }

    fn order_command(&mut self, sc: Scan, name: &str, arg: Option<&str>, id: &str, supervisor: bool) {
        // `argument` only when the barcode carries one (`CMD:HOLD:dented`): absent, not null.
        let scanned =
            |scan| CommandScanned { scan, command: name.to_string(), argument: arg.map(str::to_string), clock: None };
        let state = self.orders.get(id).map(|e| e.order.state);
        let needs_supervisor = |what: &str| format!("{what} needs a supervisor badge: ask a supervisor to scan in");
        match name {
            "HOLD" => {
                let reason = arg.filter(|a| !a.is_empty()).unwrap_or("operator");
                match self.change_state(id, StateChange::Hold, ChangedBy::Station, Some(reason), StateDetail::default())
                {
                    Ok(_) => {
                        let what = format!("order {id} held ({reason})");
                        self.accept(Event::CommandScanned(scanned(sc)), Some(id), what)
                    }
                    Err(m) => self.refuse_scan(sc, ScanRefusal::IllegalTransition, m),
                }
            }
            "RELEASE" if !supervisor => {
                self.refuse_scan(sc, ScanRefusal::SupervisorRequired, needs_supervisor("releasing a hold"))
            }
            "RELEASE" => {
                match self.change_state(id, StateChange::Release, ChangedBy::Station, None, StateDetail::default()) {
                    Ok(to) => {
                        let what = format!("order {id} released to {}", to.as_str());
                        self.accept(Event::CommandScanned(scanned(sc)), Some(id), what)
                    }
                    Err(m) => self.refuse_scan(sc, ScanRefusal::IllegalTransition, m),
                }
            }
            "REPRINT" => {
                let Some(e) = self.orders.get(id) else { return };
                let st = e.order.state;
                if !matches!(st, OrderState::Packed | OrderState::Labelled) {
                    let msg =
                        format!("order {id} is {}: there is no label to reprint before it is packed", st.as_str());
                    return self.refuse_scan(sc, ScanRefusal::NothingToReprint, msg);
                }
                if !self.settings.label_printer {
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::NoLabelPrinter,
                        "no label printer is configured at this station".into(),
                    );
                }
                let confirmed = e.order.progress.label == LabelStatus::Printed;
                if confirmed && !supervisor {
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::SupervisorRequired,
                        needs_supervisor("reprinting a label that was already printed"),
                    );
                }
                let what = format!("reprinting the label of {id}");
                self.accept(Event::CommandScanned(scanned(sc)), Some(id), what);
                self.request_print(id, Document::Label, true);
            }
            "CANCEL-LINE" if !supervisor => {
                self.refuse_scan(sc, ScanRefusal::SupervisorRequired, needs_supervisor("cancelling a line"))
            }
            "CANCEL-LINE" | "DAMAGED" => {
                if !matches!(state, Some(OrderState::Picking | OrderState::Packing)) {
                    let st = state.map(OrderState::as_str).unwrap_or("unknown");
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::WrongState,
                        format!("order {id} is {st}: nothing is being picked or packed"),
                    );
                }
                let armed = if name == "DAMAGED" { Armed::Damaged } else { Armed::CancelLine };
                self.set_session(|s| s.armed = Some(armed));
                let what = match armed {
                    Armed::Damaged => "scan the damaged item".to_string(),
                    Armed::CancelLine => "scan an item of the line to cancel".to_string(),
                };
                self.accept(Event::CommandScanned(scanned(sc)), Some(id), what);
            }
            "SHORT" => {
                if state != Some(OrderState::Picking) {
                    let st = state.map(OrderState::as_str).unwrap_or("unknown");
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::WrongState,
                        format!("order {id} is {st}, not being picked"),
                    );
                }
                let e = &self.orders[id];
                let short: Vec<ShortLine> = e
                    .lines
                    .iter()
                    .filter(|l| !e.order.progress.cancelled_lines.contains(&l.line))
                    .filter_map(|l| {
                        let picked = e.order.progress.picked.get(&l.line).copied().unwrap_or(0);
                        (picked < l.qty).then(|| ShortLine {
                            line: l.line,
                            sku: l.sku.clone(),
                            missing: l.qty - picked,
                        })
                    })
                    .collect();
                if e.order.progress.picked.values().all(|n| *n == 0) {
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::NothingPicked,
                        format!("order {id}: nothing picked yet; hold it instead"),
                    );
                }
                if let Some(o) = self.order_mut(id) {
                    o.progress.short = true;
                }
                let what = format!("order {id} picked short ({} line(s))", short.len());
                let data = PickShort { command: scanned(sc), short: short.clone() };
                self.accept(Event::PickShort(data), Some(id), what);
                self.apply_checked(
                    id,
                    StateChange::Advance(OrderState::Picked),
                    ChangedBy::Station,
                    Some("short pick"),
                    StateDetail { short: Some(short), ..StateDetail::default() },
                );
                self.set_session(|s| s.order = None);
            }
            _ => unreachable!("dispatched by command()"),
        }
    }
}
