//! The bookkeeping of one connection's publishes and of the commands it takes, without I/O
//! and without a clock: every method that needs the time takes `now`, so the session loop
//! reads the clock once and the rules are tested by moving time forward, not by sleeping.
//!
//! - [`Flight`]: what was handed to rumqttc in which order, which pkid carries which seq,
//!   how many events await their PubAck and since when, where the backlog and resync
//!   ranges continue. The session (`session.rs`) does the publishing around it.
//! - [`CommandLimiter`]: a token bucket over cloud commands, so a flood is answered
//!   `rate_limited` instead of starving event delivery.
//! - [`Pace`]: a token bucket over the backlog's publishes while a packer scans
//!   (`[mqtt] drain_rate_in_use`), so a drain leaves the CPU to the packer's syncs.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tracing::warn;

use super::execute::Executed;
use super::resync::ResyncQueue;
use crate::station::{ErrorCode, Reply};

/// Commands per second a station executes; a flood beyond the burst is answered
/// `rate_limited` and not executed, so it cannot starve event delivery.
pub(super) const COMMANDS_PER_SECOND: f64 = 20.0;
pub(super) const COMMAND_BURST: f64 = 50.0;
/// How long after the last scan the station counts as in use, and its backlog is paced
/// (`[mqtt] drain_rate_in_use`).
pub(super) const BUSY_FOR: Duration = Duration::from_secs(2);
/// How often a paced drain that has used up its tokens tries again; it saves up at most
/// this long's worth.
pub(super) const PACE_TICK: Duration = Duration::from_millis(10);
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
    /// Seqs asked for by `resync`, merged; re-published in the window's room left by new
    /// events (`resync.rs`).
    pub(super) resync: ResyncQueue,
    pub(super) pace: Pace,
}

/// `rate` tokens a second, at most `burst` saved up; a clock read out of order adds nothing.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    fn new(rate: f64, burst: f64, now: Instant) -> Self {
        TokenBucket { rate, burst, tokens: burst, at: now }
    }

    /// Whole tokens at `now`.
    fn available(&mut self, now: Instant) -> usize {
        let elapsed = now.saturating_duration_since(self.at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        self.at = self.at.max(now);
        self.tokens as usize
    }

    fn take(&mut self, n: usize) {
        self.tokens = (self.tokens - n as f64).max(0.0);
    }
}

/// How many event publishes the drain may hand over: unlimited while the station is idle;
/// while it is in use (a scan within [`BUSY_FOR`]), `rate` per second (a token bucket holding
/// at most a [`PACE_TICK`]'s worth, full when pacing starts). A drain at full speed takes
/// both cores of a small box (the uplink, the TCP/TLS stack, a broker on the same box), and a
/// packer's scan then waits milliseconds for the kernel's side of its sync. With no backlog,
/// new events (a few per second) go out at once (docs/PERFORMANCE.md, workflow).
#[derive(Debug)]
pub(super) struct Pace {
    /// Events per second while in use; `None`: never paced.
    rate: Option<f64>,
    /// Set while paced.
    bucket: Option<TokenBucket>,
    /// The last refill stopped at the budget: the next tick refills (no ticks otherwise,
    /// so a station that only has its own few events does not wake every tick).
    pub(super) held_back: bool,
}

impl Pace {
    pub(super) fn new(rate: Option<u32>) -> Self {
        Pace { rate: rate.map(f64::from), bucket: None, held_back: false }
    }

    /// Whether the last [`Pace::budget`] was paced (the session reports `held_back`, which
    /// only a paced budget sets; the tests check both).
    #[cfg(test)]
    pub(super) fn is_paced(&self) -> bool {
        self.bucket.is_some()
    }

    /// Event publishes allowed at `now`, given how long ago the station was last scanned.
    pub(super) fn budget(&mut self, now: Instant, idle_for: Option<Duration>) -> usize {
        let in_use = idle_for.is_some_and(|d| d < BUSY_FOR);
        let Some(rate) = self.rate.filter(|_| in_use) else {
            self.bucket = None;
            return usize::MAX;
        };
        // Pacing starts with a tick's worth: the scan that starts it has its event published
        // at once instead of waiting for the next tick (with no backlog, that is the event).
        let burst = (rate * PACE_TICK.as_secs_f64()).max(1.0);
        self.bucket.get_or_insert_with(|| TokenBucket::new(rate, burst, now)).available(now)
    }

    /// `n` event publishes were handed over.
    pub(super) fn spent(&mut self, n: usize) {
        if let Some(b) = &mut self.bucket {
            b.take(n);
        }
    }
}

impl Flight {
    pub(super) fn new(window: usize, prefix: &str, drain_rate_in_use: Option<u32>) -> Self {
        Flight {
            window,
            events_topic: format!("{prefix}/events"),
            sent: VecDeque::new(),
            by_pkid: HashMap::new(),
            inflight: 0,
            next_seq: 0,
            resync: ResyncQueue::default(),
            pace: Pace::new(drain_rate_in_use),
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
    bucket: TokenBucket,
    refused: u64,
    last_log: Option<Instant>,
}

impl CommandLimiter {
    /// A full bucket at `now`.
    pub(super) fn new(now: Instant) -> Self {
        let bucket = TokenBucket::new(COMMANDS_PER_SECOND, COMMAND_BURST, now);
        CommandLimiter { bucket, refused: 0, last_log: None }
    }

    /// Whether a command arriving at `now` may run (and takes its token).
    pub(super) fn take(&mut self, now: Instant) -> bool {
        if self.bucket.available(now) >= 1 {
            self.bucket.take(1);
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
        Executed { reply: Reply::refused(rid.as_deref(), ErrorCode::RateLimited, &msg), resync: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_is_paced_from_a_scan_until_busy_for_after_the_last_one() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut p = Pace::new(Some(20_000));
        assert_eq!(p.budget(t0, None), usize::MAX, "never scanned: not paced");
        assert!(!p.is_paced());
        assert_eq!(p.budget(t0, Some(Duration::ZERO)), 200, "a tick's worth at once: the scan's own event");
        assert!(p.is_paced());
        p.spent(200);
        assert_eq!(p.budget(ms(5), Some(Duration::from_millis(5))), 100, "20 000/s for 5 ms");
        p.spent(100);
        assert_eq!(p.budget(ms(1000), Some(Duration::from_secs(1))), 200, "saved up to one tick's worth");
        p.spent(150);
        assert_eq!(p.budget(ms(1000), Some(Duration::from_secs(1))), 50);
        assert_eq!(p.budget(ms(3000), Some(BUSY_FOR)), usize::MAX, "idle for BUSY_FOR: full speed");
        assert!(!p.is_paced());
        assert_eq!(p.budget(ms(3001), Some(Duration::ZERO)), 200, "a new scan starts a new bucket");
        let mut never = Pace::new(None);
        assert_eq!(never.budget(t0, Some(Duration::ZERO)), usize::MAX, "drain_rate_in_use = 0");
        assert!(!never.is_paced());
    }

    proptest::proptest! {
        /// Whatever the clock steps and scans, a paced stretch hands over at most its
        /// length at the rate plus one tick's worth.
        #[test]
        fn a_paced_stretch_never_exceeds_the_rate(
            steps in proptest::collection::vec((0u64..30, proptest::bool::ANY, 0usize..500), 1..300),
            rate in 100u32..50_000,
        ) {
            let t0 = Instant::now();
            let mut p = Pace::new(Some(rate));
            let (mut now, mut last_scan, mut stretch) = (0u64, None::<u64>, None::<(u64, usize)>);
            for (dt, scan, want) in steps {
                now += dt;
                if scan {
                    last_scan = Some(now);
                }
                let idle_for = last_scan.map(|s| Duration::from_millis(now - s));
                let budget = p.budget(t0 + Duration::from_millis(now), idle_for);
                let in_use = idle_for.is_some_and(|d| d < BUSY_FOR);
                proptest::prop_assert_eq!(p.is_paced(), in_use);
                if !in_use {
                    proptest::prop_assert_eq!(budget, usize::MAX);
                    stretch = None;
                    continue;
                }
                let sent = want.min(budget);
                p.spent(sent);
                let (from, total) = stretch.get_or_insert((now, 0));
                *total += sent;
                let tick = (f64::from(rate) * PACE_TICK.as_secs_f64()).max(1.0);
                let most = f64::from(rate) * (now - *from) as f64 / 1000.0 + tick;
                proptest::prop_assert!(*total as f64 <= most + 1e-6, "{} sent in {} ms at {}/s", total, now - *from, rate);
            }
        }
    }

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
        assert_eq!(done.reply.request_id.as_deref(), Some("r1"));
        assert_eq!(done.reply.error.map(|e| e.code), Some(ErrorCode::RateLimited));
        assert_eq!(done.resync, None);
    }

    #[test]
    fn pubacks_map_back_to_the_seqs_in_the_order_they_were_handed_over() {
        let t0 = Instant::now();
        let mut f = Flight::new(10, "p", None);
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
        let mut f = Flight::new(10, "p", None);
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
