//! What clock samples prove about the box clock, without I/O.
//!
//! A sample is a remote clock reading that reached the box some time after it was taken.
//! With `u = box now − remote reading` and the delay `d` in `[0, max_delay]`, the box's
//! offset (box minus remote) is `u − d`, so it lies in `[u − max_delay, u]`:
//!
//! - the order system's `Date` comes with its round trip (plus the header's 1 s
//!   resolution) as `max_delay`: a two-sided sample, which can raise an alarm either way
//!   and resolve one;
//! - a command's `sent_at` may have waited in the broker for minutes (an offline station,
//!   a persistent session): its delay has no bound, so it only proves the box is *behind*
//!   (`u < −limit`); an early `sent_at` proves nothing. Like NTP's minimum filter, the
//!   smallest `u` of the last [`WINDOW_MS`] stands for them all, so one quick command
//!   outweighs any number of queued ones, and an alarm they raised ends once no command of
//!   the window shows the box behind.

use std::collections::VecDeque;

/// Clock differences up to this are normal (NTP slew, network delay).
pub const SKEW_LIMIT_MS: i64 = 30_000;
/// How long one-sided samples count.
pub const WINDOW_MS: i64 = 10 * 60_000;
/// One-sided samples kept at most (a command flood cannot grow the window).
const WINDOW_LEN: usize = 64;

/// What a sample changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkewChange {
    /// The box is now known to be off by this much (box minus remote).
    Raised(i64),
    /// Back within the limit; the last estimate.
    Resolved(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ClockState {
    /// Known skew, when over the limit, and whether only one-sided samples showed it.
    skew: Option<(i64, bool)>,
    /// (box time, `u`) of recent one-sided samples.
    window: VecDeque<(i64, i64)>,
}

impl ClockState {
    /// The known skew, when over the limit.
    pub fn skew_ms(&self) -> Option<i64> {
        self.skew.map(|(s, _)| s)
    }

    /// Takes one sample at box time `now_ms`; `max_delay_ms` is `None` when the delay is
    /// unbounded (a command's `sent_at`).
    pub fn sample(&mut self, now_ms: i64, remote_ms: i64, max_delay_ms: Option<i64>) -> Option<SkewChange> {
        let u = now_ms - remote_ms;
        // (proven off by, proven within the limit, the estimate now)
        let (off, within, estimate) = match max_delay_ms {
            Some(max) => {
                let lower = u - max.max(0);
                let off = if u < -SKEW_LIMIT_MS {
                    Some(u)
                } else if lower > SKEW_LIMIT_MS {
                    Some(lower)
                } else {
                    None
                };
                (off.map(|s| (s, false)), lower >= -SKEW_LIMIT_MS && u <= SKEW_LIMIT_MS, u)
            }
            None => {
                self.window.retain(|&(at, _)| now_ms - at <= WINDOW_MS);
                if self.window.len() == WINDOW_LEN {
                    self.window.pop_front();
                }
                self.window.push_back((now_ms, u));
                let min = self.window.iter().map(|&(_, u)| u).min().unwrap_or(u);
                let off = (min < -SKEW_LIMIT_MS).then_some((min, true));
                // Only an alarm the commands raised can end for lack of proof.
                (off, off.is_none() && self.skew.is_some_and(|(_, one_sided)| one_sided), min)
            }
        };
        match (self.skew, off) {
            (None, Some(s)) => {
                self.skew = Some(s);
                Some(SkewChange::Raised(s.0))
            }
            (Some(_), Some(s)) => {
                self.skew = Some(s);
                None
            }
            (Some(_), None) if within => {
                self.skew = None;
                Some(SkewChange::Resolved(estimate))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_command_queued_for_minutes_proves_nothing_and_one_from_the_future_proves_the_box_behind() {
        let mut c = ClockState::default();
        assert_eq!(c.sample(NOW, NOW - 5 * 60_000, None), None);
        assert_eq!(c.skew_ms(), None);
        assert_eq!(c.sample(NOW, NOW + 120_000, None), Some(SkewChange::Raised(-120_000)));
        assert_eq!(c.skew_ms(), Some(-120_000));
    }

    #[test]
    fn an_alarm_raised_by_commands_ends_when_no_command_of_the_window_shows_the_box_behind() {
        let mut c = ClockState::default();
        assert_eq!(c.sample(NOW, NOW + 60_000, None), Some(SkewChange::Raised(-60_000)));
        // A delayed command soon after does not end it: the quick one still stands.
        assert_eq!(c.sample(NOW + 1_000, NOW - 30_000, None), None);
        assert_eq!(c.skew_ms(), Some(-60_000));
        let later = NOW + WINDOW_MS + 1;
        assert_eq!(c.sample(later, later - 200, None), Some(SkewChange::Resolved(200)));
    }

    #[test]
    fn the_order_systems_date_counts_both_ways_within_its_round_trip() {
        let mut c = ClockState::default();
        // 45 s ahead, answered within 2 s: proven.
        assert_eq!(c.sample(NOW, NOW - 45_000, Some(2_000)), Some(SkewChange::Raised(43_000)));
        // 31 s with a 3 s round trip: cannot tell; the alarm stays.
        assert_eq!(c.sample(NOW, NOW - 31_000, Some(3_000)), None);
        assert_eq!(c.sample(NOW, NOW - 500, Some(1_000)), Some(SkewChange::Resolved(500)));
        // A slow answer cannot prove the box ahead.
        assert_eq!(c.sample(NOW, NOW - 40_000, Some(15_000)), None);
    }

    proptest! {
        /// A box whose clock is right never raises an alarm from commands, however long
        /// each waited in the broker.
        #[test]
        fn a_correct_box_never_alarms_on_queued_commands(delays in prop::collection::vec(0i64..3_600_000, 1..50)) {
            let mut c = ClockState::default();
            for (i, d) in delays.into_iter().enumerate() {
                let now = NOW + i as i64 * 1_000;
                prop_assert_eq!(c.sample(now, now - d, None), None);
            }
        }

        /// A box behind by more than the limit is flagged by the first command that
        /// arrives faster than the offset, whatever queued ones came before.
        #[test]
        fn a_box_behind_is_flagged_by_the_first_quick_command(
            behind in (SKEW_LIMIT_MS + 1)..3_600_000i64,
            queued in prop::collection::vec(0i64..3_600_000, 0..20),
        ) {
            let mut c = ClockState::default();
            let mut raised = 0;
            for (i, d) in queued.iter().enumerate() {
                // The remote clock is `behind` ahead of the box; the command waited `d`.
                let now = NOW + i as i64;
                if let Some(SkewChange::Raised(_)) = c.sample(now, now + behind - d, None) {
                    raised += 1;
                }
            }
            let now = NOW + 100;
            if let Some(SkewChange::Raised(_)) = c.sample(now, now + behind, None) {
                raised += 1;
            }
            prop_assert_eq!(raised, 1);
            prop_assert!(c.skew_ms().is_some_and(|s| s <= -behind + 100 && s < -SKEW_LIMIT_MS));
        }
    }
}
