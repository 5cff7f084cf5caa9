//! `stationd monitor`: the cloud-side view of stations' event streams.
//!
//! Subscribes to events, drops duplicates by `id`, tracks per-station seqs to report gaps,
//! duplicates and lag, and with `--repair` asks a station for a `resync` when a gap has
//! not closed within the grace period. The [`Tracker`] is pure; [`run`] is the MQTT loop
//! around it. The integration tests use this command to check delivery.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::config::MqttConfig;
use crate::event::{parse_at, AnyEnvelope, CommandName};
use crate::uplink::commands::{RequestId, ResyncCommand};

/// Per-station delivery bookkeeping.
#[derive(Debug, Default)]
struct StationLog {
    /// Topic prefix of the station (`wh/WH1/st/PACK-07`), where `resync` goes.
    prefix: String,
    ids: HashSet<uuid::Uuid>,
    /// Received seqs as disjoint ranges `start -> end` (inclusive).
    ranges: BTreeMap<u64, u64>,
    /// Seq → id, to catch a seq reused for a different event (a journal bug upstream).
    received: u64,
    duplicates: u64,
    conflicts: u64,
    /// New events whose seq is below one already seen (resends, or reordering).
    out_of_order: u64,
    last_at: Option<String>,
    lag_ms: Option<i64>,
    /// When each open gap was first seen (by its first missing seq).
    gap_seen: BTreeMap<u64, Instant>,
    last_repair: Option<Instant>,
    repairs: u64,
    seq_ids: BTreeMap<u64, uuid::Uuid>,
}

impl StationLog {
    /// Records `seq` as received and keeps `gap_seen` in step: in O(log n), because a
    /// station (or a forger) that skips every other seq must not make each event cost a walk
    /// over every gap. Seqs are any u64, `u64::MAX` included.
    fn insert_seq(&mut self, seq: u64, at: Instant) {
        let prev = self.ranges.range(..=seq).next_back().map(|(&s, &e)| (s, e));
        if prev.is_some_and(|(_, e)| e >= seq) {
            return;
        }
        let max = self.max_seq();
        let next = seq.checked_add(1).and_then(|n| self.ranges.get(&n).map(|&e| (n, e)));
        // The open gap `seq` falls in, or the new one it opens above the highest seq.
        if seq > max {
            if seq > max + 1 {
                self.gap_seen.entry(max + 1).or_insert(at);
            }
        } else if seq > 0 {
            let gap_start = prev.map_or(1, |(_, e)| e + 1);
            let gap_end = self.ranges.range(seq..).next().map_or(u64::MAX, |(&s, _)| s - 1);
            if seq == gap_start {
                self.gap_seen.remove(&gap_start);
            }
            if seq < gap_end {
                self.gap_seen.entry(seq + 1).or_insert(at);
            }
        }
        let mut start = seq;
        let mut end = seq;
        if let Some((s, e)) = prev {
            if e + 1 == seq {
                start = s;
                self.ranges.remove(&s);
            }
        }
        if let Some((n, e)) = next {
            self.ranges.remove(&n);
            end = e;
        }
        self.ranges.insert(start, end);
    }

    fn max_seq(&self) -> u64 {
        self.ranges.iter().next_back().map_or(0, |(_, e)| *e)
    }

    /// Missing seq ranges in `1..=max_seq`.
    fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut next = 1;
        for (&s, &e) in &self.ranges {
            if s > next {
                gaps.push((next, s - 1));
            }
            match e.checked_add(1) {
                Some(n) => next = n,
                None => break,
            }
        }
        gaps
    }
}

/// What happened to one received event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    New,
    Duplicate,
}

/// The monitor's pure state.
#[derive(Debug, Default)]
pub struct Tracker {
    stations: BTreeMap<String, StationLog>,
}

/// Per-station summary printed on exit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationSummary {
    pub station: String,
    pub received: u64,
    pub unique: u64,
    pub duplicates: u64,
    /// Same seq seen with different ids: must never happen.
    pub seq_conflicts: u64,
    /// New events that arrived after a higher seq (filled gaps, resends).
    pub out_of_order: u64,
    pub max_seq: u64,
    pub gaps: Vec<(u64, u64)>,
    pub missing: u64,
    pub last_at: Option<String>,
    pub lag_ms: Option<i64>,
    pub repairs_requested: u64,
}

impl Tracker {
    pub fn observe(&mut self, topic_prefix: &str, env: &AnyEnvelope, now: time::OffsetDateTime, at: Instant) -> Seen {
        let key = format!("{}/{}", env.warehouse, env.station);
        let log = self.stations.entry(key).or_default();
        log.prefix = topic_prefix.to_string();
        log.received += 1;
        if !log.ids.insert(env.id) {
            log.duplicates += 1;
            return Seen::Duplicate;
        }
        match log.seq_ids.insert(env.seq, env.id) {
            Some(other) if other != env.id => log.conflicts += 1,
            _ => {}
        }
        if env.seq < log.max_seq() {
            log.out_of_order += 1;
        }
        log.insert_seq(env.seq, at);
        log.last_at = Some(env.at.clone());
        log.lag_ms = parse_at(&env.at).map(|t| (now - t).whole_milliseconds() as i64);
        Seen::New
    }

    /// Stations whose oldest open gap is older than `grace` (and not asked within
    /// `grace`): `(topic prefix, first missing seq)`. Marks them as asked.
    pub fn due_repairs(&mut self, at: Instant, grace: Duration) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for log in self.stations.values_mut() {
            let Some((&first, &since)) = log.gap_seen.iter().next() else { continue };
            let asked_recently = log.last_repair.is_some_and(|t| at.duration_since(t) < grace);
            if at.duration_since(since) >= grace && !asked_recently {
                log.last_repair = Some(at);
                log.repairs += 1;
                out.push((log.prefix.clone(), first));
            }
        }
        out
    }

    /// True when every station seen has all seqs `1..=n` (and at least one station was seen).
    pub fn complete(&self, n: u64) -> bool {
        !self.stations.is_empty() && self.stations.values().all(|l| l.ranges.get(&1).is_some_and(|e| *e >= n))
    }

    pub fn summary(&self) -> Vec<StationSummary> {
        self.stations
            .iter()
            .map(|(k, l)| {
                let gaps = l.gaps();
                StationSummary {
                    station: k.clone(),
                    received: l.received,
                    unique: l.ids.len() as u64,
                    duplicates: l.duplicates,
                    seq_conflicts: l.conflicts,
                    out_of_order: l.out_of_order,
                    max_seq: l.max_seq(),
                    missing: gaps.iter().map(|(s, e)| e - s + 1).sum(),
                    gaps,
                    last_at: l.last_at.clone(),
                    lag_ms: l.lag_ms,
                    repairs_requested: l.repairs,
                }
            })
            .collect()
    }
}

/// Options of `stationd monitor`.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    pub broker: url::Url,
    pub topic: String,
    pub json: bool,
    pub repair: bool,
    pub grace: Duration,
    pub duration: Option<Duration>,
    pub expect: Option<u64>,
    pub print_events: bool,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// Why the monitor could not run.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The broker options (URL, TLS files, credentials) are unusable.
    #[error(transparent)]
    Options(#[from] crate::uplink::UplinkError),
    #[error("cannot subscribe to {topic}: {source}")]
    Subscribe { topic: String, source: rumqttc::ClientError },
    #[error("cannot listen for SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// Runs until SIGINT/SIGTERM, `--duration`, or `--expect` is met; returns the summary and
/// whether it is complete (no gaps, no seq conflicts, and `--expect` met if given).
pub async fn run(opts: MonitorOptions) -> Result<(Vec<StationSummary>, bool), MonitorError> {
    let cfg = MqttConfig {
        urls: vec![opts.broker.clone()],
        client_id: format!("stationd-monitor-{}", uuid::Uuid::now_v7().simple()),
        username: opts.username.clone(),
        password_file: opts.password_file.clone(),
        ca_file: opts.ca_file.clone(),
        cert_file: opts.cert_file.clone(),
        key_file: opts.key_file.clone(),
        prefix: String::new(),
        allow_insecure: true,
        keep_alive: Duration::from_secs(10),
        inflight: 100,
        drain_rate_in_use: None,
        reconnect_min: Duration::from_millis(200),
        reconnect_max: Duration::from_secs(2),
    };
    let mut options = crate::uplink::tls::client_options(&cfg, &opts.broker)?;
    options.set_clean_session(true);
    let (client, mut el) = AsyncClient::new(options, 1000);
    let reply_filter = opts.topic.strip_suffix("events").map(|p| format!("{p}reply"));
    let mut tracker = Tracker::default();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(MonitorError::Signal)?;
    let subscribe = |topic: String, e| MonitorError::Subscribe { topic, source: e };
    loop {
        tokio::select! {
            ev = el.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!(topic = %opts.topic, "monitor connected; subscribing");
                    client.subscribe(&opts.topic, QoS::AtLeastOnce).await.map_err(|e| subscribe(opts.topic.clone(), e))?;
                    if let Some(r) = &reply_filter {
                        client.subscribe(r, QoS::AtLeastOnce).await.map_err(|e| subscribe(r.clone(), e))?;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(prefix) = p.topic.strip_suffix("/events") {
                        match serde_json::from_slice::<AnyEnvelope>(&p.payload) {
                            Ok(env) => {
                                let seen = tracker.observe(prefix, &env, time::OffsetDateTime::now_utc(), Instant::now());
                                if opts.print_events && seen == Seen::New {
                                    println!("{}", String::from_utf8_lossy(&p.payload));
                                }
                            }
                            Err(e) => warn!(topic = %p.topic, error = %e, "not an event envelope"),
                        }
                    } else if p.topic.ends_with("/reply") {
                        info!(topic = %p.topic, reply = %String::from_utf8_lossy(&p.payload), "station replied");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "monitor lost the broker; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = tick.tick() => {
                if opts.repair {
                    for (prefix, from) in tracker.due_repairs(Instant::now(), opts.grace) {
                        let (topic, rid, body) = repair_request(&prefix, from);
                        info!(station = %prefix, from, request_id = %rid, "gap did not close; asking for resync");
                        let _ = client.try_publish(topic, QoS::AtLeastOnce, false, body);
                    }
                }
                if opts.expect.is_some_and(|n| tracker.complete(n)) {
                    break;
                }
                if opts.duration.is_some_and(|d| start.elapsed() >= d) {
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    let _ = client.try_disconnect();
    let summary = tracker.summary();
    let complete = summary.iter().all(|s| s.missing == 0 && s.seq_conflicts == 0)
        && opts.expect.is_none_or(|n| tracker.complete(n));
    Ok((summary, complete))
}

/// The `resync` command asking the station at `prefix` to send its events again from
/// `from`: (topic, request id, payload).
fn repair_request(prefix: &str, from: u64) -> (String, String, String) {
    let rid = format!("monitor-{}", uuid::Uuid::now_v7().simple());
    let command = ResyncCommand { request_id: RequestId(rid.clone()), sent_at: None, from, to: None };
    let body = serde_json::to_string(&command).expect("a command is plain data");
    (format!("{prefix}/cmd/{}", CommandName::Resync.as_str()), rid, body)
}

/// Prints the summary, human or JSON.
pub fn print_summary(summary: &[StationSummary], complete: bool, as_json: bool) {
    if as_json {
        println!("{}", json!({ "complete": complete, "stations": summary }));
        return;
    }
    for s in summary {
        let gaps = if s.gaps.is_empty() {
            "none".to_string()
        } else {
            s.gaps
                .iter()
                .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
                .collect::<Vec<_>>()
                .join(",")
        };
        println!(
            "{}: {} received, {} unique, {} duplicate(s), max seq {}, missing {} (gaps {gaps}), seq conflicts {}, lag {} ms, resyncs asked {}",
            s.station,
            s.received,
            s.unique,
            s.duplicates,
            s.max_seq,
            s.missing,
            s.seq_conflicts,
            s.lag_ms.map_or("-".into(), |l| l.to_string()),
            s.repairs_requested
        );
    }
    println!("{}", if complete { "complete: no gaps" } else { "INCOMPLETE" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(seq: u64, id: u128) -> AnyEnvelope {
        AnyEnvelope {
            v: 1,
            id: uuid::Uuid::from_u128(id),
            seq,
            warehouse: "WH1".into(),
            station: "PACK-07".into(),
            at: "2026-11-24T10:00:00.000Z".into(),
            kind: "scan.received".into(),
            order: None,
            operator: None,
            data: serde_json::Value::Null,
        }
    }

    fn now() -> time::OffsetDateTime {
        time::macros::datetime!(2026-11-24 10:00:01 UTC)
    }

    #[test]
    fn duplicates_are_dropped_by_id_and_gaps_reported() {
        let mut t = Tracker::default();
        let at = Instant::now();
        for seq in [1, 2, 2, 5, 6] {
            t.observe("wh/WH1/st/PACK-07", &env(seq, seq as u128), now(), at);
        }
        let s = &t.summary()[0];
        assert_eq!((s.received, s.unique, s.duplicates, s.max_seq), (5, 4, 1, 6));
        assert_eq!(s.gaps, vec![(3, 4)]);
        assert_eq!(s.missing, 2);
        assert_eq!(s.lag_ms, Some(1000));
        assert!(!t.complete(6));
    }

    #[test]
    fn a_gap_older_than_the_grace_period_asks_for_resync_once_per_grace() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        t.observe("wh/WH1/st/PACK-07", &env(1, 1), now(), t0);
        t.observe("wh/WH1/st/PACK-07", &env(4, 4), now(), t0);
        assert!(t.due_repairs(t0 + Duration::from_secs(1), Duration::from_secs(5)).is_empty());
        let due = t.due_repairs(t0 + Duration::from_secs(6), Duration::from_secs(5));
        assert_eq!(due, vec![("wh/WH1/st/PACK-07".to_string(), 2)]);
        assert!(t.due_repairs(t0 + Duration::from_secs(7), Duration::from_secs(5)).is_empty());
        t.observe("wh/WH1/st/PACK-07", &env(2, 2), now(), t0 + Duration::from_secs(8));
        t.observe("wh/WH1/st/PACK-07", &env(3, 3), now(), t0 + Duration::from_secs(8));
        assert!(t.due_repairs(t0 + Duration::from_secs(20), Duration::from_secs(5)).is_empty());
        assert!(t.complete(4));
    }

    #[test]
    fn a_seq_reused_for_another_event_is_a_conflict() {
        let mut t = Tracker::default();
        t.observe("p", &env(1, 1), now(), Instant::now());
        t.observe("p", &env(1, 99), now(), Instant::now());
        assert_eq!(t.summary()[0].seq_conflicts, 1);
    }

    /// Seqs as a station, a broken one or a forger sends them: mostly near each other, with
    /// 0, `u64::MAX` and its neighbours among them.
    fn seqs() -> impl Strategy<Value = Vec<u64>> {
        let seq = prop_oneof![
            6 => 1u64..64,
            1 => Just(0u64),
            1 => (0u64..4).prop_map(|d| u64::MAX - d),
            1 => any::<u64>(),
        ];
        proptest::collection::vec(seq, 0..120)
    }

    /// Missing ranges in `1..=max` of the seqs seen, from a sorted list.
    fn missing_ranges(seen: &std::collections::BTreeSet<u64>) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut next = 1u64;
        for &s in seen.iter().filter(|s| **s >= 1) {
            if s > next {
                gaps.push((next, s - 1));
            }
            match s.checked_add(1) {
                Some(n) => next = n,
                None => break,
            }
        }
        gaps
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        /// Any seqs, repeated, reordered, 0 or `u64::MAX`: the gaps are exactly the missing
        /// seqs, each open gap has its first-seen time (and only open gaps), and a repair
        /// asks for the first missing seq with a `resync` the station accepts.
        #[test]
        fn any_seqs_give_exactly_the_missing_ranges_and_a_valid_repair(seqs in seqs(), dup in any::<prop::sample::Index>()) {
            let mut t = Tracker::default();
            let mut seen = std::collections::BTreeSet::new();
            let t0 = Instant::now();
            for (i, s) in seqs.iter().enumerate() {
                let again = i > 0 && dup.index(i + 1) == i;
                // A resend of the first event: same id, whatever its seq now says.
                let id = if again { 1 } else { i as u128 + 1 };
                t.observe("wh/WH1/st/PACK-07", &env(*s, id), now(), t0);
                if !again {
                    seen.insert(*s);
                }
                let log = t.stations.values().next().unwrap();
                let want = missing_ranges(&seen);
                prop_assert_eq!(log.gaps(), want.clone());
                prop_assert_eq!(log.gap_seen.keys().copied().collect::<Vec<_>>(), want.iter().map(|g| g.0).collect::<Vec<_>>());
            }
            let summary = t.summary();
            let want = missing_ranges(&seen);
            if let Some(s) = summary.first() {
                prop_assert_eq!(s.missing, want.iter().map(|(a, b)| b - a + 1).sum::<u64>());
                prop_assert_eq!(s.max_seq, seen.iter().next_back().copied().unwrap_or(0));
                prop_assert_eq!(s.received, seqs.len() as u64);
            }
            let due = t.due_repairs(t0 + Duration::from_secs(10), Duration::from_secs(5));
            match want.first() {
                Some(&(first, _)) => {
                    prop_assert_eq!(&due, &vec![("wh/WH1/st/PACK-07".to_string(), first)]);
                    let (topic, rid, body) = repair_request(&due[0].0, first);
                    prop_assert_eq!(topic, "wh/WH1/st/PACK-07/cmd/resync");
                    let cmd = crate::uplink::parse_command("resync", body.as_bytes()).expect("the station accepts it");
                    prop_assert_eq!(cmd.request_id, rid);
                    prop_assert_eq!(cmd.command, crate::uplink::commands::Command::Resync { from: first, to: None });
                }
                None => prop_assert!(due.is_empty()),
            }
        }

        /// Whatever arrives on an events topic: an envelope (tracked under its own
        /// warehouse and station, however hostile the names) or skipped, never a panic.
        #[test]
        fn any_payload_on_an_events_topic_is_an_envelope_or_skipped(
            payload in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                stationd_testkit::json_values().prop_map(|v| v.to_string().into_bytes()),
                (stationd_testkit::hostile_text(40), stationd_testkit::hostile_text(40), any::<u64>(), stationd_testkit::json_values())
                    .prop_map(|(wh, at, seq, data)| json!({
                        "v": 1, "id": uuid::Uuid::from_u128(u128::from(seq)), "seq": seq, "warehouse": wh,
                        "station": wh, "at": at, "kind": "scan.received", "data": data,
                    }).to_string().into_bytes()),
            ],
        ) {
            let mut t = Tracker::default();
            match serde_json::from_slice::<AnyEnvelope>(&payload) {
                Ok(env) => {
                    prop_assert_eq!(t.observe("p", &env, now(), Instant::now()), Seen::New);
                    prop_assert_eq!(t.observe("p", &env, now(), Instant::now()), Seen::Duplicate);
                    let s = t.summary();
                    prop_assert_eq!(s.len(), 1);
                    prop_assert_eq!(&s[0].station, &format!("{}/{}", env.warehouse, env.station));
                    prop_assert_eq!((s[0].received, s[0].unique, s[0].duplicates), (2, 1, 1));
                    prop_assert_eq!(s[0].lag_ms.is_some(), parse_at(&env.at).is_some());
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    /// A station (or a forger) skipping every other seq: each event costs O(log n), so
    /// 50 000 of them are tracked at once, with every gap still known.
    #[test]
    fn every_other_seq_missing_is_tracked_without_walking_all_gaps() {
        let mut t = Tracker::default();
        let at = Instant::now();
        for i in 0..50_000u64 {
            t.observe("p", &env(2 * i + 2, u128::from(i) + 1), now(), at);
        }
        let s = &t.summary()[0];
        assert_eq!((s.gaps.len(), s.missing, s.max_seq), (50_000, 50_000, 100_000));
        assert_eq!(t.due_repairs(at + Duration::from_secs(6), Duration::from_secs(5)), vec![("p".to_string(), 1)]);
    }
}
