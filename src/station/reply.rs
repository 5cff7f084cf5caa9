//! The answer to a cloud command, as published on `{prefix}/reply` (docs/MQTT.md,
//! "Replies"): one type, built here and nowhere else, whoever answers (the station, the
//! uplink's parser, the rate limit, a failed commit). Its JSON Schema in docs/asyncapi.yaml
//! is generated from [`Reply`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::OrderState;
use crate::event::CommandRefusal;

/// One reply per command, after it was executed (or refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "reply",
    extend("if" = { "properties": { "ok": { "const": false } } }),
    extend("then" = { "required": ["error"] }),
    extend("else" = { "not": { "required": ["error"] } })
)]
pub struct Reply {
    /// The command's request_id as sent: a string as is (cut to 128 characters with `…`
    /// when longer), any other JSON value as its JSON text; null only when the payload could
    /// not be read (too large, not JSON, not an object, no request_id).
    #[schemars(extend("type" = ["string", "null"]))]
    pub request_id: Option<String>,
    pub ok: bool,
    /// A repeat of an executed request_id: the original reply, nothing applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("const" = true))]
    pub duplicate: bool,
    /// Order commands: the order state after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<OrderState>,
    /// `print`: the printer the job went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    /// `print`: copies queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub copies: Option<u8>,
    /// `resync`: first seq re-published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub resent_from: Option<u64>,
    /// `resync`: last seq re-published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub resent_to: Option<u64>,
    /// `resync`: seqs before this were trimmed from the journal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub not_retained_before: Option<u64>,
    /// The command came by a name that is going away, and which name to use instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<String>,
    /// Why the command was not carried out (present exactly when `ok` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Refusal>,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub code: ErrorCode,
    /// Says what was wrong with which value, for a person; at most ~300 characters.
    pub message: String,
}

crate::event::codes! {
    /// The stable, machine-readable reason of a refused command (one plain list in the schema,
    /// so consumers' code generators make one enum of it).
    ErrorCode {
        // Over the 64 KiB command limit.
        "payload_too_large" => PayloadTooLarge,
        // Not JSON, or not a JSON object.
        "bad_json" => BadJson,
        "missing_field" => MissingField,
        "invalid_field" => InvalidField,
        "unknown_field" => UnknownField,
        // No command of that name (the reply lists the known ones).
        "unknown_command" => UnknownCommand,
        "unknown_order" => UnknownOrder,
        // The order's state does not allow it (e.g. holding a held order).
        "illegal_transition" => IllegalTransition,
        // `resync`: nothing of the range is still in the journal.
        "not_retained" => NotRetained,
        "unknown_printer" => UnknownPrinter,
        "printing_unavailable" => PrintingUnavailable,
        "render_failed" => RenderFailed,
        "unknown_job" => UnknownJob,
        "print_storage" => PrintStorage,
        "print_access" => PrintAccess,
        // Over the command rate limit; send it again later.
        "rate_limited" => RateLimited,
        // Published retained: commands are never taken from retained messages.
        "retained_command" => RetainedCommand,
        // The request_id was used before for another command or another payload (the message
        // names that first use): not executed, and not answered as its duplicate.
        "request_id_conflict" => RequestIdConflict,
        // `sent_at` more than 7 days old (the request ids' memory): an old copy could run twice.
        "stale_command" => StaleCommand,
        "journal_full" => JournalFull,
        "journal_locked" => JournalLocked,
        "journal_access" => JournalAccess,
        "journal_wrong_station" => JournalWrongStation,
        "journal_storage" => JournalStorage,
        "journal_closed" => JournalClosed,
        "order_store_write" => OrderStoreWrite,
        "order_store_read" => OrderStoreRead,
        "order_store_access" => OrderStoreAccess,
        "sscc_floor" => SsccFloor,
        "workflow_unavailable" => WorkflowUnavailable,
        "shutting_down" => ShuttingDown,
    }
}

impl From<CommandRefusal> for ErrorCode {
    fn from(code: CommandRefusal) -> ErrorCode {
        match code {
            CommandRefusal::UnknownOrder => ErrorCode::UnknownOrder,
            CommandRefusal::IllegalTransition => ErrorCode::IllegalTransition,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Reply {
    /// A command carried out: `{"request_id", "ok": true}`; the caller adds what it did.
    pub fn accepted(request_id: &str) -> Reply {
        Reply {
            request_id: Some(request_id.to_string()),
            ok: true,
            duplicate: false,
            state: None,
            printer: None,
            copies: None,
            resent_from: None,
            resent_to: None,
            not_retained_before: None,
            deprecated: None,
            error: None,
        }
    }

    /// An order command carried out, with the order's state after it.
    pub fn order_state(request_id: &str, state: OrderState) -> Reply {
        Reply { state: Some(state), ..Reply::accepted(request_id) }
    }

    /// A command not carried out: its code and a message saying why (`request_id` is
    /// `None`, `null` on the wire, when the payload had none to echo).
    pub fn refused(request_id: Option<&str>, code: ErrorCode, message: &str) -> Reply {
        Reply {
            request_id: request_id.map(str::to_string),
            ok: false,
            error: Some(Refusal { code, message: message.to_string() }),
            ..Reply::accepted("")
        }
    }

    /// The remembered answer to a command delivered again: the same answer, marked.
    pub fn repeated(self) -> Reply {
        Reply { duplicate: true, ..self }
    }

    /// The reply to a command that came by a deprecated v1 name (`order.upsert`), whatever
    /// its outcome, says so and names the topic to publish on instead.
    pub fn deprecated_name(self, v1: &str, v2: &str) -> Reply {
        Reply { deprecated: Some(format!("command name {v1} is deprecated; publish on cmd/{v2}")), ..self }
    }

    /// The bytes published on `{prefix}/reply`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a reply is plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_have_the_documented_shape() {
        let wire = |r: &Reply| serde_json::to_value(r).unwrap();
        assert_eq!(wire(&Reply::accepted("r-1")), json!({"request_id": "r-1", "ok": true}));
        assert_eq!(wire(&Reply::order_state("r-1", OrderState::Packed))["state"], "packed");
        let no = Reply::refused(None, ErrorCode::BadJson, "payload is not JSON");
        assert_eq!(
            wire(&no),
            json!({"request_id": null, "ok": false, "error": {"code": "bad_json", "message": "payload is not JSON"}})
        );
        assert_eq!(wire(&Reply::accepted("r-1").repeated())["duplicate"], true);
        assert_eq!(serde_json::from_value::<Reply>(wire(&no)).unwrap(), no);
        assert_eq!(
            wire(&Reply::accepted("r-1").deprecated_name("order.upsert", "order-upsert")),
            json!({"request_id": "r-1", "ok": true,
                   "deprecated": "command name order.upsert is deprecated; publish on cmd/order-upsert"})
        );
    }

    #[test]
    fn every_error_code_is_written_as_serde_writes_it() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }
}
