//! The edge around the pure station: one task feeds it inputs (scans, cloud order commands,
//! lookup answers, print outcomes, ticks) and performs its effects in order.
//!
//! Per input: its events and its order-store changes (orders, session, a command's request
//! id) go to the journal as one commit — one atomic write, one sync — then the packer gets
//! feedback and a cloud command its reply. Lookups and print jobs run in their own tasks and come back as inputs, so a
//! slow order system or printer never holds up the next scan.
//!
//! This task is the only writer of the order store.

use std::io::Write;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

use crate::event::{ClockSource, OnDuty};
use crate::journal::{Journal, JournalError};
use crate::locale::Locale;
use crate::oms::Oms;
use crate::orders::{OrderStore, SeenRequest};
use crate::print::{JobState, Printing, Printout};
use crate::service::Heartbeat;
use crate::station::{
    CloudOrder, Document, Effect, ErrorCode, Feedback, Input, NotRecorded, PrintOutcome, Reply, Say, Settings, Station,
    View,
};

/// Inputs slower than this are logged (debug) with where the time went.
const SLOW_INPUT: Duration = Duration::from_millis(5);

/// How often time is fed to the station (overdue levels, cache expiry).
const TICK: Duration = Duration::from_secs(1);

/// A cloud command on its way to the station (`Input::Cloud` or
/// `Input::CommandExecuted`), with where to send the reply.
pub struct CloudRequest {
    pub request_id: String,
    pub input: Input,
    /// The cloud's clock when it sent the command (`sent_at`), a clock sample.
    pub sent_at: Option<OffsetDateTime>,
    /// The command's digest (`uplink::commands::digest`), remembered with its request id.
    pub digest: Option<String>,
    pub reply: oneshot::Sender<Reply>,
}

/// How the uplink reaches the workflow.
#[derive(Clone)]
pub struct WorkflowHandle {
    cloud: mpsc::Sender<CloudRequest>,
    in_use: crate::service::InUse,
}

impl WorkflowHandle {
    /// When a packer last scanned.
    pub fn in_use(&self) -> &crate::service::InUse {
        &self.in_use
    }

    /// Hands an order command to the station and waits for its reply (`None` when the
    /// workflow has stopped).
    pub async fn command(
        &self,
        request_id: String,
        command: CloudOrder,
        sent_at: Option<OffsetDateTime>,
        digest: String,
    ) -> Option<Reply> {
        let input = Input::Cloud { request_id: request_id.clone(), command };
        self.send(request_id, input, sent_at, digest).await
    }

    /// A command the uplink carried out (`print`, `resync`): the station audits it and
    /// remembers `reply` with its request id (durably), then answers — `reply` itself, or a
    /// refusal when that could not be made durable.
    pub async fn executed(
        &self,
        request_id: String,
        command: &'static str,
        order: Option<String>,
        reply: Reply,
        sent_at: Option<OffsetDateTime>,
        digest: String,
    ) -> Option<Reply> {
        let input = Input::CommandExecuted { request_id: request_id.clone(), command, order, reply };
        self.send(request_id, input, sent_at, digest).await
    }

    async fn send(
        &self,
        request_id: String,
        input: Input,
        sent_at: Option<OffsetDateTime>,
        digest: String,
    ) -> Option<Reply> {
        let (tx, rx) = oneshot::channel();
        let digest = Some(digest);
        self.cloud.send(CloudRequest { request_id, input, sent_at, digest, reply: tx }).await.ok()?;
        rx.await.ok()
    }
}

/// Writes feedback lines for the packer to stdout (see README, "Feedback lines").
/// A line is written only after the events behind it are durable.
pub struct FeedbackOut;

impl FeedbackOut {
    /// One line for the packer's terminal; invisible and control characters in it (a
    /// scanned bidi override, order text) are shown escaped.
    pub fn line(&self, line: &str) {
        let line = stationd_drivers::framing::escape_invisible(line);
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take the daemon down; the journal has the event.
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
    }

    /// The packer's answer to an input ([`Feedback::line`]), its words in `locale`.
    pub fn feedback(&self, seq: u64, feedback: &Feedback, scanned: Option<&str>, locale: Locale) {
        self.line(&feedback.line(seq, scanned, locale));
    }

    pub fn error(&self, code: &str, message: &str) {
        self.line(&format!("error {code}: {message}"));
    }
}

/// What the workflow performs effects on: the journal, the order store, printers, the order
/// system, the screen, and the orders to cache first.
pub struct Edges {
    pub journal: Journal,
    pub orders: OrderStore,
    pub printing: Option<Printing>,
    pub oms: Option<Oms>,
    pub heartbeat: Heartbeat,
    pub view: watch::Sender<View>,
    /// Kept current with the session's operator after every input (the same handle as the
    /// print queue's and the [`WorkflowHandle`]'s).
    pub on_duty: OnDuty,
    /// Orders to cache before the first scan (`[orders] preload`).
    pub preload: Vec<crate::station::OrderPayload>,
}

/// Channels into the workflow: scans go in `scans`; the handle is for the uplink.
pub struct Channels {
    pub scans: mpsc::Receiver<Input>,
    pub cloud: mpsc::Receiver<CloudRequest>,
    /// Marked on every input from a scanner (shared with the [`WorkflowHandle`]).
    pub in_use: crate::service::InUse,
}

pub fn channels() -> (mpsc::Sender<Input>, WorkflowHandle, Channels) {
    let (scan_tx, scans) = mpsc::channel(256);
    let (cloud_tx, cloud) = mpsc::channel(64);
    let in_use = crate::service::InUse::default();
    (scan_tx, WorkflowHandle { cloud: cloud_tx, in_use: in_use.clone() }, Channels { scans, cloud, in_use })
}

/// Loads the station's orders and session from the store.
pub fn restore(settings: Settings, orders: &OrderStore) -> Result<Station, crate::orders::OrderStoreError> {
    let mut station = Station::new(settings);
    station.restore(orders.all()?, orders.session()?);
    station.start_sscc_at(orders.sscc_floor());
    Ok(station)
}

/// Runs the workflow on a thread of its own (with its own single-threaded runtime), so the
/// packer's feedback never queues behind the uplink draining a backlog on the shared
/// runtime. The receiver fires when it has stopped.
pub fn spawn_thread(
    parts: Edges,
    station: Station,
    ch: Channels,
    print_outcomes: Option<mpsc::UnboundedReceiver<crate::print::Job>>,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<oneshot::Receiver<()>> {
    let (done, stopped) = oneshot::channel();
    std::thread::Builder::new().name("workflow".into()).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(run(parts, station, ch, print_outcomes, stop)),
            Err(e) => error!(error = %e, "cannot start the workflow runtime"),
        }
        let _ = done.send(());
    })?;
    Ok(stopped)
}

/// Runs until every scanner has stopped (their senders dropped) after `stop`.
pub async fn run(
    mut parts: Edges,
    mut station: Station,
    mut ch: Channels,
    print_outcomes: Option<mpsc::UnboundedReceiver<crate::print::Job>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let (internal_tx, mut internal) = mpsc::unbounded_channel::<Input>();
    if let Some(mut rx) = print_outcomes {
        let tx = internal_tx.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Some(input) = print_input(&job) {
                    let _ = tx.send(input);
                }
            }
        });
    }
    let preload = std::mem::take(&mut parts.preload);
    let runner = Runner { parts, internal: internal_tx, out: FeedbackOut };
    // An operator restored with the session is on duty before the first input.
    runner.show(&station);
    if !preload.is_empty() {
        runner.perform(&mut station, Input::Preload(preload), None, None).await;
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Idle beats keep the systemd watchdog fed (any period ≥ 0.5 s).
    let mut beat = tokio::time::interval(Duration::from_millis(250));
    let mut cloud_open = true;
    loop {
        runner.parts.heartbeat.beat();
        // The digest of the cloud command being performed, remembered with its request id.
        let mut digest = None;
        let (input, reply) = tokio::select! {
            biased;
            i = ch.scans.recv() => match i {
                Some(i) => {
                    ch.in_use.scanned();
                    (i, None)
                }
                // After `stop` the scanners end; inputs already read were recorded.
                None => break,
            },
            Some(i) = internal.recv() => (i, None),
            c = ch.cloud.recv(), if cloud_open && !stop.is_cancelled() => match c {
                Some(c) => {
                    if let Some(t) = c.sent_at {
                        runner.perform(&mut station, Input::ClockSample { source: ClockSource::CloudCommand, remote: t, max_delay: None }, None, None).await;
                    }
                    digest = c.digest;
                    (c.input, Some((c.request_id, c.reply)))
                }
                None => { cloud_open = false; continue }
            },
            _ = tick.tick() => (Input::Tick, None),
            _ = beat.tick() => continue,
        };
        runner.perform(&mut station, input, reply, digest.take()).await;
    }
}

/// A finished print job the workflow cares about, as an input.
fn print_input(job: &crate::print::Job) -> Option<Input> {
    let order = job.order.clone()?;
    let Printout::Order(document) = job.document else { return None };
    let outcome = match job.state {
        JobState::Confirmed => PrintOutcome::Confirmed,
        JobState::Sent => PrintOutcome::Unconfirmed,
        JobState::Written => PrintOutcome::Written,
        JobState::Failed | JobState::Expired => {
            PrintOutcome::Failed(job.detail.clone().unwrap_or_else(|| job.state.as_str().to_string()))
        }
        JobState::Queued | JobState::Sending => return None,
    };
    Some(Input::Printed { order, document, outcome })
}

struct Runner {
    parts: Edges,
    internal: mpsc::UnboundedSender<Input>,
    out: FeedbackOut,
}

impl Runner {
    async fn perform(
        &self,
        station: &mut Station,
        input: Input,
        reply_to: Option<(String, oneshot::Sender<Reply>)>,
        digest: Option<String>,
    ) {
        let now = OffsetDateTime::now_utc();
        let started = std::time::Instant::now();
        let effects = station.handle(input, now);
        // SSCC serials this input used are covered by the durable floor before anything of
        // it is journaled, saved or printed.
        if let Err(e) = self.parts.orders.cover_sscc(station.sscc_next()) {
            error!(alert = e.code().as_str(), error = %e, "SSCC floor not raised; input refused");
            return self.refuse_input(station, e.code(), NotRecorded::Storage, &e.to_string(), reply_to);
        }
        // The input's events and its state changes, handed to the journal together: one commit.
        let mut events = Vec::new();
        let mut answers = Vec::new();
        let mut rest = Vec::new();
        let (mut print_events, mut queued) = (Vec::new(), Vec::new());
        let mut state = crate::journal::StateChanges::default();
        let mut reply_to = reply_to;
        for effect in effects {
            match effect {
                Effect::Record { event, feedback } => {
                    let scanned = event.event.scanned().map(|r| r.code.clone());
                    answers.push((feedback, scanned));
                    events.push(event);
                }
                Effect::Save { orders, forget, session, remember } => {
                    let at_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
                    let seen = remember.map(|r| {
                        (
                            r.request_id,
                            SeenRequest { at_ms, name: r.command.to_string(), reply: r.reply, digest: digest.clone() },
                        )
                    });
                    let seen = seen.as_ref().map(|(r, s)| (r.as_str(), s));
                    match OrderStore::changes(&orders, &forget, session.as_ref(), seen) {
                        Ok(c) => state.extend(c),
                        Err(e) => {
                            error!(alert = e.code().as_str(), error = %e, "order state cannot be encoded; input refused");
                            let why = NotRecorded::Storage;
                            return self.refuse_input(station, e.code(), why, &e.to_string(), reply_to.take());
                        }
                    }
                }
                Effect::Print { order, document, reprint } => match self.print_in_commit(&order, document, reprint) {
                    // The job and its `print.queued` event go into this input's commit.
                    Some((job, event, changes)) => {
                        print_events.push(event);
                        state.extend(changes);
                        queued.push(job);
                    }
                    None => rest.push(Effect::Print { order, document, reprint }),
                },
                other => rest.push(other),
            }
        }
        // After the input's own events, so their seqs line up with their feedback.
        events.extend(print_events);
        let kinds: Vec<String> = events.iter().map(|e| e.kind().to_string()).collect();
        let mut feedback: Vec<(u64, Feedback, Option<String>)> = Vec::new();
        match self.parts.journal.commit(events, state).await {
            Ok(appended) => {
                for (a, (fb, scanned)) in appended.into_iter().zip(answers) {
                    if let Some(fb) = fb {
                        feedback.push((a.seq, fb, scanned));
                    }
                }
            }
            Err(e) => {
                // Nothing of this input may look done: put the station back to what is
                // saved, refuse loudly.
                error!(alert = e.code().as_str(), kinds = ?kinds, error = %e, "input not recorded; refused");
                let why = match e {
                    JournalError::Full { .. } => NotRecorded::JournalFull,
                    JournalError::DiskFull { .. } => NotRecorded::DiskFull,
                    _ => NotRecorded::Storage,
                };
                return self.refuse_input(station, e.code(), why, &e.to_string(), reply_to.take());
            }
        }
        let journal_time = started.elapsed();
        if let Some(printing) = &self.parts.printing {
            for job in &queued {
                printing.queued_in_commit(job);
            }
        }
        for effect in rest {
            match effect {
                Effect::Record { .. } | Effect::Save { .. } => unreachable!("committed above"),
                Effect::Lookup { id } => self.lookup(id),
                Effect::Print { order, document, reprint } => self.print(order, document, reprint),
                Effect::Reply { request_id, reply } => {
                    if let Some((_, tx)) = reply_to.take() {
                        let _ = tx.send(reply);
                    } else {
                        warn!(request_id, "reply without a waiting command");
                    }
                }
            }
        }
        // The screen first: whoever sees the feedback line finds the view already updated.
        self.show(station);
        // In the language spoken after the input: a login answers in the operator's, a
        // logout in the station's.
        let locale = station.locale();
        for (seq, fb, scanned) in &feedback {
            self.out.feedback(*seq, fb, scanned.as_deref(), locale);
        }
        let took = started.elapsed();
        if took > SLOW_INPUT {
            debug!(took_ms = took.as_secs_f64() * 1e3, commit_ms = journal_time.as_secs_f64() * 1e3, "slow input");
        }
    }

    /// Nothing of this input may look done: put the station back to what is saved, refuse
    /// loudly (and answer a waiting command).
    fn refuse_input(
        &self,
        station: &mut Station,
        code: ErrorCode,
        why: NotRecorded,
        message: &str,
        reply_to: Option<(String, oneshot::Sender<Reply>)>,
    ) {
        let said = Say::NotRecorded { why, detail: message.to_string() };
        self.out.error(code.as_str(), &said.render(station.locale()));
        if let Some((rid, tx)) = reply_to {
            let _ = tx.send(Reply::refused(Some(&rid), code, message));
        }
        self.roll_back(station);
        self.show(station);
    }

    /// The station's state for the screen, and its operator for events journaled elsewhere.
    fn show(&self, station: &Station) {
        let view = station.view();
        self.parts.on_duty.set(view.operator.as_ref().map(|o| o.badge.clone()));
        let _ = self.parts.view.send(view);
    }

    fn roll_back(&self, station: &mut Station) {
        match self.parts.orders.all() {
            Ok(orders) => {
                station.reload(orders, self.parts.orders.session().ok().flatten());
                station.start_sscc_at(self.parts.orders.sscc_floor());
            }
            Err(e) => error!(error = %e, "cannot reload the order cache after a refused input"),
        }
    }

    fn lookup(&self, id: String) {
        let tx = self.internal.clone();
        let Some(oms) = self.parts.oms.clone() else {
            let _ = tx.send(Input::LookupAnswered {
                id,
                result: Err(crate::station::LookupError::new("no_order_system", "no order system is configured")),
            });
            return;
        };
        tokio::spawn(async move {
            let (result, clock) = oms.lookup(&id).await;
            if let Some((remote, max_delay)) = clock {
                let _ = tx.send(Input::ClockSample {
                    source: ClockSource::OrderSystem,
                    remote,
                    max_delay: Some(max_delay),
                });
            }
            if let Err(crate::station::LookupError { code, message: msg }) = &result {
                warn!(order = %id, code, %msg, "order lookup failed");
            } else {
                info!(order = %id, "order looked up");
            }
            let _ = tx.send(Input::LookupAnswered { id, result: result.map(Box::new) });
        });
    }

    /// A station document whose bytes can be made now (rendered from the order; not a
    /// carrier's label that must be fetched first): its job, `print.queued` event and writes,
    /// for the input's own commit. `None` leaves it to [`Runner::print`], which also reports
    /// why a document cannot be made.
    fn print_in_commit(
        &self,
        order: &crate::station::StoredOrder,
        document: Document,
        reprint: bool,
    ) -> Option<(crate::print::Job, crate::event::NewEvent, crate::journal::StateChanges)> {
        let printing = self.parts.printing.as_ref()?;
        let carrier_label = document == Document::Label && order.payload.label.is_none();
        if carrier_label && self.parts.oms.as_ref().is_some_and(|o| o.fetches_labels()) {
            return None;
        }
        let prepared = printing.prepare(None, Printout::Order(document), Some(order)).ok()?;
        let queued = printing.queue_in_commit(prepared).ok()?;
        if reprint {
            info!(order = %order.id, "label reprint asked for at the station");
        }
        Some(queued)
    }

    fn print(&self, order: std::sync::Arc<crate::station::StoredOrder>, document: Document, reprint: bool) {
        let tx = self.internal.clone();
        let (printing, oms) = (self.parts.printing.clone(), self.parts.oms.clone());
        let id = order.id.clone();
        let fail = move |reason: String| {
            warn!(order = %id, document = document.as_str(), %reason, "not printed");
            let _ = tx.send(Input::Printed { order: id.clone(), document, outcome: PrintOutcome::Failed(reason) });
        };
        let Some(printing) = printing else {
            return fail("no printer is configured".into());
        };
        tokio::spawn(async move {
            let mut job = match printing.prepare(None, Printout::Order(document), Some(&*order)) {
                Ok(j) => j,
                Err(e) => {
                    if let crate::print::PrintError::Render { reason } = &e {
                        // No valid document can be made: nothing is printed, and the cloud hears why.
                        printing.refused(Printout::Order(document), Some(order.id.clone()), reason).await;
                    }
                    return fail(e.to_string());
                }
            };
            // No label in the order: the carrier's label from the order system, when so configured.
            let carrier_label = document == Document::Label && order.payload.label.is_none();
            if let (true, Some(oms)) = (carrier_label, oms.filter(|o| o.fetches_labels())) {
                let carrier = order.payload.carrier.clone().unwrap_or_else(|| "default".into());
                match oms.fetch_label(&order.id, &carrier).await {
                    Ok(bytes) => printing.use_carrier_label(&mut job, &bytes),
                    Err(e) => return fail(e),
                }
            }
            if reprint {
                info!(order = %order.id, "label reprint asked for at the station");
            }
            if let Err(e) = printing.submit_prepared(job).await {
                fail(e.to_string());
            }
        });
    }
}
