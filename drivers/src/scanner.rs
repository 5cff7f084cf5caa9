//! Scanner transports: serial / USB CDC-ACM (tokio-serial) and TCP (connect or listen).
//!
//! Each scanner runs as one task: open the device, read bytes into the pure
//! [`ScanFramer`], send frames; when the device goes away (unplug, EOF, I/O error — a read
//! of 0 bytes is an unplug, not data) report `offline` and reopen with backoff, reporting
//! `ready` again once it is back. Nothing here knows what a scan means.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::framing::{Frame, ScanFramer};

/// How a scanner is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerLink {
    Serial {
        path: PathBuf,
        baud: u32,
        parity: Parity,
    },
    /// Connect to a network scanner at `address`.
    TcpConnect {
        address: String,
    },
    /// Accept connections from network scanners on `address`.
    TcpListen {
        address: String,
    },
    /// A USB HID keyboard-wedge scanner (`/dev/input/by-id/...-event-kbd`), grabbed so its
    /// keystrokes never reach a console.
    Hid {
        path: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    #[default]
    None,
    Even,
    Odd,
}

#[derive(Debug, Clone)]
pub struct ScannerSpec {
    pub name: String,
    pub link: ScannerLink,
    pub max_len: usize,
    /// End a frame after this long without bytes (scanners without a suffix); None: only
    /// suffixes end frames.
    pub inter_key_timeout: Option<Duration>,
}

/// What a scanner task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerEvent {
    Frame(Frame),
    /// `ready`, or `offline` with the reason.
    State {
        ready: bool,
        detail: String,
    },
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Runs a scanner until `cancel`; reopens it whenever it goes away.
pub async fn run(spec: ScannerSpec, tx: mpsc::Sender<ScannerEvent>, cancel: CancellationToken) {
    let mut delay = BACKOFF_MIN;
    let mut reported_offline = None::<String>;
    loop {
        let opened = tokio::select! {
            r = open(&spec.link) => r,
            _ = cancel.cancelled() => return,
        };
        match opened {
            Ok(stream) => {
                delay = BACKOFF_MIN;
                if tx.send(ScannerEvent::State { ready: true, detail: describe(&spec.link) }).await.is_err() {
                    return;
                }
                let why = read_frames(&spec, stream, &tx, &cancel).await;
                if cancel.is_cancelled() || tx.is_closed() {
                    return;
                }
                let _ = tx.send(ScannerEvent::State { ready: false, detail: why.clone() }).await;
                reported_offline = Some(why);
            }
            Err(e) => {
                // Report each distinct reason once, not every retry.
                if reported_offline.as_deref() != Some(e.as_str()) {
                    let _ = tx.send(ScannerEvent::State { ready: false, detail: e.clone() }).await;
                    reported_offline = Some(e);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => return,
        }
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

fn describe(link: &ScannerLink) -> String {
    match link {
        ScannerLink::Serial { path, baud, .. } => format!("{} at {baud} baud", path.display()),
        ScannerLink::TcpConnect { address } => format!("tcp {address}"),
        ScannerLink::TcpListen { address } => format!("listening on {address}"),
        ScannerLink::Hid { path } => format!("HID {}", path.display()),
    }
}

/// An open scanner: a byte stream, or key events from an input device.
enum Stream {
    Bytes(Box<dyn AsyncRead + Unpin + Send>),
    /// Raw key events: unlike `evdev`'s synchronised stream, they show `SYN_DROPPED`.
    Keys(Box<evdev::raw_stream::EventStream>, crate::hid::HidDecoder),
}

impl Stream {
    /// Reads some bytes (HID: the byte of the next key that produces one); 0 means closed.
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Bytes(s) => s.read(buf).await,
            Stream::Keys(events, decoder) => loop {
                let ev = events.next_event().await?;
                if ev.event_type() == evdev::EventType::KEY {
                    if let Some(b) = decoder.key(ev.code(), ev.value()) {
                        buf[0] = b;
                        return Ok(1);
                    }
                } else if ev.event_type() == evdev::EventType::SYNCHRONIZATION
                    && ev.code() == evdev::SynchronizationCode::SYN_DROPPED.0
                {
                    // Keys were lost: the code being typed must not pass as a scan.
                    buf[0] = decoder.keys_lost();
                    return Ok(1);
                }
            },
        }
    }
}

fn open_hid(path: &std::path::Path) -> Result<Stream, String> {
    let dev = evdev::raw_stream::RawDevice::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    grab(&dev).map_err(|e| format!("cannot grab {} (another program holds it?): {e}", path.display()))?;
    let events = dev.into_event_stream().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Stream::Keys(Box::new(events), crate::hid::HidDecoder::default()))
}

/// Takes the device for this process alone, so its key presses reach no console or other
/// program. Done with the ioctl itself, not `evdev`'s `grab()`: the kernel ends a grab when
/// the descriptor closes, while `evdev`'s drop would try to ungrab an unplugged device and
/// print `Failed to ungrab device` to stderr outside the log.
fn grab(dev: &evdev::raw_stream::RawDevice) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    /// `_IOW('E', 0x90, int)` in the generic ioctl encoding (x86, ARM).
    const EVIOCGRAB: libc::c_ulong = 0x4004_4590;
    // SAFETY: EVIOCGRAB on an open evdev descriptor with an int argument.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), EVIOCGRAB as _, 1 as libc::c_int) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

async fn open(link: &ScannerLink) -> Result<Stream, String> {
    Ok(Stream::Bytes(match link {
        ScannerLink::Hid { path } => return open_hid(path),
        other => open_bytes(other).await?,
    }))
}

async fn open_bytes(link: &ScannerLink) -> Result<Box<dyn AsyncRead + Unpin + Send>, String> {
    match link {
        ScannerLink::Serial { path, baud, parity } => {
            use tokio_serial::SerialPortBuilderExt;
            let parity = match parity {
                Parity::None => tokio_serial::Parity::None,
                Parity::Even => tokio_serial::Parity::Even,
                Parity::Odd => tokio_serial::Parity::Odd,
            };
            let port = tokio_serial::new(path.to_string_lossy(), *baud)
                .parity(parity)
                .open_native_async()
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            Ok(Box::new(port))
        }
        ScannerLink::TcpConnect { address } => {
            let s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(address))
                .await
                .map_err(|_| format!("no answer from {address} within 5 s"))?
                .map_err(|e| format!("cannot connect to {address}: {e}"))?;
            Ok(Box::new(s))
        }
        ScannerLink::TcpListen { address } => {
            let l =
                tokio::net::TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
            let (s, _) = l.accept().await.map_err(|e| format!("accept on {address}: {e}"))?;
            Ok(Box::new(s))
        }
        ScannerLink::Hid { .. } => Err("not a byte stream".into()),
    }
}

/// Reads until the device goes away; returns why.
async fn read_frames(
    spec: &ScannerSpec,
    mut stream: Stream,
    tx: &mpsc::Sender<ScannerEvent>,
    cancel: &CancellationToken,
) -> String {
    let mut framer = ScanFramer::new(spec.max_len);
    let mut buf = vec![0u8; 4096];
    loop {
        let read = async {
            match spec.inter_key_timeout {
                Some(t) if framer.in_frame() => tokio::time::timeout(t, stream.read(&mut buf)).await.ok(),
                _ => Some(stream.read(&mut buf).await),
            }
        };
        let r = tokio::select! {
            r = read => r,
            _ = cancel.cancelled() => return "stopped".into(),
        };
        let frames = match r {
            // Quiet for the inter-key timeout: the frame is complete.
            None => framer.flush().into_iter().collect(),
            Some(Ok(0)) => return "device closed (unplugged?)".into(),
            Some(Ok(n)) => framer.push(&buf[..n]),
            Some(Err(e)) => return format!("read failed: {e}"),
        };
        for f in frames {
            if tx.send(ScannerEvent::Frame(f)).await.is_err() {
                return "stopped".into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn spec(link: ScannerLink, timeout: Option<Duration>) -> ScannerSpec {
        ScannerSpec { name: "t".into(), link, max_len: 64, inter_key_timeout: timeout }
    }

    async fn next_frame(rx: &mut mpsc::Receiver<ScannerEvent>) -> Frame {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("event").expect("open") {
                ScannerEvent::Frame(f) => return f,
                ScannerEvent::State { .. } => {}
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Whatever a byte-stream scanner sends, in whatever pieces the reads return, the
        /// task hands on exactly the frames of one write, and a line that never ends costs
        /// no more than `max_len`.
        #[test]
        fn a_byte_stream_in_any_pieces_gives_the_frames_of_one_write(
            data in stationd_testkit::scanner_bytes(3000),
            cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..10),
            endless in 0usize..20_000,
        ) {
            let mut stream = data.clone();
            stream.extend(std::iter::repeat_n(b'7', endless));
            stream.extend_from_slice(b"\rLAST\r");
            let expected = ScanFramer::new(64).push(&stream);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (frames, why) = rt.block_on(async {
                let (mut writer, reader) = tokio::io::duplex(256);
                let (tx, mut rx) = mpsc::channel(stream.len() + 1);
                let task = tokio::spawn(async move {
                    let spec = spec(ScannerLink::TcpConnect { address: "scanner".into() }, None);
                    read_frames(&spec, Stream::Bytes(Box::new(reader)), &tx, &CancellationToken::new()).await
                });
                for chunk in stationd_testkit::split_at_cuts(&stream, &cuts) {
                    writer.write_all(chunk).await.unwrap();
                }
                drop(writer);
                let why = task.await.unwrap();
                let mut frames = Vec::new();
                while let Ok(ScannerEvent::Frame(f)) = rx.try_recv() {
                    frames.push(f);
                }
                (frames, why)
            });
            proptest::prop_assert_eq!(frames.last().cloned(), Some(Ok("LAST".to_string())));
            proptest::prop_assert_eq!(frames, expected);
            proptest::prop_assert!(why.contains("closed"), "{}", why);
        }
    }

    #[tokio::test]
    async fn a_tcp_scanner_reconnects_after_the_peer_goes_away() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        tokio::spawn(run(spec(ScannerLink::TcpConnect { address }, None), tx, cancel.clone()));
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"4006381333931\r").await.unwrap();
        assert_eq!(next_frame(&mut rx).await, Ok("4006381333931".into()));
        drop(s);
        // offline is reported, then the scanner is reopened and works again.
        loop {
            if let Some(ScannerEvent::State { ready: false, detail }) = rx.recv().await {
                assert!(detail.contains("closed"), "{detail}");
                break;
            }
        }
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"SECOND\n").await.unwrap();
        assert_eq!(next_frame(&mut rx).await, Ok("SECOND".into()));
        cancel.cancel();
    }

    #[tokio::test]
    async fn the_inter_key_timeout_ends_a_frame_without_suffix() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        tokio::spawn(run(
            spec(ScannerLink::TcpConnect { address }, Some(Duration::from_millis(50))),
            tx,
            cancel.clone(),
        ));
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"NOSUFFIX").await.unwrap();
        assert_eq!(next_frame(&mut rx).await, Ok("NOSUFFIX".into()));
        cancel.cancel();
    }
}
