//! `stationd run`: wires the parts together with tokio tasks and one cancellation token.
//!
//! scanners ──Input──▶ workflow (station, pure) ──Effect──▶ journal (durable) ─▶ order store ─▶ feedback
//! uplink ──order commands──▶ workflow ──reply──▶ uplink; printers / order system ──results──▶ workflow
//!
//! Shutdown (SIGTERM, SIGINT, or the stdin scanner closing) happens in one place: scanners
//! stop, inputs already read are still recorded, the journal is closed (flushed), and the
//! process exits, all within [`SHUTDOWN_BUDGET`].

use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::journal::{Journal, JournalOptions, OpenOutcome};
use crate::orders::OrderStore;
use crate::scanner;
use crate::service::{self, Heartbeat};
use crate::uplink;
use crate::workflow;

/// Longest an orderly shutdown may take (systemd's stop timeout is larger).
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(1700);

/// Why `run` ended badly; mapped to exit codes in `main`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    OrderStore(#[from] crate::orders::OrderStoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The print store's folder is in the journal's: one that cannot be opened ends the run
/// like a journal that cannot (same exit code); other print errors are runtime failures.
impl From<crate::print::PrintError> for RunError {
    fn from(e: crate::print::PrintError) -> Self {
        match e {
            crate::print::PrintError::Open(e) => RunError::Journal(e),
            other => RunError::Other(other.into()),
        }
    }
}

impl From<tokio::task::JoinError> for RunError {
    fn from(e: tokio::task::JoinError) -> Self {
        RunError::Other(e.into())
    }
}

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    if config.scanners.is_empty() {
        warn!("no [[scanner]] configured: nothing will be scanned at this station");
    }
    let oms = crate::oms::Oms::from_config(&config.orders).map_err(RunError::Config)?;
    let printers = crate::print::printers_from_config(&config).map_err(RunError::Config)?;

    let opts = JournalOptions::from_config(&config);
    let (journal, outcome) =
        tokio::task::spawn_blocking(move || open_journal(opts)).await.context("journal open task")??;
    let out = workflow::FeedbackOut;
    if let OpenOutcome::Recovered { quarantined, reason, may_be_lost } = &outcome {
        let lost = may_be_lost.map(|(a, b)| format!("seq {a}..={b}")).unwrap_or_else(|| "none".into());
        error!(quarantined = %quarantined.display(), %reason, may_be_lost = %lost, "journal recovered from a damaged database");
        out.line(&format!(
            "alert journal_recovered: damaged journal moved to {}; events {lost} may be lost; see `stationd queue salvage`",
            quarantined.display()
        ));
    }
    let status = journal.status()?;
    info!(
        station = %config.station_identity(),
        journal = %config.journal.path.display(),
        next_seq = status.next_seq,
        pending = status.pending,
        "stationd started"
    );

    let orders = OrderStore::open(&journal)?;
    // Device states go to the uplink (retained topics) when there is one, and to the screen.
    let (devices, devices_rx) = crate::devices::channel();
    let (outcome_tx, outcome_rx) = mpsc::unbounded_channel();
    let (printing, print_outcomes) = if printers.is_empty() {
        (None, None)
    } else {
        let (j, sink, station, stop) =
            (journal.clone(), Some(devices.clone()), config.station_identity(), shutdown.clone());
        let p = tokio::task::spawn_blocking(move || {
            crate::print::Printing::start(j, printers, sink, station, Some(outcome_tx), stop)
        })
        .await
        .context("print store open task")??;
        (Some(p), Some(outcome_rx))
    };
    let station = {
        let (settings, store) = (config.station_settings(), orders.clone());
        tokio::task::spawn_blocking(move || workflow::restore(settings, &store)).await.context("order cache load")??
    };
    // Who is logged in, for print events and the uplink's audit events: one handle, set by
    // the workflow.
    let on_duty = printing.as_ref().map(crate::print::Printing::on_duty).unwrap_or_default();
    let (inputs_tx, workflow_handle, channels) = workflow::channels();
    let uplink = match &config.mqtt {
        Some(m) => {
            let u = uplink::spawn_with(
                m.clone(),
                journal.clone(),
                orders.clone(),
                printing.clone(),
                Some(workflow_handle),
                (devices.clone(), devices_rx),
                shutdown.clone(),
            )
            .map_err(|e| match e {
                uplink::UplinkError::Thread(e) => RunError::Other(anyhow::Error::new(e).context("uplink thread")),
                e => RunError::Config(e.to_string()),
            })?;
            Some(u)
        }
        None => {
            info!("no [mqtt] configured: events wait in the journal");
            drop(devices_rx);
            None
        }
    };
    let uplink_status = uplink.as_ref().map(|u| u.status.clone());

    let mut scanners = Vec::new();
    for s in &config.scanners {
        scanners.push(scanner::spawn(s.clone(), inputs_tx.clone(), shutdown.clone(), devices.clone()));
    }
    drop(inputs_tx);
    let heartbeat = Heartbeat::default();
    let (view_tx, view_rx) = tokio::sync::watch::channel(station.view());
    let sources = crate::control::Sources { uplink: uplink_status.clone(), workflow: Some(view_rx.clone()) };
    let control = crate::control::serve(journal.clone(), sources, &config.journal.path, shutdown.clone())
        .context("starting the control socket")?;
    let parts = workflow::Edges {
        journal: journal.clone(),
        orders: orders.clone(),
        printing: printing.clone(),
        oms,
        heartbeat: heartbeat.clone(),
        on_duty,
        view: view_tx,
        preload: match &config.orders.preload {
            Some(p) => crate::config::read_preload(p)
                .map_err(|e| RunError::Config(format!("[orders] preload {}: {e}", p.display())))?,
            None => Vec::new(),
        },
    };
    let http = match &config.http {
        Some(h) => {
            let sources = crate::http::Sources {
                station: config.station_identity(),
                journal: journal.clone(),
                orders: orders.clone(),
                view: view_rx,
                uplink: uplink_status,
                devices,
                printing: printing.clone(),
                heartbeat: heartbeat.clone(),
            };
            Some(crate::http::serve(h, sources, shutdown.clone()).await.map_err(RunError::Config)?)
        }
        None => None,
    };
    let workflow = workflow::spawn_thread(parts, station, channels, print_outcomes, shutdown.clone())
        .context("starting the workflow thread")?;
    let watchdog = service::spawn_watchdog(heartbeat, shutdown.clone());
    service::ready(&format!("station {} ready; {} event(s) pending", config.station_identity(), status.pending));

    let storage_failed = journal.storage_failed();
    tokio::select! {
        _ = wait_for_signal(&shutdown) => {}
        _ = storage_failed.cancelled() => error!(
            "the journal could not write to disk; stopping so the service manager restarts the station on the reopened journal (everything confirmed is kept)"
        ),
    }
    info!("shutting down");
    service::stopping();
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
    let drained = tokio::time::timeout_at(deadline, async {
        for s in scanners {
            let _ = s.await;
        }
        let _ = workflow.await;
    })
    .await;
    if drained.is_err() {
        warn!("inputs still in flight at shutdown were not recorded (their scans were never confirmed)");
    }
    let _ = control.await;
    if let Some(h) = http {
        let _ = tokio::time::timeout_at(deadline, h).await;
    }
    if let Some(w) = watchdog {
        let _ = w.await;
    }
    if let Some(u) = uplink {
        // The uplink publishes the retained offline status and disconnects (bounded wait).
        if tokio::time::timeout_at(deadline, u.task).await.is_err() {
            warn!("broker did not take the offline status in time; it will see the last will instead");
        }
    }
    tokio::task::spawn_blocking(move || journal.close()).await.context("journal close task")?;
    if storage_failed.is_cancelled() {
        return Err(RunError::Journal(crate::journal::JournalError::Failed));
    }
    info!("stopped; everything confirmed is on disk");
    Ok(())
}

/// Opens the journal; a lock held briefly by a `stationd queue` command is waited out
/// (up to 3 s) rather than failing start-up.
fn open_journal(opts: JournalOptions) -> Result<(Journal, OpenOutcome), crate::journal::JournalError> {
    let start = std::time::Instant::now();
    loop {
        match Journal::open(opts.clone()) {
            Err(crate::journal::JournalError::Locked { .. }) if start.elapsed() < Duration::from_secs(3) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

async fn wait_for_signal(shutdown: &CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        error!("cannot install signal handlers");
        shutdown.cancelled().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
        _ = shutdown.cancelled() => {}
    }
}
