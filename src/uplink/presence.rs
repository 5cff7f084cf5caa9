//! What the station says on its retained `{prefix}/status` topic: the birth at every
//! connection, the offline message of an orderly shutdown, and the last will the broker
//! publishes when the station vanishes. Their JSON Schema is generated from [`Presence`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::subscription::CommandSubscription;

/// The retained status of a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "status")]
pub enum Presence {
    Birth(Birth),
    Shutdown(Shutdown),
    LastWill(LastWill),
}

/// Published at every connection, once the broker answered the command subscription (or
/// after 5 s without one: `commands.state` is then `unanswered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "birth")]
pub struct Birth {
    #[schemars(extend("const" = true))]
    pub online: bool,
    /// The stationd version.
    pub version: String,
    /// When the daemon started (UTC).
    #[schemars(extend("format" = "date-time"))]
    pub started_at: String,
    /// Events not yet acked at connect time.
    pub backlog: u64,
    /// How the broker answered the station's `{prefix}/cmd/#` subscription on this
    /// connection: `refused` or `downgraded` means commands do not (reliably) reach it.
    pub commands: CommandSubscription,
}

/// Published by an orderly shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "orderly shutdown")]
pub struct Shutdown {
    #[schemars(extend("const" = false))]
    pub online: bool,
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    pub reason: ShutdownReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownReason {
    Shutdown,
}

/// Published by the broker when the station's connection ends without a goodbye.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "last will")]
pub struct LastWill {
    #[schemars(extend("const" = false))]
    pub online: bool,
}

impl Presence {
    pub fn birth(started_at: &str, backlog: u64, commands: CommandSubscription) -> Presence {
        Presence::Birth(Birth {
            online: true,
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: started_at.to_string(),
            backlog,
            commands,
        })
    }

    pub fn shutdown(at: String) -> Presence {
        Presence::Shutdown(Shutdown { online: false, at, reason: ShutdownReason::Shutdown })
    }

    pub fn last_will() -> Presence {
        Presence::LastWill(LastWill { online: false })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a status is plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_status_reads_back_as_itself_and_has_the_documented_shape() {
        let commands = super::super::subscription::judge("p/cmd/#", &[rumqttc::SubscribeReasonCode::Failure]);
        let birth = Presence::birth("2026-12-01T10:00:00.000Z", 3, commands);
        let shutdown = Presence::shutdown("2026-12-01T11:00:00.000Z".into());
        let will = Presence::last_will();
        assert_eq!(serde_json::to_value(&will).unwrap(), json!({"online": false}));
        assert_eq!(serde_json::to_value(&shutdown).unwrap()["reason"], "shutdown");
        assert_eq!(serde_json::to_value(&birth).unwrap()["backlog"], 3);
        assert_eq!(serde_json::to_value(&birth).unwrap()["commands"]["state"], "refused");
        for p in [birth, shutdown, will] {
            assert_eq!(serde_json::from_slice::<Presence>(&p.to_bytes()).unwrap(), p);
        }
    }
}
