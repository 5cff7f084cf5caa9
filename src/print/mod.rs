//! Printing: the [`Printing`] handle through which documents are queued, reprinted and
//! refused, over print jobs persisted in the journal's database (trees `print.*`) and one
//! queue task per printer.
//!
//! # Design constraints
//! - States: `queued -> sending -> sent | written | confirmed | failed`, or `expired`. A job
//!   is recorded `sending` durably *before* its first byte leaves; from then on it is never
//!   sent again automatically (no double labels). A job found `sending` at start-up was
//!   interrupted by a crash and becomes `failed` ("reprint if needed"). Reprinting is an
//!   explicit new job.
//! - Before sending, the printer's status is read: not ready (paper out, cover open,
//!   offline) keeps the job `queued`, raises the device state and retries with backoff.
//! - Queued jobs expire after the TTL. One queue per printer: a dead printer blocks only
//!   its own jobs.
//! - Every state change is journaled (`print.queued`, `print.confirmed`, ...), in the same
//!   commit as the change. A station label or slip is queued in the commit of the input that
//!   asked for it ([`Printing::queue_in_commit`]).
//!
//! # Files
//! - `job.rs`: the job record and its rules (`apply(outcome, now)`, `expired(now)`); pure.
//! - `store.rs`: the [`JobStore`], the typed view over the journal's `print.*` trees.
//! - `printers.rs`: the config's printers as [`ConfiguredPrinter`]s.
//! - `error.rs`: [`PrintError`], print's own errors.
//! - `render.rs`: which printer a document goes to and its bytes ([`PreparedJob`]); pure.
//! - `queue.rs`: the per-printer loop and the pruning task.

mod error;
mod job;
mod printers;
mod queue;
mod render;
mod store;

use std::collections::HashMap;
use std::sync::Arc;

use stationd_drivers::printer::{PrinterLink, PrinterSpec};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

pub use error::PrintError;
pub use job::{Applied, Job, JobState, Printout, JOB_TTL};
pub use printers::{printers_from_config, ConfiguredPrinter};
pub use render::PreparedJob;
pub use store::{JobStore, FINISHED_JOBS_KEPT};

use crate::devices::DeviceStates;
use crate::event::{Event, NewEvent, PrintFailed, PrintJob, PrintRefused};
use crate::journal::{Journal, StateChanges};
use crate::orders::StoredOrder;

/// Queues and printer tasks.
#[derive(Clone)]
pub struct Printing {
    store: JobStore,
    journal: Journal,
    wake: Arc<HashMap<String, Arc<Notify>>>,
    printers: Arc<Vec<ConfiguredPrinter>>,
    station: String,
    /// Who is logged in: print events carry their `operator` (the workflow keeps it current).
    on_duty: crate::event::OnDuty,
    /// Where finished jobs are reported (the workflow: a confirmed label labels the order).
    outcomes: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
}

impl Printing {
    /// Opens the store, fails jobs a crash interrupted mid-send, starts one task per printer.
    pub fn start(
        journal: Journal,
        printers: Vec<ConfiguredPrinter>,
        devices: Option<DeviceStates>,
        station: String,
        outcomes: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
        shutdown: CancellationToken,
    ) -> Result<Printing, PrintError> {
        let store = JobStore::open(&journal)?;
        for p in &printers {
            if let PrinterLink::Folder { path } = &p.spec.link {
                std::fs::create_dir_all(path).map_err(|source| PrintError::Folder {
                    printer: p.spec.name.clone(),
                    path: path.clone(),
                    source,
                })?;
            }
        }
        let now = time::OffsetDateTime::now_utc();
        for mut job in store.all() {
            if !job.interrupted(now) {
                continue;
            }
            warn!(job = %job.id, printer = %job.printer, "print job was interrupted while sending; it may have printed, so it is not resent (reprint if needed)");
            store.put(&job, None)?;
            if let Some(tx) = &outcomes {
                let _ = tx.send(job.clone());
            }
        }
        let mut wake = HashMap::new();
        for p in &printers {
            wake.insert(p.spec.name.clone(), Arc::new(Notify::new()));
        }
        let specs: Vec<PrinterSpec> = printers.iter().map(|p| p.spec.clone()).collect();
        let printing = Printing {
            store,
            journal,
            wake: Arc::new(wake),
            printers: Arc::new(printers),
            station,
            on_duty: crate::event::OnDuty::default(),
            outcomes,
        };
        for spec in specs {
            let p = printing.clone();
            let devices = devices.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { p.printer_task(spec, devices, shutdown).await });
        }
        queue::spawn_pruning(printing.store.clone(), shutdown);
        Ok(printing)
    }

    /// Picks the printer and renders the bytes of `document` (a `print` command, a label or
    /// slip of the station's own).
    pub fn prepare(
        &self,
        printer: Option<&str>,
        document: Printout,
        order: Option<&StoredOrder>,
    ) -> Result<PreparedJob, PrintError> {
        render::prepare(&self.printers, &self.station, printer, document, order)
    }

    /// Puts a carrier's label fetched from the order system (checked to only draw) into `job`,
    /// as its printer gets it ([`render::carrier_label`]).
    pub fn use_carrier_label(&self, job: &mut PreparedJob, zpl: &[u8]) {
        job.bytes = match self.printers.iter().find(|p| p.spec.name == job.printer) {
            Some(p) => render::carrier_label(p, zpl),
            None => zpl.to_vec(),
        };
    }

    /// The handle print events read their `operator` from; the workflow keeps it current.
    pub fn on_duty(&self) -> crate::event::OnDuty {
        self.on_duty.clone()
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    pub fn has_printer(&self, name: &str) -> bool {
        self.wake.contains_key(name)
    }

    /// Queues a prepared job; fields printed without a font for them are logged and named
    /// in its `print.queued` event (`detail`).
    pub async fn submit_prepared(&self, job: PreparedJob) -> Result<Job, PrintError> {
        let detail = missing_glyphs_detail(&job);
        self.queue(job, None, detail).await
    }

    /// A prepared job to be queued by the commit of the input that asked for it: the job, its
    /// `print.queued` event and the writes that store it. Once that commit is durable, hand the
    /// job to [`Printing::queued_in_commit`]; if it is refused, drop all of it.
    pub fn queue_in_commit(&self, prepared: PreparedJob) -> Result<(Job, NewEvent, StateChanges), PrintError> {
        let detail = missing_glyphs_detail(&prepared);
        let (job, bytes) = self.new_job(prepared, None, detail)?;
        let changes = JobStore::creation(&job, &bytes)?;
        let event = self.queued_event(&job);
        Ok((job, event, changes))
    }

    /// A job queued by an input's commit (see [`Printing::queue_in_commit`]) is durable: its
    /// printer takes it.
    pub fn queued_in_commit(&self, job: &Job) {
        self.store.created(job);
        if let Some(wake) = self.wake.get(&job.printer) {
            wake.notify_one();
        }
    }

    /// A document that could not be made (no valid label for the order): `print.failed`
    /// with the reason, nothing queued.
    pub async fn refused(&self, document: Printout, order: Option<String>, reason: &str) {
        let data = PrintRefused { job: (), document, detail: reason.to_string(), clock: None };
        let mut ev = NewEvent::new(Event::PrintFailed(PrintFailed::NotQueued(data)));
        ev.order = order;
        ev.operator = self.on_duty.badge();
        if let Err(e) = self.journal.append(ev).await {
            error!(error = %e, "could not journal a print event");
        }
    }

    /// A new `queued` job for `prepared` on a printer that exists, and its bytes.
    fn new_job(
        &self,
        prepared: PreparedJob,
        reprint_of: Option<String>,
        detail: Option<String>,
    ) -> Result<(Job, Vec<u8>), PrintError> {
        let PreparedJob { printer, document, order, bytes, .. } = prepared;
        if !self.wake.contains_key(&printer) {
            return Err(PrintError::UnknownPrinter { name: printer });
        }
        let id = uuid::Uuid::now_v7().to_string();
        let job = Job::queued(id, &printer, document, order, reprint_of, detail, time::OffsetDateTime::now_utc());
        Ok((job, bytes))
    }

    /// Stores the job durably as `queued` with its `print.queued` event (one commit) and
    /// wakes its printer.
    async fn queue(
        &self,
        prepared: PreparedJob,
        reprint_of: Option<String>,
        detail: Option<String>,
    ) -> Result<Job, PrintError> {
        let (job, bytes) = self.new_job(prepared, reprint_of, detail)?;
        let store = self.store.clone();
        let (j, event) = (job.clone(), self.queued_event(&job));
        tokio::task::spawn_blocking(move || store.create(&j, &bytes, event))
            .await
            .map_err(PrintError::storage("queue a job"))??;
        if let Some(wake) = self.wake.get(&job.printer) {
            wake.notify_one();
        }
        Ok(job)
    }

    /// An explicit reprint of an earlier job: a new job with the same bytes.
    pub async fn reprint(&self, id: &str) -> Result<Job, PrintError> {
        let old = self.store.get(id)?.ok_or_else(|| PrintError::UnknownJob { id: id.to_string() })?;
        let bytes = self.store.bytes(id)?.ok_or_else(|| PrintError::NoData { id: id.to_string() })?;
        let again = PreparedJob {
            printer: old.printer,
            document: old.document,
            order: old.order,
            bytes,
            missing_glyphs: Vec::new(),
        };
        self.queue(again, Some(old.id), None).await
    }

    /// The event that reports the state a job changed to (`print.queued` for `queued`, ...),
    /// with the operator on duty; none for `sending`, which is not reported.
    fn job_event(&self, job: &Job) -> Option<NewEvent> {
        let data = job_data(job);
        let event = match job.state {
            JobState::Queued => Event::PrintQueued(data),
            JobState::Sending => return None,
            JobState::Sent => Event::PrintSent(data),
            JobState::Written => Event::PrintWritten(data),
            JobState::Confirmed => Event::PrintConfirmed(data),
            JobState::Failed => Event::PrintFailed(PrintFailed::Job(data)),
            JobState::Expired => Event::PrintExpired(data),
        };
        Some(self.on_duty_event(event, job))
    }

    /// `print.queued` for a job just made.
    fn queued_event(&self, job: &Job) -> NewEvent {
        self.on_duty_event(Event::PrintQueued(job_data(job)), job)
    }

    fn on_duty_event(&self, event: Event, job: &Job) -> NewEvent {
        NewEvent { event, order: job.order.clone(), operator: self.on_duty.badge() }
    }

    /// Hands a finished job to whoever listens for outcomes (the workflow).
    fn report(&self, job: &Job) {
        if let Some(tx) = &self.outcomes {
            let _ = tx.send(job.clone());
        }
    }
}

/// The `detail` of a job whose order fields print without a font for some characters (and a
/// warning in the log), or none.
fn missing_glyphs_detail(job: &PreparedJob) -> Option<String> {
    (!job.missing_glyphs.is_empty()).then(|| {
        let fields = job.missing_glyphs.join(", ");
        warn!(printer = %job.printer, order = ?job.order, %fields, "characters the printer has no font for print as '?'; set `font` on the printer");
        format!("no font on printer {:?} for some characters of {fields} (printed as '?'); set `font` (a resident Unicode font) on the printer", job.printer)
    })
}

/// What a job's `print.*` event says of it.
fn job_data(job: &Job) -> PrintJob {
    PrintJob {
        job: job.id.clone(),
        printer: job.printer.clone(),
        document: job.document,
        attempts: job.attempts,
        detail: job.detail.clone(),
        reprint_of: job.reprint_of.clone(),
        clock: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stationd_drivers::label::LabelSpec;
    use stationd_drivers::printer::Language;
    use stationd_drivers::slip::SlipSpec;

    use super::*;
    use crate::journal::JournalOptions;
    use crate::station::Document;
    use std::path::Path;

    fn folder_printer(dir: &Path) -> ConfiguredPrinter {
        ConfiguredPrinter {
            spec: PrinterSpec {
                name: "label".into(),
                link: PrinterLink::Folder { path: dir.join("out") },
                language: Language::Zpl,
                status_timeout: Duration::from_millis(200),
            },
            document: Document::Label,
            template: None,
            label: LabelSpec::default(),
            slip: SlipSpec::default(),
        }
    }

    /// Printing with one folder printer (`label`, ZPL) writing to `<dir>/out`.
    async fn start(dir: &Path) -> (Printing, CancellationToken) {
        let d = dir.to_path_buf();
        let (journal, _) = tokio::task::spawn_blocking(move || Journal::open(JournalOptions::new(d, "WH1", "T")))
            .await
            .unwrap()
            .unwrap();
        let stop = CancellationToken::new();
        let printer = folder_printer(dir);
        let stop2 = stop.clone();
        let p = tokio::task::spawn_blocking(move || {
            Printing::start(journal, vec![printer], None, "WH1/T".into(), None, stop2).unwrap()
        })
        .await
        .unwrap();
        (p, stop)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_interrupted_while_sending_is_failed_at_start_and_never_resent() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("out")).unwrap();
        let d = tmp.path().to_path_buf();
        let j = tokio::task::spawn_blocking(move || Journal::open(JournalOptions::new(d, "WH1", "T")).unwrap().0)
            .await
            .unwrap();
        let store = JobStore::open(&j).unwrap();
        let mut crashed = Job::queued(
            "j-crashed".into(),
            "label",
            Printout::TestPage,
            None,
            None,
            None,
            time::OffsetDateTime::now_utc(),
        );
        crashed.start_sending(time::OffsetDateTime::now_utc());
        tokio::task::spawn_blocking(move || {
            store.create(&crashed, b"^XA^XZ", NewEvent::new(Event::PrintQueued(job_data(&crashed)))).unwrap();
            drop(store);
            j.close();
        })
        .await
        .unwrap();
        let (p, stop) = start(tmp.path()).await;
        let j = p.store().get("j-crashed").unwrap().unwrap();
        assert_eq!(j.state, JobState::Failed);
        assert!(j.detail.unwrap().contains("reprint if it did not print"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!tmp.path().join("out/j-crashed.zpl").exists(), "not sent again");
        // An explicit reprint is a new job that prints.
        let again = p.reprint("j-crashed").await.unwrap();
        assert_eq!(again.reprint_of.as_deref(), Some("j-crashed"));
        for _ in 0..100 {
            if p.store().get(&again.id).unwrap().unwrap().state == JobState::Confirmed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(tmp.path().join(format!("out/{}.zpl", again.id)).exists());
        stop.cancel();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_print_for_a_printer_that_is_not_configured_is_refused_as_unknown_printer_not_as_a_journal_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let (p, stop) = start(tmp.path()).await;
        let job = PreparedJob {
            printer: "nope".into(),
            document: Printout::TestPage,
            order: None,
            bytes: b"^XA^XZ".to_vec(),
            missing_glyphs: Vec::new(),
        };
        let e = p.submit_prepared(job).await.unwrap_err();
        assert!(matches!(&e, PrintError::UnknownPrinter { name } if name == "nope"), "{e:?}");
        assert_eq!(e.code().as_str(), "unknown_printer");
        let msg = e.to_string();
        assert!(msg.contains("no printer named \"nope\"") && msg.contains("[[printers]]"), "{msg}");
        assert!(!msg.contains("journal"), "a missing printer is not a journal failure: {msg}");

        let e = p.prepare(Some("nope"), Printout::TestPage, None).unwrap_err();
        assert!(matches!(&e, PrintError::UnknownPrinter { name } if name == "nope"), "{e:?}");
        let e = p.reprint("no-such-job").await.unwrap_err();
        assert!(matches!(&e, PrintError::UnknownJob { id } if id == "no-such-job"), "{e:?}");
        assert!(p.store().all().is_empty(), "nothing queued");
        stop.cancel();
    }
}
