//! A print job's record and its rules: the states it goes through and what a send outcome,
//! the TTL or a crash do to it. Pure: no I/O and no clock — every rule takes `now`.
//!
//! # Design constraints
//! - `queued -> sending -> sent | written | confirmed | failed`, or `queued -> expired`.
//!   Only a `queued` job is sent, and a job leaves `sending` for `queued` again only when
//!   nothing left the station ([`SendOutcome::NotSent`]); any other outcome is final, so
//!   bytes that may have reached a printer are never sent again automatically.
//! - A job found `sending` at start-up was interrupted by a crash: it becomes `failed`
//!   ("reprint if needed"). A reprint is an explicit new job.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stationd_drivers::printer::SendOutcome;
use time::OffsetDateTime;

use crate::event::{format_at, parse_at};

/// How long a queued job waits for its printer before it expires.
pub const JOB_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Sending,
    Sent,
    /// Written to a folder printer's file: no printer answered.
    Written,
    Confirmed,
    Failed,
    Expired,
}

impl JobState {
    pub(crate) const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Sending,
        JobState::Sent,
        JobState::Written,
        JobState::Confirmed,
        JobState::Failed,
        JobState::Expired,
    ];

    /// Done with: nothing will happen to the job by itself any more.
    pub fn finished(self) -> bool {
        matches!(self, JobState::Sent | JobState::Written | JobState::Confirmed | JobState::Failed | JobState::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Sending => "sending",
            JobState::Sent => "sent",
            JobState::Written => "written",
            JobState::Confirmed => "confirmed",
            JobState::Failed => "failed",
            JobState::Expired => "expired",
        }
    }
}

pub use crate::event::Printout;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub printer: String,
    pub document: Printout,
    pub order: Option<String>,
    pub state: JobState,
    pub created_at: String,
    pub updated_at: String,
    pub attempts: u32,
    pub detail: Option<String>,
    /// The job this one reprints, if any.
    pub reprint_of: Option<String>,
}

/// What applying a send outcome means beyond the job: the event to journal (none when the
/// job waits for its printer again) and the printer's state for the device topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `print.confirmed`, `print.sent`, `print.written`, `print.failed`; `None` for a job
    /// queued again.
    pub event: Option<&'static str>,
    /// `ready`, `error`, or the condition that kept the printer from printing.
    pub device: &'static str,
}

impl Job {
    /// A new queued job, created (and last changed) `now`.
    pub fn queued(
        id: String,
        printer: &str,
        document: Printout,
        order: Option<String>,
        reprint_of: Option<String>,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Job {
        let at = format_at(now);
        Job {
            id,
            printer: printer.to_string(),
            document,
            order,
            state: JobState::Queued,
            created_at: at.clone(),
            updated_at: at,
            attempts: 0,
            detail,
            reprint_of,
        }
    }

    /// A queued job that waited for its printer longer than [`JOB_TTL`].
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        parse_at(&self.created_at).is_some_and(|t| now - t > JOB_TTL)
    }

    /// A finished job last changed more than `kept` before `now`: it may be dropped.
    pub fn prunable(&self, now: OffsetDateTime, kept: Duration) -> bool {
        self.state.finished() && parse_at(&self.updated_at).is_some_and(|t| t < now - kept)
    }

    fn set(&mut self, state: JobState, detail: Option<String>, now: OffsetDateTime) {
        self.state = state;
        self.detail = detail;
        self.updated_at = format_at(now);
    }

    /// About to send: one more attempt, recorded (durably, by the caller) before the first
    /// byte. Only a queued job is sent; returns whether this one may be.
    pub fn start_sending(&mut self, now: OffsetDateTime) -> bool {
        if self.state != JobState::Queued {
            return false;
        }
        self.attempts += 1;
        self.set(JobState::Sending, None, now);
        true
    }

    /// The outcome of the send started by [`Job::start_sending`]. `None` (and the job
    /// unchanged) unless the job is `sending`.
    pub fn apply(&mut self, outcome: SendOutcome, now: OffsetDateTime) -> Option<Applied> {
        if self.state != JobState::Sending {
            return None;
        }
        let (state, detail, event, device) = match outcome {
            SendOutcome::Confirmed => (JobState::Confirmed, None, Some("print.confirmed"), "ready"),
            SendOutcome::Sent { detail } => (JobState::Sent, Some(detail), Some("print.sent"), "ready"),
            SendOutcome::Written { detail } => (JobState::Written, Some(detail), Some("print.written"), "ready"),
            SendOutcome::Failed { detail } => (JobState::Failed, Some(detail), Some("print.failed"), "error"),
            // Nothing left the station: the job may wait for the printer.
            SendOutcome::NotSent { status, detail } => (JobState::Queued, Some(detail), None, status.state()),
        };
        self.set(state, detail, now);
        Some(Applied { event, device })
    }

    /// A queued job past its TTL is given up. Returns whether it was.
    pub fn expire(&mut self, now: OffsetDateTime) -> bool {
        if self.state != JobState::Queued || !self.expired(now) {
            return false;
        }
        self.set(JobState::Expired, Some(format!("not printed within {} min", JOB_TTL.as_secs() / 60)), now);
        true
    }

    /// A job that cannot be sent at all (its bytes are gone): failed, nothing sent.
    pub fn fail(&mut self, detail: &str, now: OffsetDateTime) {
        self.set(JobState::Failed, Some(detail.to_string()), now);
    }

    /// A job found `sending` at start-up: a crash interrupted it, and it may have printed,
    /// so it fails instead of being sent again. Returns whether it was such a job.
    pub fn interrupted(&mut self, now: OffsetDateTime) -> bool {
        if self.state != JobState::Sending {
            return false;
        }
        self.set(
            JobState::Failed,
            Some("interrupted while sending (crash or power loss); reprint if it did not print".into()),
            now,
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use stationd_drivers::printer_status::{Condition, PrinterStatus};

    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn job(now: OffsetDateTime) -> Job {
        Job::queued(
            "j1".into(),
            "label",
            Printout::Order(crate::event::Document::Label),
            Some("o1".into()),
            None,
            None,
            now,
        )
    }

    fn not_sent() -> SendOutcome {
        SendOutcome::NotSent {
            status: PrinterStatus { conditions: vec![Condition::PaperOut] },
            detail: "paper out".into(),
        }
    }

    #[test]
    fn queued_jobs_expire_after_the_ttl() {
        let j = job(t0());
        assert!(!j.expired(t0() + JOB_TTL));
        assert!(j.expired(t0() + JOB_TTL + Duration::from_secs(1)));
    }

    #[test]
    fn an_expired_job_says_how_long_it_waited_and_a_fresh_one_is_left_alone() {
        let mut j = job(t0());
        assert!(!j.expire(t0() + Duration::from_secs(60)));
        assert_eq!(j.state, JobState::Queued);
        let later = t0() + JOB_TTL + Duration::from_secs(1);
        assert!(j.expire(later));
        assert_eq!(j.state, JobState::Expired);
        assert_eq!(j.detail.as_deref(), Some("not printed within 30 min"));
        assert_eq!(j.updated_at, format_at(later));
    }

    #[test]
    fn a_send_counts_an_attempt_and_its_outcome_names_the_event_and_the_printer_state() {
        let mut j = job(t0());
        assert!(j.start_sending(t0()));
        assert_eq!((j.state, j.attempts), (JobState::Sending, 1));
        let applied = j.apply(SendOutcome::Confirmed, t0() + Duration::from_secs(2)).unwrap();
        assert_eq!(applied, Applied { event: Some("print.confirmed"), device: "ready" });
        assert_eq!((j.state, j.detail.as_deref()), (JobState::Confirmed, None));

        let mut j = job(t0());
        j.start_sending(t0());
        let applied = j.apply(SendOutcome::Failed { detail: "link lost".into() }, t0()).unwrap();
        assert_eq!(applied, Applied { event: Some("print.failed"), device: "error" });
        assert_eq!((j.state, j.detail.as_deref()), (JobState::Failed, Some("link lost")));
    }

    #[test]
    fn a_job_nothing_was_sent_of_waits_queued_with_the_printer_condition() {
        let mut j = job(t0());
        j.start_sending(t0());
        let applied = j.apply(not_sent(), t0()).unwrap();
        assert_eq!(applied, Applied { event: None, device: "paper_out" });
        assert_eq!((j.state, j.attempts, j.detail.as_deref()), (JobState::Queued, 1, Some("paper out")));
    }

    #[test]
    fn a_job_interrupted_while_sending_fails_and_asks_for_a_reprint() {
        let mut j = job(t0());
        assert!(!j.interrupted(t0()), "a queued job was not interrupted");
        j.start_sending(t0());
        assert!(j.interrupted(t0()));
        assert_eq!(j.state, JobState::Failed);
        assert!(j.detail.unwrap().contains("reprint if it did not print"));
    }

    #[test]
    fn finished_jobs_are_prunable_after_the_time_kept_and_queued_ones_never() {
        let kept = Duration::from_secs(3600);
        let mut j = job(t0());
        assert!(!j.prunable(t0() + kept * 2, kept), "queued");
        j.start_sending(t0());
        j.apply(SendOutcome::Confirmed, t0());
        assert!(!j.prunable(t0() + kept, kept));
        assert!(j.prunable(t0() + kept + Duration::from_secs(1), kept));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Send,
        Outcome(SendOutcome),
        Expire(u64),
        Fail,
        Interrupted,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Send),
            Just(Step::Outcome(SendOutcome::Confirmed)),
            Just(Step::Outcome(SendOutcome::Sent { detail: "sent".into() })),
            Just(Step::Outcome(SendOutcome::Written { detail: "written".into() })),
            Just(Step::Outcome(SendOutcome::Failed { detail: "failed".into() })),
            Just(Step::Outcome(not_sent())),
            (0u64..4000).prop_map(Step::Expire),
            Just(Step::Fail),
            Just(Step::Interrupted),
        ]
    }

    proptest! {
        /// Once bytes may have left the station (a send outcome other than `NotSent`, or a
        /// crash mid-send), the job never gets back to a state it could be sent from.
        #[test]
        fn a_job_that_may_have_printed_is_never_sent_again(steps in proptest::collection::vec(step(), 0..40)) {
            let mut j = job(t0());
            let mut may_have_printed = false;
            let mut sends = 0;
            for s in steps {
                let before = j.state;
                match s {
                    Step::Send => {
                        if j.start_sending(t0()) {
                            sends += 1;
                            prop_assert!(!may_have_printed, "sent again after it may have printed");
                        }
                    }
                    Step::Outcome(o) => {
                        let bytes_left = !matches!(o, SendOutcome::NotSent { .. });
                        if j.apply(o, t0()).is_some() && bytes_left {
                            may_have_printed = true;
                        }
                    }
                    Step::Expire(s) => { j.expire(t0() + Duration::from_secs(s)); }
                    Step::Fail => {
                        // Only ever done to a queued job whose bytes are gone.
                        if j.state == JobState::Queued { j.fail("job data missing", t0()); }
                    }
                    Step::Interrupted => {
                        if j.interrupted(t0()) { may_have_printed = true; }
                    }
                }
                if before.finished() {
                    prop_assert_eq!(j.state, before, "a finished job does not change");
                }
                if may_have_printed {
                    prop_assert!(j.state.finished());
                }
            }
            prop_assert_eq!(j.attempts, sends);
        }
    }
}
