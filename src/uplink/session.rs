//! The uplink task: connect, publish from the journal, map PubAcks to seqs, run commands,
//! and reconnect with backoff when the link is lost.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, Outgoing, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::execute::execute;
use super::flight::{CommandLimiter, Flight, Sent, PACE_TICK};
use super::presence::Presence;
use super::subscription::{self, CommandSubscription, SubscriptionState};
use super::tls::status_topic;
use super::{backoff, BrokerOptions, Failover, SharedStatus, UplinkContext};
use crate::devices::DeviceState;
use crate::event::format_at;
use crate::journal::Journal;

/// Room in rumqttc's request queue for replies, status and device states on top of the
/// event window, so a burst of commands does not lose replies.
const CONTROL_QUEUE: usize = 1024;
/// How long an orderly shutdown waits for the broker to take the offline status.
const OFFLINE_WAIT: Duration = Duration::from_millis(800);
/// Seconds rumqttc waits for TCP + TLS + ConnAck.
const CONNECT_TIMEOUT_S: u64 = 5;
/// How long the ack task gathers PubAcks before committing them.
const ACK_GATHER: Duration = Duration::from_millis(10);
/// How long the birth waits for the command subscription's SubAck before it goes out
/// without it (`commands.state: unanswered`).
const SUBACK_WAIT: Duration = Duration::from_secs(5);
/// Repeats of the same connection error are logged at most this often.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

enum End {
    Shutdown,
    Lost(ConnectionError),
    /// Publishes stayed unacknowledged on a connection that still looked alive.
    Stalled {
        waited: Duration,
        in_flight: usize,
    },
}

/// How long events may wait for their PubAck on a live connection before it is dropped and
/// made again (which sends them again): a broker or middlebox that keeps the TCP session and
/// the pings alive but lost publishes would otherwise hold the window shut for good.
fn ack_timeout(keep_alive: Duration) -> Duration {
    (keep_alive * 3).max(Duration::from_secs(15))
}

pub(super) async fn run(
    uplink: UplinkContext,
    mut devices_rx: mpsc::UnboundedReceiver<(String, DeviceState)>,
    shutdown: CancellationToken,
) {
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<u64>();
    let acker = tokio::spawn(ack_task(uplink.journal.clone(), ack_rx, uplink.status.clone()));
    let mut devices = BTreeMap::new();
    let mut errors = ErrorLog::default();
    let mut attempt = 0u32;
    let mut clean = false;
    let mut failover = Failover::new(uplink.brokers.len());
    while !shutdown.is_cancelled() {
        let broker = &uplink.brokers[failover.current()];
        {
            let mut s = uplink.status.lock().expect("uplink status poisoned");
            s.state = "connecting";
            s.broker.clone_from(&broker.name);
        }
        let result =
            connection(&uplink, broker, clean, &mut devices, &mut devices_rx, &ack_tx, &shutdown, &mut errors).await;
        clean = false;
        match result {
            Ok(End::Shutdown) => break,
            Ok(End::Lost(e)) => {
                // It was up: the next attempt starts from the shortest delay.
                attempt = 0;
                errors.report(&uplink.status, &describe(&e));
                if oversized(&e) {
                    // The broker would redeliver the same packet into the persistent session
                    // forever: drop that session once, with the messages queued in it.
                    error!("the broker delivered a packet over 1 MiB; reconnecting with a clean session (commands queued for this station are dropped)");
                    clean = true;
                } else {
                    failover.failed();
                }
            }
            Ok(End::Stalled { waited, in_flight }) => {
                attempt = 0;
                let msg = format!(
                    "no PubAck for {} s with {in_flight} event(s) in flight on a live connection; reconnecting to send them again",
                    waited.as_secs()
                );
                errors.report(&uplink.status, &msg);
                failover.failed();
            }
            Err(e) => {
                errors.report(&uplink.status, &describe(&e));
                failover.failed();
            }
        }
        let delay = backoff(attempt, uplink.cfg.reconnect_min, uplink.cfg.reconnect_max);
        attempt = attempt.saturating_add(1);
        {
            let mut s = uplink.status.lock().expect("uplink status poisoned");
            s.state = "backoff";
            s.connected_since = None;
            s.reconnects += 1;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    drop(ack_tx);
    let _ = acker.await;
    set_state(&uplink.status, "stopped");
}

fn oversized(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::MqttState(rumqttc::StateError::Deserialization(rumqttc::Error::PayloadSizeLimitExceeded(_)))
    )
}

/// One connection, from connect to loss or shutdown. `Err` means it never came up.
/// `clean` asks for a clean session (used once after a poison packet).
#[allow(clippy::too_many_arguments)]
async fn connection(
    uplink: &UplinkContext,
    broker: &BrokerOptions,
    clean: bool,
    devices: &mut BTreeMap<String, DeviceState>,
    devices_rx: &mut mpsc::UnboundedReceiver<(String, DeviceState)>,
    ack_tx: &mpsc::UnboundedSender<u64>,
    shutdown: &CancellationToken,
    errors: &mut ErrorLog,
) -> Result<End, ConnectionError> {
    let window = uplink.cfg.inflight as usize;
    let mut options = broker.options.clone();
    if clean {
        options.set_clean_session(true);
    }
    let (client, mut el) = AsyncClient::new(options, window + CONTROL_QUEUE);
    el.network_options.set_connection_timeout(CONNECT_TIMEOUT_S);
    // Publishes go out in bursts; Nagle would hold them for the broker's delayed ACK.
    el.network_options.set_tcp_nodelay(true);
    let connack = tokio::select! {
        r = el.poll() => r?,
        _ = shutdown.cancelled() => return Ok(End::Shutdown),
    };
    let Event::Incoming(Packet::ConnAck(ack)) = connack else {
        return Err(ConnectionError::NotConnAck(Packet::Disconnect));
    };
    let prefix = &uplink.cfg.prefix;
    let journal = &uplink.journal;
    // Counted from memory: a reconnect must not walk the journal folder.
    let backlog = journal.pending_count();
    info!(broker = %broker.name, session_present = ack.session_present, backlog, "connected to the broker");
    errors.connected();
    {
        let mut s = uplink.status.lock().expect("uplink status poisoned");
        s.state = "connected";
        s.connected_since = Some(format_at(time::OffsetDateTime::now_utc()));
    }

    let mut flight = Flight::new(window, prefix, uplink.cfg.drain_rate_in_use);
    let cmd_prefix = format!("{prefix}/cmd/");
    // `#`, not `+`: a command on a deeper topic (`cmd/order-hold/x`) is answered
    // `unknown_command` instead of vanishing. Subscribed again at every connection (a
    // refusal is retried at each reconnect); the birth waits for the SubAck, so the retained
    // status says whether commands reach the station.
    let cmd_topic = format!("{cmd_prefix}#");
    let _ = client.try_subscribe(cmd_topic.clone(), QoS::AtLeastOnce);
    let connected_at = Instant::now();
    let mut birth_sent = false;
    for (name, state) in devices.iter() {
        flight.control(&client, &format!("{prefix}/devices/{name}"), true, device_payload(state));
    }
    // rumqttc's `poll` is not cancel-safe, so it runs in a loop of its own and hands events
    // over a channel, in order; this task stays the only publisher.
    let (events_tx, mut events) = mpsc::channel(1024);
    let poller = tokio::spawn(async move {
        loop {
            let ev = el.poll().await;
            let failed = ev.is_err();
            if events_tx.send(ev).await.is_err() || failed {
                break;
            }
        }
    });
    let mut durable = journal.subscribe();
    let mut journal_open = true;
    let mut limiter = CommandLimiter::new(Instant::now());
    // v1 command names this connection was sent (each logged once, not per command).
    let mut deprecated_seen = Vec::new();
    // Since when nobody scanned (no workflow: never in use).
    let idle_for = || uplink.workflow.as_ref().and_then(|w| w.in_use().idle_for());
    flight.fill(&client, journal, &uplink.status, Instant::now(), idle_for());
    let mut pace_tick = tokio::time::interval(PACE_TICK);
    pace_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What the status last said: the pace holds a backlog back (only ever while paced).
    let mut drain_paced = false;
    let ack_timeout = ack_timeout(uplink.cfg.keep_alive);
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));

    let end = 'session: loop {
        tokio::select! {
            first = events.recv() => {
                // Handle everything already queued, then refill the window once.
                let mut next = Some(first);
                while let Some(ev) = next.take() {
                // Read per event (a command may take a while) and handed to the bookkeeping.
                let now = Instant::now();
                match ev {
                    Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => flight.on_outgoing(pkid, now),
                    Some(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                        if let Some(seq) = flight.on_puback(ack.pkid) {
                            let _ = ack_tx.send(seq);
                        }
                    }
                    Some(Ok(Event::Incoming(Packet::SubAck(ack)))) => {
                        let answer = subscription::judge(&cmd_topic, &ack.return_codes);
                        command_subscription(uplink, &answer);
                        if !birth_sent {
                            birth_sent = true;
                            let birth = Presence::birth(&uplink.started_at, backlog, answer);
                            flight.control(&client, &status_topic(prefix), true, birth.to_bytes());
                        }
                    }
                    Some(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        if let Some(name) = p.topic.strip_prefix(&cmd_prefix) {
                            warn_deprecated_once(&mut deprecated_seen, name);
                            let stale = || super::stale::refuse_stale(name, &p.payload, time::OffsetDateTime::now_utc());
                            let done = if p.retain {
                                super::execute::refuse_retained(name, &p.payload)
                            } else if let Some(done) = stale() {
                                done
                            } else if limiter.take(now) {
                                execute(journal, &uplink.orders, uplink.printing.as_ref(), uplink.workflow.as_ref(), name, &p.payload).await
                            } else {
                                limiter.refused(name, &p.payload, now)
                            };
                            let done = super::execute::noted(name, done);
                            flight.control(&client, &format!("{prefix}/reply"), false, done.reply.to_bytes());
                            if let Some(range) = done.resync {
                                info!(from = range.0, to = range.1, "resync: re-publishing retained events");
                                flight.resync.add(range.0, range.1);
                            }
                        }
                        let _ = client.try_ack(&p);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break 'session End::Lost(e),
                    None => break 'session End::Lost(ConnectionError::RequestsDone),
                }
                next = events.try_recv().ok().map(Some);
                }
            }
            changed = durable.changed(), if journal_open => {
                if changed.is_err() {
                    journal_open = false;
                }
            }
            _ = pace_tick.tick(), if flight.pace.held_back => {}
            _ = watchdog.tick() => {
                if !birth_sent && connected_at.elapsed() >= SUBACK_WAIT {
                    birth_sent = true;
                    warn!(topic = %cmd_topic, "no SubAck for the command subscription; birth status sent without it");
                    let birth = Presence::birth(&uplink.started_at, backlog, CommandSubscription::unanswered(&cmd_topic));
                    flight.control(&client, &status_topic(prefix), true, birth.to_bytes());
                }
                let waited = flight.waiting_for_ack(Instant::now());
                if waited > ack_timeout {
                    break 'session End::Stalled { waited, in_flight: flight.inflight };
                }
            }
            Some((name, state)) = devices_rx.recv() => {
                flight.control(&client, &format!("{prefix}/devices/{name}"), true, device_payload(&state));
                devices.insert(name, state);
            }
            _ = shutdown.cancelled() => {
                go_offline(&client, &mut events, &mut flight, prefix).await;
                break 'session End::Shutdown;
            }
        }
        let now = Instant::now();
        flight.fill(&client, journal, &uplink.status, now, idle_for());
        if flight.pace.held_back != drain_paced {
            drain_paced = !drain_paced;
            if drain_paced {
                // Next refill a tick from now, not at once (an overdue tick fires immediately).
                pace_tick.reset();
            }
            uplink.status.lock().expect("uplink status poisoned").drain_paced = drain_paced;
        }
    };
    uplink.status.lock().expect("uplink status poisoned").drain_paced = false;
    poller.abort();
    Ok(end)
}

/// Records how the broker answered the command subscription: the status (`queue status`, the
/// screen, `/metrics`), and, when it changed, one log line and, in the daemon, one `alert`
/// line for the packer (a refusal repeated at every reconnect is said once).
fn command_subscription(uplink: &UplinkContext, answer: &CommandSubscription) {
    let before = {
        let mut s = uplink.status.lock().expect("uplink status poisoned");
        if answer.state != SubscriptionState::Granted {
            s.command_subscription_refusals += 1;
        }
        s.commands.replace(answer.clone())
    };
    let Some((code, message)) = subscription::notice(before.as_ref(), answer) else { return };
    match answer.state {
        SubscriptionState::Granted => {
            info!(alert = code, topic = %answer.topic, return_code = answer.code_hex(), "command subscription granted")
        }
        _ => {
            error!(alert = code, topic = %answer.topic, return_code = answer.code_hex(), fix = answer.fix(), "command subscription not granted: commands do not reach this station")
        }
    }
    if uplink.workflow.is_some() {
        crate::workflow::FeedbackOut.line(&format!("alert {code}: {message}"));
    }
}

/// Logs a command that came by a deprecated v1 name (`order.upsert`), once per name per
/// connection: a cloud that still sends them sends many.
fn warn_deprecated_once(seen: &mut Vec<&'static str>, name: &str) {
    let Some(v2) = super::commands::v2_name(name) else { return };
    if !seen.contains(&v2) {
        seen.push(v2);
        warn!(command = name, instead = v2, "command sent by its deprecated v1 name; the cloud should use the v2 name (logged once per name and connection)");
    }
}

/// Orderly shutdown: retained offline status, wait (briefly) for the broker to take it,
/// then disconnect so the last will is not sent.
async fn go_offline(
    client: &AsyncClient,
    events: &mut mpsc::Receiver<Result<Event, ConnectionError>>,
    flight: &mut Flight,
    prefix: &str,
) {
    let offline = Presence::shutdown(format_at(time::OffsetDateTime::now_utc()));
    if client.try_publish(status_topic(prefix), QoS::AtLeastOnce, true, offline.to_bytes()).is_err() {
        return;
    }
    flight.sent.push_back(Sent::Offline);
    let mut offline_pkid = None;
    let deadline = tokio::time::Instant::now() + OFFLINE_WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv()).await;
        match ev {
            Ok(Some(Ok(Event::Outgoing(Outgoing::Publish(pkid))))) => {
                if flight.sent.pop_front() == Some(Sent::Offline) {
                    offline_pkid = Some(pkid);
                }
            }
            Ok(Some(Ok(Event::Incoming(Packet::PubAck(a))))) if Some(a.pkid) == offline_pkid => break,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) | Err(_) => return,
        }
    }
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout_at(deadline, async {
        while let Some(Ok(ev)) = events.recv().await {
            if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
    info!("went offline cleanly (retained status: offline)");
}

/// The publishing side of [`Flight`]: the bookkeeping is `flight.rs`'s, the I/O is here.
impl Flight {
    fn control(&mut self, client: &AsyncClient, topic: &str, retain: bool, payload: Vec<u8>) {
        match client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
            Ok(()) => self.sent.push_back(Sent::Control),
            Err(e) => warn!(topic, error = %e, "could not queue a publish"),
        }
    }

    /// Publishes from the journal until the window is full, nothing is left, or the pace's
    /// budget is spent (a packer is scanning: [`super::flight::Pace`]). New events first,
    /// then resends (`resync`) in the room they leave: a live event waits at most for one
    /// window of resends to be acknowledged, never for a resync's whole pass
    /// ([`super::resync`]). The window is refilled as soon as there is room: holding
    /// publishes back to send bigger bursts stalls on brokers that leave Nagle on (their
    /// PubAcks then wait for our delayed TCP ACKs).
    fn fill(
        &mut self,
        client: &AsyncClient,
        journal: &Journal,
        status: &SharedStatus,
        now: Instant,
        idle_for: Option<Duration>,
    ) {
        if self.inflight >= self.window {
            // The next PubAck refills.
            self.pace.held_back = false;
            return;
        }
        let budget = self.pace.budget(now, idle_for);
        let mut published = 0usize;
        while self.inflight < self.window && published < budget {
            let room = (self.window - self.inflight).min(budget - published);
            let live = match journal.pending(self.next_seq, room) {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "reading pending events");
                    break;
                }
            };
            if !live.is_empty() {
                let (handed, stopped) = self.publish(client, live);
                published += handed.len();
                if let Some(last) = handed.last() {
                    self.next_seq = last + 1;
                }
                if stopped {
                    break;
                }
                continue;
            }
            let Some((from, to)) = self.resync.next_span() else { break };
            let recs: Vec<_> = match journal.read_from(from, room) {
                Ok(r) => r.into_iter().take_while(|r| r.seq <= to).collect(),
                Err(e) => {
                    warn!(error = %e, "reading the journal for resync");
                    break;
                }
            };
            if recs.is_empty() {
                // Nothing of it is in the journal any more.
                self.resync.done(from, to);
                continue;
            }
            // Fewer than asked for: nothing more of the span is in the journal.
            let through_read = if recs.len() < room { to } else { recs.last().map_or(to, |r| r.seq) };
            let (handed, stopped) = self.publish(client, recs);
            published += handed.len();
            // When rumqttc stopped taking publishes, the span goes on after the last it took.
            let through = if stopped { handed.last().copied() } else { Some(through_read) };
            if let Some(through) = through {
                self.resync.done(from, through);
            }
            if stopped {
                break;
            }
        }
        self.pace.held_back = published >= budget;
        if published > 0 {
            self.pace.spent(published);
            status.lock().expect("uplink status poisoned").published += published as u64;
        }
    }

    /// Hands `records` to rumqttc in order: the seqs handed over, and whether it stopped
    /// taking them (its request channel is full while it waits for the broker: the rest
    /// is taken up on a later round instead of spinning here).
    fn publish(&mut self, client: &AsyncClient, records: Vec<crate::journal::Record>) -> (Vec<u64>, bool) {
        let mut handed = Vec::with_capacity(records.len());
        for r in records {
            let seq = r.seq;
            if client.try_publish(&self.events_topic, QoS::AtLeastOnce, false, r.payload).is_err() {
                return (handed, true);
            }
            self.event_handed_over(seq);
            handed.push(seq);
        }
        (handed, false)
    }
}

/// Acks delivered events in the journal in batches. Each batch is a durable commit, so
/// the task gathers acks for [`ACK_GATHER`] first: an ack that is late or lost in a crash
/// only means a resend, while a commit per PubAck would cost the uplink throughput.
async fn ack_task(journal: Journal, mut rx: mpsc::UnboundedReceiver<u64>, status: SharedStatus) {
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(ACK_GATHER).await;
        let mut seqs = vec![first];
        while let Ok(s) = rx.try_recv() {
            seqs.push(s);
        }
        let n = seqs.len() as u64;
        if let Err(e) = journal.ack(seqs).await {
            // Not acked means resent later: a duplicate, never a loss.
            warn!(error = %e, "could not record broker acks; those events will be sent again");
            continue;
        }
        status.lock().expect("uplink status poisoned").acked += n;
    }
}

fn set_state(status: &SharedStatus, state: &'static str) {
    status.lock().expect("uplink status poisoned").state = state;
}

/// A connection error in words an admin can act on.
pub(super) fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => {
                format!("the broker refused the credentials ({code:?}); check mqtt.username and mqtt.password_file")
            }
            other => format!("the broker refused the connection ({other:?})"),
        },
        ConnectionError::NetworkTimeout => {
            format!("no answer from the broker within {CONNECT_TIMEOUT_S} s (host unreachable or filtered)")
        }
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens at the broker's host:port".into()
        }
        ConnectionError::MqttState(rumqttc::StateError::AwaitPingResp) => {
            "keep-alive: the broker did not answer a ping; the link is presumed dead".into()
        }
        // TLS failures surface as `Tls` during the handshake, or (TLS 1.3 alerts after it)
        // inside a read error: recognise them by their text.
        other => {
            let text = other.to_string();
            let hint = if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
                "; the broker's certificate is not signed by mqtt.ca_file"
            } else if text.contains("NotValidForName") || text.contains("not valid for name") {
                "; the broker's certificate does not name the host in mqtt.url"
            } else if text.contains("Expired") || text.contains("expired") {
                "; a certificate has expired (check the box clock too)"
            } else if text.contains("CertificateRequired") || text.contains("certificate required") {
                "; the broker requires a client certificate (mqtt.cert_file / key_file)"
            } else if text.contains("BadCertificate") || text.contains("UnknownCA") {
                "; the broker does not accept our client certificate (mqtt.cert_file)"
            } else {
                ""
            };
            format!("{text}{hint}")
        }
    }
}

/// Logs each kind of connection error once, then at most once a minute with a count. Kinds are
/// kept apart, so brokers of `[mqtt] urls` that fail in different ways, tried in turn, do not
/// log every attempt.
#[derive(Default)]
struct ErrorLog {
    /// Per message: when it was last logged and how often it came since.
    seen: HashMap<String, (Instant, u64)>,
}

/// More distinct messages than this (texts with numbers in them) start the memory afresh.
const ERROR_KINDS_KEPT: usize = 32;

impl ErrorLog {
    /// Records the error in the status; logs it if it is new or was last logged a minute ago.
    /// Returns whether it was logged.
    fn report(&mut self, status: &SharedStatus, msg: &str) -> bool {
        {
            let mut s = status.lock().expect("uplink status poisoned");
            s.last_error = Some(msg.to_string());
            s.last_error_at = Some(format_at(time::OffsetDateTime::now_utc()));
        }
        if self.seen.len() >= ERROR_KINDS_KEPT && !self.seen.contains_key(msg) {
            self.seen.clear();
        }
        match self.seen.get_mut(msg) {
            Some((at, suppressed)) if at.elapsed() < ERROR_LOG_EVERY => {
                *suppressed += 1;
                false
            }
            entry => {
                let repeated = entry.map_or(0, |(_, n)| *n);
                warn!(error = msg, repeated, "broker connection failed; events wait in the journal");
                self.seen.insert(msg.to_string(), (Instant::now(), 0));
                true
            }
        }
    }

    fn connected(&mut self) {
        self.seen.clear();
    }
}

/// A device state's retained payload.
fn device_payload(state: &DeviceState) -> Vec<u8> {
    serde_json::to_vec(state).expect("a device state is strings only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NewEvent;
    use crate::journal::JournalOptions;

    #[test]
    fn errors_of_brokers_tried_in_turn_are_each_logged_once_until_connected() {
        let status = SharedStatus::default();
        let mut log = ErrorLog::default();
        let refused = "connection refused: nothing listens at the broker's host:port";
        let reset = "Connection reset by peer";
        let logged: Vec<bool> = (0..6).map(|i| log.report(&status, if i % 2 == 0 { refused } else { reset })).collect();
        assert_eq!(logged, [true, true, false, false, false, false]);
        assert_eq!(status.lock().unwrap().last_error.as_deref(), Some(reset));
        log.connected();
        assert!(log.report(&status, refused), "logged again after a connection");
    }

    /// A fresh journal holding seqs 1..=5 (its folder goes with the `TempDir`).
    fn journal_of_five_scans() -> (tempfile::TempDir, Journal) {
        let tmp = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(JournalOptions::new(tmp.path(), "WH1", "T")).unwrap();
        for i in 0..5 {
            let scan = crate::event::Scan::new("gun", i.to_string(), crate::event::ScanClass::Product);
            let event = crate::event::Event::OrderLookup(crate::event::Scanned { scan, clock: None });
            journal.append_blocking(NewEvent::new(event)).unwrap();
        }
        (tmp, journal)
    }

    #[test]
    fn fill_stops_and_resumes_exactly_when_rumqttc_takes_no_more_requests() {
        let (_tmp, journal) = journal_of_five_scans();
        // A request channel of 2 that nobody drains: the third publish fails.
        let (client, _el) = AsyncClient::new(rumqttc::MqttOptions::new("t", "127.0.0.1", 1), 2);
        let status = SharedStatus::default();
        let mut f = Flight::new(10, "p", None);
        f.fill(&client, &journal, &status, Instant::now(), None);
        assert_eq!((f.inflight, f.next_seq), (2, 3), "resumes at the first seq not handed over");
        f.resync.add(1, 2);
        f.fill(&client, &journal, &status, Instant::now(), None);
        assert_eq!(f.resync.next_span(), Some((1, 2)), "the resync range is kept whole");
        journal.close();
    }

    #[test]
    fn new_events_are_handed_over_before_resends_and_resends_fill_the_room_left() {
        let (_tmp, journal) = journal_of_five_scans();
        let (client, _el) = AsyncClient::new(rumqttc::MqttOptions::new("t", "127.0.0.1", 1), 100);
        let status = SharedStatus::default();
        let mut f = Flight::new(3, "p", None);
        // Seqs 1..=3 went out already; 4 and 5 are new; a resync of everything is queued twice.
        f.next_seq = 4;
        f.resync.add(1, 5);
        f.resync.add(1, 5);
        f.fill(&client, &journal, &status, Instant::now(), None);
        let order: Vec<Sent> = f.sent.iter().copied().collect();
        assert_eq!(order, [Sent::Event(4), Sent::Event(5), Sent::Event(1)], "live first, then the room left");
        assert_eq!(f.resync.next_span(), Some((2, 5)));
        journal.close();
    }

    #[test]
    fn while_a_packer_scans_fill_hands_over_only_the_pace_budget_and_says_it_held_back() {
        let (_tmp, journal) = journal_of_five_scans();
        let (client, _el) = AsyncClient::new(rumqttc::MqttOptions::new("t", "127.0.0.1", 1), 100);
        let status = SharedStatus::default();
        // 100 events/s: a bucket of one.
        let mut f = Flight::new(10, "p", Some(100));
        let t0 = Instant::now();
        let scanned = Some(Duration::ZERO);
        f.fill(&client, &journal, &status, t0, scanned);
        assert_eq!((f.inflight, f.pace.held_back, f.pace.is_paced()), (1, true, true));
        f.fill(&client, &journal, &status, t0, scanned);
        assert_eq!((f.inflight, f.pace.held_back), (1, true), "no token left");
        f.fill(&client, &journal, &status, t0 + Duration::from_millis(10), scanned);
        assert_eq!(f.inflight, 2, "one more a tick later");
        // Nobody scanned for BUSY_FOR: the rest at once.
        f.fill(&client, &journal, &status, t0 + Duration::from_millis(20), Some(Duration::from_secs(2)));
        assert_eq!((f.inflight, f.next_seq, f.pace.held_back, f.pace.is_paced()), (5, 6, false, false));
        journal.close();
    }
}
