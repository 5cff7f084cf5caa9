//! The HTTP listener: serves the screen and API under limits, so that nothing a client does
//! on this port can take file descriptors, memory or time that scanning needs.
//!
//! # Design constraints
//! - At most `max_connections` connections are served at once. One more is closed as soon
//!   as it is accepted: the process never holds more than that many sockets for HTTP, so a
//!   flood of idle connections cannot use up the descriptors the journal and printers need.
//! - Request headers must arrive within `header_timeout`. hyper starts that clock whenever
//!   it waits for a request head, so it also closes a connection that never sends anything
//!   and a keep-alive connection left idle.
//! - A connection that moves no byte either way for `idle_timeout` is closed: a live stream
//!   whose client stopped reading (its socket buffer full) gives its slot back.
//! - An accept error (out of descriptors) backs off instead of spinning on the listener.
//! - On shutdown connections are asked to finish and then dropped.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The limits of [`serve`], from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub open: AtomicU64,
    pub refused: AtomicU64,
    pub closed_idle: AtomicU64,
}

/// Largest request head (and read buffer) per connection: requests here are small GETs.
const MAX_BUF_BYTES: usize = 16 * 1024;
/// Pause after a failed accept (EMFILE, ENFILE, ENOBUFS) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long connections get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);

/// Accepts and serves connections until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_BUF_BYTES);
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!(error = %e, "http accept failed; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed at once: the socket is the only thing this connection ever held.
            drop(stream);
            counters.refused.fetch_add(1, Ordering::Relaxed);
            if last_refusal_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                last_refusal_log = Some(Instant::now());
                warn!(max_connections = limits.max_connections, "http connections at the limit; closing new ones");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (io, progress) = Watched::new(stream);
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(router.clone()));
        let (counters, shutdown) = (counters.clone(), shutdown.clone());
        counters.open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        debug!(error = %e, "http connection ended");
                    }
                }
                _ = progress.stalled(limits.idle_timeout) => {
                    counters.closed_idle.fetch_add(1, Ordering::Relaxed);
                    debug!("closing an http connection that moved no byte for the idle timeout");
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
            counters.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}

/// A TCP stream that records when it last moved a byte.
struct Watched {
    stream: TcpStream,
    progress: Arc<Progress>,
}

struct Progress {
    start: Instant,
    /// Milliseconds after `start` of the last byte read or written.
    last_ms: AtomicU64,
}

impl Progress {
    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once no byte moved for `idle`.
    async fn stalled(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

impl Watched {
    fn new(stream: TcpStream) -> (Watched, Arc<Progress>) {
        let progress = Arc::new(Progress { start: Instant::now(), last_ms: AtomicU64::new(0) });
        (Watched { stream, progress: progress.clone() }, progress)
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progress.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.progress.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// An endless response to a client that never reads: once the socket buffers are full no
    /// byte moves, and the connection is closed after the idle timeout.
    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_after_the_idle_timeout() {
        let endless = || async {
            let chunks = futures_util::stream::repeat_with(|| Ok::<_, std::convert::Infallible>(vec![b'x'; 64 * 1024]));
            axum::body::Body::from_stream(chunks)
        };
        let router = axum::Router::new().route("/", axum::routing::get(endless));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 4,
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_millis(300),
        };
        let counters = Arc::new(Counters::default());
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, router, limits, counters.clone(), stop.clone()));
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let started = Instant::now();
        while counters.closed_idle.load(Ordering::Relaxed) == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "a stalled connection was never closed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(counters.open.load(Ordering::Relaxed), 0, "its slot is free again");
        stop.cancel();
    }
}
