//! The bookkeeping of one connection's publishes and of the commands it takes, without I/O
//! and without a clock: every method that needs the time takes `now`, so the session loop
//! reads the clock once and the rules are tested by moving time forward, not by sleeping.
//!
//! - [`Flight`]: what was handed to rumqttc in which order, which pkid carries which seq,
//!   how many events await their PubAck and since when, where the backlog and resync
//!   ranges continue. The session (`session.rs`) does the publishing around it.
//! - [`CommandLimiter`]: a token bucket over cloud commands, so a flood is answered
//!   `rate_limited` instead of starving event delivery.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tracing::warn;

use super::execute::Executed;
use crate::journal::Record;
use crate::station::reply;

/// Commands per second a station executes; a flood beyond the burst is answered
/// `rate_limited` and not executed, so it cannot starve event delivery.
pub(super) const COMMANDS_PER_SECOND: f64 = 20.0;
pub(super) const COMMAND_BURST: f64 = 50.0;
/// Pending events read from the journal at once. The window refills a few events per
/// PubAck; reading each refill through sled's tree cost a descent per PubAck.
pub(super) const READ_AHEAD: usize = 256;
/// Refused commands are logged at most this often.
const REFUSED_LOG_EVERY: Duration = Duration::from_secs(60);

/// What a publish in flight was, in the order it was handed to rumqttc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Event(u64),
    Control,
    Offline,
}

/// In-flight bookkeeping of one connection.
pub(super) struct Flight {
    pub(super) window: usize,
    pub(super) events_topic: String,
    /// Publishes handed to rumqttc whose pkid is not known yet, in order.
    pub(super) sent: VecDeque<Sent>,
    /// Event publishes awaiting PubAck, with when they went out.
    by_pkid: HashMap<u16, (u64, Instant)>,
    pub(super) inflight: usize,
    /// Next seq to publish from the pending backlog.
    pub(super) next_seq: u64,
    /// Pending events read but not yet handed over, from `next_seq` on (at most
    /// [`READ_AHEAD`]); read again from the journal after a refused hand-over.
    pub(super) read_ahead: VecDeque<Record>,
    /// Ranges asked for by `resync`, re-published before new events.
    pub(super) resync: VecDeque<(u64, u64)>,
}

impl Flight {
    pub(super) fn new(window: usize, prefix: &str) -> Self {
        Flight {
            window,
            events_topic: format!("{prefix}/events"),
            sent: VecDeque::new(),
            by_pkid: HashMap::new(),
            inflight: 0,
            next_seq: 0,
            read_ahead: VecDeque::new(),
            resync: VecDeque::new(),
        }
    }

    /// An event publish was handed to rumqttc: it counts against the window.
    pub(super) fn event_handed_over(&mut self, seq: u64) {
        self.sent.push_back(Sent::Event(seq));
        self.inflight += 1;
    }

    /// rumqttc sent the next publish handed over, as `pkid`, at `now`.
    pub(super) fn on_outgoing(&mut self, pkid: u16, now: Instant) {
        if let Some(Sent::Event(seq)) = self.sent.pop_front() {
            self.by_pkid.insert(pkid, (seq, now));
        }
    }

    /// The broker acked `pkid`: the seq it carried, if it was an event.
    pub(super) fn on_puback(&mut self, pkid: u16) -> Option<u64> {
        let (seq, _) = self.by_pkid.remove(&pkid)?;
        self.inflight -= 1;
        Some(seq)
    }

    /// How long the oldest event on the wire has waited for its PubAck at `now` (zero
    /// when none).
    pub(super) fn waiting_for_ack(&self, now: Instant) -> Duration {
        self.by_pkid.values().map(|(_, at)| now.saturating_duration_since(*at)).max().unwrap_or(Duration::ZERO)
    }
}

/// A token bucket over cloud commands: [`COMMAND_BURST`] at once, refilled at
/// [`COMMANDS_PER_SECOND`].
pub(super) struct CommandLimiter {
    tokens: f64,
    at: Instant,
    refused: u64,
    last_log: Option<Instant>,
}

impl CommandLimiter {
    /// A full bucket at `now`.
    pub(super) fn new(now: Instant) -> Self {
        CommandLimiter { tokens: COMMAND_BURST, at: now, refused: 0, last_log: None }
    }

    /// Whether a command arriving at `now` may run (and takes its token).
    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * COMMANDS_PER_SECOND).min(COMMAND_BURST);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The reply to a command refused at `now`; the flood is logged once a minute.
    pub(super) fn refused(&mut self, name: &str, payload: &[u8], now: Instant) -> Executed {
        self.refused += 1;
        if self.last_log.is_none_or(|t| now.saturating_duration_since(t) >= REFUSED_LOG_EVERY) {
            warn!(
                command = name,
                refused_so_far = self.refused,
                "command flood: commands over {COMMANDS_PER_SECOND}/s are refused"
            );
            self.last_log = Some(now);
        }
        let msg = format!("more than {COMMANDS_PER_SECOND} commands per second; retry later");
        let rid = super::commands::request_id_of(payload);
        Executed { reply: reply::refused(rid.as_deref(), "rate_limited", &msg), resync: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_a_burst_through_then_refuses_until_time_refills_it() {
        let t0 = Instant::now();
        let mut l = CommandLimiter::new(t0);
        let passed = (0..COMMAND_BURST as usize + 10).filter(|_| l.take(t0)).count();
        assert_eq!(passed, COMMAND_BURST as usize, "the burst, and not one more");
        assert!(!l.take(t0 + Duration::from_millis(10)), "a fifth of a token is not enough");
        // One second refills COMMANDS_PER_SECOND tokens.
        let t1 = t0 + Duration::from_secs(1);
        let passed = (0..100).filter(|_| l.take(t1)).count();
        assert_eq!(passed, COMMANDS_PER_SECOND as usize);
    }

    #[test]
    fn the_limiter_refills_no_further_than_the_burst() {
        let t0 = Instant::now();
        let mut l = CommandLimiter::new(t0);
        let later = t0 + Duration::from_secs(3600);
        let passed = (0..200).filter(|_| l.take(later)).count();
        assert_eq!(passed, COMMAND_BURST as usize);
    }

    #[test]
    fn a_clock_read_out_of_order_takes_no_tokens_back() {
        let t0 = Instant::now();
        let mut l = CommandLimiter::new(t0 + Duration::from_secs(1));
        assert!(l.take(t0), "an earlier `now` refills nothing and removes nothing");
    }

    #[test]
    fn a_refused_command_is_answered_rate_limited_with_its_request_id() {
        let t0 = Instant::now();
        let mut l = CommandLimiter::new(t0);
        let done = l.refused("print", br#"{"request_id":"r1"}"#, t0);
        assert_eq!(done.reply["request_id"], "r1");
        assert_eq!(done.reply["error"]["code"], "rate_limited");
        assert_eq!(done.resync, None);
    }

    #[test]
    fn pubacks_map_back_to_the_seqs_in_the_order_they_were_handed_over() {
        let t0 = Instant::now();
        let mut f = Flight::new(10, "p");
        f.event_handed_over(7);
        f.sent.push_back(Sent::Control);
        f.event_handed_over(8);
        f.on_outgoing(1, t0);
        f.on_outgoing(2, t0);
        f.on_outgoing(3, t0);
        assert_eq!(f.inflight, 2);
        assert_eq!(f.on_puback(2), None, "a control publish carries no seq");
        assert_eq!(f.on_puback(3), Some(8));
        assert_eq!(f.on_puback(1), Some(7));
        assert_eq!(f.inflight, 0);
    }

    #[test]
    fn waiting_for_ack_is_the_age_of_the_oldest_unacked_event_and_zero_when_none() {
        let t0 = Instant::now();
        let mut f = Flight::new(10, "p");
        assert_eq!(f.waiting_for_ack(t0 + Duration::from_secs(100)), Duration::ZERO);
        f.event_handed_over(1);
        f.event_handed_over(2);
        f.on_outgoing(10, t0);
        f.on_outgoing(11, t0 + Duration::from_secs(5));
        assert_eq!(f.waiting_for_ack(t0 + Duration::from_secs(20)), Duration::from_secs(20));
        f.on_puback(10);
        assert_eq!(f.waiting_for_ack(t0 + Duration::from_secs(20)), Duration::from_secs(15));
        f.on_puback(11);
        assert_eq!(f.waiting_for_ack(t0 + Duration::from_secs(20)), Duration::ZERO);
    }
}
