//! Executing a cloud command: validate, refuse repeats, apply once, journal the audit
//! events, remember the request id — and produce the reply.
//!
//! Every command goes through the workflow, the single writer of the order store, which
//! journals the audit events first (so the cloud's record never misses an applied change),
//! then commits the change and the request id together, then answers. Order commands
//! (`order-*`) are applied there; `print` and `resync` are checked here, audited and
//! remembered there, and only then printed or resent. A crash in between means at worst a
//! repeated audit event with the same `request_id`, never a change applied twice.

use tracing::{info, warn};

use super::commands::{parse_command, v2_name, Command, CommandError};
use crate::journal::Journal;
use crate::orders::OrderStore;
use crate::print::Printing;
use crate::station::{CloudOrder, ErrorCode, Reply};
use crate::workflow::WorkflowHandle;

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// What is published on `{prefix}/reply`.
    pub reply: Reply,
    /// Seqs to re-publish (`resync`): `from..=to`.
    pub resync: Option<(u64, u64)>,
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
    Executed { reply: Reply::refused(rid.as_deref(), ErrorCode::RetainedCommand, msg), resync: None }
}

/// The answer to a command published on `cmd/{name}` (executed, refused, rate-limited or
/// retained), with the deprecation note when `name` is a v1 name (`order.upsert`). Added
/// after the reply is remembered, so a repeat by the v2 name is answered without it.
pub fn noted(name: &str, mut done: Executed) -> Executed {
    if let Some(v2) = v2_name(name) {
        done.reply = done.reply.deprecated_name(name, v2);
    }
    done
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
            warn!(command = name, request_id = request_id.as_deref().unwrap_or("-"), code = %code, %message, "command rejected");
            return Executed { reply: Reply::refused(request_id.as_deref(), code, &message), resync: None };
        }
    };
    let (rid, name) = (req.request_id.clone(), req.name);
    match orders.seen(&rid) {
        Ok(Some(seen)) => {
            info!(command = name, request_id = %rid, "repeated command; answered, not applied again");
            return Executed { reply: seen.reply.repeated(), resync: None };
        }
        Ok(None) => {}
        Err(e) => return internal(&rid, e.code(), &e.to_string()),
    }
    // Every command goes through the workflow, the single writer of the order store: order
    // commands are applied there; `print` and `resync` are checked here and audited and
    // remembered there, before anything is printed or resent.
    let Some(workflow) = workflow else {
        return refuse(&rid, name, ErrorCode::WorkflowUnavailable, "this process runs no station workflow");
    };
    let command = match req.command {
        Command::OrderUpsert(order) => CloudOrder::Upsert(order),
        Command::OrderCancel { order, reason } => CloudOrder::Cancel { order, reason },
        Command::OrderHold { order, reason } => CloudOrder::Hold { order, reason },
        Command::OrderRelease { order } => CloudOrder::Release { order },
        Command::Print { printer, order, document, copies } => {
            let Some(printing) = printing else {
                return refuse(&rid, name, ErrorCode::PrintingUnavailable, "no printer is configured at this station");
            };
            let stored = match order.as_deref().map(|id| (id, orders.get(id))) {
                None => None,
                Some((_, Ok(Some(o)))) => Some(o),
                Some((id, Ok(None))) => {
                    return refuse(
                        &rid,
                        name,
                        ErrorCode::UnknownOrder,
                        &format!("order {id} is not known at this station"),
                    )
                }
                Some((_, Err(e))) => return internal(&rid, e.code(), &e.to_string()),
            };
            let job = match printing.prepare(printer.as_deref(), document, stored.as_ref()) {
                Ok(j) => j,
                Err(e) => return refuse(&rid, name, e.code(), &e.to_string()),
            };
            let answer = Reply { printer: Some(job.printer.clone()), copies: Some(copies), ..Reply::accepted(&rid) };
            let answer = answered(workflow.executed(rid.clone(), name, order, answer, req.sent_at).await, &rid, name);
            // Queued only after the request id is durably remembered: a redelivered command
            // can never print twice.
            if answer.reply.ok {
                for _ in 0..copies {
                    // The same path as the station's own labels, so a missing font is reported too.
                    if let Err(e) = printing.submit_prepared(job.clone()).await {
                        warn!(request_id = %rid, code = %e.code(), error = %e, "could not queue a print job");
                    }
                }
            }
            return answer;
        }
        Command::Resync { from, to } => {
            let status = match journal.status() {
                Ok(s) => s,
                Err(e) => return internal(&rid, e.code(), &e.to_string()),
            };
            let last = status.next_seq.saturating_sub(1);
            let to = to.unwrap_or(last).min(last);
            let start = from.max(status.retained_from);
            if start > to {
                let msg = format!(
                    "nothing to resend: seqs {from}.. are not in the journal (retained {}..={last})",
                    status.retained_from
                );
                return refuse(&rid, name, ErrorCode::NotRetained, &msg);
            }
            let answer = Reply {
                resent_from: Some(start),
                resent_to: Some(to),
                not_retained_before: (start > from).then_some(start),
                ..Reply::accepted(&rid)
            };
            let mut answer =
                answered(workflow.executed(rid.clone(), name, None, answer, req.sent_at).await, &rid, name);
            if answer.reply.ok {
                answer.resync = Some((start, to));
            }
            return answer;
        }
    };
    answered(workflow.command(rid.clone(), command, req.sent_at).await, &rid, name)
}

/// The workflow's answer (`None`: it has stopped), logged.
fn answered(reply: Option<Reply>, rid: &str, name: &str) -> Executed {
    let Some(reply) = reply else {
        return refuse(rid, name, ErrorCode::ShuttingDown, "the station is stopping; send it again later");
    };
    match &reply.error {
        None => info!(command = name, request_id = %rid, "command executed"),
        Some(e) => warn!(command = name, request_id = %rid, code = %e.code, message = %e.message, "command refused"),
    }
    Executed { reply, resync: None }
}

/// A well-formed command that cannot be carried out now: answered, nothing changed, and not
/// remembered, so the cloud may retry the same request once the order allows it.
fn refuse(rid: &str, name: &str, code: ErrorCode, message: &str) -> Executed {
    warn!(command = name, request_id = rid, code = %code, message, "command refused");
    Executed { reply: Reply::refused(Some(rid), code, message), resync: None }
}

/// A store could not be read or written: answered with its code, nothing changed.
fn internal(rid: &str, code: ErrorCode, message: &str) -> Executed {
    warn!(request_id = rid, code = %code, message, "command failed");
    Executed { reply: Reply::refused(Some(rid), code, message), resync: None }
}
