//! Executing a cloud command: validate, refuse repeats, apply once, journal the audit
//! events, remember the request id — and produce the reply.
//!
//! Order commands (`order.*`) are handed to the workflow, the single writer of the order
//! cache, which journals the audit events first (so the cloud's record never misses an
//! applied change), then commits the order change and the request id together, then
//! answers. `print` and `resync` are done here in the same order. A crash in between means
//! at worst a repeated audit event with the same `request_id`, never a change applied twice.

use serde_json::{json, Value};
use tracing::{info, warn};

use super::commands::{parse_command, Command, CommandError};
use crate::event::NewEvent;
use crate::journal::Journal;
use crate::orders::{OrderState, OrderStore, SeenRequest};
use crate::print::Printing;
use crate::station::CloudOrder;
use crate::workflow::WorkflowHandle;

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The JSON published on `{prefix}/reply`.
    pub reply: Value,
    /// Seqs to re-publish (`resync`): `from..=to`.
    pub resync: Option<(u64, u64)>,
}

pub(super) fn error_reply(request_id: Option<&str>, code: &str, message: &str) -> Value {
    json!({ "request_id": request_id, "ok": false, "error": { "code": code, "message": message } })
}

/// A command the broker delivered because it was published retained (MQTT sets the retain
/// flag on messages sent for a new subscription, so the station gets it again at every
/// connect, forever). It is answered, never executed: a command is an instruction for one
/// moment, and a refused one would otherwise be tried again at every reconnect.
pub fn refuse_retained(name: &str, payload: &[u8]) -> Executed {
    let rid = super::commands::request_id_of(payload);
    warn!(command = name, request_id = rid.as_deref().unwrap_or("-"), "retained command not executed");
    let msg = "commands are not taken from retained messages (the broker would deliver them again at every \
               connect); publish with retain=false, and clear this one with an empty retained message";
    Executed { reply: error_reply(rid.as_deref(), "retained_command", msg), resync: None }
}

pub async fn execute(
    journal: &Journal,
    orders: &OrderStore,
    printing: Option<&Printing>,
    workflow: Option<&WorkflowHandle>,
    name: &str,
    payload: &[u8],
) -> Executed {
    let req = match parse_command(name, payload) {
        Ok(r) => r,
        Err(CommandError { request_id, code, message }) => {
            warn!(command = name, request_id = request_id.as_deref().unwrap_or("-"), code, %message, "command rejected");
            return Executed { reply: error_reply(request_id.as_deref(), code, &message), resync: None };
        }
    };
    let rid = req.request_id.clone();
    match orders.seen(&rid) {
        Ok(Some(seen)) => {
            info!(command = name, request_id = %rid, "repeated command; answered, not applied again");
            let mut reply = seen.reply;
            reply["duplicate"] = Value::Bool(true);
            return Executed { reply, resync: None };
        }
        Ok(None) => {}
        Err(e) => return internal(&rid, e),
    }
    let command = match req.command {
        Command::OrderUpsert { id, state, order } => {
            CloudOrder::Upsert { id, state: state.as_deref().and_then(OrderState::parse), order }
        }
        Command::OrderCancel { order, reason } => CloudOrder::Cancel { order, reason },
        Command::OrderHold { order, reason } => CloudOrder::Hold { order, reason },
        Command::OrderRelease { order } => CloudOrder::Release { order },
        ref other => {
            if let (Some(w), Some(t)) = (workflow, req.sent_at) {
                w.clock_sample(t);
            }
            let operator = workflow.and_then(|w| w.on_duty().badge());
            return other_command(journal, orders, printing, name, &rid, other, operator).await;
        }
    };
    // Order commands are the workflow's: it journals, applies, remembers the request id
    // and answers, as the single writer of the order cache.
    let Some(workflow) = workflow else {
        return refuse(&rid, name, "workflow_unavailable", "this process runs no station workflow");
    };
    match workflow.command(rid.clone(), command, req.sent_at).await {
        Some(reply) => {
            if reply["ok"] == true {
                info!(command = name, request_id = %rid, "command executed");
            } else {
                warn!(command = name, request_id = %rid, error = %reply["error"], "command refused");
            }
            Executed { reply, resync: None }
        }
        None => refuse(&rid, name, "shutting_down", "the station is stopping; send it again later"),
    }
}

/// `print` and `resync`: answered here, with the request id remembered for `print`; the
/// audit event carries the `operator` on duty.
async fn other_command(
    journal: &Journal,
    orders: &OrderStore,
    printing: Option<&Printing>,
    name: &str,
    rid: &str,
    command: &Command,
    operator: Option<String>,
) -> Executed {
    let now = time::OffsetDateTime::now_utc();
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut reply = json!({ "request_id": rid, "ok": true });
    let mut resync = None;
    let mut print_job = None;
    let mut order_id = None;
    match command {
        Command::Print { printer, order, document, copies } => {
            let Some(printing) = printing else {
                return refuse(rid, name, "printing_unavailable", "no printer is configured at this station");
            };
            let stored = match order {
                Some(id) => match orders.get(id) {
                    Ok(Some(o)) => Some(o),
                    Ok(None) => {
                        return refuse(rid, name, "unknown_order", &format!("order {id} is not known at this station"))
                    }
                    Err(e) => return internal(rid, e),
                },
                None => None,
            };
            let job = match printing.prepare(printer.as_deref(), document, stored.as_ref()) {
                Ok(j) => j,
                Err(e) => return refuse(rid, name, e.code(), &e.to_string()),
            };
            reply["printer"] = json!(job.printer);
            reply["copies"] = json!(copies);
            order_id = order.clone();
            print_job = Some((job, *copies));
        }
        Command::Resync { from, to } => {
            let status = match journal.status() {
                Ok(s) => s,
                Err(e) => return internal(rid, e),
            };
            let last = status.next_seq.saturating_sub(1);
            let to = to.unwrap_or(last).min(last);
            let start = (*from).max(status.retained_from);
            if start > to {
                let msg = format!(
                    "nothing to resend: seqs {from}.. are not in the journal (retained {}..={last})",
                    status.retained_from
                );
                return refuse(rid, name, "not_retained", &msg);
            }
            reply["resent_from"] = json!(start);
            reply["resent_to"] = json!(to);
            if start > *from {
                reply["not_retained_before"] = json!(start);
            }
            resync = Some((start, to));
        }
        _ => unreachable!("order commands go to the workflow"),
    }

    let mut audit = NewEvent::new("command.accepted", json!({ "name": name, "request_id": rid }));
    audit.order = order_id;
    audit.operator = operator;
    if let Err(e) = journal.append(audit).await {
        return Executed { reply: error_reply(Some(rid), e.code(), &e.to_string()), resync: None };
    }
    let seen = SeenRequest { at_ms: now_ms, name: name.to_string(), reply: reply.clone() };
    // The commit ends in an fdatasync: keep it off the async runtime, like print jobs.
    let store = orders.clone();
    let commit_rid = rid.to_string();
    let committed = tokio::task::spawn_blocking(move || {
        store.save::<crate::orders::StoredOrder>(&[], &[], None, Some((&commit_rid, &seen)))
    })
    .await
    .unwrap_or_else(|e| Err(crate::journal::JournalError::Storage(format!("order store task: {e}"))));
    if let Err(e) = committed {
        return internal(rid, e);
    }
    // Queued only after the request id is durably remembered: a redelivered command can
    // never print twice.
    if let (Some((job, copies)), Some(printing)) = (print_job, printing) {
        for _ in 0..copies {
            // The same path as the station's own labels, so a missing font is reported too.
            if let Err(e) = printing.submit_prepared(job.clone()).await {
                warn!(request_id = %rid, code = e.code(), error = %e, "could not queue a print job");
            }
        }
    }
    info!(command = name, request_id = %rid, "command executed");
    Executed { reply, resync }
}

/// A well-formed command that cannot be carried out now: answered, nothing changed, and not
/// remembered, so the cloud may retry the same request once the order allows it.
fn refuse(rid: &str, name: &str, code: &str, message: &str) -> Executed {
    warn!(command = name, request_id = rid, code, message, "command refused");
    Executed { reply: error_reply(Some(rid), code, message), resync: None }
}

fn internal(rid: &str, e: crate::journal::JournalError) -> Executed {
    warn!(request_id = rid, error = %e, "command failed");
    Executed { reply: error_reply(Some(rid), e.code(), &e.to_string()), resync: None }
}
