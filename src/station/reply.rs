//! The answers to cloud commands, as published on `{prefix}/reply` (docs/MQTT.md,
//! "Replies"): built here and nowhere else, whoever answers (the station, the uplink's
//! parser, the rate limit, a failed commit).

use serde_json::{json, Value};

/// A command carried out: `{"request_id", "ok": true}`; the caller adds what it did.
pub fn accepted(request_id: &str) -> Value {
    json!({ "request_id": request_id, "ok": true })
}

/// An order command carried out, with the order's state after it.
pub fn order_state(request_id: &str, state: super::OrderState) -> Value {
    let mut reply = accepted(request_id);
    reply["state"] = json!(state.as_str());
    reply
}

/// A command not carried out: its code and a message saying why (`request_id` is `null`
/// when the payload had none to echo).
pub fn refused(request_id: Option<&str>, code: &str, message: &str) -> Value {
    json!({ "request_id": request_id, "ok": false, "error": { "code": code, "message": message } })
}

/// The remembered answer to a command delivered again: the same answer, marked.
pub fn repeated(mut remembered: Value) -> Value {
    remembered["duplicate"] = Value::Bool(true);
    remembered
}

/// The reply to a command that came by a deprecated v1 name (`order.upsert`), whatever its
/// outcome, says so and names the topic to publish on instead.
pub fn deprecated_name(mut reply: Value, v1: &str, v2: &str) -> Value {
    reply["deprecated"] = json!(format!("command name {v1} is deprecated; publish on cmd/{v2}"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_the_documented_shape() {
        assert_eq!(accepted("r-1"), json!({"request_id": "r-1", "ok": true}));
        assert_eq!(order_state("r-1", super::super::OrderState::Packed)["state"], "packed");
        let no = refused(None, "bad_json", "payload is not JSON");
        assert_eq!(
            no,
            json!({"request_id": null, "ok": false, "error": {"code": "bad_json", "message": "payload is not JSON"}})
        );
        assert_eq!(repeated(accepted("r-1"))["duplicate"], true);
        assert_eq!(
            deprecated_name(accepted("r-1"), "order.upsert", "order-upsert"),
            json!({"request_id": "r-1", "ok": true,
                   "deprecated": "command name order.upsert is deprecated; publish on cmd/order-upsert"})
        );
    }
}
