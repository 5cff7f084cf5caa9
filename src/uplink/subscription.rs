//! The command subscription as the broker answered it: the station subscribes to
//! `{prefix}/cmd/#` at QoS 1 on every connection, and the SubAck says whether commands can
//! reach it at all. A broker ACL that denies the topic answers `0x80` (NATS with a `subscribe
//! deny` permission, AWS IoT, HiveMQ, EMQX); one that caps QoS answers `0x00`. Either way the
//! station is deaf or hard of hearing while its link looks fine, so the answer is judged here
//! and carried in the retained birth status, `queue status`, the screen, `/metrics` and an
//! `alert` line.
//!
//! # Design constraints
//! - Pure: [`judge`] turns the SubAck's return code into a [`CommandSubscription`], and
//!   [`notice`] says what a change between two connections means for the packer; the session
//!   does the I/O and prints.
//! - One line per change of state, not per reconnect: a refused subscription stays refused
//!   quietly until a later SubAck grants it (then one line says so).

use rumqttc::{QoS, SubscribeReasonCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the broker answered the station's command subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "command subscription")]
pub struct CommandSubscription {
    /// The topic filter subscribed to: `{prefix}/cmd/#`.
    pub topic: String,
    pub state: SubscriptionState,
    /// The SubAck's return code for the topic (MQTT 3.1.1 §3.9.3): 1 granted at QoS 1, 0
    /// granted at QoS 0 only, 128 (0x80) refused; absent while unanswered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [0, 1, 2, 128]))]
    pub return_code: Option<u8>,
}

/// What the SubAck means for commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// QoS 1 (or more) granted: commands reach the station and are kept in its session.
    Granted,
    /// Only QoS 0 granted: commands sent while the link is down are lost.
    Downgraded,
    /// Refused (0x80): no command reaches the station.
    Refused,
    /// No SubAck yet (the birth went out without it after the wait).
    Unanswered,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Granted => "granted",
            SubscriptionState::Downgraded => "downgraded",
            SubscriptionState::Refused => "refused",
            SubscriptionState::Unanswered => "unanswered",
        }
    }
}

impl CommandSubscription {
    /// Subscribed, no SubAck yet.
    pub fn unanswered(topic: &str) -> CommandSubscription {
        CommandSubscription { topic: topic.to_string(), state: SubscriptionState::Unanswered, return_code: None }
    }

    /// The return code as brokers' docs write it (`0x80`).
    pub fn code_hex(&self) -> String {
        self.return_code.map_or_else(|| "none".to_string(), |c| format!("0x{c:02x}"))
    }

    /// What an admin grants so the station hears its commands.
    pub fn fix(&self) -> String {
        let t = &self.topic;
        match self.state {
            SubscriptionState::Downgraded => format!(
                "allow the station's broker account QoS 1 subscriptions on {t} (the broker's maximum QoS or ACL caps it at 0)"
            ),
            _ => format!(
                "grant the station's broker account subscribe (read) on {t} (Mosquitto: `topic read {t}`; NATS: \
                 permissions subscribe allow \"{}\"; docs/SECURITY.md)",
                nats_subject(t)
            ),
        }
    }

    /// One line for the packer and the log: the topic, the broker's code, what it costs.
    pub fn describe(&self) -> String {
        let (t, code) = (&self.topic, self.code_hex());
        match self.state {
            SubscriptionState::Granted => {
                format!("the broker granted the command subscription {t} (SubAck return code {code}): commands reach this station")
            }
            SubscriptionState::Downgraded => format!(
                "the broker granted the command subscription {t} at QoS 0 only (SubAck return code {code}, QoS 1 asked): \
                 commands sent while the link is down are lost; {}",
                self.fix()
            ),
            SubscriptionState::Refused => format!(
                "the broker refused the command subscription {t} (SubAck return code {code}): no command reaches this \
                 station; {}",
                self.fix()
            ),
            SubscriptionState::Unanswered => format!("the broker has not answered the command subscription {t}"),
        }
    }
}

/// `wh/WH1/st/X/cmd/#` as NATS writes the subject (`wh.WH1.st.X.cmd.>`).
fn nats_subject(topic: &str) -> String {
    topic.replace('/', ".").replace('#', ">").replace('+', "*")
}

/// The command subscription as one SubAck answers it (the station sends one topic filter per
/// SUBSCRIBE, so its first return code is the one; an empty list is a refusal).
pub fn judge(topic: &str, return_codes: &[SubscribeReasonCode]) -> CommandSubscription {
    let (state, code) = match return_codes.first() {
        Some(SubscribeReasonCode::Success(QoS::AtMostOnce)) => (SubscriptionState::Downgraded, 0),
        Some(SubscribeReasonCode::Success(QoS::AtLeastOnce)) => (SubscriptionState::Granted, 1),
        Some(SubscribeReasonCode::Success(QoS::ExactlyOnce)) => (SubscriptionState::Granted, 2),
        Some(SubscribeReasonCode::Failure) | None => (SubscriptionState::Refused, 0x80),
    };
    CommandSubscription { topic: topic.to_string(), state, return_code: Some(code) }
}

/// What the packer is told when a SubAck arrives, given the last answer the station had
/// (`None` before its first): `(code, message)` for an `alert` line, or nothing when
/// nothing changed (a refusal repeated at every reconnect is said once).
pub fn notice(before: Option<&CommandSubscription>, now: &CommandSubscription) -> Option<(&'static str, String)> {
    let was = before.map(|b| b.state);
    match now.state {
        SubscriptionState::Unanswered => None,
        state if was == Some(state) => None,
        SubscriptionState::Refused => Some(("command_subscription_refused", now.describe())),
        SubscriptionState::Downgraded => Some(("command_subscription_downgraded", now.describe())),
        SubscriptionState::Granted => match was {
            Some(SubscriptionState::Refused | SubscriptionState::Downgraded) => {
                Some(("command_subscription_granted", format!("{}; the earlier alert is cleared", now.describe())))
            }
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "wh/WH1/st/X/cmd/#";

    #[test]
    fn each_suback_return_code_is_judged_with_its_code() {
        let j = |c| judge(T, &[c]);
        assert_eq!(j(SubscribeReasonCode::Success(QoS::AtLeastOnce)).state, SubscriptionState::Granted);
        assert_eq!(j(SubscribeReasonCode::Success(QoS::ExactlyOnce)).state, SubscriptionState::Granted);
        let down = j(SubscribeReasonCode::Success(QoS::AtMostOnce));
        assert_eq!((down.state, down.return_code), (SubscriptionState::Downgraded, Some(0)));
        let refused = j(SubscribeReasonCode::Failure);
        assert_eq!((refused.state, refused.code_hex().as_str()), (SubscriptionState::Refused, "0x80"));
        assert_eq!(judge(T, &[]).state, SubscriptionState::Refused, "no code at all grants nothing");
    }

    #[test]
    fn a_refusal_names_the_topic_the_code_and_the_acl_to_grant() {
        let text = judge(T, &[SubscribeReasonCode::Failure]).describe();
        for part in [T, "0x80", "no command reaches", "topic read wh/WH1/st/X/cmd/#", "wh.WH1.st.X.cmd.>"] {
            assert!(text.contains(part), "{part:?} missing in {text}");
        }
    }

    #[test]
    fn the_packer_is_told_once_per_change_and_when_a_later_suback_grants_it() {
        let granted = judge(T, &[SubscribeReasonCode::Success(QoS::AtLeastOnce)]);
        let refused = judge(T, &[SubscribeReasonCode::Failure]);
        let down = judge(T, &[SubscribeReasonCode::Success(QoS::AtMostOnce)]);
        assert_eq!(notice(None, &granted), None, "granted from the start: nothing to say");
        assert_eq!(notice(None, &refused).unwrap().0, "command_subscription_refused");
        assert_eq!(notice(Some(&refused), &refused), None, "the same refusal at a reconnect is not repeated");
        assert_eq!(notice(Some(&refused), &down).unwrap().0, "command_subscription_downgraded");
        let cleared = notice(Some(&down), &granted).unwrap();
        assert_eq!(cleared.0, "command_subscription_granted");
        assert!(cleared.1.contains("cleared"), "{}", cleared.1);
        assert_eq!(notice(Some(&granted), &CommandSubscription::unanswered(T)), None);
    }

    #[test]
    fn the_status_shape_is_the_documented_one() {
        let v = serde_json::to_value(judge(T, &[SubscribeReasonCode::Failure])).unwrap();
        assert_eq!(v, serde_json::json!({"topic": T, "state": "refused", "return_code": 128}));
        let unanswered = serde_json::to_value(CommandSubscription::unanswered(T)).unwrap();
        assert_eq!(unanswered, serde_json::json!({"topic": T, "state": "unanswered"}));
    }
}
