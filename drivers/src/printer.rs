//! Printer transports and the send protocol: read the status before sending (refuse while
//! the printer cannot print), write every byte, read the status after (confirm).
//!
//! The outcome says exactly how far a job got, because a job whose bytes may have reached
//! the printer must never be resent automatically (no double labels):
//! [`SendOutcome::NotSent`] is safe to retry; everything else is not.
//!
//! Transports here: raw TCP (port 9100) and serial ports (both bidirectional: status is
//! read), a device file such as `/dev/usb/lp0` (write-only: jobs end `sent`), and a folder
//! that receives one file per job (the demo's virtual printer).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::printer_status::{escpos, zpl, PrinterStatus, StatusReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Zpl,
    Escpos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterLink {
    Tcp {
        address: String,
    },
    /// A USB printer-class device through libusb, by `vid:pid[:serial]`.
    Usb {
        target: crate::usb_printer::UsbTarget,
    },
    /// A serial port (RS-232 or USB CDC), bidirectional: status is read.
    Serial {
        path: PathBuf,
        baud: u32,
    },
    /// A character device (`/dev/usb/lp0`) written without read-back.
    Device {
        path: PathBuf,
    },
    /// A folder receiving one file per job.
    Folder {
        path: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct PrinterSpec {
    pub name: String,
    pub link: PrinterLink,
    pub language: Language,
    /// How long a status answer may take before the printer counts as offline.
    pub status_timeout: Duration,
}

/// How far a job got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Every byte written and the printer reported ready afterwards.
    Confirmed,
    /// Every byte written; no read-back on this link (or no answer after): not confirmed.
    Sent { detail: String },
    /// Written to a file in a folder (and synced): no printer was involved, so nothing is
    /// confirmed and nothing printed yet; whatever takes the file from there prints it.
    Written { detail: String },
    /// Nothing was written: the printer is not ready or not reachable. Safe to retry.
    NotSent { status: PrinterStatus, detail: String },
    /// Failed after bytes may have reached the printer. Never resend automatically.
    Failed { detail: String },
}

fn query(language: Language) -> &'static [u8] {
    match language {
        Language::Zpl => zpl::QUERY,
        Language::Escpos => &escpos::QUERY,
    }
}

fn reader(language: Language) -> Box<dyn StatusReader + Send> {
    match language {
        Language::Zpl => Box::new(zpl::Reader::default()),
        Language::Escpos => Box::new(escpos::Reader::default()),
    }
}

/// Sends a status query on `stream` and reads the answer; no (valid) answer in time is
/// `offline`, never `ready`.
async fn read_status<S>(stream: &mut S, spec: &PrinterSpec) -> PrinterStatus
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if stream.write_all(query(spec.language)).await.is_err() {
        return PrinterStatus::offline();
    }
    let mut r = reader(spec.language);
    let mut buf = [0u8; 512];
    let answer = tokio::time::timeout(spec.status_timeout, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return PrinterStatus::offline(),
                Ok(n) => {
                    if let Some(s) = r.push(&buf[..n]) {
                        return s;
                    }
                }
            }
        }
    })
    .await;
    answer.unwrap_or_else(|_| PrinterStatus::offline())
}

async fn connect(address: &str, timeout: Duration) -> Result<tokio::net::TcpStream, String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(s)) => {
            // A status query right after a job must not wait for the printer's delayed ACK.
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
        Err(_) => Err(format!("no answer from {address} within {timeout:?}")),
    }
}

/// The printer's status right now.
pub async fn status(spec: &PrinterSpec) -> PrinterStatus {
    match &spec.link {
        PrinterLink::Tcp { address } => match connect(address, spec.status_timeout).await {
            Ok(mut s) => read_status(&mut s, spec).await,
            Err(_) => PrinterStatus::offline(),
        },
        PrinterLink::Serial { path, baud } => match open_serial(path, *baud) {
            Ok(mut s) => read_status(&mut s, spec).await,
            Err(_) => PrinterStatus::offline(),
        },
        PrinterLink::Usb { target } => {
            let (t, lang, timeout) = (target.clone(), spec.language, spec.status_timeout);
            tokio::task::spawn_blocking(move || crate::usb_printer::status_blocking(&t, lang, timeout))
                .await
                .unwrap_or_else(|_| PrinterStatus::offline())
        }
        PrinterLink::Device { path } => {
            if std::fs::metadata(path).is_ok() {
                PrinterStatus::default()
            } else {
                PrinterStatus::offline()
            }
        }
        PrinterLink::Folder { path } => {
            if path.is_dir() {
                PrinterStatus::default()
            } else {
                PrinterStatus::offline()
            }
        }
    }
}

fn open_serial(path: &std::path::Path, baud: u32) -> Result<tokio_serial::SerialStream, String> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path.to_string_lossy(), baud)
        .open_native_async()
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// The status read before a job: `NotSent` (safe to retry) unless the printer can print.
pub(crate) fn refuse_unless_ready(before: PrinterStatus) -> Option<SendOutcome> {
    (!before.is_ready()).then(|| SendOutcome::NotSent { detail: format!("printer is {before}"), status: before })
}

/// The status read after every byte of a job was written.
pub(crate) fn outcome_after_job(after: PrinterStatus) -> SendOutcome {
    match after.state() {
        "ready" | "paper_near_end" => SendOutcome::Confirmed,
        "offline" => SendOutcome::Sent { detail: "all bytes written; no status answer afterwards".into() },
        _ => SendOutcome::Failed { detail: format!("printer reported {after} after the job") },
    }
}

/// Status before, every byte, status after, on a bidirectional stream.
async fn send_checked<S>(mut s: S, spec: &PrinterSpec, bytes: &[u8]) -> SendOutcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let before = read_status(&mut s, spec).await;
    send_after_status(s, spec, bytes, before).await
}

/// Every byte and the status after, on a stream whose status `before` was just read.
async fn send_after_status<S>(mut s: S, spec: &PrinterSpec, bytes: &[u8], before: PrinterStatus) -> SendOutcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Some(refused) = refuse_unless_ready(before) {
        return refused;
    }
    // From the first byte on, the job may print: no automatic resend past here.
    if let Err(e) = s.write_all(bytes).await.and(s.flush().await) {
        return SendOutcome::Failed { detail: format!("connection failed mid-job: {e}") };
    }
    let after = read_status(&mut s, spec).await;
    outcome_after_job(after)
}

/// Sends one job once `cleared` resolves to true (the caller has made the job durably
/// `sending`), and nothing of it when it resolves to false (`None`). On a TCP or serial link
/// the connection is opened and the printer's status read while `cleared` runs, so the
/// status round trip does not add to the time before the first byte; the status is only a
/// question, so asking it before the job is cleared sends nothing that could print.
pub async fn send_once_cleared(
    spec: &PrinterSpec,
    job_id: &str,
    bytes: &[u8],
    cleared: impl std::future::Future<Output = bool>,
) -> Option<SendOutcome> {
    match &spec.link {
        PrinterLink::Tcp { address } => {
            status_while_cleared(connect(address, spec.status_timeout), spec, bytes, cleared).await
        }
        PrinterLink::Serial { path, baud } => {
            status_while_cleared(async { open_serial(path, *baud) }, spec, bytes, cleared).await
        }
        _ => {
            if !cleared.await {
                return None;
            }
            Some(send(spec, job_id, bytes).await)
        }
    }
}

/// [`send_once_cleared`] on a bidirectional stream: opens it and reads the status while
/// `cleared` runs, then sends.
async fn status_while_cleared<S>(
    open: impl std::future::Future<Output = Result<S, String>>,
    spec: &PrinterSpec,
    bytes: &[u8],
    cleared: impl std::future::Future<Output = bool>,
) -> Option<SendOutcome>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let ready = async {
        let mut s = open.await?;
        let before = read_status(&mut s, spec).await;
        Ok::<_, String>((s, before))
    };
    let (ready, cleared) = tokio::join!(ready, cleared);
    if !cleared {
        return None;
    }
    Some(match ready {
        Ok((s, before)) => send_after_status(s, spec, bytes, before).await,
        Err(detail) => SendOutcome::NotSent { status: PrinterStatus::offline(), detail },
    })
}

/// Sends one job; see [`SendOutcome`] for what each result allows.
pub async fn send(spec: &PrinterSpec, job_id: &str, bytes: &[u8]) -> SendOutcome {
    match &spec.link {
        PrinterLink::Tcp { address } => match connect(address, spec.status_timeout).await {
            Ok(s) => send_checked(s, spec, bytes).await,
            Err(detail) => SendOutcome::NotSent { status: PrinterStatus::offline(), detail },
        },
        PrinterLink::Serial { path, baud } => match open_serial(path, *baud) {
            Ok(s) => send_checked(s, spec, bytes).await,
            Err(detail) => SendOutcome::NotSent { status: PrinterStatus::offline(), detail },
        },
        PrinterLink::Usb { target } => {
            // libusb calls block: keep them off the async runtime.
            let (t, lang, timeout, job) = (target.clone(), spec.language, spec.status_timeout, bytes.to_vec());
            tokio::task::spawn_blocking(move || crate::usb_printer::send_blocking(&t, lang, timeout, &job))
                .await
                .unwrap_or_else(|e| SendOutcome::Failed { detail: format!("USB send task failed: {e}") })
        }
        PrinterLink::Device { path } => {
            let write = async {
                let mut f = tokio::fs::OpenOptions::new().write(true).open(path).await?;
                f.write_all(bytes).await?;
                f.flush().await
            };
            match write.await {
                Ok(()) => SendOutcome::Sent { detail: format!("written to {} (no read-back)", path.display()) },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => SendOutcome::NotSent {
                    status: PrinterStatus::offline(),
                    detail: format!("{} is not there (unplugged?)", path.display()),
                },
                Err(e) => SendOutcome::Failed { detail: format!("writing {}: {e}", path.display()) },
            }
        }
        PrinterLink::Folder { path } => {
            let ext = match spec.language {
                Language::Zpl => "zpl",
                Language::Escpos => "escpos",
            };
            let file = path.join(format!("{job_id}.{ext}"));
            let tmp = path.join(format!(".{job_id}.{ext}.tmp"));
            let write = async {
                let mut f = tokio::fs::File::create(&tmp).await?;
                f.write_all(bytes).await?;
                f.sync_all().await?;
                tokio::fs::rename(&tmp, &file).await
            };
            match write.await {
                Ok(()) => SendOutcome::Written { detail: format!("written to {}", file.display()) },
                Err(e) => SendOutcome::NotSent {
                    status: PrinterStatus::offline(),
                    detail: format!("cannot write {}: {e}", file.display()),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{PrinterSim, SimState};

    fn spec(sim: &PrinterSim, language: Language) -> PrinterSpec {
        PrinterSpec {
            name: "label".into(),
            link: PrinterLink::Tcp { address: sim.addr.to_string() },
            language,
            status_timeout: Duration::from_millis(300),
        }
    }

    #[tokio::test]
    async fn a_ready_printer_confirms_and_records_the_job() {
        let sim = PrinterSim::start();
        for lang in [Language::Zpl, Language::Escpos] {
            assert_eq!(send(&spec(&sim, lang), "j1", b"^XA^FDhello^FS^XZ").await, SendOutcome::Confirmed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sim.jobs(), vec![b"^XA^FDhello^FS^XZ".to_vec(), b"^XA^FDhello^FS^XZ".to_vec()]);
    }

    #[tokio::test]
    async fn a_job_waits_for_its_clearance_while_the_status_is_read_and_is_not_sent_without_it() {
        let sim = PrinterSim::start();
        let spec = spec(&sim, Language::Zpl);
        // The status question is asked while the clearance (the durable `sending` mark) is
        // pending, and no byte of the job arrives before it.
        let cleared = async {
            let asked = std::time::Instant::now() + Duration::from_secs(2);
            while sim.queries() == 0 && std::time::Instant::now() < asked {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            assert_eq!(sim.queries(), 1, "the status is read while the clearance is pending");
            assert!(sim.first_byte_times().is_empty(), "no job byte before the clearance");
            true
        };
        assert_eq!(send_once_cleared(&spec, "j1", b"^XA^FDone^FS^XZ", cleared).await, Some(SendOutcome::Confirmed));
        assert_eq!(sim.wait_jobs(1, Duration::from_secs(2)), vec![b"^XA^FDone^FS^XZ".to_vec()]);
        // Refused clearance: nothing of the job is sent.
        assert_eq!(send_once_cleared(&spec, "j2", b"^XA^FDtwo^FS^XZ", async { false }).await, None);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sim.jobs().len(), 1, "a job whose mark failed never reaches the printer");
        // A printer that is not ready: the job is not sent (retryable), cleared or not.
        sim.set_state(SimState::PaperOut);
        let out = send_once_cleared(&spec, "j3", b"^XA^XZ", async { true }).await;
        assert!(matches!(out, Some(SendOutcome::NotSent { .. })), "{out:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sim.jobs().len(), 1);
    }

    #[tokio::test]
    async fn paper_out_or_no_answer_is_never_ready_and_nothing_is_sent() {
        let sim = PrinterSim::start();
        // ZPL's ~HS has no cover flag: an open cover shows as the head being up.
        let cases = [
            (SimState::PaperOut, Language::Zpl, "paper_out"),
            (SimState::PaperOut, Language::Escpos, "paper_out"),
            (SimState::CoverOpen, Language::Zpl, "head_open"),
            (SimState::CoverOpen, Language::Escpos, "cover_open"),
            (SimState::Silent, Language::Zpl, "offline"),
            (SimState::Silent, Language::Escpos, "offline"),
        ];
        for (state, lang, word) in cases {
            sim.set_state(state);
            {
                let out = send(&spec(&sim, lang), "j", b"^XA^XZ").await;
                let SendOutcome::NotSent { status, .. } = out else { panic!("{state:?} {lang:?}: {out:?}") };
                assert_eq!(status.state(), word, "{state:?} {lang:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(sim.jobs().is_empty(), "no job bytes reached a printer that was not ready");
    }

    #[tokio::test]
    async fn a_connection_dropped_mid_job_is_failed_not_retryable() {
        let sim = PrinterSim::start();
        sim.set_state(SimState::DropAfter(1000));
        let big = vec![b'A'; 1_000_000];
        let out = send(&spec(&sim, Language::Zpl), "j", &big).await;
        assert!(matches!(out, SendOutcome::Failed { .. } | SendOutcome::Sent { .. }), "{out:?}");
    }

    #[tokio::test]
    async fn nothing_listening_is_offline_and_retryable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = PrinterSpec {
            name: "x".into(),
            link: PrinterLink::Tcp { address: format!("127.0.0.1:{port}") },
            language: Language::Zpl,
            status_timeout: Duration::from_millis(300),
        };
        assert_eq!(status(&s).await.state(), "offline");
        assert!(matches!(send(&s, "j", b"^XA^XZ").await, SendOutcome::NotSent { .. }));
    }

    /// A serial printer on a PTY: the test plays an ESC/POS printer on the master side.
    #[tokio::test]
    async fn a_serial_printer_is_checked_before_and_after_the_job() {
        use std::io::{Read, Write};
        let pty = stationd_testkit::open_pty(true);
        let (master_keep, _slave, name) = (pty.master, pty.slave, pty.name);
        // The thread works on a clone: closing the master before our side has read the last
        // answer would hang up the PTY and discard it.
        let mut master = master_keep.try_clone().unwrap();
        let printer = std::thread::spawn(move || {
            // Answer every DLE EOT n with "ready"; collect everything else as the job.
            let mut job = Vec::new();
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            let mut queries = 0;
            while queries < 6 {
                let n = master.read(&mut buf).unwrap();
                pending.extend_from_slice(&buf[..n]);
                let mut i = 0;
                while i < pending.len() {
                    if pending[i] == 0x10 {
                        if pending.len() - i < 3 {
                            break;
                        }
                        master.write_all(&[0x12]).unwrap();
                        master.flush().unwrap();
                        queries += 1;
                        i += 3;
                    } else {
                        job.push(pending[i]);
                        i += 1;
                    }
                }
                pending.drain(..i);
            }
            job
        });
        let spec = PrinterSpec {
            name: "slip".into(),
            link: PrinterLink::Serial { path: name.into(), baud: 115_200 },
            language: Language::Escpos,
            status_timeout: Duration::from_secs(2),
        };
        assert_eq!(send(&spec, "j", b"\x1b@hello\n").await, SendOutcome::Confirmed);
        assert_eq!(printer.join().unwrap(), b"\x1b@hello\n");
        drop(master_keep);
    }

    #[tokio::test]
    async fn the_folder_printer_writes_one_file_per_job_and_says_written_not_confirmed() {
        let dir = std::env::temp_dir().join(format!("stationd-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = PrinterSpec {
            name: "virtual".into(),
            link: PrinterLink::Folder { path: dir.clone() },
            language: Language::Zpl,
            status_timeout: Duration::from_millis(300),
        };
        let written = format!("written to {}", dir.join("job-7.zpl").display());
        assert_eq!(send(&s, "job-7", b"^XA^XZ").await, SendOutcome::Written { detail: written });
        assert_eq!(std::fs::read(dir.join("job-7.zpl")).unwrap(), b"^XA^XZ");
        let _ = std::fs::remove_dir_all(dir);
    }
}
