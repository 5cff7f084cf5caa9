//! Command barcodes (`CMD:LOGOUT`, `CMD:HOLD:reason`, `CMD:REPRINT`, `CMD:CANCEL-LINE`,
//! `CMD:DAMAGED`, `CMD:SHORT`, ...): what each does to the open order, and who may scan it.

use super::flow::Scan;
use super::say::SupervisorAction;
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
                self.accept(Event::OperatorLogout(data), None, Say::LoggedOut { badge });
                self.set_session(|s| {
                    s.operator = None;
                    s.armed = None;
                });
            }
            "HOLD" | "RELEASE" | "REPRINT" | "CANCEL-LINE" | "DAMAGED" | "SHORT" => {
                let Some(id) = order else {
                    return self.refuse_scan(sc, ScanRefusal::NoOrder, Say::CommandNeedsOrder { command: name });
                };
                self.order_command(sc, &name, arg, &id, supervisor);
            }
            _ => {
                let msg = Say::UnknownCommand { command: name };
                self.refuse_scan(sc, ScanRefusal::UnknownCommand, msg)
            }
        }
    }

    fn order_command(&mut self, sc: Scan, name: &str, arg: Option<&str>, id: &str, supervisor: bool) {
        // `argument` only when the barcode carries one (`CMD:HOLD:dented`): absent, not null.
        let scanned =
            |scan| CommandScanned { scan, command: name.to_string(), argument: arg.map(str::to_string), clock: None };
        let state = self.orders.get(id).map(|e| e.order.state);
        let needs_supervisor = |action| Say::NeedsSupervisor { action };
        let order = id.to_string();
        match name {
            "HOLD" => {
                let reason = arg.filter(|a| !a.is_empty()).unwrap_or("operator");
                match self.change_state(id, StateChange::Hold, ChangedBy::Station, Some(reason), StateDetail::default())
                {
                    Ok(_) => {
                        let what = Say::HeldByScan { order, reason: reason.to_string() };
                        self.accept(Event::CommandScanned(scanned(sc)), Some(id), what)
                    }
                    Err(m) => self.refuse_scan(sc, ScanRefusal::IllegalTransition, m),
                }
            }
            "RELEASE" if !supervisor => {
                self.refuse_scan(sc, ScanRefusal::SupervisorRequired, needs_supervisor(SupervisorAction::Release))
            }
            "RELEASE" => {
                match self.change_state(id, StateChange::Release, ChangedBy::Station, None, StateDetail::default()) {
                    Ok(to) => {
                        let what = Say::Released { order, to };
                        self.accept(Event::CommandScanned(scanned(sc)), Some(id), what)
                    }
                    Err(m) => self.refuse_scan(sc, ScanRefusal::IllegalTransition, m),
                }
            }
            "REPRINT" => {
                let Some(e) = self.orders.get(id) else { return };
                let st = e.order.state;
                if !matches!(st, OrderState::Packed | OrderState::Labelled) {
                    let msg = Say::NothingToReprint { order, state: st };
                    return self.refuse_scan(sc, ScanRefusal::NothingToReprint, msg);
                }
                if !self.settings.label_printer {
                    return self.refuse_scan(sc, ScanRefusal::NoLabelPrinter, Say::NoLabelPrinter);
                }
                let confirmed = e.order.progress.label == LabelStatus::Printed;
                if confirmed && !supervisor {
                    return self.refuse_scan(
                        sc,
                        ScanRefusal::SupervisorRequired,
                        needs_supervisor(SupervisorAction::ReprintPrinted),
                    );
                }
                let what = Say::Reprinting { order };
                self.accept(Event::CommandScanned(scanned(sc)), Some(id), what);
                self.request_print(id, Document::Label, true);
            }
            "CANCEL-LINE" if !supervisor => {
                self.refuse_scan(sc, ScanRefusal::SupervisorRequired, needs_supervisor(SupervisorAction::CancelLine))
            }
            "CANCEL-LINE" | "DAMAGED" => {
                if !matches!(state, Some(OrderState::Picking | OrderState::Packing)) {
                    let msg = Say::NotBeingWorked { order, state };
                    return self.refuse_scan(sc, ScanRefusal::WrongState, msg);
                }
                let armed = if name == "DAMAGED" { Armed::Damaged } else { Armed::CancelLine };
                self.set_session(|s| s.armed = Some(armed));
                let what = match armed {
                    Armed::Damaged => Say::ScanDamagedItem,
                    Armed::CancelLine => Say::ScanLineToCancel,
                };
                self.accept(Event::CommandScanned(scanned(sc)), Some(id), what);
            }
            "SHORT" => {
                if state != Some(OrderState::Picking) {
                    let msg = Say::NotBeingPicked { order, state };
                    return self.refuse_scan(sc, ScanRefusal::WrongState, msg);
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
                    return self.refuse_scan(sc, ScanRefusal::NothingPicked, Say::NothingPicked { order });
                }
                if let Some(o) = self.order_mut(id) {
                    o.progress.short = true;
                }
                let what = Say::PickedShort { order, lines: short.len() };
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
