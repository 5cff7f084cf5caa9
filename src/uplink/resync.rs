//! The seqs `resync` commands asked for and not re-published yet, without I/O.
//!
//! # Design constraints
//! - **Merged**: the queue is a set of disjoint seq ranges, so overlapping requests cost one
//!   pass over the journal, not one each: twenty `resync from=1` of a 100 000-event journal
//!   send each event again once per pass, not twenty times.
//! - **One pass serves them all**: the pass goes up from a cursor and wraps around once it
//!   reaches the end, like an elevator. A request that arrives mid-pass and covers seqs the
//!   pass already went by is served when it wraps, so every asked-for seq goes out within one
//!   pass of the union, however many requests overlap it.
//! - **Live first**: the session (`session.rs`, `Flight::fill`) hands new events over before
//!   anything from here and only fills the window's remaining room with resends, so a live
//!   event waits at most for one window of resends to be acknowledged, never for a pass.

use std::collections::BTreeMap;

/// Seq ranges still to re-publish (inclusive, disjoint, not adjacent), and where the pass is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct ResyncQueue {
    /// `from → to`, inclusive.
    ranges: BTreeMap<u64, u64>,
    /// The next seq the pass re-publishes (it wraps to the lowest range after the last).
    cursor: u64,
}

impl ResyncQueue {
    /// Whether nothing is left to re-publish.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Seqs left to re-publish.
    #[cfg(test)]
    pub(super) fn len(&self) -> u64 {
        self.ranges.iter().map(|(f, t)| t - f + 1).sum()
    }

    /// A `resync` of `from..=to` was accepted: merged with what is queued already.
    pub(super) fn add(&mut self, from: u64, to: u64) {
        if from > to {
            return;
        }
        let (mut from, mut to) = (from, to);
        // Every queued range that overlaps or touches `from..=to` is folded into it.
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=to.saturating_add(1))
            .rev()
            .take_while(|(_, &t)| t.saturating_add(1) >= from)
            .map(|(&f, &t)| (f, t))
            .collect();
        for (f, t) in touching {
            self.ranges.remove(&f);
            from = from.min(f);
            to = to.max(t);
        }
        self.ranges.insert(from, to);
    }

    /// The span the pass continues with: from the cursor (or the start of the next range
    /// after it, wrapping to the lowest) to the end of that range. `None` when empty.
    pub(super) fn next_span(&self) -> Option<(u64, u64)> {
        // The range holding the cursor, else the first one after it, else the lowest.
        if let Some((&f, &t)) = self.ranges.range(..=self.cursor).next_back() {
            if t >= self.cursor {
                return Some((self.cursor.max(f), t));
            }
        }
        let (&f, &t) = self.ranges.range(self.cursor..).next().or_else(|| self.ranges.iter().next())?;
        Some((f, t))
    }

    /// Seqs `from..=through` were handed over (or are no longer in the journal): taken out
    /// of the queue, and the pass continues after `through`.
    pub(super) fn done(&mut self, from: u64, through: u64) {
        if from > through {
            return;
        }
        let overlapping: Vec<(u64, u64)> =
            self.ranges.range(..=through).rev().take_while(|(_, &t)| t >= from).map(|(&f, &t)| (f, t)).collect();
        for (f, t) in overlapping {
            self.ranges.remove(&f);
            if f < from {
                self.ranges.insert(f, from - 1);
            }
            if t > through {
                self.ranges.insert(through + 1, t);
            }
        }
        self.cursor = through.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Drains the queue `room` seqs at a time, as the session does with an empty journal
    /// gap-free from 1: the seqs in the order they were handed over.
    fn drain(q: &mut ResyncQueue, room: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some((from, to)) = q.next_span() {
            let through = to.min(from + room - 1);
            out.extend(from..=through);
            q.done(from, through);
        }
        out
    }

    #[test]
    fn twenty_overlapping_whole_journal_resyncs_are_one_pass() {
        let mut q = ResyncQueue::default();
        for _ in 0..20 {
            q.add(1, 100_000);
        }
        assert_eq!(q.len(), 100_000);
        assert_eq!(drain(&mut q, 100).len(), 100_000);
    }

    #[test]
    fn a_request_mid_pass_is_served_when_the_pass_wraps_around() {
        let mut q = ResyncQueue::default();
        q.add(1, 10);
        q.done(1, 4);
        q.add(1, 10);
        assert_eq!(q.next_span(), Some((5, 10)), "the pass goes on where it was");
        assert_eq!(drain(&mut q, 3), vec![5, 6, 7, 8, 9, 10, 1, 2, 3, 4]);
        assert!(q.is_empty());
    }

    #[test]
    fn touching_ranges_merge_and_disjoint_ones_stay_apart() {
        let mut q = ResyncQueue::default();
        q.add(5, 6);
        q.add(1, 2);
        q.add(3, 4);
        q.add(10, 12);
        assert_eq!(q.ranges.iter().map(|(&f, &t)| (f, t)).collect::<Vec<_>>(), vec![(1, 6), (10, 12)]);
    }

    proptest! {
        /// Whatever requests arrive between spans: every seq asked for goes out after it was
        /// asked for, and a seq goes out again only if a request covering it came after it
        /// last went out (overlapping requests never send it twice).
        #[test]
        fn every_asked_for_seq_goes_out_once_per_request_after_it_left(
            ops in proptest::collection::vec(prop_oneof![
                (1u64..200, 0u64..60).prop_map(|(f, n)| (true, f, f + n)),
                (1u64..40, Just(0u64)).prop_map(|(room, _)| (false, room, 0)),
            ], 1..80),
        ) {
            let mut q = ResyncQueue::default();
            // Per seq: asked for since it last went out.
            let mut owed = std::collections::BTreeSet::new();
            fn step(q: &mut ResyncQueue, owed: &mut std::collections::BTreeSet<u64>, room: u64) -> Result<(), TestCaseError> {
                if let Some((from, to)) = q.next_span() {
                    let through = to.min(from + room - 1);
                    for s in from..=through {
                        prop_assert!(owed.remove(&s), "seq {} sent without a request since it last went out", s);
                    }
                    q.done(from, through);
                }
                Ok(())
            }
            for (add, a, b) in ops {
                if add {
                    q.add(a, b);
                    owed.extend(a..=b);
                } else {
                    step(&mut q, &mut owed, a)?;
                }
                prop_assert_eq!(q.len(), owed.len() as u64, "the queue is exactly what is owed");
                let spans: Vec<_> = q.ranges.iter().map(|(&f, &t)| (f, t)).collect();
                for w in spans.windows(2) {
                    prop_assert!(w[0].1 + 1 < w[1].0, "ranges disjoint and merged: {:?}", spans);
                }
            }
            let mut guard = 0;
            while !q.is_empty() {
                step(&mut q, &mut owed, 7)?;
                guard += 1;
                prop_assert!(guard < 10_000);
            }
            prop_assert!(owed.is_empty(), "every asked-for seq went out: {:?}", owed);
        }

        /// A pass over the union sends each seq at most once, however the requests overlap,
        /// when they all arrive before it goes by.
        #[test]
        fn overlapping_requests_before_the_pass_send_each_seq_once(
            reqs in proptest::collection::vec((1u64..500, 0u64..300), 1..30),
            room in 1u64..120,
        ) {
            let mut q = ResyncQueue::default();
            let mut union = std::collections::BTreeSet::new();
            for (f, n) in reqs {
                q.add(f, f + n);
                union.extend(f..=f + n);
            }
            let sent = drain(&mut q, room);
            prop_assert_eq!(sent.len(), union.len());
            prop_assert_eq!(sent.into_iter().collect::<std::collections::BTreeSet<_>>(), union);
        }
    }
}
