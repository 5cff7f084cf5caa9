//! Commands older than the station's memory of request ids are refused `stale_command`.
//!
//! MQTT 3.1.1 clears the retain flag on live delivery, and a broker's session queue keeps a
//! command for as long as it likes, so the station cannot tell a fresh command from an old
//! copy by the packet. What it can tell is the command's own `sent_at`: a request id is
//! remembered for [`SEEN_WINDOW`] (7 days) after it was executed, and a command is executed
//! after it was sent, so a copy whose `sent_at` is within the last 7 days is either new or
//! answered as a duplicate. An older copy could be a command executed and since forgotten:
//! it is refused instead of risking a second execution. A command without `sent_at` cannot
//! be judged and is taken (docs/MQTT.md, "Retained and old commands").
//!
//! Pure: the caller passes `now`.

use time::OffsetDateTime;
use tracing::warn;

use super::execute::Executed;
use crate::orders::SEEN_WINDOW;
use crate::station::{ErrorCode, Reply};

/// How old a command's `sent_at` may be: the request ids' memory.
pub const MAX_COMMAND_AGE: std::time::Duration = SEEN_WINDOW;

/// The refusal of a command whose `sent_at` is more than [`MAX_COMMAND_AGE`] before `now`;
/// `None` for any other payload (no or unreadable `sent_at`: the parser answers that).
pub fn refuse_stale(name: &str, payload: &[u8], now: OffsetDateTime) -> Option<Executed> {
    if payload.len() > super::MAX_COMMAND_BYTES {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let sent_at = crate::event::parse_at(value.as_object()?.get("sent_at")?.as_str()?)?;
    let age = now - sent_at;
    if age <= MAX_COMMAND_AGE {
        return None;
    }
    let rid = super::commands::request_id_of(payload);
    let days = MAX_COMMAND_AGE.as_secs() / 86_400;
    warn!(
        command = name,
        request_id = rid.as_deref().unwrap_or("-"),
        age_s = age.whole_seconds(),
        "stale command not executed"
    );
    let msg = format!(
        "sent_at {} is {} h old, more than the {days} days request ids are remembered: an old copy (retained or \
         queued) could run twice, so it is not executed; send it again with a new request_id and sent_at",
        crate::event::format_at(sent_at),
        age.whole_hours()
    );
    Some(Executed { reply: Reply::refused(rid.as_deref(), ErrorCode::StaleCommand, &msg), resync: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-08 12:00 UTC);

    fn cmd(sent_at: &str) -> Vec<u8> {
        format!(r#"{{"request_id":"r-1","order":"SO-1","sent_at":"{sent_at}"}}"#).into_bytes()
    }

    #[test]
    fn a_command_sent_more_than_seven_days_ago_is_refused_stale_naming_its_age() {
        let done = refuse_stale("order-hold", &cmd("2026-12-01T11:59:00Z"), NOW).expect("refused");
        let error = done.reply.error.unwrap();
        assert_eq!((done.reply.request_id.as_deref(), error.code), (Some("r-1"), ErrorCode::StaleCommand));
        assert!(
            error.message.contains("2026-12-01T11:59:00.000Z") && error.message.contains("168 h"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_recent_command_a_future_one_or_one_without_a_readable_sent_at_is_left_to_the_parser() {
        assert!(refuse_stale("order-hold", &cmd("2026-12-01T12:00:00Z"), NOW).is_none(), "exactly 7 days");
        assert!(refuse_stale("order-hold", &cmd("2026-12-09T12:00:00Z"), NOW).is_none(), "ahead of the box");
        assert!(refuse_stale("order-hold", &cmd("yesterday"), NOW).is_none());
        assert!(refuse_stale("order-hold", br#"{"request_id":"r-1","order":"SO-1"}"#, NOW).is_none());
        assert!(refuse_stale("order-hold", b"not json", NOW).is_none());
    }
}
