//! The tasks behind the queues: one per printer (status before, send, status after) and
//! the hourly pruning of finished jobs. The job rules are [`Job`]'s; the wall clock is read
//! here, at the edge, and handed to them.
//!
//! A printer's loop: take its oldest queued job; give it up if past its TTL; record it
//! `sending` durably; send; record the outcome. A printer that is not ready keeps the job
//! queued and is retried with backoff (200 ms doubling to 5 s), reading only its status until
//! it can print (the job is not `sending` while it waits); an idle printer's status is
//! read every [`IDLE_POLL`] so a paper-out printer shows before the next job needs it. The
//! printer's state goes to the device states once per change.

use std::time::Duration;

use stationd_drivers::printer::{self, PrinterSpec};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::error::PrintError;
use super::job::Job;
use super::store::{JobStore, FINISHED_JOBS_KEPT};
use super::Printing;
use crate::devices::DeviceStates;

/// How often an idle printer's status is read.
const IDLE_POLL: Duration = Duration::from_secs(10);
/// How often finished jobs past [`FINISHED_JOBS_KEPT`] are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A printer's state as last reported: logs and reports a state only when it changes.
struct PrinterState {
    name: String,
    devices: Option<DeviceStates>,
    last: String,
}

impl PrinterState {
    fn report(&mut self, state: &str, detail: Option<&str>) {
        if state == self.last {
            return;
        }
        if state == "ready" {
            info!(printer = %self.name, "printer ready");
        } else {
            warn!(printer = %self.name, %state, detail = detail.unwrap_or(""), "printer cannot print");
        }
        if let Some(d) = &self.devices {
            d.report(&self.name, crate::devices::DeviceKind::Printer, state, detail);
        }
        self.last = state.to_string();
    }
}

impl Printing {
    /// Stores the job as it is now with the event that reports the change (one commit); the
    /// committer thread writes and syncs it while this task waits.
    async fn save(&self, job: &Job, announce: bool) -> Result<(), PrintError> {
        let event = if announce { self.job_event(job) } else { None };
        self.store.put_async(job, event).await
    }

    /// One printer's loop, until `shutdown`.
    pub(super) async fn printer_task(
        self,
        spec: PrinterSpec,
        devices: Option<DeviceStates>,
        shutdown: CancellationToken,
    ) {
        let wake = self.wake.get(&spec.name).cloned().expect("printer registered");
        let mut state = PrinterState { name: spec.name.clone(), devices, last: String::new() };
        let mut delay = Duration::from_millis(200);
        let mut idle_poll = tokio::time::Instant::now();
        // The last attempt found the printer unable to print (paper out, offline, ...): until
        // its status says it can, the job waits `queued`, not `sending`, so a crash while it
        // waits leaves a job that was never sent, resumed after the restart.
        let mut held = false;
        loop {
            let next = self.store.next_queued(&spec.name).ok().flatten();
            let Some(mut job) = next else {
                // Idle: watch the printer anyway, so an unplugged or paper-out printer shows
                // before the next job needs it.
                if tokio::time::Instant::now() >= idle_poll {
                    let status = printer::status(&spec).await;
                    state.report(status.state(), None);
                    idle_poll = tokio::time::Instant::now() + IDLE_POLL;
                }
                tokio::select! {
                    _ = wake.notified() => continue,
                    _ = tokio::time::sleep_until(idle_poll) => continue,
                    _ = shutdown.cancelled() => return,
                }
            };
            if job.expire(now()) {
                if let Err(e) = self.save(&job, true).await {
                    error!(job = %job.id, error = %e, "cannot record the job as expired");
                }
                self.report(&job);
                continue;
            }
            let Some(bytes) = self.store.bytes(&job.id).ok().flatten() else {
                job.fail("job data missing", now());
                let _ = self.save(&job, true).await;
                continue;
            };
            if held {
                let status = printer::status(&spec).await;
                state.report(status.state(), None);
                if !status.is_ready() {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = wake.notified() => {}
                        _ = shutdown.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
                held = false;
            }
            // Durably `sending` before the first byte: after this, no automatic resend.
            if !job.start_sending(now()) {
                // Listed as queued but not a queued job: saving it takes it off the list.
                warn!(job = %job.id, state = job.state.as_str(), "a job that is not queued was listed as queued");
                let _ = self.save(&job, false).await;
                continue;
            }
            // The printer's status is read while the `sending` mark is committed; no byte of
            // the job goes out before the mark is durable.
            let marked = async {
                let saved = self.save(&job, false).await;
                if let Err(e) = &saved {
                    error!(job = %job.id, error = %e, "cannot record the job as sending; not sending it");
                }
                saved.is_ok()
            };
            let Some(outcome) = printer::send_once_cleared(&spec, &job.id, &bytes, marked).await else {
                tokio::time::sleep(delay).await;
                continue;
            };
            let applied = job.apply(outcome, now()).expect("the job was just recorded as sending");
            state.report(applied.device, job.detail.as_deref());
            // The outcome and its event (`print.confirmed`, ...) in one commit.
            if let Err(e) = self.save(&job, applied.event.is_some()).await {
                error!(job = %job.id, error = %e, "cannot record the job's outcome");
            }
            match applied.event {
                None => {
                    held = true;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Some(kind) => {
                    delay = Duration::from_millis(200);
                    info!(job = %job.id, printer = %spec.name, state = job.state.as_str(), kind, "print job done");
                    self.report(&job);
                }
            }
        }
    }
}

/// Drops finished jobs past [`FINISHED_JOBS_KEPT`] every [`PRUNE_EVERY`] (opening the store
/// pruned once already), so a box that runs for months stays small.
pub(super) fn spawn_pruning(store: JobStore, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + PRUNE_EVERY, PRUNE_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.prune(FINISHED_JOBS_KEPT)).await {
                Ok(Err(e)) => warn!(error = %e, "dropping old print jobs failed"),
                Err(e) => warn!(error = %e, "print job pruning task failed"),
                Ok(Ok(_)) => {}
            }
        }
    });
}
