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
use crate::event::format_at;
use crate::journal::Journal;
use crate::orders::{OrderStore, SeenRequest};
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
            // The reply echoes the id as sent (so the sender can match it); the log shows
            // bidi and zero-width characters escaped, so a line cannot be made to read otherwise.
            let shown = stationd_drivers::framing::escape_invisible(request_id.as_deref().unwrap_or("-")).into_owned();
            warn!(command = name, request_id = %shown, code = %code, %message, "command rejected");
            return Executed { reply: Reply::refused(request_id.as_deref(), code, &message), resync: None };
        }
    };
    let (rid, name) = (req.request_id.clone(), req.name);
    match orders.seen(&rid) {
        Ok(Some(seen)) => match repeat_of(&seen, name, &req.digest) {
            Repeat::Duplicate => {
                info!(command = name, request_id = %rid, "repeated command; answered, not applied again");
                return Executed { reply: seen.reply.repeated(), resync: None };
            }
            Repeat::Conflict => {
                let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(seen.at_ms) * 1_000_000);
                let first = format_at(at.unwrap_or(time::OffsetDateTime::UNIX_EPOCH));
                let this =
                    if seen_name(&seen) == name { "the same command with another payload" } else { "another command" };
                let msg = format!(
                    "request_id {rid:?} was first used by {} at {first}; this is {this}, not executed: send it with a new request_id",
                    seen.name
                );
                warn!(command = name, request_id = %rid, first_command = %seen.name, first_at = %first, "request_id reused for another command; refused");
                return Executed {
                    reply: Reply::refused(Some(&rid), ErrorCode::RequestIdConflict, &msg),
                    resync: None,
                };
            }
        },
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
            let answer = answered(
                workflow.executed(rid.clone(), name, order, answer, req.sent_at, req.digest.clone()).await,
                &rid,
                name,
            );
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
            let mut answer = answered(
                workflow.executed(rid.clone(), name, None, answer, req.sent_at, req.digest.clone()).await,
                &rid,
                name,
            );
            if answer.reply.ok {
                answer.resync = Some((start, to));
            }
            return answer;
        }
    };
    answered(workflow.command(rid.clone(), command, req.sent_at, req.digest.clone()).await, &rid, name)
}

/// What a command whose request id was remembered is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The same command again (a redelivery or a retry): answered with the first reply.
    Duplicate,
    /// Another command or payload under a used id: refused `request_id_conflict`.
    Conflict,
}

/// Whether the command `name` with `digest` repeats the remembered `seen`: the same digest.
/// A record kept without a digest (by the previous release) can only be compared by name
/// (a v1 name counts as its v2 name).
pub fn repeat_of(seen: &SeenRequest, name: &str, digest: &str) -> Repeat {
    let same = match &seen.digest {
        Some(d) => d == digest,
        None => seen_name(seen) == name,
    };
    if same {
        Repeat::Duplicate
    } else {
        Repeat::Conflict
    }
}

/// The name a remembered command was executed under, as the station names it now (a record
/// of a v1 name counts as its v2 name).
fn seen_name(seen: &SeenRequest) -> &str {
    v2_name(&seen.name).unwrap_or(&seen.name)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplink::commands::CommandRequest;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// A valid command under the id `r-1`, from a small space so the same command comes up
    /// often; the payload's keys in a random order and with or without a `sent_at`.
    fn command() -> impl Strategy<Value = (&'static str, Value)> {
        let order = proptest::sample::select(&["SO-40", "SO-41"][..]);
        let reason = proptest::option::of(proptest::sample::select(&["damaged", "address check"][..]));
        let sent_at =
            proptest::option::of(proptest::sample::select(&["2026-12-07T10:00:00Z", "2026-12-07T11:00:00Z"][..]));
        (0usize..6, order, reason, 1u8..3, 1u64..3, sent_at).prop_map(|(kind, order, reason, copies, from, sent_at)| {
            let (name, mut v) = match kind {
                0 => (
                    "order-upsert",
                    json!({"order": {"id": order, "lines": [{"line": 1, "sku": "SKU-1", "qty": copies}]}}),
                ),
                1 => ("order-cancel", json!({"order": order, "reason": reason})),
                2 => ("order-hold", json!({"order": order, "reason": reason.unwrap_or("x")})),
                3 => ("order-release", json!({"order": order})),
                4 => ("print", json!({"order": order, "document": "label", "copies": copies})),
                _ => ("resync", json!({"from": from})),
            };
            let o = v.as_object_mut().unwrap();
            o.retain(|_, v| !v.is_null());
            o.insert("request_id".into(), json!("r-1"));
            if let Some(t) = sent_at {
                o.insert("sent_at".into(), json!(t));
            }
            (name, v)
        })
    }

    fn parse(name: &str, v: &Value) -> CommandRequest {
        parse_command(name, v.to_string().as_bytes()).expect("a valid command")
    }

    fn remembered(r: &CommandRequest) -> SeenRequest {
        SeenRequest {
            at_ms: 0,
            name: r.name.into(),
            reply: Reply::accepted(&r.request_id),
            digest: Some(r.digest.clone()),
        }
    }

    proptest! {
        /// Two commands under one id: the first executes and is remembered; the second is
        /// a duplicate (answered with the first reply, not executed) only when it is the same
        /// command, else a conflict (not executed either). Never both executed, and never a
        /// different command answered as the first one's duplicate.
        #[test]
        fn two_different_commands_under_one_id_never_both_execute((a_name, a) in command(), (b_name, b) in command()) {
            let (first, second) = (parse(a_name, &a), parse(b_name, &b));
            let seen = remembered(&first);
            let same = first.name == second.name && first.command == second.command;
            let without_sent_at = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("sent_at");
                v
            };
            let same_payload = a_name == b_name && without_sent_at(&a) == without_sent_at(&b);
            match repeat_of(&seen, second.name, &second.digest) {
                Repeat::Duplicate => prop_assert!(same, "{:?} answered as the duplicate of {:?}", second, first),
                Repeat::Conflict => prop_assert!(!same_payload, "{:?} refused as a conflict with itself", second),
            }
        }

        /// The same command again, its keys in another order and with another `sent_at`, is
        /// a duplicate.
        #[test]
        fn the_same_command_resent_is_a_duplicate_whatever_its_key_order_and_sent_at((name, v) in command()) {
            let first = parse(name, &v);
            let mut reordered: Vec<(String, Value)> = v.as_object().unwrap().clone().into_iter().collect();
            reordered.reverse();
            let mut text = String::from("{");
            for (i, (k, val)) in reordered.iter().filter(|(k, _)| k != "sent_at").enumerate() {
                text.push_str(&format!("{}{}: {}", if i > 0 { ", " } else { "" }, json!(k), val));
            }
            text.push_str(r#", "sent_at": "2027-01-01T00:00:00Z"}"#);
            let again = parse_command(name, text.as_bytes()).unwrap();
            prop_assert_eq!(repeat_of(&remembered(&first), again.name, &again.digest), Repeat::Duplicate);
        }
    }

    #[test]
    fn a_hold_on_another_order_under_a_used_id_is_a_conflict() {
        let hold40 = parse("order-hold", &json!({"request_id": "r-40", "order": "SO-40", "reason": "x"}));
        let hold41 = parse("order-hold", &json!({"request_id": "r-40", "order": "SO-41", "reason": "x"}));
        assert_eq!(repeat_of(&remembered(&hold40), hold41.name, &hold41.digest), Repeat::Conflict);
    }

    #[test]
    fn records_without_a_digest_are_compared_by_command_name_with_v1_names_as_v2() {
        let hold = parse("order-hold", &json!({"request_id": "r-40", "order": "SO-40", "reason": "x"}));
        let old =
            |name: &str| SeenRequest { at_ms: 0, name: name.into(), reply: Reply::accepted("r-40"), digest: None };
        assert_eq!(repeat_of(&old("order-hold"), hold.name, &hold.digest), Repeat::Duplicate);
        assert_eq!(repeat_of(&old("order.hold"), hold.name, &hold.digest), Repeat::Duplicate);
        assert_eq!(repeat_of(&old("order-upsert"), hold.name, &hold.digest), Repeat::Conflict);
    }
}
