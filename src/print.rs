//! Print jobs: persisted in sled (`<journal.path>/print`), one queue task per printer.
//!
//! # Design constraints
//! - States: `queued -> sending -> sent -> confirmed | failed | expired`. A job is marked
//!   `sending` durably *before* its first byte leaves; from then on it is never sent again
//!   automatically (no double labels). A job found `sending` at start-up was interrupted by a
//!   crash and becomes `failed` ("reprint if needed"). Reprinting is an explicit new job.
//! - Before sending, the printer's status is read: not ready (paper out, cover open,
//!   offline) keeps the job `queued`, raises the device state and retries with backoff.
//! - Queued jobs expire after the TTL. One queue per printer: a dead printer blocks only
//!   its own jobs.
//! - Every state change is journaled (`print.queued`, `print.confirmed`, ...).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use stationd_drivers::label::LabelSpec;
use stationd_drivers::printer::{self, Language, PrinterLink, PrinterSpec, SendOutcome};
use stationd_drivers::slip::SlipSpec;
use stationd_drivers::zpl::Template;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::PrinterRole;
use crate::documents::test_page;
use crate::event::{format_at, parse_at, NewEvent};
use crate::journal::store::{durable_sync, open_side_db, storage};
use crate::journal::{Journal, JournalError};
use crate::orders::StoredOrder;
use crate::uplink::DeviceStates;

/// How often an idle printer's status is read.
const IDLE_POLL: Duration = Duration::from_secs(10);

/// How long a queued job waits for its printer before it expires.
pub const JOB_TTL: Duration = Duration::from_secs(30 * 60);
/// Finished jobs (and their bytes) are kept this long for reprints and `/metrics`, then
/// dropped, so the job store does not grow with every label ever printed.
pub const FINISHED_JOBS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often finished jobs past [`FINISHED_JOBS_KEPT`] are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

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
    const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Sending,
        JobState::Sent,
        JobState::Written,
        JobState::Confirmed,
        JobState::Failed,
        JobState::Expired,
    ];

    /// Done with: nothing will happen to the job by itself any more.
    fn finished(self) -> bool {
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub printer: String,
    /// `label`, `slip`, `test`.
    pub document: String,
    pub order: Option<String>,
    pub state: JobState,
    pub created_at: String,
    pub updated_at: String,
    pub attempts: u32,
    pub detail: Option<String>,
    /// The job this one reprints, if any.
    pub reprint_of: Option<String>,
}

/// The persisted jobs and their bytes, plus an index of the queued ones (job id → printer)
/// so a printer finds its next job without reading the whole job history.
#[derive(Clone)]
pub struct JobStore {
    db: sled::Db,
    jobs: sled::Tree,
    data: sled::Tree,
    queued: sled::Tree,
    file: Arc<std::fs::File>,
    /// Jobs kept, by state (index in [`JobState::ALL`]): counted at open, then kept by `put`
    /// and `prune`, so `/metrics` does not read every job.
    counts: Arc<[std::sync::atomic::AtomicU64; 7]>,
}

impl JobStore {
    pub fn open(journal_dir: &Path) -> Result<JobStore, JournalError> {
        let (db, file) = open_side_db(
            &journal_dir.join("print"),
            2 * 1024 * 1024,
            "print job store",
            "jobs that were still queued must be printed again",
        )?;
        let jobs = db.open_tree("jobs").map_err(storage)?;
        let data = db.open_tree("data").map_err(storage)?;
        let queued = db.open_tree("queued").map_err(storage)?;
        let store = JobStore { db, jobs, data, queued, file: Arc::new(file), counts: Arc::default() };
        store.prune(FINISHED_JOBS_KEPT)?;
        // Rebuilt from the jobs once per start, so the index and counts never drift from them.
        store.queued.clear().map_err(storage)?;
        for job in store.all() {
            store.count(job.state, 1);
            if job.state == JobState::Queued {
                store.queued.insert(job.id.as_bytes(), job.printer.as_bytes()).map_err(storage)?;
            }
        }
        Ok(store)
    }

    fn count(&self, state: JobState, delta: i64) {
        let i = JobState::ALL.iter().position(|s| *s == state).expect("every state is in ALL");
        let _ = self.counts[i].fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| Some(n.saturating_add_signed(delta)),
        );
    }

    /// Jobs kept, by state (only states with jobs).
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        JobState::ALL
            .iter()
            .zip(self.counts.iter())
            .map(|(s, n)| (s.as_str(), n.load(std::sync::atomic::Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Drops finished jobs last changed more than `kept` ago, with their bytes.
    pub fn prune(&self, kept: Duration) -> Result<usize, JournalError> {
        let cutoff = time::OffsetDateTime::now_utc() - kept;
        let old: Vec<Job> = self
            .all()
            .into_iter()
            .filter(|j| j.state.finished() && parse_at(&j.updated_at).is_some_and(|t| t < cutoff))
            .collect();
        for job in &old {
            self.jobs.remove(job.id.as_bytes()).map_err(storage)?;
            self.data.remove(job.id.as_bytes()).map_err(storage)?;
            self.count(job.state, -1);
        }
        if !old.is_empty() {
            durable_sync(&self.db, &self.file)?;
            info!(dropped = old.len(), kept_days = kept.as_secs() / 86_400, "finished print jobs dropped");
        }
        Ok(old.len())
    }

    fn put(&self, job: &Job) -> Result<(), JournalError> {
        use sled::Transactional;
        let bytes = serde_json::to_vec(job).map_err(|e| JournalError::Storage(e.to_string()))?;
        let previous = (&self.jobs, &self.queued)
            .transaction(|(jobs, queued)| {
                let previous = jobs.insert(job.id.as_bytes(), bytes.as_slice())?;
                if job.state == JobState::Queued {
                    queued.insert(job.id.as_bytes(), job.printer.as_bytes())?;
                } else {
                    queued.remove(job.id.as_bytes())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(previous)
            })
            .map_err(|e| JournalError::Storage(format!("print job store transaction: {e:?}")))?;
        if let Some(old) = previous.and_then(|v| serde_json::from_slice::<Job>(&v).ok()) {
            self.count(old.state, -1);
        }
        self.count(job.state, 1);
        durable_sync(&self.db, &self.file)
    }

    /// The oldest queued job of `printer`.
    pub fn next_queued(&self, printer: &str) -> Result<Option<Job>, JournalError> {
        for kv in self.queued.iter() {
            let (id, p) = kv.map_err(storage)?;
            if p.as_ref() == printer.as_bytes() {
                return self.get(&String::from_utf8_lossy(&id));
            }
        }
        Ok(None)
    }

    pub fn get(&self, id: &str) -> Result<Option<Job>, JournalError> {
        match self.jobs.get(id.as_bytes()).map_err(storage)? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    pub fn bytes(&self, id: &str) -> Result<Option<Vec<u8>>, JournalError> {
        Ok(self.data.get(id.as_bytes()).map_err(storage)?.map(|v| v.to_vec()))
    }

    /// Every job, oldest first (ids are UUIDv7, so key order is creation order).
    pub fn all(&self) -> Vec<Job> {
        self.jobs.iter().values().flatten().filter_map(|v| serde_json::from_slice(&v).ok()).collect()
    }

    fn create(&self, job: &Job, bytes: &[u8]) -> Result<(), JournalError> {
        self.data.insert(job.id.as_bytes(), bytes).map_err(storage)?;
        self.put(job)
    }
}

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

/// A printer as configured: how to reach it and what it is for.
#[derive(Debug, Clone)]
pub struct ConfiguredPrinter {
    pub spec: PrinterSpec,
    pub role: PrinterRole,
    /// The printer's own label template, if configured (else the built-in label).
    pub template: Option<Arc<Template>>,
    /// Resolution and font of a label printer.
    pub label: LabelSpec,
    /// Code page and width of a slip printer.
    pub slip: SlipSpec,
}

/// A job ready to queue.
#[derive(Debug, Clone)]
pub struct PreparedJob {
    pub printer: String,
    pub document: String,
    pub order: Option<String>,
    pub bytes: Vec<u8>,
    /// Order fields printed without a font for some of their characters (`?` instead).
    pub missing_glyphs: Vec<&'static str>,
}

/// Builds printer specs from the config; kinds this build cannot drive are refused here.
pub fn printers_from_config(config: &crate::config::Config) -> Result<Vec<ConfiguredPrinter>, String> {
    use crate::config::{PrinterKind, PrinterLanguage};
    let mut out = Vec::new();
    for p in &config.printers {
        let link = match &p.kind {
            PrinterKind::Tcp { address } => PrinterLink::Tcp { address: address.clone() },
            PrinterKind::File { path } => {
                // A character device (/dev/usb/lp0) is written as is; anything else is a folder.
                use std::os::unix::fs::FileTypeExt;
                let is_device = std::fs::metadata(path).map(|m| m.file_type().is_char_device()).unwrap_or(false);
                if is_device {
                    PrinterLink::Device { path: path.clone() }
                } else {
                    std::fs::create_dir_all(path)
                        .map_err(|e| format!("printer {:?}: cannot create {}: {e}", p.name, path.display()))?;
                    PrinterLink::Folder { path: path.clone() }
                }
            }
            PrinterKind::Serial { path, baud } => PrinterLink::Serial { path: path.clone(), baud: *baud },
            PrinterKind::Usb { device } => PrinterLink::Usb {
                target: stationd_drivers::usb_printer::UsbTarget::parse(device)
                    .ok_or_else(|| format!("printer {:?}: {device:?} is not vid:pid[:serial]", p.name))?,
            },
        };
        let language = match p.language {
            PrinterLanguage::Zpl => Language::Zpl,
            PrinterLanguage::Escpos => Language::Escpos,
        };
        let template = match &p.template {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("printer {:?}: {}: {e}", p.name, path.display()))?;
                let t = Template::parse(&text).map_err(|e| format!("printer {:?}: {}: {e}", p.name, path.display()))?;
                Some(Arc::new(t))
            }
            None => None,
        };
        out.push(ConfiguredPrinter {
            spec: PrinterSpec { name: p.name.clone(), link, language, status_timeout: Duration::from_secs(2) },
            role: p.role,
            template,
            label: LabelSpec { dpi: p.dpi, font: p.font.clone() },
            slip: SlipSpec { codepage: p.codepage, columns: p.columns },
        });
    }
    Ok(out)
}

impl Printing {
    /// Opens the store, fails jobs a crash interrupted mid-send, starts one task per printer.
    pub fn start(
        journal_dir: &Path,
        journal: Journal,
        printers: Vec<ConfiguredPrinter>,
        devices: Option<DeviceStates>,
        station: String,
        outcomes: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
        shutdown: CancellationToken,
    ) -> Result<Printing, JournalError> {
        let store = JobStore::open(journal_dir)?;
        for p in &printers {
            if let PrinterLink::Folder { path } = &p.spec.link {
                std::fs::create_dir_all(path)
                    .map_err(|e| JournalError::access(path, "create the printer folder", e))?;
            }
        }
        for mut job in store.all().into_iter().filter(|j| j.state == JobState::Sending) {
            warn!(job = %job.id, printer = %job.printer, "print job was interrupted while sending; it may have printed, so it is not resent (reprint if needed)");
            job.state = JobState::Failed;
            job.detail = Some("interrupted while sending (crash or power loss); reprint if it did not print".into());
            job.updated_at = format_at(time::OffsetDateTime::now_utc());
            store.put(&job)?;
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
        let store = printing.store.clone();
        tokio::spawn(async move {
            // Opening pruned once; then hourly, so a box that runs for months stays small.
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
        Ok(printing)
    }

    /// Picks the printer and renders the bytes for a `print` command. Errors are
    /// `(code, message)` for the reply.
    pub fn prepare(
        &self,
        printer: Option<&str>,
        document: &str,
        order: Option<&StoredOrder>,
    ) -> Result<PreparedJob, (&'static str, String)> {
        let wanted = if document == "slip" { PrinterRole::Slip } else { PrinterRole::Label };
        let chosen = match printer {
            Some(name) => self.printers.iter().find(|p| p.spec.name == name),
            None => self.printers.iter().find(|p| p.role == wanted).or_else(|| self.printers.first()),
        };
        let Some(p) = chosen else {
            let msg = match printer {
                Some(n) => format!("no printer named {n:?} is configured"),
                None => "no printer is configured".to_string(),
            };
            return Err(("unknown_printer", msg));
        };
        let mut missing_glyphs = Vec::new();
        let bytes = match (document, p.spec.language) {
            ("test", lang) => test_page(lang, &self.station),
            ("label", Language::Zpl) => {
                let Some(o) = order else {
                    return Err(("missing_field", "a label needs `order`".into()));
                };
                match o.payload["label"]["data"].as_str() {
                    // Carrier ZPL goes through as it came once it is known to only draw (it
                    // was checked on the way in; checked again for orders stored before).
                    Some(data) if o.payload["label"]["format"] == "zpl" => {
                        stationd_drivers::carrier_zpl::check(data.as_bytes())
                            .map_err(|e| ("invalid_field", format!("carrier label of order {}: {e}", o.id)))?;
                        data.as_bytes().to_vec()
                    }
                    _ => {
                        let label = crate::documents::label(p.template.as_deref(), &p.label, o)
                            .map_err(|e| ("render_failed", e))?;
                        missing_glyphs = label.missing_glyphs;
                        label.bytes
                    }
                }
            }
            ("label", Language::Escpos) => {
                return Err((
                    "invalid_field",
                    format!("printer {:?} speaks ESC/POS; labels need a ZPL printer", p.spec.name),
                ));
            }
            ("slip", Language::Escpos) => {
                let Some(o) = order else {
                    return Err(("missing_field", "a packing slip needs `order`".into()));
                };
                crate::documents::slip(&p.slip, o, &self.station)
            }
            ("slip", Language::Zpl) => {
                return Err((
                    "invalid_field",
                    format!("printer {:?} speaks ZPL; packing slips need an ESC/POS printer", p.spec.name),
                ));
            }
            (other, _) => return Err(("invalid_field", format!("unknown document {other:?}"))),
        };
        Ok(PreparedJob {
            printer: p.spec.name.clone(),
            document: document.to_string(),
            order: order.map(|o| o.id.clone()),
            bytes,
            missing_glyphs,
        })
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

    /// Queues a job (durably) and wakes its printer.
    pub async fn submit(
        &self,
        printer: &str,
        document: &str,
        order: Option<String>,
        bytes: Vec<u8>,
        reprint_of: Option<String>,
    ) -> Result<Job, JournalError> {
        self.queue(printer, document, order, bytes, reprint_of, None).await
    }

    /// Queues a prepared job; fields printed without a font for them are logged and named
    /// in its `print.queued` event (`detail`).
    pub async fn submit_prepared(&self, job: PreparedJob) -> Result<Job, JournalError> {
        let detail = (!job.missing_glyphs.is_empty()).then(|| {
            let fields = job.missing_glyphs.join(", ");
            warn!(printer = %job.printer, order = ?job.order, %fields, "characters the printer has no font for print as '?'; set `font` on the printer");
            format!("no font on printer {:?} for some characters of {fields} (printed as '?'); set `font` (a resident Unicode font) on the printer", job.printer)
        });
        self.queue(&job.printer, &job.document, job.order, job.bytes, None, detail).await
    }

    /// A document that could not be made (no valid label for the order): `print.failed`
    /// with the reason, nothing queued.
    pub async fn refused(&self, document: &str, order: Option<String>, reason: &str) {
        let mut ev = NewEvent::new("print.failed", json!({ "job": null, "document": document, "detail": reason }));
        ev.order = order;
        ev.operator = self.on_duty.badge();
        if let Err(e) = self.journal.append(ev).await {
            error!(error = %e, "could not journal a print event");
        }
    }

    async fn queue(
        &self,
        printer: &str,
        document: &str,
        order: Option<String>,
        bytes: Vec<u8>,
        reprint_of: Option<String>,
        detail: Option<String>,
    ) -> Result<Job, JournalError> {
        let Some(wake) = self.wake.get(printer) else {
            return Err(JournalError::Storage(format!("no printer named {printer:?} is configured")));
        };
        let now = format_at(time::OffsetDateTime::now_utc());
        let job = Job {
            id: uuid::Uuid::now_v7().to_string(),
            printer: printer.to_string(),
            document: document.to_string(),
            order,
            state: JobState::Queued,
            created_at: now.clone(),
            updated_at: now,
            attempts: 0,
            detail,
            reprint_of,
        };
        let store = self.store.clone();
        let (j, b) = (job.clone(), bytes);
        tokio::task::spawn_blocking(move || store.create(&j, &b))
            .await
            .map_err(|e| JournalError::Storage(e.to_string()))??;
        self.event("print.queued", &job).await;
        wake.notify_one();
        Ok(job)
    }

    /// An explicit reprint of an earlier job: a new job with the same bytes.
    pub async fn reprint(&self, id: &str) -> Result<Job, JournalError> {
        let old = self.store.get(id)?.ok_or_else(|| JournalError::Storage(format!("no print job {id}")))?;
        let bytes =
            self.store.bytes(id)?.ok_or_else(|| JournalError::Storage(format!("print job {id} has no data")))?;
        self.submit(&old.printer, &old.document, old.order.clone(), bytes, Some(old.id)).await
    }

    async fn event(&self, kind: &str, job: &Job) {
        let mut data =
            json!({ "job": job.id, "printer": job.printer, "document": job.document, "attempts": job.attempts });
        // Absent, not null, when there is nothing to say (docs/asyncapi.yaml).
        if let Some(d) = &job.detail {
            data["detail"] = json!(d);
        }
        if let Some(r) = &job.reprint_of {
            data["reprint_of"] = json!(r);
        }
        let mut ev = NewEvent::new(kind, data);
        ev.order = job.order.clone();
        ev.operator = self.on_duty.badge();
        if let Err(e) = self.journal.append(ev).await {
            error!(job = %job.id, error = %e, "could not journal a print event");
        }
    }

    fn report(&self, job: &Job) {
        if let Some(tx) = &self.outcomes {
            let _ = tx.send(job.clone());
        }
    }

    async fn set(&self, job: &mut Job, state: JobState, detail: Option<String>) -> Result<(), JournalError> {
        job.state = state;
        job.detail = detail;
        job.updated_at = format_at(time::OffsetDateTime::now_utc());
        let store = self.store.clone();
        let j = job.clone();
        tokio::task::spawn_blocking(move || store.put(&j)).await.map_err(|e| JournalError::Storage(e.to_string()))?
    }

    async fn printer_task(self, spec: PrinterSpec, devices: Option<DeviceStates>, shutdown: CancellationToken) {
        let wake = self.wake.get(&spec.name).cloned().expect("printer registered");
        let mut last_state = String::new();
        let mut report = |state: &str, detail: Option<&str>| {
            if state == last_state {
                return;
            }
            if state == "ready" {
                info!(printer = %spec.name, "printer ready");
            } else {
                warn!(printer = %spec.name, %state, detail = detail.unwrap_or(""), "printer cannot print");
            }
            if let Some(d) = &devices {
                let at = format_at(time::OffsetDateTime::now_utc());
                let mut s = json!({ "kind": "printer", "state": state, "at": at });
                if let Some(detail) = detail {
                    s["detail"] = json!(detail);
                }
                d.device_state(&spec.name, s);
            }
            last_state = state.to_string();
        };
        let mut delay = Duration::from_millis(200);
        let mut idle_poll = tokio::time::Instant::now();
        loop {
            let next = self.store.next_queued(&spec.name).ok().flatten();
            let Some(mut job) = next else {
                // Idle: watch the printer anyway, so an unplugged or paper-out printer shows
                // before the next job needs it.
                if tokio::time::Instant::now() >= idle_poll {
                    let status = printer::status(&spec).await;
                    report(status.state(), None);
                    idle_poll = tokio::time::Instant::now() + IDLE_POLL;
                }
                tokio::select! {
                    _ = wake.notified() => continue,
                    _ = tokio::time::sleep_until(idle_poll) => continue,
                    _ = shutdown.cancelled() => return,
                }
            };
            if expired(&job) {
                let _ = self
                    .set(
                        &mut job,
                        JobState::Expired,
                        Some(format!("not printed within {} min", JOB_TTL.as_secs() / 60)),
                    )
                    .await;
                self.event("print.expired", &job).await;
                self.report(&job);
                continue;
            }
            let Some(bytes) = self.store.bytes(&job.id).ok().flatten() else {
                let _ = self.set(&mut job, JobState::Failed, Some("job data missing".into())).await;
                continue;
            };
            // Durably `sending` before the first byte: after this, no automatic resend.
            job.attempts += 1;
            if let Err(e) = self.set(&mut job, JobState::Sending, None).await {
                error!(job = %job.id, error = %e, "cannot record the job as sending; not sending it");
                tokio::time::sleep(delay).await;
                continue;
            }
            let outcome = printer::send(&spec, &job.id, &bytes).await;
            let (state, detail, kind, device) = match outcome {
                SendOutcome::Confirmed => (JobState::Confirmed, None, "print.confirmed", "ready".to_string()),
                SendOutcome::Sent { detail } => (JobState::Sent, Some(detail), "print.sent", "ready".to_string()),
                SendOutcome::Written { detail } => {
                    (JobState::Written, Some(detail), "print.written", "ready".to_string())
                }
                SendOutcome::Failed { detail } => (JobState::Failed, Some(detail), "print.failed", "error".to_string()),
                SendOutcome::NotSent { status, detail } => {
                    // Nothing left the station: the job may wait for the printer.
                    (JobState::Queued, Some(detail), "", status.state().to_string())
                }
            };
            report(&device, detail.as_deref());
            if let Err(e) = self.set(&mut job, state, detail).await {
                error!(job = %job.id, error = %e, "cannot record the job's outcome");
            }
            if kind.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            } else {
                delay = Duration::from_millis(200);
                info!(job = %job.id, printer = %spec.name, state = job.state.as_str(), "print job done");
                self.event(kind, &job).await;
                self.report(&job);
            }
        }
    }
}

fn expired(job: &Job) -> bool {
    parse_at(&job.created_at).is_some_and(|t| time::OffsetDateTime::now_utc() - t > JOB_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalOptions;

    fn job(id: &str, state: JobState, created_at: &str) -> Job {
        Job {
            id: id.into(),
            printer: "label".into(),
            document: "test".into(),
            order: None,
            state,
            created_at: created_at.into(),
            updated_at: created_at.into(),
            attempts: 1,
            detail: None,
            reprint_of: None,
        }
    }

    fn folder_printer(dir: &Path) -> ConfiguredPrinter {
        ConfiguredPrinter {
            spec: PrinterSpec {
                name: "label".into(),
                link: PrinterLink::Folder { path: dir.join("out") },
                language: Language::Zpl,
                status_timeout: Duration::from_millis(200),
            },
            role: PrinterRole::Label,
            template: None,
            label: LabelSpec::default(),
            slip: SlipSpec::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_interrupted_while_sending_is_failed_at_start_and_never_resent() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("out")).unwrap();
        let store = JobStore::open(tmp.path()).unwrap();
        let now = format_at(time::OffsetDateTime::now_utc());
        store.create(&job("j-crashed", JobState::Sending, &now), b"^XA^XZ").unwrap();
        drop(store);
        let dir = tmp.path().to_path_buf();
        let (journal, _) = tokio::task::spawn_blocking(move || Journal::open(JournalOptions::new(dir, "WH1", "T")))
            .await
            .unwrap()
            .unwrap();
        let stop = CancellationToken::new();
        let p = Printing::start(
            tmp.path(),
            journal,
            vec![folder_printer(tmp.path())],
            None,
            "WH1/T".into(),
            None,
            stop.clone(),
        )
        .unwrap();
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

    #[test]
    fn finished_jobs_are_dropped_after_a_week_and_counts_follow_every_change() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(tmp.path()).unwrap();
        let now = format_at(time::OffsetDateTime::now_utc());
        let old = format_at(time::OffsetDateTime::now_utc() - FINISHED_JOBS_KEPT - Duration::from_secs(60));
        store.create(&job("j-old-done", JobState::Confirmed, &old), b"^XA^XZ").unwrap();
        store.create(&job("j-old-failed", JobState::Failed, &old), b"^XA^XZ").unwrap();
        store.create(&job("j-old-queued", JobState::Queued, &old), b"^XA^XZ").unwrap();
        store.create(&job("j-new", JobState::Queued, &now), b"^XA^XZ").unwrap();
        assert_eq!(store.counts(), vec![("queued", 2), ("confirmed", 1), ("failed", 1)]);
        let mut j = store.get("j-new").unwrap().unwrap();
        j.state = JobState::Confirmed;
        store.put(&j).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 2), ("failed", 1)]);

        assert_eq!(store.prune(FINISHED_JOBS_KEPT).unwrap(), 2, "the two old finished jobs");
        assert!(store.get("j-old-done").unwrap().is_none() && store.bytes("j-old-done").unwrap().is_none());
        assert!(store.get("j-old-queued").unwrap().is_some(), "a queued job waits for its printer");
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
        drop(store);
        // Counted again from the jobs at the next start.
        let store = JobStore::open(tmp.path()).unwrap();
        assert_eq!(store.counts(), vec![("queued", 1), ("confirmed", 1)]);
    }

    #[test]
    fn an_expired_job_is_counted_and_the_store_opens_again() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(tmp.path()).unwrap();
        let now = format_at(time::OffsetDateTime::now_utc());
        store.create(&job("j-expired", JobState::Expired, &now), b"^XA^XZ").unwrap();
        assert_eq!(store.counts(), vec![("expired", 1)]);
        drop(store);
        assert_eq!(JobStore::open(tmp.path()).unwrap().counts(), vec![("expired", 1)]);
    }

    #[test]
    fn queued_jobs_expire_after_the_ttl() {
        let old = format_at(time::OffsetDateTime::now_utc() - JOB_TTL - Duration::from_secs(1));
        assert!(expired(&job("a", JobState::Queued, &old)));
        let fresh = format_at(time::OffsetDateTime::now_utc());
        assert!(!expired(&job("b", JobState::Queued, &fresh)));
    }
}
