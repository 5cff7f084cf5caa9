//! The control socket: `control.sock` in the journal folder, so `stationd queue status` and
//! `queue export` work while the daemon holds the journal (sled allows one process only).
//!
//! Protocol: the client sends one line, the daemon answers and closes.
//! - `status` → one JSON line: a [`QueueStatus`](crate::journal::QueueStatus) plus `uplink`
//!   (the broker connection's [`UplinkStatus`](crate::uplink::UplinkStatus)) and `workflow`
//!   (the station's [`View`](crate::station::View): operator, open order, alerts);
//! - `export FROM` → the stored events from seq FROM as JSON lines.
//!
//! Who may ask: the socket is mode 0660 in the journal folder (0750), so the service user
//! and members of its group (`usermod -aG stationd alice`) reach it while the daemon runs,
//! and nobody else. Both requests only read.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::journal::Journal;
use crate::station::View;
use crate::uplink::SharedStatus;

/// What `status` reports besides the journal.
#[derive(Clone)]
pub struct Sources {
    pub uplink: Option<SharedStatus>,
    pub workflow: Option<tokio::sync::watch::Receiver<View>>,
}

pub fn socket_path(journal_dir: &Path) -> PathBuf {
    journal_dir.join("control.sock")
}

/// The socket's mode: the service user and its group.
pub const SOCKET_MODE: u32 = 0o660;

/// Page size for exports, so an export of a large backlog never holds it all in memory.
pub const EXPORT_PAGE: usize = 1000;

pub fn serve(
    journal: Journal,
    sources: Sources,
    journal_dir: &Path,
    shutdown: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let path = socket_path(journal_dir);
    // We hold the journal lock, so a socket file left here is from a dead process.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    // Connecting needs write permission on the socket: the umask (0027 under systemd) would
    // leave the group read-only, and the group is who the docs let ask.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok(tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        warn!(error = %e, "control socket accept failed");
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            let journal = journal.clone();
            let sources = sources.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(journal, sources, stream).await {
                    debug!(error = %e, "control client went away");
                }
            });
        }
        let _ = std::fs::remove_file(&path);
    }))
}

async fn handle(journal: Journal, sources: Sources, stream: tokio::net::UnixStream) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One request line of at most 256 bytes: a client cannot make the daemon buffer more.
    tokio::io::BufReader::new(read.take(256)).read_line(&mut line).await?;
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("status"), None) => {
            let reply = match journal.status() {
                Ok(s) => {
                    let mut v = serde_json::to_value(&s).unwrap_or_default();
                    if let Some(w) = &sources.workflow {
                        v["workflow"] = serde_json::to_value(&*w.borrow()).unwrap_or_default();
                    }
                    v["uplink"] = match &sources.uplink {
                        Some(u) => {
                            serde_json::to_value(&*u.lock().expect("uplink status poisoned")).unwrap_or_default()
                        }
                        None => serde_json::json!({ "state": "disabled" }),
                    };
                    v.to_string()
                }
                Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
            };
            write.write_all(reply.as_bytes()).await?;
            write.write_all(b"\n").await?;
        }
        (Some("export"), from) => {
            let mut next = from.and_then(|f| f.parse().ok()).unwrap_or(0u64);
            loop {
                let j = journal.clone();
                let page = tokio::task::spawn_blocking(move || j.read_from(next, EXPORT_PAGE)).await;
                let Ok(Ok(page)) = page else { break };
                let Some(last) = page.last().map(|r| r.seq) else { break };
                for r in page {
                    write.write_all(&r.payload).await?;
                    write.write_all(b"\n").await?;
                }
                next = last + 1;
            }
        }
        _ => write.write_all(b"{\"error\":\"unknown request; use `status` or `export FROM`\"}\n").await?,
    }
    write.shutdown().await
}

/// A connection to the running daemon, or `None` when no daemon listens (no socket, or one
/// a stopped daemon left behind). Permission denied is an error: the caller is neither the
/// service user nor in its group.
pub fn connect(journal_dir: &Path) -> std::io::Result<Option<UnixStream>> {
    match UnixStream::connect(socket_path(journal_dir)) {
        Ok(stream) => Ok(Some(stream)),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends one request to the daemon on `stream` and streams the answer to `out`.
pub fn request(mut stream: UnixStream, req: &str, out: &mut dyn Write) -> std::io::Result<()> {
    stream.write_all(req.as_bytes())?;
    stream.write_all(b"\n")?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        writeln!(out, "{}", line?)?;
    }
    Ok(())
}
